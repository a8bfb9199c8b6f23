"""Benchmark our library against the reference (amshan 2.1.1, dsmr-parser) in one process.

Run through ``scripts/bench`` (it makes the benchmark venv). Options: ``--quick`` for fewer
repeats and smaller inputs, ``--only T1,T4`` for some rows. Prints a Markdown table of medians
with the ratio reference/ours and writes it as JSON to benchmarks/results/latest.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata

from .common import QUICK, RESULTS, Row, per_call_ns

T12_FILE = RESULTS / "t12.json"


def _steps() -> list[tuple[str, Callable[[], Row | list[Row]]]]:
    from . import decode_rows, hdlc_rows, process_rows, stream_rows

    return [
        ("T1", hdlc_rows.t1_throughput),
        ("T2", decode_rows.t2_decode_per_type),
        ("T3", decode_rows.t3_whole_frame),
        ("T4", decode_rows.t4_p1),
        ("T5", process_rows.t5_import),
        ("T6", stream_rows.t6_garbage),
        ("T7", hdlc_rows.t7_flag_flood),
        ("T8", hdlc_rows.t8_resync),
        ("T9", hdlc_rows.t9_escape_before_flag),
        ("T10", stream_rows.t10_back_to_back),
        ("T11", process_rows.t11_soak),
        ("T12", t12_row),
    ]


def t12_row() -> list[Row]:
    """T12 is measured inside Home Assistant by benchmarks/hass_loop.py (the test venv)."""
    if T12_FILE.exists():
        data = json.loads(T12_FILE.read_text())
        return [Row(**row) for row in data["rows"]]
    return [
        Row(
            "T12",
            "event-loop time per list 2 message in Home Assistant, p99",
            "ms",
            None,
            "not measured yet",
            "p99 <= 2 ms",
            None,
            note="needs the integration and .venv; see benchmarks/hass_loop.py",
        )
    ]


def fmt(value: float | str | None, unit: str) -> str:
    """A cell: numbers with sensible precision."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if unit in ("frames", "%"):
        return f"{value:.0f}" if unit == "frames" else f"{value:.1f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def table(rows: list[Row]) -> str:
    """Markdown table of the rows."""
    lines = [
        "| row | case | unit | reference | ours | ref/ours | target | met |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        met = "yes" if row.met else "n/a" if row.met is None else "**no**"
        ratio = f"{row.ratio:.1f}x" if row.ratio else "-"
        lines.append(
            f"| {row.id} | {row.case} | {row.unit} | {fmt(row.ref, row.unit)} | "
            f"{fmt(row.ours, row.unit)} | {ratio} | {row.target} | {met} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """CPU model, cores, Python and package versions."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for dist in ("amshan", "construct", "dsmr-parser", "cryptography"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "missing"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        **{f"{k} version": v for k, v in versions.items()},
    }


def _speed_index() -> str:
    """CPU ms of a fixed pure-Python loop: compares machines and runs (lower is faster)."""

    def work() -> int:
        total = 0
        for i in range(200_000):
            total += i * i % 7
        return total

    best = min(per_call_ns(work, repeats=5, min_ns=1).cpu for _ in range(3))
    return f"{best / 1e6:.1f} ms"


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    """Run the selected rows, print the table, write latest.json."""
    only: set[str] | None = None
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    rows: list[Row] = []
    started = time.perf_counter()
    load_before = _load()
    speed_before = _speed_index()
    for name, step in _steps():
        if only and name not in only:
            continue
        step_start = time.perf_counter()
        result = step()
        rows.extend(result if isinstance(result, list) else [result])
        print(f"{name} done in {time.perf_counter() - step_start:.1f} s", file=sys.stderr)
    agreement = None
    if not only or "agree" in only:
        from . import agreement as agree

        agreement = agree.check()
    info = machine()
    info["load average before / after"] = f"{load_before} / {_load()}"
    info["speed index before / after"] = f"{speed_before} / {_speed_index()}"
    lines = [table(rows), ""]
    lines.extend(f"- {row.id} {row.case}: {row.note}" for row in rows if row.note)
    if agreement is not None:
        from . import agreement as agree

        lines.extend(["", agree.summary(agreement)])
    lines.extend(["", "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items())])
    report = "\n".join(lines)
    print(report)
    out = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": QUICK,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": info,
        "ratio": "reference cost / our cost (times better)",
        "rows": [asdict(row) for row in rows],
        "agreement": agreement,
    }
    if not only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        target = RESULTS / ("latest-quick.json.tmp" if QUICK else "latest.json")
        target.write_text(json.dumps(out, indent=2, default=str) + "\n")
        target.with_suffix(".md" if not QUICK else ".md.tmp").write_text(report + "\n")
        print(f"Wrote {target.relative_to(RESULTS.parent.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
