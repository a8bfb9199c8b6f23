"""Capacity tariff sensors: energy per hour, day and month, the month's peaks and step.

The values come from the entry's `CapacityRuntime` (capacity_runtime.py). Sensors
of the running hour (energy so far, projection, headroom) are unavailable while
the meter is; the month's peaks, basis and step keep their last values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import Platform, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .capacity import (
    CapacityConfig,
    CapacityMode,
    CapacitySnapshot,
    Headroom,
    MonthSummary,
    Peak,
    PeriodEnergy,
)
from .capacity_runtime import CapacityRuntime, async_get_capacity
from .coordinator import HanMeterConfigEntry, HanMeterCoordinator
from .entity import HanMeterEntity

KEY_PREFIX = "capacity_"
# Digits kept of kWh and kW values (the tracker rounds energies to 1e-6 kWh).
DIGITS = 6

type Value = float | int | None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


@dataclass(frozen=True, kw_only=True)
class CapacitySensorEntityDescription(SensorEntityDescription):
    """A capacity tariff sensor: its value and attributes from a snapshot."""

    value_fn: Callable[[CapacitySnapshot], Value]
    attributes_fn: Callable[[CapacitySnapshot], dict[str, Any]] = lambda _: {}
    last_reset_fn: Callable[[CapacitySnapshot], datetime] | None = None
    live: bool = True  # about the running hour: unavailable while the meter is


def _peak(peak: Peak) -> dict[str, Any]:
    return {"start": peak.start.isoformat(), "end": peak.end.isoformat(), "energy": peak.energy}


def _basis_attributes(snapshot: CapacitySnapshot) -> dict[str, Any]:
    previous: MonthSummary | None = snapshot.previous
    step = None if previous is None else previous.step
    return {
        "peaks": [_peak(peak) for peak in snapshot.current.peaks],
        "incomplete_hours": snapshot.incomplete_hours,
        "previous_month_start": None if previous is None else previous.start.isoformat(),
        "previous_month_basis": None if previous is None else previous.basis,
        "previous_month_step": None if step is None else step.index,
        "previous_month_step_upper_limit": None if step is None else step.upper,
        "previous_month_peaks": [] if previous is None else [_peak(p) for p in previous.peaks],
    }


def _energy(
    name: str, period: Callable[[CapacitySnapshot], PeriodEnergy]
) -> CapacitySensorEntityDescription:
    """Import energy of the hour, day or month so far (a total reset at the period start)."""
    return CapacitySensorEntityDescription(
        key=f"{KEY_PREFIX}energy_{name}",
        translation_key=f"{KEY_PREFIX}energy_{name}",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda s: period(s).energy,
        attributes_fn=lambda s: {"complete": period(s).complete},
        last_reset_fn=lambda s: period(s).start,
    )


def _headroom(
    key: str, get: Callable[[CapacitySnapshot], Headroom | None]
) -> CapacitySensorEntityDescription:
    def attributes(snapshot: CapacitySnapshot) -> dict[str, Any]:
        headroom = get(snapshot)
        return {
            "hour_limit": None if headroom is None else _round(headroom.limit),
            "energy_left": None if headroom is None else _round(headroom.energy),
            "in_window": snapshot.in_window,
        }

    return CapacitySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=2,
        value_fn=lambda s: None if (room := get(s)) is None else room.power,
        attributes_fn=attributes,
    )


def _peak_description(number: int) -> CapacitySensorEntityDescription:
    index = number - 1

    def peak(snapshot: CapacitySnapshot) -> Peak | None:
        peaks = snapshot.current.peaks
        return peaks[index] if index < len(peaks) else None

    def attributes(snapshot: CapacitySnapshot) -> dict[str, Any]:
        found = peak(snapshot)
        if found is None:
            return {"start": None, "end": None}
        return {"start": found.start.isoformat(), "end": found.end.isoformat()}

    return CapacitySensorEntityDescription(
        key=f"{KEY_PREFIX}peak_{number}",
        translation_key=f"{KEY_PREFIX}peak",
        translation_placeholders={"number": str(number)},
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda s: None if (found := peak(s)) is None else found.energy,
        attributes_fn=attributes,
        live=False,
    )


COMMON: tuple[CapacitySensorEntityDescription, ...] = (
    _energy("hour", lambda s: s.hour),
    _energy("today", lambda s: s.today),
    _energy("month", lambda s: s.month),
    CapacitySensorEntityDescription(
        key=f"{KEY_PREFIX}energy_hour_projected",
        translation_key=f"{KEY_PREFIX}energy_hour_projected",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda s: s.projected_hour,
        attributes_fn=lambda s: {"power": s.power},
    ),
    CapacitySensorEntityDescription(
        key=f"{KEY_PREFIX}basis",
        translation_key=f"{KEY_PREFIX}basis",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        suggested_display_precision=2,
        value_fn=lambda s: s.current.basis,
        attributes_fn=_basis_attributes,
        live=False,
    ),
    _headroom(f"{KEY_PREFIX}headroom", lambda s: s.headroom),
)

STEP: tuple[CapacitySensorEntityDescription, ...] = (
    CapacitySensorEntityDescription(
        key=f"{KEY_PREFIX}step",
        translation_key=f"{KEY_PREFIX}step",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda s: None if (step := s.current.step) is None else step.index,
        attributes_fn=lambda s: {
            "lower": None if (step := s.current.step) is None else step.lower,
            "upper": None if step is None else step.upper,
        },
        live=False,
    ),
    CapacitySensorEntityDescription(
        key=f"{KEY_PREFIX}step_upper_limit",
        translation_key=f"{KEY_PREFIX}step_upper_limit",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.KILO_WATT,
        value_fn=lambda s: None if (step := s.current.step) is None else step.upper,
        live=False,
    ),
    _headroom(f"{KEY_PREFIX}step_headroom", lambda s: s.step_headroom),
)


def capacity_descriptions(config: CapacityConfig) -> list[CapacitySensorEntityDescription]:
    """The sensors of a configuration: Sweden's step sensors start disabled."""
    sweden = config.mode is CapacityMode.SWEDEN
    steps = [replace(d, entity_registry_enabled_default=False) for d in STEP] if sweden else STEP
    peaks = [_peak_description(number) for number in range(1, config.peak_count + 1)]
    return [*COMMON, *steps, *peaks]


