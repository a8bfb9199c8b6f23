"""Base entity for the HAN Meter integration."""

from __future__ import annotations

from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import HanMeterCoordinator


class HanMeterEntity(CoordinatorEntity[HanMeterCoordinator]):
    """Defines a HAN Meter entity: one value the meter sends."""

    _attr_has_entity_name = True

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
