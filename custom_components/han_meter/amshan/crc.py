"""CRC-16 checksums used by HDLC (X.25) and IEC 62056-21 / DSMR P1 (ARC).

Both are reflected CRCs. X.25 shares its polynomial with the CCITT CRC that
``binascii.crc_hqx`` computes in C, so it is computed there on bit-reversed bytes.
ARC has no C implementation in the standard library; instead of a Python loop per
byte or word, the message is turned into one big integer (a polynomial over GF(2))
and folded in half repeatedly with a handful of C-level shifts and XORs.
"""

from __future__ import annotations

import binascii
import functools

# crc16_x25 over a frame *including* its little-endian FCS gives this constant when the
# FCS is right, so a frame can be checked without slicing the FCS off.
X25_GOOD_RESIDUE = 0x0F47
# The same check as binascii.crc_hqx(bit_reversed(frame + FCS), 0xFFFF) gives it, for
# callers that bit-reverse a whole buffer once and check many frames in it.
X25_GOOD_RESIDUE_BIT_REVERSED = 0x1D0F

_ARC_POLY = 0x18005  # x^16 + x^15 + x^2 + 1, not reflected
_FOLD_UNTIL_BITS = 48  # below this the remainder is finished with the byte table


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


def _mulmod(left: int, right: int) -> int:
    """``left * right mod P`` for polynomials of degree < 16."""
    product = 0
    while right:
        if right & 1:
            product ^= left
        right >>= 1
        left <<= 1
        if left & 0x10000:
            left ^= _ARC_POLY
    return product


def _x_power(exponent: int) -> int:
    """``x^exponent mod P``."""
    result, base = 1, 2
    while exponent:
        if exponent & 1:
            result = _mulmod(result, base)
        base = _mulmod(base, base)
        exponent >>= 1
    return result


@functools.lru_cache(maxsize=64)
def _fold_plan(bit_bound: int) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
    """Steps that reduce a polynomial of fewer than ``bit_bound`` bits below 48 bits.

    Each step splits the value at bit k into high * x^k + low and replaces it with
    high * (x^k mod P) + low. k is picked near the middle where x^k mod P has few
    terms (usually 3), so a step costs a few shifts and XORs of half-size integers.
    Cached per message length: telegrams of one meter keep their length.
    """
    plan = []
    bits = bit_bound
    while bits > _FOLD_UNTIL_BITS:
        split = (bits + 15) // 2
        remainder = _x_power(split)
        best = (remainder.bit_count(), split, remainder)
        limit = min(split + max(8, bits // 8), bits - 1)
        while best[0] > 3 and split < limit:
            split += 1
            remainder <<= 1
            if remainder & 0x10000:
                remainder ^= _ARC_POLY
            if remainder.bit_count() < best[0]:
                best = (remainder.bit_count(), split, remainder)
        _, split, remainder = best
        shifts = tuple(bit for bit in range(16) if remainder >> bit & 1)
        plan.append((split, (1 << split) - 1, shifts))
        bits = max(split, bits - split + 15)
    return tuple(plan)


def crc16_arc(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC (IEC 62056-21 mode D, DSMR P1): poly 0x8005 reflected, init 0."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    # Reflected CRC == non-reflected CRC of the bit-reversed bytes, reversed; with init 0
    # that is (message * x^16) mod P.
    value = int.from_bytes(data.translate(_BYTE_REVERSED), "big") << 16
    for split, low_mask, shifts in _fold_plan(8 * len(data) + 16):
        high = value >> split
        value &= low_mask
        for shift in shifts:
            value ^= high << shift
    crc = 0
    for byte in (value >> 16).to_bytes(4, "big"):
        crc = ((crc << 8) & 0xFFFF) ^ _ARC_BYTE[(crc >> 8) ^ byte]
    return _reverse16(crc ^ (value & 0xFFFF))
