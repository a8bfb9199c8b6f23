"""Kamstrup lists: the list version text, then flat ``OBIS code, value`` pairs.

The family is recognised by its first element, a list version string without an
OBIS code ("Kamstrup_V0001"), followed by codes of group A-B = 1-1 (electricity,
channel 1). Values carry no scaler; the fixed Kamstrup scaling applies: current
0.01 A, voltage 1 V, power factor 0.01, power W/var, and energy in units of
10 Wh / 10 varh (the Norwegian HAN list). Swedish sources report Wh for their
meters, but no Swedish binary list with energy registers has been seen, and the
list itself does not tell the two apart, so the Norwegian 10 Wh unit is used.
1-phase meters keep the 3-phase slot count and pad missing phases with null-data
pairs, which are skipped.
"""

from __future__ import annotations

from types import MappingProxyType

from .cosem import DataNotification
from .obis_list import decode_elements, is_obis_code, is_text
from .reading import MeterReading, text_of

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Mapping

NAME = "kamstrup"

KAMSTRUP_SCALING: Mapping[str, int] = MappingProxyType(
    {"A": -2, "V": 0, "pf": -2, "Wh": 1, "varh": 1, "VAh": 1}
)


def decode(notification: DataNotification) -> MeterReading | None:
    """Decode a Kamstrup body; None when the body has another layout."""
    body = notification.body
    if not isinstance(body, list) or len(body) < 3 or not is_text(body[0]):
        return None
    second = body[1]
    is_kamstrup = text_of(body[0]).upper().startswith("KAMSTRUP") or (
        is_obis_code(second) and second[:2] == b"\x01\x01"
    )
    if not is_kamstrup:
        return None
    return decode_elements(body, KAMSTRUP_SCALING, notification, "Kamstrup")
