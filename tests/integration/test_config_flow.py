"""Tests for the HAN Meter config flow, reconfigure flow and options flow."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import termios
from collections.abc import Generator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import serial
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.config_flow import MANUAL_PATH
from custom_components.han_meter.const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_IDENTIFIED_BY,
    CONF_LINE_SETTINGS,
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_MULTIPLIER,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    CONF_WATCHDOG_TIMEOUT,
    DOMAIN,
    TRANSPORT_NETWORK,
    TRANSPORT_SERIAL,
)
from custom_components.han_meter.validation import (
    check_serial_path,
    error_from_exception,
    host_of,
    list_serial_ports,
    valid_host,
)

from .conftest import (
    AIDON_LIST1,
    AIDON_LIST2,
    AIDON_METER_ID,
    KAIFA_LIST3,
    KAIFA_METER_ID,
    P1_ELL,
    FrameServer,
    PtyMeter,
    network_entry,
    setup_entry,
    unload_entry,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("short_timeouts")
KEPT_KEY = "000102030405060708090a0b0c0d0e0f"


async def _start(hass: HomeAssistant, transport: str) -> FlowResult:
    """Start a user flow and choose the transport in the menu."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": transport}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == transport
    return result


async def _finish_progress(hass: HomeAssistant, result: FlowResult) -> FlowResult:
    """Wait for the validation shown as progress and return the next step."""
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "wait_for_data"
    await hass.async_block_till_done()
    return await hass.config_entries.flow.async_configure(result["flow_id"])


def _suggested(form: FlowResult) -> dict[str, Any]:
    """The values a form is shown with (fields without one left out)."""
    return {
        key.schema: key.description["suggested_value"]
        for key in form["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


async def _network(hass: HomeAssistant, flow: FlowResult, host: str, port: Any) -> FlowResult:
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_HOST: host, CONF_PORT: port}
    )
    if result["type"] is FlowResultType.SHOW_PROGRESS:
        return await _finish_progress(hass, result)
    return result


def _free_port() -> int:
    """A port on 127.0.0.1 that nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Network


async def test_network_flow(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """A meter behind a bridge is read, identified and added."""
    meter_server.stream = [AIDON_LIST1, AIDON_LIST2]
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, " 127.0.0.1 ", float(meter_server.port))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Aidon 6525"
    assert result["result"].unique_id == AIDON_METER_ID
    assert result["data"] == {
        CONF_TRANSPORT: TRANSPORT_NETWORK,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: meter_server.port,
        CONF_METER_MANUFACTURER: "Aidon",
        CONF_METER_TYPE: "6525",
        CONF_IDENTIFIED_BY: "meter_id",
    }
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    await unload_entry(hass, entry)


async def test_network_flow_p1_without_meter_id(
    hass: HomeAssistant, meter_server: FrameServer
) -> None:
    """A P1 meter that sends no meter id is identified by its identification line."""
    meter_server.stream = [P1_ELL]
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "127.0.0.1", meter_server.port)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "ELL"
    assert result["result"].unique_id == "ELL5\\253833635_A"
    assert result["data"][CONF_IDENTIFIED_BY] == "p1_identification"
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


@pytest.mark.parametrize(
    ("stream", "error"),
    [
        pytest.param([], "no_data", id="silent"),
        pytest.param([bytes(range(256)) * 4], "cannot_decode", id="garbage"),
        pytest.param([build_hdlc_frame(b"\xe6\xe7\x00\x0f\x01")], "cannot_decode", id="junk"),
        pytest.param([AIDON_LIST1], "no_meter_id", id="list1_only"),
    ],
)
async def test_network_flow_data_errors(
    hass: HomeAssistant, meter_server: FrameServer, stream: list[bytes], error: str
) -> None:
    """Connected, but the data does not identify a meter: an error, then recovery."""
    meter_server.stream = stream
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "127.0.0.1", meter_server.port)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == TRANSPORT_NETWORK
    assert result["errors"] == {"base": error}
    await wait_for(lambda: meter_server.clients == 0)

    meter_server.stream = [AIDON_LIST2]
    result = await _network(hass, result, "127.0.0.1", meter_server.port)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


async def test_network_flow_refused(hass: HomeAssistant, socket_enabled: None) -> None:
    """Nobody listens on the port."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "127.0.0.1", _free_port())
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_refused"}