@callback
def async_setup_capacity_entities(
    hass: HomeAssistant,
    entry: HanMeterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the capacity sensors; remove those the options no longer produce."""
    coordinator = entry.runtime_data
    runtime = async_get_capacity(hass, entry)
    descriptions = [] if runtime is None else capacity_descriptions(runtime.config)
    wanted = {f"{coordinator.meter_id}-{d.key}" for d in descriptions}
    prefix = f"{coordinator.meter_id}-{KEY_PREFIX}"
    registry = er.async_get(hass)
    for registry_entry in er.async_entries_for_config_entry(registry, entry.entry_id):
        unique_id = registry_entry.unique_id
        if (
            registry_entry.domain == Platform.SENSOR
            and unique_id.startswith(prefix)
            and unique_id not in wanted
        ):
            registry.async_remove(registry_entry.entity_id)
    if runtime is not None:
        async_add_entities(
            HanMeterCapacitySensor(coordinator, runtime, description)
            for description in descriptions
        )


class HanMeterCapacitySensor(HanMeterEntity, SensorEntity):
    """A value of the capacity tariff calculation."""

    entity_description: CapacitySensorEntityDescription
    _unrecorded_attributes = frozenset({"peaks", "previous_month_peaks"})

    def __init__(
        self,
        coordinator: HanMeterCoordinator,
        runtime: CapacityRuntime,
        description: CapacitySensorEntityDescription,
    ) -> None:
        """Initialize the sensor with the current snapshot, if any."""
        super().__init__(coordinator, description)
        self._runtime = runtime
        self._seen: tuple[CapacitySnapshot | None, bool] | None = None
        self._attr_extra_state_attributes = {}
        self._attr_last_reset = None
        self._async_take_snapshot()

    @property
    def available(self) -> bool:
        """Running-hour values need the meter; the month's summary does not."""
        return not self.entity_description.live or super().available

    async def async_added_to_hass(self) -> None:
        """Follow the runtime's snapshots as well as the meter's availability."""
        await super().async_added_to_hass()
        self.async_on_remove(self._runtime.async_add_listener(self._async_update))

    def _state_key(self) -> tuple[Any, ...]:
        return (
            self.available,
            self._attr_native_value,
            self._attr_extra_state_attributes,
            self._attr_last_reset,
        )

    @callback
    def _async_take_snapshot(self) -> None:
        snapshot = self._runtime.snapshot
        self._seen = (snapshot, self.available)
        description = self.entity_description
        if snapshot is None:
            self._attr_native_value = None
            self._attr_extra_state_attributes = {}
            self._attr_last_reset = None
            return
        value = description.value_fn(snapshot)
        self._attr_native_value = _round(value) if isinstance(value, float) else value
        self._attr_extra_state_attributes = description.attributes_fn(snapshot)
        if description.last_reset_fn is not None:
            self._attr_last_reset = description.last_reset_fn(snapshot)

    @callback
    def _handle_coordinator_update(self) -> None:
        self._async_update()

    @callback
    def _async_update(self) -> None:
        """Write the state when the snapshot or the availability changed it."""
        seen = self._seen
        if seen is not None and seen[0] is self._runtime.snapshot and seen[1] == self.available:
            return
        self._async_take_snapshot()
        self._async_write_if_changed()
