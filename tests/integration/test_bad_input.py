"""Hostile and mistaken input in every field of the config and options flows.

Every value is either refused by the form's schema (Home Assistant's selectors, before
the flow sees it: ``InvalidData``, which the frontend shows at the field) or gets a form
error whose key is translated in strings.json; nothing is ever logged as an error and
no exception escapes. Values that look right but lead nowhere (an address nobody
listens on, a path that is no serial port) are tried for real, on 127.0.0.1, ::1 and
pseudo-terminals; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
import pytest_socket
import voluptuous as vol
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType, InvalidData

from custom_components.han_meter.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_ENCRYPTION_KEY,
    CONF_LINE_SETTINGS,
    CONF_MULTIPLIER,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_WATCHDOG_TIMEOUT,
    DOMAIN,
    TRANSPORT_NETWORK,
    TRANSPORT_SERIAL,
)

from .conftest import AIDON_LIST2, PtyMeter, network_entry, setup_entry, unload_entry

pytestmark = pytest.mark.usefixtures("short_timeouts", "clean_log")

STRINGS = json.loads(
    (Path(__file__).parents[2] / "custom_components/han_meter/strings.json").read_text()
)
CONFIG_ERRORS = set(STRINGS["config"]["error"])
OPTIONS_ERRORS = set(STRINGS["options"].get("error", {}))
KEY = "00112233445566778899aabbccddeeff"
MANUAL = "manual"


@pytest.fixture
def clean_log(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """Fail the test when anything was logged as an error or with a traceback."""
    caplog.set_level(logging.DEBUG, logger="custom_components.han_meter")
    yield
    bad = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.get_records("call")
        if record.levelno >= logging.ERROR
        or (record.exc_info and record.name.startswith("custom_components"))
    ]
    assert not bad, bad


@pytest.fixture
def local_addresses(socket_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let connections to the local addresses tried here through (all stay on the machine).

    Names other than localhost do not resolve (no DNS query leaves the machine).
    """
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1", "0.0.0.0", "255.255.255.255"])
    resolve = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost":
            try:
                ipaddress.ip_address(name)
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


def assert_form_error(
    result: FlowResult, step: str, errors: dict[str, str], known: set[str]
) -> None:
    """A form of `step` shown again with these errors, each translated."""
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == step
    assert result["errors"] == errors
    assert set(errors.values()) <= known, f"untranslated: {set(errors.values()) - known}"


async def _start(hass: HomeAssistant, transport: str) -> FlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": transport}
    )


async def _submit(hass: HomeAssistant, flow: FlowResult, data: dict[str, Any]) -> FlowResult:
    """Submit a form; wait through the validation progress step if one starts."""
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], data)
    if result["type"] is FlowResultType.SHOW_PROGRESS:
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    return result


# Network: host


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("a" * 254, id="huge"),
        pytest.param("x" * 64 + ".invalid", id="label_too_long"),
        pytest.param("http://host", id="url"),
        pytest.param("https://meter.local:3001/", id="url_with_port"),
        pytest.param("meter.local:3001", id="host_and_port"),
        pytest.param(";rm -rf /", id="shell"),
        pytest.param("$(reboot)", id="shell_substitution"),
        pytest.param("`id`", id="backticks"),
        pytest.param("meter local", id="space"),
        pytest.param("meter\n.local", id="newline"),
        pytest.param("nul\x00byte", id="nul"),
        pytest.param("\ud800", id="lone_surrogate"),
        pytest.param("under_score.invalid", id="underscore"),
        pytest.param("-meter", id="leading_dash"),
        pytest.param("..", id="dots"),
        pytest.param("[::1]:3001", id="ipv6_brackets_port"),
        pytest.param("[127.0.0.1]", id="ipv4_brackets"),
        pytest.param("[meter.local]", id="name_brackets"),
        pytest.param("[]", id="empty_brackets"),
        pytest.param("[::1", id="unclosed_bracket"),
        pytest.param("192.168.1.10/24", id="cidr"),
        pytest.param("\u202emeter", id="bidi_override"),
    ],
)
async def test_host_refused_by_the_form(hass: HomeAssistant, host: str) -> None:
    """Not a host name or an address: refused before anything is contacted."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _submit(hass, flow, {CONF_HOST: host, CONF_PORT: 3001})
    assert_form_error(result, TRANSPORT_NETWORK, {CONF_HOST: "invalid_host"}, CONFIG_ERRORS)


@contextlib.asynccontextmanager
async def nothing_listens() -> AsyncIterator[int]:
    """A port that nobody listens on (on any local address)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    yield port


