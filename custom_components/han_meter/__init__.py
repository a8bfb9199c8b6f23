"""The HAN Meter integration: smart electricity meters on their HAN or P1 port."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .capacity_runtime import async_remove_capacity, async_setup_capacity, async_unload_capacity
from .coordinator import HanMeterConfigEntry, HanMeterCoordinator

PLATFORMS = [Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: HanMeterConfigEntry) -> bool:
    """Set up a HAN meter from a config entry.

    The meter pushes its data, so setup does not wait for it: when the meter cannot
    be reached the entities stay unavailable while the connection is retried.
    """
    coordinator = HanMeterCoordinator(hass, entry)
    entry.runtime_data = coordinator
    await async_setup_capacity(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HanMeterConfigEntry) -> bool:
    """Unload a HAN Meter config entry: close the connection."""
    if unload_ok := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await entry.runtime_data.async_stop()
        await async_unload_capacity(hass, entry)
    return unload_ok


async def async_remove_entry(hass: HomeAssistant, entry: HanMeterConfigEntry) -> None:
    """Delete the saved capacity tariff state of a removed entry."""
    await async_remove_capacity(hass, entry)


async def _async_update_listener(hass: HomeAssistant, entry: HanMeterConfigEntry) -> None:
    """Reload when the options change (data changes reload through their flows)."""
    if dict(entry.options) != entry.runtime_data.options:
        hass.config_entries.async_schedule_reload(entry.entry_id)
