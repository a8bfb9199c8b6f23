"""Fault injection: the integration recovers by itself from everything a meter link does.

Each test runs a real Home Assistant (the ``hass`` fixture) with the integration reading
a simulated Aidon meter (frames from the builder, with known values) through a real TCP
socket on 127.0.0.1 or a real pseudo-terminal, breaks the link in one way, then lets data
flow again. After each fault:

* the entities are available again within one watchdog period after data returns
  (watchdog and back-off are made tiny: the watchdog is an option of the entry, the
  back-off is patched);
* no task, socket or file descriptor is left behind (``/proc/self/fd`` and the tasks
  are compared before and after; ``verify_cleanup`` checks tasks and timers too);
* cumulative energy never decreased, and every power value shown is one the meter sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import struct
import tty
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_DEVICE,
    EVENT_STATE_CHANGED,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import restore_state
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_load_restore_state_from_storage,
)

from custom_components.han_meter.amshan.builder import (
    build_data_notification,
    build_hdlc_frame,
    build_meter_frame,
)
from custom_components.han_meter.amshan.connection_manager import ConnectionManager
from custom_components.han_meter.connection_factory import async_connection_factory
from custom_components.han_meter.const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_PARITY,
    CONF_STOPBITS,
    CONF_TRANSPORT,
    CONF_WATCHDOG_TIMEOUT,
    DOMAIN,
    TRANSPORT_SERIAL,
)

from .conftest import AIDON_METER_ID, network_entry, setup_entry, unload_entry, wait_for

WATCHDOG = 2.0  # seconds, the entry's watchdog option
FAST_RECONNECT = {
    "back_off_min": 0.05,
    "back_off_max": 0.2,
    "circuit_breaker_min_uptime": 0.5,
    "circuit_breaker_pause": 0.3,
    "connect_timeout": 2.0,
}
POWER = "sensor.aidon_6525_power_import"
ENERGY = "sensor.aidon_6525_energy_import"
METER = {"meter_id": AIDON_METER_ID, "meter_type": "6525"}
COORDINATOR = "custom_components.han_meter.coordinator"


@pytest.fixture(autouse=True)
def fast_reconnect() -> Any:
    """Reconnect after tens of milliseconds instead of seconds."""
    with patch(
        f"{COORDINATOR}.ConnectionManager",
        partial(ConnectionManager, **FAST_RECONNECT),
    ):
        yield


@dataclass
class Meter:
    """An Aidon meter: list 1 three times, then list 2; list 3 every `hour` frames.

    Energy grows by the power of every frame, so it only ever increases; every frame
    is different (power and clock), so every one changes the power sensor.
    """

    hour: int = 12
    time: datetime = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    energy: int = 12_345_670  # Wh, a multiple of the Aidon resolution (10 Wh)
    frames: int = 0
    powers: set[int] = field(default_factory=set)

    def next_frame(self) -> bytes:
        """The next message on the schedule."""
        self.frames += 1
        self.time += timedelta(seconds=300 if self.frames % self.hour == 0 else 2.5)
        power = 1000 + self.frames % 997
        self.powers.add(power)
        self.energy += power // 10 * 10 + 10
        values: dict[str, Any] = {"active_power_import": power}
        if self.frames % self.hour == 0:
            values |= {**METER, "active_power_import_total": self.energy}
        elif self.frames % 4 == 0:
            values |= {**METER, "voltage_l1": 230.0}
        return build_meter_frame("aidon", values, timestamp=self.time)

    def burst(self, count: int) -> bytes:
        """``count`` frames in one piece."""
        return b"".join(self.next_frame() for _ in range(count))


class Bridge:
    """A HAN-to-TCP bridge on 127.0.0.1 whose behaviour the test switches at will.

    Modes: ``stream`` (a frame every ``interval``), ``silent`` (accepts, never sends),
    ``once`` (one frame as soon as a client connects, then silent),
    ``garbage`` (random bytes), ``close_mid_frame`` (half a frame, then FIN),
    ``reset`` (a frame and a half, then RST). ``refuse()`` stops listening (and drops
    everyone); ``listen()`` listens again on the same port.
    """

    def __init__(self, meter: Meter) -> None:
        """Initialize (not listening yet)."""
        self.meter = meter
        self.mode = "stream"
        self.interval = 0.02
        self.port = 0
        self.connections = 0
        self._rng = random.Random(6)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def send(self, data: bytes) -> None:
        """Write ``data`` at once to every connection."""
        for writer in self._writers:
            writer.write(data)

    async def listen(self) -> None:
        """Accept connections (on the same port as before, if any)."""
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening and close every connection: connecting is now refused."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            server.close_clients()
            await server.wait_closed()
        if self._handlers:
            await asyncio.wait(self._handlers)

    @property
    def clients(self) -> int:
        """Connections open now."""
        return len(self._handlers)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        self._writers.add(writer)
        eof = asyncio.ensure_future(reader.read())  # the client's close or reset
        try:
            while not eof.done() and not writer.is_closing():
                mode = self.mode
                if mode == "stream":
                    writer.write(self.meter.next_frame())
                elif mode == "garbage":
                    writer.write(self._rng.randbytes(256))
                elif mode == "once":  # one frame on connecting, then silence
                    writer.write(self.meter.next_frame())
                    self.mode = "silent"
                elif mode == "close_mid_frame":
                    frame = self.meter.next_frame()
                    writer.write(frame[: len(frame) // 2])
                    await writer.drain()
                    break
                elif mode == "reset":
                    frame = self.meter.next_frame()
                    writer.write(self.meter.next_frame() + frame[: len(frame) // 2])
                    await writer.drain()
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    break
                await asyncio.wait((eof,), timeout=self.interval)
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            eof.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await eof
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            self._handlers.discard(task)


def open_fds() -> dict[int, str]:
    """The file descriptors of this process and what they point to."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return fds


