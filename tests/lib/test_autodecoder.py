"""AutoDecoder: input forms, bad data, decoder memory, plausibility and layout templates."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan import autodecoder as autodecoder_module
from custom_components.han_meter.amshan import layout_memory, p1
from custom_components.han_meter.amshan.autodecoder import DECODERS, AutoDecoder
from custom_components.han_meter.amshan.builder import build_hdlc_frame, build_meter_frame
from custom_components.han_meter.amshan.cosem import DataNotification, decode_data_notification
from custom_components.han_meter.amshan.dlde import ModeDReader
from custom_components.han_meter.amshan.hdlc import HdlcFrame, HdlcFrameReader
from custom_components.han_meter.amshan.layout_memory import LayoutMemory, make_template
from custom_components.han_meter.amshan.reading import (
    CLOCK_SOURCE,
    NUMBER_SOURCE,
    Bindings,
    MeterReading,
)
from tests.conftest import VECTORS

LLC = "e6e700"
HEADER = "0f4000000000"  # DATA-NOTIFICATION, invoke id, no date-time
ELEMENT = "020309060100010700ff06{:08x}02020f00161b"  # Aidon {1.0.1.7.0, P+, {0, W}}
TIME = datetime(2024, 5, 1, 12, 0, 0)


def aidon_body(*powers: int) -> str:
    return f"01{len(powers):02x}" + "".join(ELEMENT.format(p) for p in powers)


def vector_raw(vector_id: str) -> bytes:
    return next(v.raw for v in VECTORS if v.id == vector_id)


def payload_of(frame: bytes) -> bytes:
    (parsed,) = HdlcFrameReader().read(frame)
    assert parsed.is_valid
    return parsed.payload


class DecoderSpy:
    """Replaces DECODERS with wrappers that log which decoder was called."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        wrapped = tuple((name, self._wrap(name, decode)) for name, decode in DECODERS)
        monkeypatch.setattr(autodecoder_module, "DECODERS", wrapped)

    def _wrap(
        self, name: str, decode: Callable[[DataNotification], MeterReading | None]
    ) -> Callable[[DataNotification], MeterReading | None]:
        def spy(notification: DataNotification) -> MeterReading | None:
            self.calls.append(name)
            return decode(notification)

        return spy


# --- input forms and bad data ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(LLC + HEADER + aidon_body(1202), id="llc-apdu"),
        pytest.param(HEADER + aidon_body(1202), id="bare-apdu"),
        pytest.param(aidon_body(1202), id="bare-array-body"),
        pytest.param(
            "02030a0e4b616d73747275705f563030303109060101010700ff06000004b2", id="structure"
        ),
    ],
)
def test_content_forms(content: str) -> None:
    reading = AutoDecoder().decode_frame_content(bytes.fromhex(content))
    assert reading is not None
    assert reading["active_power_import"] == 1202


def test_p1_telegram_content_and_other_byte_types() -> None:
    raw = vector_raw("amshan_p1_kamstrup_kam5_se")  # starts with CRLF
    decoder = AutoDecoder()
    reading = decoder.decode_frame_content(raw)
    assert reading is not None
    assert reading["meter_manufacturer"] == "KAM"
    assert decoder.decoder_name == "p1"
    assert decoder.decode_frame_content(bytearray(raw)) == reading
    assert decoder.decode_frame_content(memoryview(raw)) == reading


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("", id="empty"),
        pytest.param(LLC, id="llc-only"),
        pytest.param("0f", id="tag-only"),
        pytest.param(HEADER, id="header-only"),
        pytest.param(HEADER + aidon_body(1)[:-4], id="truncated"),
        pytest.param(HEADER + aidon_body(1) + "00", id="trailing-byte"),
        pytest.param("0f4000000007" + aidon_body(1), id="bad-date-time"),
        pytest.param("db0800112233", id="ciphered-without-unwrapping"),
        pytest.param("c001000008", id="get-request"),
        pytest.param("0103110111021103", id="array-of-numbers"),
        pytest.param("0100", id="empty-array"),
        pytest.param("02010a0141", id="one-text"),
        pytest.param("2f414243350d0a", id="p1-start-without-end"),
        pytest.param("0d0a0d0a", id="whitespace"),
    ],
)
def test_undecodable_content_gives_none(content: str) -> None:
    decoder = AutoDecoder()
    assert decoder.decode_frame_content(bytes.fromhex(content)) is None
    assert decoder.decoder_name is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", LLC, "0f", HEADER, "01", "02", "2f"]), st.binary(max_size=80))