@pytest.mark.usefixtures("local_addresses")
@pytest.mark.parametrize(
    ("host", "error"),
    [
        pytest.param("::1", "cannot_connect_refused", id="ipv6_without_brackets"),
        pytest.param("0.0.0.0", "cannot_connect_refused", id="any_address"),
        pytest.param("localhost", "cannot_connect_refused", id="localhost"),
        pytest.param("255.255.255.255", "cannot_connect_unreachable", id="broadcast"),
        pytest.param("målare.invalid", "cannot_connect_unreachable", id="non_ascii_name"),
        pytest.param("xn--mlare-qra.invalid", "cannot_connect_unreachable", id="punycode"),
        pytest.param("no-such-host.invalid.", "cannot_connect_unreachable", id="trailing_dot"),
    ],
)
async def test_host_that_leads_nowhere(hass: HomeAssistant, host: str, error: str) -> None:
    """A well-formed host where no bridge answers: a connection error on the form."""
    async with nothing_listens() as port:
        flow = await _start(hass, TRANSPORT_NETWORK)
        result = await _submit(hass, flow, {CONF_HOST: f"  {host} ", CONF_PORT: port})
    assert_form_error(result, TRANSPORT_NETWORK, {"base": error}, CONFIG_ERRORS)


@pytest.mark.usefixtures("local_addresses")
@pytest.mark.parametrize("written", ["::1", " [::1] "], ids=["without_brackets", "brackets"])
async def test_ipv6_address_works(hass: HomeAssistant, written: str) -> None:
    """A bridge on ::1, entered with or without brackets, is read and added as ::1."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(AIDON_LIST2)
        with contextlib.suppress(ConnectionError):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "::1", 0)
    try:
        flow = await _start(hass, TRANSPORT_NETWORK)
        port = server.sockets[0].getsockname()[1]
        result = await _submit(hass, flow, {CONF_HOST: written, CONF_PORT: port})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_HOST] == "::1"
        await hass.async_block_till_done()
        await unload_entry(hass, result["result"])
    finally:
        server.close()
        server.close_clients()
        await server.wait_closed()


# Network: port


@pytest.mark.parametrize(
    "port",
    [0, -1, 65536, 70000, 80.5, 1e100, float("inf"), float("-inf"), float("nan"), "0", "70000"],
    ids=lambda port: repr(port),
)
async def test_port_refused_by_the_form(hass: HomeAssistant, port: Any) -> None:
    """Not a TCP port number: refused before anything is contacted."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _submit(hass, flow, {CONF_HOST: "127.0.0.1", CONF_PORT: port})
    assert_form_error(result, TRANSPORT_NETWORK, {CONF_PORT: "invalid_port"}, CONFIG_ERRORS)


@pytest.mark.parametrize("port", ["", "abc", "3001; rm -rf /", None, [3001], {"a": 1}])
async def test_port_not_a_number(hass: HomeAssistant, port: Any) -> None:
    """Not a number at all: the selector refuses it (the frontend shows that at the field)."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    with pytest.raises(InvalidData) as error:
        await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: port}
        )
    assert CONF_PORT in error.value.schema_errors


@pytest.mark.parametrize("host", [None, 3001, ["127.0.0.1"], b"127.0.0.1"], ids=repr)
async def test_host_not_text(hass: HomeAssistant, host: Any) -> None:
    """A host that is not text: the selector refuses it."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    with pytest.raises(InvalidData) as error:
        await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_HOST: host, CONF_PORT: 3001}
        )
    assert CONF_HOST in error.value.schema_errors


# Keys


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("zz" * 16, id="not_hex"),
        pytest.param("0011", id="too_short"),
        pytest.param(KEY + "0", id="odd_length"),
        pytest.param(KEY * 2, id="too_long"),
        pytest.param("\u0663" * 32, id="arabic_digits"),
        pytest.param("\uff46" * 32, id="fullwidth_letters"),
        pytest.param(";rm -rf /" + "0" * 23, id="shell"),
        pytest.param("x" * 100_000, id="huge"),
        pytest.param("0x" + KEY[:-2] + "\x00\x00", id="nul"),
    ],
)
@pytest.mark.parametrize("field", [CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY])
async def test_key_refused_by_the_form(hass: HomeAssistant, field: str, key: str) -> None:
    """A key that is not 16 bytes of hex: an error at that field, nothing contacted."""
    flow = await _start(hass, TRANSPORT_NETWORK)
    result = await _submit(hass, flow, {CONF_HOST: "127.0.0.1", CONF_PORT: 3001, field: key})
    assert_form_error(result, TRANSPORT_NETWORK, {field: "invalid_key"}, CONFIG_ERRORS)


