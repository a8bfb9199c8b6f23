"""Incremental reader of HDLC frames (IEC 62056-46 frame format type 3) from a HAN port.

HAN frames are not octet-stuffed: 0x7E and 0x7D occur inside frames, so a frame is
delimited by the length in its frame format field, never by searching for a flag.
"""

from __future__ import annotations

from binascii import crc_hqx

from .crc import X25_GOOD_RESIDUE_BIT_REVERSED, bit_reversed
from .hdlc_frame import FRAME_FORMAT_TYPE_3, HdlcFrame, HdlcFrameHeader

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Sequence

    from .hdlc_stuffing import OctetUnstuffer

__all__ = [
    "FLAG",
    "FRAME_FORMAT_TYPE_3",
    "MAX_BUFFERED_BYTES",
    "MAX_FRAME_LENGTH",
    "HdlcFrame",
    "HdlcFrameHeader",
    "HdlcFrameReader",
]

FLAG = 0x7E
MAX_FRAME_LENGTH = 0x7FF  # the 11-bit length field
MAX_BUFFERED_BYTES = 4096
_MIN_FRAME_LENGTH = 7  # format (2) + two 1-byte addresses + control + FCS (2)
_MAX_HEADER_WITH_HCS = 13  # format (2) + two 4-byte addresses + control + HCS (2)

# A frame can only start at a flag followed by a type-3 format byte (0xA0..0xAF): the
# regex engine skips everything else (noise, idle flags) in C.
_FRAME_START = rb"\x7e[\xa0-\xaf]"
_ABORT = b"\x7d\x7e"
_MAX_CACHED_HEADERS = 16


def _compile(pattern: bytes) -> re.Pattern[bytes]:
    """``pattern`` compiled, for a reader: ``re`` is imported with the first reader, not
    with this module, as importing it costs more than the whole library (benchmark T5).
    """
    import re

    return re.compile(pattern)  # compiled once: re keeps a cache


def _long_address_end(buffer: bytes, start: int, limit: int) -> int:
    """Index after the 2- or 4-byte address at ``start`` (ends at a byte with LSB 1), or -1."""
    if start + 1 < limit and buffer[start + 1] & 1:
        return start + 2
    if start + 3 < limit and not buffer[start + 2] & 1 and buffer[start + 3] & 1:
        return start + 4
    return -1


