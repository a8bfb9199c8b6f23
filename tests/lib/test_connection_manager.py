"""ConnectionManager behaviour with a scripted connection factory (no sockets).

The transport is a small in-memory one; the protocol is the real
SmartMeterMessageProtocol with a line reader, so "valid messages" are lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from custom_components.han_meter.amshan.connection_manager import (
    ConnectionManager,
    ConnectionState,
    describe_error,
)
from custom_components.han_meter.amshan.meter_connection import SmartMeterMessageProtocol

LOGGER_NAME = "custom_components.han_meter.amshan.connection_manager"


@dataclass(frozen=True)
class Line:
    as_bytes: bytes

    @property
    def payload(self) -> bytes:
        return self.as_bytes.rstrip(b"\n")

    @property
    def is_valid(self) -> bool:
        return not self.as_bytes.startswith(b"bad")


class LineReader:
    def __init__(self) -> None:
        self.buffer = b""

    def read(self, data: bytes) -> Sequence[Line]:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [Line(line + b"\n") for line in lines]


class MemoryTransport(asyncio.Transport):
    """Closing it calls connection_lost soon after, like a socket transport."""

    def __init__(self, protocol: SmartMeterMessageProtocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.closed = False
        protocol.connection_made(self)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def drop(self, error: Exception | None = None) -> None:
        """The peer went away."""
        self.closed = True
        self.protocol.connection_lost(error)


class ScriptedFactory:
    """Each call takes the next outcome: 'fail', 'ok', 'hang', or an exception."""

    def __init__(self, *outcomes: Any, then: Any = "fail") -> None:
        self.outcomes = list(outcomes)
        self.then = then
        self.calls: list[float] = []
        self.transports: list[MemoryTransport] = []
        self.connected = asyncio.Event()

    async def __call__(self) -> tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]:
        loop = asyncio.get_running_loop()
        self.calls.append(loop.time())
        outcome = self.outcomes.pop(0) if self.outcomes else self.then
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "fail":
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
        if outcome == "hang":
            await asyncio.Event().wait()
        protocol = SmartMeterMessageProtocol(asyncio.Queue(), [LineReader()])
        transport = MemoryTransport(protocol)
        self.transports.append(transport)
        self.connected.set()
        return transport, protocol

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.calls, self.calls[1:], strict=False)]


async def wait_until(condition: Any, limit: float = 5.0) -> None:
    """Poll ``condition`` (a plain predicate: nothing to await on) until it holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.002)


def fast_manager(factory: ScriptedFactory, **options: Any) -> ConnectionManager:
    settings: dict[str, Any] = {
        "back_off_min": 0.01,
        "back_off_max": 0.04,
        "watchdog_timeout": None,
        "circuit_breaker_threshold": 3,
        "circuit_breaker_min_uptime": 0.2,
        "circuit_breaker_pause": 0.3,
    }
    settings.update(options)
    return ConnectionManager(factory, **settings)


async def test_back_off_doubles_up_to_the_maximum() -> None:
    factory = ScriptedFactory()
    manager = fast_manager(factory, back_off_min=0.05, back_off_max=0.2)
    task = asyncio.create_task(manager.connect_loop())
    await wait_until(lambda: len(factory.calls) >= 6)
    await manager.close()
    await task
    # Sleeps are never shorter than asked; the upper bounds leave room for a busy
    # machine while still telling a capped 0.2 s from an uncapped 0.4 s.
    expected = [0.05, 0.1, 0.2, 0.2, 0.2]
    for gap, wanted in zip(factory.gaps(), expected, strict=False):
        assert wanted * 0.95 <= gap < wanted + 0.1
    assert manager.counters.connect_failures >= 6
    assert manager.counters.connects == 0
    assert manager.last_error is not None
    assert "Connect call failed" in manager.last_error
    assert manager.state is ConnectionState.CLOSED


