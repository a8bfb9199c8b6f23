"""Reader for a stream of bare ciphered APDUs (no HDLC or M-Bus framing).

Encrypted P1 ports (Luxembourg "Smarty", Sagemcom T210-D in Styria) send each
telegram as a general-glo-ciphering APDU straight on the line: ``DB 08`` + system
title + A-XDR length + security control + invocation counter + ciphertext (+ tag).
The length field delimits the frames. Without the key nothing else can be checked, so a
frame is valid when its header is consistent (system title of 8 bytes, a supported
security control byte, a length within bounds); the tag is checked when decrypting.
"""

from __future__ import annotations

from dataclasses import dataclass

from .security import (
    GENERAL_DED_CIPHERING,
    GENERAL_GLO_CIPHERING,
    DecryptionError,
    ciphered_apdu_length,
)

__all__ = ["MAX_CIPHERED_APDU_SIZE", "CipheredApduFrame", "CipheredApduReader"]

MAX_CIPHERED_APDU_SIZE = 4096
_HEADER_SIZE = 2 + 8 + 5 + 1  # tag, title length, title, longest length, control
_SECURITY_CONTROLS = frozenset((0x20, 0x21, 0x30, 0x31))
_TAGS = bytes((GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING))


@dataclass(slots=True, frozen=True)
class CipheredApduFrame:
    """One ciphered APDU read from the stream."""

    as_bytes: bytes

    @property
    def is_valid(self) -> bool:
        """Always True: the reader only yields APDUs with a consistent header."""
        return True

    @property
    def payload(self) -> bytes:
        """The ciphered APDU (what ``decrypt_apdu`` takes)."""
        return self.as_bytes


def _next_start(buffer: bytearray) -> int:
    starts = [index for index in (buffer.find(tag) for tag in _TAGS) if index >= 0]
    return min(starts) if starts else -1


class CipheredApduReader:
    """Incremental reader of bare ciphered APDUs; ``read`` never raises.

    The buffer holds at most one APDU (4 KiB); bytes that cannot start one are
    dropped as they are read and counted in ``discarded_bytes``.
    """

    __slots__ = ("_buffer", "discarded_bytes")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.discarded_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held while waiting for the rest of an APDU."""
        return len(self._buffer)

    def _discard(self, count: int) -> None:
        del self._buffer[:count]
        self.discarded_bytes += count

    def _frame_size(self) -> int | None:
        """Size of the APDU at the start of the buffer, 0 if it is none, None if cut."""
        buffer = bytes(self._buffer[:_HEADER_SIZE])
        try:
            size = ciphered_apdu_length(buffer)
        except DecryptionError:
            return 0
        if size is None:
            return None
        length_prefix = buffer[10]
        control_at = 11 if length_prefix < 0x80 else 11 + (length_prefix & 0x7F)
        if control_at < len(buffer) and buffer[control_at] not in _SECURITY_CONTROLS:
            return 0
        return size if size <= MAX_CIPHERED_APDU_SIZE else 0

    def read(self, data: bytes) -> list[CipheredApduFrame]:
        """APDUs completed by ``data``."""
        buffer = self._buffer
        buffer += data
        frames: list[CipheredApduFrame] = []
        while buffer:
            start = _next_start(buffer)
            if start < 0:
                self._discard(len(buffer))
                break
            if start:
                self._discard(start)
            size = self._frame_size()
            if size is None:
                break
            if size == 0:
                self._discard(1)
                continue
            if len(buffer) < size:
                break
            frames.append(CipheredApduFrame(bytes(buffer[:size])))
            del buffer[:size]
        return frames
