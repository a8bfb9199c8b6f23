"""The meter as a device: what it says it is, and whether a reading is its own."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .amshan import obis_map
from .amshan.reading import MeterReading
from .const import (
    CONF_IDENTIFIED_BY,
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    DOMAIN,
    IDENTIFIED_BY_METER_ID,
    LOGGER,
)


@dataclass(slots=True)
class DeviceIdentity:
    """What the meter says it is, shown as the device's manufacturer, model and version."""

    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None

    def update(self, reading: MeterReading) -> bool:
        """Take the identity values a reading carries; True if any changed."""
        before = (self.manufacturer, self.model, self.sw_version)
        self.manufacturer = _text(reading, obis_map.METER_MANUFACTURER, self.manufacturer)
        self.model = _text(reading, obis_map.METER_TYPE, self.model)
        self.sw_version = _text(reading, obis_map.LIST_VER_ID, self.sw_version)
        return (self.manufacturer, self.model, self.sw_version) != before


def _text(reading: MeterReading, key: str, default: str | None) -> str | None:
    return str(value) if (value := reading.get(key)) is not None else default


class MeterDevice:
    """The device registry entry of a config entry's meter, kept up to date."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, meter_id: str) -> None:
        """Start from the identity the config flow found."""
        self._hass = hass
        self._entry = entry
        self.meter_id = meter_id
        self._identity = DeviceIdentity(
            manufacturer=entry.data.get(CONF_METER_MANUFACTURER) or None,
            model=entry.data.get(CONF_METER_TYPE) or None,
        )
        self._foreign_source = False
        self._foreign_logged = False

    @property
    def device_info(self) -> DeviceInfo:
        """Device registry information of the meter."""
        identity = self._identity
        return DeviceInfo(
            identifiers={(DOMAIN, self.meter_id)},
            name=self._entry.title,
            manufacturer=identity.manufacturer,
            model=identity.model,
            serial_number=self.meter_id,
            sw_version=identity.sw_version,
        )

    @callback
    def async_is_foreign(self, reading: MeterReading) -> bool:
        """Whether a reading comes from another meter (an adapter moved to another meter).

        Readings without a meter id (list 1) belong to the meter of the last one with it.
        """
        meter_id = reading.get(obis_map.METER_ID)
        if meter_id is not None:
            self._foreign_source = str(meter_id) != self.meter_id and (
                self._entry.data.get(CONF_IDENTIFIED_BY, IDENTIFIED_BY_METER_ID)
                == IDENTIFIED_BY_METER_ID
            )
        if self._foreign_source and not self._foreign_logged:
            LOGGER.warning(
                "Ignoring data of another meter on the connection of %s; "
                "reconfigure the entry if the adapter was moved",
                self._entry.title,
            )
            self._foreign_logged = True
        return self._foreign_source

    @callback
    def async_update(self, reading: MeterReading) -> None:
        """Update the device registry when the meter reveals its identity."""
        identity = self._identity
        if not identity.update(reading):
            return
        device_registry = dr.async_get(self._hass)
        if device := device_registry.async_get_device(identifiers={(DOMAIN, self.meter_id)}):
            device_registry.async_update_device(
                device.id,
                manufacturer=identity.manufacturer,
                model=identity.model,
                sw_version=identity.sw_version,
            )
