"""Shared by the encrypted-meter tests: keys, simulated encrypted frames, entries, flows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig
from custom_components.han_meter.const import DOMAIN

from .conftest import network_entry

KEY = bytes.fromhex("8a7b6c5d4e3f20119a8b7c6d5e4f3021")
AUTH = bytes.fromhex("0123456789abcdeffedcba9876543210")
NEW_KEY = bytes.fromhex("5f4e3d2c1b0a99887766554433221100")
NEW_AUTH = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")
SECRETS = (KEY, AUTH, NEW_KEY, NEW_AUTH)
# The simulated Kamstrup meter (amshan.builder_layouts defaults).
SIM_METER_ID = "5706567277656672"
SIM_TITLE = "Kamstrup sim"
START = datetime(2025, 3, 3, 12, 20, tzinfo=ZoneInfo("Europe/Oslo"))


def kamstrup(key: bytes | None = KEY, auth: bytes | None = AUTH, **options: Any) -> MeterSimulator:
    """A simulated Kamstrup meter (10 s lists, every one with the meter id)."""
    settings: dict[str, Any] = {"meter": "kamstrup", "port": 0, "speed": 100.0}
    settings.update(options)
    return MeterSimulator(
        SimulatorConfig(encryption_key=key, authentication_key=auth if key else None, **settings)
    )


def frames(key: bytes | None, auth: bytes | None, count: int, first: int = 0) -> list[bytes]:
    """`count` successive messages of the simulated Kamstrup meter with these keys."""
    sim = kamstrup(key, auth, start=START)
    return [sim.message_at(START + timedelta(seconds=10 * (first + n))).data for n in range(count)]


def keys_data(key: bytes | None = KEY, auth: bytes | None = AUTH) -> dict[str, str]:
    """Keys as a config entry stores them."""
    data = {}
    if key is not None:
        data["encryption_key"] = key.hex()
    if auth is not None:
        data["authentication_key"] = auth.hex()
    return data


def encrypted_entry(port: int, **keys: str) -> MockConfigEntry:
    """A config entry for the simulated Kamstrup meter with keys."""
    entry = network_entry(port, meter_id=SIM_METER_ID, title=SIM_TITLE)
    return MockConfigEntry(
        domain=DOMAIN,
        title=entry.title,
        unique_id=entry.unique_id,
        data={**entry.data, **keys},
    )


def assert_no_secret(text: str) -> None:
    """No key appears in `text`, in any case."""
    lowered = text.lower()
    for secret in SECRETS:
        assert secret.hex() not in lowered
        assert ":".join(f"{byte:02x}" for byte in secret) not in lowered


async def start_fix_flow(hass: HomeAssistant, issue_id: str) -> FlowResult:
    """Open the repair issue's fix flow (as the Repairs dashboard does)."""
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "new_keys"
    return result


async def configure_fix_flow(
    hass: HomeAssistant, flow: FlowResult, user_input: dict[str, Any]
) -> FlowResult:
    """Submit the fix flow's form."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return await manager.async_configure(flow["flow_id"], user_input)
