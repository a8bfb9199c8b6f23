"""Tests for the HAN Meter setup, unload, availability and the coordinator."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.amshan.reading import MeterReading
from custom_components.han_meter.const import CONF_WATCHDOG_TIMEOUT

from .conftest import (
    AIDON_LIST1,
    AIDON_LIST2,
    FrameServer,
    network_entry,
    send_and_wait,
    setup_entry,
    unload_entry,
    wait_for,
)

POWER = "sensor.aidon_6525_power_import"
JUNK = build_hdlc_frame(b"\xe6\xe7\x00\x0f\x01")  # a valid frame that does not decode


async def test_setup_and_unload(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """A set-up entry reads the bridge; unloading closes the connection."""
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert hass.states.get(POWER).state == "280"
    coordinator = connected_entry.runtime_data

    await unload_entry(hass, connected_entry)
    assert connected_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    assert coordinator.connection_state == "closed"
    await wait_for(lambda: meter_server.clients == 0)


async def test_setup_with_unreachable_meter(hass: HomeAssistant, socket_enabled: None) -> None:
    """Setup does not fail when the bridge is down; the meter is just unavailable."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    entry = network_entry(port)
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    await wait_for(lambda: coordinator.manager.counters.connect_failures > 0)
    assert not coordinator.available
    assert coordinator.connection_state in ("waiting", "connecting")
    await unload_entry(hass, entry)


async def test_connection_lost_and_back(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Losing the bridge makes the sensors unavailable; the next message brings them back."""
    coordinator = connected_entry.runtime_data
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1])
    assert hass.states.get(POWER).state == "1661"

    await meter_server.drop_clients()
    await wait_for(lambda: hass.states.get(POWER).state == STATE_UNAVAILABLE)

    await wait_for(lambda: meter_server.clients == 1)  # the manager reconnects
    await wait_for(lambda: coordinator.connection_state == "connected")
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE  # connected, no data yet
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert hass.states.get(POWER).state == "280"
    assert coordinator.counters.connects == 2
    assert coordinator.counters.reconnects == 1
    assert coordinator.async_protocol_counters()["messages"] == 2


async def test_watchdog(
    hass: HomeAssistant,
    meter_server: FrameServer,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Frames that do not decode do not keep the meter available."""
    entry = network_entry(meter_server.port, options={CONF_WATCHDOG_TIMEOUT: 0.5})
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST1])
    assert hass.states.get(POWER).state == "1661"

    meter_server.stream = [JUNK]
    await wait_for(lambda: hass.states.get(POWER).state == STATE_UNAVAILABLE)
    assert "Meter Aidon 6525 is unavailable: no readings for 0.5 s" in caplog.text
    assert entry.runtime_data.counters.decode_failures > 0

    meter_server.stream = [AIDON_LIST1]
    await wait_for(lambda: hass.states.get(POWER).state == "1661")
    assert "Meter Aidon 6525 is available again" in caplog.text
    await unload_entry(hass, entry)


async def test_home_assistant_stop(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """The connection is closed when Home Assistant stops."""
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await wait_for(lambda: meter_server.clients == 0)
    assert connected_entry.runtime_data.connection_state == "closed"


async def test_reading_listener(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Other parts of the integration can follow every decoded reading."""
    received: list[tuple[MeterReading, datetime]] = []
    coordinator = connected_entry.runtime_data
    remove = coordinator.async_add_reading_listener(
        lambda reading, when: received.append((reading, when))
    )
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1, AIDON_LIST2])
    assert [reading["active_power_import"] for reading, _ in received] == [1661, 280]
    assert received[1][0].units["active_power_import"] == "W"
    remove()
    remove()
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1])
    assert len(received) == 2
    state = coordinator.data
    assert state.values["active_power_import"] == 1661
    assert state.values["voltage_l1"] == 227.4  # persists across lists
    assert state.sequence["active_power_import"] == 3
    assert state.sequence["voltage_l1"] == 2


async def test_start_twice_is_harmless(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Starting a running coordinator does nothing."""
    coordinator = connected_entry.runtime_data
    manager = coordinator.manager
    coordinator.async_start()
    assert coordinator.manager is manager
    assert await coordinator._async_update_data() is coordinator.data
