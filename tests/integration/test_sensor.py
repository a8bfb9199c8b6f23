"""Tests for the HAN Meter sensors, fed by real streams through a bridge on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_p1_readout
from custom_components.han_meter.amshan.crc import crc16_arc
from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig
from custom_components.han_meter.const import (
    CONF_IDENTIFIED_BY,
    CONF_MULTIPLIER,
    DOMAIN,
    IDENTIFIED_BY_P1_IDENT,
)
from custom_components.han_meter.sensor_descriptions import (
    SENSORS,
    _as_is,
    _as_timestamp,
    generic_description,
)

from .conftest import (
    AIDON_LIST1,
    AIDON_LIST2,
    AIDON_LIST3,
    AIDON_METER_ID,
    KAIFA_LIST2,
    KAIFA_LIST3,
    KAIFA_METER_ID,
    KAMSTRUP_LIST1,
    KAMSTRUP_LIST2,
    KAMSTRUP_METER_ID,
    P1_KAMSTRUP,
    FrameServer,
    network_entry,
    send_and_wait,
    setup_entry,
    unload_entry,
    vector_frame,
    wait_for,
)

ENERGY_IMPORT = "sensor.aidon_6525_energy_import"


def _sensor_states(hass: HomeAssistant, prefix: str) -> dict[str, str]:
    """States of the meter's values (the capacity sensors are in test_capacity.py)."""
    return {
        state.entity_id: state.state
        for state in hass.states.async_all("sensor")
        if state.entity_id.startswith(prefix)
        and "-capacity_" not in er.async_get(hass).async_get(state.entity_id).unique_id
    }


async def test_entities_appear_with_the_lists(
    hass: HomeAssistant,
    meter_server: FrameServer,
    connected_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """List 1 creates the power sensor, list 2 the others, list 3 the energy sensors."""
    assert _sensor_states(hass, "sensor.") == {}

    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST1])
    assert _sensor_states(hass, "sensor.") == {"sensor.aidon_6525_power_import": "1661"}

    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert _sensor_states(hass, "sensor.") == {
        "sensor.aidon_6525_power_import": "280",
        "sensor.aidon_6525_power_export": "0",
        "sensor.aidon_6525_reactive_power_import": "0",
        "sensor.aidon_6525_reactive_power_export": "128",
        "sensor.aidon_6525_current_l1": "1.3",
        "sensor.aidon_6525_current_l3": "0.9",
        "sensor.aidon_6525_voltage_l1": "227.4",
        "sensor.aidon_6525_voltage_l2": "230.1",
        "sensor.aidon_6525_voltage_l3": "230.8",
        "sensor.aidon_6525_list_version": "AIDON_V0001",
    }

    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST3])
    states = _sensor_states(hass, "sensor.")
    assert states["sensor.aidon_6525_voltage_l1"] == "227.6"
    assert states[ENERGY_IMPORT] == "22721.38"
    assert states["sensor.aidon_6525_energy_export"] == "0.0"
    assert states["sensor.aidon_6525_reactive_energy_import"] == "582430"
    assert states["sensor.aidon_6525_reactive_energy_export"] == "1708430"
    # The meter clock is a diagnostic entity, disabled by default.
    clock = entity_registry.async_get("sensor.aidon_6525_meter_clock")
    assert clock is not None
    assert clock.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert clock.entity_category is EntityCategory.DIAGNOSTIC

    measurement, total = SensorStateClass.MEASUREMENT, SensorStateClass.TOTAL_INCREASING
    for entity_id, unit, device_class, state_class in (
        (ENERGY_IMPORT, "kWh", SensorDeviceClass.ENERGY, total),
        ("sensor.aidon_6525_power_import", "W", SensorDeviceClass.POWER, measurement),
        (
            "sensor.aidon_6525_reactive_power_export",
            "var",
            SensorDeviceClass.REACTIVE_POWER,
            measurement,
        ),
        ("sensor.aidon_6525_reactive_energy_import", "varh", None, total),
        ("sensor.aidon_6525_current_l1", "A", SensorDeviceClass.CURRENT, measurement),
        ("sensor.aidon_6525_voltage_l2", "V", SensorDeviceClass.VOLTAGE, measurement),
    ):
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == unit, entity_id
        # Home Assistant leaves out a device class the sensor does not have.
        assert state.attributes.get(ATTR_DEVICE_CLASS, None) == device_class, entity_id
        assert state.attributes[ATTR_STATE_CLASS] == state_class, entity_id
    version = entity_registry.async_get("sensor.aidon_6525_list_version")
    assert version is not None
    assert version.entity_category is EntityCategory.DIAGNOSTIC
    assert version.unique_id == f"{AIDON_METER_ID}-list_ver_id"

    device = device_registry.async_get_device(identifiers={(DOMAIN, AIDON_METER_ID)})
    assert device is not None
    assert device.name == "Aidon 6525"
    assert device.manufacturer == "Aidon"
    assert device.model == "6525"
    assert device.serial_number == AIDON_METER_ID
    assert device.sw_version == "AIDON_V0001"
    entities = er.async_entries_for_device(entity_registry, device.id)
    assert {entity.unique_id for entity in entities} >= {
        f"{AIDON_METER_ID}-active_power_import",
        f"{AIDON_METER_ID}-active_power_import_total",
    }


