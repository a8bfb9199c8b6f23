"""Joining messages sent in pieces (HDLC segments, GBT blocks, M-Bus frames) and unwrapping."""

from __future__ import annotations

import pytest

from custom_components.han_meter.amshan.apdu_reader import CipheredApduFrame
from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.amshan.builder_security import encrypt_apdu
from custom_components.han_meter.amshan.hdlc import HdlcFrame, HdlcFrameReader
from custom_components.han_meter.amshan.mbus import MbusFrameReader
from custom_components.han_meter.amshan.reassembly import (
    GbtAssembler,
    GbtBlock,
    MbusAssembler,
    SegmentAssembler,
    parse_gbt_block,
)
from custom_components.han_meter.amshan.security import decrypt_apdu
from custom_components.han_meter.amshan.unwrap import (
    ERROR_ENCRYPTED_NO_KEY,
    ERROR_MALFORMED,
    ERROR_UNSUPPORTED_SECURITY,
    ERROR_WRONG_AUTHENTICATION_KEY,
    ERROR_WRONG_KEY,
    MessageUnwrapper,
)
from tests.conftest import VECTORS

BY_ID = {vector.id: vector for vector in VECTORS}
E450_GBT = BY_ID["dlmsparser_landis_gyr_e450_encrypted_gbt"]
EVN = BY_ID["dlmsparser_evn_netz_noe_kaifa_ma309_mbus_encrypted"]
LLC = b"\xe6\xe7\x00"
EK = bytes(range(16))
AK = bytes(range(0x40, 0x50))
TITLE = b"TST\x00\x00\x00\x00\x01"
PLAIN = bytes.fromhex("0f000000010009820180") + bytes(range(256)) + bytes(128)


def hdlc_frames(data: bytes) -> list[HdlcFrame]:
    return HdlcFrameReader().read(data)


def gbt(number: int, data: bytes, *, last: bool = False) -> bytes:
    length = bytes([len(data)]) if len(data) < 0x80 else b"\x82" + len(data).to_bytes(2, "big")
    control = 0x40 | (0x80 if last else 0)
    return bytes([0xE0, control]) + number.to_bytes(2, "big") + b"\x00\x00" + length + data


def gbt_blocks(apdu: bytes, size: int) -> list[bytes]:
    pieces = [apdu[start : start + size] for start in range(0, len(apdu), size)]
    return [
        gbt(index + 1, piece, last=index == len(pieces) - 1) for index, piece in enumerate(pieces)
    ]


def segments(information: bytes, size: int) -> bytes:
    pieces = [information[start : start + size] for start in range(0, len(information), size)]
    return b"".join(
        build_hdlc_frame(piece, segmentation=index < len(pieces) - 1)
        for index, piece in enumerate(pieces)
    )


def vector_keys(vector_id: str) -> tuple[bytes, bytes | None]:
    keys = BY_ID[vector_id].keys
    assert keys is not None
    auth = keys["authentication_key"]
    assert keys["encryption_key"] is not None
    return bytes.fromhex(keys["encryption_key"]), None if auth is None else bytes.fromhex(auth)


# --- General Block Transfer -------------------------------------------------------


def test_vector_blocks_parse_and_join() -> None:
    frames = hdlc_frames(E450_GBT.raw)
    assert [frame.is_valid for frame in frames] == [True, True, True]
    contents = [frame.payload.removeprefix(LLC) for frame in frames]
    blocks = [parse_gbt_block(content) for content in contents]
    assert [(b.block_number, b.last, b.streaming) for b in blocks if b] == [
        (1, False, True),
        (2, False, True),
        (3, True, True),
    ]
    assembler = GbtAssembler()
    results = [assembler.feed(block) for block in blocks if block]
    assert results[:2] == [None, None]
    assert results[2] is not None
    assert results[2][0] == 0xDB
    assert decrypt_apdu(results[2], *vector_keys(E450_GBT.id)) == E450_GBT.expect_plaintext


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xe0\x80\x00\x01\x00\x00",  # no length
        b"\xdb\x80\x00\x01\x00\x00\x00",  # not GBT
        b"\xe0\x80\x00\x01\x00\x00\x05abc",  # data shorter than its length
        b"\xe0\x80\x00\x01\x00\x00\x85\x00",  # bad length prefix
        b"\xe0\x80\x00\x01\x00\x00\x82\x01",  # length cut
    ],
)
def test_bad_blocks(data: bytes) -> None:
    assert parse_gbt_block(data) is None