@contextlib.asynccontextmanager
async def no_leaks(hass: HomeAssistant) -> AsyncIterator[None]:
    """Fail when the block leaves file descriptors, sockets or tasks behind."""
    await hass.async_block_till_done()
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    yield
    await hass.async_block_till_done()
    fds_after = open_fds()
    leaked = {fd: target for fd, target in fds_after.items() if fds_before.get(fd) != target}
    assert not leaked, f"file descriptors left open: {leaked}"
    tasks = {task for task in asyncio.all_tasks() - tasks_before if not task.done()}
    tasks.discard(asyncio.current_task())  # type: ignore[arg-type]
    assert not tasks, f"tasks left running: {tasks}"


class StateWatch:
    """Records the numeric states of the power and energy sensors as they are written."""

    def __init__(self, hass: HomeAssistant, meter: Meter) -> None:
        """Start listening."""
        self.meter = meter
        self.energy: list[float] = []
        self.powers: list[float] = []
        self.unavailable = 0
        self._remove = hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if state is None or event.data["entity_id"] not in (POWER, ENERGY):
            return
        if state.state == STATE_UNAVAILABLE:
            self.unavailable += event.data["entity_id"] == POWER
            return
        if state.state == STATE_UNKNOWN:
            return
        if event.data["entity_id"] == POWER:
            self.powers.append(float(state.state))
        else:
            self.energy.append(float(state.state))

    def check(self) -> None:
        """Energy never went down; every power shown was sent by the meter."""
        self._remove()
        assert self.energy == sorted(self.energy), "energy decreased"
        assert set(self.powers) <= self.meter.powers, "a power the meter never sent"


def available(hass: HomeAssistant) -> bool:
    """The power sensor shows a value."""
    state = hass.states.get(POWER)
    return state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)