async def test_kaifa_three_phases(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """A 3-phase Kaifa: one current and voltage sensor per phase, energies from list 3."""
    entry = network_entry(meter_server.port, meter_id=KAIFA_METER_ID, title="Kaifa MA304H3E")
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [KAIFA_LIST2, KAIFA_LIST3])
    states = _sensor_states(hass, "sensor.kaifa_ma304h3e_")
    assert states["sensor.kaifa_ma304h3e_current_l1"] == "14.571"
    assert states["sensor.kaifa_ma304h3e_current_l2"] == "15.643"
    assert states["sensor.kaifa_ma304h3e_current_l3"] == "9.525"
    assert states["sensor.kaifa_ma304h3e_voltage_l2"] == "0"
    assert states["sensor.kaifa_ma304h3e_energy_import"] == "79591.144"
    await unload_entry(hass, entry)


async def test_kamstrup_single_phase(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """A 1-phase Kamstrup creates only the phase it has."""
    entry = network_entry(
        meter_server.port, meter_id=KAMSTRUP_METER_ID, title="Kamstrup 6861111BN242101040"
    )
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [KAMSTRUP_LIST1])
    states = _sensor_states(hass, "sensor.kamstrup_6861111bn242101040_")
    assert states["sensor.kamstrup_6861111bn242101040_current_l1"] == "8.96"
    assert states["sensor.kamstrup_6861111bn242101040_power_import"] == "1896"
    assert "sensor.kamstrup_6861111bn242101040_current_l2" not in states
    assert "sensor.kamstrup_6861111bn242101040_energy_import" not in states
    await send_and_wait(hass, meter_server, entry, [KAMSTRUP_LIST2])
    states = _sensor_states(hass, "sensor.kamstrup_6861111bn242101040_")
    assert "sensor.kamstrup_6861111bn242101040_current_l2" not in states
    assert "sensor.kamstrup_6861111bn242101040_energy_import" in states
    await unload_entry(hass, entry)


async def test_p1_per_phase_and_disabled_entities(
    hass: HomeAssistant,
    meter_server: FrameServer,
    socket_enabled: None,
    entity_registry: er.EntityRegistry,
) -> None:
    """P1 per-phase power; per-phase reactive power is there but disabled by default."""
    entry = network_entry(meter_server.port, meter_id="KAM5", title="KAM")
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [P1_KAMSTRUP])
    states = _sensor_states(hass, "sensor.kam_")
    assert states["sensor.kam_power_import_l1"] == "1947"
    assert states["sensor.kam_power_import_l2"] == "63"
    assert states["sensor.kam_power_import_l3"] == "192"
    assert states["sensor.kam_current_l1"] == "8.3"
    assert states["sensor.kam_energy_import"] == "60995.424"
    assert "sensor.kam_reactive_power_export_l1" not in states
    reactive_l1 = entity_registry.async_get("sensor.kam_reactive_power_export_l1")
    assert reactive_l1 is not None
    assert reactive_l1.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    await unload_entry(hass, entry)