async def test_key_written_loosely_is_accepted(hass: HomeAssistant, socket_enabled: None) -> None:
    """Spaces, colons, dashes, 0x and upper case are fine: the next error is the connection."""
    async with nothing_listens() as port:
        flow = await _start(hass, TRANSPORT_NETWORK)
        loose = " 0x" + ":".join(KEY[i : i + 2] for i in range(0, 32, 2)).upper() + " "
        result = await _submit(
            hass, flow, {CONF_HOST: "127.0.0.1", CONF_PORT: port, CONF_ENCRYPTION_KEY: loose}
        )
    assert_form_error(result, TRANSPORT_NETWORK, {"base": "cannot_connect_refused"}, CONFIG_ERRORS)


# Serial


@pytest.fixture
def ports(pty_meter: PtyMeter, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The machine's serial ports: only the pseudo-terminal."""
    listed = {pty_meter.path: f"{pty_meter.path} - HAN adapter"}
    monkeypatch.setattr("custom_components.han_meter.validation.list_serial_ports", lambda: listed)
    return listed


@pytest.mark.parametrize(
    ("device", "line_settings"),
    [
        pytest.param("/dev/ttyUSB0", "p1", id="unlisted_port"),
        pytest.param(";rm -rf /", "p1", id="shell"),
        pytest.param("", "p1", id="empty"),
        pytest.param(MANUAL, "9600 baud", id="unknown_preset"),
        pytest.param(MANUAL, "", id="empty_preset"),
    ],
)
async def test_serial_choice_not_offered(
    hass: HomeAssistant, ports: dict[str, str], device: str, line_settings: str
) -> None:
    """The port and the preset are chosen from lists: anything else is refused by them."""
    flow = await _start(hass, TRANSPORT_SERIAL)
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_DEVICE: device, CONF_LINE_SETTINGS: line_settings}
        )


async def _manual(hass: HomeAssistant, line_settings: str = "p1") -> FlowResult:
    flow = await _start(hass, TRANSPORT_SERIAL)
    result = await _submit(hass, flow, {CONF_DEVICE: MANUAL, CONF_LINE_SETTINGS: line_settings})
    assert result["step_id"] == "serial_manual"
    return result


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("/dev/does-not-exist", id="missing"),
        pytest.param("DIRECTORY", id="directory"),
        pytest.param("REGULAR_FILE", id="regular_file"),
        pytest.param("/dev/null", id="dev_null"),
        pytest.param("/dev/zero", id="dev_zero"),
        pytest.param("x" * 5000, id="huge"),
        pytest.param("/dev/tty\u00e9\u00f8", id="non_ascii"),
        pytest.param("nul\x00byte", id="nul"),
        pytest.param("http://host/ttyUSB0", id="url"),
        pytest.param(";rm -rf /", id="shell"),
        pytest.param("$(reboot)", id="shell_substitution"),
        pytest.param("../../../../etc/passwd", id="relative_file"),
        pytest.param("loop://", id="pyserial_loop"),
        pytest.param("socket://;rm -rf /", id="socket_url_shell"),
        pytest.param("socket://127.0.0.1", id="socket_url_no_port"),
        pytest.param("socket://127.0.0.1:70000", id="socket_url_port_70000"),
        pytest.param("socket://127.0.0.1:0", id="socket_url_port_0"),
        pytest.param("socket://[::1]:1", id="socket_url_ipv6"),
        pytest.param("rfc2217://127.0.0.1:99999", id="rfc2217_bad_port"),
    ],
)
@pytest.mark.usefixtures("local_addresses")
async def test_serial_path_that_is_no_port(
    hass: HomeAssistant, ports: dict[str, str], tmp_path: Path, path: str
) -> None:
    """A typed-in path that is no serial port: an error on the form, no exception."""
    if path == "DIRECTORY":
        path = str(tmp_path)
    elif path == "REGULAR_FILE":
        (tmp_path / "file").write_text("not a port")
        path = str(tmp_path / "file")
    flow = await _manual(hass)
    result = await _submit(hass, flow, {CONF_DEVICE: path})
    assert result["type"] is FlowResultType.FORM, result
    errors = result["errors"]
    assert len(errors) == 1
    assert set(errors.values()) <= CONFIG_ERRORS - {"unknown"}, errors
    if result["step_id"] == "serial_manual":  # refused by the form
        assert errors == {CONF_DEVICE: "no_such_device"}
    else:  # tried: serial_asyncio_fast opens socket:// URLs as TCP connections
        assert result["step_id"] == TRANSPORT_SERIAL
        assert "base" in errors


