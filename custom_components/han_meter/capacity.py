"""Hourly energy and the capacity charge of the month (no Home Assistant here).

Norway ("kapasitetsledd"): the monthly basis is the mean of the N highest hourly
energies (kWh in one clock hour = mean kW), at most one per day; the step is the
first limit of the grid company's ladder at or above the basis. Sweden
("effektavgift"): the mean of the N highest hours with no one-per-day rule,
optionally counting only weekdays 06-22 in November-March.

Feed timestamped cumulative import energy and import power (`add_reading`, or
`add_energy` and `add_power`), then read a `CapacitySnapshot`. Only complete
hours count as peaks (see `capacity_state`). `to_dict`/`from_dict` keep the
state across restarts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .capacity_model import (
    DEFAULT_STEPS,
    WINDOW_HOURS,
    WINDOW_MONTHS,
    CapacityConfig,
    CapacityMode,
    CapacitySnapshot,
    ElapsedHours,
    Headroom,
    MonthGroups,
    MonthSummary,
    Peak,
    PeriodEnergy,
    Step,
    hour_limit,
    step_for,
)
from .capacity_state import COVER_EPS, DECIMALS, HOUR, HourLedger, HourStatus, LocalClock

__all__ = [
    "DEFAULT_STEPS",
    "CapacityConfig",
    "CapacityMode",
    "CapacitySnapshot",
    "CapacityTracker",
    "Headroom",
    "MonthSummary",
    "Peak",
    "PeriodEnergy",
    "Step",
    "hour_limit",
    "step_for",
]

STATE_VERSION = 1
# The previous month's hours are kept this long into a month (its last hour's
# register arrives after midnight), then reduced to its peaks.
GRACE = 2 * HOUR
# Keys of the readings `add_reading` uses (W and Wh, see amshan/obis_map.py).
POWER_KEY = "active_power_import"
ENERGY_KEY = "active_power_import_total"
TIME_KEY = "meter_datetime"


class CapacityTracker:
    """Energy per hour, day and month and the capacity basis, from meter readings."""

    __slots__ = ("_checked", "_clock", "_elapsed", "_ledger", "_offset", "_previous", "config")

    def __init__(self, config: CapacityConfig | None = None) -> None:
        """Start empty."""
        self.config = config or CapacityConfig()
        self._clock = LocalClock(self.config.time_zone)
        self._ledger = HourLedger(self._clock, self.config.max_gap, self.config.register_snap)
        self._previous: tuple[int, list[tuple[int, float]]] | None = None
        self._checked: int | None = None
        self._offset: float | None = None  # meter clock - receive clock, seconds
        # The snapshots of an hour share what they take from the hours before it:
        # (hour, ledger revision, that part), see `_elapsed_before`.
        self._elapsed: tuple[int, int, ElapsedHours] | None = None

    @property
    def latest(self) -> datetime | None:
        """Time of the newest accepted sample (local)."""
        t = self._ledger.latest
        return None if t is None else self._clock.local(t)

    def add_power(self, when: datetime, kw: float) -> bool:
        """Add an import power sample (kW); naive `when` is local time."""
        return self._added(self._ledger.add_power(self._epoch(when), kw))

    def add_energy(self, when: datetime, kwh: float) -> bool:
        """Add a cumulative import energy register reading (kWh)."""
        return self._added(self._ledger.add_energy(self._epoch(when), kwh))

    def add_reading(self, reading: Mapping[str, Any], received: datetime) -> bool:
        """Add a decoded meter reading (W, Wh) received at `received`.

        The reading's `meter_datetime` is its time when present; a reading
        without one is placed on the meter's clock as last seen (receive time
        plus the offset of the last timestamped reading), else at `received`.
        """
        t = self._epoch(received)
        meter_time = reading.get(TIME_KEY)
        if isinstance(meter_time, datetime):
            at = self._epoch(meter_time)
            self._offset, t = at - t, at
        elif self._offset is not None:
            t += self._offset
        added = False
        if (power := _number(reading.get(POWER_KEY))) is not None:
            added = self._ledger.add_power(t, power / 1000)
        if (energy := _number(reading.get(ENERGY_KEY))) is not None:
            added = self._ledger.add_energy(t, energy / 1000) or added
        return self._added(added)

    def _epoch(self, when: datetime) -> float:
        return self._clock.to_epoch(when, self._ledger.latest)

    def _added(self, added: bool) -> bool:
        """After a new sample: reduce the previous month once GRACE into a month."""
        latest = self._ledger.latest
        if not added or latest is None:
            return added
        key = self._clock.hour_key(latest)
        if key == self._checked:
            return True
        self._checked = key
        month = self._clock.month_start(key)
        if key - month >= GRACE and self._ledger.keys_before(month):
            start = self._clock.previous_month(month)
            top = self._top(self._month(start, month))
            self._previous = (start, top) if top else None
            self._ledger.prune(month)
        return True

    def _counts(self, key: int) -> bool:
        if not self.config.uses_window:
            return True
        local = self._clock.local(key)
        return local.month in WINDOW_MONTHS and local.weekday() < 5 and local.hour in WINDOW_HOURS

    def _month(self, start: int, stop: int) -> MonthGroups:
        """Best complete counted hour of each group among the hours in [start, stop)."""
        groups: dict[int, tuple[int, float]] = {}
        incomplete = 0
        daily = self.config.mode is CapacityMode.NORWAY
        group, next_day = start, self._clock.next_day(start)
        for key in range(start, stop, HOUR):
            if not self._counts(key):
                continue
            value, status = self._ledger.hour_value(key)
            if value is None or status is not HourStatus.COMPLETE:
                incomplete += 1
                continue
            while daily and key >= next_day:
                group, next_day = next_day, self._clock.next_day(next_day)
            best = groups.get(group if daily else key)
            if best is None or value > best[1]:
                groups[group if daily else key] = (key, value)
        return MonthGroups(groups, incomplete)

    def _top(self, month: MonthGroups) -> list[tuple[int, float]]:
        ranked = sorted(month.groups.values(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[: self.config.peak_count]

    def _summary(self, start: int, top: list[tuple[int, float]]) -> MonthSummary:
        peaks = tuple(Peak(self._clock.local(k), self._clock.local(k + HOUR), v) for k, v in top)
        basis = math.fsum(v for _, v in top) / len(top) if top else None
        step = None if basis is None else step_for(basis, self.config.steps)
        return MonthSummary(self._clock.local(start), peaks, basis, step)

    def _elapsed_before(self, hour: int) -> ElapsedHours:
        """What the snapshots in `hour` take from the hours before it (O(hours) to compute).

        Kept while the ledger's revision says those hours did not change.
        """
        ledger = self._ledger
        kept = self._elapsed
        if kept is not None and kept[0] == hour and kept[1] == ledger.revision:
            return kept[2]
        elapsed = self._compute_elapsed(hour)
        if ledger.settled(hour):
            self._elapsed = (hour, ledger.revision, elapsed)
        return elapsed

    def _compute_elapsed(self, hour: int) -> ElapsedHours:
        ledger, clock = self._ledger, self._clock
        day, month = clock.day_start(hour), clock.month_start(hour)
        data = self._month(month, hour)
        previous_start = clock.previous_month(month)
        previous = None
        if ledger.keys_before(month):
            if top := self._top(self._month(previous_start, month)):
                previous = self._summary(previous_start, top)
        elif self._previous is not None and self._previous[0] == previous_start:
            previous = self._summary(*self._previous)
        return ElapsedHours(
            hour=clock.local(hour),
            day=day,
            data=data,
            current=self._summary(month, self._top(data)),
            previous=previous,
            today=(clock.local(day), *ledger.elapsed_energy(day, hour)),
            month=(clock.local(month), *ledger.elapsed_energy(month, hour)),
            in_window=self._counts(hour),
        )

    def snapshot(self, now: datetime | None = None) -> CapacitySnapshot:
        """Values at `now` (default: the newest sample, else the system clock)."""
        ledger, clock, config = self._ledger, self._clock, self.config
        if now is not None:
            t = self._epoch(now)
        else:
            t = ledger.latest if ledger.latest is not None else datetime.now(UTC).timestamp()
        hour = clock.hour_key(t)
        elapsed = self._elapsed_before(hour)

        last = ledger.last_power
        live = last is not None and 0 <= t - last[0] <= config.max_gap
        record = ledger.hours.get(hour)
        measured_to = max(hour, last[0]) if last is not None else hour
        used = round(record.energy, DECIMALS) if record else (0.0 if live else None)
        covered = record.covered if record else 0.0
        running_complete = live and covered >= measured_to - hour - COVER_EPS
        power = last[1] if live and last is not None else None
        projected = None
        if power is not None and used is not None:
            projected = used + power * (hour + HOUR - measured_to) / HOUR

        def period(start: datetime, energy: float | None, complete: bool) -> PeriodEnergy:
            if used is not None:
                energy = round((energy or 0.0) + used, DECIMALS)
            return PeriodEnergy(start, energy, complete and running_complete)

        data, current = elapsed.data, elapsed.current
        headroom = step_headroom = None
        if current.basis is not None and current.step is not None and elapsed.in_window:
            group = elapsed.day if config.mode is CapacityMode.NORWAY else hour
            own = data.groups[group][1] if group in data.groups else None
            others = [v for g, (_, v) in data.groups.items() if g != group]
            remaining = (hour + HOUR - t) / HOUR
            spent = used or 0.0

            def room(target: float) -> Headroom:
                limit = hour_limit(others, own, config.peak_count, target)
                left = max(0.0, limit - spent)
                return Headroom(limit, left, left / remaining)

            headroom = room(current.basis)
            if current.step.upper is not None:
                step_headroom = room(current.step.upper)

        return CapacitySnapshot(
            time=clock.local(t),
            hour=PeriodEnergy(elapsed.hour, used, running_complete),
            today=period(*elapsed.today),
            month=period(*elapsed.month),
            power=power,
            projected_hour=projected,
            current=current,
            headroom=headroom,
            step_headroom=step_headroom,
            in_window=elapsed.in_window,
            incomplete_hours=data.incomplete,
            previous=elapsed.previous,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (for a Home Assistant Store)."""
        previous = None
        if self._previous is not None:
            previous = {"start": self._previous[0], "peaks": [list(p) for p in self._previous[1]]}
        return {
            "version": STATE_VERSION,
            "time_zone": self.config.time_zone,
            "ledger": self._ledger.to_dict(),
            "previous": previous,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], config: CapacityConfig | None = None
    ) -> CapacityTracker:
        """Restore `to_dict` output; ValueError when unusable (other version or time zone)."""
        tracker = cls(config)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported capacity state version {data.get('version')!r}")
        if data.get("time_zone") != tracker.config.time_zone:
            raise ValueError("capacity state of another time zone")
        try:
            tracker._ledger.load(data["ledger"])
            if (previous := data["previous"]) is not None:
                peaks = [(int(k), float(v)) for k, v in previous["peaks"]]
                tracker._previous = (int(previous["start"]), peaks)
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError("malformed capacity state") from err
        return tracker


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
