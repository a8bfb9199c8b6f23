"""Both stream readers against garbage: no exceptions, bounded buffers, linear work."""

from __future__ import annotations

import random
import re
from binascii import crc_hqx
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from custom_components.han_meter.amshan import dlde, hdlc
from custom_components.han_meter.amshan.crc import bit_reversed, crc16_arc
from custom_components.han_meter.amshan.dlde import MAX_READOUT_BYTES, ModeDReader
from custom_components.han_meter.amshan.hdlc import MAX_BUFFERED_BYTES, HdlcFrameReader
from tests.conftest import VECTORS

FRAMES = [v.raw for v in VECTORS if v.kind == "hdlc-frame" and v.valid]
TELEGRAMS = [v.raw[v.raw.index(b"/") :] for v in VECTORS if v.kind == "p1" and v.valid]
MEGABYTE = 1 << 20


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size].tobytes()


def test_50_megabytes_of_random_bytes() -> None:
    data = random.Random(50).randbytes(50 * MEGABYTE)
    hdlc_reader = HdlcFrameReader()
    p1_reader = ModeDReader()
    returned = 0
    for chunk in chunks_of(data, 4096):
        # Random bytes hold a valid frame with chance 2^-32 per frame start: none here.
        assert not any(frame.is_valid for frame in hdlc_reader.read(chunk))
        assert hdlc_reader.buffered_bytes < MAX_BUFFERED_BYTES
        readouts = p1_reader.read(chunk)
        assert not any(readout.is_valid for readout in readouts)
        returned += sum(len(readout.as_bytes) for readout in readouts)
        assert p1_reader.buffered_bytes <= MAX_READOUT_BYTES
    assert hdlc_reader.discarded_bytes > 0.99 * len(data) * 255 / 256  # flags are not counted
    # Every byte is dropped, returned in an (invalid) readout or still buffered.
    assert p1_reader.discarded_bytes + returned + p1_reader.buffered_bytes == len(data)


def test_ascii_into_the_hdlc_reader() -> None:
    text = b"".join(TELEGRAMS) * 10
    assert b"\x7e" not in text
    reader = HdlcFrameReader()
    assert [reader.read(chunk) for chunk in chunks_of(text, 100)] == [[]] * (len(text) // 100 + 1)
    assert reader.discarded_bytes == len(text)


def test_binary_frames_into_the_p1_reader() -> None:
    reader = ModeDReader()
    for chunk in chunks_of(b"".join(FRAMES) * 50, 512):
        assert not any(readout.is_valid for readout in reader.read(chunk))
        assert reader.buffered_bytes <= MAX_READOUT_BYTES


def interleave(messages: list[bytes], seed: int, junk_size: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(rng.randbytes(rng.randrange(junk_size)) + message for message in messages)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_messages_in_random_junk_are_all_found(seed: int) -> None:
    # The junk holds flags, "/" and false frame starts; the seeds make it repeatable.
    frames = FRAMES * 20
    stream = interleave(frames, seed, 3000) + bytes(2100)
    found = []
    reader = HdlcFrameReader()
    for chunk in chunks_of(stream, 1000):
        found += [frame.as_bytes for frame in reader.read(chunk) if frame.is_valid]
    assert found == frames
    telegrams = TELEGRAMS * 20
    stream = interleave(telegrams, seed, 20000)
    p1_reader = ModeDReader()
    readouts = [r for chunk in chunks_of(stream, 1000) for r in p1_reader.read(chunk)]
    assert [readout.as_bytes for readout in readouts if readout.is_valid] == telegrams
    returned = sum(len(readout.as_bytes) for readout in readouts)
    assert p1_reader.discarded_bytes + returned + p1_reader.buffered_bytes == len(stream)


class CountingPattern:
    """A compiled pattern that counts the bytes its searches look at."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.scanned = 0

    def search(self, string: Any, pos: int = 0) -> re.Match[bytes] | None:
        match = self.pattern.search(string, pos)
        self.scanned += (match.end() if match else len(string)) - pos
        return match


def counting(function: Callable[..., Any], counter: list[int]) -> Callable[..., Any]:
    def wrapper(data: Any, *args: Any) -> Any:
        counter[0] += len(data)
        return function(data, *args)

    return wrapper


def hdlc_work(monkeypatch: pytest.MonkeyPatch, data: bytes, size: int) -> float:
    """Bytes searched, bit-reversed and checksummed per input byte."""
    reader = HdlcFrameReader()
    pattern = CountingPattern(reader._frame_start)
    checked = [0]
    monkeypatch.setattr(reader, "_frame_start", pattern)
    monkeypatch.setattr(hdlc, "crc_hqx", counting(crc_hqx, checked))
    monkeypatch.setattr(hdlc, "bit_reversed", counting(bit_reversed, checked))
    for chunk in chunks_of(data, size):
        reader.read(chunk)
    monkeypatch.undo()
    return (pattern.scanned + checked[0]) / len(data)


def p1_work(monkeypatch: pytest.MonkeyPatch, data: bytes, size: int) -> float:
    """Bytes searched for readout starts (and, with them, ends) and checksummed per byte."""
    find_start = dlde._find_start
    searched = [0]

    def counting_find_start(buffer: bytearray, start: int, end: int) -> int:
        found = find_start(buffer, start, end)
        searched[0] += (end if found < 0 else found + 5) - start
        return found

    monkeypatch.setattr(dlde, "_find_start", counting_find_start)
    monkeypatch.setattr(dlde, "crc16_arc", counting(crc16_arc, searched))
    reader = ModeDReader()
    for chunk in chunks_of(data, size):
        reader.read(chunk)
    monkeypatch.undo()
    return searched[0] / len(data)


STREAMS = {
    "random": random.Random(7).randbytes(MEGABYTE // 8),
    "frames": b"".join(FRAMES) * 30,
    "frames cut short": b"".join(frame[: len(frame) // 2] + frame for frame in FRAMES) * 20,
    "flags": b"\x7e" * (MEGABYTE // 8),
    "frame starts": b"\x7e\xa0" * (MEGABYTE // 16),
    "telegrams": b"".join(TELEGRAMS) * 20,
    "telegram starts": b"/ABC5\r\n" * (MEGABYTE // 56),
    "telegram ends": b"/ABC5\r\n!\r\n" * (MEGABYTE // 80),
}


@pytest.mark.parametrize("size", [1, 32, 4096])
@pytest.mark.parametrize("name", list(STREAMS))
def test_work_per_byte_is_bounded(monkeypatch: pytest.MonkeyPatch, name: str, size: int) -> None:
    # Counting bytes touched, not seconds, keeps this exact. Scanning the buffer again on
    # every chunk would give hundreds per byte with small chunks; these readers stay low.
    data = STREAMS[name][: 60_000 if size == 1 else None]
    assert hdlc_work(monkeypatch, data, size) < 8
    assert p1_work(monkeypatch, data, size) < 8
