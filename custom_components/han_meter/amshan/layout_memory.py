"""Decoding repeated frames of a known layout with one struct call.

A meter sends the same few lists over and over: only the numbers and clocks change.
After a frame has been decoded the slow way (A-XDR parse, then a meter decoder that
records its :class:`~.reading.Bindings`), a :class:`LayoutTemplate` is made of it: one
precompiled ``struct.Struct`` that splits an APDU of that length into the unchanging
bytes (tags, lengths, OBIS codes, scalers, texts) and the changing values. A later frame
is decoded by the template when its unchanging bytes are identical, so it gives exactly
what the slow way would; anything else (another length, another text, a clock that does
not decode) is a miss and the caller decodes the slow way.
"""

from __future__ import annotations

import struct

from .axdr import AxdrError, Leaf, locate_leaves
from .cosem import COSEM_DATETIME_SIZE, DataNotification, decode_cosem_datetime
from .reading import (
    CLOCK_SOURCE,
    HEADER_CLOCK_PATH,
    NUMBER_SOURCE,
    POWER_FACTOR_SOURCE,
    Bindings,
    MeterReading,
    scaled,
)
from .record import Record, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs more than this module
    from collections.abc import Callable
    from typing import Any

MAX_TEMPLATES = 8  # a meter sends 1 to 3 lists; a few more for safety
_IGNORED = "ignored"
_INVOKE_ID = Leaf(1, 4, "4s")
_NUMBER_FORMATS = frozenset("bBhHiIqQfd")
ValueSpec = tuple[str, str, int, int]  # (key, source, exponent, 10**|exponent|)


class LayoutTemplate(Record):
    """The layout of one APDU: fixed bytes, and where each value goes."""

    __slots__ = __match_args__ = (
        "decoder_index",
        "size",
        "unpack",
        "fixed",
        "values",
        "constants",
        "units",
    )
    decoder_index: int
    size: int
    unpack: Callable[[bytes], tuple[Any, ...]]
    fixed: tuple[bytes, ...]  # the unchanging byte runs, in order
    values: tuple[ValueSpec, ...]
    constants: dict[str, Any]  # texts of the reading
    units: dict[str, str]

    def __init__(
        self,
        decoder_index: int,
        size: int,
        unpack: Callable[[bytes], tuple[Any, ...]],
        fixed: tuple[bytes, ...],
        values: tuple[ValueSpec, ...],
        constants: dict[str, Any],
        units: dict[str, str],
    ) -> None:
        set_field(self, "decoder_index", decoder_index)
        set_field(self, "size", size)
        set_field(self, "unpack", unpack)
        set_field(self, "fixed", fixed)
        set_field(self, "values", values)
        set_field(self, "constants", constants)
        set_field(self, "units", units)

    def decode(self, apdu: bytes) -> MeterReading | None:
        """The reading of ``apdu`` when it has this layout, else None."""
        if len(apdu) != self.size:
            return None
        fields = self.unpack(apdu)
        if fields[0::2] != self.fixed:
            return None
        reading = MeterReading(self.constants, units=self.units.copy())
        for (key, source, exponent, factor), raw in zip(self.values, fields[1::2], strict=True):
            if source == NUMBER_SOURCE:
                if exponent == 0:
                    reading[key] = raw
                elif type(raw) is not int:
                    reading[key] = scaled(raw, exponent)
                elif exponent > 0:
                    reading[key] = raw * factor
                else:
                    quotient, remainder = divmod(raw, factor)
                    reading[key] = raw / factor if remainder else quotient
            elif source == CLOCK_SOURCE:
                clock = decode_cosem_datetime(raw)
                if clock is None:
                    return None
                reading[key] = clock
            elif source == POWER_FACTOR_SOURCE:
                reading[key] = float(scaled(raw, exponent))
        return reading


