"""Incremental reader of IEC 62056-21 mode D readouts (DSMR / P1 telegrams).

A readout is ``/XXXZIdent`` CRLF, a blank line, data lines ``A-B:C.D.E(value*unit)``,
then ``!`` + 4 hex digits of CRC-16/ARC over ``/``..``!`` + CRLF. DSMR 2.2 to 4.x
meters may send a bare ``!`` without a CRC.
"""

from __future__ import annotations

from .crc import crc16_arc
from .obis_map import parse_obis
from .record import Record, set_field

MAX_READOUT_BYTES = 16384
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
_CRC_DIGITS = 4
_CR, _LF, _SLASH = 0x0D, 0x0A, 0x2F
# The identification starts with "/", a 3-letter manufacturer flag and a baud rate
# character. Data may not contain "/" or "!", so this also marks a meter that restarts
# in the middle of a readout.
_START_LENGTH = 5
_READOUT_END = b"\n!"


class Identification(Record):
    """The identification line ``/KAM5Ident``."""

    __slots__ = __match_args__ = ("manufacturer_id", "baud_rate_id", "ident")
    manufacturer_id: str  # "KAM"
    baud_rate_id: str  # "5"
    ident: str  # the rest of the line, escapes like "\\2" kept

    def __init__(self, manufacturer_id: str, baud_rate_id: str, ident: str) -> None:
        set_field(self, "manufacturer_id", manufacturer_id)
        set_field(self, "baud_rate_id", baud_rate_id)
        set_field(self, "ident", ident)


class DataValue(Record):
    """One ``(value*unit)`` group, as written."""

    __slots__ = __match_args__ = ("value", "unit")
    value: str
    unit: str | None

    def __init__(self, value: str, unit: str | None) -> None:
        set_field(self, "value", value)
        set_field(self, "unit", unit)


class DataSet(Record):
    """One data line: its address as written, its values and its OBIS code."""

    __slots__ = __match_args__ = ("address", "values", "obis")
    address: str
    values: tuple[DataValue, ...]
    obis: tuple[int, int, int, int, int] | None  # None unless the address is numeric

    def __init__(
        self,
        address: str,
        values: tuple[DataValue, ...],
        obis: tuple[int, int, int, int, int] | None,
    ) -> None:
        set_field(self, "address", address)
        set_field(self, "values", values)
        set_field(self, "obis", obis)


# A data line as decoders read it: its address, and its values as written between the
# first "(" and the last ")": ``"1-0:1.8.0", "00001.011*kWh"``, or ``"a)(b*m3"`` for two.
DataLine = tuple[str, str]


class DataReadout(Record):
    """One readout (telegram); ``data_sets`` are parsed on first use."""

    __slots__ = ("_data_sets", "as_bytes", "crc", "identification", "is_good_crc", "payload")
    __match_args__ = ("as_bytes", "identification", "payload", "crc", "is_good_crc")
    as_bytes: bytes  # from "/" through the CRC digits and CRLF
    identification: Identification | None
    payload: bytes  # from "/" through "!" and the CRC digits
    crc: int | None  # None when the telegram carries none
    is_good_crc: bool | None  # None when there is no CRC to check
    _data_sets: tuple[DataSet, ...] | None

    def __init__(
        self,
        as_bytes: bytes,
        identification: Identification | None,
        payload: bytes,
        data_sets: tuple[DataSet, ...] | None = None,
        crc: int | None = None,
        is_good_crc: bool | None = None,
    ) -> None:
        set_field(self, "as_bytes", as_bytes)
        set_field(self, "identification", identification)
        set_field(self, "payload", payload)
        set_field(self, "_data_sets", data_sets)
        set_field(self, "crc", crc)
        set_field(self, "is_good_crc", is_good_crc)

    @property
    def data_sets(self) -> tuple[DataSet, ...]:
        """The data lines (parsed once, when first asked for: decoders may not need them)."""
        data_sets = self._data_sets
        if data_sets is None:
            data_sets = parse_data_sets(self.payload)
            set_field(self, "_data_sets", data_sets)
        return data_sets

    def data_lines(self) -> list[DataLine]:
        """The data lines without :class:`DataSet` objects (what decoders need, for less)."""
        data_sets = self._data_sets
        if data_sets is None:
            return parse_data_lines(self.payload)
        return [
            (
                data_set.address,
                ")(".join([f"{v.value}*{v.unit}" if v.unit else v.value for v in data_set.values]),
            )
            for data_set in data_sets
        ]

    @property
    def is_valid(self) -> bool:
        """Identified, ended by ``!`` and checked: by its CRC, or without one by its form.

        Without a CRC nothing vouches for the data, so the readout must at least be ASCII
        and end with "!" and a line end, as the standard writes it: noise rarely is.
        """
        if self.identification is None or self.is_good_crc is False:
            return False
        if self.crc is not None:
            return self.payload[-2 - _CRC_DIGITS : -_CRC_DIGITS] == _READOUT_END
        return (
            self.payload.endswith(_READOUT_END)
            and self.as_bytes.endswith((b"!\r\n", b"!\n"))
            and self.payload.isascii()
        )


