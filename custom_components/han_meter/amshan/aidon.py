"""Aidon lists: an array of ``{OBIS code, value[, {scaler, unit}]}`` structures.

Every number comes with its scaler and unit (value x 10^scaler), so no implicit
scaling applies; currents are signed (long, tag 0x10) and may be negative. The
Norwegian lists 1, 2 and 3 and the Swedish 27-object list share this layout. Any
meter sending this generic DLMS layout is decoded here; the manufacturer is only
reported as "Aidon" when the list version id says so (``AIDON_V0001``).
"""

from __future__ import annotations

from .cosem import DataNotification
from .obis_list import BASE_UNITS, decode_elements
from .reading import MeterReading

NAME = "aidon"


def decode(notification: DataNotification) -> MeterReading | None:
    """Decode an Aidon-style body; None when the body has another layout."""
    body = notification.body
    if not isinstance(body, list) or not body:
        return None
    for element in body:
        if type(element) is not list or not element:
            return None
        code = element[0]
        if type(code) is not bytes or len(code) != 6 or code[0] > 9:  # not an OBIS code
            return None
    return decode_elements(body, BASE_UNITS, notification, None)
