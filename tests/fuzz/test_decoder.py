"""Fuzzing the AutoDecoder: random A-XDR structures, damaged contents, random values.

Properties: no exception escapes or is even caught inside (the decoders log caught
ones with a traceback, which these tests turn into failures); every decoded value has
the type of its key and lies in the physical range of its unit; implausible values
(10^8 W from a wrong scaler) are dropped and counted in ``rejected_values``, never
published; the remembered-layout fast path gives exactly what a full parse gives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from random import Random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_hdlc_frame, build_meter_frame
from custom_components.han_meter.amshan.crc import crc16_x25
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.obis_map import KEY_UNITS, OBIS_KEYS, POWER_FACTOR_KEYS

from .common import (
    BY_MANUFACTURER,
    CONTENTS,
    ENCRYPTED,
    EXPECTED,
    HDLC_FRAMES,
    LIMITS,
    describe,
    flip_bits,
    fuzz_settings,
    implausible,
    notification,
    plausibility_errors,
    record,
    swallowed_exceptions,
)

SEGMENT = 0x700  # payload bytes that fit one HDLC frame with room to spare


def _decode_checked(decoder: AutoDecoder, content: bytes, target: str) -> Any:
    """Decode content, failing on caught exceptions and implausible values."""
    with swallowed_exceptions() as caught:
        reading = decoder.decode_frame_content(content)
    assert not caught, describe(caught)
    errors = implausible(reading, target)
    assert not errors, errors
    return reading


@fuzz_settings(3)
@given(content=notification())
def test_random_axdr_notifications(content: bytes) -> None:
    """Random DATA-NOTIFICATIONs (random types, lengths, OBIS codes, scalers, clocks)."""
    decoder = AutoDecoder()
    reading = _decode_checked(decoder, content, "AutoDecoder random A-XDR")
    if len(content) <= SEGMENT:
        frame = HdlcFrameReader().read(build_hdlc_frame(content))[0]
        framed_decoder = AutoDecoder()
        with swallowed_exceptions() as caught:
            framed = framed_decoder.decode_message(frame)
        assert not caught, describe(caught)
        assert framed == reading or repr(framed) == repr(reading)  # nan != nan
    record(
        "AutoDecoder random A-XDR",
        bytes=len(content),
        values=len(reading or ()),
        rejected=decoder.rejected_values,
    )


EXPECTED_CONTENTS = [
    frame.payload for raw in HDLC_FRAMES for frame in HdlcFrameReader().read(raw) if frame.payload
]


@st.composite
def damaged_content(draw: st.DrawFn) -> bytes:
    """A real APDU or frame content, truncated, overwritten or with bits flipped."""
    content = draw(st.sampled_from(CONTENTS + tuple(EXPECTED_CONTENTS)))
    how = draw(st.sampled_from(["truncate", "overwrite", "flip", "insert"]))
    if how == "truncate":
        return content[: draw(st.integers(0, len(content) - 1))]
    mutable = bytearray(content)
    index = draw(st.integers(0, len(content) - 1))
    if how == "overwrite":  # a length byte, a tag, a count: any byte, any value
        mutable[index] = draw(st.integers(0, 255))
    elif how == "insert":
        mutable[index:index] = draw(st.binary(min_size=1, max_size=8))
    else:
        bits = st.integers(0, len(content) * 8 - 1)
        return flip_bits(content, draw(st.lists(bits, min_size=1, max_size=4)))
    return bytes(mutable)


@fuzz_settings(4)
@given(content=damaged_content())
def test_damaged_contents(content: bytes) -> None:
    """Contents whose A-XDR lengths, tags and counts lie (what a checksum would not catch)."""
    decoder = AutoDecoder()
    reading = _decode_checked(decoder, content, "AutoDecoder damaged contents")
    record(
        "AutoDecoder damaged contents",
        bytes=len(content),
        values=len(reading or ()),
        rejected=decoder.rejected_values,
    )


def _reframe(frame: bytes, length: int) -> bytes:
    """A frame whose length field says ``length`` with both check sequences made to match.

    The bytes are cut or padded to that length: a frame that lies consistently (what a
    buggy bridge could send) and passes every check of the reader.
    """
    header_end = 3
    while not frame[header_end] & 1:
        header_end += 1
    header_end += 1
    while not frame[header_end] & 1:
        header_end += 1
    header_end += 2
    body = bytearray(frame[1:-3])
    body[0] = (body[0] & 0xF8) | (length >> 8 & 0x07)
    body[1] = length & 0xFF
    body = body[: length - 2].ljust(length - 2, b"\x00")
    body[header_end - 1 : header_end + 1] = crc16_x25(body[: header_end - 1]).to_bytes(2, "little")
    return b"\x7e" + bytes(body) + crc16_x25(body).to_bytes(2, "little") + b"\x7e"


@fuzz_settings(2)
@given(frame=st.sampled_from(HDLC_FRAMES), length=st.integers(14, 0x7FF))
def test_consistent_wrong_length(frame: bytes, length: int) -> None:
    """Frames cut short or padded, with the length field and both CRCs made to agree."""
    frames = HdlcFrameReader().read(_reframe(frame, length))
    assert len(frames) == 1
    assert frames[0].is_valid
    decoder = AutoDecoder()
    with swallowed_exceptions() as caught:
        reading = decoder.decode_message(frames[0])
    assert not caught, describe(caught)
    errors = implausible(reading, "AutoDecoder consistent wrong length")
    assert not errors, errors
    record("AutoDecoder consistent wrong length", bytes=length + 2, values=len(reading or ()))


PREFIXES = [b"", b"\xe6\xe7\x00", b"\x0f", b"\xe6\xe7\x00\x0f", b"\xdb", b"\xe0", b"/", b"\x01"]


@fuzz_settings(3)
@given(
    prefix=st.sampled_from(PREFIXES),
    data=st.one_of(st.binary(max_size=64), st.binary(min_size=64, max_size=600)),
)
def test_arbitrary_contents(prefix: bytes, data: bytes) -> None:
    """Arbitrary bytes after the first bytes of each content kind the decoder knows."""
    decoder = AutoDecoder()
    reading = _decode_checked(decoder, prefix + data, "AutoDecoder arbitrary contents")
    record("AutoDecoder arbitrary contents", bytes=len(prefix + data), values=len(reading or ()))


@fuzz_settings(2)
@given(
    vector=st.sampled_from(ENCRYPTED),
    positions=st.lists(st.integers(0, 1 << 14), min_size=1, max_size=3),
)
def test_damaged_ciphered_messages(vector: Any, positions: list[int]) -> None:
    """Ciphered messages with bits flipped: no values from a failed tag, no exception."""
    keys = vector.keys
    decoder = AutoDecoder(
        bytes.fromhex(keys["encryption_key"]),
        bytes.fromhex(keys["authentication_key"]) if keys.get("authentication_key") else None,
    )
    damaged = flip_bits(vector.raw, positions)
    values = 0
    with swallowed_exceptions() as caught:
        if damaged[:1] == b"\x7e":
            messages: list[Any] = list(HdlcFrameReader().read(damaged))
        elif damaged[:1] == b"\x68":
            from custom_components.han_meter.amshan.mbus import MbusFrameReader

            messages = list(MbusFrameReader().read(damaged))
        else:
            messages = []
            reading = decoder.decode_frame_content(damaged)
            values += len(reading or ())
            assert not implausible(reading, "AutoDecoder damaged ciphered")
        for message in messages:
            reading = decoder.decode_message(message)
            values += len(reading or ())
            assert not implausible(reading, "AutoDecoder damaged ciphered")
    assert not caught, describe(caught)
    record("AutoDecoder damaged ciphered", bytes=len(damaged), values=values)


# Differential: values whose right result is known, plausible or not.

NUMERIC_KEYS = sorted(
    key for key in {*OBIS_KEYS.values()} if key in KEY_UNITS or key in POWER_FACTOR_KEYS
)
CODES = {key: code for code, key in reversed(list(OBIS_KEYS.items()))}
UNIT_ENUMS = {"W": 27, "var": 29, "Wh": 30, "varh": 32, "A": 33, "V": 35}
VALUE_TYPES = [  # tag, size, signed
    (0x05, 4, True),
    (0x06, 4, False),
    (0x10, 2, True),
    (0x12, 2, False),
    (0x14, 8, True),
    (0x15, 8, False),
]


@st.composite
def element_spec(draw: st.DrawFn) -> tuple[str, int, int, int, bool]:
    """(key, type tag, scaler, raw number, signed) of one {code, value, {scaler, unit}}."""
    key = draw(st.sampled_from(NUMERIC_KEYS))
    tag, size, signed = draw(st.sampled_from(VALUE_TYPES))
    bits = size * 8
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    raw = draw(st.one_of(st.integers(low, high), st.integers(max(low, -5000), min(high, 5000))))
    scaler = draw(st.integers(-9, 9))
    return key, tag, scaler, raw, signed


def _body(specs: list[tuple[str, int, int, int, bool]], raws: list[int]) -> bytes:
    elements = []
    for (key, tag, scaler, _, signed), raw in zip(specs, raws, strict=True):
        size = {0x05: 4, 0x06: 4, 0x10: 2, 0x12: 2, 0x14: 8, 0x15: 8}[tag]
        code = bytes((1, 0, *CODES[key], 255))
        unit = UNIT_ENUMS.get(KEY_UNITS.get(key, ""), 255)
        elements.append(
            b"\x02\x03\x09\x06"
            + code
            + bytes((tag,))
            + raw.to_bytes(size, "big", signed=signed)
            + b"\x02\x02\x0f"
            + scaler.to_bytes(1, "big", signed=True)
            + b"\x16"
            + bytes((unit,))
        )
    return b"\x01" + bytes((len(elements),)) + b"".join(elements)


def _expected(key: str, raw: int, scaler: int) -> Fraction | None:
    """The exact value, or None when it is implausible for the key's unit."""
    value = Fraction(raw) * Fraction(10) ** scaler
    low, high = (-1, 1) if key in POWER_FACTOR_KEYS else LIMITS[KEY_UNITS[key]]
    return value if low <= value <= high else None


