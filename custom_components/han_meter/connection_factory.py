"""Open the meter connection a config entry describes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT

from .amshan.meter_connection import SmartMeterMessageProtocol
from .amshan.serial_connection_factory import create_serial_message_connection
from .amshan.tcp_connection_factory import create_tcp_message_connection
from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    TRANSPORT_SERIAL,
)

type ConnectionFactory = Callable[
    [], Awaitable[tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]]
]


def async_connection_factory(
    data: Mapping[str, Any], queue: asyncio.Queue[Any]
) -> ConnectionFactory:
    """Return a factory that opens the connection described by config entry data."""

    async def _async_connect() -> tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]:
        loop = asyncio.get_running_loop()
        if data[CONF_TRANSPORT] == TRANSPORT_SERIAL:
            return await create_serial_message_connection(
                queue,
                loop,
                None,
                url=data[CONF_DEVICE],
                baudrate=data[CONF_BAUDRATE],
                parity=data[CONF_PARITY],
                bytesize=data[CONF_BYTESIZE],
                stopbits=data[CONF_STOPBITS],
            )
        return await create_tcp_message_connection(
            queue, loop, None, host=data[CONF_HOST], port=data[CONF_PORT]
        )

    return _async_connect
