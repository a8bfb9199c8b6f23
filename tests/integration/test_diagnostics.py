"""Tests for the HAN Meter diagnostics."""

from __future__ import annotations

import json

from homeassistant.components.diagnostics import REDACTED
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.diagnostics import (
    _mask_bytes,
    _mask_text,
    async_get_config_entry_diagnostics,
)

from .conftest import (
    AIDON_LIST1,
    AIDON_LIST2,
    AIDON_LIST3,
    AIDON_METER_ID,
    FrameServer,
    wait_for,
)


async def test_diagnostics(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Diagnostics show the connection, counters and raw messages, without identities."""
    messages = [AIDON_LIST1, AIDON_LIST2, b"\x7e\xa0\x10garbage~", AIDON_LIST3]
    coordinator = connected_entry.runtime_data
    for message in messages:
        meter_server.send(message)
    await wait_for(lambda: coordinator.counters.messages == 3)
    await hass.async_block_till_done()

    diagnostics = await async_get_config_entry_diagnostics(hass, connected_entry)
    text = json.dumps(diagnostics)  # serializable
    assert AIDON_METER_ID not in text
    assert AIDON_METER_ID.encode().hex() not in text
    assert "127.0.0.1" not in text

    assert diagnostics["entry"] == {
        "data": {
            "transport": "network",
            "host": REDACTED,
            "port": meter_server.port,
            "meter_manufacturer": "Aidon",
            "meter_type": "6525",
        },
        "options": {},
    }
    assert diagnostics["connection"]["state"] == "connected"
    assert diagnostics["connection"]["available"] is True
    assert diagnostics["connection"]["counters"]["connects"] == 1
    assert diagnostics["protocol"]["messages"] == 3
    assert diagnostics["protocol"]["bytes_received"] == sum(map(len, messages))
    coordinator_counters = diagnostics["coordinator"]
    assert coordinator_counters["messages"] == 3
    assert coordinator_counters["decoded"] == 3
    assert coordinator_counters["decode_failures"] == 0
    assert coordinator_counters["reconnects"] == 0
    assert coordinator_counters["last_message_time"] is not None
    assert diagnostics["decoder"] == {"name": "aidon", "rejected_values": 0}
    assert diagnostics["state"]["values"]["meter_id"] == REDACTED
    assert diagnostics["state"]["values"]["meter_datetime"] == "2020-01-21T16:00:00+00:00"
    assert diagnostics["state"]["units"]["active_power_import_total"] == "Wh"

    raw = diagnostics["raw_messages"]
    assert raw[0] == AIDON_LIST1.hex()
    masked = AIDON_LIST2.replace(AIDON_METER_ID.encode(), b"X" * 16).hex()
    assert raw[1] == masked
    assert len(raw) == 3


async def test_diagnostics_masks_errors(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """The last connection error does not reveal the address."""
    await meter_server.drop_clients()
    manager = connected_entry.runtime_data.manager
    await wait_for(lambda: manager.last_error is not None)
    manager.last_error = "cannot connect: Connect call failed ('127.0.0.1', 1)"
    diagnostics = await async_get_config_entry_diagnostics(hass, connected_entry)
    assert diagnostics["connection"]["last_error"] == (
        f"cannot connect: Connect call failed ('{REDACTED}', 1)"
    )


def test_masking_helpers() -> None:
    """Masks work for ids that are not ASCII and for missing errors."""
    assert _mask_text(None, ["x"]) is None
    assert _mask_bytes(b"abc", "\u00e9") == b"abc".hex()
    assert _mask_bytes(b"abc", "") == b"abc".hex()
    assert _mask_bytes(b"xabcx", "abc") == b"xXXXx".hex()
