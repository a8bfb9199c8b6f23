"""Keeps a connection to a meter alive: reconnects with back-off, never gives up.

One loop (``connect_loop``) connects, watches the connection and reconnects:

* failed connects are retried after ``back_off_min`` seconds, doubling up to
  ``back_off_max``; the delay is reset by a good connection (one that delivered a
  valid message or stayed up ``circuit_breaker_min_uptime`` seconds);
* ``circuit_breaker_threshold`` short-lived connections in a row (opened, then
  lost before they were good) pause reconnecting for ``circuit_breaker_pause``;
* a connection that delivers no valid message for ``watchdog_timeout`` seconds
  is closed and reopened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .meter_connection import SmartMeterMessageProtocol

_LOGGER = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 160
TEARDOWN_TIMEOUT = 5.0

type ConnectionFactory = Callable[
    [], Awaitable[tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]]
]


class ConnectionState(StrEnum):
    """Where the connection manager is."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"
    CLOSED = "closed"


@dataclass(slots=True)
class ConnectionCounters:
    """Running totals of a connection manager."""

    connects: int = 0
    connect_failures: int = 0
    drops: int = 0
    watchdog_trips: int = 0
    circuit_breaker_trips: int = 0


def describe_error(error: BaseException) -> str:
    """A short one-line description of a connection error."""
    text = " ".join(str(error).split())
    if not text:
        text = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
    if len(text) > MAX_ERROR_LENGTH:
        text = text[: MAX_ERROR_LENGTH - 3] + "..."
    return text


