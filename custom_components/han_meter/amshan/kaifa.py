"""Value-only lists: fields by position, no OBIS codes (Kaifa's Norwegian lists).

A list is recognised by its element count and the type of every element.
Kaifa scaling: current in mA, voltage in 0.1 V, power in W/var, energy in Wh/varh.
The APDU date-time is the meter clock; list 3 also carries the clock as a field.

========  =====  =============================================================
list      count  fields
========  =====  =============================================================
1            1   P+
2 (1-ph)     9   version, meter id, type, P+, P-, Q+, Q-, I1, U1
2 (3-ph)    13   version, meter id, type, P+, P-, Q+, Q-, I1, I2, I3, U1, U2, U3
3 (1-ph)    14   list 2 (1-ph), clock, A+, A-, R+, R-
3 (3-ph)    18   list 2 (3-ph), clock, A+, A-, R+, R-
========  =====  =============================================================

One other value-only push is known and decoded here too (``decode_landis_gyr``):
the Landis+Gyr E450 of Netz Burgenland, a structure of 14 values: U1-U3 (V),
I1-I3 (0.01 A), P+, P- (W), A+, A- (Wh), three unnamed numbers, meter id.
"""

from __future__ import annotations

from .cosem import COSEM_DATETIME_SIZE, DataNotification, decode_cosem_datetime
from .obis_map import (
    ACTIVE_POWER_EXPORT,
    ACTIVE_POWER_EXPORT_TOTAL,
    ACTIVE_POWER_IMPORT,
    ACTIVE_POWER_IMPORT_TOTAL,
    CURRENT_L1,
    CURRENT_L2,
    CURRENT_L3,
    KEY_UNITS,
    LIST_VER_ID,
    METER_DATETIME,
    METER_ID,
    METER_MANUFACTURER,
    METER_TYPE,
    REACTIVE_POWER_EXPORT,
    REACTIVE_POWER_EXPORT_TOTAL,
    REACTIVE_POWER_IMPORT,
    REACTIVE_POWER_IMPORT_TOTAL,
    VOLTAGE_L1,
    VOLTAGE_L2,
    VOLTAGE_L3,
)
from .reading import (
    CLOCK_SOURCE,
    HEADER_CLOCK_PATH,
    NUMBER_SOURCE,
    MeterReading,
    scaled,
    text_of,
)
from .record import Record, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Sequence
    from typing import Any

NAME = "kaifa"
LANDIS_GYR_NAME = "landis_gyr"

TEXT = "text"
NUMBER = "number"
CLOCK = "clock"
SKIP = "skip"


class Field(Record):
    """One positional field: its key, kind and power of ten."""

    __slots__ = __match_args__ = ("key", "kind", "exponent")
    key: str  # "" for a skipped field
    kind: str
    exponent: int

    def __init__(self, key: str, kind: str = NUMBER, exponent: int = 0) -> None:
        set_field(self, "key", key)
        set_field(self, "kind", kind)
        set_field(self, "exponent", exponent)


class ValueListLayout(Record):
    """A value-only list recognised by its length and element types."""

    __slots__ = __match_args__ = ("fields", "manufacturer")
    fields: tuple[Field, ...]
    manufacturer: str | None

    def __init__(self, fields: tuple[Field, ...], manufacturer: str | None) -> None:
        set_field(self, "fields", fields)
        set_field(self, "manufacturer", manufacturer)


def _numbers(keys: Sequence[str], exponent: int = 0) -> tuple[Field, ...]:
    return tuple(Field(key, NUMBER, exponent) for key in keys)


