"""An encrypted meter end to end: the simulator's encrypted stream over real TCP on
127.0.0.1, the config flow with its key errors, the entities, the diagnostics, and the
repair flow when the grid company changes the key."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from unittest.mock import patch

import pytest
from homeassistant.components.diagnostics import REDACTED
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir

from custom_components.han_meter.amshan.simulator import MeterSimulator
from custom_components.han_meter.const import DOMAIN
from custom_components.han_meter.decryption import issue_id_for
from custom_components.han_meter.diagnostics import async_get_config_entry_diagnostics

from .conftest import unload_entry, wait_for
from .encryption_helpers import (
    AUTH,
    KEY,
    NEW_AUTH,
    NEW_KEY,
    SIM_METER_ID,
    assert_no_secret,
    configure_fix_flow,
    kamstrup,
    start_fix_flow,
)

pytestmark = pytest.mark.usefixtures("short_timeouts")


@pytest.fixture
async def meter(socket_enabled: None) -> AsyncGenerator[MeterSimulator]:
    """A Kamstrup meter that encrypts and authenticates (as Danish ones do)."""
    simulator = kamstrup(KEY, AUTH)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def _network_form(hass: HomeAssistant) -> FlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "network"}
    )
    assert result["type"] is FlowResultType.FORM
    return result


async def _submit(hass: HomeAssistant, flow: FlowResult, **fields: object) -> FlowResult:
    """Submit a network or serial form; wait out the validation when it starts."""
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], fields)
    if result["type"] is FlowResultType.SHOW_PROGRESS:
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    return result


def _suggested(form: FlowResult) -> dict[str, object]:
    return {
        key.schema: key.description["suggested_value"]
        for key in form["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


def _state(hass: HomeAssistant, entry: ConfigEntry, key: str) -> str:
    """The state of the entry's sensor for a reading key."""
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{SIM_METER_ID}-{key}")
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_encrypted_meter_end_to_end(
    hass: HomeAssistant, meter: MeterSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Errors for no key, a wrong key and a wrong authentication key; then a working
    entry; then the key changes and the repair flow takes the new one. No key is
    ever logged."""
    caplog.set_level(logging.DEBUG)
    host, port = "127.0.0.1", meter.port
    flow = await _network_form(hass)

    result = await _submit(hass, flow, host=host, port=port)
    assert result["errors"] == {"encryption_key": "encrypted_no_key"}
    assert _suggested(result) == {CONF_HOST: host, CONF_PORT: port}  # kept for the retry

    result = await _submit(hass, result, host=host, port=port, encryption_key="00112233" * 4)
    assert result["errors"] == {"encryption_key": "wrong_key"}
    result = await _submit(
        hass, result, host=host, port=port, encryption_key=KEY.hex(), authentication_key=KEY.hex()
    )
    assert result["errors"] == {"authentication_key": "wrong_authentication_key"}
    assert _suggested(result)["encryption_key"] == KEY.hex()

    typed = "0x" + ":".join(f"{byte:02X}" for byte in KEY)  # as some grid companies print it
    result = await _submit(
        hass,
        result,
        host=host,
        port=port,
        encryption_key=typed,
        authentication_key=" ".join(AUTH.hex()[i : i + 4] for i in range(0, 32, 4)),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == SIM_METER_ID
    assert entry.data["encryption_key"] == KEY.hex()
    assert entry.data["authentication_key"] == AUTH.hex()
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # The entities show what the meter encrypted.
    coordinator = entry.runtime_data
    await wait_for(lambda: coordinator.counters.decoded >= 3, 10)
    await hass.async_block_till_done()
    values = coordinator.data.values
    power = float(_state(hass, entry, "active_power_import"))
    assert power == values["active_power_import"]
    assert any(abs(sent.values["active_power_import"] - power) <= 1 for sent in meter.frames)
    voltage = float(_state(hass, entry, "voltage_l1"))
    assert any(abs(sent.values["voltage_l1"] - voltage) <= 1 for sent in meter.frames)
    assert coordinator.counters.decode_failures == 0
    assert coordinator.decoder.unwrapper.counters.decrypted >= 3

    # Diagnostics show that keys are set, never the keys.
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diagnostics)
    assert_no_secret(text)
    assert diagnostics["entry"]["data"]["encryption_key"] == REDACTED
    assert diagnostics["entry"]["data"]["authentication_key"] == REDACTED
    encryption = diagnostics["encryption"]
    assert encryption["encryption_key_set"] is True
    assert encryption["authentication_key_set"] is True
    assert encryption["last_message_encrypted"] is True
    assert encryption["last_error"] is None
    assert encryption["repair_issue"] is False

    # The grid company changes the keys: the meter restarts with new ones.
    await meter.stop()
    changed = kamstrup(NEW_KEY, NEW_AUTH, port=port)
    await changed.start()
    try:
        issues = ir.async_get(hass)
        issue_id = issue_id_for(entry.entry_id)
        await wait_for(lambda: issues.async_get_issue(DOMAIN, issue_id) is not None, 15)
        issue = issues.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.is_fixable
        assert issue.translation_key == "decryption_failed"
        assert issue.translation_placeholders == {"title": entry.title}
        assert coordinator.decryption.last_key_error == "wrong_key"
        assert coordinator.decryption.consecutive_failures >= 5

        flow = await start_fix_flow(hass, issue_id)
        assert flow["description_placeholders"] == {"title": entry.title}
        result = await configure_fix_flow(hass, flow, {"encryption_key": KEY.hex()})
        assert result["errors"] == {"encryption_key": "wrong_key"}  # the old key
        result = await configure_fix_flow(
            hass,
            result,
            {"encryption_key": NEW_KEY.hex(), "authentication_key": AUTH.hex()},
        )
        assert result["errors"] == {"authentication_key": "wrong_authentication_key"}
        result = await configure_fix_flow(
            hass,
            result,
            {"encryption_key": NEW_KEY.hex().upper(), "authentication_key": NEW_AUTH.hex()},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.data["encryption_key"] == NEW_KEY.hex()
        assert entry.data["authentication_key"] == NEW_AUTH.hex()
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        reloaded = entry.runtime_data
        assert reloaded is not coordinator
        await wait_for(lambda: reloaded.counters.decoded > 0, 10)
        assert reloaded.counters.decode_failures == 0
        assert issues.async_get_issue(DOMAIN, issue_id) is None
        await unload_entry(hass, entry)
    finally:
        await changed.stop()

    for record in caplog.records:
        assert_no_secret(record.getMessage())
        assert_no_secret(str(record.args))
        if record.exc_text:
            assert_no_secret(record.exc_text)
    assert_no_secret(caplog.text)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)  # all captured


async def test_invalid_key_is_a_form_error(hass: HomeAssistant) -> None:
    """Malformed keys are refused before anything connects."""
    flow = await _network_form(hass)
    with patch("custom_components.han_meter.validation.async_identify_meter") as identify:
        result = await _submit(
            hass,
            flow,
            host="127.0.0.1",
            port=3001,
            encryption_key="0011",
            authentication_key="zz" * 16,
        )
    identify.assert_not_called()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        "encryption_key": "invalid_key",
        "authentication_key": "invalid_key",
    }


async def test_serial_flow_with_keys(hass: HomeAssistant, meter: MeterSimulator) -> None:
    """The serial step takes the keys too (a serial server reached by socket://)."""
    url = f"socket://127.0.0.1:{meter.port}"
    with patch(
        "custom_components.han_meter.validation.list_serial_ports",
        return_value={url: f"{url} - serial server"},
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        flow = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "serial"}
        )
        result = await _submit(
            hass, flow, device=url, line_settings="mbus", encryption_key="12" * 15
        )
        assert result["step_id"] == "serial"
        assert result["errors"] == {"encryption_key": "invalid_key"}
        result = await _submit(hass, result, device=url, line_settings="mbus")
        assert result["errors"] == {"encryption_key": "encrypted_no_key"}
        assert _suggested(result)[CONF_DEVICE] == url
        # A typed-in path and custom line settings keep the keys given with the port.
        result = await _submit(
            hass,
            result,
            device="manual",
            line_settings="custom",
            encryption_key=KEY.hex(),
            authentication_key=AUTH.hex(),
        )
        assert result["step_id"] == "serial_manual"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE: url}
        )
        assert result["step_id"] == "serial_custom"
        result = await _submit(hass, result, baudrate=2400, parity="E", bytesize="8", stopbits="1")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["encryption_key"] == KEY.hex()
    assert result["data"]["authentication_key"] == AUTH.hex()
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