def make_template(
    decoder_index: int, apdu: bytes, notification: DataNotification, reading: MeterReading
) -> LayoutTemplate | None:
    """A template of ``apdu``'s layout, or None when the reading cannot be replayed.

    ``notification`` must be the one ``apdu`` was decoded into, with the bindings the
    decoder recorded; ``reading`` what the decoder returned (before any value is dropped).
    """
    bindings = notification.bindings
    if bindings is None or not _all_bound(reading, bindings):
        return None
    try:
        leaves = locate_leaves(apdu, notification.body_offset)
    except AxdrError:  # pragma: no cover - the same bytes were just decoded
        return None
    located = _header_leaves(notification)
    for path in bindings.ignored:
        leaf = leaves.get(path)
        if leaf is not None:
            located[leaf.offset] = (leaf, ("", _IGNORED, 0, 1))
    header_clock = located.get(notification.timestamp_offset or 0)
    for key, (path, source, exponent) in bindings.sources.items():
        if path == HEADER_CLOCK_PATH:
            leaf = None if header_clock is None else header_clock[0]
        else:
            leaf = leaves.get(path)
        if leaf is None or not _fits(leaf, source):
            return None
        located[leaf.offset] = (leaf, (key, source, exponent, 10 ** abs(exponent)))
    if len({spec[0] for _, spec in located.values() if spec[0]}) != len(bindings.sources):
        return None  # two keys from one element
    return _build(decoder_index, apdu, located, reading, bindings)


def _all_bound(reading: MeterReading, bindings: Bindings) -> bool:
    """Every value that is not a text must come from a bound element."""
    sources = bindings.sources
    return all(type(value) is str or key in sources for key, value in reading.items()) and all(
        key in reading for key in sources
    )


def _fits(leaf: Leaf, source: str) -> bool:
    if source == CLOCK_SOURCE:
        return leaf.size == COSEM_DATETIME_SIZE and leaf.format.endswith("s")
    return leaf.format in _NUMBER_FORMATS


def _header_leaves(notification: DataNotification) -> dict[int, tuple[Leaf, ValueSpec]]:
    """The invoke id and the APDU date-time: they change from frame to frame."""
    ignored = ("", _IGNORED, 0, 1)
    if notification.body_offset == 0:  # a bare body: no header
        return {}
    located = {_INVOKE_ID.offset: (_INVOKE_ID, ignored)}
    if notification.timestamp_offset is not None:
        clock = Leaf(notification.timestamp_offset, COSEM_DATETIME_SIZE, f"{COSEM_DATETIME_SIZE}s")
        located[clock.offset] = (clock, ignored)
    return located


def _build(
    decoder_index: int,
    apdu: bytes,
    located: dict[int, tuple[Leaf, ValueSpec]],
    reading: MeterReading,
    bindings: Bindings,
) -> LayoutTemplate | None:
    formats = [">"]
    fixed = []
    values = []
    pos = 0
    for offset in sorted(located):
        leaf, spec = located[offset]
        if offset < pos:  # pragma: no cover - leaves never overlap
            return None
        fixed.append(apdu[pos:offset])
        formats.append(f"{offset - pos}s{leaf.format}")
        values.append(spec)
        pos = offset + leaf.size
    fixed.append(apdu[pos:])
    formats.append(f"{len(apdu) - pos}s")
    layout = struct.Struct("".join(formats))
    if layout.size != len(apdu):  # pragma: no cover - the leaves cover the APDU exactly
        return None
    constants = {key: value for key, value in reading.items() if key not in bindings.sources}
    return LayoutTemplate(
        decoder_index,
        len(apdu),
        layout.unpack,
        tuple(fixed),
        tuple(values),
        constants,
        dict(reading.units),
    )


class LayoutMemory:
    """The templates of the last few layouts seen, by APDU length.

    A template is made when two frames of the same length in a row had to be decoded
    the slow way: a layout seen once (or a meter whose layout keeps changing) costs no
    template building.
    """

    __slots__ = ("_candidate_size", "_templates")

    def __init__(self) -> None:
        self._templates: dict[int, LayoutTemplate] = {}
        self._candidate_size = -1

    def decode(self, apdu: bytes) -> tuple[int, MeterReading] | None:
        """(decoder index, reading) when a remembered layout fits ``apdu``, else None."""
        template = self._templates.get(len(apdu))
        if template is None:
            return None
        reading = template.decode(apdu)
        return None if reading is None else (template.decoder_index, reading)

    def learn(
        self,
        decoder_index: int,
        apdu: bytes,
        notification: DataNotification,
        reading: MeterReading,
    ) -> None:
        """Note a frame decoded the slow way; make a template when its length repeats."""
        size = len(apdu)
        self._templates.pop(size, None)  # it did not fit this frame
        if size != self._candidate_size:
            self._candidate_size = size
            return
        self._candidate_size = -1
        template = make_template(decoder_index, apdu, notification, reading)
        if template is not None:
            if len(self._templates) >= MAX_TEMPLATES:
                del self._templates[next(iter(self._templates))]
            self._templates[size] = template
