"""The stream protocols: reader selection, invalid messages, the bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from custom_components.han_meter.amshan.builder import build_hdlc_frame, build_meter_frame
from custom_components.han_meter.amshan.dlde import DataReadout, ModeDReader
from custom_components.han_meter.amshan.hdlc import HdlcFrame, HdlcFrameReader
from custom_components.han_meter.amshan.meter_connection import (
    ReaderSelector,
    SmartMeterMessagePayloadProtocol,
    SmartMeterMessageProtocol,
)
from tests.conftest import VECTORS

LOGGER_NAME = "custom_components.han_meter.amshan.meter_connection"
P1 = next(v for v in VECTORS if v.kind == "p1" and v.crc_ok)
HDLC = next(v for v in VECTORS if v.kind == "hdlc-frame" and v.valid)
BAD_FCS = next(v for v in VECTORS if v.kind == "hdlc-frame" and not v.valid)


def frame(number: int) -> bytes:
    return build_meter_frame("kaifa", {"active_power_import": number})


@dataclass(frozen=True)
class Note:
    as_bytes: bytes
    is_valid: bool

    @property
    def payload(self) -> bytes:
        return self.as_bytes


class FixedReader:
    """Yields the same notes for every chunk."""

    def __init__(self, *notes: Note) -> None:
        self.notes = notes
        self.chunks: list[bytes] = []

    def read(self, data: bytes) -> Sequence[Note]:
        self.chunks.append(data)
        return self.notes


def feed(protocol: SmartMeterMessageProtocol, data: bytes, size: int = 17) -> None:
    for start in range(0, len(data), size):
        protocol.data_received(data[start : start + size])


async def test_p1_stream_selects_the_mode_d_reader() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    protocol = SmartMeterMessageProtocol(queue)
    feed(protocol, P1.raw)
    readout = queue.get_nowait()
    assert isinstance(readout, DataReadout)
    assert readout.as_bytes == P1.raw
    assert isinstance(protocol._selector.selected, ModeDReader)
    feed(protocol, HDLC.raw)  # the other format is ignored from now on
    assert queue.empty()
    assert protocol.counters.messages == 1
    assert protocol.counters.bytes_received == len(P1.raw) + len(HDLC.raw)
    assert protocol.last_message_time is not None


async def test_hdlc_stream_selects_the_hdlc_reader() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    protocol = SmartMeterMessageProtocol(queue)
    feed(protocol, b"\x00garbage\xff" + HDLC.raw + frame(1))
    messages = [queue.get_nowait() for _ in range(queue.qsize())]
    assert all(isinstance(message, HdlcFrame) for message in messages)
    assert messages[-1].as_bytes == frame(1)
    assert isinstance(protocol._selector.selected, HdlcFrameReader)
    feed(protocol, P1.raw)
    assert queue.empty()


def test_selector_keeps_the_first_reader_with_a_valid_message() -> None:
    bad = Note(b"bad", is_valid=False)
    good = Note(b"good", is_valid=True)
    first, second, third = FixedReader(bad), FixedReader(bad, good), FixedReader(good)
    selector = ReaderSelector([first, second, third])
    assert selector.selected is None
    assert selector.read(b"x") == [bad, bad, good]
    assert selector.selected is second
    assert third.chunks == []  # not fed once a reader won
    assert selector.read(b"y") == [bad, good]
    assert first.chunks == [b"x"]
    none = ReaderSelector([FixedReader(bad), FixedReader()])
    assert none.read(b"z") == [bad]
    assert none.selected is None
    with pytest.raises(ValueError, match="reader"):
        ReaderSelector([])


async def test_invalid_messages_are_counted_and_logged_sparingly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    protocol = SmartMeterMessageProtocol(
        queue, [HdlcFrameReader()], invalid_log_first=2, invalid_log_interval=0.05
    )
    feed(protocol, BAD_FCS.raw * 10)
    await asyncio.sleep(0.06)
    feed(protocol, BAD_FCS.raw + frame(1))
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]
    warnings = [m for m in messages if m.startswith("Invalid message")]
    summaries = [m for m in messages if "more invalid" in m]
    assert len(warnings) == 2
    assert f"({len(BAD_FCS.raw)} bytes, starts {BAD_FCS.raw[:16].hex()})" in warnings[0]
    assert summaries == ["9 more invalid messages from the meter (11 in total)"]
    assert protocol.counters.invalid_messages == 11
    assert protocol.counters.messages == 1
    feed(protocol, BAD_FCS.raw)  # not yet logged: the summary comes with the disconnect
    protocol.connection_lost(None)
    summaries = [r.getMessage() for r in caplog.records if "more invalid" in r.getMessage()]
    assert summaries[-1] == "1 more invalid messages from the meter (12 in total)"


async def test_flood_of_invalid_messages_stays_quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    protocol = SmartMeterMessageProtocol(asyncio.Queue(), [HdlcFrameReader()])
    feed(protocol, BAD_FCS.raw * 2000, size=4096)
    assert protocol.counters.invalid_messages == 2000
    assert len([r for r in caplog.records if r.name == LOGGER_NAME]) == 3


async def test_full_queue_drops_the_oldest() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=3)
    protocol = SmartMeterMessageProtocol(queue)
    feed(protocol, b"".join(frame(n) for n in range(1, 6)))
    assert protocol.counters.dropped_messages == 2
    assert protocol.counters.messages == 5
    kept = [queue.get_nowait().as_bytes for _ in range(3)]
    assert kept == [frame(3), frame(4), frame(5)]
    for _ in kept:
        queue.task_done()
    async with asyncio.timeout(1):
        await queue.join()  # dropped items do not leave join() waiting


async def test_payload_protocol_queues_non_empty_payloads() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    protocol = SmartMeterMessagePayloadProtocol(queue)
    empty = build_hdlc_frame(b"")
    feed(protocol, empty + frame(7) + empty)
    assert protocol.counters.messages == 3
    assert queue.qsize() == 1
    payload = queue.get_nowait()
    assert isinstance(payload, bytes)
    assert payload.startswith(b"\xe6\xe7\x00\x0f")
    assert payload in frame(7)


async def test_done_is_resolved_once_and_keeps_the_error() -> None:
    protocol = SmartMeterMessageProtocol(asyncio.Queue())
    transport = asyncio.Transport()
    protocol.connection_made(transport)
    assert protocol.transport is transport
    error = ConnectionResetError(104, "Connection reset by peer")
    protocol.connection_lost(error)
    protocol.connection_lost(None)  # a second call changes nothing
    assert protocol.done.done()
    assert protocol.done.result() is None  # never an unretrieved exception
    assert protocol.connection_error is error
    assert protocol.transport is None
