"""A-XDR decoding: every data type, length forms, bad data, and a round trip property."""

from __future__ import annotations

import contextlib
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.axdr import (
    MAX_DEPTH,
    AxdrError,
    BitString,
    DateOctets,
    DateTimeOctets,
    Leaf,
    TimeOctets,
    decode_all,
    decode_data,
    locate_leaves,
)

DATE_TIME = "07e4011502100000ff000000"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("00", None, id="null-data"),
        pytest.param("0300", False, id="boolean-false"),
        pytest.param("03ff", True, id="boolean-true"),
        pytest.param("0580000000", -(2**31), id="double-long"),
        pytest.param("06ffffffff", 2**32 - 1, id="double-long-unsigned"),
        pytest.param("0f80", -128, id="integer"),
        pytest.param("10fff6", -10, id="long"),
        pytest.param("11ff", 255, id="unsigned"),
        pytest.param("1208e2", 2274, id="long-unsigned"),
        pytest.param("14ffffffffffffffff", -1, id="long64"),
        pytest.param("15ffffffffffffffff", 2**64 - 1, id="long64-unsigned"),
        pytest.param("161b", 27, id="enum"),
        pytest.param("17" + struct.pack(">f", 1.5).hex(), 1.5, id="float32"),
        pytest.param("18" + struct.pack(">d", -0.1).hex(), -0.1, id="float64"),
        pytest.param("0903010203", b"\x01\x02\x03", id="octet-string"),
        pytest.param("0900", b"", id="octet-string-empty"),
        pytest.param("0a0b4149444f4e5f5630303031", "AIDON_V0001", id="visible-string"),
        pytest.param("0a02e9ff", "\xe9\xff", id="visible-string-latin1"),
        pytest.param("0c03c3a961", "éa", id="utf8-string"),
        pytest.param("0c02ff61", "\ufffda", id="utf8-string-invalid-replaced"),
        pytest.param("0403a0", BitString(3, b"\xa0"), id="bit-string"),
        pytest.param("0400", BitString(0, b""), id="bit-string-empty"),
        pytest.param("0100", [], id="array-empty"),
        pytest.param("010211011102", [1, 2], id="array"),
        pytest.param("020212000a0900", [10, b""], id="structure"),
        pytest.param("020102010100", [[[]]], id="nested"),
    ],
)
def test_decodes_each_type(data: str, expected: Any) -> None:
    raw = bytes.fromhex(data)
    value, end = decode_data(raw)
    assert value == expected
    assert type(value) is type(expected)
    assert end == len(raw)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param("19" + DATE_TIME, DateTimeOctets, id="date-time"),
        pytest.param("1a07e40115ff", DateOctets, id="date"),
        pytest.param("1b10000000", TimeOctets, id="time"),
    ],
)
def test_date_and_time_types_keep_their_octets(data: str, kind: type[bytes]) -> None:
    raw = bytes.fromhex(data)
    value = decode_all(raw)
    assert type(value) is kind
    assert value == raw[1:]


@pytest.mark.parametrize(
    ("prefix", "size"),
    [
        ("7f", 127),
        ("8180", 128),
        ("81ff", 255),
        ("820100", 256),
        ("83000102", 258),
        ("8400000103", 259),
    ],
)
def test_long_length_forms(prefix: str, size: int) -> None:
    payload = bytes(range(256)) * 2
    raw = b"\x09" + bytes.fromhex(prefix) + payload[:size]
    assert decode_all(raw) == payload[:size]


def test_array_with_long_length_form() -> None:
    raw = b"\x01\x81\x90" + b"\x11\x07" * 0x90
    assert decode_all(raw) == [7] * 0x90


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("", id="empty"),
        pytest.param("06000000", id="short-number"),
        pytest.param("0905010203", id="short-octet-string"),
        pytest.param("0a05414243", id="short-visible-string"),
        pytest.param("0902", id="octet-string-no-content"),
        pytest.param("09", id="octet-string-no-length"),
        pytest.param("0981", id="long-length-missing"),
        pytest.param("098201", id="long-length-short"),
        pytest.param("0980", id="length-prefix-0x80"),
        pytest.param("0985000000000001", id="length-prefix-too-long"),
        pytest.param("0203110111", id="structure-short"),
        pytest.param("02051101", id="more-elements-than-bytes"),
        pytest.param("0410ff", id="bit-string-short"),
        pytest.param("03", id="boolean-short"),
        pytest.param("19" + DATE_TIME[:-2], id="date-time-short"),
        pytest.param("ff", id="unknown-tag"),
        pytest.param("0d01", id="bcd-unsupported"),
        pytest.param("0201ee", id="unknown-tag-inside"),
    ],
)
def test_bad_data_raises_axdr_error(data: str) -> None:
    with pytest.raises(AxdrError):
        decode_all(bytes.fromhex(data))


