"""Names, units and quantities of the OBIS codes a meter reports.

A reading's keys are chosen by the C.D.E part of the OBIS code (group A must be 0,
abstract, or 1, electricity; group B is the channel, 0 for most meters and 1 for
Kamstrup). Codes without a key are kept under their code text, ``"1-0:1.8.3"``.
"""

from __future__ import annotations

from types import MappingProxyType

from .record import Record, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Mapping
    from typing import Final

LIST_VER_ID: Final = "list_ver_id"
METER_ID: Final = "meter_id"
METER_TYPE: Final = "meter_type"
METER_MANUFACTURER: Final = "meter_manufacturer"
METER_DATETIME: Final = "meter_datetime"
ACTIVE_POWER_IMPORT: Final = "active_power_import"
ACTIVE_POWER_EXPORT: Final = "active_power_export"
REACTIVE_POWER_IMPORT: Final = "reactive_power_import"
REACTIVE_POWER_EXPORT: Final = "reactive_power_export"
ACTIVE_POWER_IMPORT_L1: Final = "active_power_import_l1"
ACTIVE_POWER_IMPORT_L2: Final = "active_power_import_l2"
ACTIVE_POWER_IMPORT_L3: Final = "active_power_import_l3"
ACTIVE_POWER_EXPORT_L1: Final = "active_power_export_l1"
ACTIVE_POWER_EXPORT_L2: Final = "active_power_export_l2"
ACTIVE_POWER_EXPORT_L3: Final = "active_power_export_l3"
REACTIVE_POWER_IMPORT_L1: Final = "reactive_power_import_l1"
REACTIVE_POWER_IMPORT_L2: Final = "reactive_power_import_l2"
REACTIVE_POWER_IMPORT_L3: Final = "reactive_power_import_l3"
REACTIVE_POWER_EXPORT_L1: Final = "reactive_power_export_l1"
REACTIVE_POWER_EXPORT_L2: Final = "reactive_power_export_l2"
REACTIVE_POWER_EXPORT_L3: Final = "reactive_power_export_l3"
CURRENT_L1: Final = "current_l1"
CURRENT_L2: Final = "current_l2"
CURRENT_L3: Final = "current_l3"
VOLTAGE_L1: Final = "voltage_l1"
VOLTAGE_L2: Final = "voltage_l2"
VOLTAGE_L3: Final = "voltage_l3"
POWER_FACTOR: Final = "power_factor"
POWER_FACTOR_L1: Final = "power_factor_l1"
POWER_FACTOR_L2: Final = "power_factor_l2"
POWER_FACTOR_L3: Final = "power_factor_l3"
ACTIVE_POWER_IMPORT_TOTAL: Final = "active_power_import_total"
ACTIVE_POWER_EXPORT_TOTAL: Final = "active_power_export_total"
REACTIVE_POWER_IMPORT_TOTAL: Final = "reactive_power_import_total"
REACTIVE_POWER_EXPORT_TOTAL: Final = "reactive_power_export_total"
ACTIVE_POWER_IMPORT_TOTAL_T1: Final = "active_power_import_total_t1"
ACTIVE_POWER_IMPORT_TOTAL_T2: Final = "active_power_import_total_t2"
ACTIVE_POWER_EXPORT_TOTAL_T1: Final = "active_power_export_total_t1"
ACTIVE_POWER_EXPORT_TOTAL_T2: Final = "active_power_export_total_t2"

# Quantities that are not units: how a value is interpreted.
POWER_FACTOR_QUANTITY: Final = "pf"
TEXT_QUANTITY: Final = "text"
CLOCK_QUANTITY: Final = "clock"
OBIS_GROUP_MAX: Final = 255  # the largest group value; 255 also means "not used"
UNITS: Final = frozenset(("W", "var", "VA", "A", "V", "Hz", "Wh", "varh", "VAh"))