def _p1_telegram(lines: list[str]) -> bytes:
    telegram = ("\r\n".join(["/ELL5\\253833635_A", "", *lines]) + "\r\n!").encode()
    return telegram + f"{crc16_arc(telegram):04X}\r\n".encode()


async def test_power_factor_and_unknown_codes(
    hass: HomeAssistant,
    meter_server: FrameServer,
    socket_enabled: None,
    entity_registry: er.EntityRegistry,
) -> None:
    """Power factor in %, unknown OBIS codes as generic sensors disabled by default."""
    entry = network_entry(meter_server.port, meter_id="7350012345678901", title="ELL")
    entry.add_to_hass(hass)
    # Enabled by the user in an earlier run; unknown codes still wait for their value.
    for key in ("1-0:1.8.3", "1-0:14.7.0", "0-0:96.13.0", "1-0:32.32.0", "0-0:1.0.9"):
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"7350012345678901-{key}",
            suggested_object_id=f"ell_obis_{key}",
            config_entry=entry,
        )
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    telegram = _p1_telegram(
        [
            "0-0:96.1.0(7350012345678901)",
            "1-0:1.7.0(0001.011*kW)",
            "1-0:13.7.0(0.930)",
            "1-0:1.8.3(000123.456*kWh)",
            "1-0:14.7.0(49.98*Hz)",
            "0-0:96.13.0(" + "x" * 1000 + ")",
            "1-0:32.32.0(00004)",
        ]
    )
    await send_and_wait(hass, meter_server, entry, [telegram])
    power_factor = hass.states.get("sensor.ell_power_factor")
    assert power_factor is not None
    assert power_factor.state == "93.0"
    assert power_factor.attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    assert power_factor.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.POWER_FACTOR

    generic = entity_registry.async_get_entity_id("sensor", DOMAIN, "7350012345678901-1-0:32.32.0")
    assert generic is not None
    registry_entry = entity_registry.async_get(generic)
    assert registry_entry is not None
    assert registry_entry.translation_key == "obis_code"

    tariff3 = hass.states.get("sensor.ell_obis_1_0_1_8_3")
    assert tariff3 is not None
    assert tariff3.state == "123456"  # registered before: no suggested unit
    assert tariff3.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.ENERGY
    assert tariff3.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    frequency = hass.states.get("sensor.ell_obis_1_0_14_7_0")
    assert frequency is not None
    assert frequency.attributes[ATTR_UNIT_OF_MEASUREMENT] == "Hz"
    message = hass.states.get("sensor.ell_obis_0_0_96_13_0")
    assert message is not None
    assert message.state == "x" * 255
    count = hass.states.get("sensor.ell_obis_1_0_32_32_0")
    assert count is not None
    assert count.state == "4"
    assert count.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    # A code that was registered once but is not sent (yet) has no entity.
    assert hass.states.get("sensor.ell_obis_0_0_1_0_9") is None
    assert entity_registry.async_get_entity_id("sensor", DOMAIN, "7350012345678901-0-0:1.0.9")

    # New codes are created disabled.
    await send_and_wait(hass, meter_server, entry, [_p1_telegram(["1-0:2.8.3(000001.000*kWh)"])])
    new_code = entity_registry.async_get_entity_id("sensor", DOMAIN, "7350012345678901-1-0:2.8.3")
    assert new_code is not None
    new_entry = entity_registry.async_get(new_code)
    assert new_entry is not None
    assert new_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    await unload_entry(hass, entry)


