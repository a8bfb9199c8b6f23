"""Config flow for the HAN Meter integration."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import re
import socket
import stat
import termios
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import serial
import voluptuous as vol
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)
from serial.tools import list_ports

from . import const
from .amshan import obis_map
from .amshan.autodecoder import AutoDecoder
from .amshan.dlde import DataReadout
from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_IDENTIFIED_BY,
    CONF_LINE_SETTINGS,
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_MULTIPLIER,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    CONF_WATCHDOG_TIMEOUT,
    DEFAULT_MULTIPLIER,
    DEFAULT_WATCHDOG_TIMEOUT,
    DOMAIN,
    IDENTIFIED_BY_METER_ID,
    IDENTIFIED_BY_P1_IDENT,
    LINE_PRESET_CUSTOM,
    LINE_PRESET_MBUS,
    LINE_PRESETS,
    LOGGER,
    MAX_BAUDRATE,
    MAX_WATCHDOG_TIMEOUT,
    MIN_BAUDRATE,
    MIN_WATCHDOG_TIMEOUT,
    PARITIES,
    TRANSPORT_NETWORK,
    TRANSPORT_SERIAL,
)
from .coordinator import HanMeterConfigEntry, async_connection_factory

MANUAL_PATH = "manual"
SERIAL_BY_ID = Path("/dev/serial/by-id")
# pyserial URL handlers that reach a real port (ser2net and the like).
SERIAL_URL_SCHEMES = ("socket://", "rfc2217://")
CONNECTION_KEYS = (
    CONF_TRANSPORT,
    CONF_HOST,
    CONF_PORT,
    CONF_DEVICE,
    CONF_BAUDRATE,
    CONF_PARITY,
    CONF_BYTESIZE,
    CONF_STOPBITS,
)
MAX_HOST_LENGTH = 253
MAX_PATH_LENGTH = 4096
MAX_MULTIPLIER = 100_000
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)
# How long to wait for the connection to close after validation.
CLOSE_TIMEOUT = 2.0


class ValidationError(Exception):
    """Validation failed; `error` is the translation key of the form error."""

    def __init__(self, error: str) -> None:
        """Initialize with the error key."""
        super().__init__(error)
        self.error = error


@dataclass(slots=True, frozen=True)
class MeterIdentity:
    """What the meter told about itself while it was validated."""

    unique_id: str
    manufacturer: str | None
    meter_type: str | None
    identified_by: str = IDENTIFIED_BY_METER_ID

    @property
    def title(self) -> str:
        """Title of the config entry (and name of the device)."""
        parts = [part for part in (self.manufacturer, self.meter_type) if part]
        return " ".join(parts) if parts else "HAN meter"


def error_from_exception(err: BaseException) -> str:
    """The form error for an exception raised while connecting."""
    if isinstance(err, ConnectionRefusedError):
        return "cannot_connect_refused"
    if isinstance(
        refusal := err if isinstance(err, termios.error) else err.__cause__, termios.error
    ):
        # The port refused the line settings (or is no terminal at all).
        code = refusal.args[0] if refusal.args else None
        return "no_such_device" if code == errno.ENOTTY else "invalid_line_settings"
    if isinstance(err, socket.gaierror | TimeoutError):
        return "cannot_connect_unreachable"
    code = err.errno if isinstance(err, OSError) else None
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EISDIR, errno.ENOTTY):
        return "no_such_device"
    if code in (errno.EACCES, errno.EPERM):
        return "permission_denied"
    if code in (errno.EBUSY, errno.EAGAIN):
        return "device_busy"
    if code == errno.ECONNREFUSED:
        return "cannot_connect_refused"
    if isinstance(err, OSError) and not isinstance(err, serial.SerialException):
        return "cannot_connect_unreachable"
    if isinstance(err, serial.SerialException):
        return "no_such_device"
    return "unknown"


def valid_host(host: str) -> bool:
    """True for an IP address or a host name (no URL, no spaces, no shell)."""
    if not host or len(host) > MAX_HOST_LENGTH:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def _integer(value: Any) -> int | None:
    """The value as an int when it is a whole number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not float(value).is_integer():
        return None
    return int(value)


def valid_port(port: Any) -> int | None:
    """The TCP port as an int when it is one, else None."""
    if (number := _integer(port)) is None or not 1 <= number <= 65535:
        return None
    return number


