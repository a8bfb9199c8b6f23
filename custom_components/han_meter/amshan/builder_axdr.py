"""A-XDR (DLMS/COSEM) encoding helpers used by the frame builder.

Each function returns the tagged encoding of one COSEM data value, as meters put
it in a DATA-NOTIFICATION body. Values out of range for their type raise
``ValueError``: these helpers build test and simulator data, so misuse is loud.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

TAG_NULL = 0x00
TAG_ARRAY = 0x01
TAG_STRUCTURE = 0x02
TAG_DOUBLE_LONG = 0x05
TAG_DOUBLE_LONG_UNSIGNED = 0x06
TAG_OCTET_STRING = 0x09
TAG_VISIBLE_STRING = 0x0A
TAG_LONG = 0x10
TAG_UNSIGNED = 0x11
TAG_LONG_UNSIGNED = 0x12
TAG_INTEGER = 0x0F
TAG_ENUM = 0x16

# (tag, byte size, signed) of the fixed-size integer types.
INTEGER_TYPES: dict[int, tuple[int, int, bool]] = {
    TAG_INTEGER: (TAG_INTEGER, 1, True),
    TAG_UNSIGNED: (TAG_UNSIGNED, 1, False),
    TAG_ENUM: (TAG_ENUM, 1, False),
    TAG_LONG: (TAG_LONG, 2, True),
    TAG_LONG_UNSIGNED: (TAG_LONG_UNSIGNED, 2, False),
    TAG_DOUBLE_LONG: (TAG_DOUBLE_LONG, 4, True),
    TAG_DOUBLE_LONG_UNSIGNED: (TAG_DOUBLE_LONG_UNSIGNED, 4, False),
}
TYPE_NAMES = {
    TAG_INTEGER: "integer",
    TAG_UNSIGNED: "unsigned",
    TAG_ENUM: "enum",
    TAG_LONG: "long",
    TAG_LONG_UNSIGNED: "long-unsigned",
    TAG_DOUBLE_LONG: "double-long",
    TAG_DOUBLE_LONG_UNSIGNED: "double-long-unsigned",
}
NULL_DATA = bytes([TAG_NULL])
DEVIATION_NOT_SPECIFIED = 0x8000
CLOCK_STATUS_DST = 0x80


def encode_length(length: int) -> bytes:
    """A-XDR length: one byte below 128, else 0x81 nn or 0x82 nn nn."""
    if length < 0:
        raise ValueError(f"negative length {length}")
    if length < 0x80:
        return bytes([length])
    if length <= 0xFF:
        return bytes([0x81, length])
    if length <= 0xFFFF:
        return b"\x82" + length.to_bytes(2, "big")
    raise ValueError(f"length {length} is too large for this builder (max 65535)")


def integer_range(tag: int) -> tuple[int, int]:
    """The (min, max) a fixed-size integer type can carry."""
    _, size, signed = INTEGER_TYPES[tag]
    if signed:
        return -(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1
    return 0, (1 << (8 * size)) - 1


def encode_integer(tag: int, value: int) -> bytes:
    """Tagged fixed-size integer (tag one of the INTEGER_TYPES keys)."""
    if tag not in INTEGER_TYPES:
        raise ValueError(f"0x{tag:02X} is not an integer type tag")
    _, size, signed = INTEGER_TYPES[tag]
    low, high = integer_range(tag)
    if not low <= value <= high:
        raise ValueError(f"{value} does not fit {TYPE_NAMES[tag]} ({low}..{high})")
    return bytes([tag]) + value.to_bytes(size, "big", signed=signed)


def encode_octet_string(value: bytes) -> bytes:
    """Tagged octet-string (0x09)."""
    return bytes([TAG_OCTET_STRING]) + encode_length(len(value)) + value


def encode_visible_string(value: str) -> bytes:
    """Tagged visible-string (0x0A); only printable ASCII is allowed."""
    if not all(" " <= char <= "~" for char in value):
        raise ValueError(f"visible-string {value!r} must be printable ASCII")
    raw = value.encode("ascii")
    return bytes([TAG_VISIBLE_STRING]) + encode_length(len(raw)) + raw


def encode_structure(*elements: bytes) -> bytes:
    """Tagged structure (0x02) of already encoded elements."""
    return bytes([TAG_STRUCTURE]) + encode_length(len(elements)) + b"".join(elements)


def encode_array(elements: list[bytes]) -> bytes:
    """Tagged array (0x01) of already encoded elements."""
    return bytes([TAG_ARRAY]) + encode_length(len(elements)) + b"".join(elements)


def encode_obis(code: tuple[int, int, int, int, int, int]) -> bytes:
    """An OBIS code as a tagged octet-string of 6 bytes."""
    if len(code) != 6 or not all(0 <= part <= 0xFF for part in code):
        raise ValueError(f"OBIS code {code} must be 6 values 0..255")
    return encode_octet_string(bytes(code))


def scaled_integer(what: str, value: Any, scaler: int, tag: int) -> int:
    """``value`` / 10^``scaler`` rounded half-even, checked against the range of ``tag``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    raw = int(Decimal(repr(value)).scaleb(-scaler).to_integral_value(ROUND_HALF_EVEN))
    low, high = integer_range(tag)
    if not low <= raw <= high:
        raise ValueError(
            f"{what} = {value} does not fit its field: {raw} x 10^{scaler} is outside "
            f"{TYPE_NAMES[tag]} ({low}..{high})"
        )
    return raw


def encode_scaled_element(
    code: tuple[int, int, int, int, int, int], tag: int, raw: int, scaler: int, unit: int
) -> bytes:
    """``{OBIS code, value, {scaler, unit}}``: one element of an Aidon-style list."""
    return encode_structure(
        encode_obis(code),
        encode_integer(tag, raw),
        encode_structure(encode_integer(TAG_INTEGER, scaler), encode_integer(TAG_ENUM, unit)),
    )


def encode_cosem_datetime(value: datetime, *, with_deviation: bool = True) -> bytes:
    """The 12-byte COSEM date-time (without tag or length) of ``value``.

    The deviation is the number of minutes to add to the local time to get UTC
    (DLMS sign convention: UTC+01:00 is -60); it is 0x8000 (not specified) when
    ``value`` is naive or ``with_deviation`` is false. The clock status is 0x80
    (daylight saving active) when ``value`` is aware and in DST, else 0x00.
    Hundredths are 0xFF (not specified) unless ``value`` has microseconds.
    """
    offset = value.utcoffset()
    deviation = DEVIATION_NOT_SPECIFIED
    if offset is not None and with_deviation:
        if offset % timedelta(minutes=1):
            raise ValueError(f"UTC offset {offset} is not a whole number of minutes")
        minutes = -int(offset / timedelta(minutes=1))
        if not -840 <= minutes <= 720:
            raise ValueError(f"UTC offset {offset} is outside -12:00..+14:00")
        deviation = minutes & 0xFFFF
    dst = value.dst() if offset is not None else None
    status = CLOCK_STATUS_DST if dst else 0x00
    hundredths = value.microsecond // 10_000 if value.microsecond else 0xFF
    return (
        value.year.to_bytes(2, "big")
        + bytes(
            [
                value.month,
                value.day,
                value.isoweekday(),
                value.hour,
                value.minute,
                value.second,
                hundredths,
            ]
        )
        + deviation.to_bytes(2, "big")
        + bytes([status])
    )
