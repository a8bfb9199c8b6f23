"""Wired M-Bus streams are read by the default readers: over TCP into whole readings."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.mbus import MbusFrame, MbusFrameReader
from custom_components.han_meter.amshan.meter_connection import ReaderSelector, default_readers
from custom_components.han_meter.amshan.tcp_connection_factory import (
    create_tcp_message_connection,
)
from tests.conftest import VECTORS

# Austrian Kaifa MA309M (EVN): one encrypted message in two M-Bus long frames.
EVN = next(v for v in VECTORS if v.id == "dlmsparser_evn_netz_noe_kaifa_ma309_mbus_encrypted")


def evn_key() -> bytes:
    assert EVN.keys is not None
    key = EVN.keys["encryption_key"]
    assert key is not None
    return bytes.fromhex(key)


def test_default_readers_include_mbus() -> None:
    assert any(isinstance(reader, MbusFrameReader) for reader in default_readers())
    selector = ReaderSelector()
    messages = selector.read(b"\x00garbage" + EVN.raw)
    assert isinstance(selector.selected, MbusFrameReader)
    assert [m.as_bytes for m in messages if m.is_valid] == [
        frame.as_bytes for frame in MbusFrameReader().read(EVN.raw)
    ]


async def test_mbus_stream_over_tcp(socket_enabled: None) -> None:
    """A bridge sends the meter's M-Bus frames byte by byte; the protocol frames them."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        for _ in range(3):
            for index in range(len(EVN.raw)):  # the worst chunking: one byte at a time
                writer.write(EVN.raw[index : index + 1])
                if index % 16 == 0:
                    await writer.drain()
        await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    queue: asyncio.Queue[Any] = asyncio.Queue()
    transport, protocol = await create_tcp_message_connection(
        queue, asyncio.get_running_loop(), None, "127.0.0.1", port
    )
    decoder = AutoDecoder(encryption_key=evn_key())
    readings = []
    try:
        async with asyncio.timeout(10):
            while len(readings) < 3:
                message = await queue.get()
                assert isinstance(message, MbusFrame)
                if (reading := decoder.decode_message(message)) is not None:
                    readings.append(reading)
    finally:
        transport.close()
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await protocol.done
    assert protocol.counters.messages == 6  # two frames per message
    assert protocol.counters.invalid_messages == 0
    for reading in readings:
        for key, value in EVN.expect.items():
            assert reading[key] == pytest.approx(value)
