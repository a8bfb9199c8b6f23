"""Work grows linearly with the input, also for the worst inputs we can think of.

Each reader is fed N and then 8N bytes of the same kind of data in 4 KiB chunks (N from
32 KiB to 4 MiB, by how costly the data is), and
the CPU time of this process (not the wall clock: other processes do not count) is
compared. Linear work gives a ratio near 8, quadratic work 64; the bound is 20, far from
both, so a loaded machine does not make the test flaky.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from random import Random
from typing import Any

import pytest

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.dlde import ModeDReader
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.mbus import MbusFrameReader
from custom_components.han_meter.amshan.meter_connection import SmartMeterMessageProtocol

from .common import HDLC_FRAMES, P1_TELEGRAMS, flip_bits, record

MIB = 1 << 20
CHUNK = 4096
LINEAR_BOUND = 20.0  # allowed ratio of CPU time for 8x the input


def _repeat(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def _random(size: int) -> bytes:
    return Random(size).randbytes(size)


def _false_starts(size: int) -> bytes:
    # Frame starts claiming the longest length, header bytes random: every one is checked.
    rng = Random(7)
    units = [b"\x7e\xa7\xff" + rng.randbytes(9) for _ in range(64)]
    return _repeat(b"".join(units), size)


def _bad_frames(size: int) -> bytes:
    # Frames with a broken FCS: after each the reader reads its bytes again.
    return _repeat(b"".join(flip_bits(frame, [len(frame) * 4]) for frame in HDLC_FRAMES), size)


def _good_frames(size: int) -> bytes:
    return _repeat(b"".join(HDLC_FRAMES), size)


def _telegrams(size: int) -> bytes:
    return _repeat(b"".join(P1_TELEGRAMS), size)


def _endless_readout(size: int) -> bytes:
    return b"/KAM5 endless\r\n" + _repeat(b"1-0:1.8.0(00001.000*kWh)\r\n", size - 15)


def _p1_starts(size: int) -> bytes:
    return _repeat(b"/ABC5/", size)


def _mbus_starts(size: int) -> bytes:
    return _repeat(b"\x68\xff\xff\x68\x53\xff", size)


def _feed(reader_factory: Callable[[], Any]) -> Callable[[bytes], None]:
    def feed(data: bytes) -> None:
        reader = reader_factory()
        view = memoryview(data)
        for start in range(0, len(data), CHUNK):
            reader.read(view[start : start + CHUNK].tobytes())

    return feed


def _pipeline(data: bytes) -> None:
    """Bytes -> protocol -> queue -> decoder, as in Home Assistant."""

    async def run() -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        protocol = SmartMeterMessageProtocol(queue)
        decoder = AutoDecoder()
        view = memoryview(data)
        for start in range(0, len(data), CHUNK):
            protocol.data_received(view[start : start + CHUNK].tobytes())
            while not queue.empty():
                decoder.decode_message(queue.get_nowait())

    asyncio.run(run())


# case: (how to feed, what to feed, base size: small enough to keep the suite short)
CASES = {
    "hdlc random bytes": (_feed(HdlcFrameReader), _random, 2 * MIB),
    "hdlc false frame starts": (_feed(HdlcFrameReader), _false_starts, MIB // 16),
    "hdlc frames with bad FCS": (_feed(HdlcFrameReader), _bad_frames, MIB // 4),
    "hdlc good frames": (_feed(HdlcFrameReader), _good_frames, MIB // 4),
    "hdlc stuffing, random bytes": (
        _feed(lambda: HdlcFrameReader(use_octet_stuffing=True, use_abort_sequence=True)),
        _random,
        2 * MIB,
    ),
    "mode D random bytes": (_feed(ModeDReader), _random, 2 * MIB),
    "mode D telegrams": (_feed(ModeDReader), _telegrams, MIB // 4),
    "mode D readout without end": (_feed(ModeDReader), _endless_readout, 4 * MIB),
    "mode D readout starts": (_feed(ModeDReader), _p1_starts, MIB // 32),
    "M-Bus random bytes": (_feed(MbusFrameReader), _random, 2 * MIB),
    "M-Bus false starts": (_feed(MbusFrameReader), _mbus_starts, MIB // 16),
}


def _cpu_seconds(run: Callable[[bytes], None], data: bytes, repeats: int) -> float:
    best = float("inf")
    gc.disable()  # no collection in the middle (a full one costs more than the work here)
    try:
        for _ in range(repeats):
            start = time.process_time()
            run(data)
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


def _ratio(run: Callable[[bytes], None], make: Callable[[int], bytes], size: int) -> float:
    small, large = make(size), make(8 * size)
    small_time = _cpu_seconds(run, small, 3)
    large_time = _cpu_seconds(run, large, 1)
    return large_time / max(small_time, 1e-3)


@pytest.mark.parametrize("case", list(CASES))
def test_reader_work_is_linear(case: str) -> None:
    """N vs 8N bytes of the same data: CPU time grows about 8 times, never 64."""
    run, make, size = CASES[case]
    ratio = _ratio(run, make, size)
    assert ratio < LINEAR_BOUND, f"{case}: 8x the input took {ratio:.1f}x the CPU time"
    record(f"linear time: {case}", bytes=9 * size)


def test_pipeline_work_is_linear() -> None:
    """Frames through the protocol, the queue and the decoder: 128 KiB vs 1 MiB."""
    ratio = _ratio(_pipeline, _good_frames, MIB // 8)
    assert ratio < LINEAR_BOUND, f"8x the frames took {ratio:.1f}x the CPU time"
    record("linear time: protocol + decoder", bytes=9 * MIB // 8)
