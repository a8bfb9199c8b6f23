"""Base entity for the HAN Meter integration."""

from __future__ import annotations

from typing import Any

from homeassistant.core import callback
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import HanMeterCoordinator


class HanMeterEntity(CoordinatorEntity[HanMeterCoordinator]):
    """Defines a HAN Meter entity: one value the meter sends.

    The coordinator calls every entity when the meter's availability changes;
    subclasses follow their own values as well.

    States are written only when what users see changed (`_state_key`). A meter
    repeats unchanged values every few seconds, and each write would cost Home
    Assistant a state calculation and an event. Skipping those writes leaves
    `last_reported` at the last change, as with most core integrations; whether
    the meter still sends is what the availability (the watchdog) shows.
    """

    _attr_has_entity_name = True
    # What the state machine holds: `_state_key()` at the last write.
    _written: tuple[Any, ...] | None = None

    def __init__(self, coordinator: HanMeterCoordinator, description: EntityDescription) -> None:
        """Initialize a HAN Meter entity."""
        super().__init__(coordinator=coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.meter_id}-{description.key}"
        self._attr_device_info = coordinator.device_info

    @property
    def available(self) -> bool:
        """Return if the meter is connected and sending data."""
        return self.coordinator.available

    def _state_key(self) -> tuple[Any, ...]:
        """Everything the written state shows (value, attributes, availability)."""
        raise NotImplementedError

    @callback
    def async_write_ha_state(self) -> None:
        """Write the state, remembering what was written (Home Assistant writes too)."""
        self._written = self._state_key()
        super().async_write_ha_state()

    @callback
    def _async_write_if_changed(self) -> None:
        """Write the state if it differs from the one written last."""
        key = self._state_key()
        if key != self._written:
            self._written = key
            super().async_write_ha_state()
