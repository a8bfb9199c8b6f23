"""The coordinator's consumer survives an unexpected error while handling a message."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.amshan.reading import MeterReading

from .conftest import AIDON_LIST1, AIDON_LIST2, FrameServer, send_and_wait

POWER = "sensor.aidon_6525_power_import"


async def test_error_while_handling_a_message_is_logged_once_and_skipped(
    hass: HomeAssistant,
    meter_server: FrameServer,
    connected_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message whose handling raises is counted and logged once; the next ones go on."""
    coordinator = connected_entry.runtime_data
    failures = 2

    def failing_listener(_reading: MeterReading, _received: datetime) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("listener broke")

    remove = coordinator.async_add_reading_listener(failing_listener)
    caplog.set_level(logging.ERROR)
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1, AIDON_LIST1])
    assert coordinator.counters.handler_errors == 2
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "listener broke" in caplog.text

    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert hass.states.get(POWER).state == "280"
    assert coordinator.counters.handler_errors == 2
    remove()
