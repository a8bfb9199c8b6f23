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
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .amshan import obis_map
from .amshan.connection_manager import ConnectionManager, ConnectionState
from .amshan.reading import MeterReading
from .connection_factory import async_connection_factory
from .const import (
    CONF_IDENTIFIED_BY,
    CONF_METER_MANUFACTURER,
    CONF_METER_TYPE,
    CONF_MULTIPLIER,
    CONF_WATCHDOG_TIMEOUT,
    DEFAULT_MULTIPLIER,
    DEFAULT_WATCHDOG_TIMEOUT,
    DOMAIN,
    IDENTIFIED_BY_METER_ID,
    LOGGER,
    RAW_MESSAGE_BUFFER,
)
from .decryption import DecryptionMonitor, decoder_for
from .meter_state import (
    DeviceIdentity,
    HanMeterCounters,
    MeterState,
    ProtocolCounterTotals,
    scale_reading,
)

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
        self._connected = False
        self._receiving = False
        self._last_reading_time = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._unavailable_logged = False
        self._foreign_logged = False
        self._foreign_source = False
        self._handler_error_logged = False
        self._ends_queued = 0  # CONNECTION_ENDED markers not consumed yet
        self._reading_listeners: dict[int, ReadingListener] = {}
        self._last_listener_id = 0
        self._protocol_counters = ProtocolCounterTotals()
        self._identity = DeviceIdentity(
            manufacturer=entry.data.get(CONF_METER_MANUFACTURER) or None,
            model=entry.data.get(CONF_METER_TYPE) or None,
        )
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
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
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
        was_available = self.available
        self._connected = self._receiving = False
        if was_available:
            self.async_update_listeners()

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
        return self._connected and self._receiving

    @property
    def connection_state(self) -> ConnectionState | None:
        """State of the connection manager (None before the start)."""
        return self.manager.state if self.manager is not None else None

    @callback
    def _async_connection_state_changed(self, state: ConnectionState) -> None:
        """Track the connection manager's state (it logs connection problems)."""
        self._async_sync_protocol()
        connected = state is ConnectionState.CONNECTED
        if connected and not self._connected:
            self.counters.connects += 1
        if self._connected and not connected:
            self._async_queue_connection_end()
        was_available = self.available
        self._connected = connected
        if not connected:
            self._receiving = False
        if was_available != self.available:  # a reading may have come before CONNECTED
            self.async_update_listeners()

    @callback
    def _async_watchdog_expired(self) -> None:
        """Mark the meter unavailable when no reading arrived in time."""
        self._watchdog = None
        remaining = self._last_reading_time + self.watchdog_timeout - self.hass.loop.time()
        if remaining > 0:
            self._watchdog = self.hass.loop.call_later(remaining, self._async_watchdog_expired)
            return
        if self.available:
            self._receiving = False
            if not self._unavailable_logged:
                LOGGER.info(
                    "Meter %s is unavailable: no readings for %g s",
                    self.config_entry.title,
                    self.watchdog_timeout,
                )
                self._unavailable_logged = True
            self.async_update_listeners()

    @callback
    def _async_mark_receiving(self) -> None:
        self._last_reading_time = self.hass.loop.time()
        if self._watchdog is None:
            self._watchdog = self.hass.loop.call_later(
                self.watchdog_timeout, self._async_watchdog_expired
            )
        if not self._receiving:
            self._receiving = True
            if self._unavailable_logged:
                LOGGER.info("Meter %s is available again", self.config_entry.title)
                self._unavailable_logged = False

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
        if not self._async_is_own_meter(reading):
            return
        self.counters.decoded += 1
        scaled = scale_reading(reading, self.multiplier)
        self.data.merge(scaled, now)
        self._async_update_device(scaled)
        if self._connected or self._is_current_connection_opening():
            self._async_mark_receiving()
        for listener in list(self._reading_listeners.values()):
            listener(scaled, now)
        self.async_set_updated_data(self.data)

    def _is_current_connection_opening(self) -> bool:
        """True while a connection opens whose data already arrives (before CONNECTED).

        Messages before a queued CONNECTION_ENDED come from an earlier connection.
        """
        return self._ends_queued == 0 and self.connection_state is ConnectionState.CONNECTING

    @callback
    def _async_is_own_meter(self, reading: MeterReading) -> bool:
        """Refuse readings of another meter (an adapter moved to another meter)."""
        meter_id = reading.get(obis_map.METER_ID)
        if meter_id is not None:
            self._foreign_source = str(meter_id) != self.meter_id and (
                self.config_entry.data.get(CONF_IDENTIFIED_BY, IDENTIFIED_BY_METER_ID)
                == IDENTIFIED_BY_METER_ID
            )
        if self._foreign_source:
            self.counters.foreign_meter += 1
            if not self._foreign_logged:
                LOGGER.warning(
                    "Ignoring data of another meter on the connection of %s; "
                    "reconfigure the entry if the adapter was moved",
                    self.config_entry.title,
                )
                self._foreign_logged = True
            return False
        return True

    @callback
    def _async_update_device(self, reading: MeterReading) -> None:
        """Update the device registry when the meter reveals its identity."""
        if not self._identity.update(reading):
            return
        device_registry = dr.async_get(self.hass)
        if device := device_registry.async_get_device(identifiers={(DOMAIN, self.meter_id)}):
            device_registry.async_update_device(
                device.id,
                manufacturer=self._identity.manufacturer,
                model=self._identity.model,
                sw_version=self._identity.sw_version,
            )

    @property
    def device_info(self) -> DeviceInfo:
        """Device registry information of the meter."""
        return DeviceInfo(
            identifiers={(DOMAIN, self.meter_id)},
            name=self.config_entry.title,
            manufacturer=self._identity.manufacturer,
            model=self._identity.model,
            serial_number=self.meter_id,
            sw_version=self._identity.sw_version,
        )

    # Hooks for other parts of the integration

    @callback
    def async_add_reading_listener(self, listener: ReadingListener) -> CALLBACK_TYPE:
        """Call `listener(reading, received)` with every decoded reading.

        The reading has the multiplier applied; `received` is the UTC time it
        arrived. Returns a function that removes the listener.
        """
        self._last_listener_id += 1
        listener_id = self._last_listener_id
        self._reading_listeners[listener_id] = listener

        @callback
        def _remove() -> None:
            self._reading_listeners.pop(listener_id, None)

        return _remove

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
