"""Decoding repeated P1 telegrams of a known layout by slicing (see :mod:`.layout_memory`).

A meter's telegrams differ only in the digits of their values. Once one has been decoded
the full way, a :class:`P1Layout` (made by :mod:`.p1_layout_memory`) records its shape
(the telegram with every digit made ``0``), the bytes that must not change (addresses,
units, identification, logs) and where each value is. A later telegram of the same size,
shape and fixed bytes is read by slicing, to the reading the full decode would give.
Anything else (a value that changed width, unit or line, a clock or timestamp that is
not a date, a value outside its plausible range) is a miss: the caller decodes the full
way.

Numbers are read from the telegram with its dots removed, so that the digits of each are
one run that ``int()`` reads; the shape check has made sure the dots are where they were.
"""

from __future__ import annotations

import struct
from datetime import datetime
from itertools import accumulate
from operator import itemgetter

from .obis_map import METER_MANUFACTURER
from .p1 import identifier_text
from .reading import MeterReading

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable, Sequence
    from datetime import tzinfo
    from typing import Any

    from .dlde import DataReadout

    Getter = Callable[[Sequence[Any]], tuple[Any, ...]]
    Span = tuple[int, int]
    # A reading value: key, how it is read (AS_...), its span, and for numbers the
    # multiplier (sign and power of ten) and divisor, for a clock the time zone.
    Value = tuple[str, int, int, int, Any, Any]
    # (key, unit) -> (lowest, highest) plausible value; None when any number goes
    PlausibleRange = Callable[[str, str | None], tuple[float, float] | None]

CRC_DIGITS = 4
SHAPE = bytes.maketrans(b"0123456789", b"0" * 10)  # what stays when only values change
DOT = b"."
_MAX_STAMPS = 16  # timestamps known to be dates, per layout

# How a value is read (from its digits, or for texts as written).
AS_NUMBER = 0  # digits x multiplier / divisor, as the full decode scales numbers
AS_FLOAT = 1  # the same, as a float (power factors)
AS_CLOCK = 2  # YYMMDDhhmmss digits, in the time zone of the flag
AS_TEXT = 3  # the text as written
AS_IDENTIFIER = 4  # the text, hex-decoded when it encodes printable ASCII


def getter(indices: Sequence[int]) -> Getter:
    """Picks ``indices`` out of a sequence, always as a tuple (itemgetter of one does not)."""
    if len(indices) > 1:
        return itemgetter(*indices)
    return lambda sequence: tuple([sequence[index] for index in indices])


def scale(digits: int, multiplier: int, divisor: int) -> int | float:
    """``digits`` x ``multiplier`` / ``divisor``, exactly as the full decode scales numbers."""
    number = digits * multiplier
    if divisor == 1:
        return number
    quotient, remainder = divmod(number, divisor)
    return number / divisor if remainder else quotient


def clock(digits: int, zone: tzinfo | None) -> datetime:
    """The YYMMDDhhmmss ``digits`` as a datetime; ValueError when they are not a date."""
    rest, second = divmod(digits, 100)
    rest, minute = divmod(rest, 100)
    rest, hour = divmod(rest, 100)
    year, rest = divmod(rest, 10000)
    month, day = divmod(rest, 100)
    return datetime(2000 + year, month, day, hour, minute, second, tzinfo=zone)


