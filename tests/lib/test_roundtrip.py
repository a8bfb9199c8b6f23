"""Round trip: random plausible values -> builder -> stream reader -> AutoDecoder -> same values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.builder import (
    build_meter_frame,
    build_obis_list_frame,
    build_p1_readout,
)
from custom_components.han_meter.amshan.obis_map import OBIS_KEYS, TEXT_KEYS

hdlc = pytest.importorskip("custom_components.han_meter.amshan.hdlc")
dlde = pytest.importorskip("custom_components.han_meter.amshan.dlde")
autodecoder = pytest.importorskip("custom_components.han_meter.amshan.autodecoder")

pytestmark = pytest.mark.slow
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POWERS: tuple[str, ...] = ("active_power_import", "active_power_export")
POWERS += ("reactive_power_import", "reactive_power_export")
ENERGIES = tuple(f"{key}_total" for key in POWERS)
# Resolution of currents, voltages and energies as a power of ten, per meter.
RESOLUTION = {
    "aidon": {"current": -1, "voltage": -1, "total": 1},
    "kaifa": {"current": -3, "voltage": -1, "total": 0},
    "kamstrup": {"current": -2, "voltage": 0, "total": 1},
    "p1": {"current": -1, "voltage": -1, "total": 0, "power_factor": -3},
    "obis": {"current": -2, "voltage": -1, "total": 0, "power_factor": -3},
}
MANUFACTURERS = {"aidon": "Aidon", "kaifa": "Kaifa", "kamstrup": "Kamstrup"}
ZONES = [None, ZoneInfo("Europe/Oslo"), ZoneInfo("UTC"), timezone(timedelta(hours=-3))]


def on_grid(raw: int, exponent: int) -> int | float:
    """raw x 10^exponent as the decoders return it (the closest float, int when whole)."""
    if exponent >= 0:
        return raw * int(10**exponent)
    divisor: int = 10**-exponent
    quotient, remainder = divmod(raw, divisor)
    return quotient if remainder == 0 else raw / divisor


def number(meter: str, key: str, high: int) -> st.SearchStrategy[int | float]:
    """A value of ``key`` exactly on the meter's grid, below ``high`` in the key's unit."""
    exponent = next((e for q, e in RESOLUTION[meter].items() if q in key), 0)
    top = high // 10**exponent if exponent >= 0 else high * 10**-exponent
    low = -top if meter in ("aidon", "obis") and key.startswith("current") else 0
    return st.integers(low, top).map(lambda raw: on_grid(raw, exponent))


def clock() -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(2000, 1, 2),
        max_value=datetime(2099, 12, 30),
        timezones=st.sampled_from(ZONES),
        allow_imaginary=False,
    ).map(lambda value: value.replace(microsecond=0))


@st.composite
def meter_values(draw: st.DrawFn, meter: str) -> dict[str, Any]:
    """Values for one list of ``meter``: list 1, 2 or 3, 1 or 3 phases."""
    list_number = draw(st.sampled_from([1, 2, 3]))
    values: dict[str, Any] = {"active_power_import": draw(number(meter, "power", 60_000))}
    if list_number == 1:
        return values
    phases = (1, 2, 3) if draw(st.booleans()) else (1,)
    values["meter_id"] = draw(st.text("0123456789", min_size=16, max_size=16))
    for key in POWERS[1:]:
        values[key] = draw(number(meter, key, 60_000))
    for phase in phases:
        values[f"current_l{phase}"] = draw(number(meter, "current", 100))
        values[f"voltage_l{phase}"] = draw(number(meter, "voltage", 260))
    if list_number == 3:
        for key in ENERGIES:
            values[key] = draw(number(meter, key, 400_000_000))
        values["meter_datetime"] = draw(clock())
    return values


def decode_hdlc(data: bytes) -> tuple[Any, str | None]:
    frames = hdlc.HdlcFrameReader().read(data)
    assert len(frames) == 1
    assert frames[0].is_valid
    decoder = autodecoder.AutoDecoder()
    return decoder.decode_message(frames[0]), decoder.decoder_name


def check_clock(meter: str, sent: datetime, got: Any) -> None:
    """Aidon and P1 keep the UTC offset; Kaifa and Kamstrup send local wall time only."""
    assert isinstance(got, datetime)
    assert got.replace(tzinfo=None) == sent.replace(tzinfo=None)
    if meter in ("aidon", "obis"):
        assert got.utcoffset() == sent.utcoffset()
    elif meter == "p1":
        if got.tzinfo is not None and sent.tzinfo == ZoneInfo("Europe/Oslo"):
            assert got.utcoffset() == sent.utcoffset()  # the W/S flag tells the offset
    else:
        assert got.tzinfo is None


def check_values(meter: str, sent: dict[str, Any], reading: Any) -> None:
    assert reading is not None, "the decoder returned None"
    for key, value in sent.items():
        assert key in reading, f"{key} missing from {dict(reading)}"
        if key == "meter_datetime":
            check_clock(meter, value, reading[key])
        else:
            assert reading[key] == value, f"{key}: sent {value!r}, decoded {reading[key]!r}"
    if meter in MANUFACTURERS and "meter_manufacturer" in reading:
        assert reading["meter_manufacturer"] == MANUFACTURERS[meter]


@pytest.mark.parametrize("meter", ["aidon", "kaifa", "kamstrup"])
@SETTINGS
@given(data=st.data())
def test_meter_frame_round_trip(meter: str, data: st.DataObject) -> None:
    values = data.draw(meter_values(meter))
    stamp = data.draw(st.none() | clock())
    frame = build_meter_frame(meter, values, timestamp=stamp)
    reading, name = decode_hdlc(frame)
    check_values(meter, values, reading)
    assert name == meter


@pytest.mark.parametrize("meter", ["aidon", "kaifa", "kamstrup"])
@SETTINGS
@given(data=st.data())
def test_values_off_the_grid_decode_within_half_a_step(meter: str, data: st.DataObject) -> None:
    """Values between two steps of the meter's resolution are rounded to the nearest."""
    phases = (1, 2, 3) if meter != "aidon" else (1, 3)
    values: dict[str, Any] = {}
    for phase in phases:
        values[f"current_l{phase}"] = data.draw(st.floats(0, 100))
        values[f"voltage_l{phase}"] = data.draw(st.floats(0, 260))
    reading, _ = decode_hdlc(build_meter_frame(meter, values))
    assert reading is not None
    for key, value in values.items():
        step = 10.0 ** next(e for q, e in RESOLUTION[meter].items() if q in key)
        assert abs(reading[key] - value) <= step / 2 + 1e-9, key