def check_serial_path(path: str) -> str | None:
    """Return the form error for a path that cannot be a serial port, else None."""
    if path.startswith(SERIAL_URL_SCHEMES):
        return None
    if not path or len(path) > MAX_PATH_LENGTH or "://" in path:
        return "no_such_device"
    try:
        mode = os.stat(path).st_mode
    except PermissionError:
        return "permission_denied"
    except (OSError, ValueError):
        return "no_such_device"
    if not stat.S_ISCHR(mode):
        return "no_such_device"
    if not os.access(path, os.R_OK | os.W_OK):
        return "permission_denied"
    return None


def list_serial_ports() -> dict[str, str]:
    """The serial ports of this machine: stable path -> label (runs in the executor)."""
    by_id: dict[str, str] = {}
    if SERIAL_BY_ID.is_dir():
        for link in SERIAL_BY_ID.iterdir():
            by_id[os.path.realpath(link)] = str(link)
    ports: dict[str, str] = {}
    for port in list_ports.comports():
        path = by_id.get(os.path.realpath(port.device), port.device)
        details = [
            detail
            for detail in (port.description, port.manufacturer, port.serial_number)
            if detail and detail != "n/a"
        ]
        label = f"{path} - {', '.join(dict.fromkeys(details))}" if details else path
        ports[path] = label
    return ports