@fuzz_settings(3)
@given(
    specs=st.lists(element_spec(), min_size=1, max_size=12, unique_by=lambda spec: spec[0]),
    seed=st.integers(0),
)
def test_implausible_values_are_rejected_and_counted(
    specs: list[tuple[str, int, int, int, bool]], seed: int
) -> None:
    """Each value is published exactly, or dropped and counted when out of range.

    The same layout is decoded twice, with other numbers the second time: the first
    decode is a full parse, the second goes through the remembered layout.
    """
    decoder = AutoDecoder()
    rng = Random(seed)
    second = [
        rng.randint(-5000, 5000) if signed else rng.randint(0, 5000) for _, _, _, _, signed in specs
    ]
    rejected_total = 0
    for raws in ([spec[3] for spec in specs], second):
        before = decoder.rejected_values
        content = b"\xe6\xe7\x00\x0f\x40\x00\x00\x00\x00" + _body(specs, raws)
        reading = _decode_checked(decoder, content, "AutoDecoder plausibility differential") or {}
        rejected = 0
        for (key, _, scaler, _, _), raw in zip(specs, raws, strict=True):
            expected = _expected(key, raw, scaler)
            if expected is None:
                assert key not in reading, (key, raw, scaler, reading.get(key))
                rejected += 1
            else:
                assert reading[key] == pytest.approx(float(expected), rel=1e-12, abs=1e-300)
        assert decoder.rejected_values - before == rejected
        rejected_total += rejected
    record(
        "AutoDecoder plausibility differential",
        values=2 * len(specs),
        rejected=rejected_total,
    )


