"""Bugs the fuzzers found, reproduced exactly; each test now asserts the fix.

A new bug gets a test here marked ``xfail(strict=True)`` (it fails the suite as XPASS
once the bug is fixed, so the marker, and any matching entry of ``common.KNOWN_BUGS``,
goes with the fix).
"""

from __future__ import annotations

import pytest

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from tests.conftest import VECTORS

VECTOR = {vector.id: vector for vector in VECTORS}


def _content(code: bytes, value: bytes) -> bytes:
    """LLC + DATA-NOTIFICATION whose body is one Aidon-style {code, value} element."""
    element = b"\x02\x02\x09\x06" + code + value
    return b"\xe6\xe7\x00\x0f\x40\x00\x00\x00\x00\x01\x01" + element


@pytest.mark.parametrize(
    ("code", "value"),
    [
        pytest.param(b"\x01\x00\x01\x07\x00\xff", b"\x0a\x0b12345678901", id="power_as_digits"),
        pytest.param(b"\x01\x00\x01\x07\x00\xff", b"\x0a\x03abc", id="power_as_text"),
        pytest.param(b"\x01\x00\x20\x07\x00\xff", b"\x09\x03\xff\xff\xff", id="voltage_as_octets"),
        pytest.param(
            b"\x01\x00\x01\x08\x00\xff",
            b"\x09\x0c\x07\xe9\x01\x06\x01\x0c\x00\x00\x00\x80\x00\x00",
            id="energy_as_clock",
        ),
        pytest.param(b"\x00\x00\x01\x00\x00\xff", b"\x0a\x00", id="clock_as_text"),
        pytest.param(
            b"\x01\x01\x00\x02\x81\xff",
            b"\x09\x0c\x07\xe9\x01\x06\x01\x0c\x00\x00\x00\x80\x00\x00",
            id="list_version_as_clock",
        ),
    ],
)
def test_value_of_the_wrong_type_is_rejected(code: bytes, value: bytes) -> None:
    """A value whose type does not fit its key is dropped, never published."""
    assert AutoDecoder().decode_frame_content(_content(code, value)) is None


def test_decoding_does_not_depend_on_the_previous_meter() -> None:
    """A frame decodes to the same values whatever the decoder saw before."""
    kaifa_se = HdlcFrameReader().read(build_hdlc_frame(VECTOR["amshan_kaifa_se_list"].raw))[0]
    kamstrup = HdlcFrameReader().read(VECTOR["ams_hdlc_kamstrup_no_3p_list2_gh862"].raw)[0]
    fresh = AutoDecoder().decode_message(kamstrup)
    decoder = AutoDecoder()
    decoder.decode_message(kaifa_se)
    after_kaifa = decoder.decode_message(kamstrup)
    assert fresh is not None
    assert fresh["current_l1"] == 1.06
    assert after_kaifa == fresh


def test_mbus_frame_after_a_truncated_one_is_not_lost() -> None:
    """A frame cut short (bytes lost on the line) costs that frame only."""
    from custom_components.han_meter.amshan.mbus import MbusFrameReader

    good = MbusFrameReader().read(VECTOR["dlmsparser_evn_netz_noe_kaifa_ma309_mbus_encrypted"].raw)
    first = good[0].as_bytes
    assert first[:4] == b"\x68\xfa\xfa\x68"
    assert first[255 - 7] == 0x16  # where the truncated frame's stop byte is looked for
    frames = MbusFrameReader().read(first[:7] + first)
    assert [frame.as_bytes for frame in frames if frame.is_valid] == [first]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\x17\x7f\x80\x00\x01", id="float32_nan"),
        pytest.param(b"\x17\xff\x80\x00\x00", id="float32_minus_infinity"),
        pytest.param(b"\x18\x7f\xf0\x00\x00\x00\x00\x00\x00", id="float64_infinity"),
    ],
)
def test_non_finite_number_is_rejected(value: bytes) -> None:
    """NaN and infinity are never published, whatever the code."""
    assert AutoDecoder().decode_frame_content(_content(b"\x00\x00\x00\x00\x00\xff", value)) is None
