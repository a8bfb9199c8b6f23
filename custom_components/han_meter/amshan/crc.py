"""CRC-16 checksums used by HDLC (X.25) and IEC 62056-21 / DSMR P1 (ARC).

Both are reflected CRCs. X.25 shares its polynomial with the CCITT CRC that
``binascii.crc_hqx`` computes in C, so it is computed there on bit-reversed bytes.
ARC has no C implementation in the standard library; instead of a Python loop per
byte or word, the message is turned into one big integer (a polynomial over GF(2))
and folded in half repeatedly, each time with three C-level shifts and XORs.
"""

from __future__ import annotations

import binascii

# crc16_x25 over a frame *including* its little-endian FCS gives this constant when the
# FCS is right, so a frame can be checked without slicing the FCS off.
X25_GOOD_RESIDUE = 0x0F47
# The same check as binascii.crc_hqx(bit_reversed(frame + FCS), 0xFFFF) gives it, for
# callers that bit-reverse a whole buffer once and check many frames in it.
X25_GOOD_RESIDUE_BIT_REVERSED = 0x1D0F

_ARC_POLY = 0x18005  # x^16 + x^15 + x^2 + 1, not reflected
_ARC_PERIOD = 32767  # x^32767 = 1 modulo the ARC polynomial
# Folds (k, [j1, j2, j3]) where x^k = x^j1 + x^j2 + x^j3 modulo the ARC polynomial: a
# value of fewer than 2k - 15 bits, split as high * x^k + low, becomes high * (x^j1 + x^j2
# + x^j3) + low, of at most k bits. From the period down, each k is the smallest with
# such a 3-term remainder (none has fewer terms) that still halves the value; after the
# last one the value has at most 29 bits. tests/lib/test_crc.py checks every remainder.
ARC_FOLDS = (
    (16391, 0, 1, 8),
    (9029, 0, 6, 8),
    (5224, 0, 4, 7),
    (3835, 0, 10, 14),
    (2040, 0, 9, 10),
    (1028, 5, 6, 8),
    (522, 3, 4, 12),
    (269, 2, 3, 14),
    (237, 0, 12, 14),
    (127, 0, 1, 7),
    (71, 0, 1, 11),
    (43, 0, 1, 13),
    (29, 0, 1, 14),
)
_ARC_FOLD_STEPS = tuple((k, (1 << k) - 1, *terms) for k, *terms in ARC_FOLDS)
# From the fold of 3835 bits on, each fold halves what the one before left: a value of up
# to this many bits (a message of up to 955 bytes, such as a P1 telegram) needs only those.
_SHORT_SPLIT, *_SHORT_TERMS = ARC_FOLDS[3]
ARC_SHORT_BITS = 2 * _SHORT_SPLIT - max(_SHORT_TERMS)
_ARC_LONG_STEPS = _ARC_FOLD_STEPS[:3]
_ARC_SHORT_STEPS = _ARC_FOLD_STEPS[3:]


def _reverse_bits(value: int, width: int) -> int:
    result = 0
    for _ in range(width):
        result = (result << 1) | (value & 1)
        value >>= 1
    return result


_BYTE_REVERSED = bytes(_reverse_bits(byte, 8) for byte in range(256))


def bit_reversed(data: bytes | bytearray) -> bytes:
    """``data`` with the bit order of every byte reversed."""
    return bytes(data.translate(_BYTE_REVERSED))


def _reverse16(word: int) -> int:
    return (_BYTE_REVERSED[word & 0xFF] << 8) | _BYTE_REVERSED[word >> 8]


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 (HDLC FCS and HCS): poly 0x1021 reflected, init and xorout 0xFFFF."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    # The all-ones initial register reads the same reflected or not.
    reflected = binascii.crc_hqx(data.translate(_BYTE_REVERSED), 0xFFFF)
    return _reverse16(reflected) ^ 0xFFFF


def _arc_byte_table() -> tuple[int, ...]:
    """Non-reflected table: the remainder of ``byte * x^16``."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ _ARC_POLY if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_ARC_BYTE = _arc_byte_table()


def crc16_arc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC (IEC 62056-21 mode D, DSMR P1): poly 0x8005 reflected, init 0."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    # Reflected CRC == non-reflected CRC of the bit-reversed bytes, reversed; with init 0
    # that is (message * x^16) mod P.
    value = int.from_bytes(data.translate(_BYTE_REVERSED), "big") << 16
    if value >> ARC_SHORT_BITS:
        while value >> _ARC_PERIOD:  # messages over 4 KiB: whole periods fold away
            value = (value & ((1 << _ARC_PERIOD) - 1)) ^ (value >> _ARC_PERIOD)
        for split, low_mask, first, second, third in _ARC_LONG_STEPS:
            high = value >> split
            if high:
                value = (value & low_mask) ^ (high << first) ^ (high << second) ^ (high << third)
    for split, low_mask, first, second, third in _ARC_SHORT_STEPS:
        high = value >> split  # when 0 the fold changes nothing: cheaper than testing for it
        value = (value & low_mask) ^ (high << first) ^ (high << second) ^ (high << third)
    # The 13 bits above the low 16 are reduced with the byte table, in two steps.
    high = value >> 16
    crc = _ARC_BYTE[high >> 8]
    crc = ((crc << 8) & 0xFFFF) ^ _ARC_BYTE[(crc >> 8) ^ (high & 0xFF)] ^ (value & 0xFFFF)
    return _reverse16(crc)
