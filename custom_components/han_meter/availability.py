"""Whether a meter is available: connected, and sending readings within the watchdog timeout."""

from __future__ import annotations

import asyncio

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .const import LOGGER


class MeterAvailability:
    """Track the connection and the watchdog of a meter.

    `on_change` is called when the connection or the watchdog flips `available`;
    a reading that makes the meter available is reported by `async_reading` instead.
    Readings that leave the availability as it is are not reported at all: they
    must not wake every entity of the meter.
    """

    def __init__(
        self, hass: HomeAssistant, name: str, timeout: float, on_change: CALLBACK_TYPE
    ) -> None:
        """Start disconnected; `name` is the meter's name in the log."""
        self._hass = hass
        self._name = name
        self.timeout = timeout
        self._on_change = on_change
        self.connected = False
        self._receiving = False
        self._last_reading_time = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._unavailable_logged = False

    @property
    def available(self) -> bool:
        """Connected, and a reading arrived within the watchdog timeout."""
        return self.connected and self._receiving

    @callback
    def async_set_connected(self, connected: bool) -> None:
        """Follow the connection; a reading may have come before it counted as connected."""
        was_available = self.available
        self.connected = connected
        if not connected:
            self._receiving = False
        if was_available != self.available:
            self._on_change()

    @callback
    def async_reading(self) -> bool:
        """A reading of the current connection arrived: restart the watchdog.

        Returns True when the meter became available. `on_change` is not called:
        the caller tells the entities once they had the reading, so that each
        writes its state once.
        """
        self._last_reading_time = self._hass.loop.time()
        if self._watchdog is None:
            self._watchdog = self._hass.loop.call_later(self.timeout, self._async_expired)
        if self._receiving:
            return False
        self._receiving = True
        if self._unavailable_logged:
            LOGGER.info("Meter %s is available again", self._name)
            self._unavailable_logged = False
        return self.connected

    @callback
    def async_stop(self) -> None:
        """Forget the connection and stop the watchdog (the coordinator stops)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self.async_set_connected(False)

    @callback
    def _async_expired(self) -> None:
        """Mark the meter unavailable when no reading arrived in time.

        One timer per timeout period rather than one per reading: it is moved on
        only when it fires.
        """
        self._watchdog = None
        remaining = self._last_reading_time + self.timeout - self._hass.loop.time()
        if remaining > 0:
            self._watchdog = self._hass.loop.call_later(remaining, self._async_expired)
            return
        if self.available:
            self._receiving = False
            LOGGER.info("Meter %s is unavailable: no readings for %g s", self._name, self.timeout)
            self._unavailable_logged = True  # until a reading comes again
            self._on_change()
