"""CRC-16/X.25 and CRC-16/ARC against bitwise reference implementations."""

from __future__ import annotations

import binascii
import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.crc import (
    ARC_FOLDS,
    ARC_SHORT_BITS,
    X25_GOOD_RESIDUE,
    X25_GOOD_RESIDUE_BIT_REVERSED,
    bit_reversed,
    crc16_arc,
    crc16_x25,
)
from tests.conftest import VECTORS, Vector, vectors_of


def reference_x25(data: bytes) -> int:
    """CRC-16/X.25 bit by bit: poly 0x1021 reflected (0x8408), init/xorout 0xFFFF."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def reference_arc(data: bytes) -> int:
    """CRC-16/ARC bit by bit: poly 0x8005 reflected (0xA001), init 0, no xorout."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_catalogue_check_values() -> None:
    # The "check" values of the CRC catalogue for the ASCII string "123456789".
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_arc(b"123456789") == 0xBB3D
    assert crc16_arc(b"") == 0
    assert crc16_x25(b"") == 0


@pytest.mark.parametrize("size", [*range(70), 127, 128, 129, 800, 884, 4096, 16384, 40000])
def test_every_short_length_and_some_long_ones(size: int) -> None:
    # Short lengths cover the byte-table tail of the ARC fold; 40000 bytes exceeds the
    # period (32767 bits) of x modulo the ARC polynomial.
    data = random.Random(size).randbytes(size)
    assert crc16_arc(data) == reference_arc(data)
    assert crc16_x25(data) == reference_x25(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_data_matches_reference(data: bytes) -> None:
    assert crc16_arc(data) == reference_arc(data)
    assert crc16_x25(data) == reference_x25(data)


def test_accepts_bytearray_and_memoryview() -> None:
    data = bytes(range(256)) * 3
    for arg in (bytearray(data), memoryview(data), memoryview(data)[5:600]):
        expected = bytes(arg)
        assert crc16_arc(arg) == reference_arc(expected)
        assert crc16_x25(arg) == reference_x25(expected)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_x25_residue_of_data_with_its_fcs(data: bytes) -> None:
    framed = data + crc16_x25(data).to_bytes(2, "little")
    assert crc16_x25(framed) == X25_GOOD_RESIDUE
    assert binascii.crc_hqx(bit_reversed(framed), 0xFFFF) == X25_GOOD_RESIDUE_BIT_REVERSED
    broken = bytes([framed[0] ^ 1]) + framed[1:]
    assert crc16_x25(broken) != X25_GOOD_RESIDUE


def test_bit_reversed() -> None:
    assert bit_reversed(b"\x01\x80\x0f\xa5") == b"\x80\x01\xf0\xa5"
    assert bit_reversed(bytearray(b"\x03")) == b"\xc0"


@pytest.mark.parametrize("vector", vectors_of("p1"))
def test_p1_vector_crcs(vector: Vector) -> None:
    bang = vector.raw.rindex(b"!")
    digits = vector.raw[bang + 1 : bang + 5].strip()
    if vector.crc_ok is None:
        assert digits == b""
        return
    assert (crc16_arc(vector.raw[vector.raw.index(b"/") : bang + 1]) == int(digits, 16)) is (
        vector.crc_ok
    )


def test_hdlc_vector_check_sequences() -> None:
    for vector in VECTORS:
        if vector.kind != "hdlc-frame":
            continue
        length = int.from_bytes(vector.raw[1:3], "big") & 0x7FF
        frame = vector.raw[1 : 1 + length]
        assert (crc16_x25(frame) == X25_GOOD_RESIDUE) is vector.valid, vector.id


def test_arc_folds_are_remainders_of_the_polynomial() -> None:
    def x_power_mod(exponent: int) -> int:
        remainder = 1
        for _ in range(exponent):
            remainder <<= 1
            if remainder & 0x10000:
                remainder ^= 0x18005
        return remainder

    assert x_power_mod(32767) == 1  # the period crc16_arc folds long messages with
    for split, *terms in ARC_FOLDS:
        assert x_power_mod(split) == sum(1 << term for term in terms), split


def test_short_messages_need_only_the_small_folds() -> None:
    # Folding at 3835 bits, x^3835 = 1 + x^10 + x^14, halves any value up to this limit;
    # each later fold halves what the one before left.
    split, *terms = ARC_FOLDS[3]
    assert 2 * split - max(terms) == ARC_SHORT_BITS
    for (larger, *_), (smaller, *smaller_terms) in pairwise(ARC_FOLDS[3:]):
        assert larger <= 2 * smaller - max(smaller_terms)


@pytest.mark.parametrize("size", range(950, 961))
def test_lengths_around_the_short_fold_limit(size: int) -> None:
    # 955 bytes and the 16 bits the CRC appends make at most ARC_SHORT_BITS; 956 more.
    assert ARC_SHORT_BITS == 955 * 8 + 16
    for data in (b"\xff" * size, random.Random(size).randbytes(size)):
        assert crc16_arc(data) == reference_arc(data)
