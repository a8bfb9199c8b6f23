"""Frame builder: valid HDLC frames, DATA-NOTIFICATIONs and P1 telegrams from values.

For tests and the meter simulator. Everything here is deterministic: the same
arguments give the same bytes. Misuse (a value that does not fit its field, an
unknown meter, a frame too long) raises ``ValueError`` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .builder_axdr import (
    TAG_DOUBLE_LONG,
    TAG_DOUBLE_LONG_UNSIGNED,
    TAG_LONG_UNSIGNED,
    encode_array,
    encode_cosem_datetime,
    encode_length,
    encode_obis,
    encode_octet_string,
    encode_scaled_element,
    encode_structure,
    encode_visible_string,
    scaled_integer,
)
from .builder_layouts import build_meter_message
from .builder_p1 import build_p1_readout
from .crc import crc16_x25
from .obis_map import KEY_UNITS, OBIS_KEYS, TEXT_KEYS

__all__ = [
    "HDLC_MAX_FRAME_LENGTH",
    "LLC_HEADER",
    "build_data_notification",
    "build_hdlc_frame",
    "build_meter_frame",
    "build_obis_list_frame",
    "build_p1_readout",
    "encode_cosem_datetime",
]

HDLC_FLAG = b"\x7e"
HDLC_FORMAT_TYPE_3 = 0xA
HDLC_MAX_FRAME_LENGTH = 0x7FF  # the 11-bit length field: bytes between the flags
LLC_HEADER = b"\xe6\xe7\x00"
DATA_NOTIFICATION_TAG = 0x0F


def _check_address(name: str, address: bytes) -> None:
    if len(address) not in (1, 2, 4):
        raise ValueError(f"HDLC {name} address must be 1, 2 or 4 bytes, got {len(address)}")
    if not address[-1] & 1 or any(byte & 1 for byte in address[:-1]):
        raise ValueError(
            f"HDLC {name} address {address.hex()} must have the low bit set in its last byte only"
        )


def build_hdlc_frame(
    payload: bytes,
    *,
    segmentation: bool = False,
    destination: bytes = b"\x41",
    source: bytes = b"\x08\x83",
    control: int = 0x13,
) -> bytes:
    """One HDLC frame (format type 3, not octet-stuffed), flags included.

    Layout: 7E, format/length (2 bytes: type 0xA, the S bit, an 11-bit length
    of the bytes between the flags), destination and source addresses, control,
    then HCS + payload when there is a payload, FCS, 7E. HCS and FCS are
    CRC-16/X.25 sent little-endian. A frame without payload has no HCS.
    """
    _check_address("destination", destination)
    _check_address("source", source)
    if not 0 <= control <= 0xFF:
        raise ValueError(f"HDLC control {control} must be 0..255")
    header_size = 2 + len(destination) + len(source) + 1
    length = header_size + (2 + len(payload) if payload else 0) + 2
    if length > HDLC_MAX_FRAME_LENGTH:
        raise ValueError(
            f"HDLC frame would be {length} bytes between the flags, the length field "
            f"allows at most {HDLC_MAX_FRAME_LENGTH}: split the payload into segments"
        )
    format_field = (HDLC_FORMAT_TYPE_3 << 12) | (int(segmentation) << 11) | length
    frame = bytearray(format_field.to_bytes(2, "big") + destination + source + bytes([control]))
    if payload:
        frame += crc16_x25(frame).to_bytes(2, "little")
        frame += payload
    frame += crc16_x25(frame).to_bytes(2, "little")
    return HDLC_FLAG + bytes(frame) + HDLC_FLAG


def build_data_notification(
    body: bytes,
    *,
    invoke_id: int = 0x40000000,
    timestamp: datetime | None = None,
    tagged_datetime: bool = True,
) -> bytes:
    """LLC header + DATA-NOTIFICATION APDU (0x0F) around an encoded body.

    The date-time field is ``09 0C`` + the COSEM date-time of ``timestamp``
    (``0C`` + date-time when ``tagged_datetime`` is false, as Kamstrup sends
    it), or ``00`` when ``timestamp`` is None.
    """
    clock = None if timestamp is None else encode_cosem_datetime(timestamp)
    return _notification(body, invoke_id, clock, tagged_datetime=tagged_datetime)


def _notification(
    body: bytes, invoke_id: int, clock: bytes | None, *, tagged_datetime: bool
) -> bytes:
    if not 0 <= invoke_id <= 0xFFFFFFFF:
        raise ValueError(f"invoke id {invoke_id} must be 0..0xFFFFFFFF")
    if clock is None:
        date_time = b"\x00"
    else:
        date_time = (b"\x09" if tagged_datetime else b"") + encode_length(len(clock)) + clock
    return (
        LLC_HEADER
        + bytes([DATA_NOTIFICATION_TAG])
        + invoke_id.to_bytes(4, "big")
        + date_time
        + body
    )


def build_meter_frame(
    meter: str, values: Mapping[str, Any], *, timestamp: datetime | None = None
) -> bytes:
    """A whole HDLC frame in the real layout of ``meter`` ("aidon", "kaifa", "kamstrup").

    The list (1, 2 or 3) and the number of phases are chosen from the keys of
    ``values``; see builder_layouts for the rules.
    """
    message = build_meter_message(meter, values, timestamp=timestamp)
    apdu = _notification(
        message.body,
        message.invoke_id,
        message.header_clock,
        tagged_datetime=message.tagged_datetime,
    )
    return build_hdlc_frame(
        apdu, destination=message.destination, source=message.source, control=message.control
    )


# Generic OBIS list: quantity -> (value type, scaler, DLMS unit enum)
_GENERIC_FIELDS = {
    "W": (TAG_DOUBLE_LONG_UNSIGNED, 0, 27),
    "var": (TAG_DOUBLE_LONG_UNSIGNED, 0, 29),
    "Wh": (TAG_DOUBLE_LONG_UNSIGNED, 0, 30),
    "varh": (TAG_DOUBLE_LONG_UNSIGNED, 0, 32),
    "A": (TAG_DOUBLE_LONG, -2, 33),
    "V": (TAG_LONG_UNSIGNED, -1, 35),
    "pf": (TAG_LONG_UNSIGNED, -3, 255),
}


def _generic_element(key: str, code: tuple[int, int, int], value: Any) -> bytes:
    c, d, e = code
    if key in TEXT_KEYS:
        if not isinstance(value, str):
            raise ValueError(f"OBIS list {key} must be a str, got {value!r}")
        group_ab = (1, 1) if key == "list_ver_id" else (0, 0)
        return encode_structure(
            encode_obis((*group_ab, c, d, e, 255)), encode_visible_string(value)
        )
    if key == "meter_datetime":
        if not isinstance(value, datetime):
            raise ValueError(f"OBIS list meter_datetime must be a datetime, got {value!r}")
        clock = encode_octet_string(encode_cosem_datetime(value))
        return encode_structure(encode_obis((0, 0, c, d, e, 255)), clock)
    tag, scaler, unit = _GENERIC_FIELDS[KEY_UNITS.get(key, "pf")]
    raw = scaled_integer(f"OBIS list {key}", value, scaler, tag)
    return encode_scaled_element((1, 0, c, d, e, 255), tag, raw, scaler, unit)


def build_obis_list_frame(values: Mapping[str, Any], *, timestamp: datetime | None = None) -> bytes:
    """A generic OBIS list frame: an array of ``{OBIS, value[, {scaler, unit}]}``.

    Every key with an OBIS code (see obis_map) can be given, in any combination;
    elements come in the order of ``OBIS_KEYS``. Resolution: 1 W, 1 var, 1 Wh,
    1 varh, 0.01 A (signed), 0.1 V, power factor 0.001. The clock keeps the UTC
    offset of an aware ``meter_datetime``. Addresses as Aidon's.
    """
    codes: dict[str, tuple[int, int, int]] = {}
    for code, key in OBIS_KEYS.items():
        codes.setdefault(key, code)
    unknown = sorted(set(values) - set(codes))
    if unknown:
        raise ValueError(f"OBIS list has no code for {', '.join(unknown)}")
    elements = [
        _generic_element(key, code, values[key]) for key, code in codes.items() if key in values
    ]
    return build_hdlc_frame(build_data_notification(encode_array(elements), timestamp=timestamp))