def test_random_content_never_raises(prefix: str, tail: bytes) -> None:
    decoder = AutoDecoder()
    for _ in range(3):  # twice more: the layout memory sees it too
        reading = decoder.decode_frame_content(bytes.fromhex(prefix) + tail)
        assert reading is None or isinstance(reading, MeterReading)


def test_a_failing_decoder_never_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(notification: DataNotification) -> MeterReading | None:
        raise RuntimeError("bug")

    monkeypatch.setattr(autodecoder_module, "DECODERS", (("broken", broken),))
    decoder = AutoDecoder()
    content = bytes.fromhex(HEADER + aidon_body(1))
    assert decoder.decode_frame_content(content) is None
    frame = HdlcFrameReader().read(build_hdlc_frame(content))[0]
    assert decoder.decode_message(frame) is None


def test_a_failing_p1_decoder_never_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(readout: object) -> MeterReading | None:
        raise RuntimeError("bug")

    monkeypatch.setattr(p1, "decode_readout", broken)
    readout = ModeDReader().read(vector_raw("amshan_p1_ell5_se"))[0]
    assert AutoDecoder().decode_message(readout) is None


# --- decode_message ---------------------------------------------------------------------


def test_decode_message_accepts_valid_frames_and_readouts_only() -> None:
    decoder = AutoDecoder()
    frame = HdlcFrameReader().read(vector_raw("hassams_kamstrup_list1_3ph"))[0]
    reading = decoder.decode_message(frame)
    assert reading is not None
    assert reading["active_power_import"] == 1202
    bad_frame = HdlcFrameReader().read(vector_raw("hassams_neg_kamstrup_bad_fcs"))[0]
    assert not bad_frame.is_valid
    assert decoder.decode_message(bad_frame) is None
    empty = HdlcFrameReader().read(build_hdlc_frame(b""))[0]
    assert empty.is_valid
    assert decoder.decode_message(empty) is None
    readout = ModeDReader().read(vector_raw("amshan_p1_ell5_se"))[0]
    assert decoder.decode_message(readout) is not None
    broken = ModeDReader().read(vector_raw("amshan_p1_ell5_se").replace(b"!80FF", b"!80FE"))[0]
    assert not broken.is_valid
    assert decoder.decode_message(broken) is None
    no_data = ModeDReader().read(b"/ABC5X\r\n\r\n0-0:96.13.0()\r\n!\r\n")[0]
    assert decoder.decode_message(no_data) is None
    assert decoder.decode_message(object()) is None
    assert decoder.decode_message(b"raw bytes") is None
    assert decoder.decode_message(None) is None


def test_decode_message_of_a_frame_without_header() -> None:
    frame = HdlcFrame(b"~~", None, b"\x0f", False, False)
    assert AutoDecoder().decode_message(frame) is None


# --- memory of the decoder that worked last ------------------------------------------------


def test_decoder_name_follows_the_last_success() -> None:
    decoder = AutoDecoder(encryption_key=None, authentication_key=None)
    assert decoder.decoder_name is None
    for vector_id, name in (
        ("hassams_kamstrup_list1_3ph", "kamstrup"),
        ("hassams_aidon_6534_list2", "aidon"),
        ("hassams_kaifa_ma304h4_no_list2", "kaifa"),
        ("amshan_p1_ell5_se", "p1"),
    ):
        raw = vector_raw(vector_id)
        content = raw if raw.lstrip()[:1] == b"/" else payload_of(raw)
        assert decoder.decode_frame_content(content) is not None
        assert decoder.decoder_name == name
    assert decoder.decode_frame_content(bytes.fromhex(LLC + "0f400000000002010a0141")) is None
    assert decoder.decoder_name == "p1"  # a failure changes nothing


