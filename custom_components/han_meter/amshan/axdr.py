"""A-XDR decoding of DLMS/COSEM ``Data`` values (IEC 62056-6-2).

Every value starts with a one-byte type tag. Decoded Python types:

======================  ====  ==========================================
type                    tag   Python value
======================  ====  ==========================================
null-data                  0  ``None``
array / structure        1/2  ``list`` of the elements
boolean                    3  ``bool``
bit-string                 4  :class:`BitString`
integer types      5, 6, 15,  ``int`` (double-long, double-long-unsigned,
                  16, 17, 18,  integer, long, unsigned, long-unsigned,
                  20, 21, 22   long64, long64-unsigned, enum)
octet-string               9  ``bytes``
visible-string            10  ``str`` (Latin-1, never fails)
utf8-string               12  ``str`` (invalid sequences replaced)
float32 / float64      23/24  ``float``
date-time / date / time   25  :class:`DateTimeOctets` (12 bytes), 26 :class:`DateOctets`
                              (5), 27 :class:`TimeOctets` (4): see :mod:`.cosem`
======================  ====  ==========================================

Lengths of strings, arrays and structures use the variable-length form: one byte
below 0x80, else 0x8N followed by N length bytes (N = 1..4).

Bad data raises :class:`AxdrError`; callers at the decoder boundary turn it into
``None``.
"""

from __future__ import annotations

import struct

from .record import Record, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Callable
    from typing import Any

MAX_DEPTH = 16  # nesting of arrays/structures; real meters use 3


class AxdrError(ValueError):
    """The bytes are not valid A-XDR data (truncated, unknown type, too deep)."""


class BitString(Record):
    """A bit-string: ``bit_count`` bits, most significant bit of ``data[0]`` first."""

    __slots__ = __match_args__ = ("bit_count", "data")
    bit_count: int
    data: bytes

    def __init__(self, bit_count: int, data: bytes) -> None:
        set_field(self, "bit_count", bit_count)
        set_field(self, "data", data)


class DateTimeOctets(bytes):
    """The 12 bytes of a COSEM date-time sent with the date-time tag (25)."""

    __slots__ = ()


class DateOctets(bytes):
    """The 5 bytes of a COSEM date (tag 26)."""

    __slots__ = ()


class TimeOctets(bytes):
    """The 4 bytes of a COSEM time (tag 27)."""

    __slots__ = ()


TAG_NULL_DATA = 0
TAG_ARRAY = 1
TAG_STRUCTURE = 2
TAG_BOOLEAN = 3
TAG_BIT_STRING = 4
TAG_OCTET_STRING = 9
TAG_VISIBLE_STRING = 10
TAG_UTF8_STRING = 12
TAG_DATE_TIME = 25
TAG_DATE = 26
TAG_TIME = 27

_CONTAINERS = frozenset((TAG_ARRAY, TAG_STRUCTURE))
_TEXTS = frozenset((TAG_VISIBLE_STRING, TAG_UTF8_STRING))
# tag -> struct format of the fixed-size types
FIXED_FORMATS: dict[int, str] = {
    5: "i",  # double-long
    6: "I",  # double-long-unsigned
    15: "b",  # integer
    16: "h",  # long
    17: "B",  # unsigned
    18: "H",  # long-unsigned
    20: "q",  # long64
    21: "Q",  # long64-unsigned
    22: "B",  # enum
    23: "f",  # float32
    24: "d",  # float64
}
# tag -> (unpack_from of its precompiled Struct, size in bytes)
_FIXED: dict[int, tuple[Callable[[bytes, int], tuple[Any, ...]], int]] = {
    tag: (struct.Struct(">" + fmt).unpack_from, struct.calcsize(">" + fmt))
    for tag, fmt in FIXED_FORMATS.items()
}
_OCTETS: dict[int, tuple[type[bytes], int]] = {
    TAG_DATE_TIME: (DateTimeOctets, 12),
    TAG_DATE: (DateOctets, 5),
    TAG_TIME: (TimeOctets, 4),
}


