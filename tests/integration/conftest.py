"""Fixtures for the Home Assistant integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from unittest.mock import patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.han_meter.amshan.builder import build_hdlc_frame
from custom_components.han_meter.const import (
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_TRANSPORT,
    DOMAIN,
    TRANSPORT_NETWORK,
)
from tests.conftest import VECTORS

VECTORS_BY_ID = {vector.id: vector for vector in VECTORS}

AIDON_METER_ID = "7359992892587665"
KAIFA_METER_ID = "6970631402614476"
KAMSTRUP_METER_ID = "5705705705705702"


def vector_frame(vector_id: str) -> bytes:
    """The bytes a meter puts on the wire for a captured vector (APDUs get HDLC framing)."""
    vector = VECTORS_BY_ID[vector_id]
    if vector.kind == "dlms-apdu":
        return build_hdlc_frame(vector.raw)
    return vector.raw


# Captured messages of real meters, as streams.
AIDON_LIST1 = vector_frame("amshan_aidon_list1_with_0x7d_in_payload")
AIDON_LIST2 = vector_frame("amshan_aidon_no_list2")
AIDON_LIST3 = vector_frame("amshan_aidon_no_list3")
KAIFA_LIST2 = vector_frame("amshan_kaifa_no_list2")
KAIFA_LIST3 = vector_frame("amshan_kaifa_no_list3")
KAMSTRUP_LIST1 = vector_frame("amshan_kamstrup_no_list1_1ph_real")
KAMSTRUP_LIST2 = vector_frame("amshan_kamstrup_no_list2_1ph_real")
P1_KAMSTRUP = vector_frame("amshan_p1_kamstrup_kam5_se")
P1_ELL = vector_frame("amshan_p1_ell5_se")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/han_meter in every test."""


async def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    """Let the event loop run until `condition()` is true (polling: no event to wait on)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class FrameServer:
    """A TCP server on 127.0.0.1 that behaves like a HAN-to-TCP bridge.

    Clients get `stream` (a list of messages) repeated every `interval` seconds, or
    only what `send()` writes when `stream` is empty.
    """

    def __init__(self) -> None:
        """Initialize the server (not yet listening)."""
        self.stream: list[bytes] = []
        self.interval = 0.05
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self._writers)

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        streamer = asyncio.create_task(self._stream(writer))
        try:
            while await reader.read(1024):
                pass
        except OSError:
            pass
        finally:
            streamer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await streamer
            self._writers.remove(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        while True:
            for message in list(self.stream):
                if writer.is_closing():
                    return
                writer.write(message)
                await asyncio.sleep(self.interval)
            if not self.stream:
                await asyncio.sleep(self.interval)

    def send(self, data: bytes) -> None:
        """Write data to every connected client."""
        for writer in self._writers:
            writer.write(data)

    async def drop_clients(self) -> None:
        """Close every client connection (the bridge restarts)."""
        for writer in list(self._writers):
            writer.close()
        await wait_for(lambda: not self._writers)

    async def stop(self) -> None:
        """Stop listening and close every client."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            for writer in list(self._writers):
                writer.close()
            await server.wait_closed()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)


@pytest.fixture
async def meter_server(socket_enabled: None) -> AsyncGenerator[FrameServer]:
    """A running bridge on 127.0.0.1 that sends nothing until told to."""
    server = FrameServer()
    await server.start()
    yield server
    await server.stop()


class PtyMeter:
    """A meter on a serial port: a pseudo-terminal whose other end we write to."""

    def __init__(self) -> None:
        """Open the pseudo-terminal."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.stream: list[bytes] = []
        self.interval = 0.05
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Write `stream` to the port again and again."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            for message in list(self.stream) or [b""]:
                self.send(message)
                await asyncio.sleep(self.interval)

    def send(self, data: bytes) -> None:
        """Write bytes as the meter would (dropped when nobody reads the port)."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.master, data)

    async def close(self) -> None:
        """Stop writing and close both ends."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
async def pty_meter() -> AsyncGenerator[PtyMeter]:
    """A serial port with a meter that streams `pty_meter.stream`."""
    meter = PtyMeter()
    meter.start()
    yield meter
    await meter.close()


@pytest.fixture
def short_timeouts() -> Generator[None]:
    """Make the config flow give up quickly."""
    with (
        patch("custom_components.han_meter.const.VALIDATION_TIMEOUT", 1.0),
        patch("custom_components.han_meter.const.CONNECT_TIMEOUT", 1.0),
    ):
        yield


@pytest.fixture
def mock_serial_ports(pty_meter: PtyMeter) -> Generator[dict[str, str]]:
    """The machine's serial ports: only the pseudo-terminal."""
    ports = {pty_meter.path: f"{pty_meter.path} - HAN adapter"}
    with patch("custom_components.han_meter.validation.list_serial_ports", return_value=ports):
        yield ports


def network_entry(
    port: int,
    *,
    meter_id: str = AIDON_METER_ID,
    title: str = "Aidon 6525",
    options: dict[str, object] | None = None,
    host: str = "127.0.0.1",
) -> MockConfigEntry:
    """A config entry for a meter behind a bridge on 127.0.0.1."""
    manufacturer, _, meter_type = title.partition(" ")
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=meter_id,
        data={
            CONF_TRANSPORT: TRANSPORT_NETWORK,
            CONF_HOST: host,
            CONF_PORT: port,
            CONF_METER_MANUFACTURER: manufacturer,
            CONF_METER_TYPE: meter_type or None,
        },
        options=options or {},
    )


@pytest.fixture
def mock_config_entry(meter_server: FrameServer) -> MockConfigEntry:
    """A config entry for the Aidon meter behind `meter_server`."""
    return network_entry(meter_server.port)


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add the entry to Home Assistant (unless it is) and set it up."""
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def unload_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the entry (closes its connection)."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def send_and_wait(
    hass: HomeAssistant,
    server: FrameServer,
    entry: MockConfigEntry,
    messages: Iterable[bytes],
) -> None:
    """Send messages through the bridge and wait until the entry decoded them."""
    coordinator = entry.runtime_data
    for message in messages:
        count = coordinator.counters.messages
        server.send(message)
        await wait_for(lambda count=count: coordinator.counters.messages > count)
    await hass.async_block_till_done()


@pytest.fixture
async def connected_entry(
    hass: HomeAssistant, meter_server: FrameServer, mock_config_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """The Aidon entry, set up and connected to the bridge (no data sent yet)."""
    await setup_entry(hass, mock_config_entry)
    await wait_for(lambda: meter_server.clients == 1)
    await wait_for(lambda: mock_config_entry.runtime_data.connection_state == "connected")
    yield mock_config_entry
    if mock_config_entry.state is ConfigEntryState.LOADED:
        await unload_entry(hass, mock_config_entry)