class P1Layout:
    """The layout of one telegram: its shape, fixed bytes and where each value is.

    Made from a telegram (``payload``, its CRC digits from ``body_end`` on), its
    ``values`` in the order the full decode sets them, the timestamps that must be dates
    for those values to count (``stamps``), the reading's units, and the plausible ranges
    the full decode's caller checks readings against (values outside are a miss).
    """

    __slots__ = (
        "_blank",
        "_clocks",
        "_digits_of",
        "_dividends_of",
        "_divisors",
        "_fixed",
        "_fixed_of",
        "_has_crc",
        "_highest",
        "_hour",
        "_hour_start",
        "_identifiers",
        "_keys",
        "_lowest",
        "_pick",
        "_scaled",
        "_shape",
        "_size",
        "_stamps",
        "_text_values",
        "_texts",
        "_texts_of",
        "_units",
        "_unpack",
        "_valid_stamps",
    )

    def __init__(
        self,
        payload: bytes,
        body_end: int,
        values: Sequence[Value],
        stamps: Sequence[Span],
        units: dict[str, str],
        plausible_range: PlausibleRange,
    ) -> None:
        self._size = len(payload)
        self._shape = payload[:body_end].translate(SHAPE)
        self._has_crc = body_end != self._size  # the CRC digits end the telegram
        self._units = units
        self._keys = tuple(key for key, *_ in values)
        self._blank = dict.fromkeys(self._keys)  # the keys in the order the full decode sets
        digits = sorted(
            [*stamps, *((start, end) for _, how, start, end, *_ in values if how <= AS_CLOCK)]
        )
        index = {start: position for position, (start, _) in enumerate(digits)}
        self._stamps = tuple(index[start] for start, _ in stamps)
        quotients: list[tuple[int, int]] = []
        clocks: list[tuple[int, tzinfo | None]] = []
        scaled: list[tuple[int, int, int, bool]] = []
        texts: list[tuple[int, int, bool]] = []
        sources = []  # (group: digits, quotients, clocks, scaled or texts; index in it)
        for _, how, start, end, first, second in values:
            if how >= AS_TEXT:
                sources.append((4, len(texts)))
                texts.append((start, end, how == AS_IDENTIFIER))
            elif how == AS_CLOCK:
                sources.append((2, len(clocks)))
                clocks.append((index[start], second))
            elif how == AS_NUMBER and first == second == 1:
                sources.append((0, index[start]))  # the digits as they are: most values
            elif how == AS_NUMBER and first == 1:
                sources.append((1, len(quotients)))  # / 10^k: volts, amperes
                quotients.append((index[start], second))
            else:
                sources.append((3, len(scaled)))
                scaled.append((index[start], first, second, how == AS_FLOAT))
        groups = (len(digits), len(quotients), len(clocks), len(scaled))
        offsets = list(accumulate(groups, initial=0))
        self._pick = getter([offsets[group] + position for group, position in sources])
        self._dividends_of = getter([digit for digit, _ in quotients])
        self._divisors = tuple(divisor for _, divisor in quotients)
        self._clocks = tuple(clocks)
        self._scaled = tuple(scaled)
        self._read_fields(payload, body_end, digits, texts)
        self._check_ranges(payload, values, plausible_range)
        self._hour = -1  # YYMMDDhh of the last clock, and that hour as a datetime
        self._hour_start = datetime(2000, 1, 1)
        self._valid_stamps: set[int] = set()

    def _read_fields(
        self, payload: bytes, body_end: int, digits: list[Span], texts: list[tuple[int, int, bool]]
    ) -> None:
        """Structs that split the telegram, without its dots, into fixed bytes and digits,
        and the telegram as it is into its texts."""
        spans = sorted(
            [(start, end, True) for start, end in digits]
            + [(start, end, False) for start, end, _ in texts]
        )
        formats, position = ["<"], 0
        fields: list[bool] = []
        for start, end, is_digits in spans:
            first, last = start - payload.count(DOT, 0, start), end - payload.count(DOT, 0, end)
            formats.append(f"{first - position}s{last - first}{'s' if is_digits else 'x'}")
            fields += (False, True) if is_digits else (False,)
            position = last
        formats.append(f"{body_end - payload.count(DOT, 0, body_end) - position}s")
        fields.append(False)
        layout = struct.Struct("".join(formats))
        self._unpack = layout.unpack_from
        self._fixed_of = getter([i for i, is_digits in enumerate(fields) if not is_digits])
        self._digits_of = getter([i for i, is_digits in enumerate(fields) if is_digits])
        self._fixed = self._fixed_of(self._unpack(payload.translate(None, DOT)))
        text_format, position = ["<"], 0
        for start, end, _ in texts:
            text_format.append(f"{start - position}x{end - start}s")
            position = end
        self._texts_of = struct.Struct("".join(text_format)).unpack_from
        self._texts: tuple[bytes, ...] | None = None  # the texts last read, and their values
        self._text_values: list[str] = []
        self._identifiers = tuple(is_identifier for *_, is_identifier in texts)

    def _check_ranges(
        self, payload: bytes, values: Sequence[Value], plausible_range: PlausibleRange
    ) -> None:
        """The values to check against their plausible range: those whose digits may leave
        it, grouped by the lowest and by the highest plausible value."""
        lowest: dict[float, list[int]] = {}
        highest: dict[float, list[int]] = {}
        for position, (key, how, start, end, multiplier, divisor) in enumerate(values):
            limits = plausible_range(key, self._units.get(key))
            if how > AS_FLOAT or limits is None:
                continue
            largest = 10 ** (end - start - payload.count(DOT, start, end)) - 1
            try:
                ends = [scale(0, multiplier, divisor), scale(largest, multiplier, divisor)]
            except OverflowError:  # then so are some values: a miss (see decode)
                ends = [limits[0] - 1, limits[1] + 1]
            if min(ends) < limits[0]:
                lowest.setdefault(limits[0], []).append(position)
            if max(ends) > limits[1]:
                highest.setdefault(limits[1], []).append(position)
        self._lowest = tuple((getter(positions), low) for low, positions in lowest.items())
        self._highest = tuple((getter(positions), high) for high, positions in highest.items())

    def decode(self, readout: DataReadout) -> MeterReading | None:
        """The reading of ``readout`` when it has this layout and plausible values, else None."""
        payload = readout.payload
        shape = self._shape
        if len(payload) != self._size or not payload.translate(SHAPE).startswith(shape):
            return None
        if self._has_crc and not payload[-CRC_DIGITS:].isalnum():
            return None  # not CRC digits: they might hold a data line
        fields = self._unpack(payload.translate(None, DOT))
        if self._fixed_of(fields) != self._fixed:
            return None
        numbers: list[Any] = list(map(int, self._digits_of(fields)))  # then the other values
        try:
            for index in self._stamps:
                if numbers[index] not in self._valid_stamps:
                    clock(numbers[index], None)  # a date, or a miss
                    if len(self._valid_stamps) >= _MAX_STAMPS:
                        self._valid_stamps.clear()
                    self._valid_stamps.add(numbers[index])
            numbers += [
                number / divisor if number % divisor else number // divisor
                for number, divisor in zip(self._dividends_of(numbers), self._divisors, strict=True)
            ]
            numbers += [self._clock(numbers[index], zone) for index, zone in self._clocks]
            if self._scaled:
                numbers += [
                    float(scale(numbers[index], multiplier, divisor))
                    if as_float
                    else scale(numbers[index], multiplier, divisor)
                    for index, multiplier, divisor, as_float in self._scaled
                ]
        except (ValueError, OverflowError):  # not a date; a number too large for a float
            return None
        if self._identifiers:
            numbers += self._read_texts(payload)
        values = self._pick(numbers)
        for pick, high in self._highest:
            if max(pick(values)) > high:
                return None  # implausible: the full decode drops and counts it
        for pick, low in self._lowest:
            if min(pick(values)) < low:
                return None
        reading = MeterReading(self._blank, units=self._units.copy())
        reading.update(zip(self._keys, values, strict=True))
        identification = readout.identification
        if identification is not None and identification.manufacturer_id:
            reading[METER_MANUFACTURER] = identification.manufacturer_id
        return reading

    def _clock(self, digits: int, zone: tzinfo | None) -> datetime:
        """As :func:`clock`; the hour is remembered: the next telegrams fall in it too."""
        hour, minute_second = divmod(digits, 10000)
        if hour != self._hour or zone is not self._hour_start.tzinfo:
            self._hour_start = clock(hour * 10000, zone)
            self._hour = hour
        minute, second = divmod(minute_second, 100)
        return self._hour_start.replace(minute=minute, second=second)

    def _read_texts(self, payload: bytes) -> list[str]:
        """The text values; decoded again only when they changed (identifiers never do)."""
        texts = self._texts_of(payload)
        if texts != self._texts:
            self._text_values = [
                identifier_text(text.decode("latin-1")) if is_identifier else text.decode("latin-1")
                for text, is_identifier in zip(texts, self._identifiers, strict=True)
            ]
            self._texts = texts
        return self._text_values
