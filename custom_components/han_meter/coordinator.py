"""Push coordinator for the HAN Meter integration."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .amshan.connection_manager import ConnectionManager, ConnectionState
from .amshan.reading import MeterReading
from .availability import MeterAvailability
from .connection_factory import async_connection_factory
from .const import (
    CONF_MULTIPLIER,
    CONF_WATCHDOG_TIMEOUT,
    DEFAULT_MULTIPLIER,
    DEFAULT_WATCHDOG_TIMEOUT,
    DOMAIN,
    LOGGER,
    RAW_MESSAGE_BUFFER,
)
from .decryption import DecryptionMonitor, decoder_for
from .listeners import Listeners
from .meter_device import MeterDevice
from .meter_state import HanMeterCounters, MeterState, ProtocolCounterTotals, scale_reading

type HanMeterConfigEntry = ConfigEntry[HanMeterCoordinator]
type ReadingListener = Callable[[MeterReading, datetime], None]

# Messages waiting for the consumer; the protocol drops (and counts) beyond this.
QUEUE_SIZE = 64
# Queued when a connection ends: the messages after it come from a new connection.
CONNECTION_ENDED: Final = object()


class HanMeterCoordinator(DataUpdateCoordinator[MeterState]):
    """Receive the messages a meter pushes and keep its merged state."""

    config_entry: HanMeterConfigEntry

    def __init__(self, hass: HomeAssistant, entry: HanMeterConfigEntry) -> None:
        """Initialize the coordinator."""
        super().__init__(hass, LOGGER, config_entry=entry, name=f"{DOMAIN} {entry.title}")
        self.data = MeterState()
        # Compared on an entry update: only an options change needs a reload.
        self.options = dict(entry.options)
        self.meter_id: str = entry.unique_id or entry.entry_id
        multiplier = float(entry.options.get(CONF_MULTIPLIER, DEFAULT_MULTIPLIER))
        self.multiplier: float | int = int(multiplier) if multiplier.is_integer() else multiplier
        self.watchdog_timeout = float(
            entry.options.get(CONF_WATCHDOG_TIMEOUT, DEFAULT_WATCHDOG_TIMEOUT)
        )
        self.decoder = decoder_for(entry.data)  # with the keys of an encrypted meter
        self.decryption = DecryptionMonitor(hass, entry, self.decoder)
        self.counters = HanMeterCounters()
        self.raw_messages: deque[bytes] = deque(maxlen=RAW_MESSAGE_BUFFER)
        self.manager: ConnectionManager | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._tasks: list[asyncio.Task[None]] = []
        # Every entity re-checks its state when the availability changes.
        self._availability = MeterAvailability(
            hass, entry.title, self.watchdog_timeout, self.async_update_listeners
        )
        self._device = MeterDevice(hass, entry, self.meter_id)
        self._handler_error_logged = False
        self._ends_queued = 0  # CONNECTION_ENDED markers not consumed yet
        self._reading_listeners = Listeners[MeterReading, datetime]()
        self._value_listeners: dict[str, Listeners[[]]] = {}
        self._protocol_counters = ProtocolCounterTotals()
        self._unsub_stop: CALLBACK_TYPE | None = None

    async def _async_update_data(self) -> MeterState:
        """Return the current state; the meter pushes, nothing is polled."""
        return self.data

    # Lifecycle

    @callback
    def async_start(self) -> None:
        """Start the connection manager and the message consumer."""
        if self._tasks:
            return
        entry = self.config_entry
        self.manager = ConnectionManager(
            async_connection_factory(entry.data, self._queue),
            watchdog_timeout=self.watchdog_timeout,
            on_state_change=self._async_connection_state_changed,
            name=f"HAN meter {entry.title}",
        )
        self._tasks = [
            entry.async_create_background_task(
                self.hass, self.manager.connect_loop(), f"{DOMAIN} {entry.title} connection"
            ),
            entry.async_create_background_task(
                self.hass, self._async_consume(), f"{DOMAIN} {entry.title} consumer"
            ),
        ]
        if self._unsub_stop is None:
            self._unsub_stop = self.hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_STOP, self._async_hass_stop
            )

    async def async_stop(self) -> None:
        """Close the connection and stop consuming; idempotent."""
        tasks, self._tasks = self._tasks, []
        if (manager := self.manager) is not None:
            await manager.close()
            self._async_sync_protocol()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        while not self._queue.empty():  # a restart starts from fresh messages
            self._queue.get_nowait()
        self._ends_queued = 0
        self.decoder.unwrapper.reset()  # no half message glued to the next connection's
        self._availability.async_stop()

    async def _async_hass_stop(self, _event: Event) -> None:
        """Close the connection when Home Assistant stops."""
        self._unsub_stop = None
        await self.async_stop()

    async def async_shutdown(self) -> None:
        """Stop everything when the config entry unloads."""
        await super().async_shutdown()
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        await self.async_stop()
        self.decryption.async_clear_issue()

    # Availability

    @property
    def available(self) -> bool:
        """Connected, and a reading arrived within the watchdog timeout."""
        return self._availability.available

    @property
    def connection_state(self) -> ConnectionState | None:
        """State of the connection manager (None before the start)."""
        return self.manager.state if self.manager is not None else None

    @callback
    def _async_connection_state_changed(self, state: ConnectionState) -> None:
        """Track the connection manager's state (it logs connection problems)."""
        self._async_sync_protocol()
        connected = state is ConnectionState.CONNECTED
        was_connected = self._availability.connected
        if connected and not was_connected:
            self.counters.connects += 1
        if was_connected and not connected:
            self._async_queue_connection_end()
        self._availability.async_set_connected(connected)

    # Messages

    async def _async_consume(self) -> None:
        """Decode the messages the connection puts on the queue.

        An unexpected error while handling one message is logged (once), counted and
        skipped: one bad message must never stop all updates.
        """
        while True:
            message = await self._queue.get()
            try:
                if message is CONNECTION_ENDED:
                    self._ends_queued = max(self._ends_queued - 1, 0)
                    self.decoder.unwrapper.reset()  # forget a half-received message
                    continue
                self.async_handle_message(message)
            except Exception:  # the consumer must survive any message
                self.counters.handler_errors += 1
                if not self._handler_error_logged:
                    self._handler_error_logged = True
                    LOGGER.exception(
                        "Error while handling a message from %s; skipping it "
                        "(further errors are counted in the diagnostics)",
                        self.config_entry.title,
                    )

    @callback
    def _async_queue_connection_end(self) -> None:
        """Mark the end of a connection's messages, in order, for the consumer."""
        if self._queue.full() and self._queue.get_nowait() is CONNECTION_ENDED:
            self._ends_queued -= 1
        self._queue.put_nowait(CONNECTION_ENDED)
        self._ends_queued += 1

    @callback
    def async_handle_message(self, message: Any) -> None:
        """Decode one message (an HDLC frame or a P1 readout) and merge it."""
        now = dt_util.utcnow()
        self.counters.messages += 1
        self.counters.last_message_time = now
        raw = getattr(message, "as_bytes", None)
        if isinstance(raw, bytes):
            self.raw_messages.append(raw)
        reading = self.decoder.decode_message(message)
        self.decryption.async_message_handled(bool(reading))
        if not reading:
            self.counters.decode_failures += 1
            LOGGER.debug("Could not decode a message from %s", self.config_entry.title)
            return
        if self._device.async_is_foreign(reading):
            self.counters.foreign_meter += 1
            return
        self.counters.decoded += 1
        scaled = scale_reading(reading, self.multiplier)
        self.data.merge(scaled)
        self._device.async_update(scaled)
        if not self._availability.connected and self._is_current_connection_opening():
            # A burst can arrive before the manager reports the connection up: the
            # data itself proves it is, and every reading of the burst is shown.
            self._async_connection_state_changed(ConnectionState.CONNECTED)
        became_available = self._availability.connected and self._availability.async_reading()
        self._reading_listeners(scaled, now)
        # Only the entities of the values that arrived (a list 1 carries one value);
        # async_set_updated_data would wake every entity of the meter.
        value_listeners = self._value_listeners
        for key in scaled:
            if (listeners := value_listeners.get(key)) is not None:
                listeners()
        if became_available:
            self.async_update_listeners()

    def _is_current_connection_opening(self) -> bool:
        """True while a connection opens whose data already arrives (before CONNECTED).

        Messages before a queued CONNECTION_ENDED come from an earlier connection.
        """
        return self._ends_queued == 0 and self.connection_state is ConnectionState.CONNECTING

    @property
    def device_info(self) -> DeviceInfo:
        """Device registry information of the meter."""
        return self._device.device_info

    # Hooks for other parts of the integration

    @callback
    def async_add_reading_listener(self, listener: ReadingListener) -> CALLBACK_TYPE:
        """Call `listener(reading, received)` with every decoded reading.

        The reading has the multiplier applied; `received` is the UTC time it
        arrived. Returns a function that removes the listener.
        """
        return self._reading_listeners.add(listener)

    @callback
    def async_add_value_listener(self, key: str, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener()` after every reading with a value of `key` (merged into `data`).

        Availability changes go to the coordinator's own listeners instead.
        Returns a function that removes the listener.
        """
        return self._value_listeners.setdefault(key, Listeners()).add(listener)

    # Diagnostics

    @callback
    def _async_sync_protocol(self) -> None:
        """Follow the connection manager's current protocol for the counter totals."""
        self._protocol_counters.follow(self.manager.protocol if self.manager else None)

    @callback
    def async_protocol_counters(self) -> dict[str, int]:
        """Frame counters of every connection so far (invalid frames, bytes, ...)."""
        self._async_sync_protocol()
        return self._protocol_counters.totals()
