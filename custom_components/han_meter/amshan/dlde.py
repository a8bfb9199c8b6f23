"""Incremental reader of IEC 62056-21 mode D readouts (DSMR / P1 telegrams).

The parts of a readout are in :mod:`.p1_readout` (and can be imported from here too).
"""

from __future__ import annotations

from .crc import crc16_arc
from .obis_map import parse_obis
from .p1_readout import (
    CRC_DIGITS,
    READOUT_END,
    START_LENGTH,
    DataLine,
    DataReadout,
    DataSet,
    DataValue,
    Identification,
    parse_data_lines,
    parse_data_sets,
    parse_identification,
)

__all__ = [
    "MAX_READOUT_BYTES",
    "DataLine",
    "DataReadout",
    "DataSet",
    "DataValue",
    "Identification",
    "ModeDReader",
    "parse_data_lines",
    "parse_data_sets",
    "parse_identification",
    "parse_obis",
]

MAX_READOUT_BYTES = 16384
_HEX_DIGITS = b"0123456789ABCDEFabcdef"
_CR, _LF, _SLASH = 0x0D, 0x0A, 0x2F


def _find_start(buffer: bytes | bytearray, start: int, end: int) -> int:
    """Index of the first "/" in [start, end) that opens an identification line, or -1.

    It must be followed by a 3-letter manufacturer flag and a baud rate character; when
    those have not all arrived yet, it does not count (yet). Data may not contain "/" or
    "!", so this also marks a meter that restarts in the middle of a readout.
    """
    slash = buffer.find(b"/", start, end)
    while slash >= 0:
        if buffer[slash + 1 : slash + 4].isalpha() and buffer[slash + 4 : slash + 5].isalnum():
            return slash
        slash = buffer.find(b"/", slash + 1, end)
    return -1


def _readout_end(buffer: bytes | bytearray, bang: int, size: int) -> tuple[int, int] | None:
    """(end of the CRC digits, end of the readout) after the "!" at ``bang``, None to wait."""
    digits = buffer[bang + 1 : bang + 1 + CRC_DIGITS]
    digits_end = bang + 1 + len(digits) - len(digits.lstrip(_HEX_DIGITS))  # up to 4 of them
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

    __slots__ = ("_buffer", "_identification", "_in_readout", "_scanned", "discarded_bytes")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._in_readout = False  # the buffer starts with the "/" of a readout
        self._scanned = 0  # searching may resume here: nothing of interest before it
        self.discarded_bytes = 0
        # A meter starts every readout with the same line: it is parsed once.
        self._identification: tuple[bytes, Identification | None] = (b"", None)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held back for the next call."""
        return len(self._buffer)

    def read(self, data: bytes) -> list[DataReadout]:
        """The readouts completed by ``data``, valid and invalid ones; never raises."""
        held = self._buffer
        buffer: bytes | bytearray
        if held:
            held += data
            buffer = held
        else:  # nothing held back (the usual case): read ``data`` itself, not a copy
            buffer = data if type(data) is bytes else bytes(data)
        size = len(buffer)
        readouts: list[DataReadout] = []
        pos, scan, in_readout = 0, self._scanned, self._in_readout
        while True:
            if not in_readout:
                if pos == size:  # all read: the common end
                    scan = size
                    break
                start = _find_start(buffer, pos, size)
                if start < 0:
                    # Keep a "/" near the end: its flag may arrive with the next chunk.
                    keep = buffer.rfind(b"/", max(pos, size - START_LENGTH + 1))
                    keep = size if keep < 0 else keep
                    self.discarded_bytes += keep - pos
                    pos = scan = keep
                    break
                self.discarded_bytes += start - pos
                pos, scan, in_readout = start, start + 1, True
            # The next event: the end of the readout, or a restart before it.
            at = buffer.find(READOUT_END, scan)
            restart = _find_start(buffer, scan, size if at < 0 else at)
            at = at if restart < 0 else restart
            if at < 0:
                scan = max(pos + 1, size - START_LENGTH + 1)
                if size - pos < MAX_READOUT_BYTES:
                    break
                # Too long to be a readout; nothing before ``scan`` can start one.
                self.discarded_bytes += scan - pos
                pos, in_readout = scan, False
                continue
            if buffer[at] == _SLASH:  # a restart: the readout so far is cut short
                self._emit(readouts, buffer, pos, None, at)
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
            self._emit(readouts, buffer, pos, (bang, end[0]), end[1])
            pos = scan = end[1]
            in_readout = False
        if buffer is held:
            del held[:pos]
        else:
            held += buffer[pos:]  # to wait for the next chunk
        self._scanned = scan - pos
        self._in_readout = in_readout
        return readouts

    def _emit(
        self,
        readouts: list[DataReadout],
        buffer: bytes | bytearray,
        start: int,
        crc_span: tuple[int, int] | None,
        end: int,
    ) -> None:
        """Append the readout buffer[start:end] (``crc_span``: "!" and digits end) or drop it."""
        if end - start > MAX_READOUT_BYTES:
            self.discarded_bytes += end - start
            return
        as_bytes = bytes(buffer[start:end])  # a slice of bytes is not copied again
        crc: int | None = None
        is_good_crc: bool | None = None
        if crc_span is None:
            payload = as_bytes
        else:
            bang, digits_end = crc_span
            payload = as_bytes[: digits_end - start]
            if digits_end - bang - 1 == CRC_DIGITS:
                crc = int(payload[-CRC_DIGITS:], 16)
                is_good_crc = crc16_arc(buffer[start : bang + 1]) == crc
            elif digits_end > bang + 1:  # 1 to 3 digits: a mangled CRC
                is_good_crc = False
        line_end = payload.find(b"\n")
        line = payload if line_end < 0 else payload[:line_end]
        known_line, identification = self._identification
        if line != known_line:
            identification = parse_identification(line)
            self._identification = (line, identification)
        readouts.append(DataReadout(as_bytes, identification, payload, None, crc, is_good_crc))