def test_block_fields() -> None:
    block = parse_gbt_block(b"\xe0\x85\x01\x02\x00\x07\x81\x03abc")
    assert block == GbtBlock(
        last=True,
        streaming=False,
        window=5,
        block_number=0x102,
        acknowledged_block_number=7,
        data=b"abc",
    )


def feed_all(assembler: GbtAssembler, blocks: list[bytes]) -> list[bytes | None]:
    results = []
    for raw in blocks:
        block = parse_gbt_block(raw)
        assert block is not None
        results.append(assembler.feed(block))
    return results


def test_missing_block_drops_and_resyncs() -> None:
    blocks = gbt_blocks(b"x" * 100, 30)
    assembler = GbtAssembler()
    assert feed_all(assembler, [blocks[0], blocks[2], blocks[3]]) == [None, None, None]
    assert assembler.dropped == 1
    assert not assembler.pending
    assert feed_all(assembler, blocks)[-1] == b"x" * 100
    assert not assembler.pending


def test_repeated_block_drops() -> None:
    blocks = gbt_blocks(b"y" * 90, 30)
    assembler = GbtAssembler()
    assert feed_all(assembler, [blocks[0], blocks[1], blocks[1], blocks[2]]) == [None] * 4
    assert assembler.dropped == 1


def test_new_first_block_restarts() -> None:
    old = gbt_blocks(b"o" * 60, 30)
    new = gbt_blocks(b"n" * 60, 30)
    assembler = GbtAssembler()
    assert feed_all(assembler, [old[0], *new]) == [None, None, b"n" * 60]
    assert assembler.dropped == 1


def test_single_block_and_size_bound() -> None:
    assert feed_all(GbtAssembler(), [gbt(1, b"alone", last=True)]) == [b"alone"]
    assembler = GbtAssembler(max_size=50)
    assert feed_all(assembler, gbt_blocks(b"z" * 90, 30)) == [None, None, None]
    assert assembler.dropped == 1
    assert feed_all(assembler, gbt_blocks(b"z" * 40, 30)) == [None, b"z" * 40]
    assembler.reset()


# --- HDLC segmentation ------------------------------------------------------------


def test_segment_assembler() -> None:
    assembler = SegmentAssembler()
    assert assembler.feed(b"abc", segmented=False) == b"abc"
    assert assembler.feed(b"ab", segmented=True) is None
    assert assembler.pending
    assert assembler.feed(b"cd", segmented=True) is None
    assert assembler.feed(b"e", segmented=False) == b"abcde"
    assert not assembler.pending
    assembler.feed(b"lost", segmented=True)
    assembler.reset()
    assert assembler.dropped == 1
    bounded = SegmentAssembler(max_size=4)
    assert bounded.feed(b"abc", segmented=True) is None
    assert bounded.feed(b"de", segmented=False) is None
    assert bounded.dropped == 1
    assert bounded.feed(b"ok", segmented=False) == b"ok"


# --- M-Bus -------------------------------------------------------------------------


def test_vector_mbus_frames_join_to_the_ciphered_apdu() -> None:
    frames = MbusFrameReader().read(EVN.raw)
    assembler = MbusAssembler()
    results = [assembler.feed(frame.control_information, frame.payload) for frame in frames]
    assert results[0] is None
    apdu = results[1]
    assert apdu is not None
    assert apdu[:2] == b"\xdb\x08"
    assert decrypt_apdu(apdu, *vector_keys(EVN.id)) == EVN.expect_plaintext


