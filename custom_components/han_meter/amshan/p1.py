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

from datetime import datetime, timedelta, timezone

from .dlde import DataReadout, ModeDReader
from .obis_map import (
    KEY_UNITS,
    METER_DATETIME,
    METER_ID,
    METER_MANUFACTURER,
    METER_TYPE,
    POWER_FACTOR_KEYS,
    TEXT_KEYS,
    obis_text,
    obis_to_key,
    parse_obis,
)
from .reading import MeterReading, scaled

NAME = "p1"

WINTER_TIME = timezone(timedelta(hours=1))
SUMMER_TIME = timezone(timedelta(hours=2))
TIME_FLAGS = {"W": WINTER_TIME, "S": SUMMER_TIME}

# lower-case unit -> (unit, power of ten)
_UNITS = {
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
TIMESTAMP_LENGTH = 12
_MAX_PLANS = 256  # addresses remembered per decoder; a meter writes 20 to 40
_MAX_REMEMBERED = 64  # identifiers and timestamps remembered per decoder

# How a data set's value becomes a reading value.
NUMBER = 0  # a number in its key's unit
NUMBER_OR_TEXT = 1  # a number, else the text as written (a key without a unit)
POWER_FACTOR = 2  # a number, as a float
CLOCK = 3  # a YYMMDDhhmmssX timestamp
TEXT = 4  # text as written
IDENTIFIER = 5  # text, hex-decoded when it encodes printable ASCII

# What to do with the value of an address: (unit as written, key, kind, unit, power of ten)
ValuePlan = tuple[str, str, int, str | None, int]
_Target = tuple[str, int, str | None]  # key, kind, the key's unit


def decode_telegram(telegram: bytes, decoder: P1Decoder | None = None) -> MeterReading | None:
    """Decode the first valid telegram in ``telegram`` (from ``/`` to the CRC)."""
    return (decoder or P1Decoder()).decode_telegram(telegram)


def decode_readout(readout: DataReadout, decoder: P1Decoder | None = None) -> MeterReading | None:
    """The reading of one telegram's data sets; None when it holds no value.

    Pass the same ``decoder`` for the readouts of one meter: it remembers their addresses.
    """
    return (decoder or P1Decoder()).decode(readout)


class P1Decoder:
    """Decodes readouts, remembering what each address means.

    A meter writes the same addresses in every readout: each one's OBIS code, key, unit
    and scaling are worked out once (per unit written) and looked up after that.
    """

    __slots__ = ("_identifiers", "_plans", "_stamps")

    def __init__(self) -> None:
        self._plans: dict[str, ValuePlan] = {}
        # Texts that rarely change are looked up too: identifiers, and the timestamps of
        # (timestamp)(value) lines, which change when the value is next taken (gas meters
        # every 5 minutes or hour, peaks monthly). Only their validity is needed.
        self._identifiers: dict[str, str] = {}
        self._stamps: dict[str, bool] = {}

    def decode_telegram(self, telegram: bytes) -> MeterReading | None:
        """Decode the first valid telegram in ``telegram`` (from ``/`` to the CRC)."""
        readout = first_valid_readout(telegram)
        return None if readout is None else self.decode(readout)

    def plan(self, address: str, written_unit: str) -> ValuePlan:
        """What the value of ``address`` written in ``written_unit`` means (remembered)."""
        plan = self._plans.get(address)
        if plan is None or plan[0] != written_unit:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[address] = value_plan(address, written_unit)
        return plan

    def decode(self, readout: DataReadout) -> MeterReading | None:
        """The reading of one readout's data sets; None when it holds no value."""
        reading = MeterReading()
        units = reading.units
        plans = self._plans
        stamps = self._stamps
        identifiers = self._identifiers
        for address, values in readout.data_lines():
            value = values
            if ")(" in values:  # more than one value
                stamp, _, value = values.partition(")(")
                if ")(" in value:
                    continue  # logs and histories
                # (timestamp)(value): a value and when it was taken
                stamp = stamp.partition("*")[0]
                is_stamp = stamps.get(stamp)
                if is_stamp is None:
                    is_stamp = _remember(stamps, stamp, parse_timestamp(stamp) is not None)
                if not is_stamp:
                    continue
            text, _, written_unit = value.partition("*")
            if not text:
                continue
            plan = plans.get(address)
            if plan is None or plan[0] != written_unit:
                plan = self.plan(address, written_unit)
            _, key, kind, unit, exponent = plan
            if kind <= POWER_FACTOR:
                whole, _, fraction = text.partition(".")
                digits = whole + fraction
                number: int | float | None
                if digits.isdecimal():  # the common case: parse_number() and scaled() inlined
                    number = int(digits)
                    shift = exponent - len(fraction)
                    if shift > 0:
                        number *= 10**shift
                    elif shift:
                        divisor = 10**-shift
                        quotient, remainder = divmod(number, divisor)
                        number = number / divisor if remainder else quotient
                else:
                    number = parse_number(text, exponent)
                if number is None:
                    if kind == NUMBER_OR_TEXT:
                        reading[key] = text
                elif kind == POWER_FACTOR:
                    reading[key] = float(number)
                else:
                    reading[key] = number
                    if unit is not None:
                        units[key] = unit
            elif kind == CLOCK:
                timestamp = parse_timestamp(text)
                if timestamp is not None:
                    reading[key] = timestamp
            elif kind == IDENTIFIER:
                reading[key] = identifiers.get(text) or _remember(
                    identifiers, text, identifier_text(text)
                )
            else:
                reading[key] = text
        if not reading:
            return None
        identification = readout.identification
        if identification is not None and identification.manufacturer_id:
            reading[METER_MANUFACTURER] = identification.manufacturer_id
        return reading


def first_valid_readout(telegram: bytes) -> DataReadout | None:
    """The first valid readout in ``telegram`` (from ``/`` to the CRC), if any."""
    data = telegram if telegram.endswith(b"\n") else telegram + b"\r\n"
    for readout in ModeDReader().read(data):
        if readout.is_valid:
            return readout
    return None


def _remember[T](cache: dict[str, T], text: str, value: T) -> T:
    """``value``, remembered as that of ``text`` (in a cache bounded in size)."""
    if len(cache) >= _MAX_REMEMBERED:
        cache.clear()
    cache[text] = value
    return value


def parse_timestamp(text: str) -> datetime | None:
    """``YYMMDDhhmmss`` + optional ``W``/``S`` flag -> datetime (None when invalid)."""
    digits, flag = text[:TIMESTAMP_LENGTH], text[TIMESTAMP_LENGTH:]
    if len(digits) != TIMESTAMP_LENGTH or not digits.isdecimal():
        return None
    if flag and flag not in TIME_FLAGS:
        return None
    try:
        return datetime(
            2000 + int(digits[0:2]),
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            tzinfo=TIME_FLAGS.get(flag),
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


def value_plan(address: str, written_unit: str) -> ValuePlan:
    """Where the value of ``address`` goes, how to read it, its unit and power of ten."""
    obis = parse_obis(address)
    key, kind, key_unit = _target(address, obis)
    unit, exponent = _UNITS.get(written_unit.lower()) or (written_unit or None, 0)
    if kind <= POWER_FACTOR:
        if key_unit is not None and unit is not None and unit != key_unit and obis is not None:
            key = obis_text(obis)  # a known code in an unexpected unit
        return written_unit, key, kind, unit or key_unit, exponent
    return written_unit, key, kind, None, 0


def _target(address: str, obis: tuple[int, int, int, int, int] | None) -> _Target:
    """The key (or code text) of an address, how to read its value, the key's unit."""
    if obis is None:
        return address, NUMBER_OR_TEXT, None
    a, b, c, d, e = obis
    if c == 96 and d in (1, 13):  # identifiers and messages: texts, even when all digits
        if a == 0 and b == 0 and d == 1 and e in (0, 1, 7):
            # Only DSMR's equipment identifier (96.1.1) is hex-encoded; 96.1.0 is plain text.
            key = METER_TYPE if e == 7 else METER_ID
            return key, IDENTIFIER if e == 1 else TEXT, None
        return obis_text(obis), IDENTIFIER if d == 1 else TEXT, None
    key = obis_text(obis) if a == 0 and b != 0 else obis_to_key(obis)  # M-Bus: other meters
    if key == METER_DATETIME:
        return key, CLOCK, None
    if key in TEXT_KEYS:
        return key, TEXT, None
    if key in POWER_FACTOR_KEYS:
        return key, POWER_FACTOR, None
    unit = KEY_UNITS.get(key)
    return key, NUMBER_OR_TEXT if unit is None else NUMBER, unit


def identifier_text(text: str) -> str:
    """A DSMR hex-encoded identifier as its text, when it decodes to printable ASCII."""
    if len(text) % 2 == 0:
        try:
            decoded = bytes.fromhex(text)
        except ValueError:
            return text
        if decoded.isascii() and decoded.decode("ascii").isprintable():
            return decoded.decode("ascii")
    return text