async def recovers(hass: HomeAssistant) -> float:
    """Seconds until the meter is available with fresh data; fails after one watchdog period."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    await hass.async_block_till_done()
    state = hass.states.get(POWER)
    last = state.last_updated if state is not None else None

    def fresh() -> bool:
        now = hass.states.get(POWER)
        return available(hass) and now is not None and now.last_updated != last

    await wait_for(fresh, WATCHDOG)
    return loop.time() - start


async def unavailable(hass: HomeAssistant, seconds: float = 3 * WATCHDOG) -> None:
    """Wait until the meter is shown unavailable."""
    await wait_for(lambda: hass.states.get(POWER).state == STATE_UNAVAILABLE, seconds)


@contextlib.asynccontextmanager
async def scenario(
    hass: HomeAssistant,
) -> AsyncIterator[tuple[Bridge, MockConfigEntry, StateWatch]]:
    """A streaming bridge and a loaded entry reading it, all gone (and checked) at the end."""
    async with no_leaks(hass):
        meter = Meter()
        bridge = Bridge(meter)
        await bridge.listen()
        entry = network_entry(bridge.port, options={CONF_WATCHDOG_TIMEOUT: WATCHDOG})
        watch = StateWatch(hass, meter)
        await setup_entry(hass, entry)
        await wait_for(lambda: available(hass) and bridge.connections == 1)
        try:
            yield bridge, entry, watch
        finally:
            if entry.state is ConfigEntryState.LOADED:
                await unload_entry(hass, entry)
            await bridge.refuse()
    watch.check()


async def test_peer_closes_mid_frame(hass: HomeAssistant, socket_enabled: None) -> None:
    """The bridge hangs up in the middle of a frame, again and again, then streams again."""
    async with scenario(hass) as (bridge, entry, watch):
        coordinator = entry.runtime_data
        before = coordinator.counters.decoded
        bridge.mode = "close_mid_frame"
        await unavailable(hass)
        await wait_for(lambda: bridge.connections >= 4)
        assert coordinator.manager.counters.drops >= 3
        bridge.mode = "stream"
        await recovers(hass)
        assert coordinator.counters.decoded > before
        assert coordinator.counters.decode_failures == 0  # half frames never reach the decoder


async def test_peer_resets_connection(hass: HomeAssistant, socket_enabled: None) -> None:
    """The bridge resets the connection (RST, SO_LINGER 0) right after a frame and a half."""
    async with scenario(hass) as (bridge, entry, watch):
        coordinator = entry.runtime_data
        bridge.mode = "reset"
        await wait_for(lambda: bridge.connections >= 3, 3 * WATCHDOG)
        assert coordinator.manager.counters.drops >= 2
        bridge.mode = "stream"
        await recovers(hass)
        assert coordinator.counters.decode_failures == 0


async def test_peer_refuses_for_a_while(hass: HomeAssistant, socket_enabled: None) -> None:
    """The bridge is down (connections refused) for several attempts, then comes back."""
    async with scenario(hass) as (bridge, entry, watch):
        manager = entry.runtime_data.manager
        await bridge.refuse()
        await unavailable(hass)
        failures = manager.counters.connect_failures
        await wait_for(lambda: manager.counters.connect_failures >= failures + 3, 3 * WATCHDOG)
        assert "cannot connect" in (manager.last_error or "")
        await bridge.listen()
        await recovers(hass)
        assert entry.runtime_data.counters.reconnects == 1


async def test_peer_accepts_but_never_sends(hass: HomeAssistant, socket_enabled: None) -> None:
    """A bridge that accepts and stays silent: the watchdog reopens the connection."""
    async with scenario(hass) as (bridge, entry, watch):
        manager = entry.runtime_data.manager
        bridge.mode = "silent"
        await unavailable(hass)
        await wait_for(lambda: manager.counters.watchdog_trips >= 1, 2 * WATCHDOG)
        await wait_for(lambda: bridge.connections >= 2)
        bridge.mode = "stream"
        await recovers(hass)


async def test_peer_sends_only_garbage(hass: HomeAssistant, socket_enabled: None) -> None:
    """Random bytes, then data again: no values from garbage, and the meter comes back."""
    async with scenario(hass) as (bridge, entry, watch):
        coordinator = entry.runtime_data
        decoded = coordinator.counters.decoded
        bridge.mode = "garbage"
        await unavailable(hass)
        assert coordinator.counters.decoded == decoded
        bridge.mode = "stream"
        await recovers(hass)
        counters = coordinator.async_protocol_counters()
        assert counters["bytes_received"] > 256 * 10


async def test_burst_of_10000_frames(hass: HomeAssistant, socket_enabled: None) -> None:
    """10 000 frames written at once: the newest win, the rest are dropped and counted."""
    async with scenario(hass) as (bridge, entry, watch):
        coordinator = entry.runtime_data
        bridge.mode = "silent"
        await wait_for(lambda: coordinator.manager.protocol is not None)
        protocol = coordinator.manager.protocol
        await quiet(coordinator, protocol)
        received = protocol.counters.messages
        handled = coordinator.counters.messages
        burst = bridge.meter.burst(10_000)
        last_power = 1000 + bridge.meter.frames % 997
        bridge.send(burst)
        await wait_for(lambda: protocol.counters.messages == received + 10_000, 20)
        await hass.async_block_till_done()
        await wait_for(lambda: hass.states.get(POWER).state == str(last_power))
        handled_now = coordinator.counters.messages - handled
        assert handled_now + protocol.counters.dropped_messages == 10_000
        assert protocol.counters.dropped_messages > 0
        bridge.mode = "stream"
        await recovers(hass)


async def quiet(coordinator: Any, protocol: Any) -> None:
    """Until no frame is in flight: nothing new arrives and everything was handled."""
    seen = -1
    while seen != protocol.counters.messages:
        seen = protocol.counters.messages
        await asyncio.sleep(0.1)

    def handled() -> bool:
        totals = coordinator.async_protocol_counters()
        return coordinator.counters.messages + totals["dropped_messages"] == totals["messages"]

    await wait_for(handled)


class PtyPort:
    """A serial port that can be unplugged and plugged in again.

    The entry uses a stable path (a symlink, like /dev/serial/by-id) that points to a
    pseudo-terminal; unplugging closes the terminal and removes the link.
    """

    def __init__(self, path: Path) -> None:
        """Initialize (unplugged)."""
        self.path = path
        self.master: int | None = None
        self.slave: int | None = None

    def plug(self) -> None:
        """A new pseudo-terminal behind the path."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path.symlink_to(os.ttyname(self.slave))

    def unplug(self) -> None:
        """The device is gone: terminal closed, path removed."""
        self.path.unlink()
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def send(self, data: bytes) -> None:
        """Write as the meter would; bytes are lost when nobody reads."""
        if self.master is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self.master, data)