def test_mbus_assembler_rules() -> None:
    assembler = MbusAssembler()
    assert assembler.feed(0x10, b"\x01\x67only") == b"only"
    assert assembler.feed(0x00, b"\x01\x67a") is None
    assert assembler.pending
    assert assembler.feed(0x12, b"\x01\x67c") is None  # segment 1 missing
    assert assembler.dropped == 1
    assert assembler.feed(0x00, b"\x01\x67a") is None
    assert assembler.feed(0x01, b"\x01\x67b") is None
    assert assembler.feed(0x12, b"\x01\x67c") == b"abc"
    assert assembler.feed(0x72, b"\x01\x67no") is None  # not a DLMS segment CI
    assert assembler.feed(0x10, b"\x01") is None  # no room for the TSAPs
    assembler.feed(0x00, b"\x01\x67x")
    assert assembler.feed(0x00, b"\x01\x67y") is None  # a new first segment restarts
    assert assembler.dropped == 2
    bounded = MbusAssembler(max_size=3)
    assert bounded.feed(0x00, b"\x01\x67ab") is None
    assert bounded.feed(0x11, b"\x01\x67cd") is None
    assert bounded.feed(0x10, b"\x01\x67abc") == b"abc"
    bounded.reset()


# --- MessageUnwrapper ----------------------------------------------------------------


def test_unwrapper_joins_the_vector_gbt_frames() -> None:
    unwrapper = MessageUnwrapper(*vector_keys(E450_GBT.id))
    results = [unwrapper.unwrap_message(frame) for frame in hdlc_frames(E450_GBT.raw)]
    assert results == [None, None, E450_GBT.expect_plaintext]
    assert unwrapper.last_error is None
    assert unwrapper.last_encrypted
    assert unwrapper.system_title is not None
    assert unwrapper.system_title[:3] == b"LGZ"
    assert unwrapper.counters.decrypted == 1
    assert unwrapper.counters.reassembled == 1


def test_unwrapper_joins_the_vector_mbus_frames() -> None:
    unwrapper = MessageUnwrapper(vector_keys(EVN.id)[0])
    results = [unwrapper.unwrap_message(frame) for frame in MbusFrameReader().read(EVN.raw)]
    assert results == [None, EVN.expect_plaintext]
    assert unwrapper.counters.reassembled == 1


def test_hdlc_segments_of_a_ciphered_apdu() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 5, EK, AK)
    stream = segments(LLC + apdu, 100)
    frames = hdlc_frames(stream)
    assert len(frames) == 5
    assert all(frame.is_valid for frame in frames)
    assert [frame.header.segmentation for frame in frames if frame.header] == [True] * 4 + [False]
    unwrapper = MessageUnwrapper(EK, AK)
    assert [unwrapper.unwrap_message(frame) for frame in frames] == [None] * 4 + [PLAIN]


def test_gbt_blocks_spread_over_hdlc_segments() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 6, EK, AK, 0x30)
    blocks = gbt_blocks(apdu, 150)
    stream = segments(LLC + blocks[0], 60) + b"".join(segments(block, 70) for block in blocks[1:])
    unwrapper = MessageUnwrapper(EK, AK)
    results = [unwrapper.unwrap_message(frame) for frame in hdlc_frames(stream)]
    assert results[-1] == PLAIN
    assert all(result is None for result in results[:-1])
    assert unwrapper.dropped == 0


def test_a_bad_frame_between_segments_drops_the_message() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 7, EK, None, 0x20)
    frames = hdlc_frames(segments(LLC + apdu, 120))
    broken = bytearray(frames[1].as_bytes)
    broken[20] ^= 0xFF
    (bad,) = hdlc_frames(bytes(broken))
    assert not bad.is_valid
    unwrapper = MessageUnwrapper(EK)
    assert [unwrapper.unwrap_message(f) for f in [frames[0], bad, *frames[2:]]] == [None] * len(
        frames
    )
    assert unwrapper.dropped == 1
    assert [unwrapper.unwrap_message(frame) for frame in frames][-1] == PLAIN


def test_bad_mbus_frame_resets() -> None:
    unwrapper = MessageUnwrapper(vector_keys(EVN.id)[0])
    first, second = MbusFrameReader().read(EVN.raw)
    broken = bytearray(second.as_bytes)
    broken[-2] ^= 1
    (bad,) = MbusFrameReader().read(bytes(broken))
    assert unwrapper.unwrap_message(first) is None
    assert unwrapper.unwrap_message(bad) is None
    assert unwrapper.dropped == 1
    assert unwrapper.unwrap_message(second) is None  # its first segment is gone