def test_every_truncation_of_a_real_body_raises_axdr_error() -> None:
    body = bytes.fromhex(
        "0202020309060100010700ff060000011802020f00161b"
        "020209060000600100ff0a1037333539393932383932353837363635"
    )
    assert decode_all(body)
    for end in range(len(body)):
        with pytest.raises(AxdrError):
            decode_all(body[:end])


def test_nesting_is_bounded() -> None:
    allowed = b"\x01\x01" * (MAX_DEPTH - 1) + b"\x01\x00"
    assert decode_all(allowed) is not None
    with pytest.raises(AxdrError, match="too deep"):
        decode_all(b"\x01\x01" * MAX_DEPTH + b"\x01\x00")


def test_decode_data_returns_the_position_after_the_value() -> None:
    raw = bytes.fromhex("ee1100120102")
    assert decode_data(raw, 1) == (0, 3)
    assert decode_data(raw, 3) == (0x0102, 6)


def test_decode_all_refuses_trailing_bytes() -> None:
    with pytest.raises(AxdrError, match="after the value"):
        decode_all(bytes.fromhex("110100"))


def test_locate_leaves_gives_paths_and_offsets() -> None:
    raw = bytes.fromhex("020512003402020a0241420019" + DATE_TIME + "03000f01")
    leaves = locate_leaves(raw)
    assert leaves == {
        (0,): Leaf(3, 2, "H"),
        (1, 0): Leaf(9, 2, "2s"),
        (2,): Leaf(13, 12, "12s"),
        (4,): Leaf(28, 1, "b"),
    }


def test_locate_leaves_of_long_strings_and_bad_data() -> None:
    raw = b"\x02\x01\x09\x81\x80" + bytes(128)
    assert locate_leaves(raw) == {(0,): Leaf(5, 128, "128s")}
    with pytest.raises(AxdrError):
        locate_leaves(raw[:-1])
    with pytest.raises(AxdrError):
        locate_leaves(b"\x02\x02\x11")
    with pytest.raises(AxdrError, match="too deep"):
        locate_leaves(b"\x01\x01" * MAX_DEPTH + b"\x01\x00")


# --- round trip: random A-XDR values encoded by the test, decoded by the library ---


def _length(size: int, long_form: bool) -> bytes:
    if size < 0x80 and not long_form:
        return bytes([size])
    width = max(1, (size.bit_length() + 7) // 8)
    return bytes([0x80 | width]) + size.to_bytes(width)


def _fixed(tag: int, fmt: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return values.map(lambda v: (bytes([tag]) + struct.pack(">" + fmt, v), v))


_LEAVES = st.one_of(
    st.just((b"\x00", None)),
    st.booleans().map(lambda v: (b"\x03" + bytes([v]), v)),
    _fixed(5, "i", st.integers(-(2**31), 2**31 - 1)),
    _fixed(6, "I", st.integers(0, 2**32 - 1)),
    _fixed(15, "b", st.integers(-128, 127)),
    _fixed(16, "h", st.integers(-(2**15), 2**15 - 1)),
    _fixed(17, "B", st.integers(0, 255)),
    _fixed(18, "H", st.integers(0, 2**16 - 1)),
    _fixed(20, "q", st.integers(-(2**63), 2**63 - 1)),
    _fixed(21, "Q", st.integers(0, 2**64 - 1)),
    _fixed(22, "B", st.integers(0, 255)),
    _fixed(23, "f", st.floats(width=32, allow_nan=False)),
    _fixed(24, "d", st.floats(allow_nan=False)),
    st.tuples(st.binary(max_size=300), st.booleans()).map(
        lambda b: (b"\x09" + _length(len(b[0]), b[1]) + b[0], b[0])
    ),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=40).map(
        lambda t: (b"\x0a" + _length(len(t), False) + t.encode("latin-1"), t)
    ),
    st.text(max_size=20).map(lambda t: (b"\x0c" + _length(len(t.encode()), False) + t.encode(), t)),
    st.binary(min_size=12, max_size=12).map(lambda b: (b"\x19" + b, DateTimeOctets(b))),
)


def _container(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def encode(args: tuple[int, list[tuple[bytes, Any]], bool]) -> tuple[bytes, Any]:
        tag, items, long_form = args
        raw = bytes([tag]) + _length(len(items), long_form) + b"".join(i[0] for i in items)
        return raw, [i[1] for i in items]

    return st.tuples(st.sampled_from((1, 2)), st.lists(children, max_size=6), st.booleans()).map(
        encode
    )


_VALUES = st.recursive(_LEAVES, _container, max_leaves=30)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isinf(a) and a == b))
    return type(a) is type(b) and a == b


@settings(max_examples=150, deadline=None)
@given(_VALUES)
def test_random_values_round_trip(encoded: tuple[bytes, Any]) -> None:
    raw, expected = encoded
    assert _same(decode_all(raw), expected)
    leaves = locate_leaves(raw)
    for leaf in leaves.values():
        assert leaf.offset + leaf.size <= len(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_raise_nothing_but_axdr_error(raw: bytes) -> None:
    with contextlib.suppress(AxdrError):
        decode_all(raw)
