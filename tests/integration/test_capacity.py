"""Capacity tariff sensors in Home Assistant: synthetic months against hand-computed tables.

A synthetic P1 meter sends a readout with the import power every 5 minutes and one
with the import register 5 seconds after every hour, like a Norwegian meter's
hourly list. Each hour's power is its energy (kW = kWh in one hour), so every
expected value below is worked out by hand from the table of hour energies; the
comments show how. The readouts go through the coordinator (decoded, merged, fed
to the tracker) and every capacity sensor's state and attributes are checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol
import yaml
from homeassistant.components.sensor import ATTR_LAST_RESET, ATTR_STATE_CLASS
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_HOMEASSISTANT_FINAL_WRITE,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.template import Template
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.han_meter.amshan.builder import build_p1_readout
from custom_components.han_meter.amshan.dlde import ModeDReader
from custom_components.han_meter.capacity import DEFAULT_STEPS, CapacityConfig, CapacityTracker
from custom_components.han_meter.capacity_options import (
    CONF_CAPACITY_MODE,
    CONF_CAPACITY_PEAKS,
    CONF_CAPACITY_STEPS,
    CONF_CAPACITY_WINDOW,
    capacity_config,
    format_steps,
    parse_steps,
)
from custom_components.han_meter.capacity_runtime import (
    REFRESH_INTERVAL,
    SAVE_DELAY,
    async_get_capacity,
)
from custom_components.han_meter.const import CONF_MULTIPLIER, CONF_WATCHDOG_TIMEOUT
from custom_components.han_meter.diagnostics import async_get_config_entry_diagnostics

from .conftest import FrameServer, network_entry, setup_entry, unload_entry, wait_for

OSLO = ZoneInfo("Europe/Oslo")
MIN = 1 / 60  # one minute in hours
PREFIX = "sensor.aidon_6525_"
POWER_STEP = 300  # seconds between power readouts
REGISTER_DELAY = 5  # seconds after the hour


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class SyntheticMeter:
    """Hour energies in, P1 readouts out; `down` intervals (open) send nothing."""

    start: str
    energies: dict[str, float]
    default: float = 1.0
    down: list[tuple[str, str]] = field(default_factory=list)
    _events: Iterator[tuple[datetime, dict[str, int]]] | None = None
    _pending: tuple[datetime, dict[str, int]] | None = None

    def energy(self, hour: datetime) -> float:
        return self.energies.get(hour.astimezone(OSLO).isoformat(), self.default)

    def _generate(self) -> Iterator[tuple[datetime, dict[str, int]]]:
        down = [(iso(a), iso(b)) for a, b in self.down]
        hour = iso(self.start)
        register = 10_000.0
        while True:
            events = [(hour + timedelta(seconds=s), "power") for s in range(0, 3600, POWER_STEP)]
            events.insert(1, (hour + timedelta(seconds=REGISTER_DELAY), "register"))
            for when, kind in events:
                if any(a < when < b for a, b in down):
                    continue
                if kind == "power":
                    yield when, {"active_power_import": round(self.energy(hour) * 1000)}
                else:
                    yield when, {"active_power_import_total": round(register * 1000)}
            register += self.energy(hour)
            hour += timedelta(hours=1)

    def until(self, end: datetime) -> Iterator[tuple[datetime, dict[str, int]]]:
        """The readouts up to and including `end`, continuing where the last call stopped."""
        if self._events is None:
            self._events = self._generate()
        while True:
            event = self._pending or next(self._events)
            self._pending = None
            if event[0] > end:
                self._pending = event
                return
            yield event


async def feed(
    hass: HomeAssistant, entry: MockConfigEntry, meter: SyntheticMeter, end: str
) -> None:
    """Hand the meter's readouts up to `end` to the coordinator, then let the sensors catch up."""
    coordinator = entry.runtime_data
    reader = ModeDReader()
    for when, values in meter.until(iso(end)):
        (readout,) = reader.read(build_p1_readout(values, timestamp=when.astimezone(OSLO)))
        coordinator.async_handle_message(readout)
    # Snapshots are taken at most once per REFRESH_INTERVAL: let the last one happen.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=REFRESH_INTERVAL + 1))
    await hass.async_block_till_done()


