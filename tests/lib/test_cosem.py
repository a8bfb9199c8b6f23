"""DATA-NOTIFICATION APDU, LLC header and COSEM date-time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.han_meter.amshan.axdr import AxdrError
from custom_components.han_meter.amshan.cosem import (
    DataNotification,
    decode_cosem_datetime,
    decode_data_notification,
    decode_notification_body,
    strip_llc,
)
from custom_components.han_meter.amshan.reading import Bindings

BODY = "020112002a"  # structure {42}
CLOCK = "07e40119060d091eff800000"  # 2020-01-25 13:09:30, deviation unspecified
CET = timezone(timedelta(hours=1))


def test_strip_llc() -> None:
    assert strip_llc(bytes.fromhex("e6e7000f")) == b"\x0f"
    assert strip_llc(bytes.fromhex("0f40")) == bytes.fromhex("0f40")
    assert strip_llc(bytes.fromhex("e6e6000f")) == bytes.fromhex("e6e6000f")


def test_notification_without_date_time() -> None:
    apdu = bytes.fromhex("0f4000000000" + BODY)
    notification = decode_data_notification(apdu)
    assert notification == DataNotification(0x40000000, None, [42], 6, None, None)


def test_notification_with_tagged_date_time() -> None:
    bindings = Bindings()
    apdu = bytes.fromhex("0f00000001090c" + CLOCK + BODY)
    notification = decode_data_notification(apdu, bindings)
    assert notification.invoke_id_and_priority == 1
    assert notification.timestamp == datetime(2020, 1, 25, 13, 9, 30)
    assert notification.body == [42]
    assert (notification.timestamp_offset, notification.body_offset) == (7, 19)
    assert notification.bindings is bindings


def test_notification_with_bare_date_time() -> None:
    apdu = bytes.fromhex("0f000000000c" + CLOCK + BODY)
    notification = decode_data_notification(apdu)
    assert notification.timestamp == datetime(2020, 1, 25, 13, 9, 30)
    assert (notification.timestamp_offset, notification.body_offset) == (6, 18)


def test_notification_with_unspecified_date_time() -> None:
    apdu = bytes.fromhex("0f000000000c" + "ffff" + "ff" * 10 + BODY)
    assert decode_data_notification(apdu).timestamp is None


@pytest.mark.parametrize(
    "apdu",
    [
        pytest.param("", id="empty"),
        pytest.param("0f400000", id="short-header"),
        pytest.param("0e4000000000" + BODY, id="not-data-notification"),
        pytest.param("0f4000000005" + BODY, id="bad-date-time-marker"),
        pytest.param("0f4000000009", id="tag-without-length"),
        pytest.param("0f400000000904" + CLOCK + BODY, id="tagged-wrong-length"),
        pytest.param("0f400000000c" + CLOCK[:10], id="truncated-date-time"),
        pytest.param("0f4000000000" + BODY[:-2], id="truncated-body"),
        pytest.param("0f4000000000" + BODY + "00", id="trailing-bytes"),
        pytest.param("0f4000000000", id="no-body"),
    ],
)
def test_bad_notifications_raise_axdr_error(apdu: str) -> None:
    with pytest.raises(AxdrError):
        decode_data_notification(bytes.fromhex(apdu))


def test_bare_body() -> None:
    notification = decode_notification_body(bytes.fromhex(BODY))
    assert notification == DataNotification(0, None, [42], 0, None, None)
    with pytest.raises(AxdrError):
        decode_notification_body(bytes.fromhex(BODY + "ff"))


@pytest.mark.parametrize(
    ("octets", "expected"),
    [
        pytest.param(CLOCK, datetime(2020, 1, 25, 13, 9, 30), id="deviation-unspecified"),
        pytest.param(
            "07e509160311231effffc400",
            datetime(2021, 9, 22, 17, 35, 30, tzinfo=CET),
            id="utc+1-is-minus-60",
        ),
        pytest.param(
            "07e5091b01092f0f00ff8880",
            datetime(2021, 9, 27, 9, 47, 15, tzinfo=timezone(timedelta(hours=2))),
            id="utc+2-dst",
        ),
        pytest.param(
            "07e4011502100000ff000000", datetime(2020, 1, 21, 16, 0, tzinfo=UTC), id="utc"
        ),
        pytest.param(
            "07e4011502100000ff003c00",
            datetime(2020, 1, 21, 16, 0, tzinfo=timezone(timedelta(hours=-1))),
            id="utc-1",
        ),
        pytest.param("07e4011502100000ff7fff00", datetime(2020, 1, 21, 16), id="deviation-absurd"),
        pytest.param("07e4011502ffffffff800000", datetime(2020, 1, 21), id="time-unspecified"),
        pytest.param(
            "07e4011502010203328000ff", datetime(2020, 1, 21, 1, 2, 3, 500000), id="hundredths"
        ),
        pytest.param("ffff011502100000ff800000", None, id="year-unspecified"),
        pytest.param("07e4ff1502100000ff800000", None, id="month-unspecified"),
        pytest.param("07e4fd1502100000ff800000", None, id="month-dst-end"),
        pytest.param("07e401ff02100000ff800000", None, id="day-unspecified"),
        pytest.param("07e4021e02100000ff800000", None, id="february-30"),
        pytest.param("07e4011502190000ff800000", None, id="hour-25"),
        pytest.param("07e40115021000", None, id="too-short"),
    ],
)
def test_cosem_datetime(octets: str, expected: datetime | None) -> None:
    assert decode_cosem_datetime(bytes.fromhex(octets)) == expected


def test_cosem_datetime_keeps_the_wall_time() -> None:
    clock = decode_cosem_datetime(bytes.fromhex("07e509160311231effffc400"))
    assert clock is not None
    assert clock.replace(tzinfo=None).isoformat() == "2021-09-22T17:35:30"
    assert clock.utcoffset() == timedelta(hours=1)
    assert clock.astimezone(UTC).hour == 16