def test_no_key_wrong_key_and_wrong_authentication_key() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 8, EK, AK)
    without_key = MessageUnwrapper()
    assert not without_key.has_key
    assert without_key.unwrap_content(LLC + apdu) is None
    assert without_key.last_error == ERROR_ENCRYPTED_NO_KEY
    assert without_key.counters.encrypted_without_key == 1
    wrong = MessageUnwrapper(AK, AK)
    assert wrong.unwrap_content(apdu) is None
    assert wrong.last_error == ERROR_WRONG_KEY
    wrong_auth = MessageUnwrapper(EK, EK)
    assert wrong_auth.unwrap_content(apdu) is None
    assert wrong_auth.last_error == ERROR_WRONG_AUTHENTICATION_KEY
    assert wrong_auth.counters.decryption_failures == 1
    assert wrong_auth.unwrap_content(PLAIN) == PLAIN  # plain data clears the error
    assert wrong_auth.last_error is None
    assert not wrong_auth.last_encrypted


def test_unsupported_and_malformed() -> None:
    unwrapper = MessageUnwrapper(EK)
    compressed = b"\xdb\x08" + TITLE + b"\x10\xb0" + bytes(15)
    assert unwrapper.unwrap_content(compressed) is None
    assert unwrapper.last_error == ERROR_UNSUPPORTED_SECURITY
    assert unwrapper.unwrap_content(b"\xe0\xc0\x00\x01\x00\x00\x09abc") is None
    assert unwrapper.last_error == ERROR_MALFORMED
    assert unwrapper.unwrap_content(b"\xdb") is None
    assert unwrapper.last_error == ERROR_MALFORMED
    assert unwrapper.system_title is None


def test_plain_content_passes_unchanged() -> None:
    unwrapper = MessageUnwrapper()
    for content in (LLC + PLAIN, PLAIN, b"\x02\x01\x06\x00\x00\x00\x01", b"/ELL5\r\n!"):
        assert unwrapper.unwrap_content(content) == content
    plain_gbt = gbt(1, LLC + PLAIN[:20], last=True)
    assert unwrapper.unwrap_content(LLC + plain_gbt) == LLC + PLAIN[:20]


def test_ciphered_apdu_frames_and_unknown_messages() -> None:
    apdu = encrypt_apdu(b"/LUX5\\2SMARTY\r\n\r\n!ABCD\r\n", TITLE, 9, EK, AK)
    unwrapper = MessageUnwrapper(EK)
    frame = CipheredApduFrame(apdu)
    assert frame.is_valid
    assert MessageUnwrapper.handles(frame)
    assert not MessageUnwrapper.handles(b"bytes")
    assert unwrapper.unwrap_message(frame) == b"/LUX5\\2SMARTY\r\n\r\n!ABCD\r\n"


def test_unwrapper_checks_keys() -> None:
    with pytest.raises(ValueError, match="encryption key must be 16 bytes"):
        MessageUnwrapper(b"short")
    with pytest.raises(ValueError, match="authentication key must be 16 bytes"):
        MessageUnwrapper(EK, b"short")


def test_a_bad_standalone_frame_changes_nothing() -> None:
    frame = bytearray(build_hdlc_frame(LLC + PLAIN[:40]))
    frame[-4] ^= 0x01
    (bad,) = hdlc_frames(bytes(frame))
    assert not bad.is_valid
    unwrapper = MessageUnwrapper()
    assert unwrapper.unwrap_message(bad) is None
    assert unwrapper.dropped == 0
    (good,) = hdlc_frames(build_hdlc_frame(LLC + PLAIN[:40]))
    assert unwrapper.unwrap_message(good) == LLC + PLAIN[:40]


def test_reset_forgets_partial_messages() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 10, EK, AK)
    frames = hdlc_frames(segments(LLC + gbt_blocks(apdu, 150)[0], 60))
    unwrapper = MessageUnwrapper(EK, AK)
    for frame in frames[:-1]:
        assert unwrapper.unwrap_message(frame) is None
    unwrapper.reset()
    assert unwrapper.dropped == 1
    # the tail alone passes as plain content (the decoders reject it), not joined
    assert unwrapper.unwrap_message(frames[-1]) == frames[-1].payload