METER_KEYS = {
    "active_power_import": (0, 30_000),
    "active_power_export": (0, 30_000),
    "reactive_power_import": (0, 30_000),
    "reactive_power_export": (0, 30_000),
    "current_l1": (0, 60),
    "current_l2": (0, 60),
    "current_l3": (0, 60),
    "voltage_l1": (180, 260),
    "voltage_l2": (180, 260),
    "voltage_l3": (180, 260),
    "active_power_import_total": (0, 400_000_000),
    "active_power_export_total": (0, 400_000_000),
    "reactive_power_import_total": (0, 400_000_000),
    "reactive_power_export_total": (0, 400_000_000),
}


@st.composite
def meter_frames(draw: st.DrawFn) -> list[bytes]:
    """Frames of one meter with random values, lists 1, 2 and 3 in any order."""
    meter = draw(st.sampled_from(["aidon", "kaifa", "kamstrup"]))
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 10**8)))
    frames = []
    for index in range(draw(st.integers(1, 8))):
        keys = draw(st.sampled_from(["list1", "list2", "list3"]))
        chosen = ["active_power_import"]
        if keys != "list1":
            chosen += [key for key in METER_KEYS if "total" not in key]
        if keys == "list3":
            chosen += [key for key in METER_KEYS if "total" in key]
        values: dict[str, Any] = {
            key: draw(st.integers(*METER_KEYS[key]))
            if "current" not in key
            else draw(st.integers(0, 60_000)) / 1000
            for key in chosen
        }
        when = start + timedelta(seconds=10 * index)
        if keys == "list3":
            values["meter_datetime"] = when
        frames.append(build_meter_frame(meter, values, timestamp=when))
    return frames


@fuzz_settings(2)
@given(frames=meter_frames())
def test_remembered_layouts_match_full_parse(frames: list[bytes]) -> None:
    """A decoder that saw earlier frames decodes each frame as a fresh decoder does."""
    decoder = AutoDecoder()
    values = 0
    for raw in frames:
        (frame,) = HdlcFrameReader().read(raw)
        with swallowed_exceptions() as caught:
            warm = decoder.decode_message(frame)
            fresh = AutoDecoder().decode_message(frame)
        assert not caught, describe(caught)
        assert warm == fresh
        assert warm is not None
        assert warm.units == fresh.units
        assert not plausibility_errors(warm)
        values += len(warm)
    record("AutoDecoder layout memory vs full parse", valid=len(frames), values=values)


@st.composite
def one_meter_stream(draw: st.DrawFn) -> list[bytes]:
    """Captures of one manufacturer, in any order, repeats allowed."""
    captures = BY_MANUFACTURER[draw(st.sampled_from(sorted(BY_MANUFACTURER)))]
    return draw(st.lists(st.sampled_from(captures), min_size=1, max_size=12))


@fuzz_settings(2)
@given(order=one_meter_stream())
def test_captures_in_any_order(order: list[bytes]) -> None:
    """A manufacturer's captures, in any order through one decoder, decode as each alone."""
    from custom_components.han_meter.amshan.dlde import ModeDReader

    decoder = AutoDecoder()
    for raw in order:
        message: Any = (
            ModeDReader().read(raw + b"\r\n")[0]
            if raw[:1] == b"/"
            else HdlcFrameReader().read(raw)[0]
        )
        reading = decoder.decode_message(message)
        assert reading == EXPECTED[raw]
        assert getattr(reading, "units", None) == getattr(EXPECTED[raw], "units", None)
    record("AutoDecoder captures in any order", valid=len(order))
