"""Support for HAN Meter sensors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
)
from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorExtraStoredData,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactivePower,
    UnitOfVolume,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .amshan import obis_map
from .capacity_sensor import async_setup_capacity_entities
from .const import LOGGER
from .coordinator import HanMeterConfigEntry, HanMeterCoordinator
from .entity import HanMeterEntity

# Push updates; nothing to parallelize.
PARALLEL_UPDATES = 0

# Keys shown in the device information rather than as entities.
DEVICE_INFO_KEYS = frozenset({obis_map.METER_ID, obis_map.METER_TYPE, obis_map.METER_MANUFACTURER})

# Longest text a state may hold.
MAX_STATE_LENGTH = 255


def _as_is(value: Any) -> StateType | datetime:
    """Return numbers and text unchanged; anything else as text."""
    if value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, datetime):
        return _as_timestamp(value)
    return str(value)


def _as_percentage(value: Any) -> StateType:
    """Convert a power factor (0..1) to a percentage."""
    return round(float(value) * 100, 2)


def _as_timestamp(value: Any) -> datetime | None:
    """Return an aware datetime; the meter's wall time is local time."""
    if isinstance(value, str):
        value = dt_util.parse_datetime(value)
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return value


@dataclass(frozen=True, kw_only=True)
class HanMeterSensorEntityDescription(SensorEntityDescription):
    """Class describing HAN Meter sensor entities."""

    value_fn: Callable[[Any], StateType | datetime] = _as_is


def _power(key: str, *, enabled: bool = True) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
    )


def _reactive_power(key: str, *, enabled: bool = True) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.REACTIVE_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
    )


def _current(key: str) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=2,
    )


def _voltage(key: str) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
    )


def _power_factor(key: str, *, enabled: bool = True) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER_FACTOR,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
        value_fn=_as_percentage,
    )


def _energy(key: str) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
    )


def _reactive_energy(key: str) -> HanMeterSensorEntityDescription:
    # Home Assistant 2025.4 has no reactive energy device class.
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement="varh",
        suggested_display_precision=0,
    )


SENSORS: dict[str, HanMeterSensorEntityDescription] = {
    description.key: description
    for description in (
        _power(obis_map.ACTIVE_POWER_IMPORT),
        _power(obis_map.ACTIVE_POWER_EXPORT),
        _power(obis_map.ACTIVE_POWER_IMPORT_L1),
        _power(obis_map.ACTIVE_POWER_IMPORT_L2),
        _power(obis_map.ACTIVE_POWER_IMPORT_L3),
        _power(obis_map.ACTIVE_POWER_EXPORT_L1),
        _power(obis_map.ACTIVE_POWER_EXPORT_L2),
        _power(obis_map.ACTIVE_POWER_EXPORT_L3),
        _reactive_power(obis_map.REACTIVE_POWER_IMPORT),
        _reactive_power(obis_map.REACTIVE_POWER_EXPORT),
        _reactive_power(obis_map.REACTIVE_POWER_IMPORT_L1, enabled=False),
        _reactive_power(obis_map.REACTIVE_POWER_IMPORT_L2, enabled=False),
        _reactive_power(obis_map.REACTIVE_POWER_IMPORT_L3, enabled=False),
        _reactive_power(obis_map.REACTIVE_POWER_EXPORT_L1, enabled=False),
        _reactive_power(obis_map.REACTIVE_POWER_EXPORT_L2, enabled=False),
        _reactive_power(obis_map.REACTIVE_POWER_EXPORT_L3, enabled=False),
        _current(obis_map.CURRENT_L1),
        _current(obis_map.CURRENT_L2),
        _current(obis_map.CURRENT_L3),
        _voltage(obis_map.VOLTAGE_L1),
        _voltage(obis_map.VOLTAGE_L2),
        _voltage(obis_map.VOLTAGE_L3),
        _power_factor(obis_map.POWER_FACTOR),
        _power_factor(obis_map.POWER_FACTOR_L1, enabled=False),
        _power_factor(obis_map.POWER_FACTOR_L2, enabled=False),
        _power_factor(obis_map.POWER_FACTOR_L3, enabled=False),
        _energy(obis_map.ACTIVE_POWER_IMPORT_TOTAL),
        _energy(obis_map.ACTIVE_POWER_EXPORT_TOTAL),
        _energy(obis_map.ACTIVE_POWER_IMPORT_TOTAL_T1),
        _energy(obis_map.ACTIVE_POWER_IMPORT_TOTAL_T2),
        _energy(obis_map.ACTIVE_POWER_EXPORT_TOTAL_T1),
        _energy(obis_map.ACTIVE_POWER_EXPORT_TOTAL_T2),
        _reactive_energy(obis_map.REACTIVE_POWER_IMPORT_TOTAL),
        _reactive_energy(obis_map.REACTIVE_POWER_EXPORT_TOTAL),
        HanMeterSensorEntityDescription(
            key=obis_map.LIST_VER_ID,
            translation_key=obis_map.LIST_VER_ID,
            entity_category=EntityCategory.DIAGNOSTIC,
        ),
        HanMeterSensorEntityDescription(
            key=obis_map.METER_DATETIME,
            translation_key=obis_map.METER_DATETIME,
            device_class=SensorDeviceClass.TIMESTAMP,
            entity_category=EntityCategory.DIAGNOSTIC,
            # Changes with every list; recording it is rarely useful.
            entity_registry_enabled_default=False,
            value_fn=_as_timestamp,
        ),
    )
}