async def test_serial_port_disappears_and_returns(hass: HomeAssistant, tmp_path: Path) -> None:
    """The USB adapter is pulled out and plugged in again."""
    async with no_leaks(hass):
        meter = Meter()
        watch = StateWatch(hass, meter)
        port = PtyPort(tmp_path / "usb-HAN-adapter")
        port.plug()
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Aidon 6525",
            unique_id=AIDON_METER_ID,
            data={
                CONF_TRANSPORT: TRANSPORT_SERIAL,
                CONF_DEVICE: str(port.path),
                CONF_BAUDRATE: 115200,
                CONF_PARITY: "N",
                CONF_BYTESIZE: 8,
                CONF_STOPBITS: 1,
                CONF_METER_MANUFACTURER: "Aidon",
                CONF_METER_TYPE: "6525",
            },
            options={CONF_WATCHDOG_TIMEOUT: WATCHDOG},
        )
        stop = asyncio.Event()

        async def stream() -> None:
            while not stop.is_set():
                port.send(meter.next_frame())
                await asyncio.sleep(0.02)

        streamer = asyncio.create_task(stream())
        try:
            await setup_entry(hass, entry)
            await wait_for(lambda: available(hass))
            manager = entry.runtime_data.manager
            port.unplug()
            await unavailable(hass)
            failures = manager.counters.connect_failures
            await wait_for(lambda: manager.counters.connect_failures >= failures + 2, 3 * WATCHDOG)
            port.plug()
            await recovers(hass)
            assert entry.runtime_data.counters.reconnects == 1
            await unload_entry(hass, entry)
        finally:
            stop.set()
            await streamer
            if port.master is not None:
                port.unplug()
    watch.check()


async def test_reload_while_streaming(hass: HomeAssistant, socket_enabled: None) -> None:
    """The entry is reloaded five times while frames stream in at 100 per second."""
    async with scenario(hass) as (bridge, entry, watch):
        bridge.interval = 0.01
        for _ in range(5):
            await hass.config_entries.async_reload(entry.entry_id)
            assert entry.state is ConfigEntryState.LOADED
            await recovers(hass)
        assert bridge.connections >= 6
        assert watch.unavailable >= 5


