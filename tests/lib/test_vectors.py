"""Every plain captured vector decodes to the values its source states, by every path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.amshan.dlde import ModeDReader
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.reading import MeterReading
from tests.conftest import VECTORS, Vector, vectors_of

PLAIN_KINDS = ("hdlc-frame", "dlms-apdu", "p1")
SPLIT_VECTORS = (
    "hassams_aidon_6534_list2",
    "amshan_kaifa_se_list",
    "hassams_kaifa_ma304h3e_no_list3",
    "hassams_kamstrup_list2_hourly_3ph",
    "amshan_kaifa_list1_with_0x7e_in_payload",
    "amshan_p1_kamstrup_kam5_se",
    "amshan_p1_dsmr42_xmx_no_crc",
)


def comparable(key: str, value: Any) -> Any:
    """meter_datetime as its wall time text; everything else as it is."""
    if key == "meter_datetime" and isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    return value


def assert_expected(vector: Vector, readings: list[MeterReading]) -> None:
    if not vector.valid or not vector.decodes:
        assert readings == []
        return
    assert len(readings) == 1
    reading = readings[0]
    assert reading
    for key, expected in vector.expect.items():
        assert key in reading, f"{vector.id}: {key} missing"
        got = comparable(key, reading[key])
        assert got == expected, f"{vector.id}: {key} = {got!r}, expected {expected!r}"
        assert type(got) is not bool


def stream_of(vector: Vector) -> bytes:
    """The bytes on the line: DLMS APDUs and bodies travel in an HDLC frame."""
    if vector.kind == "dlms-apdu":
        return build_hdlc_frame(vector.raw)
    return vector.raw


def read_messages(vector: Vector, pieces: list[bytes]) -> list[Any]:
    reader: HdlcFrameReader | ModeDReader = (
        ModeDReader() if vector.kind == "p1" else HdlcFrameReader()
    )
    messages: list[Any] = []
    for piece in pieces:
        messages += reader.read(piece)
    return messages


def contents_of(vector: Vector) -> list[bytes]:
    """What a transport layer hands to decode_frame_content for this vector."""
    if vector.kind == "hdlc-frame":
        return [frame.payload for frame in HdlcFrameReader().read(vector.raw) if frame.is_valid]
    return [vector.raw]


def decode_all(decoder: AutoDecoder, messages: list[Any]) -> list[MeterReading]:
    return [r for r in map(decoder.decode_message, messages) if r is not None]


@pytest.mark.parametrize("vector", vectors_of(*PLAIN_KINDS))
def test_decode_frame_content(vector: Vector) -> None:
    decoder = AutoDecoder()
    readings = [r for r in map(decoder.decode_frame_content, contents_of(vector)) if r]
    assert_expected(vector, readings)


@pytest.mark.parametrize("vector", vectors_of(*PLAIN_KINDS))
def test_reader_and_decode_message(vector: Vector) -> None:
    decoder = AutoDecoder()
    messages = read_messages(vector, [stream_of(vector)])
    assert messages
    assert_expected(vector, decode_all(decoder, messages))


@pytest.mark.parametrize("vector", vectors_of(*PLAIN_KINDS))
def test_repeated_frames_decode_the_same(vector: Vector) -> None:
    """The third frame of a layout comes from the remembered template: same result."""
    decoder = AutoDecoder()
    contents = contents_of(vector)
    first = [decoder.decode_frame_content(c) for c in contents]
    for _ in range(3):
        again = [decoder.decode_frame_content(c) for c in contents]
        assert again == first
        for before, after in zip(first, again, strict=True):
            assert before is None or after is not None
            if before is not None and after is not None:
                assert after.units == before.units
                assert {k: type(v) for k, v in after.items()} == {
                    k: type(v) for k, v in before.items()
                }


@pytest.mark.parametrize(
    "vector", [p for p in vectors_of(*PLAIN_KINDS) if p.values[0].id in SPLIT_VECTORS]
)
def test_stream_split_at_every_byte(vector: Vector) -> None:
    stream = stream_of(vector)
    expected = decode_all(AutoDecoder(), read_messages(vector, [stream]))
    assert expected
    decoder = AutoDecoder()
    for split in range(1, len(stream)):
        pieces = [stream[:split], stream[split:]]
        assert decode_all(decoder, read_messages(vector, pieces)) == expected


def test_every_vector_split_once_in_the_middle() -> None:
    for vector in VECTORS:
        if vector.kind not in PLAIN_KINDS:
            continue
        stream = stream_of(vector)
        middle = len(stream) // 2
        pieces = [stream[:middle], stream[middle:]]
        assert_expected(vector, decode_all(AutoDecoder(), read_messages(vector, pieces)))


@pytest.mark.parametrize("vector", vectors_of("dlms-encrypted", "p1-encrypted"))
def test_plaintext_of_encrypted_vectors_decodes(vector: Vector) -> None:
    """The decrypted APDUs are plain data for the decoders (decryption is tested elsewhere)."""
    assert vector.expect_plaintext is not None
    reading = AutoDecoder().decode_frame_content(vector.expect_plaintext)
    assert_expected(vector, [] if reading is None else [reading])
