"""The repair issue of a meter whose data stops decrypting, and its fix flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter import decryption
from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.const import DOMAIN
from custom_components.han_meter.coordinator import (
    CONNECTION_ENDED,
    QUEUE_SIZE,
    HanMeterCoordinator,
)
from custom_components.han_meter.decryption import (
    ISSUE_DECRYPTION_FAILED,
    KEY_ERRORS,
    KEY_FIELDS,
    decoder_for,
    issue_id_for,
    key_error_in_messages,
    parse_key_fields,
)
from custom_components.han_meter.diagnostics import async_get_config_entry_diagnostics

from .conftest import FrameServer, send_and_wait, setup_entry, unload_entry, wait_for
from .encryption_helpers import (
    AUTH,
    KEY,
    NEW_AUTH,
    NEW_KEY,
    configure_fix_flow,
    encrypted_entry,
    frames,
    keys_data,
    start_fix_flow,
)

GOOD = frames(KEY, AUTH, 12)
CHANGED = frames(NEW_KEY, NEW_AUTH, 12, first=12)  # the meter after the key change
PLAIN = frames(None, None, 3)


async def _connected(hass: HomeAssistant, entry: MockConfigEntry, server: FrameServer) -> None:
    await setup_entry(hass, entry)
    await wait_for(lambda: server.clients == 1)
    await wait_for(lambda: entry.runtime_data.connection_state == "connected")


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id_for(entry.entry_id))


async def test_issue_raised_after_consecutive_failures_and_cleared(
    hass: HomeAssistant, meter_server: FrameServer
) -> None:
    """Five messages in a row that the keys do not decrypt raise the issue; a message
    that decrypts resets the count and removes the issue."""
    entry = encrypted_entry(meter_server.port, **keys_data(KEY, AUTH))
    await _connected(hass, entry, meter_server)
    coordinator = entry.runtime_data
    await send_and_wait(hass, meter_server, entry, GOOD[:2])
    assert coordinator.counters.decoded == 2

    await send_and_wait(hass, meter_server, entry, CHANGED[:4])
    assert coordinator.decryption.consecutive_failures == 4
    assert _issue(hass, entry) is None
    await send_and_wait(hass, meter_server, entry, GOOD[2:3])  # one good message: start over
    assert coordinator.decryption.consecutive_failures == 0
    await send_and_wait(hass, meter_server, entry, CHANGED[4:8])
    assert _issue(hass, entry) is None
    garbage = build_hdlc_frame(b"\xe6\xe7\x00\x99garbage")  # a frame, but not about keys
    await send_and_wait(hass, meter_server, entry, [garbage])
    assert coordinator.decryption.consecutive_failures == 4
    await send_and_wait(hass, meter_server, entry, CHANGED[8:9])

    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "decryption_failed"
    assert issue.translation_placeholders == {"title": entry.title}
    assert issue.data == {"entry_id": entry.entry_id}
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["encryption"]["repair_issue"] is True
    assert diagnostics["encryption"]["consecutive_key_failures"] == 5
    assert diagnostics["encryption"]["last_error"] == "wrong_key"
    await send_and_wait(hass, meter_server, entry, CHANGED[9:10])  # raised once only
    assert _issue(hass, entry) is not None

    await send_and_wait(hass, meter_server, entry, GOOD[3:4])  # the old key works again
    assert _issue(hass, entry) is None
    assert coordinator.decryption.issue_raised is False
    await unload_entry(hass, entry)


async def test_wrong_authentication_key_raises_the_issue(
    hass: HomeAssistant, meter_server: FrameServer
) -> None:
    """Only the authentication key changed: the issue is raised too."""
    entry = encrypted_entry(meter_server.port, **keys_data(KEY, AUTH))
    await _connected(hass, entry, meter_server)
    await send_and_wait(hass, meter_server, entry, frames(KEY, NEW_AUTH, 5))
    assert entry.runtime_data.decryption.last_key_error == "wrong_authentication_key"
    assert _issue(hass, entry) is not None
    await unload_entry(hass, entry)
    assert _issue(hass, entry) is None  # an unloaded entry watches nothing


async def test_meter_starts_encrypting(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """A meter without a key starts to encrypt: the issue asks for the key."""
    entry = encrypted_entry(meter_server.port)
    await _connected(hass, entry, meter_server)
    await send_and_wait(hass, meter_server, entry, PLAIN)
    assert entry.runtime_data.counters.decoded == 3
    await send_and_wait(hass, meter_server, entry, GOOD[:5])
    assert entry.runtime_data.decryption.last_key_error == "encrypted_no_key"
    assert _issue(hass, entry) is not None

    flow = await start_fix_flow(hass, issue_id_for(entry.entry_id))
    result = await configure_fix_flow(hass, flow, {"encryption_key": KEY.hex()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.data["encryption_key"] == KEY.hex()
    assert "authentication_key" not in entry.data
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert _issue(hass, entry) is None
    await wait_for(lambda: meter_server.clients == 1)
    await wait_for(lambda: entry.runtime_data.connection_state == "connected")
    await send_and_wait(hass, meter_server, entry, GOOD[5:7])
    assert entry.runtime_data.counters.decoded == 2
    await unload_entry(hass, entry)


async def test_fix_flow_checks_the_keys(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """The new keys are checked against the newest messages before they are stored."""
    entry = encrypted_entry(meter_server.port, **keys_data(KEY, AUTH))
    await _connected(hass, entry, meter_server)
    await send_and_wait(hass, meter_server, entry, GOOD[:3] + CHANGED[:5])
    flow = await start_fix_flow(hass, issue_id_for(entry.entry_id))

    for user_input, errors in (
        ({"encryption_key": "not a key"}, {"encryption_key": "invalid_key"}),
        (
            {"encryption_key": NEW_KEY.hex(), "authentication_key": "12"},
            {"authentication_key": "invalid_key"},
        ),
        # The old key decrypts older messages, not the newest: refused.
        (
            {"encryption_key": KEY.hex(), "authentication_key": AUTH.hex()},
            {"encryption_key": "wrong_key"},
        ),
        (
            {"encryption_key": NEW_KEY.hex(), "authentication_key": AUTH.hex()},
            {"authentication_key": "wrong_authentication_key"},
        ),
    ):
        flow = await configure_fix_flow(hass, flow, user_input)
        assert flow["type"] is FlowResultType.FORM
        assert flow["errors"] == errors
    assert entry.data["encryption_key"] == KEY.hex()

    result = await configure_fix_flow(
        hass, flow, {"encryption_key": NEW_KEY.hex(), "authentication_key": NEW_AUTH.hex()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.data["encryption_key"] == NEW_KEY.hex()
    assert entry.data["authentication_key"] == NEW_AUTH.hex()
    await hass.async_block_till_done()
    assert _issue(hass, entry) is None
    await wait_for(lambda: entry.runtime_data.connection_state == "connected")
    await send_and_wait(hass, meter_server, entry, CHANGED[5:7])
    assert entry.runtime_data.counters.decoded == 2
    await unload_entry(hass, entry)


async def test_fix_flow_without_recent_data(hass: HomeAssistant) -> None:
    """An entry that is not loaded has no recent messages: the format is checked only."""
    assert await async_setup_component(hass, DOMAIN, {})  # loaded, without this entry
    entry = encrypted_entry(3001, **keys_data(KEY, AUTH))
    entry.add_to_hass(hass)
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id_for(entry.entry_id),
        data={"entry_id": entry.entry_id},
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="decryption_failed",
        translation_placeholders={"title": entry.title},
    )
    flow = await start_fix_flow(hass, issue_id_for(entry.entry_id))
    result = await configure_fix_flow(hass, flow, {"encryption_key": "0x" + NEW_KEY.hex()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.data["encryption_key"] == NEW_KEY.hex()
    assert "authentication_key" not in entry.data
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED  # its next setup reads the new keys


async def test_fix_flow_entry_removed(hass: HomeAssistant) -> None:
    """The issue of an entry that no longer exists cannot be fixed: the flow aborts."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id_for("gone"),
        data={"entry_id": "gone"},
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="decryption_failed",
        translation_placeholders={"title": "Old meter"},
    )
    assert await async_setup_component(hass, DOMAIN, {})
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue_id_for("gone")})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"