# Unknown OBIS codes: (device class, state class, unit) by the unit the meter gives.
GENERIC_UNITS: dict[str, tuple[SensorDeviceClass | None, SensorStateClass, str]] = {
    "W": (SensorDeviceClass.POWER, SensorStateClass.MEASUREMENT, UnitOfPower.WATT),
    "kW": (SensorDeviceClass.POWER, SensorStateClass.MEASUREMENT, UnitOfPower.KILO_WATT),
    "var": (
        SensorDeviceClass.REACTIVE_POWER,
        SensorStateClass.MEASUREMENT,
        UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
    ),
    "VA": (
        SensorDeviceClass.APPARENT_POWER,
        SensorStateClass.MEASUREMENT,
        UnitOfApparentPower.VOLT_AMPERE,
    ),
    "A": (SensorDeviceClass.CURRENT, SensorStateClass.MEASUREMENT, UnitOfElectricCurrent.AMPERE),
    "V": (SensorDeviceClass.VOLTAGE, SensorStateClass.MEASUREMENT, UnitOfElectricPotential.VOLT),
    "Hz": (SensorDeviceClass.FREQUENCY, SensorStateClass.MEASUREMENT, UnitOfFrequency.HERTZ),
    "Wh": (SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING, UnitOfEnergy.WATT_HOUR),
    "kWh": (
        SensorDeviceClass.ENERGY,
        SensorStateClass.TOTAL_INCREASING,
        UnitOfEnergy.KILO_WATT_HOUR,
    ),
    "varh": (None, SensorStateClass.TOTAL_INCREASING, "varh"),
    "kvarh": (None, SensorStateClass.TOTAL_INCREASING, "kvarh"),
    "m3": (SensorDeviceClass.GAS, SensorStateClass.TOTAL_INCREASING, UnitOfVolume.CUBIC_METERS),
}


def generic_description(key: str, value: Any, unit: str | None) -> HanMeterSensorEntityDescription:
    """Describe a value with an OBIS code the integration does not know."""
    device_class: SensorDeviceClass | None = None
    state_class: SensorStateClass | None = None
    native_unit: str | None = None
    if isinstance(value, datetime):
        device_class = SensorDeviceClass.TIMESTAMP
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if unit is not None and unit in GENERIC_UNITS:
            device_class, state_class, native_unit = GENERIC_UNITS[unit]
        else:
            state_class, native_unit = SensorStateClass.MEASUREMENT, unit
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key="obis_code",
        translation_placeholders={"code": key},
        device_class=device_class,
        state_class=state_class,
        native_unit_of_measurement=native_unit,
        entity_registry_enabled_default=False,
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HanMeterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up HAN Meter sensors; more appear as the meter sends new values."""
    async_setup_capacity_entities(hass, entry, async_add_entities)
    coordinator = entry.runtime_data
    added: set[str] = set()

    @callback
    def _async_add(keys: Iterable[str]) -> None:
        state = coordinator.data
        entities: list[HanMeterSensorEntity] = []
        for key in keys:
            if key in added or key in DEVICE_INFO_KEYS:
                continue
            if (description := SENSORS.get(key)) is None:
                if key not in state.values:
                    continue
                description = generic_description(key, state.values[key], state.units.get(key))
            added.add(key)
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
    def _async_add_new_keys() -> None:
        if (reading := coordinator.data.last_reading) is not None:
            _async_add(list(reading))

    entry.async_on_unload(coordinator.async_add_listener(_async_add_new_keys))


class HanMeterSensorEntity(HanMeterEntity, SensorEntity):
    """Representation of a value the meter sends."""

    entity_description: HanMeterSensorEntityDescription

    def __init__(
        self, coordinator: HanMeterCoordinator, description: HanMeterSensorEntityDescription
    ) -> None:
        """Initialize the sensor with the meter's current value, if any."""
        super().__init__(coordinator, description)
        self._sequence = 0
        self._written_available = False
        self._async_take_value()

    async def async_added_to_hass(self) -> None:
        """Remember the availability written when the entity was added."""
        await super().async_added_to_hass()
        self._written_available = self.available

    @callback
    def _async_take_value(self) -> bool:
        """Take the meter's latest value of this key; True if a new one arrived."""
        state = self.coordinator.data
        key = self.entity_description.key
        sequence = state.sequence.get(key, 0)
        if sequence == self._sequence:
            return False
        self._sequence = sequence
        self._async_set_value(state.values[key])
        return True

    @callback
    def _async_set_value(self, value: Any) -> None:
        native_value = self.entity_description.value_fn(value)
        if isinstance(native_value, str) and len(native_value) > MAX_STATE_LENGTH:
            native_value = native_value[:MAX_STATE_LENGTH]
        self._attr_native_value = native_value

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state when this value or the availability changed."""
        new_value = self._async_take_value()
        available = self.available
        if new_value or available != self._written_available:
            self._written_available = available
            self.async_write_ha_state()


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