def parse_identification(payload: bytes) -> Identification | None:
    """The ``/XXXZIdent`` line at the start of ``payload``."""
    line_end = payload.find(b"\n")
    line = (payload if line_end < 0 else payload[:line_end]).rstrip(b"\r").decode("latin-1")
    if len(line) < _START_LENGTH or line[0] != "/":
        return None
    return Identification(line[1:4], line[4], line[5:])


def parse_data_lines(payload: bytes) -> list[DataLine]:
    """The data lines of a readout; a line starting with "(" continues the previous one."""
    lines: list[DataLine] = []
    for line in payload.decode("latin-1").split("\n")[1:]:  # after the identification
        first = line.find("(")
        last = line.rfind(")")
        if first < 0 or last < first:
            continue  # blank line, "!" line or noise
        if first:
            lines.append((line[:first], line[first + 1 : last]))
        elif lines:  # DSMR 2.2 puts the gas reading on a line of its own
            address, values = lines[-1]
            lines[-1] = (address, f"{values})({line[1:last]}")
    return lines


def parse_data_sets(payload: bytes) -> tuple[DataSet, ...]:
    """The data lines of a readout as :class:`DataSet` objects."""
    return tuple([_data_set(address, values) for address, values in parse_data_lines(payload)])


def _data_set(address: str, values: str) -> DataSet:
    parsed = []
    # Values may not contain "(" or ")", so plain splitting is exact (and fast).
    for text in values.split(")("):
        value, _, unit = text.partition("*")
        parsed.append(DataValue(value, unit or None))
    return DataSet(address, tuple(parsed), parse_obis(address))


def _find_start(buffer: bytearray, start: int, end: int) -> int:
    """Index of the first "/" in [start, end) that opens an identification line, or -1.

    It must be followed by a 3-letter manufacturer flag and a baud rate character; when
    those have not all arrived yet, it does not count (yet).
    """
    slash = buffer.find(b"/", start, end)
    while slash >= 0:
        if buffer[slash + 1 : slash + 4].isalpha() and buffer[slash + 4 : slash + 5].isalnum():
            return slash
        slash = buffer.find(b"/", slash + 1, end)
    return -1


def _readout_end(buffer: bytearray, bang: int, size: int) -> tuple[int, int] | None:
    """(end of the CRC digits, end of the readout) after the "!" at ``bang``, None to wait."""
    digits_end = bang + 1
    limit = min(digits_end + _CRC_DIGITS, size)
    while digits_end < limit and buffer[digits_end] in _HEX_DIGITS:
        digits_end += 1
    if digits_end == size:
        return None  # more digits or the CRLF may follow
    if buffer[digits_end] == _LF:
        return digits_end, digits_end + 1
    if buffer[digits_end] != _CR:
        return digits_end, digits_end  # no line end: the next readout may follow at once
    if digits_end + 1 == size:
        return None
    return digits_end, digits_end + 2 if buffer[digits_end + 1] == _LF else digits_end + 1


