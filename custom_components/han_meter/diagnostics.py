"""Diagnostics support for HAN Meter."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_DEVICE, CONF_HOST
from homeassistant.core import HomeAssistant

from .amshan import obis_map
from .capacity_runtime import async_get_capacity
from .const import CONF_AUTHENTICATION_KEY, CONF_ENCRYPTION_KEY
from .coordinator import HanMeterConfigEntry, HanMeterCoordinator

TO_REDACT = {
    CONF_HOST,
    CONF_DEVICE,
    obis_map.METER_ID,
    CONF_ENCRYPTION_KEY,
    CONF_AUTHENTICATION_KEY,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HanMeterConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    coordinator = entry.runtime_data
    manager = coordinator.manager
    secrets = [
        str(value)
        for value in (coordinator.meter_id, entry.data.get(CONF_HOST), entry.data.get(CONF_DEVICE))
        if value
    ]
    state = coordinator.data
    counters = coordinator.counters
    capacity = async_get_capacity(hass, entry)
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "connection": {
            "state": coordinator.connection_state,
            "available": coordinator.available,
            "last_error": _mask_text(manager.last_error, secrets) if manager else None,
            "counters": dataclasses.asdict(manager.counters) if manager else None,
        },
        "protocol": coordinator.async_protocol_counters(),
        "coordinator": {
            "messages": counters.messages,
            "decoded": counters.decoded,
            "decode_failures": counters.decode_failures,
            "handler_errors": counters.handler_errors,
            "foreign_meter": counters.foreign_meter,
            "energy_backwards": counters.energy_backwards,
            "connects": counters.connects,
            "reconnects": counters.reconnects,
            "last_message_time": _jsonable(counters.last_message_time),
            "multiplier": coordinator.multiplier,
            "watchdog_timeout": coordinator.watchdog_timeout,
        },
        "decoder": {
            "name": coordinator.decoder.decoder_name,
            "rejected_values": coordinator.decoder.rejected_values,
        },
        "encryption": _encryption(entry, coordinator),
        "state": {
            "readings": state.readings,
            "values": {
                key: REDACTED if key == obis_map.METER_ID else _jsonable(value)
                for key, value in state.values.items()
            },
            "units": dict(state.units),
        },
        "capacity": capacity.diagnostics() if capacity else None,
        "raw_messages": [
            _mask_bytes(raw, coordinator.meter_id) for raw in coordinator.raw_messages
        ],
    }


def _encryption(entry: HanMeterConfigEntry, coordinator: HanMeterCoordinator) -> dict[str, Any]:
    """Whether keys are set and how decryption goes (never the keys, nor the system title)."""
    unwrapper = coordinator.decoder.unwrapper
    monitor = coordinator.decryption
    return {
        "encryption_key_set": bool(entry.data.get(CONF_ENCRYPTION_KEY)),
        "authentication_key_set": bool(entry.data.get(CONF_AUTHENTICATION_KEY)),
        "last_message_encrypted": unwrapper.last_encrypted,
        "last_error": unwrapper.last_error,
        "counters": {**dataclasses.asdict(unwrapper.counters), "dropped": unwrapper.dropped},
        "consecutive_key_failures": monitor.consecutive_failures,
        "repair_issue": monitor.issue_raised,
    }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _mask_text(text: str | None, secrets: list[str]) -> str | None:
    """Replace the host, the port path and the meter id in a message."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _mask_bytes(raw: bytes, meter_id: str) -> str:
    """The message in hex, with the ASCII bytes of the meter id replaced by X."""
    try:
        needle = meter_id.encode("ascii")
    except UnicodeEncodeError:
        needle = b""
    if needle:
        raw = raw.replace(needle, b"X" * len(needle))
    return raw.hex()