def test_the_last_decoder_is_tried_first(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = DecoderSpy(monkeypatch)
    decoder = AutoDecoder()
    kaifa = [
        payload_of(vector_raw(v))
        for v in ("hassams_kaifa_ma304h3e_no_list3", "hassams_kaifa_ma304h4_no_list2")
    ]
    assert decoder.decode_frame_content(kaifa[0]) is not None
    assert spy.calls == ["aidon", "kamstrup", "kaifa"]
    spy.calls.clear()
    assert decoder.decode_frame_content(kaifa[1]) is not None
    assert spy.calls == ["kaifa"]
    spy.calls.clear()
    assert decoder.decode_frame_content(bytes.fromhex(aidon_body(5))) is not None
    assert spy.calls == ["kaifa", "aidon"]
    assert decoder.decoder_name == "aidon"


# --- plausibility ----------------------------------------------------------------------------


def _element(c: int, d: int, tag: str, value: str, scaler: int, unit: int) -> str:
    """An Aidon-style {1-0:C.D.0, value, {scaler, unit}} element as hex."""
    code = bytes((1, 0, c, d, 0, 255)).hex()
    return f"02030906{code}{tag}{value}02020f{scaler & 0xFF:02x}16{unit:02x}"


def implausible_body() -> bytes:
    elements = [
        _element(1, 7, "06", "001e8481", 0, 27),  # 2 000 001 W
        _element(3, 7, "06", "000003e8", 0, 29),  # 1000 var: fine
        _element(32, 7, "12", "2ee0", -1, 35),  # 1200.0 V
        _element(52, 7, "12", "08fc", -1, 35),  # 230.0 V: fine
        _element(31, 7, "05", "0001e849", -1, 33),  # 12 500.1 A
        _element(51, 7, "10", "fff6", -1, 33),  # -1.0 A: fine
        _element(13, 7, "12", "05dc", -3, 255),  # power factor 1.5
        _element(33, 7, "10", "fc18", -3, 255),  # power factor -1.0: fine
        _element(1, 8, "05", "ffffffff", 0, 30),  # -1 Wh
        _element(2, 8, "17", struct.pack(">f", float("nan")).hex(), 0, 30),  # NaN Wh
        _element(14, 7, "17", struct.pack(">f", float("inf")).hex(), 0, 44),  # inf Hz: not finite
    ]
    return bytes.fromhex(f"01{len(elements):02x}" + "".join(elements))


def test_implausible_values_are_dropped_and_counted() -> None:
    decoder = AutoDecoder()
    body = implausible_body()
    for repeat in range(1, 4):  # slow, slow + template, template
        reading = decoder.decode_frame_content(body)
        assert reading is not None
        assert set(reading) == {
            "reactive_power_import",
            "voltage_l2",
            "current_l2",
            "power_factor_l1",
        }
        assert "voltage_l1" not in reading.units
        assert decoder.rejected_values == 7 * repeat


def test_a_reading_with_only_implausible_values_is_none() -> None:
    decoder = AutoDecoder()
    assert decoder.decode_frame_content(bytes.fromhex(aidon_body(3_000_000))) is None
    assert decoder.rejected_values == 1


def test_energy_above_any_register_is_implausible() -> None:
    body = bytes.fromhex("0101" + _element(1, 8, "15", "ffffffffffffffff", 0, 30))
    decoder = AutoDecoder()
    assert decoder.decode_frame_content(body) is None
    assert decoder.rejected_values == 1


# --- unwrap hook ---------------------------------------------------------------------------


def test_unwrap_hook_runs_before_decoding() -> None:
    class HexUnwrapper(AutoDecoder):
        def _unwrap(self, content: bytes) -> bytes | None:
            return None if content == b"?" else bytes.fromhex(content.decode())

    decoder = HexUnwrapper()
    assert decoder.decode_frame_content(aidon_body(7).encode()) == {"active_power_import": 7}
    assert decoder.decode_frame_content(b"?") is None


# --- layout templates ------------------------------------------------------------------------


def test_a_repeated_layout_skips_the_decoders(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = DecoderSpy(monkeypatch)
    decoder = AutoDecoder()
    content = payload_of(vector_raw("dlmsparser_aidon_se_3ph_full_frame"))
    first = decoder.decode_frame_content(content)
    second = decoder.decode_frame_content(content)
    assert spy.calls == ["aidon", "aidon"]
    spy.calls.clear()
    third = decoder.decode_frame_content(content)
    assert spy.calls == []
    assert first == second == third
    assert decoder.decoder_name == "aidon"


def _meter_values(meter: str) -> st.SearchStrategy[dict[str, Any]]:
    resolution = {"aidon": (10, 10), "kaifa": (1000, 10), "kamstrup": (100, 1)}[meter]
    amps, volts = resolution
    return st.fixed_dictionaries(
        {
            "active_power_import": st.integers(0, 50_000),
            "reactive_power_export": st.integers(0, 50_000),
            "current_l1": st.integers(0, 9_000).map(lambda v: v / amps),
            "current_l3": st.integers(0, 9_000).map(lambda v: v / amps),
            "voltage_l2": st.integers(2000, 2500).map(lambda v: v / 10 if volts == 10 else v // 10),
            "active_power_import_total": st.integers(0, 10**8).map(
                lambda v: v * 10 if meter != "kaifa" else v
            ),
        }
    )


@pytest.mark.parametrize("meter", ["aidon", "kaifa", "kamstrup"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_template_decodes_exactly_like_the_decoders(meter: str, data: st.DataObject) -> None:
    values = data.draw(_meter_values(meter))
    seconds = data.draw(st.integers(0, 10**7))
    timestamp = TIME + timedelta(seconds=seconds)
    warm = AutoDecoder()
    for _ in range(2):
        warm.decode_frame_content(
            payload_of(build_meter_frame(meter, _meter_values_example(), timestamp=TIME))
        )
    content = payload_of(build_meter_frame(meter, values, timestamp=timestamp))
    expected = AutoDecoder().decode_frame_content(content)
    assert expected is not None
    got = warm.decode_frame_content(content)
    assert got == expected
    assert got is not None
    assert got.units == expected.units
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}


def _meter_values_example() -> dict[str, Any]:
    return {
        "active_power_import": 1,
        "reactive_power_export": 2,
        "current_l1": 1.5,
        "current_l3": 2.5,
        "voltage_l2": 230,
        "active_power_import_total": 1000,
    }


def test_changed_text_or_clock_falls_back_to_the_decoders() -> None:
    decoder = AutoDecoder()
    content = payload_of(vector_raw("hassams_kaifa_ma304h3e_no_list3"))
    clock = bytes.fromhex("07e402030110000aff800000")
    assert content.count(clock) == 2
    body_clock_unset = content[::-1].replace(clock[::-1], (b"\xff\xff" + bytes(10))[::-1], 1)[::-1]
    other_id = content.replace(b"6970631405808469", b"6970631405808470")
    for changed in (body_clock_unset, other_id):
        for _ in range(3):
            assert decoder.decode_frame_content(content) is not None
        reading = decoder.decode_frame_content(changed)
        assert reading == AutoDecoder().decode_frame_content(changed)
    assert reading is not None
    assert reading["meter_id"] == "6970631405808470"
    for _ in range(3):
        reading = decoder.decode_frame_content(body_clock_unset)
        assert reading is not None
        assert reading["meter_datetime"] == datetime(2020, 2, 3, 16, 0, 10)  # the header's


def test_header_clock_changes_are_read_by_the_template() -> None:
    decoder = AutoDecoder()
    times = [TIME + timedelta(seconds=10 * n) for n in range(4)]
    readings = [
        decoder.decode_frame_content(
            payload_of(build_meter_frame("kaifa", {"active_power_import": 5}, timestamp=t))
        )
        for t in times
    ]
    assert [r["meter_datetime"] if r else None for r in readings] == times


def test_bare_bodies_are_remembered_too(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = DecoderSpy(monkeypatch)
    decoder = AutoDecoder()
    body = vector_raw("issue52_kamstrup_list1_mqtt_body")
    readings = [decoder.decode_frame_content(body) for _ in range(4)]
    assert spy.calls == ["aidon", "kamstrup", "kamstrup"]
    assert readings[0] == readings[3]


def landis_gyr_body(unnamed: int) -> bytes:
    """The Netz Burgenland value list; its first unnamed number is ``unnamed``."""
    longs = "".join(f"12{v:04x}" for v in (236, 237, 237, 0, 4, 26))
    double_longs = "".join(f"06{v:08x}" for v in (29, 0, 31358606, 7619))
    unnamed_longs = "".join(f"12{v:04x}" for v in (unnamed, 64, 295))
    meter_id = "0908" + b"30137181".hex()
    return bytes.fromhex("020e" + longs + double_longs + unnamed_longs + meter_id)


def test_ignored_elements_change_freely(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = DecoderSpy(monkeypatch)
    decoder = AutoDecoder()
    readings = [decoder.decode_frame_content(landis_gyr_body(400 + n)) for n in range(4)]
    assert readings[0] is not None
    assert readings[0]["meter_id"] == "30137181"
    assert readings[0] == readings[3]
    assert spy.calls.count("landis_gyr") == 2  # then the template reads the frames


def test_unbound_numbers_make_no_template(monkeypatch: pytest.MonkeyPatch) -> None:
    def unbound(notification: DataNotification) -> MeterReading | None:
        return MeterReading({"active_power_import": 1})

    monkeypatch.setattr(autodecoder_module, "DECODERS", (("unbound", unbound),))
    decoder = AutoDecoder()
    for _ in range(3):
        assert decoder.decode_frame_content(bytes.fromhex(aidon_body(1))) is not None
    assert decoder._layouts._templates == {}


def test_templates_are_bounded() -> None:
    memory = LayoutMemory()
    decoder = AutoDecoder()
    decoder._layouts = memory
    for count in range(1, layout_memory.MAX_TEMPLATES + 4):
        body = bytes.fromhex(aidon_body(*range(count)))
        for _ in range(3):
            assert decoder.decode_frame_content(body) is not None
        assert len(memory._templates) <= layout_memory.MAX_TEMPLATES
    assert len(memory._templates) == layout_memory.MAX_TEMPLATES


def _notification_with_bindings(content: str) -> tuple[bytes, DataNotification]:
    apdu = bytes.fromhex(content)
    return apdu, decode_data_notification(apdu, Bindings())


def test_make_template_refuses_what_it_cannot_replay() -> None:
    apdu, notification = _notification_with_bindings(HEADER + aidon_body(5, 6))
    reading = MeterReading({"active_power_import": 5})
    assert make_template(0, apdu, decode_data_notification(apdu), reading) is None  # no bindings
    assert make_template(0, apdu, notification, reading) is None  # an unbound number
    bindings = notification.bindings
    assert bindings is not None
    bindings.bind("active_power_import", (0, 1), NUMBER_SOURCE)
    bindings.bind("missing", (1, 1), NUMBER_SOURCE)
    assert make_template(0, apdu, notification, reading) is None  # a bound key not in reading
    bindings.clear()
    reading = MeterReading({"a": 5, "b": 5})
    bindings.bind("a", (0, 1), NUMBER_SOURCE)
    bindings.bind("b", (0, 1), NUMBER_SOURCE)
    assert make_template(0, apdu, notification, reading) is None  # two keys from one element
    bindings.clear()
    bindings.bind("a", (0, 1), CLOCK_SOURCE)
    bindings.bind("b", (7,), NUMBER_SOURCE)
    assert make_template(0, apdu, notification, reading) is None  # a number is no clock
    bindings.clear()
    bindings.bind("a", (0, 0), NUMBER_SOURCE)
    bindings.bind("b", (1, 1), NUMBER_SOURCE)
    assert make_template(0, apdu, notification, reading) is None  # an OBIS code is no number


def test_template_decode_checks_length_and_fixed_bytes() -> None:
    apdu, notification = _notification_with_bindings(HEADER + aidon_body(5))
    bindings = notification.bindings
    assert bindings is not None
    bindings.bind("p", (0, 1), NUMBER_SOURCE, -1)
    bindings.ignore((9,))  # no such element: nothing to ignore
    template = make_template(3, apdu, notification, MeterReading({"p": 0.5, "t": "x"}))
    assert template is not None
    assert template.decode(apdu) == {"p": 0.5, "t": "x"}
    assert template.decode(apdu[:-1]) is None
    assert template.decode(apdu.replace(b"\x16\x1b", b"\x16\x1c")) is None
    memory = LayoutMemory()
    assert memory.decode(apdu) is None
    memory._templates[len(apdu)] = template
    assert memory.decode(apdu) == (3, {"p": 0.5, "t": "x"})
    assert memory.decode(apdu.replace(b"\x16\x1b", b"\x16\x1c")) is None


def test_template_number_sources_of_every_kind() -> None:
    body = (
        "0105"
        + _element(1, 7, "06", "0000000f", 1, 27)
        + _element(2, 7, "06", "0000000f", 0, 27)
        + _element(32, 7, "12", "08fc", -1, 35)
        + _element(13, 7, "12", "03e8", -3, 255)
        + _element(14, 7, "17", struct.pack(">f", 49.5).hex(), -1, 44)
    )
    decoder = AutoDecoder()
    readings = [decoder.decode_frame_content(bytes.fromhex(body)) for _ in range(3)]
    assert (
        readings[0]
        == readings[2]
        == {
            "active_power_import": 150,
            "active_power_export": 15,
            "voltage_l1": 230,
            "power_factor": 1.0,
            "1-0:14.7.0": 4.95,
        }
    )
    assert readings[2] is not None
    assert type(readings[2]["power_factor"]) is float
    assert type(readings[2]["voltage_l1"]) is int


@pytest.mark.parametrize(
    ("key", "value", "unit"),
    [
        pytest.param("active_power_import", "abc", None, id="text_as_power"),
        pytest.param("active_power_import", True, None, id="bool_as_power"),
        pytest.param("voltage_l1", b"\xff", None, id="octets_as_voltage"),
        pytest.param("meter_id", 1234, None, id="number_as_meter_id"),
        pytest.param("meter_datetime", "2025-01-06", None, id="text_as_clock"),
        pytest.param("list_ver_id", datetime(2025, 1, 6), None, id="clock_as_list_version"),
        pytest.param("1-0:1.8.3", "12", "Wh", id="text_under_unknown_code_with_unit"),
        pytest.param("1-0:1.8.3", None, None, id="none_under_unknown_code"),
    ],
)
def test_value_of_the_wrong_type_is_dropped_and_counted(
    key: str, value: Any, unit: str | None
) -> None:
    """Types by key: a value that does not fit its key is dropped and counted."""
    reading = MeterReading({key: value, "current_l1": 1.5}, units={"current_l1": "A"})
    if unit is not None:
        reading.units[key] = unit
    decoder = AutoDecoder()
    assert decoder._plausible(reading) == {"current_l1": 1.5}
    assert reading.units == {"current_l1": "A"}
    assert decoder.rejected_values == 1
    alone = MeterReading({key: value}, units={} if unit is None else {key: unit})
    assert decoder._plausible(alone) is None  # nothing left: None


def test_values_of_the_right_type_are_kept() -> None:
    """Texts, clocks and numbers under unknown codes without a unit are kept."""
    when = datetime(2025, 1, 6, 12, 0)
    values = {
        "meter_id": "6970631401753985",
        "meter_datetime": when,
        "1-0:96.13.0": "message",
        "0-0:96.1.4": 50217,
        "1-0:99.1.0": when,
        "1-0:1.8.3": 12.5,
    }
    reading = MeterReading(values, units={"1-0:1.8.3": "Wh"})
    decoder = AutoDecoder()
    assert decoder._plausible(reading) == values
    assert decoder.rejected_values == 0
