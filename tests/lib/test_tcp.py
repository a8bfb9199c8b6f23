"""Live reading over real TCP sockets on 127.0.0.1, faults included.

A test server plays a meter bridge: it streams captured frames in odd-sized
chunks, drops the connection mid-frame, refuses connections for a while, goes
silent and sends garbage between frames. The connection manager must deliver
every frame that was sent whole while it was connected, exactly once.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_meter_frame
from custom_components.han_meter.amshan.connection_manager import (
    ConnectionManager,
    ConnectionState,
)
from custom_components.han_meter.amshan.dlde import DataReadout
from custom_components.han_meter.amshan.hdlc import HdlcFrame
from custom_components.han_meter.amshan.meter_connection import SmartMeterMessageProtocol
from custom_components.han_meter.amshan.tcp_connection_factory import (
    KEEPALIVE_IDLE,
    create_tcp_message_connection,
    create_tcp_message_payload_connection,
)
from tests.conftest import VECTORS

CHUNK_SIZES = (1, 7, 13, 64, 3, 250, 2, 31)
GARBAGE = bytes(range(0x80, 0xC0)) + b"\x00\x01\xff\xe6\xe7"  # no 0x7E flag


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def chunks(data: bytes) -> Iterator[bytes]:
    position, index = 0, 0
    while position < len(data):
        size = CHUNK_SIZES[index % len(CHUNK_SIZES)]
        yield data[position : position + size]
        position += size
        index += 1


def numbered_frame(number: int) -> bytes:
    return build_meter_frame("kaifa", {"active_power_import": number})


class BridgeServer:
    """A TCP server the test drives by hand."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[Any]] = set()
        self.connected = asyncio.Condition()

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    def stop_listening(self) -> None:
        assert self.server is not None
        self.server.close()  # new connections are refused; open ones stay

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        async with self.connected:
            self.writers.append(writer)
            self.connected.notify_all()
        try:
            while await reader.read(1024):
                pass
        except OSError:
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    async def client(self, number: int) -> asyncio.StreamWriter:
        """The ``number``-th connection (1-based), once it has been made."""
        async with asyncio.timeout(10), self.connected:
            await self.connected.wait_for(lambda: len(self.writers) >= number)
        return self.writers[number - 1]

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=5)


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    for piece in chunks(data):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0)


async def wait_until(condition: Any, limit: float = 10.0) -> None:
    """Poll ``condition`` (a plain predicate: nothing to await on) until it holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_manager_survives_every_fault(socket_enabled: None) -> None:
    fds_before = open_fds()
    loop = asyncio.get_running_loop()
    server = BridgeServer()
    await server.listen()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def factory() -> tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]:
        return await create_tcp_message_connection(queue, loop, None, "127.0.0.1", server.port)

    manager = ConnectionManager(
        factory,
        back_off_min=0.02,
        back_off_max=0.1,
        watchdog_timeout=1.0,  # far above any pause of the test's own sending
        circuit_breaker_threshold=50,
        circuit_breaker_min_uptime=0.3,
    )
    loop_task = asyncio.create_task(manager.connect_loop())
    decoder = AutoDecoder()
    received: list[HdlcFrame] = []

    async def drain_queue(count: int) -> None:
        async with asyncio.timeout(10):
            while len(received) < count:
                received.append(await queue.get())

    # 1. Captured frames of every kind of meter, in odd-sized chunks.
    captures = [v for v in VECTORS if v.kind == "hdlc-frame"]
    good = [v for v in captures if v.valid]
    client = await server.client(1)
    await send(client, b"".join(v.raw for v in captures))
    await wait_until(lambda: queue.qsize() + len(received) >= len(good))
    await asyncio.sleep(0.05)
    await drain_queue(queue.qsize() + len(received))
    assert b"".join(frame.as_bytes for frame in received) == b"".join(v.raw for v in good)
    assert manager.protocol is not None
    assert manager.protocol.counters.invalid_messages == len(captures) - len(good)
    assert all(decoder.decode_message(frame) is not None for frame in received[:3])
    received.clear()

    # 2. Numbered frames, then a drop in the middle of frame 11.
    await send(client, b"".join(numbered_frame(n) for n in range(1, 11)))
    await send(client, numbered_frame(11)[:20])
    await drain_queue(10)
    # 3. Refuse connections for a while, then come back on the same port.
    server.stop_listening()
    client.close()
    await wait_until(lambda: manager.counters.connect_failures >= 3)
    assert manager.state in (ConnectionState.WAITING, ConnectionState.CONNECTING)
    await server.listen()
    client = await server.client(2)
    await send(client, b"".join(numbered_frame(n) for n in range(12, 21)))
    await drain_queue(19)
    # 4. Silence: the watchdog closes the connection and reconnects.
    client = await server.client(3)
    assert manager.counters.watchdog_trips == 1
    # 5. Garbage between frames.
    for number in range(21, 31):
        await send(client, GARBAGE[: number * 3] + numbered_frame(number))
    await drain_queue(29)

    numbers = [decoder.decode_message(frame)["active_power_import"] for frame in received]
    assert numbers == [*range(1, 11), *range(12, 31)]
    assert manager.counters.drops == 1
    assert manager.counters.connects == 3
    assert manager.protocol is not None
    assert manager.protocol.counters.invalid_messages == 0
    assert queue.empty()
    await manager.close()
    await loop_task
    await server.close()
    assert manager.state is ConnectionState.CLOSED
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert open_fds() == fds_before


async def test_p1_readouts_over_tcp(socket_enabled: None) -> None:
    loop = asyncio.get_running_loop()
    server = BridgeServer()
    await server.listen()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    transport, protocol = await create_tcp_message_connection(
        queue, loop, None, "127.0.0.1", server.port
    )
    telegrams = [v for v in VECTORS if v.kind == "p1"]
    client = await server.client(1)
    await send(client, b"".join(v.raw for v in telegrams))
    valid = [v for v in telegrams if v.crc_ok is not False]
    await wait_until(lambda: queue.qsize() >= len(valid))
    readouts = [queue.get_nowait() for _ in range(queue.qsize())]
    assert all(isinstance(readout, DataReadout) for readout in readouts)
    assert [r.as_bytes for r in readouts] == [v.raw[v.raw.index(b"/") :] for v in valid]
    transport.close()
    await protocol.done
    await server.close()


async def test_payload_connection_and_keepalive(socket_enabled: None) -> None:
    loop = asyncio.get_running_loop()
    server = BridgeServer()
    await server.listen()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    transport, protocol = await create_tcp_message_payload_connection(
        queue, loop, None, "127.0.0.1", server.port
    )
    sock = transport.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE_IDLE
    client = await server.client(1)
    frame = numbered_frame(42)
    await send(client, frame * 3)
    await wait_until(lambda: queue.qsize() >= 3)
    payload = queue.get_nowait()
    assert isinstance(payload, bytes)
    assert frame[10:-3] == payload[: len(frame) - 13] or payload in frame
    assert AutoDecoder().decode_frame_content(payload) == {"active_power_import": 42}
    client.close()  # the server goes away: done resolves
    async with asyncio.timeout(5):
        await protocol.done
    assert protocol.connection_error is None
    assert transport.is_closing()
    await server.close()


async def test_refused_connection_raises_oserror(socket_enabled: None) -> None:
    loop = asyncio.get_running_loop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        await create_tcp_message_connection(asyncio.Queue(), loop, None, "127.0.0.1", port)