async def test_network_flow_connection_closed(
    hass: HomeAssistant, meter_server: FrameServer
) -> None:
    """The bridge accepts and hangs up at once (another client holds the meter)."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: meter_server.port}
    )
    await wait_for(lambda: meter_server.clients == 1)
    await meter_server.drop_clients()
    result = await _finish_progress(hass, result)
    assert result["errors"] == {"base": "no_data"}


async def test_network_flow_unreachable(hass: HomeAssistant, socket_enabled: None) -> None:
    """Connecting times out (a listener whose accept queue is full drops the SYN)."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(address)
        flow = await _start(hass, TRANSPORT_NETWORK)
        result = await _network(hass, flow, "127.0.0.1", address[1])
    finally:
        for sock in (*fillers, listener):
            sock.close()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_unreachable"}


async def test_network_flow_unexpected_error(hass: HomeAssistant, socket_enabled: None) -> None:
    """An error nobody expected (here: the test sandbox blocks the address) is `unknown`."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "192.0.2.1", 3001)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}


@pytest.mark.parametrize(
    ("host", "port", "errors"),
    [
        ("", 3001, {CONF_HOST: "invalid_host"}),
        ("   ", 3001, {CONF_HOST: "invalid_host"}),
        ("a" * 300, 3001, {CONF_HOST: "invalid_host"}),
        ("x" * 64 + ".example", 3001, {CONF_HOST: "invalid_host"}),
        ("http://meter.local", 3001, {CONF_HOST: "invalid_host"}),
        ("meter.local:3001", 3001, {CONF_HOST: "invalid_host"}),
        (";rm -rf /", 3001, {CONF_HOST: "invalid_host"}),
        ("målar\u00e9\u0000", 3001, {CONF_HOST: "invalid_host"}),
        ("\ud800", 3001, {CONF_HOST: "invalid_host"}),
        ("-meter", 3001, {CONF_HOST: "invalid_host"}),
        ("127.0.0.1", 0, {CONF_PORT: "invalid_port"}),
        ("127.0.0.1", 70000, {CONF_PORT: "invalid_port"}),
        ("127.0.0.1", -1, {CONF_PORT: "invalid_port"}),
        ("127.0.0.1", 80.5, {CONF_PORT: "invalid_port"}),
        ("", 0, {CONF_HOST: "invalid_host", CONF_PORT: "invalid_port"}),
    ],
)
async def test_network_flow_hostile_input(
    hass: HomeAssistant, host: str, port: Any, errors: dict[str, str]
) -> None:
    """Bad input is a form error, not an exception, and nothing is contacted."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_HOST: host, CONF_PORT: port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == TRANSPORT_NETWORK
    assert result["errors"] == errors


def test_valid_host() -> None:
    """Host names, IDN names and IP addresses pass; URLs and shell do not."""
    assert valid_host("meter.local")
    assert valid_host("meter.local.")
    assert valid_host("192.168.1.20")
    assert valid_host("fe80::1")
    assert valid_host("målerbro.local")
    assert not valid_host("meter_bridge")
    assert not valid_host("a..b")


def test_host_of() -> None:
    """Spaces go; an IPv6 address loses its brackets; anything else in brackets is refused."""
    assert host_of("  meter.local ") == "meter.local"
    assert host_of("[fe80::1]") == "fe80::1"
    assert host_of("fe80::1") == "fe80::1"
    assert host_of("[192.168.1.20]") is None
    assert host_of("[meter.local]") is None
    assert host_of("[fe80::1]:3001") is None
    assert host_of("[]") is None
    assert host_of("http://[fe80::1]/") is None


async def test_network_flow_already_configured_meter(
    hass: HomeAssistant, meter_server: FrameServer, socket_enabled: None
) -> None:
    """The same meter on another connection aborts and updates the existing entry."""
    entry = network_entry(_free_port())
    entry.add_to_hass(hass)
    meter_server.stream = [AIDON_LIST2]
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "127.0.0.1", meter_server.port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == meter_server.port


async def test_network_flow_already_configured_connection(
    hass: HomeAssistant, meter_server: FrameServer
) -> None:
    """A bridge already used by an entry is not opened a second time."""
    network_entry(meter_server.port, meter_id="other").add_to_hass(hass)
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "127.0.0.1", meter_server.port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert meter_server.connections == 0


