"""P1 / IEC 62056-21 mode D telegrams: data sets -> reading keys.

* Keys by C.D.E as for the binary lists, for group A-B = 0-0 or 1-x. M-Bus channel
  data (A-B = 0-1 .. 0-4: gas, water, heat meters) and codes without a key are kept
  under their code text (``"0-1:24.2.1"``), with their unit.
* ``0-0:96.1.1`` (DSMR equipment identifier) and ``0-0:96.1.0`` give ``meter_id``,
  ``0-0:96.1.7`` gives ``meter_type``. Identifiers and messages (96.1.x, 96.13.x) are
  texts; DSMR's hex-encoded identifiers (96.1.1, and 96.1.x of M-Bus channels) are
  decoded to their text when that is printable ASCII. ``0-0:96.1.0`` stays as written.
* Units kW, kWh, kvar, kvarh, kVA, kVAh (any capitalisation) become W, Wh, var, varh,
  VA, VAh. The conversion is exact: the decimal digits are scaled as integers, so
  ``0001.011*kW`` is 1011 W (an int), and ``230.7*V`` is the float closest to 230.7.
* ``0-0:1.0.0(YYMMDDhhmmssX)`` gives ``meter_datetime``: X = W (winter, standard time)
  is taken as UTC+01:00 and X = S (summer time) as UTC+02:00, the offsets of Central
  European time used by the DSMR (NL, BE, LU) and Swedish meters; no flag gives a
  naive datetime.
* ``meter_manufacturer`` is the 3-letter flag of the identification line (``"KAM"``).
* A data set with a timestamp and a value (``(231102114500W)(03.064*kW)``) keeps the
  value; other multi-value sets (logs, histories) and empty values are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from .dlde import DataReadout, DataSet, ModeDReader
from .obis_map import (
    KEY_UNITS,
    METER_DATETIME,
    METER_ID,
    METER_MANUFACTURER,
    METER_TYPE,
    OBIS_KEYS,
    POWER_FACTOR_KEYS,
    TEXT_KEYS,
    obis_text,
    obis_to_key,
)
from .reading import MeterReading, scaled

NAME = "p1"

WINTER_TIME = timezone(timedelta(hours=1))
SUMMER_TIME = timezone(timedelta(hours=2))
_TIME_FLAGS = {"W": WINTER_TIME, "S": SUMMER_TIME}

# lower-case unit -> (unit, power of ten)
_UNITS: Final[Mapping[str, tuple[str, int]]] = {
    "w": ("W", 0),
    "kw": ("W", 3),
    "wh": ("Wh", 0),
    "kwh": ("Wh", 3),
    "var": ("var", 0),
    "kvar": ("var", 3),
    "varh": ("varh", 0),
    "kvarh": ("varh", 3),
    "va": ("VA", 0),
    "kva": ("VA", 3),
    "vah": ("VAh", 0),
    "kvah": ("VAh", 3),
    "v": ("V", 0),
    "a": ("A", 0),
}
_TIMESTAMP_LENGTH = 12
_DEFAULT_GROUPS = ("1-0:", "0-0:", "")

# How a data set's value becomes a reading value.
_NUMBER = 0  # a number (in its key's unit when the key has one)
_POWER_FACTOR = 1  # a number, as a float
_CLOCK = 2  # a YYMMDDhhmmssX timestamp
_TEXT = 3  # text as written
_IDENTIFIER = 4  # text, hex-decoded when it encodes printable ASCII


@dataclass(slots=True, frozen=True)
class _Target:
    key: str
    kind: int
    unit: str | None  # the unit the key's value must be in, None for any


def decode_telegram(telegram: bytes) -> MeterReading | None:
    """Decode the first valid telegram in ``telegram`` (from ``/`` to the CRC)."""
    data = telegram if telegram.endswith(b"\n") else telegram + b"\r\n"
    for readout in ModeDReader().read(data):
        if readout.is_valid:
            return decode_readout(readout)
    return None


def decode_readout(readout: DataReadout) -> MeterReading | None:
    """The reading of one telegram's data sets; None when it holds no value."""
    reading = MeterReading()
    units = reading.units
    known = _KNOWN_ADDRESSES
    for data_set in readout.data_sets:
        values = data_set.values
        if len(values) == 1:
            value = values[0]
        elif len(values) == 2 and parse_timestamp(values[0].value) is not None:
            value = values[1]
        else:
            continue
        text = value.value
        if not text:
            continue
        target = known.get(data_set.address) or _target_of(data_set)
        kind = target.kind
        if kind <= _POWER_FACTOR:  # _NUMBER or _POWER_FACTOR
            unit, exponent = (None, 0) if value.unit is None else _unit_of(value.unit)
            key = target.key
            if target.unit is not None and unit is not None and unit != target.unit:
                key = _code_text(data_set)  # a known code in an unexpected unit
            number: int | float | None
            whole, _, fraction = text.partition(".")
            if (whole + fraction).isdecimal():  # the common case, without a call
                exponent -= len(fraction)
                number = int(whole + fraction)
                if exponent:
                    number = scaled(number, exponent)
            else:
                number = parse_number(text, exponent)
            if number is None:
                if target.unit is None and kind == _NUMBER:
                    reading[key] = text
                continue
            if kind == _POWER_FACTOR:
                reading[key] = float(number)
                continue
            reading[key] = number
            unit = unit or target.unit
            if unit is not None:
                units[key] = unit
        elif kind == _CLOCK:
            timestamp = parse_timestamp(text)
            if timestamp is not None:
                reading[target.key] = timestamp
        elif kind == _IDENTIFIER:
            reading[target.key] = _identifier_text(text)
        else:
            reading[target.key] = text
    if not reading:
        return None
    if readout.identification is not None and readout.identification.manufacturer_id:
        reading[METER_MANUFACTURER] = readout.identification.manufacturer_id
    return reading