def test_key_helpers() -> None:
    """Forms tolerate separators; stored keys that are not keys count as none."""
    keys, errors = parse_key_fields(
        {"encryption_key": " 0X" + KEY.hex().upper(), "authentication_key": "   ", "other": 1}
    )
    assert keys == {"encryption_key": KEY.hex()}
    assert errors == {}
    _, errors = parse_key_fields({"encryption_key": "g" * 32})
    assert errors == {"encryption_key": "invalid_key"}
    decoder = decoder_for({"encryption_key": "not hex", "authentication_key": 42})
    assert decoder.unwrapper.has_key is False
    assert decoder_for(keys_data(KEY, AUTH)).unwrapper.has_key is True
    assert key_error_in_messages([], keys_data(KEY)) is None
    assert key_error_in_messages([b"\x00" * 50], keys_data(KEY)) is None
    broken = GOOD[0][:20] + bytes([GOOD[0][20] ^ 0xFF]) + GOOD[0][21:]  # bad checksum
    undecodable = build_hdlc_frame(b"\xe6\xe7\x00\x99garbage")  # no key error either
    assert key_error_in_messages([GOOD[1], broken, undecodable], keys_data(NEW_KEY)) == (
        "wrong_key"
    )
    assert key_error_in_messages(GOOD[:2], keys_data(NEW_KEY)) == "wrong_key"
    assert key_error_in_messages(GOOD[:2], keys_data(KEY)) is None
    assert key_error_in_messages(GOOD[:1] + PLAIN[:1], keys_data(NEW_KEY)) is None


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "encrypted"])
async def test_reconnect_forgets_half_messages(
    hass: HomeAssistant, meter_server: FrameServer, key: bytes | None
) -> None:
    """A message cut by a reconnect is not glued to the next connection's data."""
    entry = encrypted_entry(meter_server.port, **keys_data(key, None))
    await _connected(hass, entry, meter_server)
    coordinator = entry.runtime_data
    # The first segment of a split message, then the connection drops.
    (frame,) = HdlcFrameReader().read(frames(key, None, 1)[0])
    payload = frame.payload
    half = build_hdlc_frame(payload[:40], segmentation=True)
    await send_and_wait(hass, meter_server, entry, [half])
    assert coordinator.decoder.unwrapper.dropped == 0
    await meter_server.drop_clients()
    await wait_for(lambda: meter_server.clients == 1, 10)
    await wait_for(lambda: coordinator.connection_state == "connected")
    # The rest of that message on the new connection must not complete it.
    await send_and_wait(hass, meter_server, entry, [build_hdlc_frame(payload[40:])])
    assert coordinator.counters.decoded == 0
    await send_and_wait(hass, meter_server, entry, frames(key, None, 1, first=1))
    assert coordinator.counters.decoded == 1
    await unload_entry(hass, entry)


