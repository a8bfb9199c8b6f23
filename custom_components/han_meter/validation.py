"""Connect-and-read validation and input checks for the HAN Meter config flow."""

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
from urllib.parse import urlsplit

import serial
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from serial.tools import list_ports

from . import const
from .amshan import obis_map
from .amshan.dlde import DataReadout
from .connection_factory import async_connection_factory
from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    IDENTIFIED_BY_METER_ID,
    IDENTIFIED_BY_P1_IDENT,
    LOGGER,
    TRANSPORT_SERIAL,
)
from .decryption import KeyErrorWatch, decoder_for

SERIAL_BY_ID = Path("/dev/serial/by-id")
# pyserial URL handlers that reach a real port (ser2net and the like).
SERIAL_URL_SCHEMES = ("socket://", "rfc2217://")
MAX_HOST_LENGTH = 253
MAX_PATH_LENGTH = 4096
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)
# How long to wait for the connection to close after validation.
CLOSE_TIMEOUT = 2.0


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


def same_connection(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """True when two entries read the same bridge or serial port."""
    if first.get(CONF_TRANSPORT) != second.get(CONF_TRANSPORT):
        return False
    if first.get(CONF_TRANSPORT) == TRANSPORT_SERIAL:
        return bool(first.get(CONF_DEVICE) == second.get(CONF_DEVICE))
    return (first.get(CONF_HOST), first.get(CONF_PORT)) == (
        second.get(CONF_HOST),
        second.get(CONF_PORT),
    )


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


def host_of(text: str) -> str | None:
    """The host to connect to as entered, or None when it is not one.

    An IPv6 address may be written in brackets, as in URLs: "[::1]" connects to ::1.
    """
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        address = host[1:-1]
        return address if ":" in address and valid_host(address) else None
    return host if valid_host(host) else None


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


def whole_number(value: Any) -> int | None:
    """The value as an int when it is a whole number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not float(value).is_integer():
        return None
    return int(value)


def valid_port(port: Any) -> int | None:
    """The TCP port as an int when it is one, else None."""
    if (number := whole_number(port)) is None or not 1 <= number <= 65535:
        return None
    return number


def check_serial_path(path: str) -> str | None:
    """Return the form error for a path that cannot be a serial port, else None."""
    if path.startswith(SERIAL_URL_SCHEMES):
        return (
            None if len(path) <= MAX_PATH_LENGTH and _valid_serial_url(path) else "no_such_device"
        )
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


def _valid_serial_url(url: str) -> bool:
    """True when a socket:// or rfc2217:// URL names a valid host and port (1..65535)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when not a number or above 65535
    except ValueError:
        return False
    host = parts.hostname
    return host is not None and valid_host(host) and valid_port(port) is not None


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

    Raises ValidationError with the form error when it cannot: for an encrypted meter
    "encrypted_no_key", "wrong_key" or "wrong_authentication_key" as soon as a message
    fails to decrypt with the keys in `data`.
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
        return await _async_wait_for_identity(data, queue, protocol.done)
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
    data: Mapping[str, Any], queue: asyncio.Queue[Any], done: asyncio.Future[None]
) -> MeterIdentity:
    """Read messages until one identifies the meter."""
    decoder = decoder_for(data)
    watch = KeyErrorWatch(decoder)
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
                    if (key_error := watch.key_error()) is not None:
                        raise ValidationError(key_error)
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
