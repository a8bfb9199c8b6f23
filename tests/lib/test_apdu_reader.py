"""Reader for streams of bare ciphered APDUs (encrypted P1: Smarty, Sagemcom T210-D)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.apdu_reader import (
    MAX_CIPHERED_APDU_SIZE,
    CipheredApduFrame,
    CipheredApduReader,
)
from custom_components.han_meter.amshan.builder_security import encrypt_apdu

EK = bytes(range(16))
AK = bytes(range(16, 32))
TITLE = b"LUX\x00\x00\x00\x00\x07"
TELEGRAM = b"/LUX5\\2SMARTY\r\n\r\n1-0:1.8.0(000123.456*kWh)\r\n!"


def apdu(counter: int, size: int = 0, control: int = 0x30) -> bytes:
    return encrypt_apdu(TELEGRAM + b"x" * size, TITLE, counter, EK, AK, control)


def test_frames_back_to_back_split_anywhere() -> None:
    stream = apdu(1) + apdu(2, 300) + apdu(3, 0, 0x20)
    expected = [apdu(1), apdu(2, 300), apdu(3, 0, 0x20)]
    for cut in range(len(stream) + 1):
        reader = CipheredApduReader()
        frames = reader.read(stream[:cut]) + reader.read(stream[cut:])
        assert [frame.as_bytes for frame in frames] == expected, cut
        assert all(frame.is_valid and frame.payload == frame.as_bytes for frame in frames)
        assert reader.buffered_bytes == 0


def test_garbage_before_between_and_bounded() -> None:
    reader = CipheredApduReader()
    noise = os.urandom(50_000).replace(b"\xdb", b"\x00").replace(b"\xdc", b"\x00")
    frames = reader.read(noise + apdu(1) + b"\x00\xdb\x07" + apdu(2))
    assert [frame.as_bytes for frame in frames] == [apdu(1), apdu(2)]
    assert reader.discarded_bytes == len(noise) + 3
    assert reader.buffered_bytes == 0


def test_implausible_headers_are_skipped() -> None:
    title = b"\xdb\x08" + TITLE
    reader = CipheredApduReader()
    # bad security control, then a length beyond the bound, then a real frame
    stream = title + b"\x10\x99" + bytes(15) + title + b"\x82\xff\xff\x30" + apdu(4)
    frames = reader.read(stream)
    assert frames == [CipheredApduFrame(apdu(4))]


def test_waits_for_the_security_control_byte() -> None:
    frame = apdu(5)
    reader = CipheredApduReader()
    assert reader.read(frame[:11]) == []
    assert reader.buffered_bytes == 11
    assert reader.read(frame[11:]) == [CipheredApduFrame(frame)]


@settings(max_examples=100, deadline=None)
@given(noise=st.binary(max_size=400), chunk=st.integers(1, 64))
def test_noise_never_raises_and_stays_bounded(noise: bytes, chunk: int) -> None:
    reader = CipheredApduReader()
    stream = noise + apdu(6) + apdu(7)
    frames: list[CipheredApduFrame] = []
    for start in range(0, len(stream), chunk):
        frames += reader.read(stream[start : start + chunk])
        assert reader.buffered_bytes <= MAX_CIPHERED_APDU_SIZE + 64
    if b"\xdb" not in noise and b"\xdc" not in noise:
        assert frames == [CipheredApduFrame(apdu(6)), CipheredApduFrame(apdu(7))]
