"""Austrian push layouts without OBIS codes: values recognised by position.

Meters of several Austrian grid companies push a structure whose fields carry no OBIS
code; a layout is recognised by the element count and the type of *every* element
(so a body of another meter is never taken for one of these). Values are in base units
(W, var, Wh, varh). The APDU date-time is the meter clock unless the layout has one.

=================  =====  =========================================================
layout             count  fields
=================  =====  =========================================================
``wien_e450``          9  clock, A+, A-, R+, R- (Wh/varh), P+, P-, Q+, Q- (W/var)
``oe_push``           12  push-setup code 0-b:25.9.0.255, meter number, time (4
                          octets), date (5 octets), A+, A-, R+, R- (Wh/varh),
                          P+, P- (W), two empty octet-strings
``oe_push_short``     10  the same without the two empty octet-strings
=================  =====  =========================================================

Sources (published layouts, not values asserted by a test vector in this repository):
``wien_e450`` is the Landis+Gyr E450 optical customer interface of Wiener Netze, as
annotated byte by byte in aburgr/smartmeter-reader (decode.py) and mapped to 1.8.0,
2.8.0, 3.8.0, 4.8.0, 1.7.0, 2.7.0, 3.7.0, 4.7.0 in Noschvie/shrdzm (Device_IM350.cpp);
``oe_push``/``oe_push_short`` are the Iskra AM550 and Siemens IM350 pushes (Carinthia,
Upper Austria) read by Noschvie/shrdzm as A+, A-, R+, R-, P+, P-. The Landis+Gyr E450
of Netz Burgenland (14 values) is decoded by :func:`.kaifa.decode_landis_gyr`; Kaifa
MA309M, Sagemcom T210-D over M-Bus and the E450 with block transfer send OBIS codes
and are decoded by :mod:`.obis_list`.
"""

from __future__ import annotations

from .cosem import COSEM_DATETIME_SIZE, DataNotification, decode_cosem_datetime
from .kaifa import CLOCK, SKIP, TEXT, Field, ValueListLayout, decode_value_list
from .obis_list import is_text
from .obis_map import (
    ACTIVE_POWER_EXPORT,
    ACTIVE_POWER_EXPORT_TOTAL,
    ACTIVE_POWER_IMPORT,
    ACTIVE_POWER_IMPORT_TOTAL,
    METER_DATETIME,
    METER_ID,
    REACTIVE_POWER_EXPORT,
    REACTIVE_POWER_EXPORT_TOTAL,
    REACTIVE_POWER_IMPORT,
    REACTIVE_POWER_IMPORT_TOTAL,
)
from .reading import MeterReading

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Callable
    from typing import Any

    Check = Callable[[Any], bool]

__all__ = ["LAYOUTS", "NAME", "decode", "layout_of"]

NAME = "positional"
_PUSH_SETUP_CDEF = bytes((25, 9, 0, 255))  # 0-b:25.9.0.255, any channel b


def _uint(value: Any) -> bool:
    return type(value) is int and value >= 0


def _octets(size: int) -> Check:
    return lambda value: type(value) is bytes and len(value) == size


def _clock(value: Any) -> bool:
    return (
        type(value) is bytes
        and len(value) == COSEM_DATETIME_SIZE
        and decode_cosem_datetime(value) is not None
    )


def _meter_number(value: Any) -> bool:
    return (type(value) is bytes or type(value) is str) and 0 < len(value) <= 32 and is_text(value)


def _push_setup(value: Any) -> bool:
    return (
        type(value) is bytes and len(value) == 6 and value[0] == 0 and value[2:] == _PUSH_SETUP_CDEF
    )


_ENERGIES = (
    Field(ACTIVE_POWER_IMPORT_TOTAL),
    Field(ACTIVE_POWER_EXPORT_TOTAL),
    Field(REACTIVE_POWER_IMPORT_TOTAL),
    Field(REACTIVE_POWER_EXPORT_TOTAL),
)
_OE_FIELDS = (
    Field("", SKIP),
    Field(METER_ID, TEXT),
    Field("", SKIP),
    Field("", SKIP),
    *_ENERGIES,
    Field(ACTIVE_POWER_IMPORT),
    Field(ACTIVE_POWER_EXPORT),
)
_OE_CHECKS: tuple[Check, ...] = (
    _push_setup,
    _meter_number,
    _octets(4),
    _octets(5),
    *(_uint,) * 6,
)

# name -> (layout, a check per element)
LAYOUTS: dict[str, tuple[ValueListLayout, tuple[Check, ...]]] = {
    "wien_e450": (
        ValueListLayout(
            (
                Field(METER_DATETIME, CLOCK),
                *_ENERGIES,
                Field(ACTIVE_POWER_IMPORT),
                Field(ACTIVE_POWER_EXPORT),
                Field(REACTIVE_POWER_IMPORT),
                Field(REACTIVE_POWER_EXPORT),
            ),
            "Landis+Gyr",
        ),
        (_clock, *(_uint,) * 8),
    ),
    "oe_push": (
        ValueListLayout((*_OE_FIELDS, Field("", SKIP), Field("", SKIP)), None),
        (*_OE_CHECKS, _octets(0), _octets(0)),
    ),
    "oe_push_short": (ValueListLayout(_OE_FIELDS, None), _OE_CHECKS),
}
_BY_COUNT = {len(checks): name for name, (_, checks) in LAYOUTS.items()}


def layout_of(body: Any) -> str | None:
    """The name of the layout ``body`` matches, or None."""
    if type(body) is not list:
        return None
    name = _BY_COUNT.get(len(body))
    if name is None:
        return None
    checks = LAYOUTS[name][1]
    if all(check(value) for check, value in zip(checks, body, strict=True)):
        return name
    return None


def decode(notification: DataNotification) -> MeterReading | None:
    """Decode a positional Austrian push; None when the body matches no layout."""
    name = layout_of(notification.body)
    if name is None:
        return None
    return decode_value_list(notification.body, LAYOUTS[name][0], notification)
