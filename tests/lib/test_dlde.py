"""ModeDReader: real P1 telegrams, any chunking, CRC checks, restarts and the size cap."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.crc import crc16_arc
from custom_components.han_meter.amshan.dlde import (
    MAX_READOUT_BYTES,
    DataReadout,
    DataSet,
    DataValue,
    Identification,
    ModeDReader,
    parse_data_sets,
    parse_identification,
    parse_obis,
)
from tests.conftest import VECTORS, Vector, vectors_of

P1_VECTORS = [v for v in VECTORS if v.kind == "p1"]
TELEGRAMS = [v.raw[v.raw.index(b"/") :] for v in P1_VECTORS]


def telegram(lines: Iterable[str], ident: str = "/ABC5Test", crc: bool = True) -> bytes:
    """A readout from data lines, with a CRC (or a bare "!")."""
    text = ident + "\r\n\r\n" + "".join(line + "\r\n" for line in lines) + "!"
    body = text.encode("latin-1")
    return body + (f"{crc16_arc(body):04X}".encode() if crc else b"") + b"\r\n"


def read_chunks(reader: ModeDReader, chunks: Iterable[bytes]) -> list[DataReadout]:
    readouts: list[DataReadout] = []
    for chunk in chunks:
        readouts += reader.read(chunk)
        assert reader.buffered_bytes <= MAX_READOUT_BYTES
    return readouts


def in_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def summary(readouts: list[DataReadout]) -> list[tuple[bytes, bool]]:
    return [(readout.as_bytes, readout.is_valid) for readout in readouts]


@pytest.mark.parametrize("vector", vectors_of("p1"))
def test_vector_in_one_read(vector: Vector) -> None:
    reader = ModeDReader()
    (readout,) = reader.read(vector.raw)
    start = vector.raw.index(b"/")
    bang = vector.raw.rindex(b"!")
    assert readout.as_bytes == vector.raw[start:]
    assert readout.payload == vector.raw[start:].rstrip(b"\r\n")
    assert readout.is_valid is vector.valid
    assert reader.discarded_bytes == start
    assert reader.buffered_bytes == 0
    if vector.crc_ok is None:
        assert readout.crc is None
        assert readout.is_good_crc is None
    else:
        assert readout.crc == int(vector.raw[bang + 1 : bang + 5], 16)
        assert readout.is_good_crc is vector.crc_ok
    first_line = vector.raw[start:].split(b"\r\n")[0].decode()
    assert readout.identification == Identification(first_line[1:4], first_line[4], first_line[5:])
    data_lines = [line for line in vector.raw.decode().split("\r\n") if "(" in line]
    assert [data_set.address for data_set in readout.data_sets] == [
        line[: line.index("(")] for line in data_lines
    ]
    for data_set, line in zip(readout.data_sets, data_lines, strict=True):
        assert len(data_set.values) == line.count("(")
        assert data_set.obis is not None


@pytest.mark.parametrize("vector", vectors_of("p1"))
def test_vector_split_at_every_byte_and_byte_by_byte(vector: Vector) -> None:
    expected = summary(ModeDReader().read(vector.raw))
    for cut in range(1, len(vector.raw)):
        chunks = [vector.raw[:cut], vector.raw[cut:]]
        assert summary(read_chunks(ModeDReader(), chunks)) == expected, cut
    assert summary(read_chunks(ModeDReader(), in_chunks(vector.raw, 1))) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 500, 4096, 65536])
def test_back_to_back_readouts_in_any_chunk_size(size: int) -> None:
    stream = (b"".join(TELEGRAMS) + b"\r\n") * 3
    readouts = read_chunks(ModeDReader(), in_chunks(stream, size))
    assert [readout.as_bytes for readout in readouts] == TELEGRAMS * 3
    assert all(readout.is_valid for readout in readouts)


@settings(max_examples=40, deadline=None)
@given(
    junks=st.lists(st.binary(max_size=60), min_size=len(TELEGRAMS) + 1),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=15),
)
def test_random_junk_and_random_chunking(junks: list[bytes], cuts: list[int]) -> None:
    # Without "/" the junk cannot start a readout: the result is fully determined.
    junks = [junk.replace(b"/", b"") for junk in junks[: len(TELEGRAMS) + 1]]
    stream = b"".join(junk + item for junk, item in zip(junks, TELEGRAMS, strict=False))
    stream += junks[-1]
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    chunks = [stream[a:b] for a, b in pairwise(points)]
    reader = ModeDReader()
    assert summary(read_chunks(reader, chunks)) == [(item, True) for item in TELEGRAMS]
    assert reader.discarded_bytes == sum(len(junk) for junk in junks)


def test_wrong_crc_is_invalid() -> None:
    good = next(v.raw for v in P1_VECTORS if v.id == "amshan_p1_ell5_se")
    wrong_data = good.replace(b"(234.4*V)", b"(234.5*V)")
    wrong_digits = good.replace(b"!80FF", b"!80FE")
    for raw in (wrong_data, wrong_digits):
        (readout,) = ModeDReader().read(raw)
        assert readout.is_good_crc is False
        assert not readout.is_valid
        assert readout.crc is not None
    (lower,) = ModeDReader().read(good.replace(b"!80FF", b"!80ff"))
    assert lower.is_valid


def test_bare_exclamation_mark_has_no_crc() -> None:
    raw = telegram(["1-0:1.8.0(00001.000*kWh)"], crc=False)
    (readout,) = ModeDReader().read(raw)
    assert (readout.crc, readout.is_good_crc, readout.is_valid) == (None, None, True)
    assert readout.payload.endswith(b"\r\n!")


def test_multi_value_lines_and_gas_readings() -> None:
    xmx = next(v.raw for v in P1_VECTORS if v.id == "amshan_p1_dsmr42_xmx_no_crc")
    (readout,) = ModeDReader().read(xmx)
    by_address = {data_set.address: data_set for data_set in readout.data_sets}
    assert by_address["1-0:99.97.0"].values == (
        DataValue("5", None),
        DataValue("0-0:96.7.19", None),
        DataValue("170520130938S", None),
        DataValue("0000005627", "s"),
        DataValue("170325044014W", None),
        DataValue("0043178677", "s"),
    )
    assert by_address["0-1:24.2.1"] == DataSet(
        "0-1:24.2.1",
        (DataValue("180924130000S", None), DataValue("04890.857", "m3")),
        (0, 1, 24, 2, 1),
    )
    assert by_address["0-0:96.13.1"].values == (DataValue("", None),)


def test_lowercase_units_are_kept_as_written() -> None:
    ell = next(v.raw for v in P1_VECTORS if v.id == "amshan_p1_ell5_se")
    (readout,) = ModeDReader().read(ell)
    units = {data_set.address: data_set.values[0].unit for data_set in readout.data_sets}
    assert units["1-0:3.8.0"] == "kvarh"
    assert units["1-0:3.7.0"] == "kvar"
    assert units["1-0:1.7.0"] == "kW"


def test_dsmr22_continuation_line_and_lines_without_prefix() -> None:
    raw = telegram(
        [
            "0-1:24.3.0(121030140000)(00)(60)(1)(0-1:24.2.1)(m3)",
            "(00000.000)",
            "1.8.0(001234.5*kWh)",
            "F.F(00000000)",
            "no values here",
            "(1)(2)",
            "C.1.0(12345678",
        ],
        ident="/ISk5\\2ME382-1003",
        crc=False,
    )
    (readout,) = ModeDReader().read(raw)
    assert readout.is_valid
    gas, energy, error = readout.data_sets
    assert gas.values[-1] == DataValue("00000.000", None)
    assert len(gas.values) == 7  # the continuation "(1)(2)" belongs to F.F, not gas
    assert energy == DataSet("1.8.0", (DataValue("001234.5", "kWh"),), (1, 0, 1, 8, 0))
    assert error.obis is None
    assert [value.value for value in error.values] == ["00000000", "1", "2"]


def test_continuation_without_a_previous_line_is_ignored() -> None:
    assert parse_data_sets(b"/ABC5x\r\n\r\n(123)\r\n!") == ()


@pytest.mark.parametrize(
    ("address", "obis"),
    [
        ("1-0:1.8.0", (1, 0, 1, 8, 0)),
        ("0-1:24.2.1", (0, 1, 24, 2, 1)),
        ("1.8.0", (1, 0, 1, 8, 0)),
        ("1-0:1.8", (1, 0, 1, 8, 255)),
        ("1-0:1.8.0*255", (1, 0, 1, 8, 0)),
        ("1-0:1.8.0&255", (1, 0, 1, 8, 0)),
        ("1.8.0*01", None),
        ("F.F", None),
        ("C.1.0", None),
        ("0-0:C.1.0", None),
        ("1-0:256.8.0", None),
        ("1-0:1.8.0.1", None),
        ("", None),
    ],
)
def test_obis_of_addresses(address: str, obis: tuple[int, ...] | None) -> None:
    assert parse_obis(address) == obis


def test_values_without_unit_or_with_an_empty_one() -> None:
    (data_set,) = parse_data_sets(b"/ABC5x\r\n\r\n1-0:1.8.0(5*)(7)()(8*kWh)trailing\r\n!")
    assert data_set.values == (
        DataValue("5", None),
        DataValue("7", None),
        DataValue("", None),
        DataValue("8", "kWh"),
    )


def test_restart_in_the_middle_of_a_readout() -> None:
    complete = telegram(["1-0:1.8.0(00001.000*kWh)"])
    for cut in (5, 20, len(complete) - 8):
        for separator in (b"", b"\r\n"):
            stream = complete[:cut] + separator + complete
            for size in (1, 13, len(stream)):
                reader = ModeDReader()
                readouts = read_chunks(reader, in_chunks(stream, size))
                assert summary(readouts) == [(complete[:cut] + separator, False), (complete, True)]
                assert reader.discarded_bytes == 0


def test_crc_without_line_end_and_odd_line_ends() -> None:
    first = telegram(["1-0:1.8.0(1*kWh)"])
    second = telegram(["1-0:2.8.0(2*kWh)"])
    no_crlf = first[:-2]
    only_lf = first[:-2] + b"\n"
    only_cr = first[:-2] + b"\r"
    stream = no_crlf + second + only_lf + only_cr + b"x" + second
    readouts = ModeDReader().read(stream)
    assert summary(readouts) == [
        (no_crlf, True),
        (second, True),
        (only_lf, True),
        (only_cr, True),
        (second, True),
    ]
    # Without a CRC only the form vouches for a readout: its "!" must end a line.
    bare = telegram(["1-0:1.8.0(1*kWh)"], crc=False)
    stream = bare[:-2] + second + bare[:-2] + b"\n" + bare[:-2] + b"\r" + second
    assert [r.is_valid for r in ModeDReader().read(stream)] == [False, True, True, False, True]


def test_mangled_crc_digits() -> None:
    raw = telegram(["1-0:1.8.0(1*kWh)"])
    (readout,) = ModeDReader().read(raw[:-6] + b"12\r\n")
    assert (readout.crc, readout.is_good_crc, readout.is_valid) == (None, False, False)


def test_readout_start_split_across_chunks() -> None:
    raw = telegram(["1-0:1.8.0(1*kWh)"])
    for cut in range(1, 6):
        reader = ModeDReader()
        assert reader.read(b"junk" + raw[:cut]) == []
        assert reader.buffered_bytes == cut
        assert reader.discarded_bytes == 4
        assert summary(reader.read(raw[cut:])) == [(raw, True)]


def test_slash_without_a_manufacturer_flag_is_junk() -> None:
    raw = telegram(["1-0:1.8.0(1*kWh)"])
    reader = ModeDReader()
    assert summary(reader.read(b"/1/ab/" + raw)) == [(raw, True)]
    assert reader.discarded_bytes == 6


def oversized(size: int) -> bytes:
    """The shortest readout of repeated lines longer than ``size`` bytes."""
    line = "1-0:1.8.0(00001.000*kWh)"
    count = size // (len(line) + 2) - 1
    while len(telegram([line] * count)) <= size:
        count += 1
    return telegram([line] * count)


def test_readout_over_the_cap_is_dropped() -> None:
    big = oversized(MAX_READOUT_BYTES)
    good = telegram(["1-0:1.8.0(1*kWh)"])
    assert len(big) > MAX_READOUT_BYTES
    for size in (1000, 4096, len(big) + len(good)):
        reader = ModeDReader()
        readouts = read_chunks(reader, in_chunks(big + good, size))
        assert summary(readouts) == [(good, True)]
        assert reader.discarded_bytes == len(big)
    lines = big.decode().split("\r\n")[2:-2]
    just_fits = telegram(lines[:-1])
    assert len(just_fits) <= MAX_READOUT_BYTES
    assert [r.is_valid for r in read_chunks(ModeDReader(), in_chunks(just_fits, 1000))] == [True]


def test_restart_after_an_oversized_partial_readout() -> None:
    big = oversized(MAX_READOUT_BYTES)
    good = telegram(["1-0:1.8.0(1*kWh)"])
    partial = big[: MAX_READOUT_BYTES + 10]
    reader = ModeDReader()
    assert summary(reader.read(partial + good)) == [(good, True)]
    assert reader.discarded_bytes == len(partial)


def test_oversized_readout_waiting_for_its_crc_is_dropped() -> None:
    big = oversized(MAX_READOUT_BYTES)
    bang = big.rindex(b"!")
    good = telegram(["1-0:1.8.0(1*kWh)"])
    reader = ModeDReader()
    assert reader.read(big[: bang + 1]) == []
    assert reader.buffered_bytes == 0
    assert summary(reader.read(big[bang + 1 :] + good)) == [(good, True)]
    assert reader.discarded_bytes == len(big)


def test_unterminated_junk_after_a_start_is_dropped_at_the_cap() -> None:
    reader = ModeDReader()
    data = b"/ABC5" + b"x" * (3 * MAX_READOUT_BYTES)
    for chunk in in_chunks(data, 4096):
        assert reader.read(chunk) == []
        assert reader.buffered_bytes <= MAX_READOUT_BYTES
    good = telegram(["1-0:1.8.0(1*kWh)"])
    assert summary(reader.read(good)) == [(good, True)]
    assert reader.discarded_bytes == len(data)


def test_data_sets_are_parsed_once_and_may_be_given() -> None:
    (readout,) = ModeDReader().read(TELEGRAMS[0])
    assert readout.data_sets is readout.data_sets
    given_sets = (DataSet("x", (), None),)
    made = DataReadout(b"/", None, b"/", given_sets)
    assert made.data_sets is given_sets
    assert made == DataReadout(b"/", None, b"/")  # data sets do not take part in ==


def test_data_lines_with_and_without_parsed_data_sets() -> None:
    raw = telegram(["1-0:1.8.0(1*kWh)", "0-1:24.2.1(180924130000S)(04890.857*m3)", "(7)"])
    expected = [("1-0:1.8.0", "1*kWh"), ("0-1:24.2.1", "180924130000S)(04890.857*m3)(7")]
    (readout,) = ModeDReader().read(raw)
    assert readout.data_lines() == expected
    assert len(readout.data_sets) == 2
    assert readout.data_lines() == expected


def test_is_valid_needs_identification_and_an_end() -> None:
    raw = telegram(["1-0:1.8.0(1*kWh)"], crc=False)
    (readout,) = ModeDReader().read(raw)
    assert readout.is_valid
    ident = readout.identification
    assert not DataReadout(raw, None, readout.payload).is_valid
    assert not DataReadout(raw, ident, readout.payload[:-1]).is_valid
    assert not DataReadout(raw, ident, readout.payload, None, 0x1234, False).is_valid
    crc_raw = telegram(["1-0:1.8.0(1*kWh)"])
    assert DataReadout(crc_raw, ident, crc_raw[:-2], None, 1, True).is_valid


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"/KAM5", Identification("KAM", "5", "")),
        (b"/ELL5\\253833635_A\r\n\r\n", Identification("ELL", "5", "\\253833635_A")),
        (b"/KA\r\n", None),
        (b"xKAM5\r\n", None),
    ],
)
def test_identification_line(payload: bytes, expected: Identification | None) -> None:
    assert parse_identification(payload) == expected


def test_binary_inside_a_readout_never_raises() -> None:
    raw = telegram(["1-0:1.8.0(\xff\x00*k\x85W)", "\x00\x01(\x80)"])
    (readout,) = ModeDReader().read(raw)
    assert readout.is_valid
    assert readout.data_sets[0].values[0].unit == "k\x85W"


def test_each_readout_has_the_identification_of_its_own_first_line() -> None:
    # The reader parses an identification line once and reuses it while it repeats.
    one = telegram(["1-0:1.7.0(1*kW)"], ident="/ABC5One")
    two = telegram(["1-0:1.7.0(1*kW)"], ident="/XYZ6Two\\2")
    readouts = ModeDReader().read(one + two + two + one)
    assert [readout.identification for readout in readouts] == [
        Identification("ABC", "5", "One"),
        Identification("XYZ", "6", "Two\\2"),
        Identification("XYZ", "6", "Two\\2"),
        Identification("ABC", "5", "One"),
    ]
    assert [readout.is_valid for readout in readouts] == [True] * 4