class ConnectionManager:
    """Runs a connection factory again and again until ``close()``."""

    def __init__(
        self,
        connection_factory: ConnectionFactory,
        *,
        back_off_min: float = 1.0,
        back_off_max: float = 60.0,
        watchdog_timeout: float | None = 60.0,
        circuit_breaker_threshold: int = 5,
        circuit_breaker_min_uptime: float = 10.0,
        circuit_breaker_pause: float = 300.0,
        on_state_change: Callable[[ConnectionState], None] | None = None,
        connect_timeout: float = 30.0,
        name: str = "meter",
    ) -> None:
        if not 0 < back_off_min <= back_off_max:
            raise ValueError("need 0 < back_off_min <= back_off_max")
        self._factory = connection_factory
        self._back_off_min = back_off_min
        self._back_off_max = back_off_max
        self._watchdog_timeout = watchdog_timeout
        self._breaker_threshold = max(1, circuit_breaker_threshold)
        self._min_uptime = circuit_breaker_min_uptime
        self._breaker_pause = circuit_breaker_pause
        self._on_state_change = on_state_change
        self._connect_timeout = connect_timeout
        self._name = name
        self._closing = False
        self._stop: asyncio.Future[None] | None = None
        self._finished: asyncio.Future[None] | None = None
        self._outage_logged = False
        self.state = ConnectionState.CLOSED
        self.counters = ConnectionCounters()
        self.last_error: str | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.protocol: SmartMeterMessageProtocol | None = None

    def _is_closing(self) -> bool:
        return self._closing

    @property
    def is_running(self) -> bool:
        """True while ``connect_loop`` runs."""
        return self._finished is not None and not self._finished.done()

    def _stop_future(self) -> asyncio.Future[None]:
        if self._stop is None:
            self._stop = asyncio.get_running_loop().create_future()
        return self._stop

    def _set_state(self, state: ConnectionState) -> None:
        if state == self.state:
            return
        self.state = state
        if self._on_state_change is not None:
            try:
                self._on_state_change(state)
            except Exception:
                _LOGGER.exception("Error in the connection state callback")

    async def _sleep(self, delay: float) -> None:
        """Sleep, cut short by ``close()``."""
        self._set_state(ConnectionState.WAITING)
        await asyncio.wait((self._stop_future(),), timeout=delay)

    def _report(self, message: str) -> None:
        """Log a problem: a warning once per outage, debug for the retries."""
        self.last_error = message
        if self._outage_logged:
            _LOGGER.debug("%s: %s (still retrying)", self._name, message)
        else:
            self._outage_logged = True
            _LOGGER.warning("%s: %s; reconnecting until it is back", self._name, message)

    async def connect_loop(self) -> None:
        """Connect and reconnect until ``close()``. Never raises for connection errors."""
        if self._closing or self.is_running:
            return
        loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        back_off = self._back_off_min
        short_lived = 0
        try:
            while not self._closing:
                connection = await self._connect()
                if connection is None:
                    if not self._closing:
                        await self._sleep(back_off)
                        back_off = min(back_off * 2, self._back_off_max)
                    continue
                good = await self._supervise(*connection)
                if good:
                    back_off = self._back_off_min
                    short_lived = 0
                else:
                    short_lived += 1
                if self._is_closing():  # (a call: mypy would keep the loop's narrowing)
                    break
                if short_lived >= self._breaker_threshold:
                    short_lived = 0
                    self.counters.circuit_breaker_trips += 1
                    self._report(
                        f"connection dropped right after opening {self._breaker_threshold}"
                        f" times, pausing {self._breaker_pause:g} s"
                    )
                    await self._sleep(self._breaker_pause)
                    back_off = self._back_off_min
                    continue
                await self._sleep(back_off)
                if not good:
                    back_off = min(back_off * 2, self._back_off_max)
        finally:
            await self._teardown()
            self._set_state(ConnectionState.CLOSED)
            self._finished.set_result(None)

    async def _connect(
        self,
    ) -> tuple[asyncio.BaseTransport, SmartMeterMessageProtocol] | None:
        """One connection attempt; None when it failed or ``close()`` was called."""
        self._set_state(ConnectionState.CONNECTING)
        attempt = asyncio.ensure_future(self._factory())
        stop = self._stop_future()
        try:
            await asyncio.wait(
                (attempt, stop), timeout=self._connect_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await attempt
            elif not attempt.cancelled() and attempt.exception() is None:
                self.transport, self.protocol = attempt.result()  # closed by the teardown
            raise
        if not attempt.done():
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await attempt
            if not self._closing:
                self.counters.connect_failures += 1
                self._report(f"connecting timed out after {self._connect_timeout:g} s")
            return None
        error = attempt.exception()
        if error is not None:
            self.counters.connect_failures += 1
            if isinstance(error, OSError):
                self._report(f"cannot connect: {describe_error(error)}")
            else:
                _LOGGER.debug("%s: connection factory failed", self._name, exc_info=error)
                self._report(f"cannot connect: {type(error).__name__}: {describe_error(error)}")
            return None
        transport, protocol = attempt.result()
        self.transport, self.protocol = transport, protocol
        if self._closing:
            return None
        self.counters.connects += 1
        self._set_state(ConnectionState.CONNECTED)
        _LOGGER.debug("%s: connected", self._name)
        return transport, protocol

    async def _supervise(
        self, transport: asyncio.BaseTransport, protocol: SmartMeterMessageProtocol
    ) -> bool:
        """Wait until the connection ends; True when it was a good one."""
        loop = asyncio.get_running_loop()
        connected_at = loop.time()
        judged = False
        waiting_for = (protocol.done, self._stop_future())
        while True:
            now = loop.time()
            good = protocol.counters.messages > 0 or now - connected_at >= self._min_uptime
            if good and not judged:
                judged = True
                if self._outage_logged:
                    self._outage_logged = False
                    _LOGGER.info("%s: connection is back", self._name)
            deadlines = [] if judged else [connected_at + self._min_uptime]
            if self._watchdog_timeout is not None:
                last = protocol.last_message_time
                since = connected_at if last is None else max(last, connected_at)
                deadline = since + self._watchdog_timeout
                if deadline <= now:
                    self.counters.watchdog_trips += 1
                    self._report(f"no data for {self._watchdog_timeout:g} s")
                    await self._teardown()
                    return good
                deadlines.append(deadline)
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            await asyncio.wait(waiting_for, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if protocol.done.done():
                self.transport = self.protocol = None
                good = good or protocol.counters.messages > 0
                if not self._closing:
                    self.counters.drops += 1
                    cause = protocol.connection_error
                    self._report(
                        "connection lost" + (f": {describe_error(cause)}" if cause else "")
                    )
                return good
            if self._closing:
                return good

    async def _teardown(self) -> None:
        """Close the current transport and wait (bounded) until it is gone."""
        transport, protocol = self.transport, self.protocol
        self.transport = self.protocol = None
        if transport is None:
            return
        transport.close()
        if protocol is not None and not protocol.done.done():
            await asyncio.wait((protocol.done,), timeout=TEARDOWN_TIMEOUT)

    async def close(self) -> None:
        """Stop the loop and close the connection; returns promptly."""
        self._closing = True
        stop = self._stop_future()
        if not stop.done():
            stop.set_result(None)
        if self._finished is not None and not self._finished.done():
            await asyncio.wait((self._finished,), timeout=TEARDOWN_TIMEOUT + 1)
        else:
            await self._teardown()
        self._set_state(ConnectionState.CLOSED)
