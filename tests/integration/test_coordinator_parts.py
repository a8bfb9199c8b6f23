"""The parts the coordinator is made of: availability, device identity, state, listeners."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.han_meter.amshan.reading import MeterReading
from custom_components.han_meter.availability import MeterAvailability
from custom_components.han_meter.capacity_options import CONF_CAPACITY_MODE, MODE_OFF
from custom_components.han_meter.const import DOMAIN
from custom_components.han_meter.coordinator import (
    CONNECTION_ENDED,
    QUEUE_SIZE,
    HanMeterCoordinator,
)
from custom_components.han_meter.listeners import Listeners
from custom_components.han_meter.meter_state import MeterState

from .conftest import (
    AIDON_LIST2,
    AIDON_METER_ID,
    FrameServer,
    network_entry,
    send_and_wait,
    setup_entry,
    unload_entry,
    wait_for,
)

TIMEOUT = 0.2  # seconds, the watchdog of these tests


async def test_availability(hass: HomeAssistant, caplog: pytest.LogCaptureFixture) -> None:
    """Connected and receiving; the watchdog and the connection take it away."""
    changes: list[bool] = []
    availability = MeterAvailability(
        hass, "Test meter", TIMEOUT, lambda: changes.append(availability.available)
    )
    # A reading while the connection opens: available once it is open.
    assert availability.async_reading() is False
    assert not availability.available
    availability.async_set_connected(True)
    assert changes == [True]
    # Readings that keep it available are not reported.
    await asyncio.sleep(TIMEOUT / 2)
    assert availability.async_reading() is False
    # The watchdog period of the first reading is over, not the one of the second.
    await asyncio.sleep(TIMEOUT * 3 / 4)
    assert changes == [True]

    await wait_for(lambda: changes == [True, False])
    assert caplog.text.count("Meter Test meter is unavailable: no readings for 0.2 s") == 1
    # The reading that makes it available again is reported by its return value.
    assert availability.async_reading() is True
    assert availability.available
    assert changes == [True, False]
    assert "Meter Test meter is available again" in caplog.text

    # Disconnected: unavailable at once; the watchdog then finds nothing to do.
    availability.async_set_connected(False)
    assert changes == [True, False, False]
    await asyncio.sleep(TIMEOUT * 2)
    assert changes == [True, False, False]
    assert caplog.text.count("is unavailable") == 1
    assert caplog.text.count("is available again") == 1

    # Stopping while available reports the change and leaves no timer behind.
    availability.async_set_connected(True)
    assert availability.async_reading() is True
    availability.async_stop()
    availability.async_stop()
    assert changes == [True, False, False, False]


async def test_identity_known_before_the_device_exists(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """Without capacity sensors the first reading comes before any entity: its identity
    still ends up in the device."""
    entry = network_entry(meter_server.port, options={CONF_CAPACITY_MODE: MODE_OFF})
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    device_registry = dr.async_get(hass)
    assert device_registry.async_get_device(identifiers={(DOMAIN, AIDON_METER_ID)}) is None

    await send_and_wait(hass, meter_server, entry, [AIDON_LIST2])
    device = device_registry.async_get_device(identifiers={(DOMAIN, AIDON_METER_ID)})
    assert device is not None
    assert (device.manufacturer, device.model, device.sw_version) == (
        "Aidon",
        "6525",
        "AIDON_V0001",
    )
    assert er.async_entries_for_device(er.async_get(hass), device.id)
    await unload_entry(hass, entry)


async def test_stop_before_start_and_queued_connection_ends(hass: HomeAssistant) -> None:
    """A queue full of connection ends drops the oldest end, and still counts one per end
    queued; a coordinator that never started stops cleanly and forgets the queue."""
    entry = network_entry(3001)
    entry.add_to_hass(hass)
    coordinator = HanMeterCoordinator(hass, entry)
    queue = coordinator._queue
    for _ in range(QUEUE_SIZE + 1):
        coordinator._async_queue_connection_end()
    assert queue.full()
    assert coordinator._ends_queued == QUEUE_SIZE
    assert {queue.get_nowait() for _ in range(QUEUE_SIZE)} == {CONNECTION_ENDED}
    queue.put_nowait(1)

    await coordinator.async_stop()
    assert queue.empty()
    assert coordinator._ends_queued == 0
    assert coordinator.connection_state is None
    assert not coordinator.available


def test_values_left_empty_keep_the_last_ones() -> None:
    """A value a reading leaves empty keeps the one of an earlier reading."""
    state = MeterState()
    state.merge(MeterReading({"voltage_l1": 227.4, "current_l1": 1.3}, units={"voltage_l1": "V"}))
    state.merge(MeterReading({"voltage_l1": None, "current_l1": 1.4}, units={"current_l1": "A"}))
    assert state.values == {"voltage_l1": 227.4, "current_l1": 1.4}
    assert state.units == {"voltage_l1": "V", "current_l1": "A"}
    assert state.sequence == {"voltage_l1": 1, "current_l1": 2}
    assert state.readings == 2


def test_listeners_removed_while_called() -> None:
    """Listeners present when the call starts are all called, even if one removes another."""
    listeners = Listeners[[int]]()
    calls: list[tuple[str, int]] = []
    remove_second = listeners.add(lambda n: calls.append(("second", n)))

    def first(n: int) -> None:
        calls.append(("first", n))
        remove_second()

    listeners.add(first)
    listeners(1)
    listeners(2)
    assert calls == [("second", 1), ("first", 1), ("first", 2)]