async def start_entry(
    hass: HomeAssistant, server: FrameServer, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    await hass.config.async_set_time_zone("Europe/Oslo")
    entry = network_entry(server.port, options=options)
    await connect(hass, entry)
    return entry


async def connect(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await setup_entry(hass, entry)
    await wait_for(lambda: entry.runtime_data.connection_state == "connected")


def number(state: str) -> float | None:
    return None if state == STATE_UNKNOWN else float(state)


def approx(value: float | None) -> Any:
    # States keep 6 decimals of a kWh or kW.
    return None if value is None else pytest.approx(value, abs=2e-6, rel=1e-9)


def check(hass: HomeAssistant, row: dict[str, Any], peaks: int = 3) -> None:
    """Every capacity sensor against a row of a hand-computed table."""

    def state(suffix: str) -> Any:
        found = hass.states.get(PREFIX + suffix)
        assert found is not None, suffix
        return found

    for suffix, name in (
        ("energy_this_hour", "hour"),
        ("energy_today", "today"),
        ("energy_this_month", "month"),
    ):
        start, energy, complete = row[name]
        got = state(suffix)
        assert number(got.state) == approx(energy), suffix
        assert got.attributes["complete"] is complete, suffix
        assert dt_util.parse_datetime(got.attributes[ATTR_LAST_RESET]) == iso(start), suffix
    projected = state("projected_energy_this_hour")
    assert number(projected.state) == approx(row["projected"])
    assert projected.attributes["power"] == approx(row["power"])

    basis = state("capacity_tariff_basis")
    assert number(basis.state) == approx(row["basis"])
    assert basis.attributes["incomplete_hours"] == row["incomplete"]
    want_peaks = row["peaks"]
    got_peaks = [(iso(p["start"]), p["energy"]) for p in basis.attributes["peaks"]]
    assert got_peaks == [(iso(s), approx(e)) for s, e in want_peaks]
    for index in range(peaks):
        peak = state(f"capacity_peak_{index + 1}")
        if index < len(want_peaks):
            start, energy = want_peaks[index]
            assert number(peak.state) == approx(energy)
            assert iso(peak.attributes["start"]) == iso(start)
            assert iso(peak.attributes["end"]) == iso(start) + timedelta(hours=1)
        else:
            assert peak.state == STATE_UNKNOWN
            assert peak.attributes["start"] is None
    assert hass.states.get(f"{PREFIX}capacity_peak_{peaks + 1}") is None

    previous = row.get("previous")
    assert basis.attributes["previous_month_start"] == (previous and previous[0])
    assert basis.attributes["previous_month_basis"] == approx(previous and previous[1])
    assert basis.attributes["previous_month_step"] == (previous and previous[2])
    assert basis.attributes["previous_month_step_upper_limit"] == (previous and previous[3])
    assert [(iso(p["start"]), p["energy"]) for p in basis.attributes["previous_month_peaks"]] == (
        [(iso(s), approx(e)) for s, e in previous[4]] if previous else []
    )

    for name in ("headroom", "step_headroom"):
        if name == "step_headroom" and not row.get("step_sensors", True):
            continue
        suffix, room = f"capacity_{name}", row[name]
        got = state(suffix)
        assert got.attributes["in_window"] is row.get("in_window", True)
        if room is None:
            assert got.state == STATE_UNKNOWN, suffix
            assert got.attributes["hour_limit"] is None
            continue
        limit, left, power = room
        assert got.attributes["hour_limit"] == approx(limit), suffix
        assert got.attributes["energy_left"] == approx(left), suffix
        assert number(got.state) == pytest.approx(power, rel=1e-5), suffix

    if row.get("step_sensors", True):
        step, upper = state("capacity_step"), state("capacity_step_upper_limit")
        if row["step"] is None:
            assert (step.state, upper.state) == (STATE_UNKNOWN, STATE_UNKNOWN)
        else:
            index, lower, limit = row["step"]
            assert step.state == str(index)
            assert (step.attributes["lower"], step.attributes["upper"]) == (lower, limit)
            assert number(upper.state) == limit


# ---------------------------------------------------------------------------
# October 2024: the 25-hour day (27 Oct has two 02:00 hours), Norway, defaults

OCTOBER = {
    "2024-10-05T18:00:00+02:00": 2.5,
    "2024-10-12T10:00:00+02:00": 1.5,
    "2024-10-27T01:00:00+02:00": 2.0,
    "2024-10-27T02:00:00+02:00": 3.0,  # first 02:00 (summer time)
    "2024-10-27T02:00:00+01:00": 4.0,  # second 02:00 (winter time)
}  # every other hour: 1.0 kWh

OCTOBER_PEAKS = [
    ("2024-10-27T02:00:00+01:00", 4.0),
    ("2024-10-05T18:00:00+02:00", 2.5),
    ("2024-10-12T10:00:00+02:00", 1.5),
]

OCTOBER_TABLE: list[dict[str, Any]] = [
    {  # the first half hour: nothing to compare with yet
        "now": "2024-10-01T00:30:00+02:00",
        "hour": ("2024-10-01T00:00:00+02:00", 0.5, True),
        "today": ("2024-10-01T00:00:00+02:00", 0.5, True),
        "month": ("2024-10-01T00:00:00+02:00", 0.5, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [],
        "basis": None,
        "step": None,
        "headroom": None,
        "step_headroom": None,
        "incomplete": 0,
    },
    {  # half way through the second 02:00 hour
        "now": "2024-10-27T02:30:00+01:00",
        # 30 min at 4 kW
        "hour": ("2024-10-27T02:00:00+01:00", 2.0, True),
        # 00:00, 01:00, first 02:00: 1 + 2 + 3
        "today": ("2024-10-27T00:00:00+02:00", 6.0 + 2.0, True),
        # 26 days + 3 hours = 627 hours, extras 1.5 + 0.5 + 1 + 2 = 5
        "month": ("2024-10-01T00:00:00+02:00", 627 + 5.0 + 2.0, True),
        "power": 4.0,
        "projected": 2.0 + 4.0 * 0.5,
        # 27 Oct's best elapsed hour is the first 02:00
        "peaks": [
            ("2024-10-27T02:00:00+02:00", 3.0),
            ("2024-10-05T18:00:00+02:00", 2.5),
            ("2024-10-12T10:00:00+02:00", 1.5),
        ],
        "basis": 7.0 / 3,
        "step": (2, 2.0, 5.0),
        # others' best two 2.5 + 1.5; 3 * 7/3 - 4 = 3.0 = own; 1.0 kWh left in 0.5 h
        "headroom": (3.0, 1.0, 2.0),
        # 3 * 5 - 4 = 11; 9 kWh left in 0.5 h
        "step_headroom": (11.0, 9.0, 18.0),
        "incomplete": 0,
    },
    {  # the second 02:00 hour's register is in (5 s after 03:00)
        "now": "2024-10-27T03:00:10+01:00",
        "hour": ("2024-10-27T03:00:00+01:00", 0.0, True),
        "today": ("2024-10-27T00:00:00+02:00", 10.0, True),  # 1 + 2 + 3 + 4
        "month": ("2024-10-01T00:00:00+02:00", 628 + 8.0, True),  # extras 5 + 3
        "power": 1.0,
        "projected": 1.0,
        "peaks": OCTOBER_PEAKS,
        "basis": 8.0 / 3,
        "step": (2, 2.0, 5.0),
        # 8 - 4 = 4.0 = own; nothing used; 3595 s left (the snapshot is at 03:00:05)
        "headroom": (4.0, 4.0, 4.0 * 3600 / 3595),
        "step_headroom": (11.0, 11.0, 11.0 * 3600 / 3595),
        "incomplete": 0,
    },
    {  # November: three hours in, October reduced to its peaks
        "now": "2024-11-01T03:00:10+01:00",
        "hour": ("2024-11-01T03:00:00+01:00", 0.0, True),
        "today": ("2024-11-01T00:00:00+01:00", 3.0, True),
        "month": ("2024-11-01T00:00:00+01:00", 3.0, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [("2024-11-01T00:00:00+01:00", 1.0)],  # the first of three equal hours
        "basis": 1.0,
        "step": (1, 0.0, 2.0),
        # one day so far: the hour may reach the basis itself
        "headroom": (1.0, 1.0, 1.0 * 3600 / 3595),
        "step_headroom": (2.0, 2.0, 2.0 * 3600 / 3595),
        "incomplete": 0,
        "previous": ("2024-10-01T00:00:00+02:00", 8.0 / 3, 2, 5.0, OCTOBER_PEAKS),
    },
]


async def test_dst_month(
    hass: HomeAssistant, meter_server: FrameServer, entity_registry: er.EntityRegistry
) -> None:
    """October 2024 with its 25-hour day, through Home Assistant."""
    entry = await start_entry(hass, meter_server)
    meter = SyntheticMeter("2024-10-01T00:00:00+02:00", OCTOBER)
    for row in OCTOBER_TABLE:
        await feed(hass, entry, meter, row["now"])
        check(hass, row)
    # Sensor metadata.
    hour = hass.states.get(f"{PREFIX}energy_this_hour")
    assert hour.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
    assert hour.attributes[ATTR_DEVICE_CLASS] == "energy"
    assert hour.attributes[ATTR_STATE_CLASS] == "total"
    basis = hass.states.get(f"{PREFIX}capacity_tariff_basis")
    assert basis.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kW"
    assert basis.attributes[ATTR_STATE_CLASS] == "measurement"
    headroom = hass.states.get(f"{PREFIX}capacity_headroom")
    assert ATTR_STATE_CLASS not in headroom.attributes
    registry_entry = entity_registry.async_get(f"{PREFIX}capacity_tariff_basis")
    assert registry_entry is not None
    assert registry_entry.unique_id == f"{entry.unique_id}-capacity_basis"
    assert registry_entry.device_id == entity_registry.async_get(f"{PREFIX}power_import").device_id
    await unload_entry(hass, entry)


# ---------------------------------------------------------------------------
# February 2024 with gaps: 2 peaks, a custom ladder. Nothing arrives 10 Feb
# 14:20-18:40 (the 6 kWh hour at 16:00 is never seen) nor 19 Feb 23:50 - 21 Feb
# 00:10 (a whole day without data). A missing hour is not a zero hour.

FEBRUARY = {
    "2024-02-02T08:00:00+01:00": 3.0,
    "2024-02-07T19:00:00+01:00": 4.0,
    "2024-02-10T16:00:00+01:00": 6.0,  # during the outage
    "2024-02-15T12:00:00+01:00": 2.0,
    "2024-02-29T23:00:00+01:00": 3.0,
}
FEBRUARY_DOWN = [
    ("2024-02-10T14:20:00+01:00", "2024-02-10T18:40:00+01:00"),
    ("2024-02-19T23:50:00+01:00", "2024-02-21T00:10:00+01:00"),
]
FEBRUARY_OPTIONS = {CONF_CAPACITY_STEPS: [2.0, 5.0, 10.0, 15.0, 20.0], CONF_CAPACITY_PEAKS: 2}
FEBRUARY_PEAKS = [("2024-02-07T19:00:00+01:00", 4.0), ("2024-02-02T08:00:00+01:00", 3.0)]

FEBRUARY_TABLE: list[dict[str, Any]] = [
    {  # after the first outage
        "now": "2024-02-10T20:30:00+01:00",
        "hour": ("2024-02-10T20:00:00+01:00", 0.5, True),
        # the registers at 00:00 and 20:00 span the outage: 19 x 1 + 6
        "today": ("2024-02-10T00:00:00+01:00", 25.0 + 0.5, True),
        # 9 days + 20 h = 236 hours; extras 2 + 3 + 5
        "month": ("2024-02-01T00:00:00+01:00", 246.0 + 0.5, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": FEBRUARY_PEAKS,  # the 6 kWh hour was not measured
        "basis": 3.5,
        "step": (2, 2.0, 5.0),
        # 14:00 and 18:00 partial, 15-17 missing
        "incomplete": 5,
        # own best today 1.0; 2 * 3.5 - 4 = 3.0; 2.5 left in 0.5 h
        "headroom": (3.0, 2.5, 5.0),
        # 2 * 5 - 4 = 6; 5.5 left in 0.5 h
        "step_headroom": (6.0, 5.5, 11.0),
    },
    {  # 20 minutes after a day without any data
        "now": "2024-02-21T00:30:00+01:00",
        # power since 00:10 only
        "hour": ("2024-02-21T00:00:00+01:00", 20 * MIN, False),
        "today": ("2024-02-21T00:00:00+01:00", 20 * MIN, False),
        # registers span 1 Feb 00:00 - 19 Feb 23:00: 18 days + 23 h = 455 hours,
        # extras 11; then 19 Feb 23:00-23:50 from power; 20 Feb unknown
        "month": ("2024-02-01T00:00:00+01:00", 466.0 + 50 * MIN + 20 * MIN, False),
        "power": 1.0,
        "projected": 20 * MIN + 1.0 * 0.5,
        "peaks": FEBRUARY_PEAKS,  # 20 Feb is not a day with a zero peak
        "basis": 3.5,
        "step": (2, 2.0, 5.0),
        "incomplete": 5 + 1 + 24,
        # no complete hour today: 2 * 3.5 - 4 = 3.0
        "headroom": (3.0, 3.0 - 20 * MIN, (3.0 - 20 * MIN) / 0.5),
        "step_headroom": (6.0, 6.0 - 20 * MIN, (6.0 - 20 * MIN) / 0.5),
    },
    {  # the last half hour of the month, at 3 kW
        "now": "2024-02-29T23:30:00+01:00",
        "hour": ("2024-02-29T23:00:00+01:00", 1.5, True),
        "today": ("2024-02-29T00:00:00+01:00", 23.0 + 1.5, True),
        # the registers span the whole month again: 28 days + 23 h = 695 hours, extras 11
        "month": ("2024-02-01T00:00:00+01:00", 706.0 + 1.5, True),
        "power": 3.0,
        "projected": 1.5 + 3.0 * 0.5,
        "peaks": FEBRUARY_PEAKS,
        "basis": 3.5,
        "step": (2, 2.0, 5.0),
        "incomplete": 31,  # and 21 Feb 00:00 (no register at its start)
        "headroom": (3.0, 1.5, 3.0),
        "step_headroom": (6.0, 4.5, 9.0),
    },
]


async def test_gap_month(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """Outages leave hours out of the peaks; registers still give exact totals."""
    entry = await start_entry(hass, meter_server, FEBRUARY_OPTIONS)
    meter = SyntheticMeter("2024-02-01T00:00:00+01:00", FEBRUARY, down=FEBRUARY_DOWN)
    for row in FEBRUARY_TABLE:
        await feed(hass, entry, meter, row["now"])
        check(hass, row, peaks=2)
    await unload_entry(hass, entry)


# ---------------------------------------------------------------------------
# January 2024, Sweden: the highest hour on weekdays 06-22; Home Assistant
# restarts at 14:30 on Wednesday 10 January, in the month's highest hour.

JANUARY = {
    "2024-01-06T12:00:00+01:00": 9.0,  # Saturday: outside the window
    "2024-01-08T05:00:00+01:00": 7.0,  # Monday before 06: outside the window
    "2024-01-09T18:00:00+01:00": 4.0,
    "2024-01-10T14:00:00+01:00": 5.0,
}
SWEDEN = {CONF_CAPACITY_MODE: "sweden", CONF_CAPACITY_WINDOW: True}

JANUARY_TABLE: list[dict[str, Any]] = [
    {  # just before the restart
        "now": "2024-01-10T14:30:00+01:00",
        "hour": ("2024-01-10T14:00:00+01:00", 2.5, True),
        "today": ("2024-01-10T00:00:00+01:00", 14.0 + 2.5, True),
        # 9 days + 14 h = 230 hours, extras 8 + 6 + 3
        "month": ("2024-01-01T00:00:00+01:00", 247.0 + 2.5, True),
        "power": 5.0,
        "projected": 5.0,
        "peaks": [("2024-01-09T18:00:00+01:00", 4.0)],
        "basis": 4.0,
        "step": (2, 2.0, 5.0),
        "incomplete": 0,
        # one peak: the hour may reach the basis; 1.5 left in 0.5 h
        "headroom": (4.0, 1.5, 3.0),
        "step_headroom": (5.0, 2.5, 5.0),
        "step_sensors": False,  # disabled by default in Sweden
    },
    {  # after the restart: readouts again from 14:35, the hour is whole
        "now": "2024-01-10T15:00:10+01:00",
        "hour": ("2024-01-10T15:00:00+01:00", 0.0, True),
        "today": ("2024-01-10T00:00:00+01:00", 14.0 + 5.0, True),
        "month": ("2024-01-01T00:00:00+01:00", 231.0 + 17.0 + 4.0, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [("2024-01-10T14:00:00+01:00", 5.0)],
        "basis": 5.0,
        "step": (2, 2.0, 5.0),  # 5.0 is the top of the 2-5 kW step
        "incomplete": 0,
        "headroom": (5.0, 5.0, 5.0 * 3600 / 3595),
        "step_headroom": (5.0, 5.0, 5.0 * 3600 / 3595),
    },
    {  # Saturday: outside the window, no headroom
        "now": "2024-01-13T10:30:00+01:00",
        "hour": ("2024-01-13T10:00:00+01:00", 0.5, True),
        "today": ("2024-01-13T00:00:00+01:00", 10.5, True),
        # 12 days + 10 h = 298 hours, extras 17 + 4
        "month": ("2024-01-01T00:00:00+01:00", 319.0 + 0.5, True),
        "power": 1.0,
        "projected": 1.0,
        "peaks": [("2024-01-10T14:00:00+01:00", 5.0)],
        "basis": 5.0,
        "step": (2, 2.0, 5.0),
        "incomplete": 0,
        "in_window": False,
        "headroom": None,
        "step_headroom": None,
    },
]


async def test_restart_in_the_middle_of_an_hour(
    hass: HomeAssistant,
    meter_server: FrameServer,
    entity_registry: er.EntityRegistry,
    hass_storage: dict[str, Any],
) -> None:
    """The state is saved on unload and restored on setup; the hour continues."""
    entry = await start_entry(hass, meter_server, SWEDEN)
    meter = SyntheticMeter("2024-01-01T00:00:00+01:00", JANUARY)
    await feed(hass, entry, meter, JANUARY_TABLE[0]["now"])
    check(hass, JANUARY_TABLE[0], peaks=1)
    step_sensors = [f"{PREFIX}{s}" for s in ("capacity_step", "capacity_step_upper_limit")]
    step_sensors.append(f"{PREFIX}capacity_step_headroom")
    for entity_id in step_sensors:
        registry_entry = entity_registry.async_get(entity_id)
        assert registry_entry is not None
        assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entity_id) is None
        entity_registry.async_update_entity(entity_id, disabled_by=None)
    tracker = async_get_capacity(hass, entry).tracker

    await unload_entry(hass, entry)
    saved = hass_storage[f"han_meter.capacity.{entry.entry_id}"]
    assert saved["version"] == 1
    assert saved["data"] == tracker.to_dict()

    # Set up again: the month's summary is there at once, the running hour is
    # unavailable until the meter sends (its next readout is 14:35).
    await connect(hass, entry)
    assert async_get_capacity(hass, entry).tracker.to_dict() == saved["data"]
    assert hass.states.get(f"{PREFIX}capacity_tariff_basis").state == "4.0"
    assert hass.states.get(f"{PREFIX}capacity_peak_1").state == "4.0"
    assert hass.states.get(f"{PREFIX}capacity_step").state == "2"
    assert hass.states.get(f"{PREFIX}energy_this_hour").state == STATE_UNAVAILABLE
    assert hass.states.get(f"{PREFIX}capacity_headroom").state == STATE_UNAVAILABLE

    for row in JANUARY_TABLE[1:]:
        await feed(hass, entry, meter, row["now"])
        check(hass, row, peaks=1)
    await unload_entry(hass, entry)


# ---------------------------------------------------------------------------
# Options, storage and failures


def _suggested(form: Any) -> dict[str, Any]:
    return {
        key.schema: key.description["suggested_value"]
        for key in form["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


async def test_options(
    hass: HomeAssistant,
    meter_server: FrameServer,
    entity_registry: er.EntityRegistry,
    hass_storage: dict[str, Any],
) -> None:
    """The capacity options are checked, stored without defaults and applied by a reload."""
    entry = await start_entry(hass, meter_server)
    meter = SyntheticMeter("2024-01-01T00:00:00+01:00", JANUARY)
    await feed(hass, entry, meter, "2024-01-01T02:00:10+01:00")
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _suggested(result) == {CONF_MULTIPLIER: 1.0, CONF_WATCHDOG_TIMEOUT: 60}
    defaults = {
        key.schema: key.default()
        for key in result["data_schema"].schema
        if key.default is not vol.UNDEFINED
    }
    assert defaults[CONF_CAPACITY_STEPS] == "2, 5, 10, 15, 20, 25, 50, 75, 100"
    assert defaults[CONF_CAPACITY_MODE] == "norway"
    assert defaults[CONF_CAPACITY_WINDOW] is False
    base = {CONF_MULTIPLIER: 1, CONF_WATCHDOG_TIMEOUT: 60}

    for steps, peaks in (("5, 2", 2.5), ("", 1.5), ("2, x", None), ("0, 1", None), ("inf", None)):
        user_input = {**base, CONF_CAPACITY_STEPS: steps}
        if peaks is not None:
            user_input[CONF_CAPACITY_PEAKS] = peaks
        result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
        assert result["type"] is FlowResultType.FORM
        expected_errors = {CONF_CAPACITY_STEPS: "invalid_steps"}
        if peaks is not None:
            expected_errors[CONF_CAPACITY_PEAKS] = "invalid_peaks"
        assert result["errors"] == expected_errors

    for peaks in (0, 11):  # the selector refuses these
        with pytest.raises(InvalidData):
            await hass.config_entries.options.async_configure(
                result["flow_id"], {**base, CONF_CAPACITY_PEAKS: peaks}
            )

    # Defaults are not stored.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, CONF_CAPACITY_STEPS: "2,5,10,15,20,25,50,75,100"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_MULTIPLIER: 1.0, CONF_WATCHDOG_TIMEOUT: 60}

    peak_3 = f"{PREFIX}capacity_peak_3"
    assert entity_registry.async_get(peak_3) is not None
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            **base,
            CONF_CAPACITY_MODE: "sweden",
            CONF_CAPACITY_STEPS: " 2; 5  7.5 ",
            CONF_CAPACITY_PEAKS: 2.0,
            CONF_CAPACITY_WINDOW: True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_MULTIPLIER: 1.0,
        CONF_WATCHDOG_TIMEOUT: 60,
        CONF_CAPACITY_MODE: "sweden",
        CONF_CAPACITY_STEPS: [2.0, 5.0, 7.5],
        CONF_CAPACITY_PEAKS: 2,
        CONF_CAPACITY_WINDOW: True,
    }
    await hass.async_block_till_done()  # reloaded
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    assert runtime.config.steps == (2.0, 5.0, 7.5)
    assert runtime.config.peak_count == 2
    assert runtime.config.uses_window
    assert entity_registry.async_get(peak_3) is None  # only two peaks now
    assert entity_registry.async_get(f"{PREFIX}capacity_peak_2") is not None
    # The saved state came back after the reload.
    assert runtime.tracker.latest == iso("2024-01-01T02:00:05+01:00")

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _suggested(result) == {
        CONF_MULTIPLIER: 1.0,
        CONF_WATCHDOG_TIMEOUT: 60,
        CONF_CAPACITY_MODE: "sweden",
        CONF_CAPACITY_STEPS: "2, 5, 7.5",
        CONF_CAPACITY_PEAKS: 2,
        CONF_CAPACITY_WINDOW: True,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**base, CONF_CAPACITY_MODE: "off"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # Off: no tracker, no sensors, no saved state.
    assert async_get_capacity(hass, entry) is None
    capacity_entities = [
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if "capacity" in e.unique_id
    ]
    assert capacity_entities == []
    assert f"han_meter.capacity.{entry.entry_id}" not in hass_storage
    assert hass.states.get(f"{PREFIX}power_import") is not None
    await unload_entry(hass, entry)


def test_options_helpers() -> None:
    """Step limits as text, and stored options that make no sense."""
    assert parse_steps("2, 5,10;15 20\t25") == (2.0, 5.0, 10.0, 15.0, 20.0, 25.0)
    assert parse_steps("1.5") == (1.5,)
    for text in ("", " , ", "2,2", "-1, 2", "nan", "1e400", "two"):
        with pytest.raises(ValueError, match="steps must|could not convert"):
            parse_steps(text)
    assert format_steps((2.0, 7.5, 100.0)) == "2, 7.5, 100"
    assert capacity_config({CONF_CAPACITY_MODE: "off"}, "Europe/Oslo") is None
    config = capacity_config({}, "Europe/Stockholm")
    assert config is not None
    assert (config.time_zone, config.steps, config.peak_count) == (
        "Europe/Stockholm",
        DEFAULT_STEPS,
        3,
    )


@pytest.mark.parametrize(
    "options",
    [
        {CONF_CAPACITY_STEPS: [5, 2]},
        {CONF_CAPACITY_STEPS: "abc"},
        {CONF_CAPACITY_PEAKS: 0},
        {CONF_CAPACITY_MODE: "denmark"},
    ],
)
async def test_invalid_stored_options_give_the_defaults(
    hass: HomeAssistant,
    meter_server: FrameServer,
    options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await start_entry(hass, meter_server, options)
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    assert runtime.config == CapacityConfig(time_zone="Europe/Oslo")
    assert "Invalid capacity tariff options" in caplog.text
    await unload_entry(hass, entry)


async def test_state_is_saved_a_minute_later_and_when_home_assistant_stops(
    hass: HomeAssistant, meter_server: FrameServer, hass_storage: dict[str, Any]
) -> None:
    entry = await start_entry(hass, meter_server)
    key = f"han_meter.capacity.{entry.entry_id}"
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    meter = SyntheticMeter("2024-01-01T00:00:00+01:00", JANUARY)
    await feed(hass, entry, meter, "2024-01-01T00:30:00+01:00")
    assert key not in hass_storage
    # Readings keep coming, the save stays due a minute after the first change.
    await feed(hass, entry, meter, "2024-01-01T00:40:00+01:00")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=SAVE_DELAY + 1))
    await hass.async_block_till_done()
    assert hass_storage[key]["data"] == runtime.tracker.to_dict()

    await feed(hass, entry, meter, "2024-01-01T01:00:10+01:00")
    assert hass_storage[key]["data"] != runtime.tracker.to_dict()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    assert hass_storage[key]["data"] == runtime.tracker.to_dict()
    await unload_entry(hass, entry)

    # Removing the entry deletes its state.
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_nothing_saved_without_readings(
    hass: HomeAssistant, meter_server: FrameServer, hass_storage: dict[str, Any]
) -> None:
    entry = await start_entry(hass, meter_server)
    # A reading without import power or energy does not change the state.
    (readout,) = ModeDReader().read(build_p1_readout({"voltage_l1": 230.0}))
    entry.runtime_data.async_handle_message(readout)
    await hass.async_block_till_done()
    assert hass.states.get(f"{PREFIX}voltage_l1").state == "230"
    assert hass.states.get(f"{PREFIX}energy_this_hour").state == STATE_UNKNOWN
    assert hass.states.get(f"{PREFIX}capacity_tariff_basis").state == STATE_UNKNOWN
    await unload_entry(hass, entry)
    assert f"han_meter.capacity.{entry.entry_id}" not in hass_storage


@pytest.mark.parametrize(
    "data",
    [
        {"version": 99},
        {"version": 1, "time_zone": "Europe/Stockholm", "ledger": {}, "previous": None},
        {"version": 1, "time_zone": "Europe/Oslo", "ledger": {"hours": 5}, "previous": None},
        [1, 2, 3],
    ],
)
async def test_unusable_saved_state_is_ignored(
    hass: HomeAssistant,
    meter_server: FrameServer,
    hass_storage: dict[str, Any],
    data: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await hass.config.async_set_time_zone("Europe/Oslo")
    entry = network_entry(meter_server.port)
    hass_storage[f"han_meter.capacity.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"han_meter.capacity.{entry.entry_id}",
        "data": data,
    }
    await connect(hass, entry)
    assert "Ignoring the saved capacity tariff state of Aidon 6525" in caplog.text
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    assert runtime.tracker.latest is None
    assert runtime.snapshot is None
    await unload_entry(hass, entry)


async def test_tracker_failure_does_not_stop_the_meter(
    hass: HomeAssistant, meter_server: FrameServer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await start_entry(hass, meter_server)
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    meter = SyntheticMeter("2024-01-01T00:00:00+01:00", JANUARY)
    with patch.object(CapacityTracker, "add_reading", side_effect=OverflowError("boom")):
        await feed(hass, entry, meter, "2024-01-01T00:10:00+01:00")
    assert runtime.errors == 4  # 00:00, 00:00:05 (register), 00:05, 00:10
    assert caplog.text.count("Capacity tariff: could not add a reading") == 1
    assert hass.states.get(f"{PREFIX}power_import").state == "1000"
    await feed(hass, entry, meter, "2024-01-01T00:20:00+01:00")
    assert hass.states.get(f"{PREFIX}energy_this_hour").state == "0.083333"  # 00:15-00:20
    await unload_entry(hass, entry)


async def test_meter_outage_and_diagnostics(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """Running-hour sensors follow the meter's availability; the month's summary stays."""
    entry = await start_entry(hass, meter_server)
    meter = SyntheticMeter("2024-01-01T00:00:00+01:00", JANUARY)
    await feed(hass, entry, meter, "2024-01-03T12:30:00+01:00")
    await meter_server.drop_clients()
    await wait_for(lambda: hass.states.get(f"{PREFIX}energy_today").state == STATE_UNAVAILABLE)
    for suffix in ("energy_this_hour", "projected_energy_this_hour", "capacity_headroom"):
        assert hass.states.get(PREFIX + suffix).state == STATE_UNAVAILABLE
    for suffix, value in (
        ("capacity_tariff_basis", "1.0"),
        ("capacity_peak_1", "1.0"),
        ("capacity_step", "1"),
        ("capacity_step_upper_limit", "2.0"),
    ):
        assert hass.states.get(PREFIX + suffix).state == value, suffix

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    capacity = diagnostics["capacity"]
    assert capacity["mode"] == "norway"
    assert capacity["peaks"] == 3
    assert capacity["incomplete_hours"] == 0
    assert capacity["latest"] == "2024-01-03T12:30:00+01:00"
    assert capacity["state_size"] > 1000
    await unload_entry(hass, entry)

    off = await start_entry(hass, meter_server, {CONF_CAPACITY_MODE: "off"})
    assert (await async_get_config_entry_diagnostics(hass, off))["capacity"] is None
    await unload_entry(hass, off)


# ---------------------------------------------------------------------------
# The README section's examples use the real entity ids and attributes

README = Path(__file__).parents[2] / "README.md"


def capacity_section() -> str:
    """The README's capacity tariff section, up to the next section of its level."""
    text = README.read_text()
    start = text.index("## Capacity tariff")
    end = text.find("\n## ", start + 1)
    other = text.find("\n# ", start + 1)
    ends = [index for index in (end, other) if index != -1]
    return text[start : min(ends)] if ends else text[start:]


async def test_readme_examples(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """The dashboard card and the automation render against a meter named Aidon 6525."""
    entry = await start_entry(hass, meter_server)
    energies = {f"2024-01-0{day}T10:00:00+01:00": 4.0 for day in (2, 3, 4)}
    energies["2024-01-05T10:00:00+01:00"] = 8.0  # the running hour, heading for 8 kWh
    meter = SyntheticMeter("2024-01-01T00:00:00+01:00", energies)
    await feed(hass, entry, meter, "2024-01-05T10:30:00+01:00")
    text = capacity_section()
    card, automation = (
        yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)
    )

    entity_ids = set(re.findall(r"sensor\.aidon_6525_[a-z0-9_]+", text))
    for line in re.findall(r"^\| `.*", text, re.M):  # the sensor table's first column
        names = re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
        entity_ids |= {f"sensor.aidon_6525_{name}" for name in names}
    entity_ids.add("sensor.aidon_6525_capacity_peak_2")  # "capacity_peak_1 … capacity_peak_3"
    assert len(entity_ids) == 12
    for entity_id in entity_ids:
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE), entity_id
    basis = hass.states.get(f"{PREFIX}capacity_tariff_basis")
    for attribute in re.findall(r"`(previous_month_[a-z_]+|peaks|incomplete_hours)`", text):
        assert attribute in basis.attributes, attribute
    for entity_id, attribute in re.findall(r"state_attr\('([a-z0-9_.]+)', '([a-z_]+)'\)", text):
        assert attribute in hass.states.get(entity_id).attributes, attribute

    # 4 kW basis, 2-5 kW step: the hour may reach 3 x 5 - 8 = 7 kWh; 8 are projected.
    trigger = automation["triggers"][0]
    assert Template(trigger["value_template"], hass).async_render() is True
    message = Template(automation["actions"][0]["data"]["message"], hass).async_render()
    assert message == (
        "This hour is heading for 8.0 kWh. Above 7.0 kWh the monthly basis passes 5.0 kW."
        " Keep the load under 6.0 kW for the rest of the hour."
    )
    markdown = card["cards"][2]["content"]
    assert Template(markdown, hass).async_render().split("\n")[:3] == [
        "- 02 Jan 10:00: 4.0 kWh",
        "- 03 Jan 10:00: 4.0 kWh",
        "- 04 Jan 10:00: 4.0 kWh",
    ]
    gauge = card["cards"][0]
    assert hass.states.get(gauge["entity"]).state == "4.0"
    await unload_entry(hass, entry)


async def test_saved_empty_state_and_unload_with_a_snapshot_due(
    hass: HomeAssistant, meter_server: FrameServer, hass_storage: dict[str, Any]
) -> None:
    await hass.config.async_set_time_zone("Europe/Oslo")
    entry = network_entry(meter_server.port)
    key = f"han_meter.capacity.{entry.entry_id}"
    empty = CapacityTracker(CapacityConfig(time_zone="Europe/Oslo")).to_dict()
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": empty}
    await connect(hass, entry)
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    assert runtime.snapshot is None
    # Two readings at once: the second one's snapshot waits for REFRESH_INTERVAL...
    reader = ModeDReader()
    for minute in (0, 5):
        when = iso(f"2024-01-01T00:0{minute}:00+01:00")
        (readout,) = reader.read(build_p1_readout({"active_power_import": 1000}, timestamp=when))
        entry.runtime_data.async_handle_message(readout)
    assert runtime.snapshot is not None
    assert runtime.snapshot.hour.energy == 0.0
    # ...and is dropped by the unload; the state is saved.
    await unload_entry(hass, entry)
    assert hass_storage[key]["data"] != empty
