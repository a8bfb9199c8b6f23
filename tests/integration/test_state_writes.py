"""Entities write their state only when what users see changed.

Every write of an entity is counted from the state machine's own events: a write
that changes the state or its attributes fires `state_changed`, one that repeats
them fires `state_reported` (and moves `last_reported`). Unchanged values must
fire neither; changed values and availability changes must always reach the
state machine.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.reading import MeterReading
from custom_components.han_meter.capacity_runtime import async_get_capacity
from custom_components.han_meter.const import DOMAIN

from .conftest import (
    AIDON_LIST1,
    AIDON_LIST2,
    AIDON_LIST3,
    AIDON_METER_ID,
    FrameServer,
    send_and_wait,
    wait_for,
)
from .test_capacity import PREFIX, SyntheticMeter, feed, start_entry


class StateWrites:
    """Counts the state writes of the entities whose id starts with `prefix`."""

    def __init__(self, hass: HomeAssistant, prefix: str) -> None:
        """Start counting."""
        self.prefix = prefix
        self.changed: Counter[str] = Counter()
        self.reported: Counter[str] = Counter()
        self._removers = [
            hass.bus.async_listen(EVENT_STATE_CHANGED, self._on_changed, self._ours),
            hass.bus.async_listen(EVENT_STATE_REPORTED, self._on_reported, self._ours),
        ]

    @callback
    def _ours(self, data: Any) -> bool:
        return str(data["entity_id"]).startswith(self.prefix)

    @callback
    def _on_changed(self, event: Event[Any]) -> None:
        self.changed[event.data["entity_id"]] += 1

    @callback
    def _on_reported(self, event: Event[Any]) -> None:
        self.reported[event.data["entity_id"]] += 1

    def clear(self) -> None:
        """Forget the writes counted so far."""
        self.changed.clear()
        self.reported.clear()

    def stop(self) -> None:
        """Stop counting."""
        for remove in self._removers:
            remove()


def decoded(frame: bytes) -> MeterReading:
    """The reading a captured frame carries."""
    (message,) = HdlcFrameReader().read(frame)
    reading = AutoDecoder().decode_message(message)
    assert reading
    return reading


def value_entities(hass: HomeAssistant) -> dict[str, str]:
    """Entity id of each meter value that has an entity (not the capacity sensors)."""
    prefix = f"{AIDON_METER_ID}-"
    return {
        entry.unique_id.removeprefix(prefix): entry.entity_id
        for entry in er.async_get(hass).entities.values()
        if entry.platform == DOMAIN
        and entry.unique_id.startswith(prefix)
        and not entry.unique_id.startswith(f"{prefix}capacity_")
        and hass.states.get(entry.entity_id) is not None
    }


async def test_meter_values_are_written_when_they_change(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """A repeated list writes nothing; a later list writes exactly the values it changed."""
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    entities = value_entities(hass)
    assert len(entities) == 10
    writes = StateWrites(hass, "sensor.aidon_6525_")
    before = {entity_id: hass.states.get(entity_id) for entity_id in entities.values()}

    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    sensors = set(entities.values())
    assert not (set(writes.changed) | set(writes.reported)) & sensors
    for entity_id, state in before.items():
        now = hass.states.get(entity_id)
        assert now is not None
        assert state is not None
        assert now.last_reported == state.last_reported

    # List 1 carries the power only, and it differs from list 2's.
    list1, list2 = decoded(AIDON_LIST1), decoded(AIDON_LIST2)
    assert list1["active_power_import"] != list2["active_power_import"]
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1])
    assert set(writes.changed) & sensors == {entities["active_power_import"]}
    assert writes.changed[entities["active_power_import"]] == 1
    assert not set(writes.reported) & sensors

    # List 3 repeats most of list 2's values (the list version among them): only the
    # values that differ from the last ones sent are written, and the new energy
    # sensors appear.
    writes.clear()
    list3 = decoded(AIDON_LIST3)
    last = {**list2, **list1}
    differing = {entities[key] for key in entities if list3.get(key, last[key]) != last[key]}
    assert entities["list_ver_id"] not in differing
    assert entities["voltage_l1"] in differing
    assert set(entities.values()) - differing  # some values are repeated
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST3])
    new = set(value_entities(hass).values()) - sensors
    assert {"sensor.aidon_6525_energy_import", "sensor.aidon_6525_energy_export"} <= new
    assert set(writes.changed) & (sensors | new) == differing | new
    assert all(writes.changed[entity_id] == 1 for entity_id in differing)
    # (Home Assistant itself writes a new energy sensor again once it stored the
    # sensor's unit options in the entity registry.)
    assert not set(writes.reported) & sensors
    writes.stop()


async def test_availability_changes_reach_every_entity(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Unavailable and back with the same values: each entity written twice, nothing more."""
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    sensors = set(value_entities(hass).values())
    shown = {entity_id: hass.states.get(entity_id).state for entity_id in sensors}
    writes = StateWrites(hass, "sensor.aidon_6525_")

    await meter_server.drop_clients()
    await wait_for(lambda: all(hass.states.get(e).state == STATE_UNAVAILABLE for e in sensors))
    await wait_for(lambda: meter_server.clients == 1)
    await wait_for(lambda: connected_entry.runtime_data.connection_state == "connected")
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert {entity_id: hass.states.get(entity_id).state for entity_id in sensors} == shown
    assert {entity_id: writes.changed[entity_id] for entity_id in sensors} == dict.fromkeys(
        sensors, 2
    )
    assert not set(writes.reported) & sensors
    writes.stop()


