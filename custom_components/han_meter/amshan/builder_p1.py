"""P1 (IEC 62056-21 mode D / DSMR) telegrams from values, for tests and the simulator."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from .crc import crc16_arc

# key: (OBIS reduced id, unit, integer digits, decimals, divisor from the key's unit)
_P1_NUMBERS: dict[str, tuple[str, str | None, int, int, int]] = {
    "active_power_import_total": ("1-0:1.8.0", "kWh", 8, 3, 1000),
    "active_power_export_total": ("1-0:2.8.0", "kWh", 8, 3, 1000),
    "reactive_power_import_total": ("1-0:3.8.0", "kvarh", 8, 3, 1000),
    "reactive_power_export_total": ("1-0:4.8.0", "kvarh", 8, 3, 1000),
    "active_power_import_total_t1": ("1-0:1.8.1", "kWh", 6, 3, 1000),
    "active_power_import_total_t2": ("1-0:1.8.2", "kWh", 6, 3, 1000),
    "active_power_export_total_t1": ("1-0:2.8.1", "kWh", 6, 3, 1000),
    "active_power_export_total_t2": ("1-0:2.8.2", "kWh", 6, 3, 1000),
    "active_power_import": ("1-0:1.7.0", "kW", 4, 3, 1000),
    "active_power_export": ("1-0:2.7.0", "kW", 4, 3, 1000),
    "reactive_power_import": ("1-0:3.7.0", "kvar", 4, 3, 1000),
    "reactive_power_export": ("1-0:4.7.0", "kvar", 4, 3, 1000),
    **{
        f"{kind}_l{phase}": (f"1-0:{20 * phase + c}.7.0", unit, 4, 3, 1000)
        for c, kind, unit in (
            (1, "active_power_import", "kW"),
            (2, "active_power_export", "kW"),
            (3, "reactive_power_import", "kvar"),
            (4, "reactive_power_export", "kvar"),
        )
        for phase in (1, 2, 3)
    },
    **{f"voltage_l{p}": (f"1-0:{20 * p + 12}.7.0", "V", 3, 1, 1) for p in (1, 2, 3)},
    **{f"current_l{p}": (f"1-0:{20 * p + 11}.7.0", "A", 3, 1, 1) for p in (1, 2, 3)},
    "power_factor": ("1-0:13.7.0", None, 1, 3, 1),
    **{f"power_factor_l{p}": (f"1-0:{20 * p + 13}.7.0", None, 1, 3, 1) for p in (1, 2, 3)},
}
_P1_TEXTS = {"meter_id": "0-0:96.1.0"}
_P1_FORBIDDEN = set("()!/\r\n*")


def _p1_number(key: str, value: Any) -> str:
    address, unit, digits, decimals, divisor = _P1_NUMBERS[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"P1 {key} must be a number, got {value!r}")
    scaled = (Decimal(repr(value)) / divisor).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN
    )
    if scaled < 0 or scaled >= 10**digits:
        raise ValueError(
            f"P1 {key} = {value} does not fit {address} ({digits} digits, "
            f"{decimals} decimals{', in ' + unit if unit else ''}, no sign)"
        )
    text = f"{scaled:0{digits + 1 + decimals}f}"
    return f"{address}({text}*{unit})" if unit else f"{address}({text})"


def _p1_clock(value: datetime) -> str:
    if not 2000 <= value.year <= 2099:
        raise ValueError(f"P1 clock year {value.year} must be 2000..2099 (two digits)")
    season = "S" if value.utcoffset() is not None and value.dst() else "W"
    return f"0-0:1.0.0({value:%y%m%d%H%M%S}{season})"


def build_p1_readout(
    values: Mapping[str, Any],
    *,
    ident: str = "/ELL5\\253833635_A",
    timestamp: datetime | None = None,
    with_crc: bool = True,
) -> bytes:
    """A P1 / mode D telegram: ``ident``, a blank line, data lines, ``!`` and the CRC.

    Values are in the library's units (W, var, Wh, varh, V, A) and are written
    the way meters write them (kW/kWh/kvar/kvarh with 3 decimals, V and A with
    1 decimal, zero padded). The clock line comes from ``timestamp`` or else
    ``values["meter_datetime"]`` (flag S when the datetime is aware and in DST,
    else W). The CRC is CRC-16/ARC over ``/``..``!`` as 4 upper-case hex digits.
    """
    if not ident.startswith("/") or len(ident) < 5 or any(c in "\r\n!" for c in ident):
        raise ValueError(f"P1 ident {ident!r} must be '/' + 3-letter flag + baud digit + id")
    lines = [ident, ""]
    clock = timestamp if timestamp is not None else values.get("meter_datetime")
    if clock is not None:
        if not isinstance(clock, datetime):
            raise ValueError(f"P1 meter_datetime must be a datetime, got {clock!r}")
        lines.append(_p1_clock(clock))
    unknown = sorted(
        set(values) - set(_P1_NUMBERS) - set(_P1_TEXTS) - {"meter_datetime", "meter_manufacturer"}
    )
    if unknown:
        raise ValueError(f"P1 builder has no line for {', '.join(unknown)}")
    manufacturer = values.get("meter_manufacturer")
    if manufacturer is not None and manufacturer != ident[1:4]:
        raise ValueError(f"P1 meter_manufacturer {manufacturer!r} must be the ident flag")
    for key, address in _P1_TEXTS.items():
        if key in values:
            text = str(values[key])
            if any(char in _P1_FORBIDDEN or not " " <= char <= "~" for char in text):
                raise ValueError(f"P1 {key} {text!r} must be printable ASCII without ()!/*")
            lines.append(f"{address}({text})")
    lines.extend(_p1_number(key, values[key]) for key in _P1_NUMBERS if key in values)
    telegram = ("\r\n".join(lines) + "\r\n!").encode("ascii")
    if with_crc:
        telegram += f"{crc16_arc(telegram):04X}".encode("ascii")
    return telegram + b"\r\n"