class ModeDReader:
    """Finds mode D readouts in a byte stream fed in chunks of any size.

    Bytes outside readouts are dropped as they arrive; a readout longer than
    ``MAX_READOUT_BYTES`` is dropped, so the buffer never holds more than that.
    """

    __slots__ = ("_buffer", "_in_readout", "_scanned", "discarded_bytes")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._in_readout = False  # the buffer starts with the "/" of a readout
        self._scanned = 0  # searching may resume here: nothing of interest before it
        self.discarded_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held back for the next call."""
        return len(self._buffer)

    def read(self, data: bytes) -> list[DataReadout]:
        """The readouts completed by ``data``, valid and invalid ones; never raises."""
        buffer = self._buffer
        buffer += data
        size = len(buffer)
        readouts: list[DataReadout] = []
        pos, scan, in_readout = 0, self._scanned, self._in_readout
        while True:
            if not in_readout:
                start = _find_start(buffer, pos, size)
                if start < 0:
                    # Keep a "/" near the end: its flag may arrive with the next chunk.
                    keep = buffer.rfind(b"/", max(pos, size - _START_LENGTH + 1))
                    keep = size if keep < 0 else keep
                    self.discarded_bytes += keep - pos
                    pos = scan = keep
                    break
                self.discarded_bytes += start - pos
                pos, scan, in_readout = start, start + 1, True
            # The next event: the end of the readout, or a restart before it.
            at = buffer.find(_READOUT_END, scan)
            restart = _find_start(buffer, scan, size if at < 0 else at)
            at = at if restart < 0 else restart
            if at < 0:
                scan = max(pos + 1, size - _START_LENGTH + 1)
                if size - pos < MAX_READOUT_BYTES:
                    break
                # Too long to be a readout; nothing before ``scan`` can start one.
                self.discarded_bytes += scan - pos
                pos, in_readout = scan, False
                continue
            if buffer[at] == _SLASH:  # a restart: the readout so far is cut short
                self._emit(readouts, pos, None, at)
                pos, scan = at, at + 1
                continue
            bang = at + 1
            end = _readout_end(buffer, bang, size)
            if end is None:
                scan = at
                if size - pos < MAX_READOUT_BYTES:
                    break
                self.discarded_bytes += bang + 1 - pos
                pos = scan = bang + 1
                in_readout = False
                continue
            self._emit(readouts, pos, (bang, end[0]), end[1])
            pos = scan = end[1]
            in_readout = False
        del buffer[:pos]
        self._scanned = scan - pos
        self._in_readout = in_readout
        return readouts

    def _emit(
        self, readouts: list[DataReadout], start: int, crc_span: tuple[int, int] | None, end: int
    ) -> None:
        """Append the readout buffer[start:end] (``crc_span``: "!" and digits end) or drop it."""
        if end - start > MAX_READOUT_BYTES:
            self.discarded_bytes += end - start
            return
        buffer = self._buffer
        as_bytes = bytes(buffer[start:end])
        crc: int | None = None
        is_good_crc: bool | None = None
        if crc_span is None:
            payload = as_bytes
        else:
            bang, digits_end = crc_span
            payload = as_bytes[: digits_end - start]
            if digits_end - bang - 1 == _CRC_DIGITS:
                crc = int(payload[-_CRC_DIGITS:], 16)
                is_good_crc = crc16_arc(buffer[start : bang + 1]) == crc
            elif digits_end > bang + 1:  # 1 to 3 digits: a mangled CRC
                is_good_crc = False
        readouts.append(
            DataReadout(as_bytes, parse_identification(payload), payload, None, crc, is_good_crc)
        )
