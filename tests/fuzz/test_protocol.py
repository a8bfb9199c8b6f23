"""Fuzzing the asyncio protocols: streams fed through ``data_received`` into a real queue.

A stream of one format (HDLC or P1) with good messages, damaged ones and noise arrives in
random chunks, into a queue that may be bounded. Properties: nothing raises; only valid
messages reach the queue, in order; when the queue is full the oldest are dropped and
counted; counters add up; warnings about invalid data stay few; ``done`` resolves on
``connection_lost``; what reaches the queue decodes to exactly the values of the capture
it came from, through one stateful decoder.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.dlde import ModeDReader
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.meter_connection import (
    DEFAULT_INVALID_LOG_FIRST,
    SmartMeterMessagePayloadProtocol,
    SmartMeterMessageProtocol,
)

from .common import (
    BY_MANUFACTURER,
    CUTS,
    EXPECTED,
    chunks,
    fuzz_settings,
    plausibility_errors,
    record,
)
from .test_readers import ARBITRARY, FILLER, GOOD, hdlc_piece, p1_piece

HDLC_BY_MANUFACTURER = {
    name: frames
    for name, captures in BY_MANUFACTURER.items()
    if (frames := tuple(frame for frame in captures if frame[:1] == b"~"))
}
_EXPECTED = {raw.rstrip(b"\r\n"): reading for raw, reading in EXPECTED.items()}


class _WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.warnings = 0
        self.infos = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.warnings += 1
        else:
            self.infos += 1


@st.composite
def stream(draw: st.DrawFn) -> tuple[bool, bytes, list[bytes]]:
    """One meter's stream: (HDLC or not, the bytes, the good messages in it)."""
    hdlc = draw(st.booleans())
    # One meter's frames (several meters through one decoder: see test_known_bugs.py).
    frames = draw(st.sampled_from(sorted(HDLC_BY_MANUFACTURER.values())))
    pieces = draw(st.lists(hdlc_piece(frames) if hdlc else p1_piece(), max_size=14))
    data = b"".join(part for _, part in pieces) + FILLER
    return hdlc, data, [part for kind, part in pieces if kind == GOOD]


@fuzz_settings(3)
@given(
    sample=stream(),
    cuts=CUTS,
    maxsize=st.sampled_from([0, 1, 3, 64]),
    payload=st.booleans(),
)
async def test_protocol_stream(
    sample: tuple[bool, bytes, list[bytes]], cuts: list[int], maxsize: int, payload: bool
) -> None:
    """What the protocol queues, drops and counts for any stream in any chunks."""
    hdlc, data, goods = sample
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
    kind = SmartMeterMessagePayloadProtocol if payload else SmartMeterMessageProtocol
    protocol = kind(queue)
    logger = logging.getLogger("custom_components.han_meter.amshan.meter_connection")
    counter = _WarningCounter()
    logger.addHandler(counter)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        for chunk in chunks(data, cuts):
            protocol.data_received(chunk)
        protocol.connection_lost(None)
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
    assert protocol.done.done()
    await protocol.done
    counters = protocol.counters
    assert counters.bytes_received == len(data)
    # HDLC: exactly the good frames are valid. P1: damage outside the CRC (a CRC digit's
    # case, the line end) leaves a telegram valid, with its values unchanged.
    if hdlc:
        assert counters.messages == len(goods)
    else:
        assert counters.messages >= len(goods)
    assert counters.dropped_messages == (max(0, counters.messages - maxsize) if maxsize else 0)
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    assert len(items) == counters.messages - counters.dropped_messages
    if hdlc:  # the newest ones are kept, in order
        kept = goods[-len(items) :] if items else []
        if payload:
            assert items == [HdlcFrameReader().read(frame)[0].payload for frame in kept]
        else:
            assert [item.as_bytes for item in items] == kept
    values = 0
    if not payload:
        decoder = AutoDecoder()
        for item in items:
            assert item.is_valid
            reading = decoder.decode_message(item)
            assert not plausibility_errors(reading)
            raw = item.as_bytes.rstrip(b"\r\n")
            if raw in _EXPECTED:
                assert reading == _EXPECTED[raw]
            values += len(reading or ())
    # A warning for each of the first few invalid messages, then summaries at info level.
    assert counter.warnings <= DEFAULT_INVALID_LOG_FIRST
    assert counter.infos <= 1 + counters.invalid_messages
    record(
        "SmartMeterMessageProtocol stream",
        bytes=len(data),
        valid=counters.messages,
        invalid=counters.invalid_messages,
        dropped=counters.dropped_messages,
        values=values,
    )


@fuzz_settings(2)
@given(data=ARBITRARY, cuts=CUTS)
async def test_protocol_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    """Arbitrary bytes: nothing queued that is not valid, nothing raised."""
    queue: asyncio.Queue[Any] = asyncio.Queue(8)
    protocol = SmartMeterMessageProtocol(queue, [HdlcFrameReader(), ModeDReader()])
    for chunk in chunks(data, cuts):
        protocol.data_received(chunk)
    protocol.connection_lost(ConnectionResetError("reset"))
    assert protocol.connection_error is not None
    assert queue.empty() or all(queue.get_nowait().is_valid for _ in range(queue.qsize()))
    record("SmartMeterMessageProtocol arbitrary bytes", bytes=len(data))
