"""Wired M-Bus long frame reader: framing, checksum, garbage, split reads."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.mbus import (
    MBUS_MAX_FRAME_SIZE,
    MbusFrame,
    MbusFrameReader,
)
from tests.conftest import VECTORS

EVN = next(v for v in VECTORS if v.id == "dlmsparser_evn_netz_noe_kaifa_ma309_mbus_encrypted")


def long_frame(data: bytes, *, control: int = 0x53, address: int = 0xFF, ci: int = 0x10) -> bytes:
    body = bytes([control, address, ci]) + data
    assert len(body) <= 0xFF
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])


def test_vector_gives_two_valid_frames() -> None:
    frames = MbusFrameReader().read(EVN.raw)
    assert [frame.is_valid for frame in frames] == [True, True]
    first, second = frames
    assert b"".join(frame.as_bytes for frame in frames) == EVN.raw
    assert (first.control, first.address, first.control_information) == (0x53, 0xFF, 0x00)
    assert (first.segment_number, first.is_last_segment) == (0, False)
    assert (second.segment_number, second.is_last_segment) == (1, True)
    assert len(first.payload) == 0xFA - 3
    assert first.payload[:3] == b"\x01\x67\xdb"
    assert second.payload[:2] == b"\x01\x67"


def test_split_at_every_byte_boundary() -> None:
    expected = MbusFrameReader().read(EVN.raw)
    for cut in range(len(EVN.raw) + 1):
        reader = MbusFrameReader()
        frames = reader.read(EVN.raw[:cut]) + reader.read(EVN.raw[cut:])
        assert frames == expected, cut
        assert reader.buffered_bytes == 0
        assert reader.discarded_bytes == 0


def test_byte_by_byte() -> None:
    reader = MbusFrameReader()
    frames: list[MbusFrame] = []
    for byte in EVN.raw:
        frames += reader.read(bytes([byte]))
        assert reader.buffered_bytes <= MBUS_MAX_FRAME_SIZE
    assert [frame.as_bytes for frame in frames] == [
        frame.as_bytes for frame in MbusFrameReader().read(EVN.raw)
    ]


def test_bad_checksum_is_an_invalid_frame_and_the_next_frame_survives() -> None:
    good = long_frame(b"\x01\x67hello")
    bad = bytearray(good)
    bad[-2] ^= 0xFF
    reader = MbusFrameReader()
    frames = reader.read(bytes(bad) + good)
    assert [frame.is_valid for frame in frames] == [False, True]
    assert not frames[0].is_good_checksum
    assert frames[1].payload == b"\x01\x67hello"


def test_corrupted_data_byte_fails_the_checksum() -> None:
    frame = bytearray(long_frame(b"\x01\x67" + bytes(range(40))))
    frame[20] ^= 0x04
    (result,) = MbusFrameReader().read(bytes(frame))
    assert not result.is_valid


def test_lost_byte_costs_one_frame_only() -> None:
    first = long_frame(b"\x01\x67" + bytes(range(50)))
    second = long_frame(b"\x01\x67second")
    damaged = first[:30] + first[31:]  # one byte lost: the stop byte is not where expected
    reader = MbusFrameReader()
    frames = reader.read(damaged + second)
    assert [frame.as_bytes for frame in frames if frame.is_valid] == [second]


@pytest.mark.parametrize(
    "header",
    [
        b"\x68\x05\x06\x68",  # L fields differ
        b"\x68\x05\x05\x67",  # second start byte wrong
        b"\x68\x02\x02\x68",  # shorter than C, A, CI
    ],
)
def test_bad_headers_are_garbage(header: bytes) -> None:
    good = long_frame(b"\x01\x67ok")
    reader = MbusFrameReader()
    frames = reader.read(header + b"\x00\x00\x00" + good)
    assert [frame.as_bytes for frame in frames] == [good]
    assert reader.discarded_bytes == len(header) + 3


def test_garbage_is_dropped_and_bounded() -> None:
    reader = MbusFrameReader()
    garbage = os.urandom(200_000).replace(b"\x68", b"\x00")
    assert reader.read(garbage) == []
    assert reader.buffered_bytes == 0
    assert reader.discarded_bytes == len(garbage)
    good = long_frame(b"\x01\x67after")
    assert [frame.payload for frame in reader.read(good)] == [b"\x01\x67after"]


def test_all_start_bytes_stay_bounded() -> None:
    reader = MbusFrameReader()
    for _ in range(50):
        assert reader.read(b"\x68" * 1000) == []
        assert reader.buffered_bytes <= MBUS_MAX_FRAME_SIZE


@settings(max_examples=100, deadline=None)
@given(noise=st.binary(max_size=600), cuts=st.lists(st.integers(0, 1500), max_size=6))
def test_random_noise_never_raises_and_frames_survive(noise: bytes, cuts: list[int]) -> None:
    good = long_frame(b"\x01\x67survivor")
    # a false header in the noise may hold up to one frame's worth of bytes (and, if its
    # stop byte happens to match, swallow them); the frame after the gap always survives
    stream = noise + good + bytes(MBUS_MAX_FRAME_SIZE) + good + bytes(MBUS_MAX_FRAME_SIZE)
    reader = MbusFrameReader()
    frames: list[MbusFrame] = []
    previous = 0
    for cut in [*sorted(cut % (len(stream) + 1) for cut in cuts), len(stream)]:
        frames += reader.read(stream[previous:cut])
        previous = cut
        assert reader.buffered_bytes <= MBUS_MAX_FRAME_SIZE
    valid = [frame.as_bytes for frame in frames if frame.is_valid]
    assert valid[-1:] == [good]


def test_maximum_frame() -> None:
    frame = long_frame(bytes(range(252)))
    assert len(frame) == MBUS_MAX_FRAME_SIZE
    (result,) = MbusFrameReader().read(frame)
    assert result.is_valid
    assert len(result.payload) == 252
