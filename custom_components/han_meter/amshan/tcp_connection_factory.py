"""TCP connections to a meter behind a network bridge (HAN/P1 to Wi-Fi or Ethernet)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

from .meter_connection import (
    Reader,
    SmartMeterMessagePayloadProtocol,
    SmartMeterMessageProtocol,
)

# A dead bridge is noticed after about KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT s.
KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 3


def set_keepalive(sock: socket.socket) -> None:
    """Turn on TCP keepalive with short timings (where the platform has them)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:  # pragma: no branch (Linux has them all)
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


async def _connect(
    protocol_class: type[SmartMeterMessageProtocol],
    queue: asyncio.Queue[Any],
    loop: asyncio.AbstractEventLoop,
    readers: Sequence[Reader] | None,
    host: str,
    port: int,
) -> tuple[asyncio.Transport, SmartMeterMessageProtocol]:
    transport, protocol = await loop.create_connection(
        lambda: protocol_class(queue, readers), host, port
    )
    set_keepalive(transport.get_extra_info("socket"))
    return transport, protocol


async def create_tcp_message_connection(
    queue: asyncio.Queue[Any],
    loop: asyncio.AbstractEventLoop,
    readers: Sequence[Reader] | None,
    host: str,
    port: int,
) -> tuple[asyncio.Transport, SmartMeterMessageProtocol]:
    """Connect; the queue gets every valid message. Raises OSError when it cannot."""
    return await _connect(SmartMeterMessageProtocol, queue, loop, readers, host, port)


async def create_tcp_message_payload_connection(
    queue: asyncio.Queue[Any],
    loop: asyncio.AbstractEventLoop,
    readers: Sequence[Reader] | None,
    host: str,
    port: int,
) -> tuple[asyncio.Transport, SmartMeterMessageProtocol]:
    """Connect; the queue gets the payload of every valid message. Raises OSError."""
    return await _connect(SmartMeterMessagePayloadProtocol, queue, loop, readers, host, port)
