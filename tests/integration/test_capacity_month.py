"""The simulator's Kamstrup stream through Home Assistant at high speed, against its own sums.

The simulated meter's frames (its 10-second list and, on the hour, its list 3
with the import register: the bytes its TCP server sends) go over TCP to a config
entry, in batches, as fast as Home Assistant takes them. The run crosses the
25-hour day of 31 October 2021 (Kamstrup sends naive local time, so the two
02:00 hours look alike) and the change of month. The
expected values are computed here from the frames Home Assistant received: hour
energies are differences of consecutive list-3 registers, the running hour comes
from the simulator's model, and the headroom is found by bisection on a plain
basis calculation, not with the integration's code.

By default the run covers 29 October 00:00 to 1 November 03:30 (27 181 frames).
Set HAN_CAPACITY_MONTH=1 to start on 1 October instead (269 101 frames).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig
from custom_components.han_meter.capacity_runtime import REFRESH_INTERVAL
from custom_components.han_meter.const import DOMAIN
from custom_components.han_meter.sensor import DEVICE_INFO_KEYS

from .conftest import FrameServer, network_entry, setup_entry, unload_entry, wait_for

OSLO = ZoneInfo("Europe/Oslo")
LADDER = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 50.0, 75.0, 100.0)
PEAKS = 3
TOLERANCE = 0.001  # kWh (kW for the basis); registers are exact, power is rounded to 1 W
FULL_MONTH = os.environ.get("HAN_CAPACITY_MONTH") == "1"
START = datetime(2021, 10, 1 if FULL_MONTH else 29, tzinfo=OSLO)
END = datetime(2021, 11, 1, 3, 30, tzinfo=OSLO)  # half an hour into the 4th hour of November
PREFIX = "sensor.kamstrup_sim_"
BATCH = 32  # frames sent at once (the coordinator queues up to 64)
KEYS = ("active_power_import", "active_power_import_total")


@dataclass
class Expected:
    """Values worked out from the stream."""

    hour: float
    today: float
    month: float
    power: float
    projected: float
    peaks: list[tuple[datetime, float]]
    basis: float
    step: tuple[int, float, float]
    headroom: tuple[float, float, float]
    step_headroom: tuple[float, float, float]
    previous_peaks: list[tuple[datetime, float]]
    previous_basis: float


def top_days(hours: dict[datetime, float], month: tuple[int, int]) -> list[tuple[datetime, float]]:
    """The best hour of each day of a month, highest first (earlier first on a tie)."""
    best: dict[date, tuple[datetime, float]] = {}
    for start in sorted(hours):  # UTC times: the two 02:00 hours stay apart
        day = start.astimezone(OSLO).date()
        if (day.year, day.month) == month and (day not in best or hours[start] > best[day][1]):
            best[day] = (start, hours[start])
    return sorted(best.values(), key=lambda p: (-p[1], p[0]))[:PEAKS]


def basis_of(values: list[float]) -> float:
    top = sorted(values, reverse=True)[:PEAKS]
    return sum(top) / len(top)


def largest_hour(others: list[float], own: float, target: float) -> float:
    """Largest energy of the running hour with the basis still at most `target` (bisection)."""

    def fits(x: float) -> bool:
        return basis_of([*others, max(own, x)]) <= target + 1e-9

    low, high = own, 1000.0
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), OSLO).astimezone(UTC)


def expected_from(stream: list[tuple[datetime, dict[str, Any]]], model: Any) -> Expected:
    """The sensor values after the last reading of the stream (times in UTC)."""
    registers = {
        t: values["active_power_import_total"]  # Wh, whole numbers: equal hours tie exactly
        for t, values in stream
        if "active_power_import_total" in values
    }
    assert all(t.minute == t.second == 0 for t in registers)  # list 3 is sent on the hour
    hours = {
        t0: (r1 - r0) / 1000
        for (t0, r0), (t1, r1) in pairwise(sorted(registers.items()))
        if t1 - t0 == timedelta(hours=1)
    }
    last_time, last = stream[-1]
    local = last_time.astimezone(OSLO)
    hour_start = last_time.replace(minute=0, second=0, microsecond=0)
    hour_end = hour_start + timedelta(hours=1)
    month_start = local_midnight(local.date().replace(day=1))
    # The running hour: the integral of the model's power since the hour started.
    used = (model.energy(last_time) - model.energy(hour_start)) / 1000
    power = last["active_power_import"] / 1000
    left_hours = (hour_end - last_time).total_seconds() / 3600
    peaks = top_days(hours, (local.year, local.month))
    basis = sum(e for _, e in peaks) / len(peaks)
    upper = next(limit for limit in LADDER if basis <= limit)
    lower = ([0.0, *LADDER])[LADDER.index(upper)]
    days: dict[date, float] = defaultdict(float)
    for start, energy in hours.items():
        day = start.astimezone(OSLO).date()
        if (day.year, day.month) == (local.year, local.month):
            days[day] = max(days[day], energy)
    own = days.pop(local.date(), 0.0)

    def room(target: float) -> tuple[float, float, float]:
        limit = largest_hour(list(days.values()), own, target)
        left = max(0.0, limit - used)
        return limit, left, left / left_hours

    before = (month_start - timedelta(days=1)).astimezone(OSLO)
    previous_peaks = top_days(hours, (before.year, before.month))
    return Expected(
        hour=used,
        today=(registers[hour_start] - registers[local_midnight(local.date())]) / 1000 + used,
        month=(registers[hour_start] - registers[month_start]) / 1000 + used,
        power=power,
        projected=used + power * left_hours,
        peaks=peaks,
        basis=basis,
        step=(LADDER.index(upper) + 1, lower, upper),
        headroom=room(basis),
        step_headroom=room(upper),
        previous_peaks=previous_peaks,
        previous_basis=sum(e for _, e in previous_peaks) / len(previous_peaks),
    )


def number(hass: HomeAssistant, suffix: str) -> float:
    state = hass.states.get(PREFIX + suffix)
    assert state is not None, suffix
    assert state.state != STATE_UNKNOWN, suffix
    return float(state.state)


async def send_stream(
    hass: HomeAssistant, server: FrameServer, entry: MockConfigEntry, simulator: MeterSimulator
) -> list[tuple[datetime, dict[str, Any]]]:
    """Send the simulator's frames from START to END as fast as Home Assistant takes them.

    Returns what each frame carried (decoded here, for the expected values).
    """
    coordinator = entry.runtime_data
    reader, decoder = HdlcFrameReader(), AutoDecoder()
    stream: list[tuple[datetime, dict[str, Any]]] = []
    start = START.astimezone(UTC)
    count = int((END - START).total_seconds() // 10) + 1
    for first in range(0, count, BATCH):
        batch = []
        for index in range(first, min(first + BATCH, count)):
            when = start + timedelta(seconds=10 * index)
            frame = simulator.message_at(when.astimezone(OSLO))
            batch.append(frame.data)
            (message,) = reader.read(frame.data)
            values = decoder.decode_message(message)
            assert values is not None
            stream.append((when, {key: values[key] for key in KEYS if key in values}))
        server.send(b"".join(batch))
        async with asyncio.timeout(30):
            while coordinator.counters.messages < len(stream):  # noqa: ASYNC110
                await asyncio.sleep(0)
    return stream


@pytest.mark.slow
async def test_simulated_stream_through_home_assistant(
    hass: HomeAssistant, meter_server: FrameServer, entity_registry: er.EntityRegistry
) -> None:
    """Every capacity sensor matches the sums of the stream Home Assistant received."""
    await hass.config.async_set_time_zone("Europe/Oslo")
    simulator = MeterSimulator(SimulatorConfig(meter="kamstrup", start=START, seed=5))
    (message,) = HdlcFrameReader().read(simulator.message_at(START).data)
    reading = AutoDecoder().decode_message(message)
    assert reading is not None
    entry = network_entry(meter_server.port, meter_id=reading["meter_id"], title="Kamstrup sim")
    entry.add_to_hass(hass)
    # The meter's other sensors are off, as a user may switch them off: this run is
    # about the capacity sensors (test_sensor.py covers the others).
    (list3,) = HdlcFrameReader().read(simulator.message_at(START + timedelta(hours=1)).data)
    keys = set(reading) | set(AutoDecoder().decode_message(list3) or {})
    for key in keys - DEVICE_INFO_KEYS:
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{reading['meter_id']}-{key}",
            config_entry=entry,
            disabled_by=er.RegistryEntryDisabler.USER,
        )
    await setup_entry(hass, entry)
    await wait_for(lambda: entry.runtime_data.connection_state == "connected")
    began = time.monotonic()
    stream = await send_stream(hass, meter_server, entry, simulator)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=REFRESH_INTERVAL + 1))
    await hass.async_block_till_done()
    elapsed = time.monotonic() - began

    coordinator = entry.runtime_data
    assert coordinator.counters.decoded == len(stream)
    assert coordinator.counters.decode_failures == 0
    assert coordinator.async_protocol_counters()["dropped_messages"] == 0
    assert coordinator.available
    assert hass.states.get(f"{PREFIX}power_import") is None  # switched off
    want = expected_from(stream, simulator.model)

    assert number(hass, "energy_this_hour") == pytest.approx(want.hour, abs=TOLERANCE)
    assert number(hass, "energy_today") == pytest.approx(want.today, abs=TOLERANCE)
    assert number(hass, "energy_this_month") == pytest.approx(want.month, abs=TOLERANCE)
    projected = number(hass, "projected_energy_this_hour")
    assert projected == pytest.approx(want.projected, abs=TOLERANCE)
    assert number(hass, "capacity_tariff_basis") == pytest.approx(want.basis, abs=TOLERANCE)
    basis = hass.states.get(f"{PREFIX}capacity_tariff_basis")
    got_peaks = [
        (datetime.fromisoformat(p["start"]), p["energy"]) for p in basis.attributes["peaks"]
    ]
    assert got_peaks == [(s, pytest.approx(e, abs=TOLERANCE)) for s, e in want.peaks]
    for index, (start, energy) in enumerate(want.peaks, start=1):
        assert number(hass, f"capacity_peak_{index}") == pytest.approx(energy, abs=TOLERANCE)
        peak = hass.states.get(f"{PREFIX}capacity_peak_{index}")
        assert datetime.fromisoformat(peak.attributes["start"]) == start
    assert hass.states.get(f"{PREFIX}capacity_step").state == str(want.step[0])
    assert number(hass, "capacity_step_upper_limit") == want.step[2]
    for suffix, (limit, left, power) in (
        ("capacity_headroom", want.headroom),
        ("capacity_step_headroom", want.step_headroom),
    ):
        state = hass.states.get(PREFIX + suffix)
        assert state.attributes["hour_limit"] == pytest.approx(limit, abs=TOLERANCE), suffix
        assert state.attributes["energy_left"] == pytest.approx(left, abs=TOLERANCE), suffix
        assert number(hass, suffix) == pytest.approx(power, abs=TOLERANCE * 2), suffix
    # October, including the day with two 02:00 hours.
    previous = [
        (datetime.fromisoformat(p["start"]), p["energy"])
        for p in basis.attributes["previous_month_peaks"]
    ]
    assert previous == [(s, pytest.approx(e, abs=TOLERANCE)) for s, e in want.previous_peaks]
    assert basis.attributes["previous_month_basis"] == pytest.approx(
        want.previous_basis, abs=TOLERANCE
    )
    assert basis.attributes["incomplete_hours"] == 0
    print(f"{len(stream)} frames through Home Assistant in {elapsed:.1f} s")
    await unload_entry(hass, entry)
