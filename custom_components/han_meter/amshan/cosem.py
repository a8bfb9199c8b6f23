"""DLMS/COSEM application layer: LLC header, DATA-NOTIFICATION APDU, COSEM date-time.

A push from a meter is (after HDLC) the LLC header ``E6 E7 00`` and a
DATA-NOTIFICATION APDU::

    0F                      tag
    xx xx xx xx             long-invoke-id-and-priority
    00 | 0C <12> | 09 0C <12>   date-time: absent, length-prefixed, or as a tagged octet-string
    <A-XDR Data>            the notification body (an array or structure)

COSEM date-time (12 bytes): year (2), month, day of month, day of week, hour,
minute, second, hundredths, deviation (signed 16-bit minutes), clock status.
0xFF (0xFFFF for the year) means "not specified". The deviation is the number of
minutes to *add to local time to get UTC* (the DLMS sign convention): a meter on
UTC+01:00 sends -60; 0x8000 means "not specified" and gives a naive datetime. The
clock status (daylight saving flag) is not used: the deviation alone fixes the offset.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone

from .axdr import AxdrError, decode_all
from .record import Record, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from typing import Any

    from .reading import Bindings

LLC_HEADER = b"\xe6\xe7\x00"
DATA_NOTIFICATION = 0x0F
COSEM_DATETIME_SIZE = 12
DEVIATION_NOT_SPECIFIED = -0x8000
_MAX_DEVIATION = 15 * 60  # minutes; outside +-15 h the deviation is taken as unspecified

_DATETIME = struct.Struct(">HBBBBBBBhB")
_INVOKE_ID = struct.Struct(">I")


class DataNotification(Record):
    """A decoded DATA-NOTIFICATION: its header and its A-XDR body."""

    __slots__ = __match_args__ = (
        "invoke_id_and_priority",
        "timestamp",
        "body",
        "body_offset",
        "timestamp_offset",
        "bindings",
    )
    invoke_id_and_priority: int
    timestamp: datetime | None  # the APDU date-time, None when absent or unspecified
    body: Any  # the decoded notification body (usually a list)
    body_offset: int  # where the body starts in the decoded bytes
    timestamp_offset: int | None  # where the APDU date-time's 12 bytes start
    bindings: Bindings | None  # decoders record where values came from, when given

    def __init__(
        self,
        invoke_id_and_priority: int,
        timestamp: datetime | None,
        body: Any,
        body_offset: int = 0,
        timestamp_offset: int | None = None,
        bindings: Bindings | None = None,
    ) -> None:
        set_field(self, "invoke_id_and_priority", invoke_id_and_priority)
        set_field(self, "timestamp", timestamp)
        set_field(self, "body", body)
        set_field(self, "body_offset", body_offset)
        set_field(self, "timestamp_offset", timestamp_offset)
        set_field(self, "bindings", bindings)


def strip_llc(content: bytes) -> bytes:
    """``content`` without a leading LLC header ``E6 E7 00``."""
    return content[3:] if content.startswith(LLC_HEADER) else content


def decode_data_notification(apdu: bytes, bindings: Bindings | None = None) -> DataNotification:
    """Decode a DATA-NOTIFICATION APDU (starting with 0x0F). Raises :class:`AxdrError`."""
    if len(apdu) < 6 or apdu[0] != DATA_NOTIFICATION:
        raise AxdrError("not a DATA-NOTIFICATION APDU")
    (invoke_id,) = _INVOKE_ID.unpack_from(apdu, 1)
    marker = apdu[5]
    if marker == 0:
        return DataNotification(invoke_id, None, decode_all(apdu, 6), 6, None, bindings)
    if marker == COSEM_DATETIME_SIZE:
        start = 6
    elif marker == 0x09 and len(apdu) > 6 and apdu[6] == COSEM_DATETIME_SIZE:
        start = 7
    else:
        raise AxdrError(f"bad date-time field 0x{marker:02x} in the APDU header")
    pos = start + COSEM_DATETIME_SIZE
    if pos > len(apdu):
        raise AxdrError("truncated date-time in the APDU header")
    timestamp = decode_cosem_datetime(apdu[start:pos])
    return DataNotification(invoke_id, timestamp, decode_all(apdu, pos), pos, start, bindings)


def decode_notification_body(body: bytes, bindings: Bindings | None = None) -> DataNotification:
    """Wrap a bare notification body (as MQTT bridges publish it) without a header."""
    return DataNotification(0, None, decode_all(body), 0, None, bindings)


def decode_cosem_datetime(octets: bytes) -> datetime | None:
    """The datetime of 12 COSEM date-time bytes, None when the date is not specified.

    Unspecified time fields count as 0. The result is tz-aware when the deviation is
    given (UTC offset = minus the deviation), else naive local wall time.
    """
    if len(octets) != COSEM_DATETIME_SIZE:
        return None
    year, month, day, _, hour, minute, second, hundredths, deviation, _ = _DATETIME.unpack(octets)
    if year == 0xFFFF or month > 12 or day > 31:  # unspecified or DST begin/end wildcards
        return None
    tzinfo = None
    if deviation != DEVIATION_NOT_SPECIFIED and -_MAX_DEVIATION <= deviation <= _MAX_DEVIATION:
        tzinfo = UTC if deviation == 0 else timezone(timedelta(minutes=-deviation))
    try:
        return datetime(
            year,
            month,
            day,
            0 if hour == 0xFF else hour,
            0 if minute == 0xFF else minute,
            0 if second == 0xFF else second,
            0 if hundredths == 0xFF else hundredths * 10_000,
            tzinfo=tzinfo,
        )
    except ValueError:
        return None
