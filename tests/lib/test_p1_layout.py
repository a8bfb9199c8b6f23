"""P1 layouts: repeated telegrams read by slicing give exactly what the full decode gives.

The reference is the full decode: a fresh AutoDecoder per telegram (it never has a layout
yet). The decoder under test keeps its layouts over a whole sequence of telegrams; both
must agree on every value, its type, the order of the keys, the units, and how many
values were dropped as implausible.
"""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan import p1, p1_layout, p1_layout_memory
from custom_components.han_meter.amshan.autodecoder import AutoDecoder, plausible_range
from custom_components.han_meter.amshan.builder_p1 import build_p1_readout
from custom_components.han_meter.amshan.crc import crc16_arc
from custom_components.han_meter.amshan.dlde import DataReadout, Identification, ModeDReader
from custom_components.han_meter.amshan.p1_layout_memory import MAX_LAYOUTS, make_layout
from custom_components.han_meter.amshan.reading import MeterReading
from tests.conftest import VECTORS, Vector, vectors_of

Described = tuple[list[tuple[str, type, Any]], list[tuple[str, str]]] | None


def telegram(*lines: str, ident: str = "/ABC5Meter", with_crc: bool = True) -> bytes:
    body = "\r\n".join((ident, "", *lines, "!")).encode("latin-1")
    return body + (f"{crc16_arc(body):04X}".encode() if with_crc else b"") + b"\r\n"


def readout_of(raw: bytes) -> DataReadout:
    (readout,) = ModeDReader().read(raw if raw.endswith(b"\n") else raw + b"\r\n")
    assert readout.is_valid
    return readout


def described(reading: MeterReading | None) -> Described:
    """Everything that must be equal: values with their types, key order, units."""
    if reading is None:
        return None
    values = [(key, type(value), value) for key, value in reading.items()]
    return values, list(reading.units.items())


def full_decode(readout: DataReadout) -> tuple[Described, int]:
    decoder = AutoDecoder()
    return described(decoder.decode_message(readout)), decoder.rejected_values


