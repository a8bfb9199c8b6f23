"""Wired M-Bus (EN 13757-2) long frames, as some meters push DLMS over their HAN port.

A long frame is ``68 L L 68 C A CI <data> CS 16``: L counts the bytes from C through
the data (at least 3), CS is the sum of those bytes modulo 256. When DLMS is carried,
the CI field numbers the segments of one message (bits 0-3, from 0) and marks the last
one (bit 4); each segment's data starts with the source and destination transport
service access points (2 bytes), then a piece of the APDU. See :mod:`.reassembly`.

The reader hunts for ``68 L L 68``, waits for the whole frame and checks the stop byte
and the checksum. A header whose stop byte is not where the length says is treated as
garbage (it was no frame start), so a lost byte costs one frame, not the next ones.
After a frame with a bad checksum its bytes are read again from its second byte: its
length may have swallowed the start of good frames (a frame cut short whose claimed end
holds 0x16 by chance).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MBUS_MAX_FRAME_SIZE", "MbusFrame", "MbusFrameReader"]

START = 0x68
STOP = 0x16
HEADER_SIZE = 4  # 68 L L 68
MIN_LENGTH = 3  # C, A, CI
MBUS_MAX_FRAME_SIZE = HEADER_SIZE + 0xFF + 2
CI_LAST_SEGMENT = 0x10
CI_SEGMENT_MASK = 0x0F


@dataclass(slots=True, frozen=True)
class MbusFrame:
    """One M-Bus long frame as read from the stream."""

    as_bytes: bytes
    is_good_checksum: bool

    @property
    def is_valid(self) -> bool:
        """Header consistent, stop byte present and checksum good."""
        return self.is_good_checksum

    @property
    def control(self) -> int:
        """The C field (0x53 / 0x73: SND_UD)."""
        return self.as_bytes[4]

    @property
    def address(self) -> int:
        """The A field (primary address; 0xFF broadcast)."""
        return self.as_bytes[5]

    @property
    def control_information(self) -> int:
        """The CI field."""
        return self.as_bytes[6]

    @property
    def payload(self) -> bytes:
        """The user data after the CI field (transport service access points included)."""
        return self.as_bytes[7:-2]

    @property
    def segment_number(self) -> int:
        """Segment number of a DLMS message (CI bits 0-3)."""
        return self.control_information & CI_SEGMENT_MASK

    @property
    def is_last_segment(self) -> bool:
        """True for the last (or only) segment of a DLMS message (CI bit 4)."""
        return bool(self.control_information & CI_LAST_SEGMENT)


class MbusFrameReader:
    """Incremental reader of M-Bus long frames; ``read`` never raises.

    The buffer never holds more than one frame (261 bytes); bytes that cannot start a
    frame are dropped as they are read and counted in ``discarded_bytes``.
    """

    __slots__ = ("_buffer", "_returned", "discarded_bytes")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._returned = 0  # leading bytes already returned in a bad frame (read again)
        self.discarded_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buffer)

    def _discard(self, count: int) -> None:
        del self._buffer[:count]
        returned = min(count, self._returned)  # part of a frame returned: not garbage
        self._returned -= returned
        self.discarded_bytes += count - returned

    def read(self, data: bytes) -> list[MbusFrame]:
        """Frames completed by ``data`` (valid ones and ones with a bad checksum)."""
        buffer = self._buffer
        buffer += data
        frames: list[MbusFrame] = []
        while buffer:
            start = buffer.find(START)
            if start < 0:
                self._discard(len(buffer))
                break
            if start:
                self._discard(start)
            if len(buffer) < HEADER_SIZE:
                break
            length = buffer[1]
            if buffer[2] != length or buffer[3] != START or length < MIN_LENGTH:
                self._discard(1)
                continue
            size = HEADER_SIZE + length + 2
            if len(buffer) < size:
                break
            if buffer[size - 1] != STOP:
                self._discard(1)
                continue
            frame = bytes(buffer[:size])
            good = sum(frame[HEADER_SIZE : size - 2]) & 0xFF == frame[-2]
            frames.append(MbusFrame(as_bytes=frame, is_good_checksum=good))
            if good:
                del buffer[:size]
                self._returned = max(self._returned - size, 0)
            else:  # read its bytes again: it may hide the start of a good frame
                self._returned = max(self._returned, size)
                self._discard(1)
        return frames