# Serial


async def _serial(
    hass: HomeAssistant,
    flow: FlowResult,
    device: str,
    line_settings: str = "mbus",
    **keys: str,
) -> FlowResult:
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_DEVICE: device, CONF_LINE_SETTINGS: line_settings, **keys}
    )
    if result["type"] is FlowResultType.SHOW_PROGRESS:
        return await _finish_progress(hass, result)
    return result


async def test_serial_flow(hass: HomeAssistant, meter_server: FrameServer) -> None:
    """A meter on a listed serial port with the Norwegian M-Bus preset.

    The port is a pyserial socket:// URL (a serial server on 127.0.0.1): unlike a
    pseudo-terminal it accepts even parity.
    """
    url = f"socket://127.0.0.1:{meter_server.port}"
    meter_server.stream = [KAIFA_LIST3]
    with patch(
        "custom_components.han_meter.validation.list_serial_ports",
        return_value={url: f"{url} - serial server"},
    ):
        flow = await _start(hass, TRANSPORT_SERIAL)
        schema = flow["data_schema"].schema
        options = schema[CONF_DEVICE].config["options"]
        assert options == [
            {"value": url, "label": f"{url} - serial server"},
            {"value": MANUAL_PATH, "label": MANUAL_PATH},
        ]
        result = await _serial(hass, flow, url)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kaifa MA304H3E"
    assert result["result"].unique_id == KAIFA_METER_ID
    assert result["data"] == {
        CONF_TRANSPORT: TRANSPORT_SERIAL,
        CONF_DEVICE: url,
        CONF_BAUDRATE: 2400,
        CONF_PARITY: "E",
        CONF_BYTESIZE: 8,
        CONF_STOPBITS: 1,
        CONF_METER_MANUFACTURER: "Kaifa",
        CONF_METER_TYPE: "MA304H3E",
        CONF_IDENTIFIED_BY: "meter_id",
    }
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


async def test_serial_flow_pty(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """A meter on a real (pseudo) terminal, listed by the machine."""
    pty_meter.stream = [KAIFA_LIST3]
    flow = await _start(hass, TRANSPORT_SERIAL)
    result = await _serial(hass, flow, pty_meter.path, "p1")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_DEVICE] == pty_meter.path
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


def _pty_refuses_parity() -> bool:
    master, slave = os.openpty()
    try:
        attributes = termios.tcgetattr(slave)
        attributes[2] |= termios.PARENB
        termios.tcsetattr(slave, termios.TCSANOW, attributes)
    except termios.error:
        return True
    finally:
        os.close(master)
        os.close(slave)
    return False


@pytest.mark.skipif(not _pty_refuses_parity(), reason="this kernel's ptys accept parity")
async def test_serial_flow_settings_refused(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """A port that refuses the line settings (here a pty and even parity)."""
    flow = await _start(hass, TRANSPORT_SERIAL)
    result = await _serial(hass, flow, pty_meter.path, "mbus")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_line_settings"}


async def test_serial_flow_manual_path_and_custom_settings(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str], tmp_path: Path
) -> None:
    """A typed-in path with custom line settings; bad paths and rates are form errors."""
    pty_meter.stream = [P1_ELL]
    flow = await _start(hass, TRANSPORT_SERIAL)
    result = await _serial(hass, flow, MANUAL_PATH, "custom")
    assert result["step_id"] == "serial_manual"

    regular_file = tmp_path / "file"
    regular_file.write_text("not a port")
    for path in (
        "",
        "/dev/does-not-exist",
        str(tmp_path),
        str(regular_file),
        "x" * 5000,
        "/dev/tty\u00e9\u00f8",
        "nul\0byte",
        "http://meter/ttyUSB0",
    ):
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_DEVICE: path}
        )
        assert result["type"] is FlowResultType.FORM, path
        assert result["errors"] == {CONF_DEVICE: "no_such_device"}, path

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_DEVICE: pty_meter.path}
    )
    assert result["step_id"] == "serial_custom"
    custom = {CONF_PARITY: "N", CONF_BYTESIZE: "8", CONF_STOPBITS: "1"}
    for baudrate in (0, 299, 5_000_000, 9600.5):
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_BAUDRATE: baudrate, **custom}
        )
        assert result["errors"] == {CONF_BAUDRATE: "invalid_baudrate"}
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_BAUDRATE: 115200.0, **custom}
    )
    result = await _finish_progress(hass, result)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_DEVICE] == pty_meter.path
    assert result["data"][CONF_BAUDRATE] == 115200
    assert result["data"][CONF_PARITY] == "N"
    assert result["data"][CONF_STOPBITS] == 1
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


