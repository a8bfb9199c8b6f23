"""Shared helpers: the real vectors, import paths, timing and row records.

Both libraries are imported into the same process: ours as the top-level package ``amshan``
(from custom_components/han_meter, so Home Assistant is not needed) and the reference
``amshan==2.1.1`` as its own package ``han``.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
OURS_PATH = REPO / "custom_components" / "han_meter"
VECTOR_DIR = REPO / "tests" / "fixtures" / "vectors"
RESULTS = REPO / "benchmarks" / "results"

if str(OURS_PATH) not in sys.path:
    sys.path.insert(0, str(OURS_PATH))

# The reference logs a warning for every invalid frame and debug lines with hex dumps; logging
# is switched off so neither side pays for console output.
logging.disable(logging.CRITICAL)

QUICK = "--quick" in sys.argv


@dataclass(frozen=True)
class Vector:
    """One captured message from tests/fixtures/vectors."""

    id: str
    kind: str
    country: str | None
    raw: bytes
    valid: bool
    decodes: bool
    expect: dict[str, Any]
    keys: dict[str, str | None] | None


def load_vectors() -> list[Vector]:
    """Every vector, sorted by id."""
    result = []
    for path in sorted(VECTOR_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        result.append(
            Vector(
                id=data["id"],
                kind=data["kind"],
                country=data.get("country"),
                raw=bytes.fromhex(data["raw_hex"]),
                valid=data["valid"],
                decodes=data["decodes"],
                expect=data["expect"],
                keys=data["keys"],
            )
        )
    return result


VECTORS = load_vectors()
BY_ID = {v.id: v for v in VECTORS}


def hdlc_payload(frame: bytes) -> bytes:
    """Information field of one unstuffed HDLC frame given with its flags."""
    pos = 3  # flag + 2-byte format field
    for _ in range(2):  # destination, then source address: last byte has the low bit set
        while not frame[pos] & 1:
            pos += 1
        pos += 1
    pos += 1 + 2  # control + HCS
    return frame[pos:-3]  # FCS (2) and the closing flag


def content_of(vector: Vector) -> bytes:
    """What a decoder is handed for a vector: the HDLC information field, or the bytes as-is."""
    return hdlc_payload(vector.raw) if vector.kind == "hdlc-frame" else vector.raw


def plain_hdlc_frames() -> list[bytes]:
    """The valid, unencrypted real HDLC frames."""
    return [v.raw for v in VECTORS if v.kind == "hdlc-frame" and v.valid]


def p1_telegrams() -> list[Vector]:
    """The real P1 telegrams."""
    return [v for v in VECTORS if v.kind == "p1"]


# --- timing ---------------------------------------------------------------------------------


class Timing(NamedTuple):
    """Median ns per call: ``cpu`` is this thread's CPU time (what the tables judge: it
    leaves out the time the OS gives other processes on a shared machine), ``wall`` the
    perf_counter_ns time. On an idle machine the two agree."""

    cpu: float
    wall: float


def per_call_ns(
    func: Callable[[], object], *, repeats: int = 15, min_ns: int = 20_000_000
) -> Timing:
    """Median time of one call (see interleaved_ns)."""
    return interleaved_ns([func], repeats=repeats, min_ns=min_ns)[0]


def _run(func: Callable[[], object], number: int) -> tuple[int, int]:
    """(wall ns, thread CPU ns) of ``number`` calls."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        cpu_start, start = time.thread_time_ns(), time.perf_counter_ns()
        for _ in range(number):
            func()
        end, cpu_end = time.perf_counter_ns(), time.thread_time_ns()
        return end - start, cpu_end - cpu_start
    finally:
        if enabled:
            gc.enable()


def interleaved_ns(
    funcs: list[Callable[[], object]], *, repeats: int = 15, min_ns: int = 10_000_000
) -> list[Timing]:
    """Median time of one call of each function, their repeats interleaved.

    The call count per repeat is calibrated so a repeat lasts at least ``min_ns`` (so the
    clock reads, a few microseconds, do not count); the calibration run is the warm-up and
    is not counted. GC is off while timing (as timeit does). Interleaving makes every
    function see the same machine load, so the ratios hold even when other processes share
    the cores.
    """
    if QUICK:
        repeats = max(3, repeats // 3)
        min_ns //= 4
    numbers = [_calibrate(func, min_ns) for func in funcs]
    samples: list[list[tuple[int, int]]] = [[] for _ in funcs]
    for _ in range(repeats):
        for func, number, out in zip(funcs, numbers, samples, strict=True):
            out.append(_run(func, number))
    return [
        Timing(
            statistics.median(s[1] for s in out) / number,
            statistics.median(s[0] for s in out) / number,
        )
        for out, number in zip(samples, numbers, strict=True)
    ]


def _calibrate(func: Callable[[], object], min_ns: int) -> int:
    number = 1
    while True:
        elapsed = _run(func, number)[1]
        if elapsed >= min_ns:
            return number
        number *= 2 if elapsed * 4 > min_ns else 10


def paired_samples(
    ours: Callable[[], object], ref: Callable[[], object], count: int, every: int = 8
) -> dict[str, list[int]]:
    """Per-call wall and thread-CPU times of ``count`` calls of ours and ``count // every`` of
    the reference, interleaved, after an uncounted warm-up of each."""
    if QUICK:
        count = max(200, count // 5)
    for _ in range(20):
        ours()
        ref()
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    out: dict[str, list[int]] = {"ours": [], "ours_cpu": [], "ref": [], "ref_cpu": [], "empty": []}
    out["empty_cpu"] = []

    def empty() -> None:
        return None

    for i in range(count):
        for name, func in (("ours", ours), ("empty", empty)) + (
            (("ref", ref),) if i % every == 0 else ()
        ):
            c0, w0 = cpu(), wall()
            func()
            w1, c1 = wall(), cpu()
            out[name].append(w1 - w0)
            out[name + "_cpu"].append(c1 - c0)
    # The clocks cost time too (thread_time_ns is a system call here): subtract the median
    # cost measured around an empty call.
    for kind in ("", "_cpu"):
        cost = int(statistics.median(out["empty" + kind]))
        for name in ("ours", "ref"):
            out[name + kind] = [max(0, t - cost) for t in out[name + kind]]
    return out


def percentile(values: list[int] | list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[index])


def rss_bytes() -> int:
    """Resident set size of this process, from /proc."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        resident = int(handle.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE")


# --- results --------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table.

    ``ratio`` is the reference's cost divided by ours (how many times better ours is), so it
    reads the same way for times (ref/ours) and for throughputs (ours/ref).
    """

    id: str
    case: str
    unit: str
    ref: float | str | None
    ours: float | str | None
    target: str
    met: bool | None
    ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def speedup(ref_cost: float | None, our_cost: float | None) -> float | None:
    """ref/ours for costs (time); None when either side is missing or zero."""
    if not ref_cost or not our_cost:
        return None
    return ref_cost / our_cost


def catch(func: Callable[[], Any]) -> tuple[Any, str | None]:
    """Call and return (result, None) or (None, 'ExceptionName: message')."""
    try:
        return func(), None
    except Exception as err:  # the reference may raise anything
        return None, f"{type(err).__name__}: {str(err)[:80]}"