@pytest.mark.parametrize(
    "baudrate",
    [0, -9600, 299, 4_000_001, 9600.5, 1e300, float("inf"), float("nan")],
    ids=repr,
)
async def test_baudrate_refused_by_the_form(
    hass: HomeAssistant, ports: dict[str, str], pty_meter: PtyMeter, baudrate: float
) -> None:
    """Custom line settings with an impossible baud rate."""
    flow = await _manual(hass, "custom")
    result = await _submit(hass, flow, {CONF_DEVICE: pty_meter.path})
    assert result["step_id"] == "serial_custom"
    settings = {CONF_PARITY: "N", CONF_BYTESIZE: "8", CONF_STOPBITS: "1"}
    result = await _submit(hass, result, {CONF_BAUDRATE: baudrate, **settings})
    assert_form_error(result, "serial_custom", {CONF_BAUDRATE: "invalid_baudrate"}, CONFIG_ERRORS)


@pytest.mark.parametrize(
    "settings",
    [
        {CONF_PARITY: "X", CONF_BYTESIZE: "8", CONF_STOPBITS: "1"},
        {CONF_PARITY: "N", CONF_BYTESIZE: "9", CONF_STOPBITS: "1"},
        {CONF_PARITY: "N", CONF_BYTESIZE: "8", CONF_STOPBITS: "3"},
        {CONF_PARITY: ";rm -rf /", CONF_BYTESIZE: "8", CONF_STOPBITS: "1"},
        {CONF_PARITY: "N", CONF_BYTESIZE: 8, CONF_STOPBITS: 1},
    ],
    ids=["parity", "bytesize", "stopbits", "shell", "numbers_not_choices"],
)
async def test_line_settings_not_offered(
    hass: HomeAssistant, ports: dict[str, str], pty_meter: PtyMeter, settings: dict[str, Any]
) -> None:
    """Parity, data bits and stop bits come from lists: anything else is refused."""
    flow = await _manual(hass, "custom")
    result = await _submit(hass, flow, {CONF_DEVICE: pty_meter.path})
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_BAUDRATE: 2400, **settings}
        )


async def test_settings_the_port_refuses(
    hass: HomeAssistant, ports: dict[str, str], pty_meter: PtyMeter
) -> None:
    """Odd but allowed settings the port cannot take (a pty has no parity, 7 bits, 1.5 stop)."""
    flow = await _manual(hass, "custom")
    result = await _submit(hass, flow, {CONF_DEVICE: pty_meter.path})
    settings = {CONF_PARITY: "O", CONF_BYTESIZE: "7", CONF_STOPBITS: "1.5"}
    result = await _submit(hass, result, {CONF_BAUDRATE: 300, **settings})
    assert result["type"] is FlowResultType.FORM
    assert set(result["errors"].values()) <= CONFIG_ERRORS
    assert result["errors"]


# Options