async def test_value_listeners_follow_only_their_key(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """A reading calls the listeners of the values it carries, with the value merged."""
    coordinator = connected_entry.runtime_data
    calls: list[tuple[str, Any]] = []
    remove_power = coordinator.async_add_value_listener(
        "active_power_import",
        lambda: calls.append(("power", coordinator.data.values["active_power_import"])),
    )
    remove_voltage = coordinator.async_add_value_listener(
        "voltage_l1", lambda: calls.append(("voltage", coordinator.data.values["voltage_l1"]))
    )
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1])
    assert calls == [("power", 1661)]
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert calls == [("power", 1661), ("power", 280), ("voltage", 227.4)]
    remove_power()
    remove_power()
    remove_voltage()
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert len(calls) == 3


# Capacity sensors: a day and a half of 1 kWh hours with one 2.5 kWh hour.
CAPACITY = {
    "energy_this_hour",
    "energy_today",
    "energy_this_month",
    "projected_energy_this_hour",
    "capacity_tariff_basis",
    "capacity_headroom",
    "capacity_step",
    "capacity_step_upper_limit",
    "capacity_step_headroom",
    "capacity_peak_1",
    "capacity_peak_2",
    "capacity_peak_3",
}
# Within an hour of constant power: the energies so far and the room left change;
# the projection (the hour at this power), the peaks, basis and step do not.
WITHIN_THE_HOUR = {
    "energy_this_hour",
    "energy_today",
    "energy_this_month",
    "capacity_headroom",
    "capacity_step_headroom",
}


async def test_unchanged_capacity_sensors_are_not_rewritten(
    hass: HomeAssistant, meter_server: FrameServer
) -> None:
    """A new snapshot writes only the capacity sensors whose state or attributes changed."""
    entry = await start_entry(hass, meter_server)
    meter = SyntheticMeter("2024-10-01T00:00:00+02:00", {"2024-10-01T18:00:00+02:00": 2.5})
    await feed(hass, entry, meter, "2024-10-02T10:30:00+02:00")
    ids = {PREFIX + suffix for suffix in CAPACITY}
    assert all(hass.states.get(entity_id) is not None for entity_id in ids)
    assert hass.states.get(f"{PREFIX}capacity_peak_1").state == "2.5"
    writes = StateWrites(hass, PREFIX)

    # The same snapshot again: nothing to write.
    runtime = async_get_capacity(hass, entry)
    assert runtime is not None
    runtime.async_refresh()
    assert not set(writes.changed) & ids
    assert not set(writes.reported) & ids

    # Five minutes later in the same hour.
    projected = hass.states.get(f"{PREFIX}projected_energy_this_hour")
    await feed(hass, entry, meter, "2024-10-02T10:35:00+02:00")
    assert set(writes.changed) & ids == {PREFIX + suffix for suffix in WITHIN_THE_HOUR}
    assert all(writes.changed[PREFIX + suffix] == 1 for suffix in WITHIN_THE_HOUR)
    assert not set(writes.reported) & ids
    assert hass.states.get(f"{PREFIX}energy_this_hour").state == "0.583333"
    assert hass.states.get(f"{PREFIX}projected_energy_this_hour") == projected

    # The hour is complete when its register arrives (5 s after it): it is one of the
    # 1 kWh hours, so the peaks stay; the new hour starts from nothing.
    writes.clear()
    await feed(hass, entry, meter, "2024-10-02T11:00:05+02:00")
    assert hass.states.get(f"{PREFIX}energy_this_hour").state == "0.0"
    assert {PREFIX + suffix for suffix in ("capacity_peak_1", "capacity_step")} & set(
        writes.changed
    ) == set()
    assert PREFIX + "energy_this_hour" in writes.changed
    assert not set(writes.reported) & ids
    writes.stop()


async def test_capacity_availability(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """Running-hour sensors follow the meter's availability; the month's summary stays."""
    entry = await start_entry(hass, meter_server)
    meter = SyntheticMeter("2024-10-01T00:00:00+02:00", {})
    await feed(hass, entry, meter, "2024-10-01T05:30:00+02:00")
    live = {
        PREFIX + suffix
        for suffix in (
            "energy_this_hour",
            "energy_today",
            "energy_this_month",
            "projected_energy_this_hour",
            "capacity_headroom",
            "capacity_step_headroom",
        )
    }
    summary = {PREFIX + suffix for suffix in CAPACITY} - live
    shown = {entity_id: hass.states.get(entity_id) for entity_id in summary}
    assert all(hass.states.get(entity_id).state != STATE_UNAVAILABLE for entity_id in live)
    writes = StateWrites(hass, PREFIX)

    await meter_server.drop_clients()
    await wait_for(lambda: all(hass.states.get(e).state == STATE_UNAVAILABLE for e in live))
    assert {entity_id: hass.states.get(entity_id) for entity_id in summary} == shown
    assert set(writes.changed) & (live | summary) == live
    assert not set(writes.reported) & (live | summary)
    writes.stop()
