"""Meter layouts (Aidon, Kamstrup, Kaifa, OBIS lists, P1), the OBIS map and value helpers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from custom_components.han_meter.amshan import aidon, kaifa, kamstrup, obis_list, p1
from custom_components.han_meter.amshan.axdr import DateTimeOctets
from custom_components.han_meter.amshan.cosem import (
    DataNotification,
    decode_data_notification,
    strip_llc,
)
from custom_components.han_meter.amshan.dlde import DataReadout, DataSet, DataValue, ModeDReader
from custom_components.han_meter.amshan.obis_map import (
    ACTIVE_POWER_IMPORT,
    KEY_UNITS,
    OBIS_KEYS,
    CodeInfo,
    code_info,
    implied_quantity,
    obis_text,
    obis_to_key,
)
from custom_components.han_meter.amshan.reading import (
    CLOCK_SOURCE,
    HEADER_CLOCK_PATH,
    NUMBER_SOURCE,
    Bindings,
    MeterReading,
    scaled,
    text_of,
)
from tests.conftest import VECTORS

CLOCK = bytes.fromhex("07e40119060d091eff800000")
CLOCK_TIME = datetime(2020, 1, 25, 13, 9, 30)
HEADER_TIME = datetime(2021, 1, 1, 12, 0)
CET = timezone(timedelta(hours=1))


def code(c: int, d: int, e: int, a: int = 1, b: int = 0, f: int = 255) -> bytes:
    return bytes((a, b, c, d, e, f))


def notify(body: Any, timestamp: datetime | None = None, bind: bool = False) -> DataNotification:
    return DataNotification(0, timestamp, body, 0, None, Bindings() if bind else None)


def vector_notification(vector_id: str) -> DataNotification:
    vector = next(v for v in VECTORS if v.id == vector_id)
    raw = vector.raw
    if vector.kind == "hdlc-frame":
        raw = raw[raw.index(b"\xe6\xe7\x00") : -3]
    return decode_data_notification(strip_llc(raw))


# --- obis_map and reading -----------------------------------------------------------------


def test_obis_keys_and_units() -> None:
    assert OBIS_KEYS[(1, 7, 0)] == ACTIVE_POWER_IMPORT
    assert KEY_UNITS["current_l1"] == "A"
    assert KEY_UNITS["reactive_power_export_total"] == "varh"
    assert "power_factor" not in KEY_UNITS
    assert "meter_id" not in KEY_UNITS


@pytest.mark.parametrize(
    ("obis", "key"),
    [
        ((1, 0, 1, 7, 0), "active_power_import"),
        ((1, 1, 31, 7, 0), "current_l1"),
        ((0, 0, 96, 1, 0), "meter_id"),
        ((1, 0, 1, 8, 3), "1-0:1.8.3"),
        ((7, 0, 1, 7, 0), "7-0:1.7.0"),
    ],
)
def test_obis_to_key(obis: tuple[int, int, int, int, int], key: str) -> None:
    assert obis_to_key(obis) == key


def test_obis_text() -> None:
    assert obis_text((1, 0, 1, 8, 0)) == "1-0:1.8.0"
    assert obis_text((1, 0, 1, 8, 0, 255)) == "1-0:1.8.0"
    assert obis_text((1, 0, 1, 8, 0, 101)) == "1-0:1.8.0*101"


@pytest.mark.parametrize(
    ("c", "d", "quantity"),
    [
        (1, 7, "W"),
        (63, 7, "var"),
        (9, 7, "VA"),
        (71, 7, "A"),
        (52, 7, "V"),
        (33, 7, "pf"),
        (14, 7, "Hz"),
        (21, 8, "Wh"),
        (4, 8, "varh"),
        (10, 8, "VAh"),
        (31, 8, None),
        (1, 6, "W"),
        (1, 9, None),
        (0, 7, None),
        (96, 7, None),
    ],
)
def test_implied_quantity(c: int, d: int, quantity: str | None) -> None:
    assert implied_quantity(c, d) == quantity


def test_code_info() -> None:
    assert code_info(code(1, 7, 0)) == CodeInfo("active_power_import", "W")
    assert code_info(code(0, 2, 129, b=1)) == CodeInfo("list_ver_id", "text")
    assert code_info(code(1, 0, 0, a=0)) == CodeInfo("meter_datetime", "clock")
    assert code_info(code(1, 8, 3)) == CodeInfo("1-0:1.8.3", "Wh")
    assert code_info(code(1, 8, 0, f=101)) == CodeInfo("1-0:1.8.0*101", "Wh")
    assert code_info(code(1, 8, 0, b=2)) == CodeInfo("active_power_import_total", "Wh")
    assert code_info(code(24, 2, 1, a=0, b=1)) == CodeInfo("0-1:24.2.1", None)


@pytest.mark.parametrize(
    ("raw", "exponent", "expected"),
    [
        (2274, -1, 227.4),
        (2270, -1, 227),
        (106, -2, 1.06),
        (-10, -1, -1),
        (-15, -1, -1.5),
        (9406459, 1, 94064590),
        (5, 0, 5),
        (1.5, 1, 15),
        (1.25, -1, 0.125),
        (3.0, 0, 3),
    ],
)
def test_scaled_is_exact(raw: float, exponent: int, expected: float) -> None:
    value = scaled(raw, exponent)
    assert value == expected
    assert type(value) is type(expected)


def test_text_of() -> None:
    assert text_of("abc") == "abc"
    assert text_of(b"KFM_001") == "KFM_001"
    assert text_of(b"\x01\x02") == "0102"
    assert text_of(b"\xe9") == "e9"
    assert text_of(12) == "12"


def test_meter_reading_is_a_dict_with_units() -> None:
    reading = MeterReading({"voltage_l1": 230}, units={"voltage_l1": "V"})
    assert reading == {"voltage_l1": 230}
    assert reading.units == {"voltage_l1": "V"}
    assert "units={'voltage_l1': 'V'}" in repr(reading)
    assert MeterReading().units == {}


def test_bindings_record_and_clear() -> None:
    bindings = Bindings()
    bindings.bind("a", (1,), NUMBER_SOURCE, -1)
    bindings.bind("a", (2,), NUMBER_SOURCE)
    bindings.ignore((3,))
    assert bindings.sources == {"a": ((2,), NUMBER_SOURCE, 0)}
    bindings.unbind("a")
    bindings.unbind("missing")
    assert bindings.sources == {}
    bindings.clear()
    assert bindings.ignored == []


# --- Aidon --------------------------------------------------------------------------------


def test_aidon_list_2_three_phase() -> None:
    reading = aidon.decode(vector_notification("amshan_aidon_no_list2"))
    assert reading is not None
    assert reading["voltage_l1"] == 227.4
    assert reading["current_l3"] == 0.9
    assert "current_l2" not in reading  # 3-wire meter: no L2 current
    assert reading["meter_manufacturer"] == "Aidon"
    assert reading.units["voltage_l1"] == "V"
    assert reading.units["reactive_power_export"] == "var"
    assert "meter_datetime" not in reading  # no clock in list 2, no APDU date-time


def test_aidon_list_2_one_phase() -> None:
    reading = aidon.decode(vector_notification("dlmsparser_aidon_6515_1ph_list2"))
    assert reading is not None
    assert (reading["current_l1"], reading["voltage_l1"]) == (9.3, 250)
    assert not any(key.endswith(("_l2", "_l3")) for key in reading)


def test_aidon_list_3_energy_scaler_and_clock() -> None:
    reading = aidon.decode(vector_notification("amshan_aidon_no_list3"))
    assert reading is not None
    assert reading["active_power_import_total"] == 22721380
    assert reading.units["active_power_import_total"] == "Wh"
    assert reading["meter_datetime"].replace(tzinfo=None) == datetime(2020, 1, 21, 16)


def test_aidon_swedish_list_with_negative_current() -> None:
    reading = aidon.decode(vector_notification("hassams_aidon_se_3ph"))
    assert reading is not None
    assert reading["current_l1"] == -1
    assert reading["active_power_export_l1"] == 39
    assert "meter_manufacturer" not in reading  # no list version in the Swedish list
    assert len([k for k in reading if k != "meter_datetime"]) == 26


def test_aidon_list_1_body() -> None:
    body = [[code(1, 7, 0), 2784, [0, 27]]]
    assert aidon.decode(notify(body)) == {"active_power_import": 2784}


def test_aidon_unknown_codes_keep_their_unit_and_power_factor_is_float() -> None:
    body = [
        [code(1, 8, 3), 12, [1, 30]],
        [code(14, 7, 0), 4998, [-2, 44]],
        [code(13, 7, 0), 981, [-3, 255]],
        [code(99, 1, 0), 5, [0, 255]],
        [code(1, 7, 0), 5, ["x", 27]],  # a broken scaler: the value is skipped
        [code(2, 7, 0), None, [0, 27]],
        [code(0, 2, 129), "AIDON_V0001"],
        [code(1, 0, 0, a=0), CLOCK],
    ]
    reading = aidon.decode(notify(body, HEADER_TIME))
    assert reading == {
        "1-0:1.8.3": 120,
        "1-0:14.7.0": 49.98,
        "power_factor": 0.981,
        "1-0:99.1.0": 5,
        "list_ver_id": "AIDON_V0001",
        "meter_datetime": CLOCK_TIME,
        "meter_manufacturer": "Aidon",
    }
    assert type(reading["power_factor"]) is float
    assert reading.units == {"1-0:1.8.3": "Wh", "1-0:14.7.0": "Hz"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([], id="empty"),
        pytest.param(b"x", id="not-a-list"),
        pytest.param([[code(1, 7, 0), 1], 5], id="not-all-structures"),
        pytest.param([[b"short", 1]], id="no-code"),
        pytest.param([[]], id="empty-structure"),
    ],
)
def test_aidon_refuses_other_layouts(body: Any) -> None:
    assert aidon.decode(notify(body)) is None


# --- Kamstrup -----------------------------------------------------------------------------


def test_kamstrup_one_phase_null_padding() -> None:
    reading = kamstrup.decode(vector_notification("amshan_kamstrup_no_list1_1ph_real"))
    assert reading is not None
    assert reading["current_l1"] == 8.96
    assert reading["voltage_l1"] == 225
    assert "current_l2" not in reading
    assert "voltage_l3" not in reading
    assert reading["meter_datetime"] == datetime(2022, 1, 17, 12, 44, 40)


def test_kamstrup_energy_in_10_wh_and_clock_from_the_list() -> None:
    reading = kamstrup.decode(vector_notification("hassams_kamstrup_list2_hourly_3ph"))
    assert reading is not None
    assert reading["active_power_import_total"] == 155232510
    assert reading.units["active_power_import_total"] == "Wh"
    assert reading["meter_datetime"] == datetime(2022, 11, 26, 15, 0, 5)


def test_kamstrup_recognised_by_its_codes_and_power_factor_scaling() -> None:
    body = [
        "OtherName",
        code(13, 7, 0, b=1),
        83,
        code(31, 7, 0, b=1),
        57,
        code(21, 8, 0, b=1),
        12,
    ]
    reading = kamstrup.decode(notify(body))
    assert reading == {
        "list_ver_id": "OtherName",
        "power_factor": 0.83,
        "current_l1": 0.57,
        "1-1:21.8.0": 120,
        "meter_manufacturer": "Kamstrup",
    }


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(["Kamstrup_V0001", code(1, 7, 0)], id="too-short"),
        pytest.param([code(1, 7, 0), 5, code(2, 7, 0), 0], id="no-version"),
        pytest.param(["Other", code(1, 7, 0), 5], id="other-version-and-a-b"),
        pytest.param(["Other", 5, 6], id="other-version-no-code"),
        pytest.param("Kamstrup", id="not-a-list"),
    ],
)
def test_kamstrup_refuses_other_layouts(body: Any) -> None:
    assert kamstrup.decode(notify(body)) is None


# --- Kaifa value lists --------------------------------------------------------------------

IDENTITY = [b"KFM_001", b"6970631403275928", b"MA304H3E"]
POWERS = [4097, 0, 195, 0]


def test_kaifa_list_1() -> None:
    assert kaifa.decode(notify([1415], HEADER_TIME)) == {
        "active_power_import": 1415,
        "meter_datetime": HEADER_TIME,
    }


def test_kaifa_list_2_one_phase() -> None:
    reading = kaifa.decode(notify([*IDENTITY, *POWERS, 1683, 2408]))
    assert reading is not None
    assert (reading["current_l1"], reading["voltage_l1"]) == (1.683, 240.8)
    assert reading["meter_manufacturer"] == "Kaifa"
    assert reading["meter_id"] == "6970631403275928"
    assert reading.units["current_l1"] == "A"


def test_kaifa_list_2_three_phase() -> None:
    reading = kaifa.decode(vector_notification("amshan_kaifa_no_list2"))
    assert reading is not None
    assert reading["current_l2"] == 28.103
    assert reading["voltage_l2"] == 0
    assert reading["meter_datetime"] == datetime(2020, 1, 25, 13, 9, 30)


def test_kaifa_list_3_one_phase_uses_its_own_clock() -> None:
    body = [*IDENTITY, *POWERS, 1683, 2408, CLOCK, 1000, 2000, 3000, 4000]
    reading = kaifa.decode(notify(body, HEADER_TIME))
    assert reading is not None
    assert reading["meter_datetime"] == CLOCK_TIME
    assert reading["reactive_power_export_total"] == 4000
    assert reading.units["reactive_power_export_total"] == "varh"


def test_kaifa_list_3_three_phase() -> None:
    reading = kaifa.decode(vector_notification("amshan_kaifa_no_list3"))
    assert reading is not None
    assert reading["active_power_import_total"] == 79591144
    assert reading["meter_datetime"] == datetime(2020, 1, 25, 14, 0, 10)


def test_kaifa_list_3_with_an_unspecified_clock_falls_back_to_the_header() -> None:
    body = [*IDENTITY, *POWERS, 1, 2, bytes(12), 1, 2, 3, 4]
    reading = kaifa.decode(notify(body, HEADER_TIME))
    assert reading is not None
    assert reading["meter_datetime"] == HEADER_TIME


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(["1415"], id="list-1-text"),
        pytest.param([*IDENTITY, *POWERS, 1683, "2408"], id="number-is-text"),
        pytest.param([1, *IDENTITY[1:], *POWERS, 1683, 2408], id="text-is-number"),
        pytest.param([*IDENTITY, *POWERS, 1, 2, b"short", 1, 2, 3, 4], id="clock-too-short"),
        pytest.param([1, 2, 3], id="unknown-count"),
        pytest.param(b"x", id="not-a-list"),
    ],
)
def test_kaifa_refuses_other_layouts(body: Any) -> None:
    assert kaifa.decode(notify(body)) is None


def test_kaifa_records_bindings() -> None:
    body = [*IDENTITY, *POWERS, 1683, 2408, CLOCK, 1000, 2000, 3000, 4000]
    notification = notify(body, HEADER_TIME, bind=True)
    assert kaifa.decode(notification) is not None
    assert notification.bindings is not None
    sources = notification.bindings.sources
    assert sources["current_l1"] == ((7,), NUMBER_SOURCE, -3)
    assert sources["meter_datetime"] == ((9,), CLOCK_SOURCE, 0)
    assert "meter_id" not in sources


def test_landis_gyr_burgenland_value_list() -> None:
    body = [236, 237, 237, 0, 4, 26, 29, 0, 31358606, 7619, 400, 64, 295, b"30137181"]
    reading = kaifa.decode_landis_gyr(notify(body, HEADER_TIME, bind=True))
    assert reading is not None
    assert reading["meter_id"] == "30137181"
    assert reading["current_l3"] == 0.26
    assert reading["meter_manufacturer"] == "Landis+Gyr"
    assert reading["meter_datetime"] == HEADER_TIME
    assert kaifa.decode_landis_gyr(notify(body, HEADER_TIME)) == reading
    assert kaifa.decode_landis_gyr(notify(body[:-1])) is None
    assert kaifa.decode_landis_gyr(notify("x")) is None


# --- generic OBIS lists -------------------------------------------------------------------


def test_kaifa_swedish_list_uses_kaifa_scaling() -> None:
    reading = obis_list.decode(vector_notification("amshan_kaifa_se_list"))
    assert reading is not None
    assert reading["current_l1"] == 6.781
    assert reading["voltage_l1"] == 232.2
    assert reading["meter_manufacturer"] == "Kaifa"
    assert reading["meter_datetime"] == datetime(2021, 9, 22, 17, 35, 30, tzinfo=CET)


def test_flat_triples_unlabelled_clock_and_trailing_meter_id() -> None:
    body = [
        CLOCK,
        code(1, 8, 0),
        12937,
        [0, 30],
        code(32, 7, 0),
        2337,
        [-1, 35],
        code(13, 7, 0),
        1000,
        [-3, 255],
        b"181220000009",
    ]
    reading = obis_list.decode(notify(body, HEADER_TIME))
    assert reading == {
        "meter_datetime": CLOCK_TIME,
        "active_power_import_total": 12937,
        "voltage_l1": 233.7,
        "power_factor": 1.0,
        "meter_id": "181220000009",
    }


def test_obis_list_base_units_and_odd_elements() -> None:
    body = [
        b"Version 1",
        code(1, 7, 0),
        1500,
        7,  # an unlabelled number: ignored
        b"\x00\x01",  # unlabelled binary: ignored
        CLOCK,
        code(1, 8, 1),
        2.5,
        code(96, 1, 0, a=0),
        b"ID123",
        code(96, 1, 7, a=0),
        12345,  # a number where a text is expected: skipped
        code(1, 0, 0, a=0),
        42,  # a number where a clock is expected: skipped
        code(99, 98, 0),
        DateTimeOctets(CLOCK),
        code(99, 98, 1),
        bytes(12),  # an unknown code with 12 binary bytes that are no date-time
        code(99, 98, 2),
        True,  # a boolean: skipped
        code(99, 98, 3),
        DateTimeOctets(bytes(12)),  # a date-time tag with an unspecified date: skipped
        [1, 2, 3],  # a structure without a code: skipped
        b"text in the middle",  # an unlabelled text that is not the last element: skipped
        CLOCK,  # a second unlabelled clock: skipped
        code(2, 7, 0),
    ]
    reading = obis_list.decode(notify(body, HEADER_TIME))
    assert reading == {
        "list_ver_id": "Version 1",
        "active_power_import": 1500,
        "meter_datetime": CLOCK_TIME,
        "active_power_import_total_t1": 2.5,
        "meter_id": "ID123",
        "1-0:99.98.0": CLOCK_TIME,
        "1-0:99.98.1": "000000000000000000000000",
    }
    assert reading.units == {"active_power_import": "W", "active_power_import_total_t1": "Wh"}


def test_obis_list_records_bindings() -> None:
    body = [
        b"Version 1",
        code(1, 7, 0),
        1500,
        7,
        code(99, 98, 0),
        DateTimeOctets(CLOCK),
        CLOCK,
        CLOCK,
        code(13, 7, 0),
        981,
        [-3, 255],
    ]
    notification = notify(body, HEADER_TIME, bind=True)
    assert obis_list.decode(notification) is not None
    assert notification.bindings is not None
    assert notification.bindings.sources == {
        "active_power_import": ((2,), NUMBER_SOURCE, 0),
        "1-0:99.98.0": ((5,), CLOCK_SOURCE, 0),
        "meter_datetime": ((6,), CLOCK_SOURCE, 0),
        "power_factor": ((9,), "pf", -3),
    }
    assert notification.bindings.ignored == [(3,), (7,)]


def test_obis_list_text_replacing_a_number_unbinds_it() -> None:
    body = [code(1, 7, 0), 5, code(1, 7, 0), b"n/a"]
    notification = notify(body, bind=True)
    reading = obis_list.decode(notification)
    assert reading == {"active_power_import": "n/a"}
    assert notification.bindings is not None
    assert notification.bindings.sources == {}


def test_obis_list_header_time_and_second_clock_are_bound() -> None:
    notification = notify([code(1, 7, 0), 5, CLOCK, CLOCK], HEADER_TIME, bind=True)
    assert obis_list.decode(notification) is not None
    assert notification.bindings is not None
    assert notification.bindings.sources["meter_datetime"][0] == (2,)
    assert notification.bindings.ignored == [(3,)]
    notification = notify([code(1, 7, 0), 5], HEADER_TIME, bind=True)
    assert obis_list.decode(notification) is not None
    assert notification.bindings is not None
    assert notification.bindings.sources["meter_datetime"][0] == HEADER_CLOCK_PATH


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([b"text", 5], id="no-code"),
        pytest.param([code(1, 7, 0)], id="code-without-value"),
        pytest.param([code(1, 7, 0), None], id="null-value"),
        pytest.param([[code(1, 7, 0), None, [0, 27]]], id="null-in-structure"),
        pytest.param(7, id="not-a-list"),
    ],
)
def test_obis_list_gives_none_without_values(body: Any) -> None:
    assert obis_list.decode(notify(body)) is None


def test_list_version_and_manufacturer_helpers() -> None:
    assert obis_list.list_version_of([[code(0, 2, 129, b=1), "AIDON_V0001"]]) == "AIDON_V0001"
    assert obis_list.list_version_of([code(0, 2, 129), b"KFM_001"]) == "KFM_001"
    assert obis_list.list_version_of([code(0, 2, 129)]) is None
    assert obis_list.list_version_of([]) is None
    assert obis_list.manufacturer_of("kamstrup_v0001") == "Kamstrup"
    assert obis_list.manufacturer_of("XYZ") is None
    assert obis_list.is_obis_code(code(1, 7, 0))
    assert not obis_list.is_obis_code(b"ABCDEF")
    assert not obis_list.is_text(b"\x01")


# --- P1 -----------------------------------------------------------------------------------


def p1_reading(*lines: str, ident: str = "/ABC5Meter") -> MeterReading | None:
    telegram = "\r\n".join((ident, "", *lines, "!")) + "\r\n"
    readouts = ModeDReader().read(telegram.encode("latin-1"))
    assert len(readouts) == 1
    return p1.decode_readout(readouts[0])


def test_p1_units_in_any_capitalisation_are_converted_exactly() -> None:
    reading = p1_reading(
        "1-0:1.7.0(0001.011*kW)",
        "1-0:2.8.0(00000000.131*KWH)",
        "1-0:3.7.0(0000.200*kvar)",
        "1-0:4.8.0(00000185.707*kVArh)",
        "1-0:9.7.0(0001.5*kVA)",
        "1-0:32.7.0(230.7*V)",
        "1-0:31.7.0(-001.4*A)",
        "1-0:21.7.0(+12*W)",
    )
    assert reading == {
        "active_power_import": 1011,
        "active_power_export_total": 131,
        "reactive_power_import": 200,
        "reactive_power_export_total": 185707,
        "1-0:9.7.0": 1500,
        "voltage_l1": 230.7,
        "current_l1": -1.4,
        "active_power_import_l1": 12,
        "meter_manufacturer": "ABC",
    }
    assert reading.units["1-0:9.7.0"] == "VA"
    assert reading.units["reactive_power_export_total"] == "varh"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("220408135021W", datetime(2022, 4, 8, 13, 50, 21, tzinfo=CET)),
        ("220708135021S", datetime(2022, 7, 8, 13, 50, 21, tzinfo=timezone(timedelta(hours=2)))),
        ("220408135021", datetime(2022, 4, 8, 13, 50, 21)),
        ("220408135021X", None),
        ("632525252525W", None),
        ("2204081350", None),
    ],
)
def test_p1_timestamps(stamp: str, expected: datetime | None) -> None:
    assert p1.parse_timestamp(stamp) == expected
    reading = p1_reading(f"0-0:1.0.0({stamp})", "1-0:1.7.0(1*kW)")
    assert reading is not None
    assert reading.get("meter_datetime") == expected


def test_p1_identifiers_texts_and_channels() -> None:
    reading = p1_reading(
        "0-0:96.1.1(4B384547303034303436333935353037)",
        "0-0:96.1.4(50217)",
        "0-0:96.13.0(1234)",
        "0-1:96.1.0(3232323241424344313233343536373839)",
        "0-1:24.2.1(170102161005W)(00000.107*m3)",
        "1-0:99.97.0(1)(0-0:96.7.19)(170520130938S)(0000005627*s)",
        "0-0:96.7.21(00013)",
        "0-0:96.13.1()",
        "1-3:0.2.8(50)",
        "0-0:42.0.0(Not a number)",
        "1-0:13.7.0(0.981)",
        "1-0:33.7.0(n/a)",
        "1-0:32.7.0(0.23*kV)",
        "1-0:52.7.0(abc*V)",
        "C.1.0(12345678)",
    )
    assert reading == {
        "meter_id": "K8EG004046395507",
        "0-0:96.1.4": "50217",
        "0-0:96.13.0": "1234",
        "0-1:96.1.0": "2222ABCD123456789",
        "0-1:24.2.1": 0.107,
        "0-0:96.7.21": 13,
        "1-3:0.2.8": 50,
        "0-0:42.0.0": "Not a number",
        "power_factor": 0.981,
        "1-0:32.7.0": 0.23,
        "C.1.0": 12345678,
        "meter_manufacturer": "ABC",
    }
    assert reading.units["0-1:24.2.1"] == "m3"
    assert reading.units["1-0:32.7.0"] == "kV"


def test_p1_identifier_that_is_not_hex_text() -> None:
    reading = p1_reading("0-0:96.1.0(12345678)", "0-0:96.1.1(XYZ1)", "0-0:96.1.2(ABC)")
    assert reading is not None
    assert reading["meter_id"] == "XYZ1"
    assert reading["0-0:96.1.2"] == "ABC"


def test_p1_without_values_or_identification() -> None:
    assert p1_reading("0-0:96.13.0()") is None
    reading = p1.decode_readout(
        next(iter(ModeDReader().read(b"/ABC5X\r\n\r\n1-0:1.7.0(1*kW)\r\n!\r\n")))
    )
    assert reading is not None
    assert reading["active_power_import"] == 1000


def test_p1_readout_without_identification() -> None:
    data_set = DataSet("1-0:1.7.0", (DataValue("1.5", "kW"),), (1, 0, 1, 7, 0))
    readout = DataReadout(b"", None, b"", (data_set,))
    assert p1.decode_readout(readout) == {"active_power_import": 1500}


def test_p1_decode_telegram_needs_a_valid_telegram() -> None:
    vector = next(v for v in VECTORS if v.id == "amshan_p1_ell5_se")
    assert p1.decode_telegram(vector.raw) is not None
    payload = vector.raw[: vector.raw.rindex(b"!") + 5]
    assert p1.decode_telegram(payload) is not None
    broken = vector.raw.replace(b"6.000*kW", b"7.000*kW")
    assert p1.decode_telegram(broken) is None
    assert p1.decode_telegram(b"no telegram") is None


@pytest.mark.parametrize(
    ("text", "exponent", "expected"),
    [
        ("0001.011", 3, 1011),
        ("00000000.000", 3, 0),
        ("230.7", 0, 230.7),
        ("-0.5", 0, -0.5),
        ("+7", 0, 7),
        ("12", -1, 1.2),
        ("1.", 0, 1),
        (".5", 0, 0.5),
        ("", 0, None),
        ("-", 0, None),
        ("1.2.3", 0, None),
        ("1e3", 0, None),
        ("1_000", 0, None),
        ("4B38", 0, None),
    ],
)
def test_p1_parse_number(text: str, exponent: int, expected: float | None) -> None:
    assert p1.parse_number(text, exponent) == expected
