"""Descriptions of the HAN Meter sensors: known keys, and unknown OBIS codes by unit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
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
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .amshan import obis_map


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


class MeasurementKind(NamedTuple):
    """What the sensors of one kind of present value (power, current, ...) share."""

    device_class: SensorDeviceClass
    unit: str
    precision: int  # suggested display precision
    value_fn: Callable[[Any], StateType | datetime] = _as_is


POWER = MeasurementKind(SensorDeviceClass.POWER, UnitOfPower.WATT, 0)
REACTIVE_POWER = MeasurementKind(
    SensorDeviceClass.REACTIVE_POWER, UnitOfReactivePower.VOLT_AMPERE_REACTIVE, 0
)
CURRENT = MeasurementKind(SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 2)
VOLTAGE = MeasurementKind(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1)
POWER_FACTOR = MeasurementKind(SensorDeviceClass.POWER_FACTOR, PERCENTAGE, 0, _as_percentage)


def _measurement(
    kind: MeasurementKind, key: str, *, enabled: bool = True
) -> HanMeterSensorEntityDescription:
    return HanMeterSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=kind.device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=kind.unit,
        suggested_display_precision=kind.precision,
        entity_registry_enabled_default=enabled,
        value_fn=kind.value_fn,
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
        _measurement(POWER, obis_map.ACTIVE_POWER_IMPORT),
        _measurement(POWER, obis_map.ACTIVE_POWER_EXPORT),
        _measurement(POWER, obis_map.ACTIVE_POWER_IMPORT_L1),
        _measurement(POWER, obis_map.ACTIVE_POWER_IMPORT_L2),
        _measurement(POWER, obis_map.ACTIVE_POWER_IMPORT_L3),
        _measurement(POWER, obis_map.ACTIVE_POWER_EXPORT_L1),
        _measurement(POWER, obis_map.ACTIVE_POWER_EXPORT_L2),
        _measurement(POWER, obis_map.ACTIVE_POWER_EXPORT_L3),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_IMPORT),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_EXPORT),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_IMPORT_L1, enabled=False),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_IMPORT_L2, enabled=False),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_IMPORT_L3, enabled=False),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_EXPORT_L1, enabled=False),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_EXPORT_L2, enabled=False),
        _measurement(REACTIVE_POWER, obis_map.REACTIVE_POWER_EXPORT_L3, enabled=False),
        _measurement(CURRENT, obis_map.CURRENT_L1),
        _measurement(CURRENT, obis_map.CURRENT_L2),
        _measurement(CURRENT, obis_map.CURRENT_L3),
        _measurement(VOLTAGE, obis_map.VOLTAGE_L1),
        _measurement(VOLTAGE, obis_map.VOLTAGE_L2),
        _measurement(VOLTAGE, obis_map.VOLTAGE_L3),
        _measurement(POWER_FACTOR, obis_map.POWER_FACTOR),
        _measurement(POWER_FACTOR, obis_map.POWER_FACTOR_L1, enabled=False),
        _measurement(POWER_FACTOR, obis_map.POWER_FACTOR_L2, enabled=False),
        _measurement(POWER_FACTOR, obis_map.POWER_FACTOR_L3, enabled=False),
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
