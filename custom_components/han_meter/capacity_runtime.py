"""The capacity tariff tracker of a config entry: fed by the meter, saved in a Store.

`CapacityRuntime` owns a `CapacityTracker` (capacity.py), feeds it every reading
the coordinator decodes, keeps its latest `CapacitySnapshot` for the sensors
(capacity_sensor.py) and saves its state, so that the month's peaks survive a
restart.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Final

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .amshan.reading import MeterReading
from .capacity import CapacityConfig, CapacitySnapshot, CapacityTracker
from .capacity_options import capacity_config
from .const import DOMAIN, LOGGER
from .coordinator import HanMeterConfigEntry
from .listeners import Listeners

STORAGE_VERSION: Final = 1
# Seconds between a change and its save (a restart loses at most this much).
SAVE_DELAY: Final = 60.0
# Shortest time (s) between two snapshots: a meter sends every 2.5 s or slower,
# a replay at high speed would otherwise compute one per reading.
REFRESH_INTERVAL: Final = 1.0

CAPACITY_DATA: HassKey[dict[str, CapacityRuntime]] = HassKey(f"{DOMAIN}_capacity")


class CapacityRuntime:
    """The tracker of one meter, its latest snapshot and its saved state."""

    def __init__(self, hass: HomeAssistant, entry: HanMeterConfigEntry, config: CapacityConfig):
        """Start with an empty tracker; `async_load` restores the saved one."""
        self.hass = hass
        self.entry = entry
        self.tracker = CapacityTracker(config)
        self.snapshot: CapacitySnapshot | None = None
        self.store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, storage_key(entry))
        self.errors = 0
        self._listeners = Listeners[[]]()
        self._unsub_reading: CALLBACK_TYPE | None = None
        self._unsub_final_write: CALLBACK_TYPE | None = None
        self._cancel_save: CALLBACK_TYPE | None = None
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._next_refresh = 0.0
        self._dirty = False

    @property
    def config(self) -> CapacityConfig:
        """The tariff rules in use."""
        return self.tracker.config

    async def async_load(self) -> None:
        """Restore the saved state; start fresh when it is unusable."""
        data = await self.store.async_load()
        if data is None:
            return
        try:
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
            self.tracker = CapacityTracker.from_dict(data, self.config)
        except ValueError as err:
            LOGGER.warning(
                "Ignoring the saved capacity tariff state of %s (%s); starting afresh",
                self.entry.title,
                err,
            )
            return
        if self.tracker.latest is not None:
            self.snapshot = self.tracker.snapshot()

    @callback
    def async_start(self) -> None:
        """Feed the tracker with the coordinator's readings; save when Home Assistant stops."""
        coordinator = self.entry.runtime_data
        self._unsub_reading = coordinator.async_add_reading_listener(self._async_add_reading)
        self._unsub_final_write = self.hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_FINAL_WRITE, self._async_final_write
        )

    async def async_stop(self) -> None:
        """Stop listening and save the state."""
        for unsub in (self._unsub_reading, self._unsub_final_write):
            if unsub is not None:
                unsub()
        self._unsub_reading = self._unsub_final_write = None
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        await self._async_save_now()

    async def _async_final_write(self, _event: Event) -> None:
        """Save before Home Assistant exits (the listener is gone once it fired)."""
        self._unsub_final_write = None
        await self._async_save_now()

    async def _async_save_now(self) -> None:
        if self._cancel_save is not None:
            self._cancel_save()
            self._cancel_save = None
        if self._dirty:
            self._dirty = False
            await self.store.async_save(self.tracker.to_dict())

    @callback
    def _async_add_reading(self, reading: MeterReading, received: datetime) -> None:
        """Add a reading; never raises (the coordinator's consumer must go on)."""
        try:
            added = self.tracker.add_reading(reading, received)
        except Exception:
            self.errors += 1
            if self.errors == 1:
                LOGGER.exception("Capacity tariff: could not add a reading")
            return
        if not added:
            return
        self._dirty = True
        if self._cancel_save is None:
            self._cancel_save = async_call_later(self.hass, SAVE_DELAY, self._async_save_later)
        self._async_request_refresh()

    @callback
    def _async_save_later(self, _now: datetime) -> None:
        """Save the state as it is now (the Store writes a copy in a worker thread)."""
        self._cancel_save = None
        self._dirty = False
        self.entry.async_create_task(
            self.hass, self.store.async_save(self.tracker.to_dict()), "han_meter capacity save"
        )

    @callback
    def _async_request_refresh(self) -> None:
        """Take a new snapshot now, or at the end of the refresh interval."""
        if self._refresh_handle is not None:
            return
        loop = self.hass.loop
        if loop.time() >= self._next_refresh:
            self.async_refresh()
        else:
            self._refresh_handle = loop.call_at(self._next_refresh, self._async_refresh_later)

    @callback
    def _async_refresh_later(self) -> None:
        self._refresh_handle = None
        self.async_refresh()

    @callback
    def async_refresh(self) -> None:
        """Take a snapshot at the newest reading and tell the sensors."""
        self._next_refresh = self.hass.loop.time() + REFRESH_INTERVAL
        self.snapshot = self.tracker.snapshot()
        self._listeners()

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener()` after every new snapshot; returns the remover."""
        return self._listeners.add(listener)

    def diagnostics(self) -> dict[str, Any]:
        """Settings and state size, for the diagnostics."""
        config, snapshot = self.config, self.snapshot
        return {
            "mode": config.mode.value,
            "steps": list(config.steps),
            "peaks": config.peak_count,
            "window": config.uses_window,
            "time_zone": config.time_zone,
            "state_size": len(json.dumps(self.tracker.to_dict())),
            "latest": None if snapshot is None else snapshot.time.isoformat(),
            "incomplete_hours": None if snapshot is None else snapshot.incomplete_hours,
            "errors": self.errors,
        }


def storage_key(entry: HanMeterConfigEntry) -> str:
    """Store key of an entry's capacity state."""
    return f"{DOMAIN}.capacity.{entry.entry_id}"


async def async_setup_capacity(hass: HomeAssistant, entry: HanMeterConfigEntry) -> None:
    """Create, restore and start the entry's tracker (before the coordinator starts)."""
    config = capacity_config(entry.options, hass.config.time_zone)
    runtimes = hass.data.setdefault(CAPACITY_DATA, {})
    if config is None:
        runtimes.pop(entry.entry_id, None)
        await Store[dict[str, Any]](hass, STORAGE_VERSION, storage_key(entry)).async_remove()
        return
    runtime = CapacityRuntime(hass, entry, config)
    await runtime.async_load()
    runtime.async_start()
    runtimes[entry.entry_id] = runtime


async def async_unload_capacity(hass: HomeAssistant, entry: HanMeterConfigEntry) -> None:
    """Stop the entry's tracker and save its state."""
    if (runtime := hass.data.get(CAPACITY_DATA, {}).pop(entry.entry_id, None)) is not None:
        await runtime.async_stop()


async def async_remove_capacity(hass: HomeAssistant, entry: HanMeterConfigEntry) -> None:
    """Delete the saved state of a removed entry."""
    await Store[dict[str, Any]](hass, STORAGE_VERSION, storage_key(entry)).async_remove()


@callback
def async_get_capacity(hass: HomeAssistant, entry: HanMeterConfigEntry) -> CapacityRuntime | None:
    """The entry's tracker; None when the capacity tariff is off."""
    return hass.data.get(CAPACITY_DATA, {}).get(entry.entry_id)