_IDENTITY = (Field(LIST_VER_ID, TEXT), Field(METER_ID, TEXT), Field(METER_TYPE, TEXT))
_POWERS = _numbers(
    (ACTIVE_POWER_IMPORT, ACTIVE_POWER_EXPORT, REACTIVE_POWER_IMPORT, REACTIVE_POWER_EXPORT)
)
_ENERGIES = (
    Field(METER_DATETIME, CLOCK),
    *_numbers(
        (
            ACTIVE_POWER_IMPORT_TOTAL,
            ACTIVE_POWER_EXPORT_TOTAL,
            REACTIVE_POWER_IMPORT_TOTAL,
            REACTIVE_POWER_EXPORT_TOTAL,
        )
    ),
)
_LIST_2_ONE_PHASE = (
    *_IDENTITY,
    *_POWERS,
    Field(CURRENT_L1, NUMBER, -3),
    Field(VOLTAGE_L1, NUMBER, -1),
)
_LIST_2_THREE_PHASE = (
    *_IDENTITY,
    *_POWERS,
    *_numbers((CURRENT_L1, CURRENT_L2, CURRENT_L3), -3),
    *_numbers((VOLTAGE_L1, VOLTAGE_L2, VOLTAGE_L3), -1),
)
KAIFA_LAYOUTS: dict[int, ValueListLayout] = {
    len(fields): ValueListLayout(fields, manufacturer)
    for fields, manufacturer in (
        ((Field(ACTIVE_POWER_IMPORT),), None),
        (_LIST_2_ONE_PHASE, "Kaifa"),
        (_LIST_2_THREE_PHASE, "Kaifa"),
        ((*_LIST_2_ONE_PHASE, *_ENERGIES), "Kaifa"),
        ((*_LIST_2_THREE_PHASE, *_ENERGIES), "Kaifa"),
    )
}
LANDIS_GYR_BURGENLAND = ValueListLayout(
    (
        *_numbers((VOLTAGE_L1, VOLTAGE_L2, VOLTAGE_L3)),
        *_numbers((CURRENT_L1, CURRENT_L2, CURRENT_L3), -2),
        *_numbers((ACTIVE_POWER_IMPORT, ACTIVE_POWER_EXPORT)),
        *_numbers((ACTIVE_POWER_IMPORT_TOTAL, ACTIVE_POWER_EXPORT_TOTAL)),
        Field("", SKIP),
        Field("", SKIP),
        Field("", SKIP),
        Field(METER_ID, TEXT),
    ),
    "Landis+Gyr",
)


def decode(notification: DataNotification) -> MeterReading | None:
    """Decode a Kaifa value-only list; None when the body is not one."""
    body = notification.body
    if type(body) is not list:
        return None
    layout = KAIFA_LAYOUTS.get(len(body))
    if layout is None:
        return None
    return decode_value_list(body, layout, notification)


def decode_landis_gyr(notification: DataNotification) -> MeterReading | None:
    """Decode the Landis+Gyr E450 (Netz Burgenland) value list; None for other bodies."""
    body = notification.body
    if type(body) is not list or len(body) != len(LANDIS_GYR_BURGENLAND.fields):
        return None
    return decode_value_list(body, LANDIS_GYR_BURGENLAND, notification)


def decode_value_list(
    values: list[Any], layout: ValueListLayout, notification: DataNotification
) -> MeterReading | None:
    """Map ``values`` onto ``layout``'s fields; None when a value has the wrong type."""
    reading = MeterReading()
    units = reading.units
    bindings = notification.bindings
    for index, (field, value) in enumerate(zip(layout.fields, values, strict=True)):
        kind = field.kind
        key = field.key
        if kind == NUMBER:
            if type(value) is not int:
                return None
            reading[key] = scaled(value, field.exponent) if field.exponent else value
            units[key] = KEY_UNITS[key]
            if bindings is not None:
                bindings.bind(key, (index,), NUMBER_SOURCE, field.exponent)
        elif kind == TEXT:
            if type(value) is not bytes and type(value) is not str:
                return None
            reading[key] = text_of(value)
        elif kind == CLOCK:
            if type(value) is not bytes or len(value) != COSEM_DATETIME_SIZE:
                return None
            clock = decode_cosem_datetime(value)
            if clock is not None:
                reading[key] = clock
                if bindings is not None:
                    bindings.bind(key, (index,), CLOCK_SOURCE)
        elif bindings is not None:
            bindings.ignore((index,))
    if METER_DATETIME not in reading and notification.timestamp is not None:
        reading[METER_DATETIME] = notification.timestamp
        if bindings is not None:
            bindings.bind(METER_DATETIME, HEADER_CLOCK_PATH, CLOCK_SOURCE)
    if layout.manufacturer is not None:
        reading[METER_MANUFACTURER] = layout.manufacturer
    return reading
