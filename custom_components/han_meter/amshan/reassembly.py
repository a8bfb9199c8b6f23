"""Joining a message sent in pieces: HDLC segments, General Block Transfer, M-Bus frames.

- HDLC segmentation: frames with the S bit set are followed by more; the information
  fields are concatenated in order, the frame without the S bit ends the message (only
  the first carries the LLC header).
- General Block Transfer (tag ``E0``): block control (bit 7 last block, bit 6
  streaming, bits 0-5 window), block number and acknowledged block number (2 bytes
  each), then the block data as an A-XDR length-prefixed octet string. Blocks are
  numbered from 1; their data joined make the APDU (often a ciphered one).
- Wired M-Bus: see :mod:`.mbus`; each frame's data starts with 2 bytes of transport
  service access points, which are dropped.

A piece that does not follow the previous one (missing, repeated or out of order)
drops what was collected; collection restarts at the next first piece. Buffers are
bounded by ``max_size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "GBT_TAG",
    "GbtAssembler",
    "GbtBlock",
    "MbusAssembler",
    "SegmentAssembler",
    "parse_gbt_block",
]

GBT_TAG = 0xE0
GBT_LAST_BLOCK = 0x80
GBT_STREAMING = 0x40
GBT_WINDOW_MASK = 0x3F
MBUS_TSAP_SIZE = 2
MBUS_DLMS_CI_MAX = 0x1F
DEFAULT_MAX_SIZE = 0x10000


@dataclass(slots=True, frozen=True)
class GbtBlock:
    """One General Block Transfer block."""

    last: bool
    streaming: bool
    window: int
    block_number: int
    acknowledged_block_number: int
    data: bytes


def parse_gbt_block(apdu: bytes) -> GbtBlock | None:
    """The block in a GBT APDU, or None when it is not one or is truncated."""
    if len(apdu) < 7 or apdu[0] != GBT_TAG:
        return None
    control = apdu[1]
    first = apdu[6]
    offset = 7
    length = first
    if first >= 0x80:
        size = first & 0x7F
        if not 1 <= size <= 4 or len(apdu) < offset + size:
            return None
        length = int.from_bytes(apdu[offset : offset + size], "big")
        offset += size
    if len(apdu) < offset + length:
        return None
    return GbtBlock(
        last=bool(control & GBT_LAST_BLOCK),
        streaming=bool(control & GBT_STREAMING),
        window=control & GBT_WINDOW_MASK,
        block_number=int.from_bytes(apdu[2:4], "big"),
        acknowledged_block_number=int.from_bytes(apdu[4:6], "big"),
        data=bytes(apdu[offset : offset + length]),
    )


class _Pieces:
    """Ordered pieces of one message, bounded in size."""

    __slots__ = ("_parts", "_size", "dropped", "max_size")

    def __init__(self, max_size: int) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.max_size = max_size
        self.dropped = 0

    @property
    def pending(self) -> bool:
        return bool(self._parts)

    def reset(self) -> None:
        """Forget what was collected, counting it as dropped."""
        if self._parts:
            self.dropped += 1
        self._parts.clear()
        self._size = 0

    def add(self, piece: bytes) -> bool:
        """Append a piece; False (and reset) when the message would grow too large."""
        if self._size + len(piece) > self.max_size:
            self.reset()
            return False
        self._parts.append(piece)
        self._size += len(piece)
        return True

    def take(self) -> bytes:
        joined = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return joined


class _Assembler:
    """What every assembler shares: the collected pieces and their counters."""

    __slots__ = ("_pieces",)

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._pieces = _Pieces(max_size)

    @property
    def dropped(self) -> int:
        """Messages abandoned so far (a piece missing, out of order or too large)."""
        return self._pieces.dropped

    @property
    def pending(self) -> bool:
        """True while pieces are waiting for the last one."""
        return self._pieces.pending

    def reset(self) -> None:
        """Drop collected pieces (after an invalid frame)."""
        self._pieces.reset()


class SegmentAssembler(_Assembler):
    """HDLC segmentation: ``feed(payload, segmented)`` returns the joined payload at the end."""

    __slots__ = ()

    def feed(self, payload: bytes, segmented: bool) -> bytes | None:
        """The whole information field once the last segment is fed, else None."""
        if not self._pieces.add(payload):
            return None
        return None if segmented else self._pieces.take()


class _NumberedAssembler(_Assembler):
    """Pieces numbered from ``_FIRST`` up (modulo ``_MODULO``): a gap drops the message."""

    __slots__ = ("_next",)
    _FIRST: ClassVar[int]
    _MODULO: ClassVar[int]

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        super().__init__(max_size)
        self._next = self._FIRST

    def reset(self) -> None:
        """Drop collected pieces and wait for a first one again."""
        super().reset()
        self._next = self._FIRST

    def _add(self, number: int, piece: bytes, last: bool) -> bytes | None:
        if number == self._FIRST:
            self.reset()
        elif number != self._next:
            self.reset()
            return None
        if not self._pieces.add(piece):
            self._next = self._FIRST
            return None
        if not last:
            self._next = (number + 1) % self._MODULO
            return None
        self._next = self._FIRST
        return self._pieces.take()


class GbtAssembler(_NumberedAssembler):
    """General Block Transfer: ``feed(block)`` returns the joined block data at the end."""

    __slots__ = ()
    _FIRST = 1
    _MODULO = 1 << 16

    def feed(self, block: GbtBlock) -> bytes | None:
        """The joined data once the last block is fed, else None."""
        return self._add(block.block_number, block.data, block.last)


class MbusAssembler(_NumberedAssembler):
    """DLMS over wired M-Bus: ``feed(ci, data)`` returns the joined APDU at the last segment.

    ``ci`` is the frame's CI field (segment number in bits 0-3, last segment bit 4),
    ``data`` the user data after it, starting with the 2 transport service access points.
    """

    __slots__ = ()
    _FIRST = 0
    _MODULO = 16

    def feed(self, ci: int, data: bytes) -> bytes | None:
        """The joined APDU once the last segment is fed, else None."""
        if ci > MBUS_DLMS_CI_MAX or len(data) < MBUS_TSAP_SIZE:
            self.reset()
            return None
        return self._add(ci & 0x0F, data[MBUS_TSAP_SIZE:], bool(ci & 0x10))
