"""The real push-list layouts of Aidon, Kaifa and Kamstrup meters (Norwegian HAN lists).

Which list a meter sends is chosen from the keys given, the way real meters
send them: only ``active_power_import`` -> list 1; any other instantaneous
value or identity field -> list 2; any energy register (``*_total``) -> list 3
(hourly: adds the clock and the four energy registers). Kamstrup has no power-only
list, so lists 1 and 2 are both its 10-second list and list 3 its hourly list.
The meter is 3-phase when any ``*_l2`` or ``*_l3`` key is given, else 1-phase.

Values are in the library's units (W, var, A, V, Wh, varh) and are rounded to the
meter's resolution (Aidon: 0.1 A, 0.1 V, 10 Wh; Kaifa: 1 mA, 0.1 V, 1 Wh;
Kamstrup: 0.01 A, 1 V, 10 Wh). Values a list carries but that are not given
are sent as the meter would: identity strings get a plausible default, powers
and energies 0; a missing phase value is left out (Aidon, like its 3-wire
meters), sent as 0 (Kaifa, like its IT meters) or sent as a null-data pair
(Kamstrup, like its 1-phase meters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .builder_axdr import (
    NULL_DATA,
    TAG_DOUBLE_LONG_UNSIGNED,
    TAG_LONG,
    TAG_LONG_UNSIGNED,
    TAG_STRUCTURE,
    encode_array,
    encode_cosem_datetime,
    encode_integer,
    encode_length,
    encode_obis,
    encode_octet_string,
    encode_scaled_element,
    encode_structure,
    encode_visible_string,
    scaled_integer,
)

METERS = ("aidon", "kaifa", "kamstrup")
IDENTITY = ("list_ver_id", "meter_id", "meter_type")
POWERS = (
    "active_power_import",
    "active_power_export",
    "reactive_power_import",
    "reactive_power_export",
)
CURRENTS = ("current_l1", "current_l2", "current_l3")
VOLTAGES = ("voltage_l1", "voltage_l2", "voltage_l3")
ENERGIES = tuple(f"{power}_total" for power in POWERS)
DERIVED = ("meter_datetime", "meter_manufacturer")
SUPPORTED = frozenset((*IDENTITY, *POWERS, *CURRENTS, *VOLTAGES, *ENERGIES, *DERIVED))

# key: (C, D, E) of its OBIS code, DLMS unit enum, value type tag
_OBIS: dict[str, tuple[tuple[int, int, int], int, int]] = {
    "active_power_import": ((1, 7, 0), 27, TAG_DOUBLE_LONG_UNSIGNED),
    "active_power_export": ((2, 7, 0), 27, TAG_DOUBLE_LONG_UNSIGNED),
    "reactive_power_import": ((3, 7, 0), 29, TAG_DOUBLE_LONG_UNSIGNED),
    "reactive_power_export": ((4, 7, 0), 29, TAG_DOUBLE_LONG_UNSIGNED),
    "current_l1": ((31, 7, 0), 33, TAG_LONG),
    "current_l2": ((51, 7, 0), 33, TAG_LONG),
    "current_l3": ((71, 7, 0), 33, TAG_LONG),
    "voltage_l1": ((32, 7, 0), 35, TAG_LONG_UNSIGNED),
    "voltage_l2": ((52, 7, 0), 35, TAG_LONG_UNSIGNED),
    "voltage_l3": ((72, 7, 0), 35, TAG_LONG_UNSIGNED),
    "active_power_import_total": ((1, 8, 0), 30, TAG_DOUBLE_LONG_UNSIGNED),
    "active_power_export_total": ((2, 8, 0), 30, TAG_DOUBLE_LONG_UNSIGNED),
    "reactive_power_import_total": ((3, 8, 0), 32, TAG_DOUBLE_LONG_UNSIGNED),
    "reactive_power_export_total": ((4, 8, 0), 32, TAG_DOUBLE_LONG_UNSIGNED),
}
# Resolution of each quantity per meter, as a power of ten (the Aidon scaler).
_SCALERS = {
    "aidon": {"current": -1, "voltage": -1, "total": 1},
    "kaifa": {"current": -3, "voltage": -1, "total": 0},
    "kamstrup": {"current": -2, "voltage": 0, "total": 1},
}
_DEFAULTS = {  # (list version, meter id, 1-phase type, 3-phase type)
    "aidon": ("AIDON_V0001", "7359992890941742", "6515", "6534"),
    "kaifa": ("KFM_001", "6970631401753985", "MA105H2E", "MA304H3E"),
    "kamstrup": ("Kamstrup_V0001", "5706567277656672", "6861111BN242101040", "6841131BN243101040"),
}
_MANUFACTURERS = {"aidon": "Aidon", "kaifa": "Kaifa", "kamstrup": "Kamstrup"}


@dataclass(slots=True, frozen=True)
class MeterMessage:
    """What a meter sends: the notification body and how it wraps it."""

    body: bytes
    invoke_id: int
    header_clock: bytes | None  # encoded COSEM date-time of the APDU header, None = absent
    tagged_datetime: bool  # header date-time as 09 0C ... (True) or 0C ... (Kamstrup)
    destination: bytes
    source: bytes
    control: int
    list_number: int


def select_list(values: Mapping[str, Any]) -> int:
    """1, 2 or 3: the list a real meter would send for these keys."""
    if any(key in values for key in ENERGIES):
        return 3
    if set(values) - {"active_power_import", "meter_datetime", "meter_manufacturer"}:
        return 2
    return 1


def is_three_phase(values: Mapping[str, Any]) -> bool:
    """True when any phase 2 or phase 3 value is given."""
    return any(key.endswith(("_l2", "_l3")) for key in values)


def scaler_of(meter: str, key: str) -> int:
    """Power of ten of the meter's resolution for ``key`` (0 for powers)."""
    for quantity, scaler in _SCALERS[meter].items():
        if key.startswith(quantity) or key.endswith(quantity):
            return scaler
    return 0


