"""Energy per local clock hour, from cumulative registers and integrated power.

The bookkeeping behind `capacity.py`; standard library only (no Home Assistant).
Times are POSIX seconds; an hour is keyed by the POSIX time at which its local
clock hour starts, so the two 02:00 hours of a 25-hour day are distinct and a
23-hour day has no 02:00 hour. Time zones must have whole-hour (or fixed
half-hour) offsets and whole-hour daylight-saving shifts.

An elapsed hour is *complete* when the import register is known at both of its
boundaries, or when power samples cover all of it without a gap longer than
`max_gap`; it is *partial* when power samples cover only part of it (the value
is a lower bound), and *missing* when nothing is known. Missing is never zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

HOUR = 3600
# Seconds of an hour that may lack power samples when it still counts as complete.
COVER_EPS = 1.0
# Energies are rounded to this many decimals of a kWh (registers count whole Wh),
# so that float noise neither breaks ties between hours nor shows up in sensors.
DECIMALS = 6


class HourStatus(StrEnum):
    """How well an hour's energy is known."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    MISSING = "missing"


@dataclass(slots=True)
class HourRecord:
    """Power integrated within one hour."""

    energy: float = 0.0  # kWh
    covered: float = 0.0  # seconds of the hour between samples at most max_gap apart


class LocalClock:
    """Local clock hours, days and months of one time zone, as POSIX keys."""

    __slots__ = ("_cache", "tz")

    def __init__(self, time_zone: str) -> None:
        """Use the IANA time zone `time_zone` (ValueError when unknown)."""
        try:
            self.tz = ZoneInfo(time_zone)
        except (ValueError, KeyError) as err:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {time_zone!r}") from err
        self._cache: int | None = None  # hour key of the last lookup

    def hour_key(self, t: float) -> int:
        """Start of the local clock hour containing instant `t`."""
        key = self._cache
        if key is not None and key <= t < key + HOUR:
            return key
        local = datetime.fromtimestamp(t, self.tz)
        key = int(local.replace(minute=0, second=0, microsecond=0).timestamp())
        self._cache = key
        return key

    def local(self, t: float) -> datetime:
        """Instant `t` as an aware local datetime."""
        return datetime.fromtimestamp(t, self.tz)

    def _midnight(self, day: date) -> int:
        return self.hour_key(datetime.combine(day, time(0), tzinfo=self.tz).timestamp())

    def day_start(self, t: float) -> int:
        """Start of the local day containing `t`."""
        return self._midnight(self.local(t).date())

    def next_day(self, day_start: int) -> int:
        """Start of the local day after the one starting at `day_start`."""
        return self._midnight(self.local(day_start).date() + timedelta(days=1))

    def month_start(self, t: float) -> int:
        """Start of the local calendar month containing `t`."""
        return self._midnight(self.local(t).date().replace(day=1))

    def previous_month(self, month_start: int) -> int:
        """Start of the month before the one starting at `month_start`."""
        return self.month_start(month_start - 1)

    def to_epoch(self, when: datetime, near: float | None) -> float:
        """POSIX time of `when`; a naive `when` is local wall time.

        A naive time in the repeated hour when the clocks go back is ambiguous:
        the reading nearest to `near` (the latest instant seen) wins.
        """
        if when.tzinfo is not None:
            return when.timestamp()
        first = when.replace(tzinfo=self.tz, fold=0).timestamp()
        second = when.replace(tzinfo=self.tz, fold=1).timestamp()
        if second > first and near is not None and abs(second - near) < abs(first - near):
            return second
        return first