OBIS_KEYS: Mapping[tuple[int, int, int], str] = MappingProxyType(
    {
        (0, 2, 129): LIST_VER_ID,
        (96, 1, 0): METER_ID,
        (0, 0, 5): METER_ID,
        (96, 1, 7): METER_TYPE,
        (96, 1, 1): METER_TYPE,
        (1, 0, 0): METER_DATETIME,
        (1, 7, 0): ACTIVE_POWER_IMPORT,
        (2, 7, 0): ACTIVE_POWER_EXPORT,
        (3, 7, 0): REACTIVE_POWER_IMPORT,
        (4, 7, 0): REACTIVE_POWER_EXPORT,
        (21, 7, 0): ACTIVE_POWER_IMPORT_L1,
        (41, 7, 0): ACTIVE_POWER_IMPORT_L2,
        (61, 7, 0): ACTIVE_POWER_IMPORT_L3,
        (22, 7, 0): ACTIVE_POWER_EXPORT_L1,
        (42, 7, 0): ACTIVE_POWER_EXPORT_L2,
        (62, 7, 0): ACTIVE_POWER_EXPORT_L3,
        (23, 7, 0): REACTIVE_POWER_IMPORT_L1,
        (43, 7, 0): REACTIVE_POWER_IMPORT_L2,
        (63, 7, 0): REACTIVE_POWER_IMPORT_L3,
        (24, 7, 0): REACTIVE_POWER_EXPORT_L1,
        (44, 7, 0): REACTIVE_POWER_EXPORT_L2,
        (64, 7, 0): REACTIVE_POWER_EXPORT_L3,
        (31, 7, 0): CURRENT_L1,
        (51, 7, 0): CURRENT_L2,
        (71, 7, 0): CURRENT_L3,
        (32, 7, 0): VOLTAGE_L1,
        (52, 7, 0): VOLTAGE_L2,
        (72, 7, 0): VOLTAGE_L3,
        (13, 7, 0): POWER_FACTOR,
        (33, 7, 0): POWER_FACTOR_L1,
        (53, 7, 0): POWER_FACTOR_L2,
        (73, 7, 0): POWER_FACTOR_L3,
        (1, 8, 0): ACTIVE_POWER_IMPORT_TOTAL,
        (2, 8, 0): ACTIVE_POWER_EXPORT_TOTAL,
        (3, 8, 0): REACTIVE_POWER_IMPORT_TOTAL,
        (4, 8, 0): REACTIVE_POWER_EXPORT_TOTAL,
        (1, 8, 1): ACTIVE_POWER_IMPORT_TOTAL_T1,
        (1, 8, 2): ACTIVE_POWER_IMPORT_TOTAL_T2,
        (2, 8, 1): ACTIVE_POWER_EXPORT_TOTAL_T1,
        (2, 8, 2): ACTIVE_POWER_EXPORT_TOTAL_T2,
    }
)

TEXT_KEYS: Final = frozenset((LIST_VER_ID, METER_ID, METER_TYPE, METER_MANUFACTURER))
POWER_FACTOR_KEYS: Final = frozenset(
    (POWER_FACTOR, POWER_FACTOR_L1, POWER_FACTOR_L2, POWER_FACTOR_L3)
)

# Group C modulo 20 (1..20, phases L1..L3 add 20, 40, 60) -> kind of quantity.
_ACTIVE, _REACTIVE, _APPARENT = "active", "reactive", "apparent"
_C_KINDS: dict[int, str] = {
    **dict.fromkeys((1, 2, 15, 16, 17, 18, 19, 20), _ACTIVE),
    **dict.fromkeys((3, 4, 5, 6, 7, 8), _REACTIVE),
    9: _APPARENT,
    10: _APPARENT,
    11: "A",
    12: "V",
    13: POWER_FACTOR_QUANTITY,
    14: "Hz",
}
_INSTANTANEOUS = {_ACTIVE: "W", _REACTIVE: "var", _APPARENT: "VA"}
_INTEGRAL = {_ACTIVE: "Wh", _REACTIVE: "varh", _APPARENT: "VAh"}


