"""HdlcFrameReader: real vectors, any chunking, junk, damaged frames, stuffing, aborts."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.crc import crc16_x25
from custom_components.han_meter.amshan.hdlc import (
    MAX_BUFFERED_BYTES,
    HdlcFrame,
    HdlcFrameHeader,
    HdlcFrameReader,
)
from tests.conftest import VECTORS, Vector, vectors_of

FLAG = b"\x7e"
# The HDLC-framed encrypted vectors add a 3-frame General Block Transfer capture.
HDLC_PARAMS = vectors_of("hdlc-frame") + [
    pytest.param(v, id=v.id) for v in VECTORS if v.kind == "dlms-encrypted" and v.raw[:1] == FLAG
]
HDLC_VECTORS: list[Vector] = [param.values[0] for param in HDLC_PARAMS]


def frames_by_length(stream: bytes) -> list[bytes]:
    """Independent splitter for back-to-back frames: opening flag + length + closing flag."""
    frames = []
    pos = 0
    while pos < len(stream):
        length = int.from_bytes(stream[pos + 1 : pos + 3], "big") & 0x7FF
        frames.append(stream[pos : pos + length + 2])
        pos += length + 2
    return frames


GOOD_FRAMES = [frame for v in HDLC_VECTORS if v.valid for frame in frames_by_length(v.raw)]


def build_frame(
    payload: bytes,
    *,
    destination: bytes = b"\x41",
    source: bytes = b"\x08\x83",
    control: int = 0x13,
    segmentation: bool = False,
) -> bytes:
    """A type 3 frame: HCS only when there is an information field."""
    header_size = 2 + len(destination) + len(source) + 1
    length = header_size + 2 + (len(payload) + 2 if payload else 0)
    frame_format = 0xA000 | (0x800 if segmentation else 0) | length
    header = frame_format.to_bytes(2, "big") + destination + source + bytes([control])
    body = header + crc16_x25(header).to_bytes(2, "little") + payload if payload else header
    return FLAG + body + crc16_x25(body).to_bytes(2, "little") + FLAG


def read_chunks(reader: HdlcFrameReader, chunks: Iterable[bytes]) -> list[HdlcFrame]:
    frames: list[HdlcFrame] = []
    for chunk in chunks:
        frames += reader.read(chunk)
        assert reader.buffered_bytes <= MAX_BUFFERED_BYTES
    return frames


def summary(frames: list[HdlcFrame]) -> list[tuple[bytes, bool]]:
    return [(frame.as_bytes, frame.is_valid) for frame in frames]


def valid_frames(frames: list[HdlcFrame]) -> list[bytes]:
    return [frame.as_bytes for frame in frames if frame.is_valid]


@pytest.mark.parametrize("vector", HDLC_PARAMS)
def test_vector_in_one_read(vector: Vector) -> None:
    expected = frames_by_length(vector.raw)
    reader = HdlcFrameReader()
    frames = reader.read(vector.raw)
    assert [frame.as_bytes for frame in frames] == expected
    assert all(frame.is_valid is vector.valid for frame in frames)
    assert reader.discarded_bytes == 0
    assert reader.buffered_bytes == 1  # the last closing flag may open the next frame
    for frame in frames:
        assert frame.header is not None
        assert frame.header.frame_format == 0xA
        assert frame.header.frame_length == len(frame.as_bytes) - 2
        assert frame.header.destination_address[-1] & 1
        assert frame.header.source_address[-1] & 1
        assert frame.is_good_hcs


@pytest.mark.parametrize("vector", HDLC_PARAMS)
def test_vector_split_at_every_byte_and_byte_by_byte(vector: Vector) -> None:
    expected = summary(HdlcFrameReader().read(vector.raw))
    for cut in range(1, len(vector.raw)):
        chunks = [vector.raw[:cut], vector.raw[cut:]]
        assert summary(read_chunks(HdlcFrameReader(), chunks)) == expected, cut
    single_bytes = [vector.raw[i : i + 1] for i in range(len(vector.raw))]
    assert summary(read_chunks(HdlcFrameReader(), single_bytes)) == expected


@pytest.mark.parametrize(
    ("vector_id", "payload_hex"),
    [
        (
            "amshan_aidon_list1_with_0x7d_in_payload",
            "e6e7000f40000000000101020309060100010700ff060000067d02020f00161b",
        ),
        (
            "amshan_kaifa_list1_with_0x7e_in_payload",
            "e6e7000f40000000090c07e4020f06011922ff8000000201060000157e",
        ),
    ],
)
def test_flag_and_escape_bytes_inside_the_information_field(
    vector_id: str, payload_hex: str
) -> None:
    raw = next(v.raw for v in VECTORS if v.id == vector_id)
    (frame,) = HdlcFrameReader().read(raw)
    assert frame.is_valid
    assert frame.payload == bytes.fromhex(payload_hex)


def test_bad_fcs_vector_is_returned_invalid_and_costs_no_following_frame() -> None:
    bad = next(v.raw for v in VECTORS if v.id == "hassams_neg_kamstrup_bad_fcs")
    frames = HdlcFrameReader().read(bad + GOOD_FRAMES[0] + bad + GOOD_FRAMES[1])
    assert summary(frames) == [
        (bad, False),
        (GOOD_FRAMES[0], True),
        (bad, False),
        (GOOD_FRAMES[1], True),
    ]
    assert frames[0].is_good_hcs
    assert not frames[0].is_good_fcs


@pytest.mark.parametrize("flags", [1, 2, 3, 7])
def test_one_or_more_flags_between_frames(flags: int) -> None:
    # One flag: the closing flag doubles as the next opening flag.
    between = FLAG * flags
    stream = between + between.join(frame[1:-1] for frame in GOOD_FRAMES) + between
    for size in (1, 7, 32, 4096, len(stream)):
        reader = HdlcFrameReader()
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert summary(read_chunks(reader, chunks)) == [(frame, True) for frame in GOOD_FRAMES]
        assert reader.discarded_bytes == 0


def test_junk_between_frames() -> None:
    junk = b"\x00\x7d\xa0\x13garbage\x7e\x7e\xa7\xff"
    stream = b"".join(junk + frame for frame in GOOD_FRAMES) + b"tail"
    for size in (1, 7, 32, 4096, len(stream)):
        reader = HdlcFrameReader()
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert summary(read_chunks(reader, chunks)) == [(frame, True) for frame in GOOD_FRAMES]
        assert reader.discarded_bytes == (len(junk) - 2) * len(GOOD_FRAMES) + 4, size
        assert reader.buffered_bytes == 0


def test_shared_flag_between_frames() -> None:
    stream = GOOD_FRAMES[0] + b"".join(frame[1:] for frame in GOOD_FRAMES[1:])
    frames = HdlcFrameReader().read(stream)
    assert [frame.payload for frame in frames] == [
        frame.payload for frame in HdlcFrameReader().read(b"".join(GOOD_FRAMES))
    ]
    assert all(frame.is_valid for frame in frames)
    assert len(frames) == len(GOOD_FRAMES)


@settings(max_examples=60, deadline=None)
@given(
    junks=st.lists(st.binary(max_size=40), min_size=len(GOOD_FRAMES) + 1),
    cuts=st.lists(st.integers(min_value=0, max_value=8000), max_size=12),
)
def test_random_junk_and_random_chunking(junks: list[bytes], cuts: list[int]) -> None:
    # Without 0x7E the junk cannot fake a frame start: the result is fully determined.
    junks = [junk.replace(FLAG, b"") for junk in junks[: len(GOOD_FRAMES) + 1]]
    stream = b"".join(junk + frame for junk, frame in zip(junks, GOOD_FRAMES, strict=False))
    # Zeros resolve any frame start the last junk may leave pending.
    stream += junks[-1] + bytes(2100)
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    chunks = [stream[a:b] for a, b in pairwise(points)]
    reader = HdlcFrameReader()
    assert summary(read_chunks(reader, chunks)) == [(frame, True) for frame in GOOD_FRAMES]
    assert reader.discarded_bytes == sum(len(junk) for junk in junks) + 2100
    assert reader.buffered_bytes == 0


def test_truncated_frame_costs_no_following_frame() -> None:
    for damaged in GOOD_FRAMES:
        # Enough good frames follow to cover the claimed length, so every case resolves.
        followers = GOOD_FRAMES[:3] * (len(damaged) // 300 + 2)
        stream_tail = b"".join(followers)
        for cut in range(1, len(damaged) - 1):
            frames = HdlcFrameReader().read(damaged[:cut] + stream_tail)
            assert valid_frames(frames) == followers, (damaged[:8].hex(), cut)
            assert len(frames) - len(followers) <= 1


@pytest.mark.parametrize("new_length", [0, 5, 9, 40, 0x7FF])
def test_corrupted_length_field_costs_no_following_frame(new_length: int) -> None:
    for damaged in GOOD_FRAMES[:6]:
        broken = damaged[:1] + bytes([0xA0 | new_length >> 8, new_length & 0xFF]) + damaged[3:]
        followers = GOOD_FRAMES[:3] * 6
        frames = HdlcFrameReader().read(broken + b"".join(followers))
        assert valid_frames(frames) == followers
        assert all(not frame.is_valid for frame in frames[: len(frames) - len(followers)])


def test_corrupted_length_with_a_consistent_hcs_costs_no_following_frame() -> None:
    # A header that checks out but claims the wrong length: found out by the FCS.
    for claimed in (60, 300, 2000):
        frame = build_frame(bytes(200))
        header = bytes([0xA0 | claimed >> 8, claimed & 0xFF]) + frame[3:7]
        broken = FLAG + header + crc16_x25(header).to_bytes(2, "little") + frame[9:]
        followers = GOOD_FRAMES * 5
        frames = HdlcFrameReader().read(broken + b"".join(followers))
        assert valid_frames(frames) == followers


def test_fcs_ending_in_0x7d_is_not_an_abort() -> None:
    frame = next(
        candidate
        for counter in range(100_000)
        if (candidate := build_frame(b"\xe6\xe7\x00\x0f" + counter.to_bytes(4, "big")))[-2] == 0x7D
    )
    for reader in (HdlcFrameReader(), HdlcFrameReader(use_abort_sequence=True)):
        # With abort sequences on, "7D 7E" still ends a frame whose length and FCS say so.
        assert summary(reader.read(frame + frame)) == [(frame, True)] * 2
    stuffing = HdlcFrameReader(use_octet_stuffing=True, use_abort_sequence=True)
    assert summary(stuffing.read(stuff(frame))) == [(frame, True)]


def test_frame_without_information_field() -> None:
    frame = build_frame(b"", control=0x93)
    assert len(frame) == 10
    for reader in (HdlcFrameReader(), HdlcFrameReader(use_octet_stuffing=True)):
        (read,) = reader.read(frame)
        assert read.is_valid
        assert read.payload == b""
        assert read.header is not None
        assert read.header.control == 0x93
    damaged = frame[:-3] + bytes([frame[-3] ^ 0xFF]) + frame[-2:]
    assert HdlcFrameReader().read(damaged + GOOD_FRAMES[0]) == HdlcFrameReader().read(
        GOOD_FRAMES[0]
    )


@pytest.mark.parametrize(
    ("destination", "source"),
    [
        (b"\x03", b"\x05"),
        (b"\x02\x03", b"\x04\x05"),
        (b"\x00\x02\x00\x03", b"\x00\x02\x00\x05"),
        (b"\x41", b"\x00\x02\x04\x21"),
    ],
)
def test_address_sizes(destination: bytes, source: bytes) -> None:
    frame = build_frame(b"payload", destination=destination, source=source, segmentation=True)
    (read,) = HdlcFrameReader().read(frame)
    assert read.is_valid
    assert read.header == HdlcFrameHeader(0xA, len(frame) - 2, True, destination, source, 0x13)
    assert read.payload == b"payload"


@pytest.mark.parametrize(
    ("destination", "source"),
    [(b"\x02\x02\x03", b"\x05"), (b"\x03", b"\x02\x02\x05"), (b"\x02\x02\x02\x02\x03", b"\x05")],
)
def test_malformed_addresses_are_garbage(destination: bytes, source: bytes) -> None:
    frame = build_frame(b"payload", destination=destination, source=source)
    reader = HdlcFrameReader()
    assert reader.read(frame + GOOD_FRAMES[0]) == HdlcFrameReader().read(GOOD_FRAMES[0])
    assert reader.discarded_bytes == len(frame) - 2 - frame.count(FLAG) + 2


def test_header_longer_than_its_frame_is_garbage() -> None:
    # Length 9 leaves room for a 1-byte info field only: neither "no info" nor "info".
    header = b"\xa0\x09\x41\x03\x13"
    body = header + crc16_x25(header).to_bytes(2, "little") + b"x"
    frame = FLAG + body + crc16_x25(body).to_bytes(2, "little") + FLAG
    assert list(HdlcFrameReader().read(frame)) == []


def test_many_distinct_headers() -> None:
    frames = [build_frame(b"x", control=control) for control in range(0, 256, 8)]
    read = HdlcFrameReader().read(b"".join(frames))
    assert [frame.as_bytes for frame in read if frame.is_valid] == frames
    assert [frame.header.control for frame in read if frame.header] == list(range(0, 256, 8))


def stuff(frame: bytes) -> bytes:
    body = frame[1:-1]
    for special in (b"\x7d", b"\x7e"):
        body = body.replace(special, b"\x7d" + bytes([special[0] ^ 0x20]))
    return FLAG + body + FLAG


def test_octet_stuffing() -> None:
    frames = [
        next(v.raw for v in VECTORS if v.id == "amshan_kaifa_list1_with_0x7e_in_payload"),
        next(v.raw for v in VECTORS if v.id == "amshan_aidon_list1_with_0x7d_in_payload"),
        build_frame(b"\x7d\x7d\x7e\x7e\x5d\x5e"),
    ]
    stuffed = b"".join(stuff(frame) for frame in frames)
    assert b"\x7d\x5d" in stuffed
    assert b"\x7d\x5e" in stuffed
    expected = [(frame, True) for frame in frames]
    for cut in range(len(stuffed) + 1):
        reader = HdlcFrameReader(use_octet_stuffing=True)
        assert summary(read_chunks(reader, [stuffed[:cut], stuffed[cut:]])) == expected, cut
    single = [stuffed[i : i + 1] for i in range(len(stuffed))]
    assert summary(read_chunks(HdlcFrameReader(use_octet_stuffing=True), single)) == expected
    # Without stuffing the escapes stay in: the frames do not check out.
    assert valid_frames(HdlcFrameReader().read(stuffed)) == []


def test_stuffing_reader_drops_an_escape_before_a_flag() -> None:
    reader = HdlcFrameReader(use_octet_stuffing=True)
    frame = GOOD_FRAMES[0]
    assert summary(reader.read(b"\x7d" + stuff(frame))) == [(frame, True)]
    assert reader.discarded_bytes == 1
    # A frame cut short waits for its claimed length, then its bytes are read again.
    partial = stuff(GOOD_FRAMES[1])[:50]
    frames = reader.read(partial + b"\x7d" + stuff(frame) * 3)
    assert summary(frames) == [(frame, True)] * 3
    assert reader.discarded_bytes == 1 + 1 + 49


@pytest.mark.parametrize("stuffing", [False, True])
def test_abort_sequence(stuffing: bool) -> None:
    frame = GOOD_FRAMES[2]
    sent = stuff(frame) if stuffing else frame
    partial = sent[:40] if sent[39] != 0x7D else sent[:41]  # an abort, not "7D 7D"
    # Dropped: the partial frame (an escape pair counts once) and the 0x7D, not the flag.
    dropped = len(partial) - (partial.count(b"\x7d") if stuffing else 0)
    stream = partial + b"\x7d" + sent + sent
    for cut in range(len(stream) + 1):
        reader = HdlcFrameReader(use_octet_stuffing=stuffing, use_abort_sequence=True)
        frames = read_chunks(reader, [stream[:cut], stream[cut:]])
        assert summary(frames) == [(frame, True), (frame, True)], cut
        assert reader.discarded_bytes == dropped, cut
    # Without abort handling the partial frame waits for its length, then is read again.
    frames = HdlcFrameReader(use_octet_stuffing=stuffing).read(stream + sent * 4)
    assert valid_frames(frames)[-4:] == [frame] * 4


def test_abort_inside_a_frame_whose_length_ends_on_a_flag() -> None:
    frame, good = GOOD_FRAMES[0], GOOD_FRAMES[1]
    # Idle flags after the abort: the cut frame's length points at one of them.
    stream = frame[:30] + b"\x7d" + FLAG * len(frame) + good
    reader = HdlcFrameReader(use_abort_sequence=True)
    assert summary(reader.read(stream)) == [(good, True)]
    assert reader.discarded_bytes == 30
    # Without abort handling it is a delimited frame with a bad FCS.
    frames = HdlcFrameReader().read(stream)
    assert summary(frames) == [(stream[: len(frame)], False), (good, True)]


def test_abort_keeps_earlier_complete_frames() -> None:
    reader = HdlcFrameReader(use_abort_sequence=True)
    following = GOOD_FRAMES[1:4]
    stream = GOOD_FRAMES[0] + GOOD_FRAMES[5][:30] + b"\x7d" + b"".join(following)
    assert summary(reader.read(stream)) == [(GOOD_FRAMES[0], True)] + [
        (frame, True) for frame in following
    ]
    assert reader.discarded_bytes == 30  # the cut frame after its flag, and the 0x7D


def test_is_valid_needs_header_and_matching_length() -> None:
    (frame,) = HdlcFrameReader().read(GOOD_FRAMES[0])
    assert frame.is_valid
    assert not HdlcFrame(frame.as_bytes, None, frame.payload, True, True).is_valid
    assert not HdlcFrame(frame.as_bytes[:-1], frame.header, frame.payload, True, True).is_valid
    assert not HdlcFrame(frame.as_bytes, frame.header, frame.payload, False, True).is_valid


def test_buffer_holds_at_most_one_pending_frame() -> None:
    longest = build_frame(bytes(2047 - 10))
    assert len(longest) == 2049
    reader = HdlcFrameReader()
    assert list(reader.read(longest[:-1])) == []
    assert reader.buffered_bytes == 2048
    assert summary(reader.read(longest[-1:])) == [(longest, True)]
    assert reader.buffered_bytes == 1
    assert list(reader.read(b"\x7e\x7e\x7e\x7e")) == []
    assert reader.buffered_bytes == 1
    assert reader.discarded_bytes == 0


def test_garbage_is_dropped_as_it_is_read() -> None:
    reader = HdlcFrameReader()
    assert list(reader.read(b"abc")) == []
    assert (reader.buffered_bytes, reader.discarded_bytes) == (0, 3)
    assert list(reader.read(b"\x7e\x01" * 500_000)) == []
    assert (reader.buffered_bytes, reader.discarded_bytes) == (0, 500_003)
    assert list(reader.read(b"\x7e")) == []
    assert reader.buffered_bytes == 1
    assert list(reader.read(b"\xa0")) == []
    assert reader.buffered_bytes == 2


def test_byte_by_byte_reads_parse_a_few_times_per_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """Single-byte reads only append until the next decision can be made (the length
    field, the header, the closing flag): no parsing and no new list per byte."""
    parses = 0
    parse = HdlcFrameReader._parse

    def counting_parse(self: HdlcFrameReader) -> list[HdlcFrame]:
        nonlocal parses
        parses += 1
        return parse(self)

    monkeypatch.setattr(HdlcFrameReader, "_parse", counting_parse)
    reader = HdlcFrameReader()
    stream = b"".join(GOOD_FRAMES) * 3
    results = [reader.read(stream[i : i + 1]) for i in range(len(stream))]
    assert sum(len(frames) for frames in results) == 3 * len(GOOD_FRAMES)
    assert parses <= 4 * 3 * len(GOOD_FRAMES)
    # The reads that did not parse returned the shared empty tuple.
    assert sum(frames == () for frames in results) >= len(stream) - parses