async def test_meter_clock(
    hass: HomeAssistant,
    meter_server: FrameServer,
    socket_enabled: None,
    entity_registry: er.EntityRegistry,
) -> None:
    """The meter clock, once enabled, is a timestamp."""
    entry = network_entry(meter_server.port)
    entry.add_to_hass(hass)
    entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{AIDON_METER_ID}-meter_datetime",
        suggested_object_id="aidon_6525_meter_clock",
        config_entry=entry,
    )
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    assert hass.states.get("sensor.aidon_6525_meter_clock").state == STATE_UNAVAILABLE
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST3])
    clock = hass.states.get("sensor.aidon_6525_meter_clock")
    assert clock is not None
    assert clock.state == "2020-01-21T16:00:00+00:00"
    assert clock.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.TIMESTAMP
    await unload_entry(hass, entry)


def test_value_conversions() -> None:
    """Naive meter times are local time; odd values become text."""
    naive = datetime(2024, 5, 1, 12, 0)
    local = naive.replace(tzinfo=dt_util.get_default_time_zone())
    assert _as_timestamp(naive) == local
    assert _as_timestamp("2024-05-01T12:00:00") == local
    assert _as_timestamp(naive.replace(tzinfo=UTC)) == naive.replace(tzinfo=UTC)
    assert _as_timestamp("not a time") is None
    assert _as_timestamp(1234) is None
    assert _as_is(b"\x01") == "b'\\x01'"
    assert _as_is(naive) == local
    assert _as_is(None) is None
    description = generic_description("1-0:99.1.0", naive, None)
    assert description.device_class is SensorDeviceClass.TIMESTAMP
    description = generic_description("1-0:99.2.0", 5, "foo")
    assert description.native_unit_of_measurement == "foo"
    assert description.state_class is SensorStateClass.MEASUREMENT
    assert description.entity_registry_enabled_default is False
    assert all(description.translation_key == key for key, description in SENSORS.items())


async def test_multiplier(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """A current transformer ratio scales power, current and energy, not voltage."""
    entry = network_entry(meter_server.port, options={CONF_MULTIPLIER: 50.0})
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST3])
    states = _sensor_states(hass, "sensor.aidon_6525_")
    assert states["sensor.aidon_6525_power_import"] == "14000"
    assert states["sensor.aidon_6525_current_l1"] == "65.0"
    assert states["sensor.aidon_6525_voltage_l1"] == "227.6"
    assert states[ENERGY_IMPORT] == "1136069.0"
    await unload_entry(hass, entry)


async def test_fractional_multiplier(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """A fractional multiplier gives fractional values."""
    entry = network_entry(meter_server.port, options={CONF_MULTIPLIER: 2.5})
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST2])
    assert hass.states.get("sensor.aidon_6525_power_import").state == "700.0"
    await unload_entry(hass, entry)


def _restore(entity_id: str, value: float, unit: str = "Wh", multiplier: float = 1) -> tuple:
    return (
        State(entity_id, "ignored"),
        {"native_value": value, "native_unit_of_measurement": unit, "multiplier": multiplier},
    )