def parse_timestamp(text: str) -> datetime | None:
    """``YYMMDDhhmmss`` + optional ``W``/``S`` flag -> datetime (None when invalid)."""
    digits, flag = text[:_TIMESTAMP_LENGTH], text[_TIMESTAMP_LENGTH:]
    if len(digits) != _TIMESTAMP_LENGTH or not digits.isdecimal():
        return None
    if flag and flag not in _TIME_FLAGS:
        return None
    try:
        return datetime(
            2000 + int(digits[0:2]),
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=_TIME_FLAGS.get(flag),
        )
    except ValueError:
        return None


def parse_number(text: str, exponent: int = 0) -> int | float | None:
    """Decimal text x 10^exponent, exactly (int when integral); None when not a number."""
    whole, _, fraction = text.partition(".")
    digits = whole + fraction
    if not digits.isdecimal() and (digits[:1] not in ("-", "+") or not digits[1:].isdecimal()):
        return None
    exponent -= len(fraction)
    raw = int(digits)
    if exponent == 0:
        return raw
    return scaled(raw, exponent)


def _unit_of(unit: str) -> tuple[str, int]:
    """(unit, power of ten) of a written unit: ``kW`` -> (``W``, 3); others unchanged."""
    return _UNITS.get(unit.lower()) or (unit, 0)


def _code_text(data_set: DataSet) -> str:
    return data_set.address if data_set.obis is None else obis_text(data_set.obis)


def _target_of(data_set: DataSet) -> _Target:
    """Where a data set goes: its key (or code text), how to read it, its unit."""
    obis = data_set.obis
    if obis is None:
        return _Target(data_set.address, _NUMBER, None)
    a, b, c, d, e = obis
    if c == 96 and d in (1, 13):  # identifiers and messages: texts, even when all digits
        if a == 0 and b == 0 and d == 1 and e in (0, 1, 7):
            # Only DSMR's equipment identifier (96.1.1) is hex-encoded; 96.1.0 is plain text.
            key = METER_TYPE if e == 7 else METER_ID
            return _Target(key, _IDENTIFIER if e == 1 else _TEXT, None)
        return _Target(obis_text(obis), _IDENTIFIER if d == 1 else _TEXT, None)
    key = obis_text(obis) if a == 0 and b != 0 else obis_to_key(obis)  # M-Bus: other meters
    if key == METER_DATETIME:
        return _Target(key, _CLOCK, None)
    if key in TEXT_KEYS:
        return _Target(key, _TEXT, None)
    if key in POWER_FACTOR_KEYS:
        return _Target(key, _POWER_FACTOR, None)
    return _Target(key, _NUMBER, KEY_UNITS.get(key))


# Other addresses DSMR and e-MUCS telegrams carry (kept under their code text).
_COMMON_ADDRESSES = (
    "1-3:0.2.8 0-0:96.1.4 0-0:96.14.0 0-0:96.7.21 0-0:96.7.9 1-0:99.97.0 0-0:96.13.0 "
    "0-0:96.13.1 1-0:32.32.0 1-0:52.32.0 1-0:72.32.0 1-0:32.36.0 1-0:52.36.0 1-0:72.36.0 "
    "1-0:1.4.0 1-0:1.6.0 0-0:98.1.0 0-0:96.3.10 0-0:17.0.0 1-0:31.4.0 "
    + " ".join(
        f"0-{b}:{cde}"
        for b in range(1, 5)
        for cde in ("24.1.0", "96.1.0", "96.1.1", "24.4.0", "24.2.1", "24.2.3")
    )
).split()


def _known_addresses() -> dict[str, _Target]:
    """The targets of the addresses meters write most, looked up without parsing."""
    table = {}
    for c, d, e in OBIS_KEYS:
        for groups in _DEFAULT_GROUPS:
            address = f"{groups}{c}.{d}.{e}"
            a, b = (int(groups[0]), int(groups[2])) if groups else (1, 0)
            table[address] = _target_of(DataSet(address, (), (a, b, c, d, e)))
    for address in _COMMON_ADDRESSES:
        groups, _, cde = address.partition(":")
        a, b = map(int, groups.split("-"))
        c, d, e = map(int, cde.split("."))
        table[address] = _target_of(DataSet(address, (), (a, b, c, d, e)))
    return table


_KNOWN_ADDRESSES: Final[Mapping[str, _Target]] = _known_addresses()


def _identifier_text(text: str) -> str:
    """A DSMR hex-encoded identifier as its text, when it decodes to printable ASCII."""
    if len(text) % 2 == 0:
        try:
            decoded = bytes.fromhex(text)
        except ValueError:
            return text
        if decoded.isascii() and decoded.decode("ascii").isprintable():
            return decoded.decode("ascii")
    return text