async def async_identify_meter(data: Mapping[str, Any]) -> MeterIdentity:
    """Connect, wait for a message that decodes and return who the meter is.

    Raises ValidationError with the form error when it cannot.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
    factory = async_connection_factory(data, queue)
    try:
        async with asyncio.timeout(const.CONNECT_TIMEOUT):
            transport, protocol = await factory()
    except (OSError, TimeoutError, ValueError, termios.error) as err:
        LOGGER.debug("Cannot connect to the meter: %s", err)
        raise ValidationError(error_from_exception(err)) from err
    try:
        return await _async_wait_for_identity(queue, protocol.done)
    except ValidationError as err:
        if err.error == "no_data" and (
            protocol.counters.bytes_received or protocol.counters.invalid_messages
        ):
            raise ValidationError("cannot_decode") from err
        raise
    finally:
        transport.close()
        if not protocol.done.done():
            await asyncio.wait((protocol.done,), timeout=CLOSE_TIMEOUT)


async def _async_wait_for_identity(
    queue: asyncio.Queue[Any], done: asyncio.Future[None]
) -> MeterIdentity:
    """Read messages until one identifies the meter."""
    decoder = AutoDecoder()
    decoded: dict[str, Any] = {}
    messages = 0
    getter: asyncio.Future[Any] | None = None
    try:
        async with asyncio.timeout(const.VALIDATION_TIMEOUT):
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait((getter, done), return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break  # the connection was closed
                message = getter.result()
                messages += 1
                if not (reading := decoder.decode_message(message)):
                    continue
                decoded.update(reading)
                if meter_id := decoded.get(obis_map.METER_ID):
                    return _identity(str(meter_id), decoded)
                if isinstance(message, DataReadout) and message.identification is not None:
                    # A P1 telegram holds all the meter sends; without an equipment
                    # identifier the identification line is the best there is.
                    ident = message.identification
                    unique_id = f"{ident.manufacturer_id}{ident.baud_rate_id}{ident.ident}"
                    return _identity(unique_id, decoded, IDENTIFIED_BY_P1_IDENT)
    except TimeoutError:
        pass
    finally:
        if getter is not None and not getter.done():
            getter.cancel()
    if decoded:
        raise ValidationError("no_meter_id")
    raise ValidationError("cannot_decode" if messages else "no_data")


def _identity(
    unique_id: str, values: Mapping[str, Any], identified_by: str = IDENTIFIED_BY_METER_ID
) -> MeterIdentity:
    manufacturer = values.get(obis_map.METER_MANUFACTURER)
    meter_type = values.get(obis_map.METER_TYPE)
    return MeterIdentity(
        unique_id=unique_id,
        manufacturer=str(manufacturer) if manufacturer else None,
        meter_type=str(meter_type) if meter_type else None,
        identified_by=identified_by,
    )


def _same_connection(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """True when two entries read the same bridge or serial port."""
    if first.get(CONF_TRANSPORT) != second.get(CONF_TRANSPORT):
        return False
    if first.get(CONF_TRANSPORT) == TRANSPORT_SERIAL:
        return bool(first.get(CONF_DEVICE) == second.get(CONF_DEVICE))
    return (first.get(CONF_HOST), first.get(CONF_PORT)) == (
        second.get(CONF_HOST),
        second.get(CONF_PORT),
    )


class HanMeterConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a HAN Meter config flow."""

    VERSION = 1

    def __init__(self) -> None:
        """Initialize the flow."""
        self._data: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._serial: dict[str, Any] = {}
        self._ports: dict[str, str] = {}
        self._validation_task: asyncio.Task[MeterIdentity] | None = None
        self._identity: MeterIdentity | None = None
        self._form_step = TRANSPORT_NETWORK

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: HanMeterConfigEntry) -> HanMeterOptionsFlow:
        """Get the options flow for this handler."""
        return HanMeterOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Handle a flow initiated by the user: serial port or network."""
        return self.async_show_menu(
            step_id="user", menu_options=[TRANSPORT_SERIAL, TRANSPORT_NETWORK]
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle reconfiguration: a new serial port or network address."""
        return self.async_show_menu(
            step_id="reconfigure", menu_options=[TRANSPORT_SERIAL, TRANSPORT_NETWORK]
        )

    # Network

    async def async_step_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle a meter behind a network bridge."""
        errors, self._errors = self._errors, {}
        if user_input is not None:
            host = str(user_input.get(CONF_HOST, "")).strip()
            port = valid_port(user_input.get(CONF_PORT))
            if not valid_host(host):
                errors[CONF_HOST] = "invalid_host"
            if port is None:
                errors[CONF_PORT] = "invalid_port"
            if not errors:
                data = {CONF_TRANSPORT: TRANSPORT_NETWORK, CONF_HOST: host, CONF_PORT: port}
                return await self._async_validate(data, "network")
        else:
            user_input = self._defaults(TRANSPORT_NETWORK)
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): TextSelector(TextSelectorConfig(autocomplete="off")),
                vol.Required(CONF_PORT): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
                ),
            }
        )
        return self.async_show_form(
            step_id="network",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    # Serial

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Handle a meter on a serial port: pick the port and the line settings."""
        errors, self._errors = self._errors, {}
        if user_input is not None:
            self._serial[CONF_LINE_SETTINGS] = user_input[CONF_LINE_SETTINGS]
            if user_input[CONF_DEVICE] == MANUAL_PATH:
                return await self.async_step_serial_manual()
            self._serial[CONF_DEVICE] = user_input[CONF_DEVICE]
            if error := await self.hass.async_add_executor_job(
                check_serial_path, user_input[CONF_DEVICE]
            ):
                errors[CONF_DEVICE] = error
            else:
                return await self._async_serial_line_settings()
        self._ports = await self.hass.async_add_executor_job(list_serial_ports)
        if user_input is None:
            # The last attempt, else the entry being reconfigured, else M-Bus.
            current = {**self._defaults(TRANSPORT_SERIAL), **self._serial}
            user_input = {
                CONF_DEVICE: current.get(CONF_DEVICE),
                CONF_LINE_SETTINGS: current.get(CONF_LINE_SETTINGS)
                or _preset_of(current)
                or (LINE_PRESET_CUSTOM if CONF_BAUDRATE in current else LINE_PRESET_MBUS),
            }
            if user_input[CONF_DEVICE] not in self._ports:
                user_input[CONF_DEVICE] = MANUAL_PATH
        options = [SelectOptionDict(value=path, label=label) for path, label in self._ports.items()]
        options.append(SelectOptionDict(value=MANUAL_PATH, label=MANUAL_PATH))
        schema = vol.Schema(
            {
                vol.Required(CONF_DEVICE): SelectSelector(
                    SelectSelectorConfig(
                        options=options,
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key="device",
                    )
                ),
                vol.Required(CONF_LINE_SETTINGS): SelectSelector(
                    SelectSelectorConfig(
                        options=[*LINE_PRESETS, LINE_PRESET_CUSTOM],
                        mode=SelectSelectorMode.LIST,
                        translation_key=CONF_LINE_SETTINGS,
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="serial",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_serial_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle a serial port path typed in by the user."""
        errors: dict[str, str] = {}
        if user_input is not None:
            path = str(user_input.get(CONF_DEVICE, "")).strip()
            if error := await self.hass.async_add_executor_job(check_serial_path, path):
                errors[CONF_DEVICE] = error
            else:
                self._serial[CONF_DEVICE] = path
                return await self._async_serial_line_settings()
        else:
            current = {**self._defaults(TRANSPORT_SERIAL), **self._serial}
            device = current.get(CONF_DEVICE)
            user_input = {CONF_DEVICE: "" if device in (None, MANUAL_PATH) else device}
        schema = vol.Schema(
            {vol.Required(CONF_DEVICE): TextSelector(TextSelectorConfig(autocomplete="off"))}
        )
        return self.async_show_form(
            step_id="serial_manual",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def _async_serial_line_settings(self) -> ConfigFlowResult:
        preset = self._serial.get(CONF_LINE_SETTINGS, LINE_PRESET_MBUS)
        if preset not in LINE_PRESETS:
            return await self.async_step_serial_custom()
        baudrate, parity, bytesize, stopbits = LINE_PRESETS[preset]
        return await self._async_validate_serial(baudrate, parity, bytesize, stopbits)

    async def async_step_serial_custom(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle custom serial line settings."""
        errors: dict[str, str] = {}
        if user_input is not None:
            baudrate = _integer(user_input.get(CONF_BAUDRATE))
            if baudrate is None or not MIN_BAUDRATE <= baudrate <= MAX_BAUDRATE:
                errors[CONF_BAUDRATE] = "invalid_baudrate"
            else:
                return await self._async_validate_serial(
                    baudrate,
                    user_input[CONF_PARITY],
                    int(user_input[CONF_BYTESIZE]),
                    float(user_input[CONF_STOPBITS]),
                )
        else:
            defaults = self._defaults(TRANSPORT_SERIAL)
            baudrate, parity, bytesize, stopbits = LINE_PRESETS[LINE_PRESET_MBUS]
            user_input = {
                CONF_BAUDRATE: defaults.get(CONF_BAUDRATE, baudrate),
                CONF_PARITY: defaults.get(CONF_PARITY, parity),
                CONF_BYTESIZE: str(defaults.get(CONF_BYTESIZE, bytesize)),
                CONF_STOPBITS: _stopbits_text(defaults.get(CONF_STOPBITS, stopbits)),
            }
        schema = vol.Schema(
            {
                vol.Required(CONF_BAUDRATE): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
                ),
                vol.Required(CONF_PARITY): SelectSelector(
                    SelectSelectorConfig(
                        options=list(PARITIES),
                        mode=SelectSelectorMode.DROPDOWN,
                        translation_key=CONF_PARITY,
                    )
                ),
                vol.Required(CONF_BYTESIZE): SelectSelector(
                    SelectSelectorConfig(options=["7", "8"], mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_STOPBITS): SelectSelector(
                    SelectSelectorConfig(
                        options=["1", "1.5", "2"], mode=SelectSelectorMode.DROPDOWN
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="serial_custom",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def _async_validate_serial(
        self, baudrate: int, parity: str, bytesize: int, stopbits: float
    ) -> ConfigFlowResult:
        data = {
            CONF_TRANSPORT: TRANSPORT_SERIAL,
            CONF_DEVICE: self._serial[CONF_DEVICE],
            CONF_BAUDRATE: baudrate,
            CONF_PARITY: parity,
            CONF_BYTESIZE: bytesize,
            CONF_STOPBITS: int(stopbits) if float(stopbits).is_integer() else stopbits,
        }
        return await self._async_validate(data, "serial")

    # Validation

    async def _async_validate(self, data: dict[str, Any], form_step: str) -> ConfigFlowResult:
        """Check the connection is free, then read the meter (with a progress step)."""
        for entry in self._async_current_entries(include_ignore=False):
            if self.source == SOURCE_RECONFIGURE and entry.entry_id == self._reconfigure_entry_id:
                continue
            if _same_connection(entry.data, data):
                return self.async_abort(reason="already_configured")
        self._data = data
        self._form_step = form_step
        return await self.async_step_validate()

    async def async_step_validate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Wait for the meter to send a message that decodes."""
        if self._validation_task is None:
            self._validation_task = self.hass.async_create_task(
                self._async_read_meter(self._data), f"{DOMAIN} config flow validation"
            )
        elif self._validation_task.done():
            return self._async_validation_done(self._validation_task)
        # Shown at least once, also when the task ended right away: a progress
        # step may only be left through async_show_progress_done.
        return self.async_show_progress(
            step_id="validate",
            progress_action="wait_for_data",
            progress_task=self._validation_task,
            description_placeholders={"timeout": f"{const.VALIDATION_TIMEOUT:g}"},
        )

    @callback
    def _async_validation_done(self, task: asyncio.Task[MeterIdentity]) -> ConfigFlowResult:
        self._validation_task = None
        try:
            self._identity = task.result()
        except ValidationError as err:
            self._errors = {"base": err.error}
            return self.async_show_progress_done(next_step_id=self._form_step)
        except Exception:
            LOGGER.exception("Unexpected exception while reading the meter")
            self._errors = {"base": "unknown"}
            return self.async_show_progress_done(next_step_id=self._form_step)
        return self.async_show_progress_done(next_step_id="finish")

    async def _async_read_meter(self, data: Mapping[str, Any]) -> MeterIdentity:
        """Read the meter; a loaded entry being reconfigured pauses meanwhile."""
        coordinator = None
        if self.source == SOURCE_RECONFIGURE:
            entry: HanMeterConfigEntry = self._get_reconfigure_entry()
            if entry.state is ConfigEntryState.LOADED:
                coordinator = entry.runtime_data
                await coordinator.async_stop()
        try:
            return await async_identify_meter(data)
        finally:
            if coordinator is not None and coordinator.config_entry.state is (
                ConfigEntryState.LOADED
            ):
                coordinator.async_start()

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create the entry, or update the one being reconfigured."""
        identity = self._identity
        assert identity is not None
        await self.async_set_unique_id(identity.unique_id, raise_on_progress=False)
        data = {
            **self._data,
            CONF_METER_MANUFACTURER: identity.manufacturer,
            CONF_METER_TYPE: identity.meter_type,
            CONF_IDENTIFIED_BY: identity.identified_by,
        }
        if self.source == SOURCE_RECONFIGURE:
            self._abort_if_unique_id_mismatch(reason="wrong_meter")
            entry = self._get_reconfigure_entry()
            kept = {key: value for key, value in entry.data.items() if key not in CONNECTION_KEYS}
            return self.async_update_reload_and_abort(entry, data={**kept, **data})
        self._abort_if_unique_id_configured(updates=self._data)
        return self.async_create_entry(title=identity.title, data=data)

    # Helpers

    def _defaults(self, transport: str) -> dict[str, Any]:
        """The current settings of the entry being reconfigured, for this transport."""
        if self.source != SOURCE_RECONFIGURE:
            return {}
        data = self._get_reconfigure_entry().data
        if data.get(CONF_TRANSPORT) != transport:
            return {}
        return {key: data[key] for key in CONNECTION_KEYS if key in data}


def _preset_of(data: Mapping[str, Any]) -> str | None:
    """The line preset the settings match, if any."""
    settings = tuple(data.get(key) for key in (CONF_BAUDRATE, CONF_PARITY, CONF_BYTESIZE))
    for name, (baudrate, parity, bytesize, stopbits) in LINE_PRESETS.items():
        if settings == (baudrate, parity, bytesize) and data.get(CONF_STOPBITS) == stopbits:
            return name
    return None


def _stopbits_text(stopbits: float) -> str:
    return f"{stopbits:g}"


class HanMeterOptionsFlow(OptionsFlow):
    """Handle HAN Meter options."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Manage the multiplier and the watchdog timeout."""
        errors: dict[str, str] = {}
        if user_input is not None:
            multiplier = user_input.get(CONF_MULTIPLIER)
            watchdog = user_input.get(CONF_WATCHDOG_TIMEOUT)
            if not isinstance(multiplier, int | float) or not 0 < multiplier <= MAX_MULTIPLIER:
                errors[CONF_MULTIPLIER] = "invalid_multiplier"
            if (
                not isinstance(watchdog, int | float)
                or not MIN_WATCHDOG_TIMEOUT <= watchdog <= MAX_WATCHDOG_TIMEOUT
            ):
                errors[CONF_WATCHDOG_TIMEOUT] = "invalid_watchdog_timeout"
            if not errors:
                assert isinstance(multiplier, int | float)
                assert isinstance(watchdog, int | float)
                return self.async_create_entry(
                    data={
                        CONF_MULTIPLIER: float(multiplier),
                        CONF_WATCHDOG_TIMEOUT: int(watchdog),
                    }
                )
        else:
            user_input = {
                CONF_MULTIPLIER: self.config_entry.options.get(CONF_MULTIPLIER, DEFAULT_MULTIPLIER),
                CONF_WATCHDOG_TIMEOUT: self.config_entry.options.get(
                    CONF_WATCHDOG_TIMEOUT, DEFAULT_WATCHDOG_TIMEOUT
                ),
            }
        schema = vol.Schema(
            {
                vol.Required(CONF_MULTIPLIER): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
                ),
                vol.Required(CONF_WATCHDOG_TIMEOUT): NumberSelector(
                    NumberSelectorConfig(
                        mode=NumberSelectorMode.BOX, step=1, unit_of_measurement="s"
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )
