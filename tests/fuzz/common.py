"""What the fuzzers share: settings profiles, corpora, strategies, checks and the report.

Two profiles: ``suite`` (the default, part of scripts/test: few examples, derandomized
so every run tries the same inputs) and ``long`` (``HYPOTHESIS_PROFILE=long``, run by
scripts/fuzz: many more examples, random each run). ``HAN_FUZZ_EXAMPLES`` overrides the
base number of examples of either profile; each target scales it by its weight.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import (
    build_hdlc_frame,
    build_meter_frame,
    build_obis_list_frame,
    build_p1_readout,
)
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.mbus import MbusFrameReader
from custom_components.han_meter.amshan.obis_map import (
    KEY_UNITS,
    METER_DATETIME,
    POWER_FACTOR_KEYS,
    TEXT_KEYS,
)
from custom_components.han_meter.amshan.reading import MeterReading
from tests.conftest import VECTORS

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "suite")
if PROFILE not in ("suite", "long"):
    PROFILE = "suite"
BASE_EXAMPLES = int(os.environ.get("HAN_FUZZ_EXAMPLES", "0")) or (2000 if PROFILE == "long" else 40)
_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
    HealthCheck.function_scoped_fixture,
]
settings.register_profile(
    "han-fuzz-suite",
    max_examples=BASE_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    print_blob=False,
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "han-fuzz-long",
    max_examples=BASE_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=_HEALTH,
)


def fuzz_settings(weight: float = 1.0) -> settings:
    """The settings of the active profile, with ``weight`` times its examples."""
    base = settings.get_profile(f"han-fuzz-{PROFILE}")
    return settings(base, max_examples=max(1, round(BASE_EXAMPLES * weight)))


# The report: what every target tried and found (printed by conftest.py).
STATS: defaultdict[str, Counter[str]] = defaultdict(Counter)


def record(target: str, **counts: int) -> None:
    """Count one example of ``target`` and what it saw."""
    stats = STATS[target]
    stats["examples"] += 1
    stats.update({name: value for name, value in counts.items() if value})


# Corpora: the real captures of tests/fixtures/vectors, plus simulator-style frames.


def _split_hdlc(raw: bytes) -> list[bytes]:
    return [frame.as_bytes for frame in HdlcFrameReader().read(raw) if frame.is_valid]


def _hdlc_frames() -> list[bytes]:
    frames: list[bytes] = []
    for vector in VECTORS:
        if vector.kind == "hdlc-frame" and vector.valid:
            frames += _split_hdlc(vector.raw)
        elif vector.kind == "dlms-apdu" and vector.valid:
            frames.append(build_hdlc_frame(vector.raw))
    when = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    phases = {"current_l1": 1.5, "current_l2": 2.0, "voltage_l1": 230.1, "voltage_l2": 229.9}
    for meter in ("aidon", "kaifa", "kamstrup"):
        frames.append(build_meter_frame(meter, {"active_power_import": 1234}, timestamp=when))
        frames.append(
            build_meter_frame(
                meter,
                {"active_power_import": 1500, "active_power_export": 10, **phases},
                timestamp=when,
            )
        )
        frames.append(
            build_meter_frame(
                meter,
                {
                    "active_power_import": 900,
                    "active_power_import_total": 12_345_670,
                    "meter_datetime": when,
                },
                timestamp=when,
            )
        )
    frames.append(
        build_obis_list_frame(
            {"active_power_import": 2000, "power_factor": 0.95, "voltage_l1": 231.0},
            timestamp=when,
        )
    )
    return frames


HDLC_FRAMES: tuple[bytes, ...] = tuple(_hdlc_frames())
P1_TELEGRAMS: tuple[bytes, ...] = (
    *(v.raw[v.raw.index(b"/") :] for v in VECTORS if v.kind == "p1" and v.valid and v.crc_ok),
    build_p1_readout({"active_power_import": 1011, "active_power_import_total": 5_000_000}),
    build_p1_readout(
        {"active_power_import": 300, "voltage_l1": 231.5, "current_l1": 1.5},
        timestamp=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
    ),
)
P1_WITHOUT_CRC: tuple[bytes, ...] = tuple(
    v.raw[v.raw.index(b"/") :] for v in VECTORS if v.kind == "p1" and v.valid and not v.crc_ok
)
MBUS_FRAMES: tuple[bytes, ...] = tuple(
    frame.as_bytes
    for v in VECTORS
    if v.raw[:1] == b"\x68"
    for frame in MbusFrameReader().read(v.raw)
    if frame.is_valid
)
CONTENTS: tuple[bytes, ...] = tuple(v.raw for v in VECTORS if v.kind == "dlms-apdu" and v.valid)
ENCRYPTED = tuple(v for v in VECTORS if v.kind == "dlms-encrypted" and v.keys and v.decodes)


def expected_reading(frame: bytes) -> MeterReading | None:
    """The reading of one whole frame or telegram, by a fresh decoder."""
    decoder = AutoDecoder()
    if frame[:1] == b"/":
        from custom_components.han_meter.amshan.dlde import ModeDReader

        readouts = ModeDReader().read(frame + b"\r\n")
        return decoder.decode_message(readouts[0]) if readouts else None
    frames = HdlcFrameReader().read(frame)
    return decoder.decode_message(frames[0]) if frames else None


EXPECTED: dict[bytes, MeterReading | None] = {
    frame: expected_reading(frame) for frame in (*HDLC_FRAMES, *P1_TELEGRAMS)
}


def _manufacturer(raw: bytes) -> str:
    reading = EXPECTED[raw]
    return str((reading or {}).get("meter_manufacturer", "Aidon" if raw[:1] == b"~" else "p1"))


# The captures of each manufacturer: what one meter's stream can hold. (Frames of
# different meters through one decoder: see test_known_bugs.py.)
BY_MANUFACTURER: dict[str, list[bytes]] = {}
for _capture in (*HDLC_FRAMES, *P1_TELEGRAMS):
    BY_MANUFACTURER.setdefault(_manufacturer(_capture), []).append(_capture)


# Physical ranges a published value must respect, by unit (independent of the library's
# own table on purpose).
LIMITS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("W", "var", "VA"), (-1e6, 1e6)),
    **dict.fromkeys(("Wh", "varh", "VAh"), (0.0, 1e15)),
    "V": (0.0, 1000.0),
    "A": (-1e4, 1e4),
}


def plausibility_errors(reading: object) -> list[str]:
    """Why ``reading`` is not a well-formed reading (empty list: it is)."""
    if reading is None:
        return []
    if not isinstance(reading, MeterReading):
        return [f"not a MeterReading: {type(reading).__name__}"]
    if not reading:
        return ["empty reading (None expected)"]
    errors = [f"unit of a missing value: {key}" for key in reading.units if key not in reading]
    for key, value in reading.items():
        if key in TEXT_KEYS:
            if not isinstance(value, str):
                errors.append(f"wrong type: {key} is {value!r}, not text")
            continue
        if key == METER_DATETIME:
            if not isinstance(value, datetime):
                errors.append(f"wrong type: {key} is {value!r}, not a datetime")
            continue
        numeric = type(value) is int or type(value) is float
        unit = KEY_UNITS.get(key) or reading.units.get(key)
        if key in KEY_UNITS and reading.units.get(key, unit) != unit:
            errors.append(f"{key} in {reading.units[key]}, not {unit}")
        if key in KEY_UNITS or key in POWER_FACTOR_KEYS or unit in LIMITS:
            if not numeric:
                errors.append(f"wrong type: {key} ({unit}) is {value!r}, not a number")
                continue
            if not math.isfinite(value):
                errors.append(f"{key} is {value!r}")
                continue
        elif not isinstance(value, int | float | str | datetime) or isinstance(value, bool):
            errors.append(f"{key} is {value!r} ({type(value).__name__})")
            continue
        elif type(value) is float and not math.isfinite(value):
            errors.append(f"not finite: {key} is {value!r}")
            continue
        if numeric and key in POWER_FACTOR_KEYS and not -1 <= value <= 1:
            errors.append(f"{key} = {value!r} outside -1..1")
        limits = LIMITS.get(unit or "")
        if numeric and limits is not None and not limits[0] <= value <= limits[1]:
            errors.append(f"{key} = {value!r} {unit} outside {limits}")
    return errors


# Bugs reported to the library's owners, each reproduced exactly by a strict xfail test in
# test_known_bugs.py. The fuzzers count their hits (column "known") instead of failing;
# remove a prefix here once its bug is fixed.
KNOWN_BUGS: tuple[str, ...] = ()


def implausible(reading: object, target: str) -> list[str]:
    """The problems of ``reading`` apart from known bugs (which are counted for ``target``)."""
    errors = plausibility_errors(reading)
    known = [error for error in errors if error.startswith(KNOWN_BUGS)]
    if known:
        STATS[target]["known"] += len(known)
    return [error for error in errors if not error.startswith(KNOWN_BUGS)]


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def swallowed_exceptions() -> Iterator[list[logging.LogRecord]]:
    """Records with a traceback logged by the integration's loggers meanwhile.

    The decoders catch everything at their boundary and log it at debug level; an
    exception caught there is still a bug (an index error, a type error) that this
    makes visible. Records are kept off the root logger (no memory growth in long runs).
    """
    logger = logging.getLogger("custom_components.han_meter")
    recorder = _Recorder()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    found: list[logging.LogRecord] = []
    try:
        yield found
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)
        logger.propagate = propagate
        found.extend(record for record in recorder.records if record.exc_info)


def describe(records: Sequence[logging.LogRecord]) -> str:
    """The exceptions of log records, for an assertion message."""
    return "; ".join(
        f"{record.getMessage()}: {record.exc_info[1]!r}" for record in records if record.exc_info
    )


# Strategies


def chunks(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates allowed)."""
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


CUTS = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=24)


def flip_bits(data: bytes, positions: Sequence[int]) -> bytes:
    """``data`` with the bits at ``positions`` (modulo its size) flipped, each once."""
    mutable = bytearray(data)
    for position in {position % (len(data) * 8) for position in positions}:
        mutable[position // 8] ^= 1 << (position % 8)
    return bytes(mutable)


@st.composite
def axdr_data(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One A-XDR Data value of any type, meter-like most of the time."""
    kinds = ["int", "text", "octets", "null", "float", "bool", "datetime", "obis_element"]
    if depth < 3:
        kinds += ["array", "structure"]
    kind = draw(st.sampled_from(kinds))
    if kind == "null":
        return b"\x00"
    if kind == "bool":
        return bytes((3, draw(st.integers(0, 255))))
    if kind == "int":
        tag, size, signed = draw(
            st.sampled_from(
                [
                    (0x05, 4, True),
                    (0x06, 4, False),
                    (0x0F, 1, True),
                    (0x10, 2, True),
                    (0x11, 1, False),
                    (0x12, 2, False),
                    (0x14, 8, True),
                    (0x15, 8, False),
                    (0x16, 1, False),
                ]
            )
        )
        bits = size * 8
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        value = draw(st.integers(low, high))
        return bytes((tag,)) + value.to_bytes(size, "big", signed=signed)
    if kind == "float":
        tag, size = draw(st.sampled_from([(0x17, 4), (0x18, 8)]))
        return bytes((tag,)) + draw(st.binary(min_size=size, max_size=size))
    if kind == "text":
        text = draw(st.binary(max_size=40))
        return b"\x0a" + _length(len(text)) + text
    if kind == "octets":
        octets = draw(st.binary(max_size=40))
        return b"\x09" + _length(len(octets)) + octets
    if kind == "datetime":
        return b"\x09\x0c" + draw(_cosem_datetime())
    if kind == "obis_element":
        return draw(obis_element())
    elements = draw(st.lists(axdr_data(depth + 1), max_size=6 if depth else 30))
    tag = b"\x01" if kind == "array" else b"\x02"
    return tag + _length(len(elements)) + b"".join(elements)


def _length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


@st.composite
def _cosem_datetime(draw: st.DrawFn) -> bytes:
    fields = draw(
        st.tuples(
            st.one_of(st.integers(2000, 2100), st.integers(0, 0xFFFF)),
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(0, 0xFF),
            st.integers(-0x8000, 0x7FFF),
            st.integers(0, 0xFF),
        )
    )
    year, *rest, deviation, status = fields
    return (
        year.to_bytes(2, "big")
        + bytes(rest)
        + deviation.to_bytes(2, "big", signed=True)
        + bytes((status,))
    )


def _known_codes() -> list[tuple[int, int, int]]:
    from custom_components.han_meter.amshan.obis_map import OBIS_KEYS

    return sorted(OBIS_KEYS)


OBIS_CDE = st.one_of(
    st.sampled_from(_known_codes()),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
)


@st.composite
def obis_code(draw: st.DrawFn) -> bytes:
    """A 6-byte OBIS code, mostly one the library knows."""
    a = draw(st.sampled_from([0, 1, 1, 1, 7]))
    b = draw(st.sampled_from([0, 0, 1, 2]))
    c, d, e = draw(OBIS_CDE)
    f = draw(st.sampled_from([255, 255, 255, 0]))
    return bytes((a, b, c, d, e, f))


@st.composite
def obis_element(draw: st.DrawFn) -> bytes:
    """``{code, value[, {scaler, unit}]}``, the layout most meters use, with any value."""
    code = b"\x09\x06" + draw(obis_code())
    value = draw(axdr_data(depth=3))
    parts = [code, value]
    if draw(st.booleans()):
        scaler = draw(st.integers(-128, 127))
        unit = draw(st.sampled_from([27, 28, 29, 30, 31, 32, 33, 35, 44, 255, 0]))
        parts.append(
            b"\x02\x02\x0f" + scaler.to_bytes(1, "big", signed=True) + b"\x16" + bytes((unit,))
        )
    return b"\x02" + _length(len(parts)) + b"".join(parts)


@st.composite
def meter_like_body(draw: st.DrawFn) -> bytes:
    """A body in one of the layouts meters use, with random codes, types and values."""
    layout = draw(st.sampled_from(["structures", "pairs", "positional", "any"]))
    if layout == "any":
        return draw(axdr_data())
    if layout == "structures":  # Aidon: {code, value[, {scaler, unit}]}
        elements = draw(st.lists(obis_element(), min_size=1, max_size=30))
    elif layout == "pairs":  # Kamstrup, Kaifa SE: code, value[, {scaler, unit}] flat
        elements = []
        if draw(st.booleans()):
            version = draw(st.sampled_from([b"Kamstrup_V0001", b"KFM_001", b"AIDON_V0001"]))
            elements.append(b"\x0a" + _length(len(version)) + version)
        for _ in range(draw(st.integers(1, 30))):
            elements.append(b"\x09\x06" + draw(obis_code()))
            elements.append(draw(axdr_data(depth=3)))
    else:  # Kaifa NO, Austrian pushes: values by position
        scalar = axdr_data(depth=3)
        elements = draw(st.lists(scalar, min_size=1, max_size=20))
    tag = draw(st.sampled_from([b"\x01", b"\x02"]))
    return tag + _length(len(elements)) + b"".join(elements)


@st.composite
def notification(draw: st.DrawFn) -> bytes:
    """LLC + DATA-NOTIFICATION with a random body (sometimes a broken header)."""
    body = draw(meter_like_body())
    clock = draw(st.sampled_from([b"\x00", b"\x09\x0c", b"\x0c"]))
    if clock != b"\x00":
        clock += draw(_cosem_datetime())
    invoke = draw(st.binary(min_size=4, max_size=4))
    llc = draw(st.sampled_from([b"\xe6\xe7\x00", b""]))
    return llc + b"\x0f" + invoke + clock + body
