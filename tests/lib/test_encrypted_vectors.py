"""Encrypted vectors end to end: reader -> AutoDecoder (join, decrypt, decode) -> values.

Besides the repository's vectors, a few published samples with their keys are checked:
Noschvie/shrdzm@0582f38e6bc750e394dc1226b589ecad059e80b6
code/SHRDZMDevice/Device_IM350.cpp (commented sample frames and keys of a Siemens IM350,
an Iskra AM550, an IM350 from Wels and a Sagemcom T210-D from Styria) and the annotated
Landis+Gyr E450 (Wiener Netze) plaintext in
aburgr/smartmeter-reader@361f81fd0667636553913c9b24b3ea3231819146 decode.py. Those
sources state the layout but no values, so their values below are read from the bytes
(regression checks of the layout mapping, not independent evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from custom_components.han_meter.amshan import positional
from custom_components.han_meter.amshan.apdu_reader import CipheredApduReader
from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_hdlc_frame, build_meter_frame
from custom_components.han_meter.amshan.builder_security import encrypt_apdu
from custom_components.han_meter.amshan.cosem import DataNotification
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.mbus import MbusFrameReader
from custom_components.han_meter.amshan.reading import MeterReading
from custom_components.han_meter.amshan.reassembly import MbusAssembler
from tests.conftest import VECTORS, Vector, vectors_of

ENCRYPTED = vectors_of("dlms-encrypted", "p1-encrypted")
WRONG = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")


def keys(vector: Vector) -> tuple[bytes, bytes | None]:
    assert vector.keys is not None
    encryption = vector.keys["encryption_key"]
    auth = vector.keys["authentication_key"]
    assert encryption is not None
    return bytes.fromhex(encryption), None if auth is None else bytes.fromhex(auth)


def messages(raw: bytes) -> Sequence[object]:
    """The stream cut into messages by the reader its first byte calls for."""
    reader = {0x7E: HdlcFrameReader, 0x68: MbusFrameReader, 0xDB: CipheredApduReader}[raw[0]]()
    found = reader.read(raw)
    assert found
    assert all(message.is_valid for message in found)
    return found


def decode_stream(decoder: AutoDecoder, raw: bytes) -> list[MeterReading | None]:
    return [decoder.decode_message(message) for message in messages(raw)]


def gbt_blocks(apdu: bytes, size: int) -> list[bytes]:
    """``apdu`` cut into General Block Transfer blocks of ``size`` data bytes."""
    pieces = [apdu[start : start + size] for start in range(0, len(apdu), size)]
    blocks = []
    for number, piece in enumerate(pieces, start=1):
        control = 0xC0 if number == len(pieces) else 0x40
        length = bytes([len(piece)]) if len(piece) < 0x80 else bytes([0x81, len(piece)])
        blocks.append(bytes([0xE0, control, 0, number, 0, 0]) + length + piece)
    return blocks


def hdlc_segments(information: bytes, size: int | None) -> bytes:
    """HDLC frames carrying ``information``, segmented every ``size`` bytes (None: one)."""
    if size is None:
        return build_hdlc_frame(information)
    parts = [information[start : start + size] for start in range(0, len(information), size)]
    return b"".join(
        build_hdlc_frame(part, segmentation=index < len(parts) - 1)
        for index, part in enumerate(parts)
    )


def assert_expected(reading: MeterReading | None, expect: dict[str, Any]) -> None:
    assert reading is not None
    for key, value in expect.items():
        got = reading[key]
        if isinstance(got, datetime):
            got = got.strftime("%Y-%m-%dT%H:%M:%S")
        assert got == value, key


@pytest.mark.parametrize("vector", ENCRYPTED)
def test_vector_decodes_through_decode_message(vector: Vector) -> None:
    decoder = AutoDecoder(*keys(vector))
    results = decode_stream(decoder, vector.raw)
    assert all(result is None for result in results[:-1])
    assert decoder.last_error is None
    if vector.decodes:
        assert_expected(results[-1], vector.expect)
    else:
        assert results[-1] is None


def content_pieces(vector: Vector) -> list[bytes]:
    """What decode_frame_content can take: HDLC payloads in order, or the joined M-Bus APDU."""
    if vector.raw[0] == 0x68:
        assembler = MbusAssembler()
        joined = [assembler.feed(f.control_information, f.payload) for f in messages(vector.raw)]
        return [joined[-1]] if joined[-1] is not None else []
    if vector.raw[0] == 0x7E:
        return [frame.payload for frame in HdlcFrameReader().read(vector.raw)]
    return [vector.raw]


@pytest.mark.parametrize("vector", ENCRYPTED)
def test_vector_decodes_through_decode_frame_content(vector: Vector) -> None:
    decoder = AutoDecoder(*keys(vector))
    results = [decoder.decode_frame_content(piece) for piece in content_pieces(vector)]
    assert all(result is None for result in results[:-1])
    if vector.decodes:
        assert_expected(results[-1], vector.expect)
    else:
        assert results[-1] is None
    assert decoder.last_error is None


@pytest.mark.parametrize("vector", ENCRYPTED)
def test_without_key(vector: Vector) -> None:
    decoder = AutoDecoder()
    assert all(result is None for result in decode_stream(decoder, vector.raw))
    assert decoder.last_error == "encrypted_no_key"


@pytest.mark.parametrize("vector", ENCRYPTED)
def test_wrong_encryption_key(vector: Vector) -> None:
    decoder = AutoDecoder(WRONG, keys(vector)[1])
    assert all(result is None for result in decode_stream(decoder, vector.raw))
    assert decoder.last_error == "wrong_key"


@pytest.mark.parametrize("vector", ENCRYPTED)
def test_wrong_authentication_key(vector: Vector) -> None:
    encryption_key, authentication_key = keys(vector)
    decoder = AutoDecoder(encryption_key, WRONG)
    results = decode_stream(decoder, vector.raw)
    if authentication_key is None:  # encrypt-only frames carry no tag: nothing to check
        assert decoder.last_error is None
        assert (results[-1] is not None) == vector.decodes
    else:
        assert all(result is None for result in results)
        assert decoder.last_error == "wrong_authentication_key"


def test_decoder_recovers_after_a_key_error() -> None:
    vector = next(v for v in VECTORS if v.id == "dlmsparser_kamstrup_omnipower_encrypted_hdlc")
    decoder = AutoDecoder(*keys(vector))
    compressed = b"\xdb\x08" + bytes(8) + b"\x05\xb0\x00\x00\x00\x01"
    assert decoder.decode_frame_content(compressed) is None
    assert decoder.last_error == "unsupported_security"
    assert decode_stream(decoder, vector.raw)[-1] is not None
    assert decoder.last_error is None


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        AutoDecoder(b"\x00" * 15)
    with pytest.raises(ValueError, match="authentication key must be 16 bytes"):
        AutoDecoder(bytes(16), b"\x00" * 17)


# --- published samples (see the module doc) ----------------------------------------

IM350 = (
    "7EA079CF0002002313D986E6E700DB08534D53677004C4465F200001A92916FC1EF62AB5F476F8A59772"
    "745CC99365500ACF5EBEEA82F95581762C2D18804A1E7F7700FB10752F04D9344779C6A332C973EAF3CF"
    "375095D1821E87C68909EE47759AD925976C42E4D92FF9727E4213FDEE5F1ABE45D9D97F5E5E7E",
    "612888F59306A7855AC5C08CB3A96B39",
)
AM550 = (
    "7EA077CF022313BB45E6E700DB0849534B69745CF6C95F200000046BB45F8F43980519E16E36BC0C7198"
    "EB0E9CF1E0DF6A227D63C3F24852486F4A0CE8AA187991BF1C44544F62BBBB75BEEB4CDB549D7CF525CD"
    "95E6D82D2BE1C7F2ED84505402317F84AEB2A285508EC1B072553C39CD928F1F492941F67E",
    "62F9445B069BA866068B8036F2612030",
)
IM350_WELS = (
    "7EA070CF0002002313E0C7E6E700DB08534D53677002FD6256200000BE34111B482F835CF05AACA84AE6"
    "BEDD7EE0F17132CEC104495BD7E9C7F258775072AB713296B1E4CC9BE98468E24D194237365949209A5D"
    "6CA42584EB9BB7F5F7E50E5304886F3DA7A9342D157553B2E48A175D907E",
    "5A9AFEB2A17E6CF0CBAF98C8300ED9D7",
)
SAGEMCOM_STYRIA = (
    "DB08534147350000D28F8201F230000050A5F569179254242B91A93C6A120EFD5FC8344D78351D1F0EF1"
    "A43F3C7545496374A7EC7DC175B5E836C79AA5AB7A40B359CF8EA911BA8C1C6B22CBB0F9AF44689F9622"
    "1C183FCE646E770B54F32A7F48DC0AA2C10AAFD9BDA84EFA07731496EE94A0A288545BE53D7686270AE1"
    "4CE38AF997B8497CAC4D3FF824BFFE51229BD7AC4C1A24E5BD7FD994E8BA4730662E4AD3C6646D9D21B6"
    "6C8221D0A9D677552161F0EBC1D1399CE8366F060CC61225820BC5D2C1F3DEC94EDD36A021120D5AA372"
    "E308A2AFB119E55C1846597BC031F55005F08360DF578E1BE40F1237A81CCA187BF536278BAA42202171"
    "6C39BEF9C2F364FDE526F4E6EAE354879A5CFFD433B1887C5DEB5FEAA3281CCD526E96FCF587D57CE114"
    "80B399981E8D1560532D31F944F8896D7CE7938E7DCC76F93074DE90CCF3A65198894029B959FC685983"
    "BA5739FBC5D8378ACA3C1C8F48487A4F295B9F29198F50E6342AF502ED5E268CECF7D0141A8348C9F1BC"
    "0EB8E8A9E47CBF96BFF2C74DEEF5DD977F5A30E4086DB60C3D6963443254306E96292568089225D4AB1E"
    "2DA6425EAF30CA07B915E5FBC90732B18E635EED493ABC6A2C7B6D9EADCEF97EF261B336630DABE74BE8"
    "9A814ED9662CFDCAF95B610637CFE4DF927150DC7E6DDE3198FF9B56399188B51C44A302DB7D39C74764"
    "474FABB075724D",
    "953E7F1725EA910F26E053813A639094",
)
# aburgr/smartmeter-reader decode.py: a decrypted push with every field annotated
# (+A Wh, -A Wh, +R varh, -R varh, +P W, -P W, +Q var, -Q var).
WIEN_E450_PLAINTEXT = (
    "0f0059a3740c07e5011b03100b2d00ffc40002090" + "90c07e5011b03100b2d00ffc400"
    "06004484bc060000053e060001004b06001c20f1060000017606000000000600000000" + "06000000f4"
)


@pytest.mark.parametrize(
    ("sample", "expect"),
    [
        (
            IM350,
            {
                "meter_id": "2221202033801",
                "meter_datetime": "2021-03-07T14:55:33",
                "active_power_import_total": 2946830,
                "active_power_export_total": 0,
                "reactive_power_import_total": 887,
                "reactive_power_export_total": 2116972,
                "active_power_import": 73,
                "active_power_export": 0,
            },
        ),
        (
            AM550,
            {
                "meter_id": "1121273201353",
                "meter_datetime": "2021-03-25T19:01:14",
                "active_power_import_total": 9534290,
                "active_power_export_total": 2896624,
                "active_power_import": 738,
            },
        ),
        (
            IM350_WELS,
            {
                "meter_id": "18037098",
                "meter_datetime": "2021-05-19T10:08:23",
                "active_power_import_total": 3531997,
                "reactive_power_export_total": 282666,
                "active_power_import": 146,
            },
        ),
        (
            SAGEMCOM_STYRIA,
            {
                "meter_datetime": "2021-09-29T11:47:30",
                "active_power_import_total": 14159934,
                "active_power_import_total_t1": 8520922,
                "active_power_import_total_t2": 5639012,
                "active_power_import": 544,
                "active_power_export_total": 7086646,
                "active_power_export": 1803,
                "reactive_power_export_total": 19308370,
                "reactive_power_export": 1659,
                "meter_manufacturer": "EST",
            },
        ),
    ],
    ids=["im350", "am550", "im350_wels", "sagemcom_t210d_styria"],
)
def test_published_samples(sample: tuple[str, str], expect: dict[str, Any]) -> None:
    raw, key = bytes.fromhex(sample[0]), bytes.fromhex(sample[1])
    decoder = AutoDecoder(key)
    (reading,) = decode_stream(decoder, raw)
    assert_expected(reading, expect)
    assert decoder.last_error is None
    without_key = AutoDecoder()
    assert decode_stream(without_key, raw) == [None]
    assert without_key.last_error == "encrypted_no_key"


def test_wiener_netze_e450_annotated_plaintext() -> None:
    reading = AutoDecoder().decode_frame_content(bytes.fromhex(WIEN_E450_PLAINTEXT))
    assert_expected(
        reading,
        {
            "meter_datetime": "2021-01-27T16:11:45",
            "active_power_import_total": 0x4484BC,
            "active_power_export_total": 0x53E,
            "reactive_power_import_total": 0x1004B,
            "reactive_power_export_total": 0x1C20F1,
            "active_power_import": 0x176,
            "active_power_export": 0,
            "reactive_power_import": 0,
            "reactive_power_export": 0xF4,
        },
    )


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"\x00" * 12,
        [1, 2, 3],  # no layout of 3 values
        [bytes(12), *range(8)],  # 12 zero bytes are no date
        ["text", *range(8)],  # 9 values but the first is no clock
        [bytes(12), *range(7), -1],  # negative number
        [b"\x00\x00\x01\x00\x00\xff", b"1234", bytes(4), bytes(5), *range(6)],  # wrong code
        [b"\x00\x06\x19\x09\x00\xff", b"\x01\x02", bytes(4), bytes(5), *range(6)],  # not text
    ],
)
def test_positional_refuses_other_bodies(body: Any) -> None:
    assert positional.layout_of(body) is None
    assert positional.decode(DataNotification(0, None, body)) is None


def test_positional_layouts_are_recognised() -> None:
    code = b"\x00\x06\x19\x09\x00\xff"
    short = [code, b"18037098", bytes(4), bytes(5), *range(6)]
    assert positional.layout_of(short) == "oe_push_short"
    assert positional.layout_of([*short, b"", b""]) == "oe_push"
    assert positional.layout_of([*short, b"", b"x"]) is None
    clock = bytes.fromhex("07e5011b03100b2d00ffc400")
    assert positional.layout_of([clock, *range(8)]) == "wien_e450"


@pytest.mark.parametrize("control", [0x20, 0x30])
@pytest.mark.parametrize("block_size", [None, 40, 200])
@pytest.mark.parametrize("segment_size", [None, 50])
def test_built_frame_encrypted_split_and_rejoined(
    control: int, block_size: int | None, segment_size: int | None
) -> None:
    """A plain Aidon list 3 frame, encrypted, cut in GBT blocks and HDLC segments, decodes
    to the same reading as the plain frame."""
    values = {
        "list_ver_id": "AIDON_V0001",
        "meter_id": "7359992890941742",
        "meter_type": "6525",
        "active_power_import": 1202,
        "active_power_import_total": 1234567,
        "current_l1": 5.2,
        "voltage_l1": 231.4,
    }
    plain_frame = build_meter_frame("aidon", values, timestamp=datetime(2024, 5, 1, 12, 0, 0))
    (plain,) = HdlcFrameReader().read(plain_frame)
    expected = AutoDecoder().decode_message(plain)
    assert expected is not None
    key, auth = bytes(range(16)), bytes(range(16, 32))
    apdu = encrypt_apdu(plain.payload[3:], b"AID\x00\x00\x00\x00\x01", 77, key, auth, control)
    pieces = [apdu] if block_size is None else gbt_blocks(apdu, block_size)
    pieces[0] = b"\xe6\xe7\x00" + pieces[0]
    stream = b"".join(hdlc_segments(piece, segment_size) for piece in pieces)
    decoder = AutoDecoder(key, auth)
    results = decode_stream(decoder, stream)
    assert all(result is None for result in results[:-1])
    assert results[-1] == expected
    assert results[-1] is not None
    assert results[-1].units == expected.units


def test_positional_frames_repeat_with_new_values() -> None:
    """A second frame of the same layout (new clock, time field and values) decodes to what
    a fresh decoder gives: nothing of the first frame is kept."""
    raw, key = bytes.fromhex(IM350[0]), bytes.fromhex(IM350[1])
    (frame,) = HdlcFrameReader().read(raw)
    plain = AutoDecoder(key).unwrapper.unwrap_content(frame.payload)
    assert plain is not None
    changed = bytearray(plain)
    changed[12] += 1  # header clock: minute
    time_at = plain.index(bytes.fromhex("09040e372100")) + 2
    changed[time_at + 1] += 1  # the time field
    a_plus_at = plain.index((2946830).to_bytes(4, "big"))
    changed[a_plus_at : a_plus_at + 4] = (2946900).to_bytes(4, "big")
    decoder = AutoDecoder()
    first = decoder.decode_frame_content(plain)
    second = decoder.decode_frame_content(bytes(changed))
    assert first is not None
    assert second == AutoDecoder().decode_frame_content(bytes(changed))
    assert second is not None
    assert second["active_power_import_total"] == 2946900
    assert second["meter_datetime"] != first["meter_datetime"]
