"""Serial connections to a meter (M-Bus or P1 adapter on a serial port).

Norwegian M-Bus HAN ports talk 2400 8E1, P1 ports 115200 8N1 (see the README).
The port is opened in an executor thread, so a slow device never blocks the loop.
pyserial URLs work too (``socket://host:port`` for a raw TCP serial server).
"""

from __future__ import annotations

import asyncio
import functools
import termios
from collections.abc import Sequence
from typing import Any, cast

import serial
import serial_asyncio_fast

from .meter_connection import (
    Reader,
    SmartMeterMessagePayloadProtocol,
    SmartMeterMessageProtocol,
)


async def _connect(
    protocol_class: type[SmartMeterMessageProtocol],
    queue: asyncio.Queue[Any],
    loop: asyncio.AbstractEventLoop,
    readers: Sequence[Reader] | None,
    url: str,
    settings: dict[str, Any],
) -> tuple[asyncio.Transport, SmartMeterMessageProtocol]:
    def protocol_factory() -> SmartMeterMessageProtocol:
        return protocol_class(queue, readers)

    if url.startswith("socket://"):  # no port to configure: serial_asyncio_fast connects
        connection = await serial_asyncio_fast.create_serial_connection(
            loop, protocol_factory, url, **settings
        )
        return cast(tuple[asyncio.Transport, SmartMeterMessageProtocol], connection)
    # exclusive=True: a second reader of the same port fails instead of stealing bytes.
    opener = functools.partial(serial.serial_for_url, url, exclusive=True, **settings)
    try:
        port = await loop.run_in_executor(None, opener)
    except termios.error as error:  # pyserial lets the driver's refusal out as is
        raise _settings_error(url, settings, error) from error
    try:
        transport, protocol = await serial_asyncio_fast.connection_for_serial(
            loop, protocol_factory, port
        )
    except termios.error as error:  # the transport applies the settings again
        port.close()
        raise _settings_error(url, settings, error) from error
    return transport, cast(SmartMeterMessageProtocol, protocol)


def _settings_error(url: str, settings: dict[str, Any], error: termios.error) -> OSError:
    text = "{baudrate} {bytesize}{parity}{stopbits:g}".format(**settings)
    reason = error.args[-1] if error.args else error
    error_out: OSError = serial.SerialException(
        f"could not configure port {url} as {text}: {reason}"
    )
    return error_out


def _settings(baudrate: int, parity: str, bytesize: int, stopbits: float) -> dict[str, Any]:
    return {"baudrate": baudrate, "parity": parity, "bytesize": bytesize, "stopbits": stopbits}


async def create_serial_message_connection(
    queue: asyncio.Queue[Any],
    loop: asyncio.AbstractEventLoop,
    readers: Sequence[Reader] | None,
    url: str,
    baudrate: int = 2400,
    parity: str = "N",
    bytesize: int = 8,
    stopbits: float = 1,
) -> tuple[asyncio.Transport, SmartMeterMessageProtocol]:
    """Open the port; the queue gets every valid message.

    Raises serial.SerialException (an OSError) when the port cannot be opened or
    configured, ValueError for settings pyserial does not know.
    """
    settings = _settings(baudrate, parity, bytesize, stopbits)
    return await _connect(SmartMeterMessageProtocol, queue, loop, readers, url, settings)


async def create_serial_message_payload_connection(
    queue: asyncio.Queue[Any],
    loop: asyncio.AbstractEventLoop,
    readers: Sequence[Reader] | None,
    url: str,
    baudrate: int = 2400,
    parity: str = "N",
    bytesize: int = 8,
    stopbits: float = 1,
) -> tuple[asyncio.Transport, SmartMeterMessageProtocol]:
    """Open the port; the queue gets the payload of every valid message."""
    settings = _settings(baudrate, parity, bytesize, stopbits)
    return await _connect(SmartMeterMessagePayloadProtocol, queue, loop, readers, url, settings)
