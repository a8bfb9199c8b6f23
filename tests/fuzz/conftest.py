"""Prints what the fuzzers tried and found at the end of the run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .common import BASE_EXAMPLES, PROFILE, STATS

_COLUMNS = ("examples", "bytes", "valid", "invalid", "values", "rejected", "dropped", "known")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per fuzz target: examples run and what they produced."""
    if not STATS:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fuzz targets (profile {PROFILE}, base {BASE_EXAMPLES} examples)")
    width = max(len(target) for target in STATS)
    write(f"{'target'.ljust(width)}  " + "  ".join(f"{name:>9}" for name in _COLUMNS))
    for target in sorted(STATS):
        stats = STATS[target]
        write(f"{target.ljust(width)}  " + "  ".join(f"{stats[name]:>9}" for name in _COLUMNS))
    total = sum(stats["examples"] for stats in STATS.values())
    write(f"{len(STATS)} targets, {total} examples in all")
    if known := sum(stats["known"] for stats in STATS.values()):
        write(f"{known} values hit a known, reported bug (see tests/fuzz/test_known_bugs.py)")
    if report := os.environ.get("HAN_FUZZ_REPORT"):
        Path(report).write_text(
            json.dumps(
                {"profile": PROFILE, "base_examples": BASE_EXAMPLES, "targets": STATS},
                indent=1,
                sort_keys=True,
            )
            + "\n"
        )
