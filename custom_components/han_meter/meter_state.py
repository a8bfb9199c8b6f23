"""What the HAN Meter coordinator keeps: the merged meter state and its counters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .amshan import obis_map
from .amshan.meter_connection import SmartMeterMessageProtocol
from .amshan.reading import MeterReading

# Values in these units are multiplied by the multiplier option (meters behind
# current transformers report primary values divided by the transformer ratio).
SCALED_UNITS = frozenset({"W", "kW", "var", "kvar", "VA", "kVA", "A", "Wh", "kWh", "varh", "kvarh"})


@dataclass(slots=True)
class MeterState:
    """The merged state of a meter: the last value of every key it has sent.

    Meters send several lists (list 1 every few seconds with power only, list 3
    every hour with the energy registers); values persist across lists.
    """

    values: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    # The reading (counted in `readings`) in which each key last arrived.
    sequence: dict[str, int] = field(default_factory=dict)
    readings: int = 0

    def merge(self, reading: MeterReading) -> None:
        """Take the values of a reading."""
        self.readings += 1
        for key, value in reading.items():
            if value is None:
                continue
            self.values[key] = value
            if (unit := reading.units.get(key)) is not None:
                self.units[key] = unit
            self.sequence[key] = self.readings


@dataclass(slots=True)
class HanMeterCounters:
    """Counters shown in the diagnostics."""

    messages: int = 0
    decoded: int = 0
    decode_failures: int = 0
    handler_errors: int = 0  # messages whose handling raised (logged once, then skipped)
    foreign_meter: int = 0
    energy_backwards: int = 0
    connects: int = 0
    last_message_time: datetime | None = None

    @property
    def reconnects(self) -> int:
        """Connections made after the first one."""
        return max(self.connects - 1, 0)


def scale_reading(reading: MeterReading, multiplier: float) -> MeterReading:
    """Apply the multiplier to power, current and energy values, and fill in known units."""
    scaled = MeterReading()
    for key, value in reading.items():
        unit = reading.units.get(key) or obis_map.KEY_UNITS.get(key)
        if unit is not None:
            scaled.units[key] = unit
        if (
            multiplier != 1
            and unit in SCALED_UNITS
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            scaled[key] = value * multiplier
        else:
            scaled[key] = value
    return scaled


class ProtocolCounterTotals:
    """Frame counters summed over every connection (each one has a new protocol)."""

    def __init__(self) -> None:
        """Start with no connection."""
        self._protocol: SmartMeterMessageProtocol | None = None
        self._finished: dict[str, int] = {}

    def follow(self, protocol: SmartMeterMessageProtocol | None) -> None:
        """Count `protocol` as the current one, adding the previous one's counters."""
        if protocol is self._protocol:
            return
        if self._protocol is not None:
            _add_counters(self._finished, self._protocol)
        self._protocol = protocol

    def totals(self) -> dict[str, int]:
        """Finished connections plus the current one (invalid frames, bytes, ...)."""
        totals = dict(self._finished)
        if self._protocol is not None:
            _add_counters(totals, self._protocol)
        return totals


def _add_counters(totals: dict[str, int], protocol: SmartMeterMessageProtocol) -> None:
    for name, value in dataclasses.asdict(protocol.counters).items():
        totals[name] = totals.get(name, 0) + value