class HourLedger:
    """Register values at hour boundaries and power integrated per hour."""

    __slots__ = (
        "clock",
        "hours",
        "last_power",
        "last_register",
        "latest",
        "max_gap",
        "register_snap",
        "registers",
        "revision",
        "snapped",
    )

    def __init__(self, clock: LocalClock, max_gap: float, register_snap: float) -> None:
        """Integrate power across gaps up to `max_gap` seconds; see `add_energy` for the snap."""
        self.clock = clock
        self.max_gap = max_gap
        self.register_snap = register_snap
        self.hours: dict[int, HourRecord] = {}
        self.registers: dict[int, float] = {}  # kWh at the start of the hour keyed
        self.snapped: set[int] = set()  # registers taken from a reading near the boundary
        self.last_power: tuple[float, float] | None = None  # (t, kW)
        self.last_register: tuple[float, float] | None = None  # (t, kWh)
        self.latest: float | None = None
        # Changes whenever an elapsed hour (one that ended by `latest`) may have
        # changed: results about elapsed hours can be kept until it does.
        self.revision = 0

    def settled(self, stop: int) -> bool:
        """Whether the hours before `stop` change only with `revision`."""
        return self.latest is not None and stop <= self.clock.hour_key(self.latest)

    def _seen(self, t: float) -> None:
        if self.latest is None or t > self.latest:
            self.latest = t

    def add_power(self, t: float, kw: float) -> bool:
        """Add an import power sample; False when ignored (invalid, not newer)."""
        if not (math.isfinite(t) and math.isfinite(kw)) or kw < 0:
            return False
        last = self.last_power
        if last is not None:
            if t <= last[0]:
                return False
            if t - last[0] <= self.max_gap:
                self._integrate(last[0], last[1], t, kw)
        self.last_power = (t, kw)
        self._seen(t)
        return True

    def _integrate(self, t0: float, p0: float, t1: float, p1: float) -> None:
        """Trapezoid between two samples, split at local hour boundaries."""
        slope = (p1 - p0) / (t1 - t0)
        newest = t1 if self.latest is None else max(t1, self.latest)
        start = t0
        while start < t1:
            key = self.clock.hour_key(start)
            end = min(t1, key + HOUR)
            if key + HOUR <= newest:
                self.revision += 1
            mean = p0 + slope * ((start + end) / 2 - t0)
            record = self.hours.get(key)
            if record is None:
                record = self.hours[key] = HourRecord()
            record.energy += mean * (end - start) / HOUR
            record.covered += end - start
            start = end

    def add_energy(self, t: float, kwh: float) -> bool:
        """Add a cumulative import register reading; False when ignored.

        The register at a boundary is interpolated from the readings on either
        side when they are at most `max_gap` apart (exact when a reading is on
        the boundary); otherwise a reading within `register_snap` seconds of a
        boundary is taken as the boundary value (hourly HAN lists send the
        register a few seconds after the hour).
        """
        if not (math.isfinite(t) and math.isfinite(kwh)) or kwh < 0:
            return False
        last = self.last_register
        if last is not None and t <= last[0]:
            return False
        key = self.clock.hour_key(t)
        if t == key:
            self._set_register(key, kwh, precise=True)
        elif last is not None and last[0] < key and t - last[0] <= self.max_gap and kwh >= last[1]:
            value = last[1] + (kwh - last[1]) * (key - last[0]) / (t - last[0])
            self._set_register(key, value, precise=True)
        for boundary in (key, key + HOUR):
            if abs(t - boundary) <= self.register_snap and boundary not in self.registers:
                self._set_register(boundary, kwh, precise=False)
        self.last_register = (t, kwh)
        self._seen(t)
        return True

    def _set_register(self, key: int, kwh: float, *, precise: bool) -> None:
        self.revision += 1
        self.registers[key] = kwh
        if precise:
            self.snapped.discard(key)
        else:
            self.snapped.add(key)

    def hour_value(self, key: int) -> tuple[float | None, HourStatus]:
        """Energy (kWh) of the elapsed hour starting at `key`, and how well it is known."""
        start, end = self.registers.get(key), self.registers.get(key + HOUR)
        if start is not None and end is not None and end >= start:
            return round(end - start, DECIMALS), HourStatus.COMPLETE
        record = self.hours.get(key)
        if record is None:
            return None, HourStatus.MISSING
        energy = round(record.energy, DECIMALS)
        if record.covered >= HOUR - COVER_EPS:
            return energy, HourStatus.COMPLETE
        return energy, HourStatus.PARTIAL

    def elapsed_energy(self, start: int, stop: int) -> tuple[float | None, bool]:
        """Energy of the elapsed hours in [start, stop) and whether all are known.

        Uses the register difference over the longest span it covers, then the
        hours after that span one by one.
        """
        total: float | None = None
        complete = True
        key = start
        first = self.registers.get(start)
        if first is not None:
            boundary = stop
            while boundary > start and self.registers.get(boundary, -1.0) < first:
                boundary -= HOUR
            if boundary > start:
                total, key = round(self.registers[boundary] - first, DECIMALS), boundary
        while key < stop:
            value, status = self.hour_value(key)
            if value is not None:
                total = (total or 0.0) + value
            complete = complete and status is HourStatus.COMPLETE
            key += HOUR
        return None if total is None else round(total, DECIMALS), complete

    def keys_before(self, key: int) -> bool:
        """Whether any hour or register before `key` is kept."""
        return any(k < key for k in self.hours) or any(k < key for k in self.registers)

    def prune(self, key: int) -> None:
        """Forget hours and registers before `key`."""
        self.revision += 1
        self.hours = {k: v for k, v in self.hours.items() if k >= key}
        self.registers = {k: v for k, v in self.registers.items() if k >= key}
        self.snapped = {k for k in self.snapped if k >= key}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state."""
        return {
            "hours": [[k, r.energy, r.covered] for k, r in sorted(self.hours.items())],
            "registers": [[k, v] for k, v in sorted(self.registers.items())],
            "snapped": sorted(self.snapped),
            "last_power": list(self.last_power) if self.last_power else None,
            "last_register": list(self.last_register) if self.last_register else None,
            "latest": self.latest,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        """Restore what `to_dict` returned (TypeError/ValueError/KeyError when malformed)."""
        self.revision += 1
        self.hours = {int(k): HourRecord(float(e), float(c)) for k, e, c in data["hours"]}
        self.registers = {int(k): float(v) for k, v in data["registers"]}
        self.snapped = {int(k) for k in data["snapped"]}
        self.last_power = _pair(data["last_power"])
        self.last_register = _pair(data["last_register"])
        latest = data["latest"]
        self.latest = None if latest is None else float(latest)


def _pair(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    first, second = value
    return float(first), float(second)