def implied_quantity(c: int, d: int) -> str | None:
    """The quantity an electricity code C.D measures: a unit, ``"pf"`` or None.

    D = 4..7 (demand and instantaneous values) give W, var, VA, A, V, pf or Hz;
    D = 8 (energy registers) gives Wh, varh or VAh.
    """
    if not 1 <= c <= 80:
        return None
    kind = _C_KINDS[(c - 1) % 20 + 1]  # every C of 1..20 has a kind
    if 4 <= d <= 7:
        return _INSTANTANEOUS.get(kind, kind)
    if d == 8:
        return _INTEGRAL.get(kind)
    return None


def _key_quantity(key: str, c: int, d: int) -> str | None:
    if key in TEXT_KEYS:
        return TEXT_QUANTITY
    if key == METER_DATETIME:
        return CLOCK_QUANTITY
    return implied_quantity(c, d)


KEY_UNITS: Mapping[str, str] = MappingProxyType(
    {
        key: quantity
        for (c, d, _), key in OBIS_KEYS.items()
        if (quantity := _key_quantity(key, c, d)) in UNITS
    }
)


def obis_text(obis: tuple[int, ...]) -> str:
    """``"A-B:C.D.E"`` (with ``"*F"`` appended when a sixth group other than 255 is given)."""
    a, b, c, d, e = obis[:5]
    text = f"{a}-{b}:{c}.{d}.{e}"
    if len(obis) > 5 and obis[5] != 255:
        text += f"*{obis[5]}"
    return text


def _group(text: str) -> int:
    """The value of a group of 1 to 3 digits, else -1."""
    return int(text) if 0 < len(text) <= 3 and text.isdecimal() else -1


def parse_obis(address: str) -> tuple[int, int, int, int, int] | None:
    """``A-B:C.D.E`` as numbers; A-B default to 1-0, a missing E is 255 ("not used").

    A ``*F`` or ``&F`` suffix other than 255 marks a historical value: None, so it is
    never mistaken for the current register.
    """
    head, suffix, f = address.replace("&", "*").partition("*")
    if suffix and _group(f) != OBIS_GROUP_MAX:
        return None
    a_b, colon, c_d_e = head.rpartition(":")
    groups = c_d_e.split(".")
    if len(groups) == 2:
        groups.append("255")
    groups[:0] = a_b.split("-") if colon else ("1", "0")
    if len(groups) != 5:
        return None
    a, b, c, d, e = map(_group, groups)
    if min(a, b, c, d, e) < 0 or max(a, b, c, d, e) > OBIS_GROUP_MAX:
        return None
    return a, b, c, d, e


def obis_to_key(obis: tuple[int, int, int, int, int]) -> str:
    """The reading key of an OBIS code (A, B, C, D, E), else its code text."""
    if obis[0] <= 1:
        key = OBIS_KEYS.get(obis[2:5])
        if key is not None:
            return key
    return obis_text(obis)


class CodeInfo(Record):
    """What a binary OBIS code means: its reading key and quantity."""

    __slots__ = __match_args__ = ("key", "quantity")
    key: str
    quantity: str | None  # a unit, "pf", "text", "clock", or None when unknown

    def __init__(self, key: str, quantity: str | None) -> None:
        set_field(self, "key", key)
        set_field(self, "quantity", quantity)


def code_info(code: bytes) -> CodeInfo:
    """Key and quantity of a 6-byte binary OBIS code."""
    return _BINARY_CODES.get(code) or _compute_code_info(code)


def _compute_code_info(code: bytes) -> CodeInfo:
    a, b, c, d, e, f = code
    key = OBIS_KEYS.get((c, d, e)) if a <= 1 and f == 255 else None
    if key is None:
        quantity = implied_quantity(c, d) if a == 1 else None
        return CodeInfo(obis_text((a, b, c, d, e, f)), quantity)
    return CodeInfo(key, _key_quantity(key, c, d))


_BINARY_CODES: Final[Mapping[bytes, CodeInfo]] = {
    code: _compute_code_info(code)
    for a in (0, 1)
    for b in (0, 1)
    for c, d, e in OBIS_KEYS
    if (code := bytes((a, b, c, d, e, 255)))
}
