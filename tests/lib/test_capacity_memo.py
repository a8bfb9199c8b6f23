"""Snapshots reuse what they computed about the elapsed hours, never a stale value.

The oracle is the same tracker restored from its saved state: it computes every
snapshot from scratch.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.han_meter.capacity import CapacityConfig, CapacityMode, CapacityTracker


def _from_scratch(tracker: CapacityTracker, now: datetime | None = None) -> Any:
    return CapacityTracker.from_dict(tracker.to_dict(), tracker.config).snapshot(now)


@pytest.mark.parametrize("offset", [0, 17, 45])
def test_register_of_an_hour_boundary_after_the_hour_began(offset: int) -> None:
    """Power every minute, the register every other minute: the register at each hour's
    start is known only after a power sample of the new hour was taken."""
    tracker = CapacityTracker(CapacityConfig(time_zone="UTC"))
    t = datetime(2025, 1, 10, 8, 0, offset, tzinfo=UTC)
    register = 100_000.0
    for minute in range(180):
        t += timedelta(minutes=1)
        reading: dict[str, float] = {"active_power_import": 1000.0 + minute % 7 * 300}
        if minute % 2 == 0:
            register += 40.0 + minute % 5 * 10
            reading["active_power_import_total"] = register
        tracker.add_reading(reading, t)
        assert tracker.snapshot() == _from_scratch(tracker), t


@pytest.mark.parametrize("seed", range(6))
def test_random_meters(seed: int) -> None:
    """Random meters (late and early clocks, gaps, registers, month ends and DST) agree."""
    rng = random.Random(seed)
    for _ in range(3):
        config = CapacityConfig(
            time_zone=rng.choice(["Europe/Oslo", "Europe/Stockholm", "UTC"]),
            mode=rng.choice([CapacityMode.NORWAY, CapacityMode.SWEDEN]),
            window=rng.random() < 0.3,
        )
        tracker = CapacityTracker(config)
        t = datetime(2025, rng.choice([1, 3, 10, 12]), rng.randint(25, 31), rng.randint(20, 23))
        t = t.replace(tzinfo=UTC)
        register = 1000.0
        for _ in range(rng.randint(100, 200)):
            t += timedelta(seconds=rng.choice([2.5, 10, 30, 60, 60, 120, 120, 240, 3700]))
            when = t + timedelta(seconds=rng.choice([0, 0, 0, -3, -30]))
            reading: dict[str, object] = {}
            if rng.random() < 0.8:
                reading["active_power_import"] = rng.uniform(0, 8000)
            if rng.random() < 0.5:
                register += rng.uniform(0, 5000)
                reading["active_power_import_total"] = register
            if rng.random() < 0.2:
                reading["meter_datetime"] = when.replace(tzinfo=None)
            tracker.add_reading(reading, when)
            if tracker.latest is None:
                continue
            assert tracker.snapshot() == _from_scratch(tracker)
            if rng.random() < 0.05:
                now = when + timedelta(seconds=rng.choice([-4000, 100, 7200]))
                assert tracker.snapshot(now) == _from_scratch(tracker, now)
