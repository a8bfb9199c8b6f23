"""Support for HAN Meter sensors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN
from homeassistant.components.sensor import (
    RestoreSensor,
    SensorEntity,
    SensorExtraStoredData,
    SensorStateClass,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .amshan import obis_map
from .amshan.reading import MeterReading
from .capacity_sensor import async_setup_capacity_entities
from .const import LOGGER
from .coordinator import HanMeterConfigEntry, HanMeterCoordinator
from .entity import HanMeterEntity
from .sensor_descriptions import SENSORS, HanMeterSensorEntityDescription, generic_description

# Push updates; nothing to parallelize.
PARALLEL_UPDATES = 0

# Keys shown in the device information rather than as entities.
DEVICE_INFO_KEYS = frozenset({obis_map.METER_ID, obis_map.METER_TYPE, obis_map.METER_MANUFACTURER})

# Longest text a state may hold.
MAX_STATE_LENGTH = 255


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HanMeterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up HAN Meter sensors; more appear as the meter sends new values."""
    async_setup_capacity_entities(hass, entry, async_add_entities)
    coordinator = entry.runtime_data
    # Keys with an entity, and those shown in the device information instead.
    done: set[str] = set(DEVICE_INFO_KEYS)

    @callback
    def _async_add(keys: Iterable[str]) -> None:
        state = coordinator.data
        entities: list[HanMeterSensorEntity] = []
        for key in keys:
            if key in done:
                continue
            if (description := SENSORS.get(key)) is None:
                # Only known keys come from the registry; the others from merged readings.
                description = generic_description(key, state.values[key], state.units.get(key))
            done.add(key)
            entity_class = (
                HanMeterTotalSensorEntity
                if description.state_class is SensorStateClass.TOTAL_INCREASING
                else HanMeterSensorEntity
            )
            entities.append(entity_class(coordinator, description))
        if entities:
            async_add_entities(entities)

    # Sensors of an earlier run exist right away, so that the energy sensors
    # restore their last value before the meter sends its next hourly list.
    prefix = f"{coordinator.meter_id}-"
    _async_add(
        key
        for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if registry_entry.domain == SENSOR_DOMAIN
        and (key := registry_entry.unique_id.removeprefix(prefix)) in SENSORS
    )
    _async_add(list(coordinator.data.values))

    @callback
    def _async_add_new_keys(reading: MeterReading, _received: datetime) -> None:
        if not reading.keys() <= done:  # most readings bring no new key
            _async_add(list(reading))

    entry.async_on_unload(coordinator.async_add_reading_listener(_async_add_new_keys))


class HanMeterSensorEntity(HanMeterEntity, SensorEntity):
    """Representation of a value the meter sends."""

    entity_description: HanMeterSensorEntityDescription

    def __init__(
        self, coordinator: HanMeterCoordinator, description: HanMeterSensorEntityDescription
    ) -> None:
        """Initialize the sensor with the meter's current value, if any."""
        super().__init__(coordinator, description)
        self._sequence = 0
        self._async_take_value()

    async def async_added_to_hass(self) -> None:
        """Follow the readings that carry this sensor's value, not every reading."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.async_add_value_listener(
                self.entity_description.key, self._handle_coordinator_update
            )
        )

    def _state_key(self) -> tuple[Any, ...]:
        # The type too: 1 and 1.0 are equal but show as "1" and "1.0".
        value = self._attr_native_value
        return (self.available, type(value), value)

    @callback
    def _async_take_value(self) -> None:
        """Take the meter's latest value of this key, each value that arrived once."""
        state = self.coordinator.data
        key = self.entity_description.key
        sequence = state.sequence.get(key, 0)
        if sequence != self._sequence:
            self._sequence = sequence
            self._async_set_value(state.values[key])

    @callback
    def _async_set_value(self, value: Any) -> None:
        native_value = self.entity_description.value_fn(value)
        if isinstance(native_value, str) and len(native_value) > MAX_STATE_LENGTH:
            native_value = native_value[:MAX_STATE_LENGTH]
        self._attr_native_value = native_value

    @callback
    def _handle_coordinator_update(self) -> None:
        """Take a value that arrived; write the state if it or the availability changed."""
        self._async_take_value()
        self._async_write_if_changed()


@dataclass
class HanMeterTotalExtraStoredData(SensorExtraStoredData):
    """Stored state of a cumulative sensor, with the multiplier it was read with."""

    multiplier: float

    def as_dict(self) -> dict[str, Any]:
        """Return a dict representation of the stored data."""
        return {**super().as_dict(), "multiplier": self.multiplier}


class HanMeterTotalSensorEntity(HanMeterSensorEntity, RestoreSensor):
    """A cumulative register (energy): restored after a restart, never decreasing."""

    @property
    def extra_restore_state_data(self) -> HanMeterTotalExtraStoredData:
        """Return the state to restore, with the multiplier in use."""
        return HanMeterTotalExtraStoredData(
            self.native_value, self.native_unit_of_measurement, self.coordinator.multiplier
        )

    async def async_added_to_hass(self) -> None:
        """Restore the last value unless the meter already sent a higher one."""
        await super().async_added_to_hass()
        if (extra := await self.async_get_last_extra_data()) is None:
            return
        if (last := await self.async_get_last_sensor_data()) is None:
            return
        restored = last.native_value
        if (
            not isinstance(restored, int | float)
            or isinstance(restored, bool)
            or last.native_unit_of_measurement != self.native_unit_of_measurement
            or extra.as_dict().get("multiplier", 1) != self.coordinator.multiplier
        ):
            return
        current = self._attr_native_value
        if not isinstance(current, int | float) or current < restored:
            self._attr_native_value = restored

    @callback
    def _async_set_value(self, value: Any) -> None:
        current = self._attr_native_value
        if isinstance(current, int | float) and isinstance(value, int | float) and value < current:
            self.coordinator.counters.energy_backwards += 1
            LOGGER.debug(
                "Ignoring %s %s: lower than the last value %s",
                self.entity_description.key,
                value,
                current,
            )
            return
        super()._async_set_value(value)