P1_PHASED: tuple[str, ...] = ("voltage", "current", "active_power_import", "active_power_export")
P1_PHASED += ("reactive_power_import", "reactive_power_export", "power_factor")


@st.composite
def p1_values(draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, Any] = {}
    keys = [*POWERS, *ENERGIES, "power_factor"]
    keys += [f"{key}_t{tariff}" for key in ENERGIES[:2] for tariff in (1, 2)]
    keys += [f"{key}_l{phase}" for key in P1_PHASED for phase in (1, 2, 3)]
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, unique=True)):
        high = 1 if key.startswith("power_factor") else 1_000_000  # the decoder's plausible max
        high = 999 if key.startswith(("voltage", "current")) else high
        high = 999_999_999 if "total" in key else high
        values[key] = draw(number("p1", key, high))
    if draw(st.booleans()):
        # Real ids start with a manufacturer prefix; the P1 decoder reads an id that is
        # hex-encoded printable ASCII (DSMR style) as that text, e.g. "3131313131313131".
        prefix = draw(st.sampled_from(["7359992", "6970631", "5706567"]))
        values["meter_id"] = prefix + draw(st.text("0123456789", min_size=9, max_size=9))
    if draw(st.booleans()):
        values["meter_datetime"] = draw(clock())
    return values


@SETTINGS
@given(values=p1_values(), with_crc=st.booleans())
def test_p1_round_trip(values: dict[str, Any], with_crc: bool) -> None:
    telegram = build_p1_readout(values, with_crc=with_crc)
    readouts = dlde.ModeDReader().read(telegram)
    assert len(readouts) == 1
    assert readouts[0].is_valid
    assert readouts[0].is_good_crc is (True if with_crc else None)
    decoder = autodecoder.AutoDecoder()
    reading = decoder.decode_message(readouts[0])
    check_values("p1", values, reading)
    assert reading["meter_manufacturer"] == "ELL"
    assert decoder.decoder_name == "p1"


@st.composite
def obis_list_values(draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(sorted(set(OBIS_KEYS.values()))), min_size=1)):
        if key in TEXT_KEYS:
            values[key] = draw(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_", min_size=1))
        elif key == "meter_datetime":
            values[key] = draw(clock())
        else:
            high = 1 if key.startswith("power_factor") else 1_000_000
            high = 300 if key.startswith(("current", "voltage")) else high
            high = 1_000_000_000 if "total" in key else high
            values[key] = draw(number("obis", key, high))
    return values


@SETTINGS
@given(values=obis_list_values(), stamp=st.none() | clock())
def test_obis_list_round_trip(values: dict[str, Any], stamp: datetime | None) -> None:
    reading, name = decode_hdlc(build_obis_list_frame(values, timestamp=stamp))
    check_values("obis", values, reading)
    assert name in ("aidon", "obis_list")
