"""CRC-16 checksums used by HDLC (X.25) and IEC 62056-21 / DSMR P1 (ARC).

Both are reflected CRCs. X.25 shares its polynomial with the CCITT CRC that
``binascii.crc_hqx`` computes in C, so it is computed there on bit-reversed bytes,
which avoids a Python loop per byte. ARC uses a different polynomial and is
computed from a 16-bit table two bytes per step.
"""

from __future__ import annotations

import array
import binascii
import sys


def _reverse_bits(value: int, width: int) -> int:
    result = 0
    for _ in range(width):
        result = (result << 1) | (value & 1)
        value >>= 1
    return result


_BYTE_REVERSED = bytes(_reverse_bits(byte, 8) for byte in range(256))
_WORD_REVERSED = tuple(_reverse_bits(word, 16) for word in range(65536))


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 (HDLC FCS and HCS): poly 0x1021 reflected, init and xorout 0xFFFF."""
    reflected = binascii.crc_hqx(bytes(data).translate(_BYTE_REVERSED), 0xFFFF)
    return _WORD_REVERSED[reflected] ^ 0xFFFF


def _arc_byte_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_ARC_BYTE = _arc_byte_table()
# Two bytes per step: for the little-endian word w = b0 | b1 << 8 fed into a CRC
# register r, the new register is _ARC_WORD[(r ^ w) & 0xFFFF] (the register is 16 bits).
_ARC_WORD = tuple(
    (_ARC_BYTE[(_ARC_BYTE[word & 0xFF]) & 0xFF ^ (word >> 8)] ^ (_ARC_BYTE[word & 0xFF] >> 8))
    for word in range(65536)
)


def crc16_arc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC (IEC 62056-21 mode D, DSMR P1): poly 0x8005 reflected, init 0."""
    raw = bytes(data)
    crc = 0
    even = len(raw) & ~1
    words = array.array("H", raw[:even])
    if sys.byteorder == "big":
        words.byteswap()
    table = _ARC_WORD
    for word in words:
        crc = table[crc ^ word]
    if even != len(raw):
        crc = (crc >> 8) ^ _ARC_BYTE[(crc ^ raw[-1]) & 0xFF]
    return crc
