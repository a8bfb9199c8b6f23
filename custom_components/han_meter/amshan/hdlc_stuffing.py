"""Octet stuffing (HDLC transparency) for links that use it; HAN ports do not.

On a stuffed link 0x7D escapes the next byte (XOR 0x20) and "7D 7E" aborts the frame in
progress. Unstuffing happens before framing, so aborts are found here.
"""

from __future__ import annotations

import re

ESCAPE = 0x7D
_FLAG = 0x7E
_ESCAPED_BYTE = re.compile(rb"\x7d[\x00-\xff]")


class OctetUnstuffer:
    """Removes the escapes of a stuffed byte stream fed in chunks of any size."""

    __slots__ = ("_escape_pending", "discarded_bytes", "use_abort_sequence")

    def __init__(self, use_abort_sequence: bool) -> None:
        self.use_abort_sequence = use_abort_sequence
        self._escape_pending = False  # a trailing 0x7D waits for the next chunk
        self.discarded_bytes = 0  # escapes that escaped nothing (the 7D of "7D 7E")

    @property
    def buffered_bytes(self) -> int:
        """Bytes held back for the next chunk (0 or a trailing escape)."""
        return int(self._escape_pending)

    def unstuff(self, data: bytes) -> list[tuple[bytes, bool]]:
        """``data`` unstuffed and cut at abort sequences: (bytes, whether an abort follows)."""
        if self._escape_pending:
            data = b"\x7d" + data
        # "7D 7D" is an escaped byte, so only an odd run of 0x7D leaves an escape open.
        self._escape_pending = (len(data) - len(data.rstrip(b"\x7d"))) % 2 == 1
        if self._escape_pending:
            data = data[:-1]
        pieces: list[tuple[bytes, bool]] = []
        unstuffed = bytearray()
        start = 0
        for match in _ESCAPED_BYTE.finditer(data):
            index = match.start()
            unstuffed += data[start:index]
            escaped = data[index + 1]
            if escaped == _FLAG:  # "7D 7E": never an escaped byte; the 7E is a flag
                self.discarded_bytes += 1
                if self.use_abort_sequence:
                    pieces.append((bytes(unstuffed), True))
                    unstuffed.clear()
                start = index + 1
            else:
                unstuffed.append(escaped ^ 0x20)
                start = index + 2
        unstuffed += data[start:]
        pieces.append((bytes(unstuffed), False))
        return pieces
