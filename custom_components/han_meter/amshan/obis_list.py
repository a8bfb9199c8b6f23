"""Notification bodies that carry OBIS codes, in any arrangement.

The elements of the body's array or structure are walked in order:

* ``code, value`` pairs, optionally followed by a ``{scaler, unit}`` structure
  (Kaifa's Swedish list, Kamstrup, Landis+Gyr, Kaifa MA309 with scalers);
* ``{code, value[, {scaler, unit}]}`` structures (Aidon);
* null-data padding (Kamstrup 1-phase meters), skipped.

A value with a ``{scaler, unit}`` is value x 10^scaler in that unit. Without one, the
meter's implicit scaling applies (see :data:`KAIFA_SCALING`); unknown meters are
taken to send base units (W, var, Wh, varh, A, V).

Elements without a code: a text before the first code is the list version
(Kamstrup), a 12-byte COSEM date-time is the meter clock (when no 0.0.1.0.0 is
sent), and a text as the very last element is the meter id (Kaifa MA309).
"""

from __future__ import annotations

from types import MappingProxyType

from .axdr import DateTimeOctets
from .cosem import DataNotification, decode_cosem_datetime
from .obis_map import (
    CLOCK_QUANTITY,
    KEY_UNITS,
    LIST_VER_ID,
    METER_DATETIME,
    METER_ID,
    METER_MANUFACTURER,
    POWER_FACTOR_QUANTITY,
    TEXT_QUANTITY,
    UNITS,
    code_info,
)
from .reading import (
    CLOCK_SOURCE,
    HEADER_CLOCK_PATH,
    NUMBER_SOURCE,
    POWER_FACTOR_SOURCE,
    Bindings,
    MeterReading,
    scaled,
    text_of,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Mapping
    from typing import Any

NAME = "obis_list"

# Implicit scaling of values sent without a scaler: quantity -> power of ten.
BASE_UNITS: Mapping[str, int] = MappingProxyType({})
KAIFA_SCALING: Mapping[str, int] = MappingProxyType({"A": -3, "V": -1})

# DLMS unit enumeration (IEC 62056-6-2) -> unit text, for the units met in meter lists.
DLMS_UNITS: Mapping[int, str] = MappingProxyType(
    {
        7: "s",
        8: "°",
        9: "°C",
        27: "W",
        28: "VA",
        29: "var",
        30: "Wh",
        31: "VAh",
        32: "varh",
        33: "A",
        35: "V",
        44: "Hz",
    }
)
_MANUFACTURERS = (("AIDON", "Aidon"), ("KFM", "Kaifa"), ("KAMSTRUP", "Kamstrup"))
_LIST_VERSION_CODE = (0, 2, 129)
_NOT_NUMBERS = frozenset((TEXT_QUANTITY, CLOCK_QUANTITY))


def is_obis_code(element: object) -> bool:
    """True for a 6-byte octet-string that can be an OBIS code (group A <= 9, not text)."""
    return type(element) is bytes and len(element) == 6 and element[0] <= 9


def is_text(element: object) -> bool:
    """True for a string, or an octet-string of printable ASCII."""
    if isinstance(element, str):
        return True
    return type(element) is bytes and element.isascii() and element.decode("ascii").isprintable()


def manufacturer_of(list_version: str) -> str | None:
    """The meter manufacturer a list version id names ("AIDON_V0001" -> "Aidon")."""
    upper = list_version.upper()
    for prefix, manufacturer in _MANUFACTURERS:
        if upper.startswith(prefix):
            return manufacturer
    return None


def list_version_of(elements: list[Any]) -> str | None:
    """The list version id, when the first element carries it."""
    first = elements[0] if elements else None
    if is_text(first):
        return text_of(first)
    if isinstance(first, list) and first:
        first = first[0]
        group = elements[0]
    else:
        group = elements
    if is_obis_code(first) and tuple(first[2:5]) == _LIST_VERSION_CODE and len(group) > 1:
        return text_of(group[1])
    return None


def decode(notification: DataNotification) -> MeterReading | None:
    """Decode any body whose elements carry OBIS codes; None when none does."""
    body = notification.body
    if not isinstance(body, list) or not any(map(_has_code, body)):
        return None
    version = list_version_of(body)
    manufacturer = manufacturer_of(version) if version else None
    scaling = KAIFA_SCALING if manufacturer == "Kaifa" else BASE_UNITS
    return decode_elements(body, scaling, notification, manufacturer)


def _has_code(element: object) -> bool:
    if isinstance(element, list):
        return bool(element) and is_obis_code(element[0])
    return is_obis_code(element)


def decode_elements(
    elements: list[Any],
    scaling: Mapping[str, int],
    notification: DataNotification,
    manufacturer: str | None,
) -> MeterReading | None:
    """Walk ``elements`` (see the module doc) into a reading; None when it gets no value."""
    reading = MeterReading()
    bindings = notification.bindings
    seen_code = False
    path: tuple[int, ...]
    count = len(elements)
    index = 0
    while index < count:
        element = elements[index]
        index += 1
        if type(element) is list:
            size = len(element)
            if 2 <= size <= 3 and is_obis_code(code := element[0]):
                seen_code = True
                path = (index - 1, 1)  # the value in {code, value[, scaler-unit]}
                scaler_unit = element[2] if size == 3 else None
                _store(reading, code, element[1], scaler_unit, scaling, path, bindings)
            continue
        if is_obis_code(element):
            seen_code = True
            if index >= count:
                break
            value = elements[index]
            path = (index,)
            index += 1
            scaler_unit = None
            if index < count:
                follower = elements[index]
                if type(follower) is list and len(follower) == 2:
                    scaler_unit = follower
                    index += 1
            _store(reading, element, value, scaler_unit, scaling, path, bindings)
        elif element is not None:
            _store_unlabelled(reading, element, seen_code, index, count, bindings)
    timestamp = notification.timestamp
    if METER_DATETIME not in reading and timestamp is not None:
        reading[METER_DATETIME] = timestamp
        if bindings is not None:
            bindings.bind(METER_DATETIME, HEADER_CLOCK_PATH, CLOCK_SOURCE)
    if not reading:
        return None
    version = reading.get(LIST_VER_ID)
    if manufacturer is None and isinstance(version, str):
        manufacturer = manufacturer_of(version)
    if manufacturer is not None:
        reading[METER_MANUFACTURER] = manufacturer
    return reading


def _store(
    reading: MeterReading,
    code: bytes,
    value: Any,
    scaler_unit: Any,
    scaling: Mapping[str, int],
    path: tuple[int, ...],
    bindings: Bindings | None,
) -> None:
    value_type = type(value)
    if value_type is int or value_type is float:
        info = code_info(code)
        quantity = info.quantity
        if quantity in _NOT_NUMBERS:
            return
        key = info.key
        unit = None
        if scaler_unit is not None:
            exponent, unit_code = scaler_unit
            if type(exponent) is not int or type(unit_code) is not int:
                return
            unit = DLMS_UNITS.get(unit_code)
        else:
            exponent = scaling.get(quantity, 0) if quantity is not None else 0
        number = scaled(value, exponent) if exponent else value
        if quantity == POWER_FACTOR_QUANTITY:
            reading[key] = float(number)
            source = POWER_FACTOR_SOURCE
        else:
            reading[key] = number
            source = NUMBER_SOURCE
            unit = KEY_UNITS.get(key) or unit or (quantity if quantity in UNITS else None)
            if unit is not None:
                reading.units[key] = unit
        if bindings is not None:
            bindings.bind(key, path, source, exponent)
    elif value_type is bytes or value_type is str:
        info = code_info(code)
        if info.quantity == CLOCK_QUANTITY or (len(value) == 12 and not is_text(value)):
            clock = decode_cosem_datetime(value) if value_type is bytes else None
            if clock is not None:
                reading[info.key] = clock
                if bindings is not None:
                    bindings.bind(info.key, path, CLOCK_SOURCE)
                return
        reading[info.key] = text_of(value)
        if bindings is not None:
            bindings.unbind(info.key)
    elif isinstance(value, DateTimeOctets):
        clock = decode_cosem_datetime(value)
        if clock is not None:
            key = code_info(code).key
            reading[key] = clock
            if bindings is not None:
                bindings.bind(key, path, CLOCK_SOURCE)


def _store_unlabelled(
    reading: MeterReading,
    element: Any,
    seen_code: bool,
    index: int,
    count: int,
    bindings: Bindings | None,
) -> None:
    path = (index - 1,)
    if isinstance(element, bytes) and len(element) == 12:
        clock = decode_cosem_datetime(element)
        if clock is not None:
            if METER_DATETIME not in reading:
                reading[METER_DATETIME] = clock
                if bindings is not None:
                    bindings.bind(METER_DATETIME, path, CLOCK_SOURCE)
            elif bindings is not None:
                bindings.ignore(path)
            return
    if not is_text(element):
        if bindings is not None:
            bindings.ignore(path)
        return
    if not seen_code:
        reading.setdefault(LIST_VER_ID, text_of(element))
    elif index == count:
        reading.setdefault(METER_ID, text_of(element))