async def test_energy_restored_and_never_backwards(
    hass: HomeAssistant,
    meter_server: FrameServer,
    socket_enabled: None,
    entity_registry: er.EntityRegistry,
) -> None:
    """After a restart energy sensors show their last value right away, and never go down."""
    entry = network_entry(meter_server.port)
    entry.add_to_hass(hass)
    for key in ("active_power_import_total", "active_power_export_total"):
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{AIDON_METER_ID}-{key}",
            suggested_object_id=f"aidon_6525_{key}",
            config_entry=entry,
        )
    entity_registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"{AIDON_METER_ID}-reactive_power_import_total",
        suggested_object_id="aidon_6525_reactive_energy_import",
        config_entry=entry,
    )
    mock_restore_cache_with_extra_data(
        hass,
        [
            _restore("sensor.aidon_6525_active_power_import_total", 30_000_000),
            _restore("sensor.aidon_6525_active_power_export_total", 5_000, multiplier=2),
            _restore("sensor.aidon_6525_reactive_energy_import", 1, unit="kvarh"),
        ],
    )
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    # Restored before the meter sends anything; unavailable until it does.
    coordinator = entry.runtime_data
    assert hass.states.get("sensor.aidon_6525_active_power_import_total").state == (
        STATE_UNAVAILABLE
    )
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST1])
    assert hass.states.get("sensor.aidon_6525_active_power_import_total").state == "30000000"
    # Read with another multiplier: not restored.
    assert hass.states.get("sensor.aidon_6525_active_power_export_total").state == STATE_UNKNOWN
    assert hass.states.get("sensor.aidon_6525_reactive_energy_import").state == STATE_UNKNOWN

    # The meter's register is lower than the restored value: ignored and counted.
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST3])
    assert hass.states.get("sensor.aidon_6525_active_power_import_total").state == "30000000"
    assert hass.states.get("sensor.aidon_6525_active_power_export_total").state == "0"
    assert coordinator.counters.energy_backwards == 1
    # List 1 does not repeat the comparison for the same register value.
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST1])
    assert coordinator.counters.energy_backwards == 1
    await unload_entry(hass, entry)


async def test_energy_restore_keeps_newer_value(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """An entity created after the meter sent a higher value keeps that value."""
    mock_restore_cache_with_extra_data(hass, [_restore(ENERGY_IMPORT, 10_000)])
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST3])
    assert hass.states.get(ENERGY_IMPORT).state == "22721.38"


async def test_energy_restore_without_data(
    hass: HomeAssistant,
    meter_server: FrameServer,
    socket_enabled: None,
    entity_registry: er.EntityRegistry,
) -> None:
    """A restore cache with an old state format (no extra data, no number) is ignored."""
    entry = network_entry(meter_server.port)
    entry.add_to_hass(hass)
    for key, object_id in (
        ("active_power_import_total", "aidon_6525_energy_import"),
        ("active_power_export_total", "aidon_6525_energy_export"),
    ):
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{AIDON_METER_ID}-{key}",
            suggested_object_id=object_id,
            config_entry=entry,
        )
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State(ENERGY_IMPORT, "1"), {"unexpected": 1}),
            (
                State("sensor.aidon_6525_energy_export", "1"),
                {"native_value": "text", "native_unit_of_measurement": "Wh"},
            ),
        ],
    )
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    await send_and_wait(hass, meter_server, entry, [AIDON_LIST1])
    assert hass.states.get(ENERGY_IMPORT).state == STATE_UNKNOWN
    assert hass.states.get("sensor.aidon_6525_energy_export").state == STATE_UNKNOWN
    await unload_entry(hass, entry)


async def test_two_meters_of_the_same_brand(
    hass: HomeAssistant, meter_server: FrameServer, device_registry: dr.DeviceRegistry
) -> None:
    """Two Aidon meters on two bridges: two devices, entities side by side."""
    other_server = FrameServer()
    await other_server.start()
    try:
        first = network_entry(meter_server.port, title="Aidon")
        second = network_entry(other_server.port, meter_id="7359992890941742", title="Aidon")
        await setup_entry(hass, first)
        await setup_entry(hass, second)
        await wait_for(lambda: meter_server.clients == 1 and other_server.clients == 1)
        await send_and_wait(hass, meter_server, first, [AIDON_LIST2])
        await send_and_wait(
            hass, other_server, second, [vector_frame("dlmsparser_aidon_6515_1ph_list2")]
        )
        assert hass.states.get("sensor.aidon_power_import").state == "280"
        assert hass.states.get("sensor.aidon_power_import_2").state not in (
            STATE_UNAVAILABLE,
            STATE_UNKNOWN,
        )
        devices = dr.async_entries_for_config_entry(device_registry, second.entry_id)
        assert [device.serial_number for device in devices] == ["7359992890941742"]
        assert devices[0].model == "6515"
        await unload_entry(hass, first)
        await unload_entry(hass, second)
    finally:
        await other_server.stop()


