"""Stream rows: T6 garbage input, T10 P1 readouts back to back."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from typing import Any

from amshan import dlde as ours_dlde
from amshan import hdlc as ours_hdlc
from dsmr_parser.clients.telegram_buffer import TelegramBuffer
from han import dlde as ref_dlde
from han import hdlc as ref_hdlc

from .common import QUICK, Row, catch, p1_telegrams

MB = 1_000_000
SEGMENT = 5 * MB
SEGMENTS = 10 if not QUICK else 2
REF_CAP = 256 * 1024
CHUNK = 4096
HDLC_MAX_FRAME = 2047 + 2  # the 11-bit length field plus the two flags

_PRINTABLE = (string.ascii_letters + string.digits + string.punctuation + " \r\n").encode()


def _table(alphabet: bytes) -> bytes:
    return bytes(alphabet[i % len(alphabet)] for i in range(256))


_KINDS: dict[str, bytes | None] = {
    "binary": None,
    "binary without 7E and '/'": _table(bytes(b for b in range(256) if b not in (0x7E, 0x2F))),
    "ASCII": _table(_PRINTABLE),
    "ASCII without '~' and '/'": _table(bytes(b for b in _PRINTABLE if b not in b"~/")),
}


def garbage(kind: str, size: int, seed: int) -> bytes:
    """``size`` random bytes of one kind (seeded, so every run feeds the same bytes)."""
    data = random.Random(seed).randbytes(size)
    table = _KINDS[kind]
    return data.translate(table) if table is not None else data


def _feed(reader: Any, data: bytes, state: Callable[[Any], int]) -> tuple[float, int, int, str]:
    """CPU seconds, max reader state, exceptions, first exception, for ``data`` in 4 KiB
    reads (thread CPU time: other processes on the machine do not count)."""
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    most = 0
    errors = 0
    first = ""
    read = reader.read
    start = time.thread_time()
    for chunk in chunks:
        try:
            read(chunk)
        except Exception as err:  # the reference raises on some garbage
            errors += 1
            first = first or f"{type(err).__name__}: {str(err)[:60]}"
        size = state(reader)
        most = max(most, size)
    return time.thread_time() - start, most, errors, first


def _ours_state(reader: Any) -> int:
    return int(reader.buffered_bytes)


def _ref_state(reader: Any) -> int:
    # The reference has no public size; its line/frame buffer is what grows.
    return len(reader._buffer._buffer) + len(
        getattr(reader, "_raw_data", getattr(reader, "_raw_frame_data", b""))
    )


def _p1_limit() -> int:
    for name in ("MAX_READOUT_BYTES", "MAX_READOUT_SIZE", "MAX_BUFFERED_BYTES"):
        if hasattr(ours_dlde, name):
            return int(getattr(ours_dlde, name))
    return 0


def t6_garbage() -> list[Row]:
    """T6: random garbage in 4 KiB reads; s/MB of the first and last 5 MB, state, exceptions."""
    rows = []
    p1_max = _p1_limit()
    p1_kinds = ("binary", "binary without 7E and '/'", "ASCII")
    hdlc_kinds = ("ASCII", "ASCII without '~' and '/'", "binary")
    for reader_name, ours_make, ref_make, kinds, largest in (
        ("P1 reader", ours_dlde.ModeDReader, ref_dlde.ModeDReader, p1_kinds, p1_max),
        (
            "HDLC reader",
            ours_hdlc.HdlcFrameReader,
            ref_hdlc.HdlcFrameReader,
            hdlc_kinds,
            HDLC_MAX_FRAME,
        ),
    ):
        for kind in kinds:
            reader = ours_make()
            per_mb, most, errors, first = [], 0, 0, ""
            for seg in range(SEGMENTS):
                data = garbage(kind, SEGMENT, seed=seg)
                secs, seg_most, seg_err, seg_first = _feed(reader, data, _ours_state)
                per_mb.append(secs / (SEGMENT / MB))
                most, errors, first = max(most, seg_most), errors + seg_err, first or seg_first
            ref_reader = ref_make()
            quarter = REF_CAP // 4
            ref_data = garbage(kind, REF_CAP, seed=99)
            ref_times = []
            ref_most, ref_errors, ref_first = 0, 0, ""
            for q in range(4):
                secs, q_most, q_err, q_first = _feed(
                    ref_reader, ref_data[q * quarter : (q + 1) * quarter], _ref_state
                )
                ref_times.append(secs / (quarter / MB))
                ref_most, ref_errors = max(ref_most, q_most), ref_errors + q_err
                ref_first = ref_first or q_first
            worst = max(per_mb)
            linear = per_mb[-1] <= 1.5 * per_mb[0] + 0.005
            bounded = most <= 2 * largest if largest else None
            met = worst <= 0.1 and linear and errors == 0 and bounded is not False
            note = (
                f"ours: first 5 MB {per_mb[0]:.4f} s/MB, last {per_mb[-1]:.4f} s/MB "
                f"({SEGMENTS * SEGMENT // MB} MB), max state {most} B"
                f"{f' (limit 2x{largest} B)' if largest else ' (no max frame size exported)'}"
                f", exceptions {errors}{' ' + first if first else ''}; "
                f"reference ({REF_CAP // 1024} KiB): first 64 KiB {ref_times[0]:.3f} s/MB, "
                f"last {ref_times[-1]:.3f} s/MB, max state {ref_most} B, exceptions {ref_errors}"
                f"{' (' + ref_first + ')' if ref_first else ''}"
            )
            rows.append(
                Row(
                    "T6",
                    f"garbage, {kind} into the {reader_name}",
                    "s/MB",
                    max(ref_times),
                    worst,
                    "<= 0.1 s/MB, linear, state <= 2x max frame, never raises",
                    met,
                    (max(ref_times) / worst) if worst else None,
                    note,
                    {
                        "ours_s_per_mb": per_mb,
                        "ref_s_per_mb": ref_times,
                        "ours_max_state": most,
                        "ref_max_state": ref_most,
                        "ours_exceptions": errors,
                        "ref_exceptions": ref_errors,
                    },
                )
            )
    return rows


CHUNK_SIZES = (1, 2, 3, 7, 16, 32, 64, 100, 256, 700, 1024, 1500, 4096, 16384, 65536)


def _count_readouts(make: Callable[[], Any], chunks: list[bytes]) -> int:
    reader = make()
    found = 0
    for chunk in chunks:
        for readout in reader.read(chunk):
            if readout.is_valid:
                found += 1
    return found


def _count_dsmr(chunks: list[bytes]) -> int:
    buffer = TelegramBuffer()
    found = 0
    for chunk in chunks:
        buffer.append(chunk.decode("ascii"))
        found += sum(1 for _ in buffer.get_all())
    return found


def t10_back_to_back() -> Row:
    """T10: share of P1 readouts returned when they arrive back to back, per read size."""
    telegrams = [v.raw for v in p1_telegrams()] * 3
    stream = b"".join(telegrams)
    expected = len(telegrams)
    worst: dict[str, tuple[float, int]] = {}
    detail: dict[str, dict[int, int]] = {"ours": {}, "ref": {}, "dsmr_parser": {}}
    for size in CHUNK_SIZES:
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        for name, count in (
            ("ours", lambda c=chunks: _count_readouts(ours_dlde.ModeDReader, c)),
            ("ref", lambda c=chunks: _count_readouts(ref_dlde.ModeDReader, c)),
            ("dsmr_parser", lambda c=chunks: _count_dsmr(c)),
        ):
            got, _err = catch(count)
            got = got or 0
            detail[name][size] = got
            pct = 100.0 * got / expected
            if name not in worst or pct < worst[name][0]:
                worst[name] = (pct, size)
    return Row(
        "T10",
        f"P1 readouts returned, {expected} back to back, reads of 1 B..64 KiB (worst size)",
        "%",
        worst["ref"][0],
        worst["ours"][0],
        "100 %",
        worst["ours"][0] == 100.0,
        None,
        f"worst read size: ours {worst['ours'][1]} B, reference {worst['ref'][1]} B; "
        f"dsmr_parser TelegramBuffer worst {worst['dsmr_parser'][0]:.0f} % "
        f"at {worst['dsmr_parser'][1]} B",
        {"by_read_size": detail, "expected": expected},
    )