class FullDecodes:
    """Counts the full decodes an AutoDecoder makes (the layout path makes none)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        decode_readout = p1.decode_readout

        def counting(readout: DataReadout, decoder: p1.P1Decoder | None = None) -> Any:
            self.count += 1
            return decode_readout(readout, decoder)

        monkeypatch.setattr(p1, "decode_readout", counting)


def check_sequence(raws: list[bytes], decoder: AutoDecoder | None = None) -> AutoDecoder:
    """Decode ``raws`` in turn with one decoder; each must match the full decode."""
    decoder = decoder or AutoDecoder()
    for raw in raws:
        readout = readout_of(raw)
        rejected = decoder.rejected_values
        got = described(decoder.decode_message(readout))
        expected, expected_rejected = full_decode(readout)
        assert got == expected, raw
        assert decoder.rejected_values - rejected == expected_rejected, raw
    return decoder


# --- captured telegrams --------------------------------------------------------------------


@pytest.mark.parametrize("vector", vectors_of("p1"))
def test_captured_telegrams_are_read_by_their_layout(
    vector: Vector, monkeypatch: pytest.MonkeyPatch
) -> None:
    readout = readout_of(vector.raw[vector.raw.index(b"/") :])
    expected, _ = full_decode(readout)
    assert expected is not None
    full = FullDecodes(monkeypatch)
    decoder = AutoDecoder()
    for _ in range(5):
        assert described(decoder.decode_message(readout)) == expected
        assert decoder.decoder_name == "p1"
    assert full.count == 2  # the second full decode made the layout; it read the rest


def test_captured_telegram_with_other_values_of_the_same_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vector = next(v for v in VECTORS if v.id == "amshan_p1_ell5_se")
    text = vector.raw.decode("latin-1")
    body = text[: text.index("!") + 1]
    changed = [
        body,
        body,
        body.replace("(0006.000*kW)", "(0999.999*kW)").replace("(234.4*V)", "(230.0*V)"),
        body.replace("(201020085222W)", "(201020085959W)").replace("(013.6*A)", "(999.9*A)"),
        body.replace("(201020085222W)", "(201020095222W)").replace(
            "(00001605.055", "(99999999.999"
        ),
    ]
    full = FullDecodes(monkeypatch)
    decoder = check_sequence([telegram_with_crc(part) for part in changed])
    assert full.count == 5 + 2  # the reference's five, and the decoder's first two
    assert decoder.rejected_values == 0


def telegram_with_crc(body: str) -> bytes:
    data = body.encode("latin-1")
    return data + f"{crc16_arc(data):04X}\r\n".encode()


# --- generated telegrams -------------------------------------------------------------------

P1_KEYS = [
    "active_power_import_total",
    "active_power_export_total",
    "reactive_power_import_total",
    "active_power_import_total_t1",
    "active_power_import",
    "active_power_export",
    "active_power_import_l1",
    "reactive_power_export_l3",
    "voltage_l1",
    "voltage_l2",
    "current_l1",
    "current_l3",
    "power_factor",
    "power_factor_l2",
]


def builder_values(keys: list[str], draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in keys:
        if key.startswith(("voltage", "current")):
            values[key] = draw(st.integers(0, 9999)) / 10
        elif key.startswith("power_factor"):
            values[key] = draw(st.integers(0, 9999)) / 1000
        elif key.endswith(("_t1", "_t2")):
            values[key] = draw(st.integers(0, 10**9 - 1))
        elif "total" in key:
            values[key] = draw(st.integers(0, 10**11 - 1))
        else:
            values[key] = draw(st.integers(0, 10**7 - 1))
    return values


@st.composite
def builder_telegrams(draw: st.DrawFn) -> list[bytes]:
    keys = draw(st.lists(st.sampled_from(P1_KEYS), min_size=1, max_size=8, unique=True))
    start = datetime(2023, 3, 26, 0, 59, 50, tzinfo=UTC)
    raws = []
    for _ in range(draw(st.integers(3, 6))):
        values = builder_values(keys, draw)
        if draw(st.booleans()):
            values["meter_id"] = draw(st.sampled_from(["7359992890941742", "73599928909417X2"]))
        stamp = start + timedelta(seconds=draw(st.integers(0, 7200)))
        raws.append(build_p1_readout(values, timestamp=stamp))
    return raws


@settings(max_examples=150, deadline=None)
@given(builder_telegrams())
def test_builder_telegrams_decode_as_the_full_decode(raws: list[bytes]) -> None:
    check_sequence(raws)


# Lines of a generated meter: "#" is a digit drawn for every telegram, "{clock}" a
# timestamp (mostly a date, sometimes not).
LINES = [
    "1-0:1.8.0(########.###*kWh)",
    "1-0:2.8.0(#####.###*kWh)",
    "1-0:1.8.0(#####.###*Wh)",
    "1-0:1.7.0(####.###*kW)",
    "1-0:2.7.0(+##.###*kW)",
    "1-0:21.7.0(-##.###*kW)",
    "1-0:32.7.0(###.#*V)",
    "1-0:52.7.0(-##.#*V)",
    "1-0:31.7.0(###*A)",
    "1-0:51.7.0(##.##*A)",
    "1-0:13.7.0(#.###)",
    "1-0:33.7.0(-#.##)",
    "1-0:14.7.0(##.##*Hz)",
    "1-0:1.8.0(-##.#*kWh)",
    "1-0:3.7.0(#.###*kvar)",
    "0-0:1.0.0({clock}W)",
    "0-0:1.0.0({clock}S)",
    "0-0:1.0.0({clock})",
    "0-0:1.0.0(#.#)",
    "0-0:96.1.1(4B3845##3##)",
    "0-0:96.1.1(3#3#)",
    "0-0:96.1.0(##ABC##)",
    "0-0:96.13.0(text ##)",
    "0-0:96.13.0()",
    "0-0:96.14.0(####)",
    "0-0:96.7.21(1.2.##)",
    "0-1:24.2.1({clock}W)(#####.###*m3)",
    "0-2:24.2.1({clock}S)",
    "(#####.##*m3)",
    "0-1:24.2.3(##)(#.#*m3)",
    "0-1:24.2.3({clock}W)()",
    "1-0:99.97.0(#)(0-0:96.7.19)({clock}W)(#########*s)",
    "1-0:2.8.0(###)(#.#)",
    "X-Y:Z(#.#*m)",
    "1-0:31.4.0(###*A)",
    "junk line ##",
]


def filled(line: str, rng: random.Random) -> str:
    while "{clock}" in line:
        if rng.random() < 0.9:
            moment = datetime(2000, 1, 1) + timedelta(seconds=rng.randrange(3_155_760_000))
            stamp = moment.strftime("%y%m%d%H%M%S")
        else:
            stamp = "".join(rng.choice("0123456789") for _ in range(12))
        line = line.replace("{clock}", stamp, 1)
    return "".join(rng.choice("0123456789") if char == "#" else char for char in line)


def mutated(lines: list[str], rng: random.Random) -> list[str]:
    """The same meter with one change: a value one digit wider, a unit, the line order."""
    lines = list(lines)
    where = rng.randrange(len(lines))
    change = rng.randrange(3)
    if change == 0:
        lines[where] = lines[where].replace("#", "##", 1)
    elif change == 1:
        lines[where] = lines[where].replace("kW", "kVA").replace("*V", "*A")
    else:
        lines.insert(rng.randrange(len(lines)), lines.pop(where))
    return lines


@st.composite
def meter_telegrams(draw: st.DrawFn) -> list[bytes]:
    lines = draw(st.lists(st.sampled_from(LINES), min_size=1, max_size=10))
    rng = random.Random(draw(st.integers(0, 2**32)))
    with_crc = draw(st.booleans())
    raws = []
    for _ in range(draw(st.integers(3, 8))):
        meter = mutated(lines, rng) if rng.random() < 0.15 else lines
        raws.append(telegram(*(filled(line, rng) for line in meter), with_crc=with_crc))
    return raws


class LayoutSpy:
    """Stands in for an AutoDecoder's layout memory, noting what it read."""

    def __init__(self, memory: p1_layout_memory.P1LayoutMemory) -> None:
        self.memory = memory
        self.learn = memory.learn

    def decode(self, readout: DataReadout) -> MeterReading | None:
        reading = self.memory.decode(readout)
        event("read by a layout" if reading is not None else "decoded the full way")
        return reading