async def test_foreign_meter_is_ignored(
    hass: HomeAssistant,
    meter_server: FrameServer,
    connected_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Data of another meter on the connection is not mixed into this meter's sensors."""
    frames = [KAIFA_LIST3, AIDON_LIST1, KAIFA_LIST3]
    await send_and_wait(hass, meter_server, connected_entry, frames)
    assert _sensor_states(hass, "sensor.") == {}
    assert connected_entry.runtime_data.counters.foreign_meter == 3
    assert caplog.text.count("Ignoring data of another meter") == 1
    await send_and_wait(hass, meter_server, connected_entry, [AIDON_LIST2])
    assert hass.states.get("sensor.aidon_6525_power_import").state == "280"


async def test_p1_builder_stream(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """A P1 stream with known values from the frame builder."""
    entry = network_entry(meter_server.port, meter_id="12345678", title="ELL")
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    values = {
        "meter_id": "12345678",
        "active_power_import": 1234,
        "active_power_export_total_t1": 1000,
        "active_power_import_total_t2": 2000,
        "power_factor_l2": 0.5,
    }
    await send_and_wait(hass, meter_server, entry, [build_p1_readout(values)])
    states = _sensor_states(hass, "sensor.ell_")
    assert states["sensor.ell_power_import"] == "1234"
    assert states["sensor.ell_energy_export_tariff_1"] == "1.0"
    assert states["sensor.ell_energy_import_tariff_2"] == "2.0"
    assert "sensor.ell_power_factor_l2" not in states  # disabled by default
    await unload_entry(hass, entry)


async def test_p1_identified_by_its_ident_line(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """An entry identified by the P1 identification line accepts any meter id."""
    base = network_entry(meter_server.port, title="ELL")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="ELL",
        unique_id="ELL5\\253833635_A",
        data={**base.data, CONF_IDENTIFIED_BY: IDENTIFIED_BY_P1_IDENT},
    )
    await setup_entry(hass, entry)
    await wait_for(lambda: meter_server.clients == 1)
    telegram = build_p1_readout({"meter_id": "999", "active_power_import": 42})
    await send_and_wait(hass, meter_server, entry, [telegram])
    assert hass.states.get("sensor.ell_power_import").state == "42"
    assert entry.runtime_data.counters.foreign_meter == 0
    await unload_entry(hass, entry)


async def test_simulated_kaifa_meter(hass: HomeAssistant, socket_enabled: None) -> None:
    """The bundled meter simulator, fast-forwarded across an hour, garbage included."""
    # The hourly list is due 1.5 s (real time) after the start.
    start = datetime(2025, 1, 15, 11, 59, 30, tzinfo=ZoneInfo("Europe/Oslo"))
    config = SimulatorConfig(meter="kaifa", port=0, speed=20, start=start, garbage_rate=0.3)
    async with MeterSimulator(config) as simulator:
        # The simulated meter's id, as a list 2 tells it.
        decoder = AutoDecoder()
        readings = [
            decoder.decode_message(frame)
            for second in range(0, 20, 5)
            for frame in HdlcFrameReader().read(
                simulator.message_at(start + timedelta(seconds=10 + second)).data
            )
        ]
        meter_id = next(r["meter_id"] for r in readings if r and "meter_id" in r)
        entry = network_entry(simulator.port, meter_id=meter_id, title="Kaifa sim")
        await setup_entry(hass, entry)
        coordinator = entry.runtime_data
        await wait_for(lambda: "active_power_import_total" in coordinator.data.values, 10)
        await hass.async_block_till_done()
        sent = simulator.frames[-1]
        assert coordinator.counters.decode_failures == 0
        assert coordinator.counters.foreign_meter == 0
        energy = hass.states.get("sensor.kaifa_sim_energy_import")
        assert energy is not None
        assert float(energy.state) > 0
        power = hass.states.get("sensor.kaifa_sim_power_import")
        assert power is not None
        assert power.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
        assert sent.list_name in ("list1", "list2", "list3")
        await unload_entry(hass, entry)