async def test_reconfigure_changes_the_keys(hass: HomeAssistant, meter: MeterSimulator) -> None:
    """Reconfigure shows the stored keys; new ones are checked before they are saved."""
    flow = await _network_form(hass)
    result = await _submit(
        hass,
        flow,
        host="127.0.0.1",
        port=meter.port,
        encryption_key=KEY.hex(),
        authentication_key=AUTH.hex(),
    )
    entry = result["result"]
    await hass.async_block_till_done()

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "network"}
    )
    assert _suggested(result) == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: meter.port,
        "encryption_key": KEY.hex(),
        "authentication_key": AUTH.hex(),
    }
    fields = {"host": "127.0.0.1", "port": meter.port}
    result = await _submit(hass, result, **fields, encryption_key=NEW_KEY.hex())
    assert result["errors"] == {"encryption_key": "wrong_key"}
    assert entry.data["encryption_key"] == KEY.hex()
    # Without the authentication key the data still decrypts (the tag is not checked).
    result = await _submit(hass, result, **fields, encryption_key=KEY.hex())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["encryption_key"] == KEY.hex()
    assert "authentication_key" not in entry.data
    await hass.async_block_till_done()
    await wait_for(lambda: entry.runtime_data.counters.decoded > 0, 10)
    await unload_entry(hass, entry)