def _raw(meter: str, key: str, value: Any, tag: int) -> int:
    """``value`` in the meter's resolution, checked against the field's type."""
    return scaled_integer(f"{meter} {key}", value, scaler_of(meter, key), tag)


def _text(meter: str, key: str, values: Mapping[str, Any], three_phase: bool) -> str:
    version, meter_id, type_1p, type_3p = _DEFAULTS[meter]
    default = {"list_ver_id": version, "meter_id": meter_id}.get(
        key, type_3p if three_phase else type_1p
    )
    value = values.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{meter} {key} must be a str, got {value!r}")
    return value


def _clock(meter: str, values: Mapping[str, Any], timestamp: datetime | None) -> datetime | None:
    clock = values.get("meter_datetime", timestamp)
    if clock is not None and not isinstance(clock, datetime):
        raise ValueError(f"{meter} meter_datetime must be a datetime, got {clock!r}")
    return clock


def _phase_keys(keys: tuple[str, ...], three_phase: bool) -> tuple[str, ...]:
    return keys if three_phase else keys[:1]


def _aidon_body(values: Mapping[str, Any], list_number: int, clock: datetime | None) -> bytes:
    def number(key: str) -> bytes:
        (c, d, e), unit, tag = _OBIS[key]
        raw = _raw("aidon", key, values.get(key, 0), tag)
        return encode_scaled_element((1, 0, c, d, e, 255), tag, raw, scaler_of("aidon", key), unit)

    if list_number == 1:
        return encode_array([number("active_power_import")])
    three_phase = is_three_phase(values)
    codes = {"list_ver_id": (1, 1, 0, 2, 129, 255), "meter_id": (0, 0, 96, 1, 0, 255)}
    elements = [
        encode_structure(
            encode_obis(codes.get(key, (0, 0, 96, 1, 7, 255))),
            encode_visible_string(_text("aidon", key, values, three_phase)),
        )
        for key in IDENTITY
    ]
    elements += [number(key) for key in POWERS]
    currents = _phase_keys(CURRENTS, three_phase)
    elements += [number(key) for key in currents if key != "current_l2" or key in values]
    elements += [number(key) for key in _phase_keys(VOLTAGES, three_phase)]
    if list_number == 3:
        if clock is None:
            raise ValueError("aidon list 3 needs meter_datetime or timestamp for its clock")
        elements.append(
            encode_structure(
                encode_obis((0, 0, 1, 0, 0, 255)), encode_octet_string(encode_cosem_datetime(clock))
            )
        )
        elements += [number(key) for key in ENERGIES]
    return encode_array(elements)