def test_strings_cover_the_key_errors() -> None:
    """Every key error, the repair issue and its fix flow have strings."""
    strings = json.loads(
        (Path(decryption.__file__).parent / "strings.json").read_text(encoding="utf-8")
    )
    config_errors = strings["config"]["error"]
    assert {*KEY_ERRORS, "invalid_key"} <= set(config_errors)
    for step in ("network", "serial"):
        assert set(KEY_FIELDS) <= set(strings["config"]["step"][step]["data"])
    issue = strings["issues"][ISSUE_DECRYPTION_FAILED]
    fix_flow = issue["fix_flow"]
    assert set(fix_flow["step"]["new_keys"]["data"]) == set(KEY_FIELDS)
    assert set(fix_flow["error"]) == {"invalid_key", "wrong_key", "wrong_authentication_key"}
    assert set(fix_flow["abort"]) == {"entry_removed"}
    assert "{title}" in issue["title"]


async def test_connection_end_marker_on_a_full_queue(hass: HomeAssistant) -> None:
    """The end-of-connection marker makes room in a full queue (the oldest goes)."""
    entry = encrypted_entry(3001, **keys_data(KEY))
    entry.add_to_hass(hass)
    coordinator = HanMeterCoordinator(hass, entry)
    queue = coordinator._queue
    for number in range(QUEUE_SIZE):
        queue.put_nowait(number)
    coordinator._async_queue_connection_end()
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    assert items == [*range(1, QUEUE_SIZE), CONNECTION_ENDED]
