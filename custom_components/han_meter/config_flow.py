"""Config flow for the HAN Meter integration."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from homeassistant.core import callback

from . import const, validation
from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_IDENTIFIED_BY,
    CONF_LINE_SETTINGS,
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    DOMAIN,
    LINE_PRESET_MBUS,
    LINE_PRESETS,
    LOGGER,
    MAX_BAUDRATE,
    MIN_BAUDRATE,
    TRANSPORT_NETWORK,
    TRANSPORT_SERIAL,
)
from .coordinator import HanMeterConfigEntry
from .decryption import KEY_ERROR_FIELDS, KEY_FIELDS, parse_key_fields, stored_keys
from .flow_schemas import (
    MANUAL_PATH,
    network_schema,
    serial_custom_defaults,
    serial_custom_schema,
    serial_defaults,
    serial_manual_schema,
    serial_schema,
)
from .options_flow import HanMeterOptionsFlow
from .validation import (
    CONNECTION_KEYS,
    MeterIdentity,
    ValidationError,
    check_serial_path,
    host_of,
    same_connection,
    valid_port,
    whole_number,
)

__all__ = ["MANUAL_PATH", "HanMeterConfigFlow"]


class HanMeterConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a HAN Meter config flow."""

    VERSION = 1

    def __init__(self) -> None:
        """Initialize the flow."""
        self._data: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._serial: dict[str, Any] = {}
        self._keys: dict[str, str] = {}
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
        """Handle reconfiguration: a new serial port or network address, or new keys."""
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
            host = host_of(str(user_input.get(CONF_HOST, "")))
            port = valid_port(user_input.get(CONF_PORT))
            keys, errors = parse_key_fields(user_input)
            if host is None:
                errors[CONF_HOST] = "invalid_host"
            if port is None:
                errors[CONF_PORT] = "invalid_port"
            if not errors:
                data = {CONF_TRANSPORT: TRANSPORT_NETWORK, CONF_HOST: host, CONF_PORT: port}
                return await self._async_validate({**data, **keys}, TRANSPORT_NETWORK)
        else:
            user_input = self._defaults(TRANSPORT_NETWORK)
        return self.async_show_form(
            step_id="network",
            data_schema=self.add_suggested_values_to_schema(network_schema(), user_input),
            errors=errors,
        )

    # Serial

    async def async_step_serial(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Handle a meter on a serial port: the port, the line settings and the keys."""
        errors, self._errors = self._errors, {}
        if user_input is not None:
            self._serial[CONF_LINE_SETTINGS] = user_input[CONF_LINE_SETTINGS]
            self._keys, errors = parse_key_fields(user_input)
            if errors:
                pass  # show the form again
            elif user_input[CONF_DEVICE] == MANUAL_PATH:
                return await self.async_step_serial_manual()
            elif error := await self.hass.async_add_executor_job(
                check_serial_path, user_input[CONF_DEVICE]
            ):
                self._serial[CONF_DEVICE] = user_input[CONF_DEVICE]
                errors[CONF_DEVICE] = error
            else:
                self._serial[CONF_DEVICE] = user_input[CONF_DEVICE]
                return await self._async_serial_line_settings()
        self._ports = await self.hass.async_add_executor_job(validation.list_serial_ports)
        if user_input is None:
            # The last attempt, else the entry being reconfigured, else M-Bus.
            current = {**self._defaults(TRANSPORT_SERIAL), **self._serial}
            user_input = {**serial_defaults(current, self._ports), **stored_keys(current)}
        return self.async_show_form(
            step_id="serial",
            data_schema=self.add_suggested_values_to_schema(serial_schema(self._ports), user_input),
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
        return self.async_show_form(
            step_id="serial_manual",
            data_schema=self.add_suggested_values_to_schema(serial_manual_schema(), user_input),
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
            baudrate = whole_number(user_input.get(CONF_BAUDRATE))
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
            user_input = serial_custom_defaults(self._defaults(TRANSPORT_SERIAL))
        return self.async_show_form(
            step_id="serial_custom",
            data_schema=self.add_suggested_values_to_schema(serial_custom_schema(), user_input),
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
            **self._keys,
        }
        return await self._async_validate(data, TRANSPORT_SERIAL)

    # Validation

    async def _async_validate(self, data: dict[str, Any], form_step: str) -> ConfigFlowResult:
        """Check the connection is free, then read the meter (with a progress step)."""
        for entry in self._async_current_entries(include_ignore=False):
            if self.source == SOURCE_RECONFIGURE and entry.entry_id == self._reconfigure_entry_id:
                continue
            if same_connection(entry.data, data):
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
            # Key errors show at their field; the others above the form.
            self._errors = {KEY_ERROR_FIELDS.get(err.error, "base"): err.error}
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
            return await validation.async_identify_meter(data)
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
            replaced = (*CONNECTION_KEYS, *KEY_FIELDS)  # keys left empty are removed
            kept = {key: value for key, value in entry.data.items() if key not in replaced}
            return self.async_update_reload_and_abort(entry, data={**kept, **data})
        self._abort_if_unique_id_configured(updates=self._data)
        return self.async_create_entry(title=identity.title, data=data)

    # Helpers

    def _defaults(self, transport: str) -> dict[str, Any]:
        """What a form shows first: the last attempt, else the entry being reconfigured.

        Connection settings only for the same transport; the keys always.
        """
        if self._data:
            data: Mapping[str, Any] = self._data
        elif self.source == SOURCE_RECONFIGURE:
            data = self._get_reconfigure_entry().data
        else:
            return {}
        keys = stored_keys(data)
        if data.get(CONF_TRANSPORT) != transport:
            return keys
        return {**{key: data[key] for key in CONNECTION_KEYS if key in data}, **keys}