@settings(max_examples=400, deadline=None)
@given(meter_telegrams())
def test_generated_meters_decode_as_the_full_decode(raws: list[bytes]) -> None:
    decoder = AutoDecoder()
    memory = p1_layout_memory.P1LayoutMemory(plausible_range)
    decoder._p1_layouts = LayoutSpy(memory)  # type: ignore[assignment]
    check_sequence(raws, decoder)


# --- misses ---------------------------------------------------------------------------------

BASE = ["0-0:1.0.0(231102121548W)", "1-0:1.7.0(01.500*kW)", "1-0:2.7.0(22.50*kW)"]


def learned(monkeypatch: pytest.MonkeyPatch, *lines: str) -> tuple[AutoDecoder, FullDecodes]:
    """A decoder that has made the layout of ``lines``; full decodes counted from then."""
    decoder = check_sequence([telegram(*lines), telegram(*lines)])
    assert decoder._p1_layouts._layouts
    return decoder, FullDecodes(monkeypatch)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param([BASE[0], "1-0:1.7.0(11.50*kW)", "1-0:2.7.0(2.500*kW)"], id="widths"),
        pytest.param([BASE[0], "1-0:1.7.0(015.00*kW)", BASE[2]], id="dot"),
        pytest.param([BASE[0], "1-0:1.7.0(01.500*VA)", BASE[2]], id="unit"),
        pytest.param([BASE[0], "1-0:1.7.0(22.50*kW)", "1-0:2.7.0(01.500*kW)"], id="order"),
        pytest.param([BASE[0], "1-0:3.7.0(01.500*kW)", BASE[2]], id="address"),
        pytest.param(["0-0:1.0.0(231302121548W)", *BASE[1:]], id="clock-month-13"),
        pytest.param(["0-0:1.0.0(231102126048W)", *BASE[1:]], id="clock-minute-60"),
        pytest.param(["0-0:1.0.0(231102121548S)", *BASE[1:]], id="clock-flag"),
    ],
)
def test_a_changed_telegram_is_decoded_the_full_way(
    changed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder, full = learned(monkeypatch, *BASE)
    readout = readout_of(telegram(*changed))
    assert described(decoder.decode_message(readout)) == full_decode(readout)[0]
    assert full.count == 2  # the decoder's, and the reference's


def test_implausible_values_are_dropped_and_counted_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ["1-0:1.7.0(0001.500*kW)", "1-0:21.7.0(-001.000*kW)", "1-0:1.8.0(-00.0*kWh)"]
    decoder, full = learned(monkeypatch, *lines)
    assert decoder.rejected_values == 0
    implausible = [
        ["1-0:1.7.0(1500.000*kW)", *lines[1:]],  # 1.5 MW
        [lines[0], "1-0:21.7.0(-999.999*kW)", lines[2]],  # plausible: the layout reads it
        [lines[0], lines[1], "1-0:1.8.0(-00.0*kWh)"],  # -0 Wh is 0: plausible
        [lines[0], lines[1], "1-0:1.8.0(-00.1*kWh)"],  # a negative energy register
    ]
    check_sequence([telegram(*changed) for changed in implausible], decoder)
    assert decoder.rejected_values == 2
    assert full.count == 4 + 2  # the reference's four, and the decoder's two misses
    check_sequence([telegram(*lines)], decoder)  # the layout stays
    assert full.count == 6 + 1


def test_a_number_too_large_for_a_float_is_a_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    small = "1-0:32.7.0(" + "0" * 398 + "5.5*V)"
    decoder, full = learned(monkeypatch, small, "1-0:1.7.0(1*kW)")
    huge = readout_of(telegram("1-0:32.7.0(" + "9" * 399 + ".5*V)", "1-0:1.7.0(1*kW)"))
    assert decoder.decode_message(huge) is None  # the full decode cannot divide it either
    assert full.count == 1


def test_timestamps_and_clocks_that_are_no_date_make_no_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for lines in (
        ["0-0:1.0.0(231302121548W)", "1-0:1.7.0(1*kW)"],
        ["0-1:24.2.1(231132121548W)(00001.000*m3)", "1-0:1.7.0(1*kW)"],
    ):
        decoder = check_sequence([telegram(*lines)] * 3)
        assert not decoder._p1_layouts._layouts


def test_timestamps_clocks_and_texts_are_read_again_every_time() -> None:
    lines = [
        "0-0:1.0.0(231102121548W)",
        "0-0:1.0.0(231102121548S)",  # the same hour in another zone
        "0-0:96.1.1(4B384547)",
        "0-0:96.13.0(message 1)",
        "0-1:24.2.1(231102120000W)(00092.287*m3)",
        "1-0:1.7.0(1*kW)",
    ]
    raws = [telegram(*lines)] * 2
    for second in range(20):  # more timestamps than a layout remembers
        changed = [
            f"0-0:1.0.0(2311021216{second:02d}W)",
            lines[1],
            f"0-0:96.1.1(4B3845{second:02d})",
            f"0-0:96.13.0(message {second % 10})",
            f"0-1:24.2.1(23110212{second:02d}00W)(00092.287*m3)",
            lines[5],
        ]
        raws.append(telegram(*changed))
    decoder = check_sequence(raws)
    (layout,) = decoder._p1_layouts._layouts.values()
    assert len(layout._valid_stamps) <= p1_layout._MAX_STAMPS


def test_lines_the_full_decode_skips_still_make_a_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    skipped = [
        "(00001.500*m3)",  # continues no line
        "0-1:24.2.3(12)(1.5*m3)",  # not a timestamp: skipped, unit and all
        "0-1:24.2.1(231102120000W)()",  # no value
        "1-0:13.7.0(x.5)",  # a power factor that is no number
        "1-0:99.97.0(1)(0-0:96.7.19)(231102120000W)(0000005627*s)",  # a log
        "junk",
    ]
    decoder, full = learned(monkeypatch, *skipped, "1-0:1.7.0(1*kW)")
    check_sequence([telegram(*skipped, "1-0:1.7.0(2*kW)")], decoder)
    assert full.count == 1  # the reference's only


def test_dsmr22_continuation_lines_are_read_by_the_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def dsmr22(hour: int, gas: str) -> bytes:
        return telegram(
            "0-1:24.3.0(121030140000)(00)(60)(1)(0-1:24.2.1)(m3)",
            "(00000.000)",  # continues the log above: skipped with it
            f"0-1:24.2.1(2311021{hour}0000W)",
            f"({gas}*m3)",  # the value of the gas reading above
            with_crc=False,
        )

    decoder, full = learned(monkeypatch, "0-1:24.2.1(231102120000W)", "(00092.287*m3)")
    check_sequence([dsmr22(2, "00092.287")] * 2, decoder)  # another layout: learned
    assert full.count == 2 + 2
    check_sequence([dsmr22(3, "00093.001"), dsmr22(4, "00094.500")], decoder)
    assert full.count == 4 + 2  # the reference's only
    reading = decoder.decode_message(readout_of(dsmr22(5, "00095.250")))
    assert reading is not None
    assert reading["0-1:24.2.1"] == 95.25


def test_crc_digits_that_are_not_on_a_line_of_their_own() -> None:
    lines = ["1-0:1.7.0(1*kW)", "1-0:2.7.0(2*kW)"]
    decoder = check_sequence([telegram(*lines)] * 2)
    good = readout_of(telegram(*lines))
    # A readout made by hand: its "CRC" holds a data line the full decode reads.
    payload = good.payload[:-4] + b"(7)x"
    odd = DataReadout(payload, good.identification, payload, None, 0x1234, None)
    assert odd.is_valid
    reading = decoder.decode_message(odd)
    assert described(reading) == full_decode(odd)[0]
    assert reading is not None
    assert reading["!"] == 7


def test_readouts_without_a_manufacturer() -> None:
    raw = telegram("1-0:1.7.0(1*kW)")
    readout = readout_of(raw)
    reading = AutoDecoder().decode_message(readout)
    assert reading is not None
    layout = make_layout(readout, reading, plausible_range)
    assert layout is not None
    for identification in (None, Identification("", "5", "x")):
        bare = DataReadout(readout.as_bytes, identification, readout.payload, None, readout.crc)
        assert layout.decode(bare) == {"active_power_import": 1000}
        assert layout.decode(bare) == p1.decode_readout(bare)


def test_a_layout_is_kept_only_when_it_replays_its_reading() -> None:
    readout = readout_of(telegram("1-0:1.7.0(1*kW)", "0-0:96.13.0(hello)"))
    reading = AutoDecoder().decode_message(readout)
    assert reading is not None
    assert make_layout(readout, reading, plausible_range) is not None
    wrong = MeterReading(reading, units={})
    assert make_layout(readout, wrong, plausible_range) is None
    wrong = MeterReading({**reading, "active_power_import": 1000.0}, units=reading.units)
    assert make_layout(readout, wrong, plausible_range) is None  # a float, not an int
    no_values = readout_of(telegram("0-0:96.13.0()", "junk"))
    assert make_layout(no_values, reading, plausible_range) is None


def test_decode_frame_content_uses_the_layouts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = telegram(*BASE)
    decoder = AutoDecoder()
    expected = described(decoder.decode_frame_content(raw))
    full = FullDecodes(monkeypatch)
    for _ in range(3):
        assert described(decoder.decode_frame_content(raw)) == expected
    assert full.count == 1


# --- bounded memory -------------------------------------------------------------------------


def test_layouts_stay_bounded() -> None:
    decoder = AutoDecoder()
    for width in range(1, MAX_LAYOUTS + 4):
        raw = telegram("0-0:96.14.0(" + "1" * width + ")")
        check_sequence([raw, raw, raw], decoder)
        assert len(decoder._p1_layouts._layouts) <= MAX_LAYOUTS
    assert len(decoder._p1_layouts._layouts) == MAX_LAYOUTS
    assert max(decoder._p1_layouts._layouts) == len(readout_of(raw).payload)


def test_getter_gives_tuples_for_any_number_of_indices() -> None:
    assert p1_layout.getter([])("abc") == ()
    assert p1_layout.getter([1])("abc") == ("b",)
    assert p1_layout.getter([2, 0])("abc") == ("c", "a")


def test_layouts_are_set_up_for_the_first_p1_readout_only() -> None:
    decoder = AutoDecoder()
    assert decoder._p1_layouts is None  # nor is the module imported: benchmark T5
    decoder.decode_message(readout_of(telegram(*BASE)))
    assert isinstance(decoder._p1_layouts, p1_layout_memory.P1LayoutMemory)
    script = (
        "import sys; sys.path.insert(0, 'custom_components/han_meter'); "
        "import amshan.autodecoder; print('amshan.p1_layout_memory' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
