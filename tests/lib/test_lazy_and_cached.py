"""What the speed-ups rest on: cheap imports, lazy set-up, bounded caches, plain records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from custom_components.han_meter.amshan import p1
from custom_components.han_meter.amshan.autodecoder import WRAPPED_APDU_TAGS, AutoDecoder
from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.amshan.dlde import DataValue, Identification, ModeDReader
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.reassembly import GBT_TAG
from custom_components.han_meter.amshan.security import (
    GENERAL_DED_CIPHERING,
    GENERAL_GLO_CIPHERING,
)

PACKAGE_DIR = Path(__file__).parents[2] / "custom_components" / "han_meter"
AIDON_ELEMENT = "020309060100010700ff06{:08x}02020f00161b"  # {1.0.1.7.0, P+, {0, W}}

IMPORT_SCRIPT = """
import sys
before = set(sys.modules)
sys.path.insert(0, {package_dir!r})
import amshan.hdlc, amshan.dlde, amshan.autodecoder
heavy = {{"dataclasses", "inspect", "logging", "re", "typing", "functools", "collections",
         "amshan.unwrap", "amshan.security", "cryptography"}}
print(",".join(sorted(heavy & (set(sys.modules) - before))) or "none")
"""


def telegram(*lines: str) -> bytes:
    return ("\r\n".join(("/ABC5Meter", "", *lines, "!")) + "\r\n").encode("latin-1")


def decode(decoder: p1.P1Decoder, *lines: str) -> p1.MeterReading | None:
    (readout,) = ModeDReader().read(telegram(*lines))
    return decoder.decode(readout)


def test_importing_the_entry_points_pulls_in_no_heavy_module() -> None:
    script = IMPORT_SCRIPT.format(package_dir=str(PACKAGE_DIR))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "none"


def test_records_compare_hash_and_print_by_their_fields() -> None:
    value = DataValue("1.5", "kW")
    assert value == DataValue("1.5", "kW")
    assert value != DataValue("1.5", None)
    assert value != ("1.5", "kW")
    assert hash(value) == hash(DataValue("1.5", "kW"))
    assert repr(value) == "DataValue(value='1.5', unit='kW')"
    assert Identification("KAM", "5", "x") != DataValue("KAM", "5")
    with pytest.raises(AttributeError, match="immutable"):
        value.unit = "W"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del value.unit  # type: ignore[misc]


def test_plain_frames_need_no_unwrapper_and_wrapped_content_makes_one() -> None:
    assert set(WRAPPED_APDU_TAGS) == {
        bytes((tag,)) for tag in (GBT_TAG, GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING)
    }
    decoder = AutoDecoder()
    body = "0f4000000000" + "0101" + AIDON_ELEMENT.format(1202)
    (frame,) = HdlcFrameReader().read(build_hdlc_frame(bytes.fromhex("e6e700" + body)))
    assert decoder.decode_message(frame) == {"active_power_import": 1202}
    assert decoder._unwrapper is None
    assert decoder.last_error is None
    assert decoder.decode_frame_content(bytes.fromhex("db0801020304050607080530")) is None
    assert decoder._unwrapper is not None
    assert decoder.last_error == "encrypted_no_key"


def test_a_segmented_frame_goes_through_the_unwrapper() -> None:
    decoder = AutoDecoder()
    content = bytes.fromhex("e6e7000f4000000000" + "0101" + AIDON_ELEMENT.format(7))
    frames = HdlcFrameReader().read(
        build_hdlc_frame(content[:10], segmentation=True) + build_hdlc_frame(content[10:])
    )
    assert [decoder.decode_message(frame) for frame in frames] == [
        None,
        {"active_power_import": 7},
    ]
    assert decoder.unwrapper.counters.reassembled == 1


def test_p1_plans_follow_the_unit_and_stay_bounded() -> None:
    decoder = p1.P1Decoder()
    assert decode(decoder, "1-0:1.7.0(1.5*kW)") == {
        "active_power_import": 1500,
        "meter_manufacturer": "ABC",
    }
    reading = decode(decoder, "1-0:1.7.0(1.5*kVA)")  # same address, another unit
    assert reading == {"1-0:1.7.0": 1500, "meter_manufacturer": "ABC"}
    assert reading is not None
    assert reading.units == {"1-0:1.7.0": "VA"}
    many = [f"0-0:96.{c}.{e}(1)" for c in range(20, 40) for e in range(20)]
    reading = decode(decoder, *many)
    assert reading is not None
    assert len(reading) == len(many) + 1
    assert len(decoder._plans) <= p1._MAX_PLANS


def test_p1_remembered_texts_stay_bounded() -> None:
    decoder = p1.P1Decoder()
    for _ in range(2):  # the second time from what was remembered
        reading = decode(decoder, "0-1:24.2.1(231102121532W)(00008.579*m3)")
        assert reading is not None
        assert reading["0-1:24.2.1"] == 8.579
    stamps = [
        f"0-{i + 1}:24.2.1(2311{1 + i // 24:02d}{i % 24:02d}0000W)({i}*m3)" for i in range(70)
    ]
    for _ in range(2):
        reading = decode(decoder, *stamps, "0-1:24.2.3(632525252525W)(5*m3)")
        assert reading is not None
        assert reading["0-70:24.2.1"] == 69
        assert "0-1:24.2.3" not in reading  # not a valid timestamp: not a value
    ids = [f"0-{b}:96.1.1({b:02x}{b + 1:02x}4142)" for b in range(1, 80)]
    reading = decode(decoder, *ids, "0-0:96.1.1(0001)", "0-0:0.2.129(V1)")
    assert reading is not None
    assert reading["0-5:96.1.1"] == "05064142"  # not printable ASCII: kept as written
    assert reading["0-79:96.1.1"] == "OPAB"
    assert reading["meter_id"] == "0001"
    assert reading["list_ver_id"] == "V1"
    assert len(decoder._stamps) <= p1._MAX_REMEMBERED
    assert len(decoder._identifiers) <= p1._MAX_REMEMBERED
