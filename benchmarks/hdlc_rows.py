"""HDLC framing rows: T1 throughput, T7 flag flood, T8 resync after damage, T9 0x7D before flag."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from amshan import hdlc as ours_hdlc
from amshan.builder import build_meter_frame
from amshan.crc import crc16_x25
from han import hdlc as ref_hdlc

from .common import QUICK, Row, catch, interleaved_ns, per_call_ns, plain_hdlc_frames, speedup

MB = 1_000_000

Reader = Callable[[], Any]


def _ours(abort: bool = False) -> Any:
    return ours_hdlc.HdlcFrameReader(use_abort_sequence=abort)


def _ref(abort: bool = False) -> Any:
    return ref_hdlc.HdlcFrameReader(use_abort_sequence=abort)


class _NullReader:
    """Returns nothing: what the feeding loop costs on its own."""

    def read(self, data: bytes) -> tuple[Any, ...]:
        return ()


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into reads of ``size`` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def count_valid(reader: Any, chunks: Iterable[bytes]) -> int:
    """Feed every chunk; number of valid frames returned."""
    read = reader.read
    found = 0
    for chunk in chunks:
        for frame in read(chunk):
            if frame.is_valid:
                found += 1
    return found


def valid_frames(reader: Any, chunks: Iterable[bytes]) -> list[bytes]:
    """Feed every chunk; the bytes between the flags of every valid frame returned."""
    out = []
    for chunk in chunks:
        for frame in reader.read(chunk):
            if frame.is_valid:
                raw = frame.as_bytes  # ours keeps the flags, the reference drops them
                out.append(raw[1:-1] if isinstance(reader, ours_hdlc.HdlcFrameReader) else raw)
    return out


def mixed_stream(target: int = 262_144) -> tuple[bytes, int]:
    """The real valid frames back to back, repeated to about ``target`` bytes."""
    frames = plain_hdlc_frames()
    one = b"".join(frames)
    reps = max(1, target // len(one))
    return one * reps, len(frames) * reps


def t1_throughput() -> list[Row]:
    """T1: MB/s of read() over mixed real frames at several read sizes."""
    data, expected = mixed_stream()
    rows = []
    for size, label in ((4096, "4 KiB reads"), (32, "32 B reads"), (1, "1 B reads")):
        chunks = chunked(data, size)
        notes = []
        for name, make in (("ours", _ours), ("ref", _ref)):
            found = count_valid(make(), chunks)
            if found != expected:
                notes.append(f"{name} found {found} of {expected} frames")
        ours_t, ref_t = interleaved_ns(
            [lambda c=chunks: count_valid(_ours(), c), lambda c=chunks: count_valid(_ref(), c)],
            repeats=9,
        )
        ours, ref = len(data) / MB / (ours_t.cpu / 1e9), len(data) / MB / (ref_t.cpu / 1e9)
        notes.append(
            f"wall clock: ours {len(data) / MB / (ours_t.wall / 1e9):.2f} MB/s, "
            f"reference {len(data) / MB / (ref_t.wall / 1e9):.2f} MB/s"
        )
        if size == 1:
            empty = per_call_ns(lambda c=chunks: count_valid(_NullReader(), c), repeats=9)
            notes.append(
                f"the loop feeding the reads alone (a reader that returns ()) runs at "
                f"{len(data) / MB / (empty.cpu / 1e9):.1f} MB/s"
            )
        floor = 5.0 if size == 1 else 15.0
        ratio = speedup(ours, ref)
        met = ours is not None and ours >= floor and (size == 1 or (ratio or 0) >= 10)
        rows.append(
            Row(
                "T1",
                f"HDLC framing, {label} ({len(data) // 1024} KiB of real frames)",
                "MB/s",
                ref,
                ours,
                f">= {floor:g} MB/s" + ("" if size == 1 else ", >= 10x"),
                met,
                ratio,
                "; ".join(notes),
            )
        )
    return rows


def t7_flag_flood() -> Row:
    """T7: 1 MB of 7E 01 in one read(); the reference is timed on smaller sizes and extrapolated."""
    size = 1_000_000 if not QUICK else 250_000
    data = b"\x7e\x01" * (size // 2)
    ours_s, err = catch(lambda: per_call_ns(lambda: _ours().read(data), repeats=5).cpu / 1e9)
    ours_s = ours_s * (1_000_000 / size) if ours_s else None
    times = {}
    for small in (32_768, 65_536, 131_072, 262_144):
        blob = b"\x7e\x01" * (small // 2)
        times[small] = per_call_ns(lambda blob=blob: _ref().read(blob), repeats=3).cpu / 1e9
    linear, square = _fit(times)
    ref_s = linear + square
    note = (
        "reference timed at 32/64/128/256 KiB ("
        + ", ".join(f"{t * 1e3:.0f} ms" for t in times.values())
        + f"), fitted t = {linear:.2f} s/MB x n + {square:.2f} s/MB^2 x n^2, extrapolated "
        "to 1 MB"
    )
    if err:
        note += f"; ours raised {err}"
    return Row(
        "T7",
        "1 MB of 7E 01 in one read()",
        "s",
        ref_s,
        ours_s,
        "<= 0.2 s",
        ours_s is not None and ours_s <= 0.2,
        speedup(ref_s, ours_s),
        note,
    )


def _fit(times: dict[int, float]) -> tuple[float, float]:
    """Least-squares b, c of t = b n + c n^2 (n in MB); c >= 0."""
    pairs = [(size / MB, secs) for size, secs in times.items()]
    s2 = sum(n**2 for n, _ in pairs)
    s3 = sum(n**3 for n, _ in pairs)
    s4 = sum(n**4 for n, _ in pairs)
    t1 = sum(t * n for n, t in pairs)
    t2 = sum(t * n**2 for n, t in pairs)
    det = s2 * s4 - s3 * s3
    linear = (t1 * s4 - t2 * s3) / det
    square = (s2 * t2 - s3 * t1) / det
    if square < 0 or linear < 0:
        return t1 / s2, 0.0
    return linear, square


def _damaged_variants(frame: bytes) -> list[tuple[str, bytes]]:
    """Truncations and length-field corruptions of one real frame."""
    out = []
    body_len = len(frame) - 2
    for cut in sorted({3, 6, 9, body_len // 2, body_len - 3, body_len - 1}):
        if 1 < cut < len(frame) - 1:
            out.append((f"truncated to {cut} B", frame[:cut]))
    fmt = int.from_bytes(frame[1:3], "big")
    length = fmt & 0x7FF
    for new_len in sorted({0x7FF, length + 1, length + 40, max(0, length - 1), length // 2, 5}):
        if new_len == length:
            continue
        new_fmt = ((fmt & ~0x7FF) | new_len).to_bytes(2, "big")
        raw = frame[:1] + new_fmt + frame[3:]
        out.append((f"length {length}->{new_len}, HCS wrong", raw))
        fixed = _fix_hcs(raw)
        if fixed is not None:
            out.append((f"length {length}->{new_len}, HCS fixed", fixed))
    return out


def _fix_hcs(frame: bytes) -> bytes | None:
    """Recompute the HCS over the (corrupted) header, as a buggy sender would."""
    pos = 3
    for _ in range(2):
        while pos < len(frame) and not frame[pos] & 1:
            pos += 1
        pos += 1
    pos += 1  # control
    if pos + 2 > len(frame):
        return None
    hcs = crc16_x25(frame[1:pos]).to_bytes(2, "little")
    return frame[:pos] + hcs + frame[pos + 2 :]


def t8_resync() -> Row:
    """T8: good frames lost after one truncated or length-corrupted frame (32 B reads)."""
    goods = plain_hdlc_frames()
    tail = b"".join(goods)
    baseline = {
        name: len(goods) - len(valid_frames(make(), chunked(tail, 32)))
        for name, make in (("ours", _ours), ("ref", _ref))
    }
    worst: dict[str, tuple[int, str]] = {"ours": (0, ""), "ref": (0, "")}
    total: dict[str, int] = {"ours": 0, "ref": 0}
    errors: dict[str, int] = {"ours": 0, "ref": 0}
    cases = 0
    for frame in goods:
        for label, damaged in _damaged_variants(frame):
            cases += 1
            chunks = chunked(damaged + tail, 32)
            for name, make in (("ours", _ours), ("ref", _ref)):
                got, err = catch(lambda make=make, chunks=chunks: valid_frames(make(), chunks))
                if err:
                    errors[name] += 1
                    got = []
                lost = sum(1 for g in goods if g[1:-1] not in got)
                total[name] += lost
                if lost > worst[name][0]:
                    worst[name] = (lost, label)
    note = (
        f"{cases} damaged frames, each followed by the {len(goods)} real frames, 32 B reads; "
        f"total lost ours {total['ours']}, reference {total['ref']}; "
        f"reference worst case: {worst['ref'][1]}; without a damaged frame ours lose "
        f"{baseline['ours']}, the reference {baseline['ref']}"
    )
    if worst["ours"][0]:
        note += f"; our worst case: {worst['ours'][1]}"
    if errors["ours"] or errors["ref"]:
        note += f"; exceptions ours {errors['ours']}, reference {errors['ref']}"
    return Row(
        "T8",
        "good frames lost after one damaged frame (worst case)",
        "frames",
        worst["ref"][0],
        worst["ours"][0],
        "0",
        worst["ours"][0] == 0 and total["ours"] == 0,
        None,
        note,
        {"total_lost_ours": total["ours"], "total_lost_ref": total["ref"], "cases": cases},
    )


def _frames_for_t9(count: int, wanted: int = 64) -> tuple[list[bytes], list[bytes]]:
    """``count`` Aidon list-1 frames with random values, and ``wanted`` ending in 7D 7E."""
    stamp = datetime(2024, 1, 1, 12, 0, 0)
    watts = random.Random(9).sample(range(1_000_000), 60_000)

    def frame(value: int) -> bytes:
        return build_meter_frame("aidon", {"active_power_import": value}, timestamp=stamp)

    frames = [frame(w) for w in watts[:count]]
    escaped = [f for f in frames if f[-2] == 0x7D]
    for value in watts[count:]:
        if len(escaped) >= wanted:
            break
        candidate = frame(value)
        if candidate[-2] == 0x7D:
            escaped.append(candidate)
    return frames, escaped


def t9_escape_before_flag() -> list[Row]:
    """T9: valid frames dropped because the byte before the closing flag is 0x7D."""
    frames, escaped = _frames_for_t9(4096 if not QUICK else 1024)
    rows = []
    for abort in (True, False):
        result: dict[str, tuple[int, int]] = {}
        for name, make in (("ours", _ours), ("ref", _ref)):
            got_all = count_valid(make(abort), chunked(b"".join(frames), 32))
            got_esc = count_valid(make(abort), chunked(b"".join(escaped), 32))
            result[name] = (len(frames) - got_all, len(escaped) - got_esc)
        rows.append(
            Row(
                "T9",
                f"valid frames dropped, FCS ends in 0x7D (use_abort_sequence={abort})",
                "frames",
                f"{result['ref'][1]} of {len(escaped)}",
                f"{result['ours'][1]} of {len(escaped)}",
                "0",
                result["ours"] == (0, 0),
                None,
                f"{len(escaped)} built Aidon frames ending in 7D 7E; of {len(frames)} built "
                "with random values, dropped: "
                f"ours {result['ours'][0]}, reference {result['ref'][0]} "
                f"(1 in {len(frames) // max(1, result['ref'][0]) if result['ref'][0] else '-'})",
            )
        )
    return rows


def timed(func: Callable[[], object]) -> float:
    """Seconds for one call."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start