async def test_good_connection_resets_back_off() -> None:
    factory = ScriptedFactory("fail", "fail", "fail", "ok", "fail", "fail")
    manager = fast_manager(factory, back_off_min=0.05, back_off_max=10.0)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    transport = factory.transports[0]
    transport.protocol.data_received(b"reading 1\n")
    transport.drop()
    dropped_at = asyncio.get_running_loop().time()
    await wait_until(lambda: len(factory.calls) >= 7)
    await manager.close()
    await task
    gaps = factory.gaps()
    assert gaps[2] >= 0.19  # 0.05, 0.1, 0.2: doubled before the good connection (next: 0.4)
    assert factory.calls[4] - dropped_at < 0.2  # the good connection resets it to 0.05 ...
    assert gaps[4] < 0.2  # ... for the first failure after it
    assert 0.095 <= gaps[5] < 0.35  # then doubling again
    assert manager.counters.drops == 1
    assert manager.counters.connects == 1


async def test_long_uptime_without_data_is_also_good() -> None:
    factory = ScriptedFactory("fail", "fail", "fail", "ok", then="fail")
    manager = fast_manager(factory, back_off_min=0.05, back_off_max=10.0)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    await asyncio.sleep(0.25)  # longer than circuit_breaker_min_uptime, no data
    factory.transports[0].drop()
    dropped_at = asyncio.get_running_loop().time()
    await wait_until(lambda: len(factory.calls) >= 6)
    await manager.close()
    await task
    assert factory.calls[4] - dropped_at < 0.2  # reset to 0.05 (else 0.4)
    assert factory.gaps()[4] < 0.2


async def test_circuit_breaker_pauses_after_short_lived_connections() -> None:
    states: list[ConnectionState] = []
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory, on_state_change=states.append)
    task = asyncio.create_task(manager.connect_loop())
    for number in range(1, 4):
        await wait_until(lambda n=number: len(factory.transports) >= n)
        factory.transports[-1].drop(ConnectionResetError(104, "Connection reset by peer"))
    await wait_until(lambda: manager.counters.circuit_breaker_trips == 1)
    assert manager.state is ConnectionState.WAITING
    tripped_at = asyncio.get_running_loop().time()
    await wait_until(lambda: len(factory.transports) >= 4)
    assert factory.calls[3] - tripped_at >= 0.27
    assert manager.counters.drops == 3
    assert "Connection reset by peer" in (manager.last_error or "") or "pausing" in (
        manager.last_error or ""
    )
    await manager.close()
    await task
    assert states[:3] == [
        ConnectionState.CONNECTING,
        ConnectionState.CONNECTED,
        ConnectionState.WAITING,
    ]
    assert states[-1] is ConnectionState.CLOSED


async def test_short_lived_connections_back_off() -> None:
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory, back_off_min=0.02, back_off_max=1.0)
    task = asyncio.create_task(manager.connect_loop())
    for number in range(1, 3):
        await wait_until(lambda n=number: len(factory.transports) >= n)
        factory.transports[-1].drop()
    await wait_until(lambda: len(factory.transports) >= 3)
    await manager.close()
    await task
    gaps = factory.gaps()
    assert gaps[1] >= 0.036  # doubled after a connection that was not good


async def test_watchdog_reconnects_a_silent_connection() -> None:
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory, watchdog_timeout=0.3, circuit_breaker_threshold=100)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    first = factory.transports[0]
    loop = asyncio.get_running_loop()
    for number in range(10):  # data every 30 ms keeps the watchdog quiet
        first.protocol.data_received(f"reading {number}\n".encode())
        await asyncio.sleep(0.03)
    assert manager.counters.watchdog_trips == 0
    assert not first.closed
    last_data = first.protocol.last_message_time
    assert last_data is not None
    await wait_until(lambda: first.closed)
    assert loop.time() - last_data >= 0.29
    await wait_until(lambda: len(factory.transports) >= 2)
    assert manager.counters.watchdog_trips == 1
    assert manager.counters.drops == 0
    assert manager.last_error == "no data for 0.3 s"
    await manager.close()
    await task


async def test_connect_timeout_counts_as_a_failure() -> None:
    factory = ScriptedFactory("hang", then="ok")
    manager = fast_manager(factory, connect_timeout=0.05)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    assert manager.counters.connect_failures == 1
    assert manager.last_error == "connecting timed out after 0.05 s"
    await wait_until(lambda: manager.state is ConnectionState.CONNECTED)
    await manager.close()
    await task


