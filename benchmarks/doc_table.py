"""Print the README's performance table from benchmarks/results/latest.json.

``python -m benchmarks.doc_table`` (any Python 3.13): rows are condensed the way
docs/readme/80-performance.md shows them (T4 and T6 as their worst case).
"""

from __future__ import annotations

import json
from typing import Any

from .bench import fmt
from .common import RESULTS

TIMES = "\N{MULTIPLICATION SIGN}"
DASH = "\N{EN DASH}"


def _ratio(value: float | None) -> str:
    if not value:
        return "—"
    return f"{value:,.0f}{TIMES}" if value >= 10 else f"{value:.1f}{TIMES}"


def _met(row: dict[str, Any]) -> str:
    return "yes" if row["met"] else "—" if row["met"] is None else "**no**"


def _line(row: dict[str, Any], what: str, ref: str, ours: str, ratio: str) -> str:
    unit = row["unit"].replace("us", "µs")
    target = row["target"].replace(">=", "≥").replace("<=", "≤").replace("us", "µs")
    return f"| {row['id']} | {what} | {unit} | {ref} | {ours} | {ratio} | {target} | {_met(row)} |"


def main() -> None:
    """Print the table and the run's machine line."""
    data = json.loads((RESULTS / "latest.json").read_text())
    rows = data["rows"]
    print("| row | what | unit | amshan 2.1.1 | ours | ref/ours | target | met |")
    print("|---|---|---|---:|---:|---:|---|---|")
    for row in rows:
        if row["id"] in ("T4", "T6"):
            continue
        what = row["case"].removeprefix("decode ")
        print(_line(row, what, fmt(row["ref"], row["unit"]), fmt(row["ours"], row["unit"]),
                    _ratio(row["ratio"])))  # fmt: skip
        if row["id"] == "T3":
            _worst(rows, "T4", "P1 readouts, worst of the real telegrams")
            _worst(rows, "T6", "garbage in 4 KiB reads, worst kind")
    print()
    for row in rows:
        if row["id"] == "T4":
            dsmr = fmt(row["extra"]["dsmr_parser_us"], "us")
            print(f"- {row['case']}: ours {fmt(row['ours'], 'us')}, reference "
                  f"{fmt(row['ref'], 'us')}, dsmr-parser {dsmr}")  # fmt: skip
    print()
    print(data["generated"], data["machine"])


def _worst(rows: list[dict[str, Any]], row_id: str, what: str) -> None:
    group = [r for r in rows if r["id"] == row_id]
    worst = max(group, key=lambda r: r["ours"])
    ratios = [r["ratio"] for r in group if r["ratio"]]
    print(
        _line(
            {**worst, "met": all(r["met"] for r in group)},
            what,
            fmt(max(r["ref"] for r in group), worst["unit"]),
            fmt(worst["ours"], worst["unit"]),
            f"{min(ratios):.1f}{DASH}{max(ratios):.1f}{TIMES}",
        )
    )


if __name__ == "__main__":
    main()