async def test_serial_flow_listed_port_vanished(
    hass: HomeAssistant, pty_meter: PtyMeter, tmp_path: Path
) -> None:
    """A listed port that is gone by the time it is chosen is a form error."""
    gone = str(tmp_path / "ttyUSB9")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(
            "custom_components.han_meter.validation.list_serial_ports",
            lambda: {gone: gone},
        )
        flow = await _start(hass, TRANSPORT_SERIAL)
        result = await _serial(hass, flow, gone)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_DEVICE: "no_such_device"}


async def test_serial_flow_no_data_then_p1(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """A silent port is reported; the form keeps the choices; P1 preset works."""
    flow = await _start(hass, TRANSPORT_SERIAL)
    result = await _serial(hass, flow, pty_meter.path, "p1")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == TRANSPORT_SERIAL
    assert result["errors"] == {"base": "no_data"}

    pty_meter.stream = [P1_ELL]
    result = await _serial(hass, result, pty_meter.path, "p1")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BAUDRATE] == 115200
    assert result["data"][CONF_PARITY] == "N"
    await hass.async_block_till_done()
    await unload_entry(hass, result["result"])


async def test_serial_flow_device_busy(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """A port another program holds (exclusive lock) is reported as busy."""
    holder = os.open(pty_meter.path, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        flow = await _start(hass, TRANSPORT_SERIAL)
        result = await _serial(hass, flow, pty_meter.path, "p1")
    finally:
        os.close(holder)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "device_busy"}


async def test_serial_flow_already_configured_port(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """A serial port used by an entry is not opened a second time."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="other",
        data={CONF_TRANSPORT: TRANSPORT_SERIAL, CONF_DEVICE: pty_meter.path},
    ).add_to_hass(hass)
    flow = await _start(hass, TRANSPORT_SERIAL)
    result = await _serial(hass, flow, pty_meter.path)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


def _wrapped(cause: BaseException) -> serial.SerialException:
    """A SerialException raised from another error, as the library raises them."""
    try:
        raise serial.SerialException("could not configure port") from cause
    except serial.SerialException as err:
        return err


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "cannot_connect_refused"),
        (OSError(errno.ECONNREFUSED, "refused"), "cannot_connect_refused"),
        (socket.gaierror(-2, "Name or service not known"), "cannot_connect_unreachable"),
        (TimeoutError(), "cannot_connect_unreachable"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "cannot_connect_unreachable"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "cannot_connect_unreachable"),
        (serial.SerialException(errno.ENOENT, "could not open port"), "no_such_device"),
        (serial.SerialException(errno.EISDIR, "is a directory"), "no_such_device"),
        (serial.SerialException("Could not configure port"), "no_such_device"),
        (serial.SerialException(errno.EACCES, "Permission denied"), "permission_denied"),
        (PermissionError(errno.EPERM, "Operation not permitted"), "permission_denied"),
        (serial.SerialException(errno.EAGAIN, "Could not lock"), "device_busy"),
        (serial.SerialException(errno.EBUSY, "Device busy"), "device_busy"),
        (ValueError("Invalid baud rate"), "unknown"),
        (termios.error(errno.EINVAL, "Invalid argument"), "invalid_line_settings"),
        (termios.error(errno.ENOTTY, "Inappropriate ioctl for device"), "no_such_device"),
        (termios.error(), "invalid_line_settings"),
        (_wrapped(termios.error(errno.EINVAL, "Invalid argument")), "invalid_line_settings"),
    ],
)
def test_error_from_exception(error: BaseException, expected: str) -> None:
    """Each connection error maps to its own form error."""
    assert error_from_exception(error) == expected


def test_check_serial_path(pty_meter: PtyMeter, tmp_path: Path) -> None:
    """Character devices and serial URLs pass; everything else is refused."""
    assert check_serial_path(pty_meter.path) is None
    assert check_serial_path("socket://127.0.0.1:3001") is None
    assert check_serial_path("rfc2217://bridge:2217") is None
    assert check_serial_path(str(tmp_path)) == "no_such_device"
    assert check_serial_path("loop://") == "no_such_device"


@pytest.fixture
def restricted_path(tmp_path: Path) -> Generator[Path]:
    """A path in a directory that may not be searched."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    yield locked / "ttyUSB0"
    locked.chmod(0o700)


def test_check_serial_path_permissions(restricted_path: Path) -> None:
    """A path behind a directory without permission (not seen when running as root)."""
    assert check_serial_path(str(restricted_path)) in ("permission_denied", "no_such_device")


def test_list_serial_ports() -> None:
    """The machine's serial ports list runs without any adapter."""
    ports = list_serial_ports()
    assert all(label.startswith(path) for path, label in ports.items())


# Reconfigure


async def _reconfigure(hass: HomeAssistant, entry: MockConfigEntry, transport: str) -> FlowResult:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": transport}
    )
    assert result["type"] is FlowResultType.FORM
    return result


async def test_reconfigure_same_meter(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """The meter moved to another bridge: the entry follows it and reloads."""
    meter_server.stream = [AIDON_LIST1]
    await wait_for(lambda: connected_entry.runtime_data.available)
    new_server = FrameServer()
    await new_server.start()
    try:
        new_server.stream = [AIDON_LIST2]
        flow = await _reconfigure(hass, connected_entry, TRANSPORT_NETWORK)
        assert flow["step_id"] == TRANSPORT_NETWORK
        defaults = _suggested(flow)
        assert defaults == {CONF_HOST: "127.0.0.1", CONF_PORT: meter_server.port}
        result = await _network(hass, flow, "127.0.0.1", new_server.port)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert connected_entry.data[CONF_PORT] == new_server.port
        assert connected_entry.state is ConfigEntryState.LOADED
        await wait_for(lambda: new_server.clients == 1)
        await unload_entry(hass, connected_entry)
    finally:
        await new_server.stop()


async def test_reconfigure_wrong_meter(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Another meter answers: abort, and the entry keeps running on its bridge."""
    new_server = FrameServer()
    await new_server.start()
    try:
        new_server.stream = [KAIFA_LIST3]
        flow = await _reconfigure(hass, connected_entry, TRANSPORT_NETWORK)
        result = await _network(hass, flow, "127.0.0.1", new_server.port)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_meter"
        assert connected_entry.data[CONF_PORT] == meter_server.port
        await wait_for(lambda: meter_server.clients == 1)
        await wait_for(lambda: connected_entry.runtime_data.connection_state == "connected")
    finally:
        await new_server.stop()


async def test_reconfigure_error_keeps_entry(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """A failed validation shows the error; the entry reconnects meanwhile."""
    flow = await _reconfigure(hass, connected_entry, TRANSPORT_NETWORK)
    result = await _network(hass, flow, "127.0.0.1", _free_port())
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_refused"}
    await wait_for(lambda: connected_entry.runtime_data.connection_state == "connected")


async def test_reconfigure_serial_to_serial(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """Reconfigure a serial entry: the form starts from its settings; its own port is free."""
    pty_meter.stream = [KAIFA_LIST3]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Kaifa MA304H3E",
        unique_id=KAIFA_METER_ID,
        data={
            CONF_TRANSPORT: TRANSPORT_SERIAL,
            CONF_DEVICE: pty_meter.path,
            CONF_BAUDRATE: 9600,
            CONF_PARITY: "N",
            CONF_BYTESIZE: 8,
            CONF_STOPBITS: 1,
            CONF_METER_MANUFACTURER: "Kaifa",
            CONF_METER_TYPE: "MA304H3E",
            "encryption_key": KEPT_KEY,
        },
    )
    await setup_entry(hass, entry)
    await wait_for(lambda: entry.runtime_data.counters.decoded > 0)

    flow = await _reconfigure(hass, entry, TRANSPORT_SERIAL)
    defaults = _suggested(flow)
    assert defaults == {
        CONF_DEVICE: pty_meter.path,
        CONF_LINE_SETTINGS: "custom",
        "encryption_key": KEPT_KEY,
    }
    # The form shows the stored key: submitted unchanged, it is kept.
    result = await _serial(hass, flow, MANUAL_PATH, "p1", encryption_key=KEPT_KEY)
    assert result["step_id"] == "serial_manual"
    defaults = _suggested(result)
    assert defaults == {CONF_DEVICE: pty_meter.path}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: pty_meter.path}
    )
    result = await _finish_progress(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_BAUDRATE] == 115200
    assert entry.data[CONF_PARITY] == "N"
    assert entry.data["encryption_key"] == KEPT_KEY
    await unload_entry(hass, entry)


async def test_reconfigure_preset_defaults(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """An entry with the M-Bus settings shows the M-Bus preset."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=KAIFA_METER_ID,
        data={
            CONF_TRANSPORT: TRANSPORT_SERIAL,
            CONF_DEVICE: pty_meter.path,
            CONF_BAUDRATE: 2400,
            CONF_PARITY: "E",
            CONF_BYTESIZE: 8,
            CONF_STOPBITS: 1,
        },
    )
    entry.add_to_hass(hass)
    flow = await _reconfigure(hass, entry, TRANSPORT_SERIAL)
    defaults = _suggested(flow)
    assert defaults == {CONF_DEVICE: pty_meter.path, CONF_LINE_SETTINGS: "mbus"}


async def test_reconfigure_custom_defaults(
    hass: HomeAssistant, pty_meter: PtyMeter, mock_serial_ports: dict[str, str]
) -> None:
    """The custom line settings step starts from the entry's settings."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=KAIFA_METER_ID,
        data={
            CONF_TRANSPORT: TRANSPORT_SERIAL,
            CONF_DEVICE: "/dev/ttyUSB7",
            CONF_BAUDRATE: 9600,
            CONF_PARITY: "O",
            CONF_BYTESIZE: 7,
            CONF_STOPBITS: 2,
        },
    )
    entry.add_to_hass(hass)
    flow = await _reconfigure(hass, entry, TRANSPORT_SERIAL)
    defaults = _suggested(flow)
    assert defaults == {CONF_DEVICE: MANUAL_PATH, CONF_LINE_SETTINGS: "custom"}
    result = await _serial(hass, flow, pty_meter.path, "custom")
    assert result["step_id"] == "serial_custom"
    defaults = _suggested(result)
    assert defaults == {
        CONF_BAUDRATE: 9600,
        CONF_PARITY: "O",
        CONF_BYTESIZE: "7",
        CONF_STOPBITS: "2",
    }
    # Switching an unloaded entry to the network: its form starts empty.
    flow = await _reconfigure(hass, entry, TRANSPORT_NETWORK)
    assert all(
        key.description is None or key.description.get("suggested_value") is None
        for key in flow["data_schema"].schema
    )


# Options


async def test_options_flow(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Multiplier and watchdog timeout are validated, saved and applied by a reload."""
    result = await hass.config_entries.options.async_init(connected_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    defaults = _suggested(result)
    assert defaults == {CONF_MULTIPLIER: 1.0, CONF_WATCHDOG_TIMEOUT: 60}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_MULTIPLIER: 0, CONF_WATCHDOG_TIMEOUT: 5}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_MULTIPLIER: "invalid_multiplier",
        CONF_WATCHDOG_TIMEOUT: "invalid_watchdog_timeout",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_MULTIPLIER: 1e9, CONF_WATCHDOG_TIMEOUT: 100000}
    )
    assert result["type"] is FlowResultType.FORM
    old_coordinator = connected_entry.runtime_data
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_MULTIPLIER: 50, CONF_WATCHDOG_TIMEOUT: 30.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert connected_entry.options == {CONF_MULTIPLIER: 50.0, CONF_WATCHDOG_TIMEOUT: 30}
    await hass.async_block_till_done()
    coordinator = connected_entry.runtime_data
    assert coordinator is not old_coordinator
    assert coordinator.multiplier == 50
    assert coordinator.watchdog_timeout == 30


async def test_data_update_does_not_reload(
    hass: HomeAssistant, meter_server: FrameServer, connected_entry: MockConfigEntry
) -> None:
    """Only option changes reload through the update listener."""
    coordinator = connected_entry.runtime_data
    hass.config_entries.async_update_entry(connected_entry, title="Renamed")
    await hass.async_block_till_done()
    assert connected_entry.runtime_data is coordinator
