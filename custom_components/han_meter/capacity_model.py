"""Settings and results of the capacity calculation (no Home Assistant here).

`CapacityConfig` holds the tariff rules; `CapacitySnapshot` and its parts are
what `CapacityTracker` (capacity.py) reports. `hour_limit` is the headroom rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from .capacity_state import HOUR, LocalClock

DEFAULT_STEPS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
WINDOW_MONTHS = frozenset({11, 12, 1, 2, 3})
WINDOW_HOURS = range(6, 22)


class CapacityMode(StrEnum):
    """Which rule sets the monthly basis."""

    NORWAY = "norway"  # top N daily peaks, one per day
    SWEDEN = "sweden"  # top N hours, optionally within the high-load window


@dataclass(slots=True, frozen=True)
class CapacityConfig:
    """Tariff rules and measurement settings."""

    time_zone: str = "Europe/Oslo"
    steps: tuple[float, ...] = DEFAULT_STEPS  # upper limits (kW) of the steps
    peaks: int | None = None  # hours averaged; None: 3 in Norway, 1 in Sweden
    mode: CapacityMode = CapacityMode.NORWAY
    window: bool = False  # Sweden only: weekdays 06-22 in November-March
    max_gap: float = 300.0  # seconds; longer gaps between power samples are not integrated
    register_snap: float = 60.0  # seconds; see HourLedger.add_energy

    def __post_init__(self) -> None:
        """Refuse settings that make no sense (ValueError)."""
        LocalClock(self.time_zone)
        limits = self.steps
        if not limits or any(not (0 < x < math.inf) for x in limits):
            raise ValueError("steps must be positive finite limits")
        if any(b <= a for a, b in pairwise(limits)):
            raise ValueError("steps must increase")
        if self.peaks is not None and self.peaks < 1:
            raise ValueError("peaks must be at least 1")
        if not 0 < self.max_gap <= HOUR:
            raise ValueError("max_gap must be in (0, 3600] seconds")
        if not 0 <= self.register_snap < HOUR / 2:
            raise ValueError("register_snap must be in [0, 1800) seconds")

    @property
    def peak_count(self) -> int:
        """Number of peaks averaged."""
        if self.peaks is not None:
            return self.peaks
        return 3 if self.mode is CapacityMode.NORWAY else 1

    @property
    def uses_window(self) -> bool:
        """Whether only hours in the Swedish high-load window count."""
        return self.window and self.mode is CapacityMode.SWEDEN


@dataclass(slots=True, frozen=True)
class Step:
    """A step of the ladder: basis in (lower, upper]; upper None above the last limit."""

    index: int  # 1 for the lowest step
    lower: float
    upper: float | None


@dataclass(slots=True, frozen=True)
class Peak:
    """A counted hour: local start and end, and its energy (kWh = mean kW)."""

    start: datetime
    end: datetime
    energy: float


@dataclass(slots=True, frozen=True)
class PeriodEnergy:
    """Import energy since `start` (local); complete when no part of it lacks data."""

    start: datetime
    energy: float | None
    complete: bool


@dataclass(slots=True, frozen=True)
class Headroom:
    """What the running hour may still use without exceeding a limit on the basis."""

    limit: float  # kWh the whole hour may reach
    energy: float  # kWh left this hour (never negative)
    power: float  # kW that uses `energy` up by the end of the hour


@dataclass(slots=True, frozen=True)
class MonthSummary:
    """Counted peaks of a month, their mean (kW) and its step."""

    start: datetime
    peaks: tuple[Peak, ...]
    basis: float | None
    step: Step | None


@dataclass(slots=True, frozen=True)
class CapacitySnapshot:
    """Everything the sensors show, at one instant."""

    time: datetime
    hour: PeriodEnergy
    today: PeriodEnergy
    month: PeriodEnergy
    power: float | None  # kW, latest sample if at most max_gap old
    projected_hour: float | None  # kWh: used so far + power x rest of the hour
    current: MonthSummary  # this month, elapsed complete hours only
    headroom: Headroom | None  # keeps the basis where it is
    step_headroom: Headroom | None  # keeps the basis within the current step
    in_window: bool  # the running hour counts towards the basis
    incomplete_hours: int  # counted elapsed hours of the month that are not complete
    previous: MonthSummary | None


@dataclass(slots=True)
class MonthGroups:
    """A month's complete hours so far, by group (a day in Norway, an hour in Sweden)."""

    groups: dict[int, tuple[int, float]]  # group -> (hour key, kWh) of its best complete hour
    incomplete: int


@dataclass(slots=True, frozen=True)
class ElapsedHours:
    """What the snapshots during one hour take from the hours before it."""

    hour: datetime  # local start of the hour
    day: int
    data: MonthGroups  # the month so far
    current: MonthSummary
    previous: MonthSummary | None
    today: tuple[datetime, float | None, bool]  # local start, energy so far, all known
    month: tuple[datetime, float | None, bool]
    in_window: bool


def step_for(basis: float, steps: tuple[float, ...]) -> Step:
    """The step whose range (lower, upper] contains `basis`."""
    lower = 0.0
    for index, limit in enumerate(steps, start=1):
        if basis <= limit + 1e-9:
            return Step(index, lower, limit)
        lower = limit
    return Step(len(steps) + 1, lower, None)


def hour_limit(others: list[float], own: float | None, peaks: int, target: float) -> float:
    """Largest energy the running hour may reach with the basis still <= `target`.

    `others` are the candidates of the other groups (days in Norway, hours in
    Sweden), `own` the best elapsed hour of the running hour's group. The basis
    as a function of the running hour is non-decreasing; past the point where
    the hour enters the top `peaks` it is (sum of the k-1 best others + x) / k.
    `target` must not be below the current basis.
    """
    k = min(peaks, len(others) + 1)
    best = sorted(others, reverse=True)[: k - 1]
    return max(target * k - math.fsum(best), own or 0.0)