def decode_data(data: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode the value starting at ``data[pos]``: ``(value, position after it)``."""
    try:
        return _decode(data, pos, 0)
    except (IndexError, struct.error) as error:
        raise AxdrError(f"truncated data at offset {pos}") from error


def decode_all(data: bytes, pos: int = 0) -> Any:
    """Decode the one value that fills ``data[pos:]`` exactly."""
    value, end = decode_data(data, pos)
    if end != len(data):
        raise AxdrError(f"{len(data) - end} byte(s) after the value")
    return value


class Leaf(Record):
    """Where a number or string value sits in the data: for reading it again in place."""

    __slots__ = __match_args__ = ("offset", "size", "format")
    offset: int  # first byte of the value itself (after its tag and length)
    size: int
    format: str  # struct format of the value: "I", "h", ..., or "12s"

    def __init__(self, offset: int, size: int, format: str) -> None:
        set_field(self, "offset", offset)
        set_field(self, "size", size)
        set_field(self, "format", format)


def locate_leaves(data: bytes, pos: int = 0) -> dict[tuple[int, ...], Leaf]:
    """The numbers and strings of the value at ``data[pos]``, by their index path.

    The path of an element is the tuple of indexes leading to it (``(3, 1)`` is the
    second element of the fourth element of the top array). Null-data, booleans and
    bit-strings are not listed.
    """
    leaves: dict[tuple[int, ...], Leaf] = {}
    try:
        _locate(data, pos, (), leaves)
    except (IndexError, struct.error) as error:
        raise AxdrError(f"truncated data at offset {pos}") from error
    return leaves


def _locate(
    data: bytes, pos: int, path: tuple[int, ...], leaves: dict[tuple[int, ...], Leaf]
) -> int:
    tag = data[pos]
    if tag in _CONTAINERS:
        count, pos = _length(data, pos + 1)
        if len(path) >= MAX_DEPTH:
            raise AxdrError("arrays/structures nested too deep")
        for index in range(count):
            pos = _locate(data, pos, (*path, index), leaves)
        return pos
    _, end = _decode(data, pos, len(path))
    fmt = FIXED_FORMATS.get(tag)
    if fmt is not None:
        leaves[path] = Leaf(pos + 1, end - pos - 1, fmt)
    elif tag == TAG_OCTET_STRING or tag in _TEXTS:
        size, start = _length(data, pos + 1)
        leaves[path] = Leaf(start, size, f"{size}s")
    elif tag in _OCTETS:
        leaves[path] = Leaf(pos + 1, end - pos - 1, f"{end - pos - 1}s")
    return end


def _length(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    size = first & 0x7F
    if not 1 <= size <= 4:
        raise AxdrError(f"bad length prefix 0x{first:02x} at offset {pos}")
    end = pos + 1 + size
    if end > len(data):
        raise AxdrError("truncated length")
    return int.from_bytes(data[pos + 1 : end]), end


def _slice(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    end = pos + size
    if end > len(data):
        raise AxdrError(f"{size} byte(s) needed at offset {pos}, {len(data) - pos} left")
    return data[pos:end], end


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    tag = data[pos]
    pos += 1
    fixed = _FIXED.get(tag)
    if fixed is not None:
        unpack, size = fixed
        return unpack(data, pos)[0], pos + size
    if tag in _CONTAINERS:
        return _decode_elements(data, pos, depth)
    if tag == TAG_OCTET_STRING:
        size, pos = _length(data, pos)
        return _slice(data, pos, size)
    if tag in _TEXTS:
        size, pos = _length(data, pos)
        raw, pos = _slice(data, pos, size)
        text = raw.decode("latin-1") if tag == TAG_VISIBLE_STRING else raw.decode(errors="replace")
        return text, pos
    if tag == TAG_NULL_DATA:
        return None, pos
    if tag == TAG_BOOLEAN:
        return data[pos] != 0, pos + 1
    if tag == TAG_BIT_STRING:
        bit_count, pos = _length(data, pos)
        raw, pos = _slice(data, pos, (bit_count + 7) // 8)
        return BitString(bit_count, raw), pos
    octets = _OCTETS.get(tag)
    if octets is None:
        raise AxdrError(f"unknown type tag 0x{tag:02x} at offset {pos - 1}")
    kind, size = octets
    raw, pos = _slice(data, pos, size)
    return kind(raw), pos


def _decode_elements(data: bytes, pos: int, depth: int) -> tuple[list[Any], int]:
    """The elements of an array or structure whose length prefix is at ``data[pos]``."""
    count = data[pos]
    if count < 0x80:
        pos += 1
    else:
        count, pos = _length(data, pos)
    end = len(data)
    if count > end - pos:  # every element takes at least one byte
        raise AxdrError(f"{count} elements cannot fit in {end - pos} byte(s)")
    if depth >= MAX_DEPTH:
        raise AxdrError("arrays/structures nested too deep")
    depth += 1
    items: list[Any] = []
    append = items.append
    fixed_types = _FIXED
    for _ in range(count):
        # The common leaf types are decoded inline: a call per element costs more.
        tag = data[pos]
        fixed = fixed_types.get(tag)
        if fixed is not None:
            unpack, size = fixed
            append(unpack(data, pos + 1)[0])
            pos += 1 + size
        elif tag == TAG_OCTET_STRING and data[pos + 1] < 0x80:
            start = pos + 2
            pos = start + data[pos + 1]
            if pos > end:
                raise AxdrError(f"octet-string beyond the end at offset {start}")
            append(data[start:pos])
        elif tag in _CONTAINERS:
            value, pos = _decode_elements(data, pos + 1, depth)
            append(value)
        elif tag == TAG_NULL_DATA:
            append(None)
            pos += 1
        else:
            value, pos = _decode(data, pos, depth)
            append(value)
    return items, pos