class HdlcFrameReader:
    """Finds HDLC frames in a byte stream fed in chunks of any size.

    Garbage is dropped as it arrives, so at most one pending frame is ever buffered.
    Frames with a good header check sequence but a bad frame check sequence are
    returned with ``is_valid`` False; the bytes after their opening flag are then read
    again, so a truncated frame never hides the frames that follow it.
    """

    __slots__ = (
        "_aborts_in_data",
        "_buffer",
        "_discarded_bytes",
        "_frame_start",
        "_headers",
        "_returned_end",
        "_unstuffer",
        "_wanted",
    )

    def __init__(self, use_octet_stuffing: bool = False, use_abort_sequence: bool = False) -> None:
        self._unstuffer: OctetUnstuffer | None = None
        if use_octet_stuffing:
            from .hdlc_stuffing import OctetUnstuffer  # HAN ports never stuff

            self._unstuffer = OctetUnstuffer(use_abort_sequence)
        # Unstuffing removes the escapes, so a stuffed link's aborts are found beforehand.
        self._aborts_in_data = use_abort_sequence and not use_octet_stuffing
        self._buffer = bytearray()
        self._wanted = 1  # buffer length at which parsing can make progress
        self._returned_end = 0  # buffer bytes before this were returned in a frame
        self._headers: dict[bytes, HdlcFrameHeader] = {}
        self._frame_start = _compile(_FRAME_START)
        self._discarded_bytes = 0

    @property
    def discarded_bytes(self) -> int:
        """Bytes dropped that were neither flags nor in a frame."""
        unstuffer = self._unstuffer
        return self._discarded_bytes + (0 if unstuffer is None else unstuffer.discarded_bytes)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held back for the next call."""
        unstuffer = self._unstuffer
        return len(self._buffer) + (0 if unstuffer is None else unstuffer.buffered_bytes)

    def read(self, data: bytes) -> Sequence[HdlcFrame]:
        """The frames completed by ``data``, valid and invalid ones; never raises."""
        if self._unstuffer is not None:
            return self._read_stuffed(self._unstuffer, data)
        buffer = self._buffer
        buffer += data
        if len(buffer) < self._wanted:  # the common case with small chunks
            return ()  # no new list: this is most calls when a port delivers bytes singly
        return self._parse()

    def _read_stuffed(self, unstuffer: OctetUnstuffer, data: bytes) -> list[HdlcFrame]:
        frames: list[HdlcFrame] = []
        for piece, aborts in unstuffer.unstuff(bytes(data)):
            self._buffer += piece
            if len(self._buffer) >= self._wanted:
                frames += self._parse()
            if aborts:
                self._abort()
        return frames

    def _abort(self) -> None:
        """Drop the frame in progress (an abort sequence arrived)."""
        self._discard(0, len(self._buffer), self._returned_end)
        self._buffer.clear()
        self._wanted = 1
        self._returned_end = 0

    def _discard(self, start: int, end: int, returned_end: int) -> None:
        start = max(start, returned_end)
        if end > start:
            self._discarded_bytes += end - start - self._buffer.count(FLAG, start, end)

    def _header(
        self, raw: bytes, raw_start: int, source_start: int, source_end: int
    ) -> HdlcFrameHeader:
        """The header ``raw`` (format .. control) found at ``raw_start``; a meter repeats it."""
        header = self._headers.get(raw)
        if header is None:
            if len(self._headers) >= _MAX_CACHED_HEADERS:
                self._headers.clear()
            header = HdlcFrameHeader(
                FRAME_FORMAT_TYPE_3,
                (raw[0] & 0x07) << 8 | raw[1],
                bool(raw[0] & 0x08),
                raw[2 : source_start - raw_start],
                raw[source_start - raw_start : source_end - raw_start],
                raw[source_end - raw_start],
            )
            self._headers[raw] = header
        return header

    def _parse(self) -> list[HdlcFrame]:
        buffer = self._buffer
        # Slices of bytes are bytes (one copy, not two), and the CRCs run on bit-reversed
        # bytes: reverse the buffer once (when a check is first needed), not per check.
        view = bytes(buffer)
        reversed_view: memoryview | None = None
        size = len(view)
        frames: list[HdlcFrame] = []
        returned_end = self._returned_end
        aborts_in_data = self._aborts_in_data
        frame_start = self._frame_start
        pos = 0
        while True:
            match = frame_start.search(view, pos)
            if match is None:
                # Keep a final flag: the next chunk may start with a format byte.
                keep = size - 1 if size > pos and view[-1] == FLAG else size
                self._discard(pos, keep, returned_end)
                pos = keep
                # After a flag, nothing can be decided before the length field is in.
                wanted = keep + 3 if keep < size else size + 1
                break
            start = match.start()
            if start > returned_end and start > pos:
                self._discard(pos, start, returned_end)
            pos = start
            if size < pos + 3:
                wanted = pos + 3
                break
            length = (view[pos + 1] & 0x07) << 8 | view[pos + 2]
            closing = pos + 1 + length  # index of the closing flag
            if length < _MIN_FRAME_LENGTH:
                pos += 1
                continue
            header_ready = min(pos + 1 + _MAX_HEADER_WITH_HCS, closing + 1)
            if size < header_ready:
                wanted = header_ready
                break
            fcs_start = closing - 2
            # Addresses end at a byte with LSB 1; the usual 1-byte ones are checked inline.
            source_start = (
                pos + 4 if view[pos + 3] & 1 else _long_address_end(view, pos + 3, fcs_start)
            )
            if source_start < 0:
                pos += 1
                continue
            source_end = (
                source_start + 1
                if view[source_start] & 1
                else _long_address_end(view, source_start, fcs_start)
            )
            header_end = source_end + 1  # after the control byte
            has_information = header_end + 4 <= closing
            if source_end < 0 or (header_end != fcs_start and not has_information):
                pos += 1
                continue
            if reversed_view is None:
                reversed_view = memoryview(bit_reversed(view))
            hcs_residue = crc_hqx(reversed_view[pos + 1 : header_end + 2], 0xFFFF)
            if hcs_residue != X25_GOOD_RESIDUE_BIT_REVERSED:
                pos += 1  # do not trust the length: look for a flag after this one
                continue
            if size <= closing:
                wanted = closing + 1
                break
            if view[closing] != FLAG:  # truncated, or a false start inside data
                pos += 1
                continue
            # "7D 7E" before the closing flag aborts the frame; as its last two bytes it
            # may be a last FCS byte 0x7D and the closing flag: then the FCS decides.
            abort = view.find(_ABORT, pos + 1, closing) if aborts_in_data else -1
            if abort >= 0:
                self._discard(pos, abort + 1, returned_end)
                pos = abort + 1
                continue
            good_fcs = (
                not has_information
                or crc_hqx(reversed_view[pos + 1 : closing], 0xFFFF)
                == X25_GOOD_RESIDUE_BIT_REVERSED
            )
            header = self._header(view[pos + 1 : header_end], pos + 1, source_start, source_end)
            payload = view[header_end + 2 : fcs_start] if has_information else b""
            frames.append(HdlcFrame(view[pos : closing + 1], header, payload, True, good_fcs))
            returned_end = max(returned_end, closing + 1)
            # The closing flag may open the next frame. After a bad frame, read its
            # bytes again: its length may have swallowed the start of good frames.
            pos = closing if good_fcs else pos + 1
        del buffer[:pos]
        self._returned_end = max(returned_end - pos, 0)
        self._wanted = wanted - pos
        return frames
