"""Learning the layouts of a meter's P1 telegrams from their full decodes.

:class:`P1LayoutMemory` is to P1 what :class:`~.layout_memory.LayoutMemory` is to binary
frames: after two full decodes in a row of telegrams of the same shape it makes a
:class:`~.p1_layout.P1Layout` by replaying the full decode of the second one (the steps
of :meth:`.p1.P1Decoder.decode`, noting where each value comes from), and keeps it only
when it decodes that telegram to exactly the same reading.
"""

from __future__ import annotations

from .p1 import (
    CLOCK,
    IDENTIFIER,
    NUMBER_OR_TEXT,
    POWER_FACTOR,
    TIME_FLAGS,
    TIMESTAMP_LENGTH,
    parse_number,
    parse_timestamp,
    value_plan,
)
from .p1_layout import (
    AS_CLOCK,
    AS_FLOAT,
    AS_IDENTIFIER,
    AS_NUMBER,
    AS_TEXT,
    CRC_DIGITS,
    SHAPE,
    P1Layout,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable

    from .dlde import DataReadout
    from .p1 import ValuePlan
    from .p1_layout import PlausibleRange, Span, Value
    from .reading import MeterReading

    Plan = Callable[[str, str], ValuePlan]

MAX_LAYOUTS = 4  # a meter sends one layout; a few more for safety


class P1LayoutMemory:
    """The layouts of the last few telegram sizes seen."""

    __slots__ = ("_candidate", "_layouts", "_plan", "_plausible_range")

    def __init__(self, plausible_range: PlausibleRange, plan: Plan = value_plan) -> None:
        self._layouts: dict[int, P1Layout] = {}
        self._candidate = b""  # the shape of the last telegram decoded the full way
        self._plausible_range = plausible_range
        self._plan = plan  # such as the full decoder's: it has just planned the same lines

    def decode(self, readout: DataReadout) -> MeterReading | None:
        """The reading of ``readout`` when a remembered layout fits it, else None."""
        layout = self._layouts.get(len(readout.payload))
        return None if layout is None else layout.decode(readout)

    def learn(self, readout: DataReadout, reading: MeterReading) -> None:
        """Note a readout decoded the full way to ``reading``, with no value dropped."""
        payload = readout.payload
        self._layouts.pop(len(payload), None)  # it did not fit this readout
        shape = payload[: len(payload) - _crc_digits(readout)].translate(SHAPE)
        if shape != self._candidate:
            self._candidate = shape
            return
        self._candidate = b""
        layout = make_layout(readout, reading, self._plausible_range, self._plan)
        if layout is not None:
            if len(self._layouts) >= MAX_LAYOUTS:
                del self._layouts[next(iter(self._layouts))]
            self._layouts[len(payload)] = layout


def make_layout(
    readout: DataReadout,
    reading: MeterReading,
    plausible_range: PlausibleRange,
    plan: Plan = value_plan,
) -> P1Layout | None:
    """The layout of ``readout``, None when it cannot be replayed exactly.

    ``reading`` must be the full decode of ``readout``, with no value dropped as implausible;
    ``plan`` says what the value of an address means (see :func:`.p1.value_plan`).
    """
    payload = readout.payload
    body_end = len(payload) - _crc_digits(readout)
    builder = _Builder(readout, plan)
    try:
        builder.build()
        if not builder.values:
            return None
        layout = P1Layout(
            payload, body_end, builder.values, builder.stamps, builder.units, plausible_range
        )
    except (ValueError, OverflowError):  # a date that is no date; numbers too long or large
        return None
    replayed = layout.decode(readout)
    return layout if replayed is not None and _same(replayed, reading) else None


def _crc_digits(readout: DataReadout) -> int:
    """Length of the CRC digits ending the payload: they change with every value.

    They count as such only on a line of their own, so no value lies in them.
    """
    payload = readout.payload
    on_their_line = payload[-CRC_DIGITS - 2 : -CRC_DIGITS] == b"\n!"
    if readout.crc is not None and on_their_line and payload[-CRC_DIGITS:].isalnum():
        return CRC_DIGITS
    return 0


def _same(first: MeterReading, second: MeterReading) -> bool:
    """Equal values of equal types, in the same order, and equal units."""
    return [(key, type(value), value) for key, value in first.items()] == [
        (key, type(value), value) for key, value in second.items()
    ] and list(first.units.items()) == list(second.units.items())


def _groups(text: str, start: int, end: int) -> list[Span]:
    """The spans of the ``)(``-separated values in ``text[start:end]``."""
    spans = []
    separator = text.find(")(", start, end)
    while separator >= 0:
        spans.append((start, separator))
        start = separator + 2
        separator = text.find(")(", start, end)
    spans.append((start, end))
    return spans


def _timestamp_form(text: str) -> bool:
    """Whether ``text`` is written as a timestamp (its digits may still be no date)."""
    digits, flag = text[:TIMESTAMP_LENGTH], text[TIMESTAMP_LENGTH:]
    return len(digits) == TIMESTAMP_LENGTH and digits.isdecimal() and flag in ("", *TIME_FLAGS)


class _Builder:
    """Replays the full decode of one readout, noting where each value comes from.

    Whether a line gives a value, and of which type, depends only on its non-digits
    (which the layout's shape keeps) except for dates: a clock or a timestamp whose
    digits are no date makes the readout one that is not replayed (ValueError).
    """

    def __init__(self, readout: DataReadout, plan: Plan) -> None:
        self._text = readout.payload.decode("latin-1")
        self._plan = plan
        self.values: list[Value] = []
        self.stamps: list[Span] = []
        self.units: dict[str, str] = {}

    def build(self) -> None:
        for address, groups in self._data_lines():
            if len(groups) > 2:
                continue  # logs and histories
            value, unit = self._value(address, *groups[-1])
            if value is None:
                continue
            if len(groups) == 2:
                start, end = groups[0]
                star = self._text.find("*", start, end)
                if not self._is_date(self._text[start : end if star < 0 else star]):
                    continue
                self.stamps.append((start, start + TIMESTAMP_LENGTH))
            self.values.append(value)
            if unit is not None:
                self.units[value[0]] = unit

    def _data_lines(self) -> list[tuple[str, list[Span]]]:
        """As :func:`.dlde.parse_data_lines`, with the spans of the values."""
        text = self._text
        lines: list[tuple[str, list[Span]]] = []
        start = text.find("\n") + 1
        while start:
            end = text.find("\n", start)
            line_end = len(text) if end < 0 else end
            first = text.find("(", start, line_end)
            last = text.rfind(")", start, line_end)
            if 0 <= first <= last:
                if first > start:
                    lines.append((text[start:first], _groups(text, first + 1, last)))
                elif lines:  # a continuation line
                    lines[-1][1].extend(_groups(text, first + 1, last))
            start = end + 1
        return lines

    def _is_date(self, text: str) -> bool:
        """Whether ``text`` is a timestamp; ValueError when only its digits are wrong."""
        if not _timestamp_form(text):
            return False  # whatever its digits: the same every time
        if parse_timestamp(text) is None:
            raise ValueError(text)
        return True

    def _value(self, address: str, start: int, end: int) -> tuple[Value | None, str | None]:
        """Where the value in ``text[start:end]`` goes and how it is read (None for nothing),
        and its unit in the reading."""
        star = self._text.find("*", start, end)
        text_end = end if star < 0 else star
        text = self._text[start:text_end]
        if not text:
            return None, None
        _, key, kind, unit, exponent = self._plan(address, self._text[text_end + 1 : end])
        if kind <= POWER_FACTOR:
            if parse_number(text, exponent) is None:
                is_text = kind == NUMBER_OR_TEXT
                return (key, AS_TEXT, start, text_end, None, None) if is_text else None, None
            shift = exponent - len(text.partition(".")[2])
            multiplier = (-1 if text[0] == "-" else 1) * 10 ** max(shift, 0)
            digits = start + (text[0] in "+-")
            if kind == POWER_FACTOR:
                return (key, AS_FLOAT, digits, text_end, multiplier, 10 ** max(-shift, 0)), None
            return (key, AS_NUMBER, digits, text_end, multiplier, 10 ** max(-shift, 0)), unit
        if kind == CLOCK:
            if not self._is_date(text):
                return None, None
            zone = TIME_FLAGS.get(text[TIMESTAMP_LENGTH:])
            return (key, AS_CLOCK, start, start + TIMESTAMP_LENGTH, None, zone), None
        how = AS_IDENTIFIER if kind == IDENTIFIER else AS_TEXT
        return (key, how, start, text_end, None, None), None