def _kaifa_body(values: Mapping[str, Any], list_number: int, clock: datetime | None) -> bytes:
    def number(key: str) -> bytes:
        raw = _raw("kaifa", key, values.get(key, 0), TAG_DOUBLE_LONG_UNSIGNED)
        return encode_integer(TAG_DOUBLE_LONG_UNSIGNED, raw)

    if list_number == 1:
        return encode_structure(number("active_power_import"))
    three_phase = is_three_phase(values)
    elements = [
        encode_octet_string(_text("kaifa", key, values, three_phase).encode("ascii"))
        for key in IDENTITY
    ]
    elements += [number(key) for key in POWERS]
    elements += [number(key) for key in _phase_keys(CURRENTS, three_phase)]
    elements += [number(key) for key in _phase_keys(VOLTAGES, three_phase)]
    if list_number == 3:
        if clock is None:
            raise ValueError("kaifa list 3 needs meter_datetime or timestamp for its clock")
        elements.append(encode_octet_string(encode_cosem_datetime(clock, with_deviation=False)))
        elements += [number(key) for key in ENERGIES]
    return encode_structure(*elements)


def _kamstrup_body(values: Mapping[str, Any], list_number: int, clock: datetime | None) -> bytes:
    def number(key: str) -> bytes:
        (c, d, e), _, tag = _OBIS[key]
        if key.startswith("current"):
            tag = TAG_DOUBLE_LONG_UNSIGNED
        if key not in values and key.startswith(("current", "voltage")):
            return NULL_DATA + NULL_DATA
        raw = _raw("kamstrup", key, values.get(key, 0), tag)
        return encode_obis((1, 1, c, d, e, 255)) + encode_integer(tag, raw)

    three_phase = is_three_phase(values)
    elements = [encode_visible_string(_text("kamstrup", "list_ver_id", values, three_phase))]
    for key, code in (("meter_id", (1, 1, 0, 0, 5, 255)), ("meter_type", (1, 1, 96, 1, 1, 255))):
        text = _text("kamstrup", key, values, three_phase)
        elements.append(encode_obis(code) + encode_visible_string(text))
    elements += [number(key) for key in (*POWERS, *CURRENTS, *VOLTAGES)]
    if list_number == 3:
        if clock is None:
            raise ValueError("kamstrup list 3 needs meter_datetime or timestamp for its clock")
        stamp = encode_cosem_datetime(clock, with_deviation=False)
        elements.append(encode_obis((0, 1, 1, 0, 0, 255)) + encode_octet_string(stamp))
        elements += [number(key) for key in ENERGIES]
    # Each OBIS/value pair counts as two elements of the structure.
    count = 1 + 2 * (len(elements) - 1)
    return bytes([TAG_STRUCTURE]) + encode_length(count) + b"".join(elements)


def build_meter_message(
    meter: str, values: Mapping[str, Any], *, timestamp: datetime | None = None
) -> MeterMessage:
    """The notification body and wrapping ``meter`` would send for ``values``."""
    if meter not in METERS:
        raise ValueError(f"unknown meter {meter!r}: expected one of {', '.join(METERS)}")
    unknown = sorted(set(values) - SUPPORTED)
    if unknown:
        raise ValueError(f"{meter} lists carry no {', '.join(unknown)}")
    manufacturer = values.get("meter_manufacturer", _MANUFACTURERS[meter])
    if manufacturer != _MANUFACTURERS[meter]:
        raise ValueError(f"{meter} meter_manufacturer must be {_MANUFACTURERS[meter]!r}")
    list_number = select_list(values)
    clock = _clock(meter, values, timestamp)
    header = timestamp if timestamp is not None else clock
    if meter == "aidon":
        body = _aidon_body(values, list_number, clock)
        header_clock = None if timestamp is None else encode_cosem_datetime(timestamp)
        return MeterMessage(
            body, 0x40000000, header_clock, True, b"\x41", b"\x08\x83", 0x13, list_number
        )
    if meter == "kaifa":
        body = _kaifa_body(values, list_number, clock)
        header_clock = (
            None if header is None else encode_cosem_datetime(header, with_deviation=False)
        )
        return MeterMessage(
            body, 0x40000000, header_clock, True, b"\x01", b"\x02\x01", 0x10, list_number
        )
    body = _kamstrup_body(values, list_number, clock)
    header_clock = None if header is None else encode_cosem_datetime(header, with_deviation=False)
    return MeterMessage(body, 0, header_clock, False, b"\x2b", b"\x21", 0x13, list_number)