async def test_restart_in_the_middle_of_an_hour(
    hass: HomeAssistant, hass_storage: dict[str, Any], socket_enabled: None
) -> None:
    """Home Assistant stops half an hour after the hourly list and starts again.

    Energy only comes with the hourly list; after the restart the energy sensor shows
    its stored value as soon as the meter is back (not "unknown" until the next hour),
    and the next hourly list moves it on. The states go through the (mocked) storage.
    """
    async with no_leaks(hass):
        meter = Meter()
        bridge = Bridge(meter)
        bridge.mode = "silent"  # frames are sent one by one below
        await bridge.listen()
        watch = StateWatch(hass, meter)
        entry = network_entry(bridge.port, options={CONF_WATCHDOG_TIMEOUT: WATCHDOG})
        await setup_entry(hass, entry)
        # An hour's lists, then half of the next hour's (power only).
        await feed(hass, bridge, entry, meter.hour + meter.hour // 2)
        energy = float(hass.states.get(ENERGY).state)

        # Stop: the final write stores the states; start: they are loaded again.
        await restore_state.async_get(hass).async_dump_states()
        await unload_entry(hass, entry)
        stored = hass_storage[restore_state.STORAGE_KEY]["data"]
        saved = next(item for item in stored if item["state"]["entity_id"] == ENERGY)
        assert float(saved["state"]["state"]) == energy  # kWh; the extra data holds Wh
        assert saved["extra_data"]["native_value"] == round(energy * 1000)
        await async_mock_load_restore_state_from_storage(hass)
        await setup_entry(hass, entry)  # started again: entities from the registry
        assert hass.states.get(ENERGY).state == STATE_UNAVAILABLE
        await feed(hass, bridge, entry, 1)  # a list 1: power only
        assert available(hass)
        assert float(hass.states.get(ENERGY).state) == energy  # restored, not unknown
        await feed(hass, bridge, entry, meter.hour // 2)  # up to the next hourly list
        assert float(hass.states.get(ENERGY).state) > energy
        assert entry.runtime_data.counters.energy_backwards == 0
        await unload_entry(hass, entry)
        await bridge.refuse()
    watch.check()


async def feed(hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry, count: int) -> None:
    """Send ``count`` frames one by one, each once the previous one was handled."""
    await wait_for(
        lambda: bridge.clients == 1 and entry.runtime_data.connection_state == "connected"
    )
    for _ in range(count):
        handled = entry.runtime_data.counters.messages
        bridge.send(bridge.meter.next_frame())
        await wait_for(lambda handled=handled: entry.runtime_data.counters.messages > handled)
    await hass.async_block_till_done()


def _lying_frame(value: bytes) -> bytes:
    """A frame that passes every check but carries ``value`` as the active power (1.7.0)."""
    element = b"\x02\x02\x09\x06\x01\x00\x01\x07\x00\xff" + value
    return build_hdlc_frame(build_data_notification(b"\x01\x01" + element))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\x0a\x0b12345678901", id="digits_as_text"),
        pytest.param(b"\x0a\x03abc", id="letters_as_text"),
        pytest.param(b"\x09\x0c\x07\xe9\x01\x06\x01\x0c\x00\x00\x00\x80\x00\x00", id="a_clock"),
    ],
)
async def test_frame_that_passes_checks_but_lies(
    hass: HomeAssistant, socket_enabled: None, value: bytes
) -> None:
    """A frame with good checksums and a text where the power should be: not shown, and
    the frames after it are read as before."""
    async with no_leaks(hass):
        meter = Meter()
        bridge = Bridge(meter)
        bridge.mode = "silent"
        await bridge.listen()
        watch = StateWatch(hass, meter)
        entry = network_entry(bridge.port, options={CONF_WATCHDOG_TIMEOUT: WATCHDOG})
        await setup_entry(hass, entry)
        try:
            await feed(hass, bridge, entry, 4)
            handled = entry.runtime_data.counters.messages
            bridge.send(_lying_frame(value))
            await wait_for(lambda: entry.runtime_data.counters.messages > handled)
            await feed(hass, bridge, entry, 1)
            assert hass.states.get(POWER).state == str(1000 + meter.frames % 997)
        finally:
            await unload_entry(hass, entry)
            await bridge.refuse()
    watch.check()


async def test_reading_waiting_at_connect_is_shown(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A reading that arrives while the connection is still being set up is shown.

    The factory's return is held back a little, so the bridge's first frame (sent the
    moment it accepts) is read before the connection manager reports the connection up:
    what happens with a bridge that sends buffered data at once, or a loaded machine.
    """
    real_factory = async_connection_factory

    def slow_factory(data: Any, queue: Any) -> Callable[[], Any]:
        connect = real_factory(data, queue)

        async def slow_connect() -> Any:
            connection = await connect()
            await asyncio.sleep(0.2)
            return connection

        return slow_connect

    async with no_leaks(hass):
        meter = Meter()
        bridge = Bridge(meter)
        bridge.mode = "once"
        await bridge.listen()
        entry = network_entry(bridge.port, options={CONF_WATCHDOG_TIMEOUT: WATCHDOG})
        with patch(
            "custom_components.han_meter.coordinator.async_connection_factory", slow_factory
        ):
            await setup_entry(hass, entry)
        try:
            await wait_for(lambda: entry.runtime_data.counters.decoded == 1)
            # Shown at once, while the manager still sets the connection up.
            assert entry.runtime_data.connection_state == "connecting"
            assert hass.states.get(POWER).state == str(1000 + meter.frames % 997)
            assert entry.runtime_data.counters.connects == 1
            await wait_for(lambda: entry.runtime_data.connection_state == "connected")
            await hass.async_block_till_done()
            assert hass.states.get(POWER).state == str(1000 + meter.frames % 997)
            assert entry.runtime_data.counters.connects == 1  # counted once
        finally:
            await unload_entry(hass, entry)
            await bridge.refuse()
