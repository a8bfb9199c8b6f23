"""Capacity tariff calculation: synthetic months checked against hand-computed tables.

The `Stream` below only generates input (hourly registers and power samples
from a table of hour energies); every expected value in the tables was worked
out by hand from those energies, as the comments next to them show. The last
test runs the simulator's decoded frames through the tracker and compares it
with a plain calculation from the registers in the same stream.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.capacity import (
    CapacityConfig,
    CapacityMode,
    CapacitySnapshot,
    CapacityTracker,
    Headroom,
    MonthSummary,
    Step,
    hour_limit,
    step_for,
)
from custom_components.han_meter.capacity_state import HourLedger, HourStatus, LocalClock

OSLO = ZoneInfo("Europe/Oslo")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
HOUR = timedelta(hours=1)
MIN = 1 / 60  # one minute in hours


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=2e-6)  # energies are rounded to 1e-6 kWh


# ---------------------------------------------------------------------------
# Synthetic meter


@dataclass
class Stream:
    """A meter whose hour energies are given: power = the hour's energy (kW).

    Registers are sent `delay` seconds after every hour boundary (as HAN list 3
    does), power every `step` seconds on the minute grid. `down` intervals
    (open) send nothing; `lost` boundaries send no register.
    """

    tz: ZoneInfo
    start: datetime
    end: datetime
    energies: dict[str, float]
    default: float = 1.0
    delay: int = 5
    step: int = 60
    down: list[tuple[datetime, datetime]] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)
    naive: bool = False  # feed add_reading with naive local meter_datetime

    def energy(self, hour_start: datetime) -> float:
        return self.energies.get(hour_start.astimezone(self.tz).isoformat(), self.default)

    def events(self) -> list[tuple[datetime, str, float]]:
        events: list[tuple[datetime, str, float]] = []
        t0 = self.start.astimezone(UTC)
        first_hour = t0.replace(minute=0, second=0)
        stop = self.end.astimezone(UTC)
        register = 10_000.0
        hour = first_hour
        while hour <= stop:
            local = hour.astimezone(self.tz).isoformat()
            if hour >= t0 and local not in self.lost:
                events.append((hour + timedelta(seconds=self.delay), "energy", register))
            register += self.energy(hour)
            for s in range(0, 3600, self.step):
                t = hour + timedelta(seconds=s)
                if t0 <= t <= stop:
                    events.append((t, "power", self.energy(hour)))
            hour += HOUR
        kept = [e for e in events if not any(a < e[0] < b for a, b in self.down)]
        return sorted(kept, key=lambda e: (e[0], e[1] == "energy"))

    def feeder(self, tracker: CapacityTracker) -> Callable[[datetime], None]:
        """A function feeding every event up to (and including) a time."""
        events: Iterator[tuple[datetime, str, float]] = iter(self.events())
        pending: list[tuple[datetime, str, float]] = []

        def feed(until: datetime) -> None:
            while True:
                event = pending.pop() if pending else next(events, None)
                if event is None:
                    return
                if event[0] > until:
                    pending.append(event)
                    return
                self._send(tracker, *event)

        return feed

    def _send(self, tracker: CapacityTracker, t: datetime, kind: str, value: float) -> None:
        if self.naive:
            meter_time = t.astimezone(self.tz).replace(tzinfo=None)
            key = "active_power_import" if kind == "power" else "active_power_import_total"
            assert tracker.add_reading({"meter_datetime": meter_time, key: value * 1000}, t)
        elif kind == "power":
            assert tracker.add_power(t, value)
        else:
            assert tracker.add_energy(t, value)


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def end_of(start: str, tz: ZoneInfo) -> str:
    return (iso(start) + HOUR).astimezone(tz).isoformat()


def check_summary(summary: MonthSummary, expect: tuple[Any, ...], tz: ZoneInfo) -> None:
    start, peaks, basis, step = expect
    assert summary.start.isoformat() == start
    got = [(p.start.isoformat(), p.end.isoformat(), p.energy) for p in summary.peaks]
    want = [(p[0], p[1], p[2]) if len(p) == 3 else (p[0], end_of(p[0], tz), p[1]) for p in peaks]
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert [g[2] for g in got] == [approx(w[2]) for w in want]
    assert summary.basis == (None if basis is None else approx(basis))
    assert summary.step == (None if step is None else Step(*step))


def check_headroom(got: Headroom | None, want: tuple[float, float, float] | None) -> None:
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert (got.limit, got.energy) == (approx(want[0]), approx(want[1]))
        # kW = kWh left / hours left: the 1e-6 kWh rounding grows near the hour's end
        assert got.power == pytest.approx(want[2], rel=1e-6)


def check(snap: CapacitySnapshot, row: dict[str, Any], tz: ZoneInfo) -> None:
    """Compare every field of a snapshot with a row of a hand-computed table."""
    assert snap.time.isoformat() == row["now"]
    for name in ("hour", "today", "month"):
        period = getattr(snap, name)
        start, energy, complete = row[name]
        assert (period.start.isoformat(), period.complete) == (start, complete), name
        assert period.energy == (None if energy is None else approx(energy)), name
    for name in ("power", "projected"):
        got = snap.power if name == "power" else snap.projected_hour
        assert got == (None if row[name] is None else approx(row[name])), name
    month_start = row["month"][0]
    check_summary(snap.current, (month_start, row["peaks"], row["basis"], row["step"]), tz)
    check_headroom(snap.headroom, row["headroom"])
    check_headroom(snap.step_headroom, row["step_headroom"])
    assert snap.in_window is row.get("in_window", True)
    assert snap.incomplete_hours == row["incomplete"]
    if row.get("previous") is None:
        assert snap.previous is None
    else:
        assert snap.previous is not None
        check_summary(snap.previous, row["previous"], tz)


def run_table(
    tracker: CapacityTracker, stream: Stream, table: list[dict[str, Any]]
) -> CapacityTracker:
    feed = stream.feeder(tracker)
    for row in table:
        now = iso(row["now"])
        feed(now)
        check(tracker.snapshot(now), row, stream.tz)
    return tracker


# ---------------------------------------------------------------------------
# A normal month: January 2024, Norway, default ladder, 3 daily peaks

JANUARY = {
    "2024-01-03T18:00:00+01:00": 6.0,
    "2024-01-03T19:00:00+01:00": 5.5,  # same day as 6.0: not a second peak
    "2024-01-10T08:00:00+01:00": 4.0,
    "2024-01-15T17:00:00+01:00": 7.5,
    "2024-01-20T12:00:00+01:00": 3.0,
    "2024-01-25T21:00:00+01:00": 4.5,
}  # every other hour: 1.0 kWh

JANUARY_PEAKS = [
    ("2024-01-15T17:00:00+01:00", 7.5),
    ("2024-01-03T18:00:00+01:00", 6.0),
    ("2024-01-25T21:00:00+01:00", 4.5),
]

JANUARY_TABLE: list[dict[str, Any]] = [
    {  # first half hour of the month, 1 kW
        "now": "2024-01-01T00:30:00+01:00",
        "hour": ("2024-01-01T00:00:00+01:00", 0.5, True),
        "today": ("2024-01-01T00:00:00+01:00", 0.5, True),
        "month": ("2024-01-01T00:00:00+01:00", 0.5, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [],
        "basis": None,
        "step": None,
        "headroom": None,
        "step_headroom": None,
        "incomplete": 0,
    },
    {  # 66 hours of 1 kWh elapsed, half an hour at 6 kW running
        "now": "2024-01-03T18:30:00+01:00",
        "hour": ("2024-01-03T18:00:00+01:00", 3.0, True),
        "today": ("2024-01-03T00:00:00+01:00", 18 + 3.0, True),
        "month": ("2024-01-01T00:00:00+01:00", 66 + 3.0, True),
        "power": 6.0,
        "projected": 3.0 + 6.0 * 0.5,
        "peaks": [  # three 1.0 days, earliest hour of each
            ("2024-01-01T00:00:00+01:00", 1.0),
            ("2024-01-02T00:00:00+01:00", 1.0),
            ("2024-01-03T00:00:00+01:00", 1.0),
        ],
        "basis": 1.0,
        "step": (1, 0.0, 2.0),
        # others 1, 1; own 1: limit 3*1 - 2 = 1, already 3 used
        "headroom": (1.0, 0.0, 0.0),
        # 3*2 - 2 = 4; 4 - 3 = 1 kWh in 0.5 h
        "step_headroom": (4.0, 1.0, 2.0),
        "incomplete": 0,
    },
    {  # on the hour, the register of 19:00 not yet in: 18:00 from power
        "now": "2024-01-03T19:00:00+01:00",
        "hour": ("2024-01-03T19:00:00+01:00", 0.0, True),
        # 59 min at 6 kW + 1 min trapezoid (6 + 5.5) / 2
        "today": ("2024-01-03T00:00:00+01:00", 18 + 5.9 + 5.75 * MIN, True),
        "month": ("2024-01-01T00:00:00+01:00", 66 + 5.9 + 5.75 * MIN, True),
        "power": 5.5,
        "projected": 5.5,
        "peaks": [
            ("2024-01-03T18:00:00+01:00", 5.9 + 5.75 * MIN),
            ("2024-01-01T00:00:00+01:00", 1.0),
            ("2024-01-02T00:00:00+01:00", 1.0),
        ],
        "basis": (5.9 + 5.75 * MIN + 2) / 3,
        "step": (2, 2.0, 5.0),
        # own = the 18:00 estimate; others 1, 1 -> limit = own
        "headroom": (5.9 + 5.75 * MIN, 5.9 + 5.75 * MIN, 5.9 + 5.75 * MIN),
        "step_headroom": (15 - 2.0, 13.0, 13.0),
        "incomplete": 0,
    },
    {  # 5 s later the register arrives: 18:00 is exactly 6.0
        "now": "2024-01-03T19:00:10+01:00",
        "hour": ("2024-01-03T19:00:00+01:00", 0.0, True),
        "today": ("2024-01-03T00:00:00+01:00", 24.0, True),
        "month": ("2024-01-01T00:00:00+01:00", 72.0, True),
        "power": 5.5,
        "projected": 5.5,  # measured up to 19:00:00, 5.5 kW for the hour
        "peaks": [
            ("2024-01-03T18:00:00+01:00", 6.0),
            ("2024-01-01T00:00:00+01:00", 1.0),
            ("2024-01-02T00:00:00+01:00", 1.0),
        ],
        "basis": 8 / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (6.0, 6.0, 6.0 * 3600 / 3590),
        "step_headroom": (13.0, 13.0, 13.0 * 3600 / 3590),
        "incomplete": 0,
    },
    {  # 597 hours elapsed (24 days + 21 h), extras 5 + 4.5 + 3 + 6.5 + 2 = 21
        "now": "2024-01-25T21:30:00+01:00",
        "hour": ("2024-01-25T21:00:00+01:00", 2.25, True),
        "today": ("2024-01-25T00:00:00+01:00", 21 + 2.25, True),
        "month": ("2024-01-01T00:00:00+01:00", 597 + 21 + 2.25, True),
        "power": 4.5,
        "projected": 4.5,
        "peaks": [
            ("2024-01-15T17:00:00+01:00", 7.5),
            ("2024-01-03T18:00:00+01:00", 6.0),
            ("2024-01-10T08:00:00+01:00", 4.0),
        ],
        "basis": 17.5 / 3,
        "step": (3, 5.0, 10.0),
        # 17.5 - (7.5 + 6) = 4.0; 4.0 - 2.25 = 1.75 kWh in 0.5 h
        "headroom": (4.0, 1.75, 3.5),
        # 3*10 - 13.5 = 16.5; 16.5 - 2.25 = 14.25 in 0.5 h
        "step_headroom": (16.5, 14.25, 28.5),
        "incomplete": 0,
    },
    {  # last minute of the month: 743 hours, extras 24.5, 59 min running
        "now": "2024-01-31T23:59:00+01:00",
        "hour": ("2024-01-31T23:00:00+01:00", 59 * MIN, True),
        "today": ("2024-01-31T00:00:00+01:00", 23 + 59 * MIN, True),
        "month": ("2024-01-01T00:00:00+01:00", 743 + 24.5 + 59 * MIN, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": JANUARY_PEAKS,
        "basis": 6.0,
        "step": (3, 5.0, 10.0),
        # 18 - 13.5 = 4.5 kWh; 4.5 - 59/60 left for one minute
        "headroom": (4.5, 4.5 - 59 * MIN, (4.5 - 59 * MIN) * 60),
        "step_headroom": (16.5, 16.5 - 59 * MIN, (16.5 - 59 * MIN) * 60),
        "incomplete": 0,
    },
    {  # February: the month restarts, January is the previous month
        "now": "2024-02-01T00:00:10+01:00",
        "hour": ("2024-02-01T00:00:00+01:00", 0.0, True),
        "today": ("2024-02-01T00:00:00+01:00", 0.0, True),
        "month": ("2024-02-01T00:00:00+01:00", 0.0, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [],
        "basis": None,
        "step": None,
        "headroom": None,
        "step_headroom": None,
        "incomplete": 0,
        "previous": ("2024-01-01T00:00:00+01:00", JANUARY_PEAKS, 6.0, (3, 5.0, 10.0)),
    },
    {  # after the grace period January is reduced to its peaks
        "now": "2024-02-01T03:00:00+01:00",
        "hour": ("2024-02-01T03:00:00+01:00", 0.0, True),
        "today": ("2024-02-01T00:00:00+01:00", 3.0, True),
        "month": ("2024-02-01T00:00:00+01:00", 3.0, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [("2024-02-01T00:00:00+01:00", 1.0)],
        "basis": 1.0,
        "step": (1, 0.0, 2.0),
        "headroom": (1.0, 1.0, 1.0),  # one peak so far: the hour may reach it
        "step_headroom": (2.0, 2.0, 2.0),
        "incomplete": 0,
        "previous": ("2024-01-01T00:00:00+01:00", JANUARY_PEAKS, 6.0, (3, 5.0, 10.0)),
    },
]


def test_normal_month_and_rollover() -> None:
    stream = Stream(
        OSLO, iso("2024-01-01T00:00:00+01:00"), iso("2024-02-01T03:00:00+01:00"), JANUARY
    )
    tracker = run_table(CapacityTracker(), stream, JANUARY_TABLE)
    # January's hours are gone from the stored state, its peaks are kept.
    state = tracker.to_dict()
    february = iso("2024-02-01T00:00:00+01:00").timestamp()
    assert min(k for k, *_ in state["ledger"]["hours"]) >= february
    assert min(k for k, _ in state["ledger"]["registers"]) >= february
    assert state["previous"]["peaks"] == [[iso(s).timestamp(), e] for s, e in JANUARY_PEAKS]
    restored = CapacityTracker.from_dict(json.loads(json.dumps(state)))
    assert restored.to_dict() == state
    check(restored.snapshot(iso(JANUARY_TABLE[-1]["now"])), JANUARY_TABLE[-1], OSLO)


# ---------------------------------------------------------------------------
# Daylight saving: October 2024 (25-hour day) with naive meter time


OCTOBER = {
    "2024-10-05T18:00:00+02:00": 2.5,
    "2024-10-12T10:00:00+02:00": 1.5,
    "2024-10-27T01:00:00+02:00": 2.0,
    "2024-10-27T02:00:00+02:00": 3.0,  # first 02:00 (summer time)
    "2024-10-27T02:00:00+01:00": 4.0,  # second 02:00 (winter time)
}
OCTOBER_PEAKS = [
    ("2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00", 4.0),
    ("2024-10-05T18:00:00+02:00", 2.5),
    ("2024-10-12T10:00:00+02:00", 1.5),
]
OCT = "2024-10-01T00:00:00+02:00"
OCT27 = "2024-10-27T00:00:00+02:00"

OCTOBER_TABLE: list[dict[str, Any]] = [
    {  # first 02:30: 626 hours elapsed, extras 1.5 + 0.5 + 1 = 3
        "now": "2024-10-27T02:30:00+02:00",
        "hour": ("2024-10-27T02:00:00+02:00", 1.5, True),
        "today": (OCT27, 1 + 2 + 1.5, True),
        "month": (OCT, 626 + 3 + 1.5, True),
        "power": 3.0,
        "projected": 3.0,
        "peaks": [
            ("2024-10-05T18:00:00+02:00", 2.5),
            ("2024-10-27T01:00:00+02:00", 2.0),
            ("2024-10-12T10:00:00+02:00", 1.5),
        ],
        "basis": 2.0,
        "step": (1, 0.0, 2.0),  # 2.0 is still the first step
        # own 2; 3*2 - (2.5 + 1.5) = 2; 2 - 1.5 = 0.5 in 0.5 h
        "headroom": (2.0, 0.5, 1.0),
        "step_headroom": (2.0, 0.5, 1.0),
        "incomplete": 0,
    },
    {  # second 02:30, one hour later: 627 hours, extras 3 + 2
        "now": "2024-10-27T02:30:00+01:00",
        "hour": ("2024-10-27T02:00:00+01:00", 2.0, True),
        "today": (OCT27, 1 + 2 + 3 + 2.0, True),
        "month": (OCT, 627 + 5 + 2.0, True),
        "power": 4.0,
        "projected": 4.0,
        "peaks": [
            ("2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00", 3.0),
            ("2024-10-05T18:00:00+02:00", 2.5),
            ("2024-10-12T10:00:00+02:00", 1.5),
        ],
        "basis": 7 / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (3.0, 1.0, 2.0),  # 7 - 4 = 3
        "step_headroom": (11.0, 9.0, 18.0),  # 15 - 4 = 11
        "incomplete": 0,
    },
    {  # the 25-hour day's last minute: 24 hours elapsed = 30 kWh
        "now": "2024-10-27T23:59:00+01:00",
        "hour": ("2024-10-27T23:00:00+01:00", 59 * MIN, True),
        "today": (OCT27, 30 + 59 * MIN, True),
        "month": (OCT, 648 + 8 + 59 * MIN, True),  # 26 days + 24 h, extras 8
        "power": 1.0,
        "projected": 1.0,
        "peaks": OCTOBER_PEAKS,
        "basis": 8 / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (4.0, 4.0 - 59 * MIN, (4.0 - 59 * MIN) * 60),  # 8 - 4
        "step_headroom": (11.0, 11.0 - 59 * MIN, (11.0 - 59 * MIN) * 60),
        "incomplete": 0,
    },
    {  # October has 745 hours; 744 elapsed
        "now": "2024-10-31T23:59:00+01:00",
        "hour": ("2024-10-31T23:00:00+01:00", 59 * MIN, True),
        "today": ("2024-10-31T00:00:00+01:00", 23 + 59 * MIN, True),
        "month": (OCT, 744 + 8 + 59 * MIN, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": OCTOBER_PEAKS,
        "basis": 8 / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (1.5, 1.5 - 59 * MIN, (1.5 - 59 * MIN) * 60),  # 8 - (4 + 2.5)
        "step_headroom": (8.5, 8.5 - 59 * MIN, (8.5 - 59 * MIN) * 60),  # 15 - 6.5
        "incomplete": 0,
    },
    {
        "now": "2024-11-01T00:00:20+01:00",
        "hour": ("2024-11-01T00:00:00+01:00", 0.0, True),
        "today": ("2024-11-01T00:00:00+01:00", 0.0, True),
        "month": ("2024-11-01T00:00:00+01:00", 0.0, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [],
        "basis": None,
        "step": None,
        "headroom": None,
        "step_headroom": None,
        "incomplete": 0,
        "previous": (OCT, OCTOBER_PEAKS, 8 / 3, (2, 2.0, 5.0)),
    },
]


def test_october_dst_month_with_naive_meter_time() -> None:
    stream = Stream(OSLO, iso(OCT), iso("2024-11-01T00:00:20+01:00"), OCTOBER, delay=10, naive=True)
    run_table(CapacityTracker(), stream, OCTOBER_TABLE)


# ---------------------------------------------------------------------------
# Daylight saving: March 2024 (23-hour day), 2 peaks, a custom ladder

MARCH = {
    "2024-03-15T12:00:00+01:00": 3.0,
    "2024-03-30T02:00:00+01:00": 2.0,
    "2024-03-31T03:00:00+02:00": 5.0,  # the hour after the clocks jump
}
MAR = "2024-03-01T00:00:00+01:00"
MAR31 = "2024-03-31T00:00:00+01:00"

MARCH_TABLE: list[dict[str, Any]] = [
    {  # 720 + 2 hours elapsed at 0.5, extras 1.5 + 2.5
        "now": "2024-03-31T03:30:00+02:00",
        "hour": ("2024-03-31T03:00:00+02:00", 2.5, True),
        "today": (MAR31, 1.0 + 2.5, True),
        "month": (MAR, 361 + 4 + 2.5, True),
        "power": 5.0,
        "projected": 5.0,
        "peaks": [("2024-03-15T12:00:00+01:00", 3.0), ("2024-03-30T02:00:00+01:00", 2.0)],
        "basis": 2.5,
        "step": (3, 2.0, 4.0),
        "headroom": (2.0, 0.0, 0.0),  # 2*2.5 - 3; already 2.5 used
        "step_headroom": (5.0, 2.5, 5.0),  # 2*4 - 3
        "incomplete": 0,
    },
    {  # the 23-hour day's last hour: 22 hours elapsed (21 x 0.5 + 5)
        "now": "2024-03-31T23:30:00+02:00",
        "hour": ("2024-03-31T23:00:00+02:00", 0.25, True),
        "today": (MAR31, 15.5 + 0.25, True),
        "month": (MAR, 742 * 0.5 + 8.5 + 0.25, True),
        "power": 0.5,
        "projected": 0.5,
        "peaks": [
            ("2024-03-31T03:00:00+02:00", "2024-03-31T04:00:00+02:00", 5.0),
            ("2024-03-15T12:00:00+01:00", 3.0),
        ],
        "basis": 4.0,
        "step": (3, 2.0, 4.0),  # exactly on a limit: the lower step
        "headroom": (5.0, 4.75, 9.5),  # 2*4 - 3
        "step_headroom": (5.0, 4.75, 9.5),
        "incomplete": 0,
    },
]


def test_march_dst_month_with_custom_ladder() -> None:
    config = CapacityConfig(peaks=2, steps=(1.0, 2.0, 4.0, 8.0))
    stream = Stream(OSLO, iso(MAR), iso("2024-03-31T23:30:00+02:00"), MARCH, default=0.5, delay=0)
    tracker = run_table(CapacityTracker(config), stream, MARCH_TABLE)
    # The 23-hour day has no 02:00 hour: 01:00 is followed by 03:00.
    hours = [k for k, *_ in tracker.to_dict()["ledger"]["hours"]]
    local = [datetime.fromtimestamp(k, OSLO).isoformat() for k in hours]
    at = local.index("2024-03-31T01:00:00+01:00")
    assert local[at + 1] == "2024-03-31T03:00:00+02:00"


# ---------------------------------------------------------------------------
# Gaps: February 2024 starts mid-month, a 4.5-hour outage, two lost registers

FEBRUARY = {
    "2024-02-05T04:00:00+01:00": 9.0,  # the outage hours: never peaks
    "2024-02-05T05:00:00+01:00": 9.0,
    "2024-02-05T06:00:00+01:00": 9.0,
    "2024-02-05T08:00:00+01:00": 3.0,
    "2024-02-10T15:00:00+01:00": 5.0,
    "2024-02-20T09:00:00+01:00": 4.0,
}
FEB = "2024-02-01T00:00:00+01:00"
# Hours 14 and 15 of 10 Feb from power (registers at 15:00 and 16:00 lost):
# 59 min at the hour's power + 1 min trapezoid to the next hour's.
H14 = 59 * MIN + 3 * MIN
H15 = 5 * 59 * MIN + 3 * MIN
# Partial hours: 2 Feb 10:20-11:00, 5 Feb 03:00-03:10 and 07:40-08:00, whose
# last minute is the trapezoid (1 + 3) / 2 towards 08:00's 3 kW.
PARTIALS = 40 * MIN + 10 * MIN + (19 + 2) * MIN

FEBRUARY_TABLE: list[dict[str, Any]] = [
    {  # installed at 10:20: 30 min measured out of 50
        "now": "2024-02-02T10:50:00+01:00",
        "hour": ("2024-02-02T10:00:00+01:00", 0.5, False),
        "today": ("2024-02-02T00:00:00+01:00", 0.5, False),
        "month": (FEB, 0.5, False),
        "power": 1.0,
        "projected": 0.5 + 10 * MIN,
        "peaks": [],
        "basis": None,
        "step": None,
        "headroom": None,
        "step_headroom": None,
        "incomplete": 24 + 10,  # 1 Feb and 2 Feb 00-09
    },
    {  # back after the outage 03:10-07:40
        "now": "2024-02-05T07:40:00+01:00",
        "hour": ("2024-02-05T07:00:00+01:00", 0.0, False),
        # registers 00:00-03:00 = 3, then 10 min of power in 03:00, 04-06 missing
        "today": ("2024-02-05T00:00:00+01:00", 3 + 10 * MIN, False),
        # partial 40 min, 64 complete hours (2 Feb 11:00 - 5 Feb 03:00), 10 min
        "month": (FEB, 40 * MIN + 64 + 10 * MIN, False),
        "power": 1.0,
        "projected": 20 * MIN,
        "peaks": [
            ("2024-02-02T11:00:00+01:00", 1.0),
            ("2024-02-03T00:00:00+01:00", 1.0),
            ("2024-02-04T00:00:00+01:00", 1.0),
        ],
        "basis": 1.0,
        "step": (1, 0.0, 2.0),
        "headroom": (1.0, 1.0, 3.0),  # 1 kWh in 20 minutes
        "step_headroom": (4.0, 4.0, 12.0),
        "incomplete": 34 + 1 + 4,  # + 2 Feb 10:00, 5 Feb 03-06
    },
    {  # the day's registers span the outage: today is complete again
        "now": "2024-02-05T12:30:00+01:00",
        "hour": ("2024-02-05T12:00:00+01:00", 0.5, True),
        "today": ("2024-02-05T00:00:00+01:00", 3 + 1 + 27 + 1 + 3 + 3 + 0.5, True),
        "month": (FEB, PARTIALS + 64 + 3 + 3 + 0.5, False),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [
            ("2024-02-05T08:00:00+01:00", 3.0),
            ("2024-02-02T11:00:00+01:00", 1.0),
            ("2024-02-03T00:00:00+01:00", 1.0),
        ],
        "basis": 5 / 3,
        "step": (1, 0.0, 2.0),
        "headroom": (3.0, 2.5, 5.0),  # 5 - 2 = 3
        "step_headroom": (4.0, 3.5, 7.0),  # 6 - 2 = 4
        "incomplete": 34 + 1 + 5,
    },
    {  # registers of 15:00 and 16:00 lost: 14:00 and 15:00 from power
        "now": "2024-02-10T16:00:00+01:00",
        "hour": ("2024-02-10T16:00:00+01:00", 0.0, True),
        "today": ("2024-02-10T00:00:00+01:00", 14 + H14 + H15, True),
        # 197 hours since 2 Feb 11:00, 5 of them in the outage; extras
        "month": (FEB, PARTIALS + 192 + 2 + (H14 - 1) + (H15 - 1), False),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [
            ("2024-02-10T15:00:00+01:00", H15),
            ("2024-02-05T08:00:00+01:00", 3.0),
            ("2024-02-02T11:00:00+01:00", 1.0),
        ],
        "basis": (H15 + 4) / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (H15, H15, H15),  # own = H15 -> limit = own
        "step_headroom": (11.0, 11.0, 11.0),  # 15 - 4
        "incomplete": 40,
    },
    {  # register of 17:00 arrived: the day total is exact, hour 16 from power
        "now": "2024-02-10T17:00:10+01:00",
        "hour": ("2024-02-10T17:00:00+01:00", 0.0, True),
        "today": ("2024-02-10T00:00:00+01:00", 14 + 1 + 5 + 1, True),
        "month": (FEB, PARTIALS + 192 + 2 + (H14 - 1) + (H15 - 1) + 1, False),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [
            ("2024-02-10T15:00:00+01:00", H15),
            ("2024-02-05T08:00:00+01:00", 3.0),
            ("2024-02-02T11:00:00+01:00", 1.0),
        ],
        "basis": (H15 + 4) / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (H15, H15, H15 * 3600 / 3590),
        "step_headroom": (11.0, 11.0, 11.0 * 3600 / 3590),
        "incomplete": 40,
    },
    {  # end of month: 660 hours since 2 Feb 11:00, 655 complete
        "now": "2024-02-29T23:30:00+01:00",
        "hour": ("2024-02-29T23:00:00+01:00", 0.5, True),
        "today": ("2024-02-29T00:00:00+01:00", 23.5, True),
        "month": (FEB, PARTIALS + 655 + 2 + (H14 - 1) + (H15 - 1) + 3 + 0.5, False),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [
            ("2024-02-10T15:00:00+01:00", H15),
            ("2024-02-20T09:00:00+01:00", 4.0),
            ("2024-02-05T08:00:00+01:00", 3.0),
        ],
        "basis": (H15 + 7) / 3,
        "step": (2, 2.0, 5.0),
        "headroom": (3.0, 2.5, 5.0),  # H15 + 7 - (H15 + 4)
        "step_headroom": (11 - H15, 10.5 - H15, 21 - 2 * H15),  # 15 - (H15 + 4)
        "incomplete": 40,
    },
]


def test_month_with_gaps() -> None:
    stream = Stream(
        OSLO,
        iso("2024-02-02T10:20:00+01:00"),
        iso("2024-02-29T23:30:00+01:00"),
        FEBRUARY,
        down=[(iso("2024-02-05T03:10:00+01:00"), iso("2024-02-05T07:40:00+01:00"))],
        lost={"2024-02-10T15:00:00+01:00", "2024-02-10T16:00:00+01:00"},
    )
    run_table(CapacityTracker(), stream, FEBRUARY_TABLE)


# ---------------------------------------------------------------------------
# Restart in the middle of an hour

RESTART_BASE: dict[str, Any] = {
    "today": ("2024-01-01T00:00:00+01:00", 11.0, True),
    "month": ("2024-01-01T00:00:00+01:00", 11.0, True),
    "power": 2.0,
    "peaks": [("2024-01-01T00:00:00+01:00", 1.0)],
    "basis": 1.0,
    "step": (1, 0.0, 2.0),
    "incomplete": 0,
}


@pytest.mark.parametrize(
    ("resume", "row"),
    [
        pytest.param(  # 3 minutes down: the gap is bridged
            "2024-01-01T10:23:00+01:00",
            {
                "now": "2024-01-01T10:30:00+01:00",
                "hour": ("2024-01-01T10:00:00+01:00", 1.0, True),
                "projected": 2.0,
                "headroom": (1.0, 0.0, 0.0),
                "step_headroom": (2.0, 1.0, 2.0),
            },
            id="short",
        ),
        pytest.param(  # 20 minutes down: the hour is incomplete until its register
            "2024-01-01T10:40:00+01:00",
            {
                "now": "2024-01-01T10:50:00+01:00",
                "hour": ("2024-01-01T10:00:00+01:00", 1.0, False),
                "today": ("2024-01-01T00:00:00+01:00", 11.0, False),
                "month": ("2024-01-01T00:00:00+01:00", 11.0, False),
                "projected": 1.0 + 2.0 * 10 * MIN,
                "headroom": (1.0, 0.0, 0.0),
                "step_headroom": (2.0, 1.0, 6.0),
            },
            id="long",
        ),
    ],
)
def test_restart_in_the_middle_of_an_hour(resume: str, row: dict[str, Any]) -> None:
    energies = {"2024-01-01T10:00:00+01:00": 2.0}
    stream = Stream(
        OSLO, iso("2024-01-01T00:00:00+01:00"), iso("2024-01-01T11:00:00+01:00"), energies, delay=0
    )
    events = stream.events()
    before = CapacityTracker()
    stop = iso("2024-01-01T10:20:00+01:00")
    for event in (e for e in events if e[0] <= stop):
        stream._send(before, *event)
    state = json.loads(json.dumps(before.to_dict()))
    after = CapacityTracker.from_dict(state)
    assert after.to_dict() == before.to_dict()
    assert after.snapshot() == before.snapshot()
    assert after.latest == stop

    now, end = iso(row["now"]), iso("2024-01-01T11:00:00+01:00")
    for event in (e for e in events if iso(resume) <= e[0] <= now):
        stream._send(after, *event)
    check(after.snapshot(), {**RESTART_BASE, **row}, OSLO)
    for event in (e for e in events if now < e[0] <= end):
        stream._send(after, *event)
    # The registers at 10:00 and 11:00 make the hour complete either way.
    last = {
        **RESTART_BASE,
        "now": "2024-01-01T11:00:00+01:00",
        "hour": ("2024-01-01T11:00:00+01:00", 0.0, True),
        "today": ("2024-01-01T00:00:00+01:00", 12.0, True),
        "month": ("2024-01-01T00:00:00+01:00", 12.0, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [("2024-01-01T10:00:00+01:00", 2.0)],
        "basis": 2.0,
        "headroom": (2.0, 2.0, 2.0),
        "step_headroom": (2.0, 2.0, 2.0),
    }
    check(after.snapshot(), last, OSLO)


# ---------------------------------------------------------------------------
# Sweden: highest hour, high-load window weekdays 06-22 in November-March

NOVEMBER = {
    "2024-11-01T21:00:00+01:00": 4.0,  # Friday 21-22: in the window
    "2024-11-01T22:00:00+01:00": 9.0,  # 22-23: outside
    "2024-11-02T12:00:00+01:00": 8.0,  # Saturday: outside
    "2024-11-04T05:00:00+01:00": 7.0,  # Monday 05-06: outside
    "2024-11-04T06:00:00+01:00": 3.5,  # Monday 06-07: inside
    "2024-11-05T17:00:00+01:00": 4.5,
}
NOV = "2024-11-01T00:00:00+01:00"
SWEDEN_WINDOW_TABLE: list[dict[str, Any]] = [
    {  # Saturday: outside the window, no headroom
        "now": "2024-11-02T12:30:00+01:00",
        "hour": ("2024-11-02T12:00:00+01:00", 4.0, True),
        "today": ("2024-11-02T00:00:00+01:00", 12 + 4.0, True),
        "month": (NOV, 22 + 4 + 9 + 12 + 4.0, True),
        "power": 8.0,
        "projected": 8.0,
        "peaks": [("2024-11-01T21:00:00+01:00", 4.0)],
        "basis": 4.0,
        "step": (2, 2.0, 5.0),
        "headroom": None,
        "step_headroom": None,
        "in_window": False,
        "incomplete": 0,
    },
    {  # Tuesday 17:30: 113 hours elapsed, extras 3 + 8 + 7 + 6 + 2.5
        "now": "2024-11-05T17:30:00+01:00",
        "hour": ("2024-11-05T17:00:00+01:00", 2.25, True),
        "today": ("2024-11-05T00:00:00+01:00", 17 + 2.25, True),
        "month": (NOV, 113 + 26.5 + 2.25, True),
        "power": 4.5,
        "projected": 4.5,
        "peaks": [("2024-11-01T21:00:00+01:00", 4.0)],
        "basis": 4.0,
        "step": (2, 2.0, 5.0),
        "headroom": (4.0, 1.75, 3.5),
        "step_headroom": (5.0, 2.75, 5.5),
        "incomplete": 0,
    },
    {
        "now": "2024-11-05T18:00:10+01:00",
        "hour": ("2024-11-05T18:00:00+01:00", 0.0, True),
        "today": ("2024-11-05T00:00:00+01:00", 17 + 4.5, True),
        "month": (NOV, 113 + 26.5 + 4.5, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [("2024-11-05T17:00:00+01:00", 4.5)],
        "basis": 4.5,
        "step": (2, 2.0, 5.0),
        "headroom": (4.5, 4.5, 4.5 * 3600 / 3590),
        "step_headroom": (5.0, 5.0, 5.0 * 3600 / 3590),
        "incomplete": 0,
    },
]


def test_sweden_highest_hour_in_window() -> None:
    config = CapacityConfig(time_zone="Europe/Stockholm", mode=CapacityMode.SWEDEN, window=True)
    assert config.peak_count == 1
    stream = Stream(STOCKHOLM, iso(NOV), iso("2024-11-05T18:00:10+01:00"), NOVEMBER)
    run_table(CapacityTracker(config), stream, SWEDEN_WINDOW_TABLE)


NOV3: dict[str, Any] = {
    "now": "2024-11-03T12:00:00+01:00",
    "hour": ("2024-11-03T12:00:00+01:00", 0.0, True),
    "today": ("2024-11-03T00:00:00+01:00", 12.0, True),
    "month": (NOV, 35 + 31 + 12.0, True),
    "power": 1.0,
    "projected": 1.0,
    "incomplete": 0,
}


@pytest.mark.parametrize(
    ("config", "row"),
    [
        pytest.param(  # three highest hours, two of them on 1 November
            CapacityConfig(time_zone="Europe/Stockholm", mode=CapacityMode.SWEDEN, peaks=3),
            {
                "peaks": [
                    ("2024-11-01T22:00:00+01:00", 9.0),
                    ("2024-11-02T12:00:00+01:00", 8.0),
                    ("2024-11-01T21:00:00+01:00", 4.0),
                ],
                "basis": 7.0,
                "step": (3, 5.0, 10.0),
                "headroom": (4.0, 4.0, 4.0),  # 21 - 17
                "step_headroom": (13.0, 13.0, 13.0),  # 30 - 17
            },
            id="sweden-top3",
        ),
        pytest.param(  # the same data with one peak per day
            CapacityConfig(time_zone="Europe/Stockholm", window=True),  # window: Sweden only
            {
                "peaks": [
                    ("2024-11-01T22:00:00+01:00", 9.0),
                    ("2024-11-02T12:00:00+01:00", 8.0),
                    ("2024-11-03T00:00:00+01:00", 1.0),
                ],
                "basis": 6.0,
                "step": (3, 5.0, 10.0),
                "headroom": (1.0, 1.0, 1.0),  # own day's 1.0: 18 - 17
                "step_headroom": (13.0, 13.0, 13.0),
            },
            id="norway",
        ),
    ],
)
def test_one_peak_per_day_or_not(config: CapacityConfig, row: dict[str, Any]) -> None:
    stream = Stream(STOCKHOLM, iso(NOV), iso(NOV3["now"]), NOVEMBER)
    run_table(CapacityTracker(config), stream, [{**NOV3, **row}])


def test_sweden_window_outside_winter() -> None:
    config = CapacityConfig(time_zone="Europe/Stockholm", mode=CapacityMode.SWEDEN, window=True)
    start = "2024-04-01T00:00:00+02:00"  # a Monday
    stream = Stream(STOCKHOLM, iso(start), iso("2024-04-01T10:00:00+02:00"), {}, default=5.0)
    row = {
        "now": "2024-04-01T10:00:00+02:00",
        "hour": ("2024-04-01T10:00:00+02:00", 0.0, True),
        "today": (start, 50.0, True),
        "month": (start, 50.0, True),
        "power": 5.0,
        "projected": 5.0,
        "peaks": [],
        "basis": None,
        "step": None,
        "headroom": None,
        "step_headroom": None,
        "in_window": False,
        "incomplete": 0,
    }
    run_table(CapacityTracker(config), stream, [row])


# ---------------------------------------------------------------------------
# The headroom rule against brute force


def brute_basis(others: list[float], own: float | None, x: float, peaks: int) -> float:
    mine = x if own is None else max(own, x)
    values = sorted([*others, mine], reverse=True)[:peaks]
    return sum(values) / len(values)


@settings(max_examples=300, deadline=None)
@given(
    others=st.lists(st.integers(0, 80).map(lambda v: v / 4), max_size=8),
    own=st.none() | st.integers(0, 80).map(lambda v: v / 4),
    peaks=st.integers(1, 4),
    extra=st.integers(0, 40).map(lambda v: v / 4),
)
def test_hour_limit_is_the_largest_energy_keeping_the_target(
    others: list[float], own: float | None, peaks: int, extra: float
) -> None:
    current = [*others] if own is None else [*others, own]
    if not current:
        return
    top = sorted(current, reverse=True)[:peaks]
    target = sum(top) / len(top) + extra
    limit = hour_limit(others, own, peaks, target)
    assert brute_basis(others, own, limit, peaks) <= target + 1e-9
    assert brute_basis(others, own, limit + 0.01, peaks) > target
    assert limit >= (own or 0.0)


# ---------------------------------------------------------------------------
# Units


@pytest.mark.parametrize(
    ("basis", "step"),
    [
        (0.0, Step(1, 0.0, 2.0)),
        (2.0, Step(1, 0.0, 2.0)),
        (2.001, Step(2, 2.0, 5.0)),
        (25.0, Step(6, 20.0, 25.0)),
        (100.0, Step(9, 75.0, 100.0)),
        (100.5, Step(10, 100.0, None)),
    ],
)
def test_step_for(basis: float, step: Step) -> None:
    assert step_for(basis, CapacityConfig().steps) == step


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_zone": "Mars/Olympus_Mons"},
        {"time_zone": "../etc"},
        {"steps": ()},
        {"steps": (2.0, 2.0)},
        {"steps": (5.0, 2.0)},
        {"steps": (0.0, 2.0)},
        {"steps": (2.0, math.inf)},
        {"steps": (2.0, math.nan)},
        {"peaks": 0},
        {"max_gap": 0},
        {"max_gap": 3601},
        {"register_snap": -1},
        {"register_snap": 1800},
    ],
)
def test_config_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        CapacityConfig(**kwargs)


def test_basis_above_the_last_step() -> None:
    tracker = CapacityTracker(CapacityConfig(steps=(2.0, 5.0)))
    t = iso("2024-01-01T10:00:00+01:00")
    for hour, register in enumerate((0.0, 6.0, 6.5)):
        tracker.add_energy(t + hour * HOUR, register)
    tracker.add_power(t + 2 * HOUR, 0.0)
    snap = tracker.snapshot()
    assert snap.current.basis == 6.0  # hour 11:00 is 0.5 on the same day
    assert snap.current.step == Step(3, 5.0, None)
    check_headroom(snap.headroom, (6.0, 6.0, 6.0))
    assert snap.step_headroom is None


def test_config_defaults() -> None:
    config = CapacityConfig()
    assert config.steps == (2, 5, 10, 15, 20, 25, 50, 75, 100)
    assert (config.peak_count, config.uses_window) == (3, False)
    assert CapacityConfig(peaks=5, mode=CapacityMode.SWEDEN).peak_count == 5
    assert CapacityConfig(mode=CapacityMode.SWEDEN, window=True).uses_window


def test_empty_tracker() -> None:
    tracker = CapacityTracker()
    assert tracker.latest is None
    snap = tracker.snapshot()  # the system clock
    assert (snap.hour.energy, snap.today.energy, snap.month.energy) == (None, None, None)
    assert not snap.hour.complete
    assert (snap.power, snap.projected_hour, snap.headroom, snap.previous) == (None,) * 4
    assert snap.current.basis is None
    assert snap.incomplete_hours >= 0
    restored = CapacityTracker.from_dict(tracker.to_dict())
    assert restored.to_dict() == tracker.to_dict()


def test_invalid_and_out_of_order_samples_are_ignored() -> None:
    tracker = CapacityTracker()
    t = iso("2024-01-01T10:00:00+01:00")
    assert not tracker.add_power(t, math.nan)
    assert not tracker.add_power(t, -1.0)
    assert not tracker.add_energy(t, math.inf)
    assert not tracker.add_energy(t, -5.0)
    assert tracker.latest is None
    assert tracker.add_power(t, 1.0)
    assert not tracker.add_power(t, 2.0)  # same time
    assert not tracker.add_power(t - HOUR, 2.0)
    assert tracker.add_energy(t, 100.0)
    assert not tracker.add_energy(t - timedelta(seconds=1), 99.0)
    assert tracker.latest == t
    assert tracker.latest is not None
    assert tracker.latest.tzinfo == OSLO


def test_stale_power_gives_no_power_and_no_projection() -> None:
    tracker = CapacityTracker()
    t = iso("2024-01-01T10:00:00+01:00")
    for minute in range(11):
        tracker.add_power(t + timedelta(minutes=minute), 2.0)
    snap = tracker.snapshot(t + timedelta(minutes=20))  # 10 min after the last sample
    assert snap.hour.energy == approx(2.0 * 10 * MIN)
    assert not snap.hour.complete
    assert (snap.power, snap.projected_hour) == (None, None)
    # An hour without any sample: nothing known.
    later = tracker.snapshot(t + timedelta(hours=2, minutes=10))
    assert (later.hour.energy, later.hour.complete) == (None, False)
    assert later.today.energy == approx(2.0 * 10 * MIN)
    assert later.incomplete_hours == 12  # 00:00-09:00 and 11:00 missing, 10:00 partial


def test_power_gap_longer_than_max_gap_is_not_integrated() -> None:
    tracker = CapacityTracker(CapacityConfig(max_gap=120))
    t = iso("2024-01-01T10:00:00+01:00")
    tracker.add_power(t, 3.0)
    tracker.add_power(t + timedelta(minutes=2), 3.0)  # bridged: 0.1 kWh
    tracker.add_power(t + timedelta(minutes=5), 3.0)  # 3 min gap: not bridged
    snap = tracker.snapshot()
    assert snap.hour.energy == approx(0.1)
    assert not snap.hour.complete


def test_register_interpolated_across_the_boundary_p1_style() -> None:
    clock = LocalClock("Europe/Oslo")
    ledger = HourLedger(clock, max_gap=300, register_snap=60)
    boundary = iso("2024-01-01T10:00:00+01:00").timestamp()
    assert ledger.add_energy(boundary - 5, 100.0)  # 09:59:55: snapped to 10:00
    assert ledger.registers[int(boundary)] == 100.0
    assert int(boundary) in ledger.snapped
    assert ledger.add_energy(boundary + 5, 100.1)  # 10:00:05: interpolated over it
    assert ledger.registers[int(boundary)] == approx(100.05)
    assert int(boundary) not in ledger.snapped
    assert ledger.add_energy(boundary + 15, 100.2)  # near the boundary, already known
    assert ledger.registers[int(boundary)] == approx(100.05)
    # Far from any boundary and too far from the previous reading: no register.
    assert ledger.add_energy(boundary + 1800, 101.0)
    assert sorted(ledger.registers) == [int(boundary)]


def test_register_going_backwards_is_not_an_hour() -> None:
    tracker = CapacityTracker()
    t = iso("2024-01-01T10:00:00+01:00")
    tracker.add_energy(t, 500.0)
    tracker.add_energy(t + HOUR, 2.0)  # meter replaced
    tracker.add_energy(t + 2 * HOUR, 3.5)
    snap = tracker.snapshot(t + 2 * HOUR)
    assert [(p.start.isoformat(), p.energy) for p in snap.current.peaks] == [
        ("2024-01-01T11:00:00+01:00", 1.5)
    ]
    assert snap.today.energy == approx(1.5)  # from the hours, not 3.5 - 500
    assert not snap.today.complete


def test_register_interpolation_needs_a_rising_register() -> None:
    clock = LocalClock("Europe/Oslo")
    ledger = HourLedger(clock, max_gap=300, register_snap=0)
    boundary = iso("2024-01-01T10:00:00+01:00").timestamp()
    ledger.add_energy(boundary - 5, 100.0)
    ledger.add_energy(boundary + 5, 99.0)
    assert ledger.registers == {}
    assert ledger.hour_value(int(boundary)) == (None, HourStatus.MISSING)


def test_half_hour_time_zone() -> None:
    tracker = CapacityTracker(CapacityConfig(time_zone="Asia/Kolkata"))
    start = iso("2024-01-01T10:00:00+05:30")
    for minute in range(121):
        tracker.add_power(start + timedelta(minutes=minute), 2.0 if minute < 60 else 1.0)
    snap = tracker.snapshot()
    assert snap.hour.start.isoformat() == "2024-01-01T12:00:00+05:30"
    assert [(p.start.isoformat(), p.end.isoformat()) for p in snap.current.peaks] == [
        ("2024-01-01T10:00:00+05:30", "2024-01-01T11:00:00+05:30")
    ]
    assert snap.current.peaks[0].energy == approx(2.0 * 59 * MIN + 1.5 * MIN)


def test_naive_times() -> None:
    clock = LocalClock("Europe/Oslo")
    # Outside a transition a naive time is simply local time.
    assert (
        clock.to_epoch(datetime(2024, 1, 1, 12), None)
        == iso("2024-01-01T12:00:00+01:00").timestamp()
    )
    # The repeated hour: nearest to the latest instant seen.
    first = iso("2024-10-27T02:30:00+02:00").timestamp()
    second = iso("2024-10-27T02:30:00+01:00").timestamp()
    naive = datetime(2024, 10, 27, 2, 30)
    assert clock.to_epoch(naive, None) == first
    assert clock.to_epoch(naive, first - 60) == first
    assert clock.to_epoch(naive, second - 60) == second
    # A time that does not exist (the skipped hour) is read with the old offset.
    assert (
        clock.to_epoch(datetime(2024, 3, 31, 2, 30), None)
        == iso("2024-03-31T02:30:00+01:00").timestamp()
    )


def test_add_reading_units_and_clock() -> None:
    tracker = CapacityTracker()
    received = iso("2024-01-01T10:00:30+01:00")
    # No meter time seen yet: the receive time.
    assert tracker.add_reading({"active_power_import": 1500}, received)
    assert tracker.latest == received
    # A timestamped reading sets the meter clock (here 20 s behind).
    reading = {"meter_datetime": datetime(2024, 1, 1, 10, 0, 20), "active_power_import": 1500}
    assert not tracker.add_reading(reading, received + timedelta(seconds=10))  # not newer
    reading["meter_datetime"] = datetime(2024, 1, 1, 10, 0, 40)
    assert tracker.add_reading(reading, received + timedelta(seconds=30))
    # Untimestamped readings follow the meter clock: received - 20 s.
    assert tracker.add_reading(
        {"active_power_import": 1500, "active_power_import_total": 1_234_500},
        received + timedelta(seconds=70),
    )
    assert tracker.latest == iso("2024-01-01T10:01:20+01:00")
    assert tracker.snapshot().hour.energy == approx(1.5 * 50 / 3600)
    state = tracker.to_dict()["ledger"]
    assert state["last_register"] == [iso("2024-01-01T10:01:20+01:00").timestamp(), 1234.5]
    # Nothing usable in a reading.
    assert not tracker.add_reading({"active_power_import": True, "voltage_l1": 230}, received)
    assert not tracker.add_reading({}, received + HOUR)


def test_month_skipped_entirely() -> None:
    tracker = CapacityTracker()
    t = iso("2024-01-15T12:00:00+01:00")
    tracker.add_energy(t, 10.0)
    tracker.add_energy(t + HOUR, 12.0)
    # Nothing in February; data again on 1 March.
    march = iso("2024-03-01T00:30:00+01:00")
    tracker.add_power(march, 1.0)
    assert tracker.snapshot().previous is None  # no complete hour in February
    tracker.add_power(march + 3 * HOUR, 1.0)  # past the grace period: January dropped
    assert tracker.to_dict()["ledger"]["registers"] == []
    assert tracker.to_dict()["previous"] is None
    assert tracker.snapshot().previous is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.update(version=2), "version"),
        (lambda s: s.update(time_zone="Europe/Stockholm"), "time zone"),
        (lambda s: s.pop("ledger"), "malformed"),
        (lambda s: s["ledger"].update(hours=[[1, 2]]), "malformed"),
        (lambda s: s["ledger"].update(last_power=[1, 2, 3]), "malformed"),
        (lambda s: s.update(previous={"start": 0}), "malformed"),
        (lambda s: s.update(previous={"start": 0, "peaks": [["x", 1]]}), "malformed"),
    ],
)
def test_from_dict_refuses_unusable_state(
    mutate: Callable[[dict[str, Any]], Any], message: str
) -> None:
    tracker = CapacityTracker()
    tracker.add_power(iso("2024-01-01T10:00:00+01:00"), 1.0)
    state = json.loads(json.dumps(tracker.to_dict()))
    mutate(state)
    with pytest.raises(ValueError, match=message):
        CapacityTracker.from_dict(state)


# ---------------------------------------------------------------------------
# The simulator's stream, decoded, against an independent calculation


def test_simulated_kamstrup_stream_across_the_clock_change() -> None:
    """Kamstrup frames carry naive local time; the repeated hour must stay apart."""
    from custom_components.han_meter.amshan.autodecoder import AutoDecoder
    from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
    from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig

    start = iso("2024-10-27T00:00:00+02:00")
    simulator = MeterSimulator(SimulatorConfig(meter="kamstrup", start=start, seed=7))
    decoder, reader, tracker = AutoDecoder(), HdlcFrameReader(), CapacityTracker()
    registers: list[tuple[float, float]] = []  # (UTC time of list 3, kWh) as sent
    for index in range(6 * 360 + 1):  # 00:00 to 05:00 (six hours), every 10 s
        when = datetime.fromtimestamp(start.timestamp() + 10 * index, OSLO)
        (frame,) = reader.read(simulator.message_at(when).data)
        reading = decoder.decode_message(frame)
        assert reading is not None
        assert reading["meter_datetime"].tzinfo is None  # naive wall time
        assert tracker.add_reading(reading, when.astimezone(UTC))
        if "active_power_import_total" in reading:
            registers.append((when.timestamp(), reading["active_power_import_total"] / 1000))

    # Independent: hour energies are differences of consecutive hourly registers.
    assert len(registers) == 7  # 00, 01, 02 (summer), 02 (winter), 03, 04, 05
    hours = [
        (datetime.fromtimestamp(t0, OSLO).isoformat(), r1 - r0)
        for (t0, r0), (_, r1) in pairwise(registers)
    ]
    assert [h for h, _ in hours] == [
        "2024-10-27T00:00:00+02:00",
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T03:00:00+01:00",
        "2024-10-27T04:00:00+01:00",
    ]
    best = max(hours, key=lambda h: h[1])
    snap = tracker.snapshot()
    assert snap.hour.start.isoformat() == "2024-10-27T05:00:00+01:00"
    assert [(p.start.isoformat(), p.energy) for p in snap.current.peaks] == [
        (best[0], approx(best[1]))
    ]
    assert snap.today.energy == approx(sum(e for _, e in hours))
    assert snap.today.complete


HA_FREE_SCRIPT = """
import importlib.machinery, importlib.util, sys
sys.path[:] = [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
# The package's __init__ is the Home Assistant integration: bypass it.
spec = importlib.machinery.ModuleSpec("hm", None, is_package=True)
package = importlib.util.module_from_spec(spec)
package.__path__ = [{package_dir!r}]
sys.modules["hm"] = package
before = set(sys.modules)  # (coverage may already be loaded into this process)
from datetime import datetime, timezone
from hm.capacity import CapacityTracker
tracker = CapacityTracker()
tracker.add_energy(datetime(2024, 1, 1, 9, tzinfo=timezone.utc), 10.0)
tracker.add_energy(datetime(2024, 1, 1, 10, tzinfo=timezone.utc), 12.5)
assert tracker.snapshot().current.basis == 2.5
new = [sys.modules[name] for name in set(sys.modules) - before]
files = [getattr(module, "__file__", None) or "" for module in new]
assert not [f for f in files if "site-packages" in f], files
assert "homeassistant" not in sys.modules
print("ok")
"""


def test_capacity_runs_on_the_standard_library_alone() -> None:
    import subprocess
    import sys
    from pathlib import Path

    package_dir = Path(__file__).parents[2] / "custom_components" / "han_meter"
    result = subprocess.run(
        [sys.executable, "-I", "-c", HA_FREE_SCRIPT.format(package_dir=str(package_dir))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