async def test_unexpected_factory_errors_never_stop_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = ScriptedFactory(RuntimeError("bug in the factory"), TimeoutError(), then="ok")
    manager = fast_manager(factory)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    assert manager.counters.connect_failures == 2
    assert manager.last_error == "cannot connect: timed out"
    await manager.close()
    await task
    assert "RuntimeError: bug in the factory" in caplog.text


async def test_warns_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    factory = ScriptedFactory(*["fail"] * 5, "ok", *["fail"] * 5, then="ok")
    manager = fast_manager(factory, back_off_max=0.01)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    factory.transports[0].protocol.data_received(b"reading\n")
    await wait_until(lambda: "connection is back" in caplog.text)
    factory.transports[0].drop()
    await wait_until(lambda: len(factory.transports) == 2)
    await manager.close()
    await task
    records = [r for r in caplog.records if r.name == LOGGER_NAME]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    assert "reconnecting until it is back" in warnings[0].getMessage()
    assert sum("still retrying" in r.getMessage() for r in records) >= 8


@pytest.mark.parametrize("where", ["sleeping", "connecting", "connected", "watching"])
async def test_close_is_prompt(where: str) -> None:
    outcome = {"sleeping": "fail", "connecting": "hang"}.get(where, "ok")
    factory = ScriptedFactory(then=outcome)
    manager = fast_manager(
        factory,
        back_off_min=100.0,
        back_off_max=100.0,
        watchdog_timeout=100.0 if where == "watching" else None,
        connect_timeout=100.0,
        circuit_breaker_min_uptime=100.0,
    )
    task = asyncio.create_task(manager.connect_loop())
    await wait_until(lambda: len(factory.calls) == 1)
    await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await manager.close()
    assert loop.time() - started < 0.5  # instead of the 100 s waits
    assert task.done()
    await task
    assert manager.state is ConnectionState.CLOSED
    assert all(transport.closed for transport in factory.transports)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    await manager.connect_loop()  # a closed manager stays closed
    assert len(factory.calls) == 1


async def test_close_before_the_loop_starts() -> None:
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory)
    await manager.close()
    await manager.connect_loop()
    assert factory.calls == []
    assert manager.state is ConnectionState.CLOSED


async def test_connect_loop_runs_once() -> None:
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory)
    task = asyncio.create_task(manager.connect_loop())
    await wait_until(lambda: manager.state is ConnectionState.CONNECTED)
    assert manager.is_running
    await manager.connect_loop()  # returns at once: already running
    assert manager.protocol is factory.transports[0].protocol
    assert manager.transport is factory.transports[0]
    await manager.close()
    await task
    assert not manager.is_running
    assert manager.protocol is None


async def test_external_cancel_closes_the_connection() -> None:
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory)
    task = asyncio.create_task(manager.connect_loop())
    await wait_until(lambda: manager.state is ConnectionState.CONNECTED)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert factory.transports[0].closed
    assert manager.state is ConnectionState.CLOSED
    await manager.close()


async def test_cancel_while_connecting_closes_the_new_connection() -> None:
    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()  # the factory returned, the manager has not seen it yet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert factory.transports[0].closed


async def test_cancel_while_connecting_cancels_the_attempt() -> None:
    factory = ScriptedFactory(then="hang")
    manager = fast_manager(factory)
    task = asyncio.create_task(manager.connect_loop())
    await wait_until(lambda: len(factory.calls) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_state_callback_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken(state: ConnectionState) -> None:
        raise ValueError(state)

    factory = ScriptedFactory(then="ok")
    manager = fast_manager(factory, on_state_change=broken)
    task = asyncio.create_task(manager.connect_loop())
    await factory.connected.wait()
    await manager.close()
    await task
    assert "Error in the connection state callback" in caplog.text


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="back_off_min"):
        ConnectionManager(ScriptedFactory(), back_off_min=0)
    with pytest.raises(ValueError, match="back_off_min"):
        ConnectionManager(ScriptedFactory(), back_off_min=2, back_off_max=1)


def test_describe_error() -> None:
    assert describe_error(TimeoutError()) == "timed out"
    assert describe_error(OSError()) == "OSError"
    assert describe_error(OSError(2, "No such\nfile")) == "[Errno 2] No such file"
    long = describe_error(OSError("x" * 500))
    assert len(long) == 160
    assert long.endswith("...")