@pytest.fixture
async def options_flow(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[FlowResult]:
    """The options form of a loaded entry (its bridge does not exist: it just retries)."""
    async with nothing_listens() as port:
        entry = network_entry(port)
        await setup_entry(hass, entry)
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["type"] is FlowResultType.FORM
        yield result
        await unload_entry(hass, entry)


def _valid_options(flow: FlowResult) -> dict[str, Any]:
    """Good values for every field of the options form (what it suggests, else defaults)."""
    fallback = {"capacity_mode": "off", "capacity_steps": "2, 5, 10", "capacity_window": False}
    values: dict[str, Any] = {}
    for key in flow["data_schema"].schema:
        name = str(key)
        suggested = (key.description or {}).get("suggested_value")
        if suggested is not None:
            values[name] = suggested
        elif key.default is not vol.UNDEFINED:
            values[name] = key.default()
        elif name in fallback:
            values[name] = fallback[name]
    return values


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (CONF_MULTIPLIER, 0, "invalid_multiplier"),
        (CONF_MULTIPLIER, -1, "invalid_multiplier"),
        (CONF_MULTIPLIER, 100_001, "invalid_multiplier"),
        (CONF_MULTIPLIER, 1e308, "invalid_multiplier"),
        (CONF_MULTIPLIER, float("inf"), "invalid_multiplier"),
        (CONF_MULTIPLIER, float("nan"), "invalid_multiplier"),
        (CONF_WATCHDOG_TIMEOUT, 0, "invalid_watchdog_timeout"),
        (CONF_WATCHDOG_TIMEOUT, 9.99, "invalid_watchdog_timeout"),
        (CONF_WATCHDOG_TIMEOUT, 3601, "invalid_watchdog_timeout"),
        (CONF_WATCHDOG_TIMEOUT, -60, "invalid_watchdog_timeout"),
        (CONF_WATCHDOG_TIMEOUT, float("inf"), "invalid_watchdog_timeout"),
        (CONF_WATCHDOG_TIMEOUT, float("nan"), "invalid_watchdog_timeout"),
        ("capacity_steps", "", "invalid_steps"),
        ("capacity_steps", "abc", "invalid_steps"),
        ("capacity_steps", "10, 5", "invalid_steps"),
        ("capacity_steps", "-2, 5", "invalid_steps"),
        ("capacity_steps", "0", "invalid_steps"),
        ("capacity_steps", "nan", "invalid_steps"),
        ("capacity_steps", "inf", "invalid_steps"),
        ("capacity_steps", "1e400", "invalid_steps"),
        ("capacity_steps", ";rm -rf /", "invalid_steps"),
        ("capacity_steps", "2, 5, \u0663", "invalid_steps"),
    ],
    ids=lambda value: repr(value)[:20],
)
async def test_option_refused_by_the_form(
    hass: HomeAssistant, options_flow: FlowResult, field: str, value: Any, error: str
) -> None:
    """Each option's bad values: an error at that field, translated."""
    values = _valid_options(options_flow)
    if field not in values and field.startswith("capacity"):
        pytest.skip("no capacity tariff options in this version")
    result = await hass.config_entries.options.async_configure(
        options_flow["flow_id"], {**values, field: value}
    )
    assert_form_error(result, "init", {field: error}, OPTIONS_ERRORS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (CONF_MULTIPLIER, "abc"),
        (CONF_MULTIPLIER, ""),
        (CONF_WATCHDOG_TIMEOUT, "sixty"),
        (CONF_WATCHDOG_TIMEOUT, None),
        ("capacity_peaks", 0),
        ("capacity_peaks", 11),
        ("capacity_mode", "nowhere"),
    ],
    ids=repr,
)
async def test_option_not_a_number_or_choice(
    hass: HomeAssistant, options_flow: FlowResult, field: str, value: Any
) -> None:
    """Not a number, or outside the selector's own range or choices: the selector refuses."""
    values = _valid_options(options_flow)
    if field.startswith("capacity") and "capacity_mode" not in values:
        pytest.skip("no capacity tariff options in this version")
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            options_flow["flow_id"], {**values, field: value}
        )


# Reconfigure: the same forms, started from a loaded entry


@pytest.mark.parametrize(
    ("host", "port", "errors"),
    [
        ("", 3001, {CONF_HOST: "invalid_host"}),
        (";rm -rf /", 3001, {CONF_HOST: "invalid_host"}),
        ("http://host", 0, {CONF_HOST: "invalid_host", CONF_PORT: "invalid_port"}),
        ("[::1]:3001", 70000, {CONF_HOST: "invalid_host", CONF_PORT: "invalid_port"}),
        ("[::1]", 70000, {CONF_PORT: "invalid_port"}),
    ],
)
async def test_reconfigure_refuses_bad_input(
    hass: HomeAssistant, socket_enabled: None, host: str, port: int, errors: dict[str, str]
) -> None:
    """Reconfiguring shows the same form errors, and the entry keeps running meanwhile."""
    async with nothing_listens() as free_port:
        entry = network_entry(free_port)
        await setup_entry(hass, entry)
        try:
            result = await entry.start_reconfigure_flow(hass)
            assert result["type"] is FlowResultType.MENU
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"next_step_id": TRANSPORT_NETWORK}
            )
            result = await _submit(hass, result, {CONF_HOST: host, CONF_PORT: port})
            assert_form_error(result, TRANSPORT_NETWORK, errors, CONFIG_ERRORS)
            assert entry.data[CONF_PORT] == free_port
        finally:
            await unload_entry(hass, entry)
