"""A small, deterministic model of a household's electricity use (for the simulator).

Power is piecewise linear between knots every ``KNOT_SECONDS`` (aligned to the
Unix epoch): a daily profile with a morning and an evening peak, a slow random
swing and a little fast noise, all drawn from a seeded generator per knot, so
the same seed gives the same curve whatever the order of the questions. The
import energy register is the exact integral of that curve (trapezoids between
knots), so it increases by exactly the energy the power readings describe.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

KNOT_SECONDS = 10.0
SLOW_KNOT_SECONDS = 600.0
KNOT_CACHE_SIZE = 4096
NOMINAL_VOLTAGE = 230.0
# (hour of the peak, width in hours, height in W) of the daily profile.
PEAKS = ((7.5, 1.2, 1400.0), (18.5, 2.0, 2200.0), (12.5, 3.0, 500.0))


def _unit_random(seed: int, kind: str, index: int) -> float:
    """A number in [0, 1) fixed by (seed, kind, index)."""
    return random.Random(f"{seed}/{kind}/{index}").random()


@dataclass(slots=True)
class MeterModel:
    """Values of a simulated meter as functions of the (aware) meter time."""

    seed: int = 0
    phases: int = 3
    start: datetime = field(default_factory=lambda: datetime.now().astimezone())
    _base: float = field(init=False)
    _power_factor: float = field(init=False)
    _shares: tuple[float, ...] = field(init=False)
    _energy_start: tuple[float, float, float, float] = field(init=False)
    _origin: tuple[int, float] = field(init=False)  # (knot, import energy in Wh at that knot)
    _cache: tuple[int, float] = field(init=False)  # the same, for the latest knot asked
    _knot_powers: dict[int, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        if self.start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        rng = random.Random(f"{self.seed}/meter")
        self._base = 250.0 + 300.0 * rng.random()
        self._power_factor = 0.93 + 0.06 * rng.random()
        weights = [1.0 + 0.4 * rng.random() for _ in range(self.phases)]
        self._shares = tuple(weight / sum(weights) for weight in weights)
        self._energy_start = (
            round(1_000_000 + 20_000_000 * rng.random()),  # active import, Wh
            round(50_000 * rng.random()),  # active export, Wh
            round(200_000 * rng.random()),  # reactive import, varh
            round(10_000 * rng.random()),  # reactive export, varh
        )
        seconds = self.start.timestamp()
        knot = math.floor(seconds / KNOT_SECONDS)
        self._origin = (knot, self._energy_start[0] - self._partial(knot, seconds))
        self._cache = self._origin

    def _knot_power(self, knot: int) -> float:
        """Power in W at knot ``knot`` (time = knot * KNOT_SECONDS since the epoch)."""
        power = self._knot_powers.get(knot)
        if power is None:
            if len(self._knot_powers) >= KNOT_CACHE_SIZE:
                self._knot_powers.clear()
            power = self._knot_powers[knot] = self._compute_knot_power(knot)
        return power

    def _compute_knot_power(self, knot: int) -> float:
        seconds = knot * KNOT_SECONDS
        when = datetime.fromtimestamp(seconds, self.start.tzinfo)
        hour = when.hour + when.minute / 60 + when.second / 3600
        power = self._base
        for peak, width, height in PEAKS:
            distance = min(abs(hour - peak), 24 - abs(hour - peak))
            power += height * math.exp(-0.5 * (distance / width) ** 2)
        slow_index, slow_part = divmod(seconds / SLOW_KNOT_SECONDS, 1.0)
        slow_a = _unit_random(self.seed, "slow", int(slow_index))
        slow_b = _unit_random(self.seed, "slow", int(slow_index) + 1)
        swing = 0.7 + 0.6 * (slow_a + (slow_b - slow_a) * slow_part)
        noise = 0.94 + 0.12 * _unit_random(self.seed, "fast", knot)
        return power * swing * noise

    def power(self, when: datetime) -> float:
        """Active import power in W at ``when`` (linear between knots)."""
        knot, part = divmod(when.timestamp() / KNOT_SECONDS, 1.0)
        low = self._knot_power(int(knot))
        high = self._knot_power(int(knot) + 1)
        return low + (high - low) * part

    def _segment(self, knot: int) -> float:
        """Energy in Wh from knot ``knot`` to the next one."""
        return (self._knot_power(knot) + self._knot_power(knot + 1)) / 2 * KNOT_SECONDS / 3600

    def _energy_at_knot(self, knot: int) -> float:
        cached_knot, energy = self._cache if knot >= self._cache[0] else self._origin
        while cached_knot < knot:
            energy += self._segment(cached_knot)
            cached_knot += 1
        while cached_knot > knot:
            cached_knot -= 1
            energy -= self._segment(cached_knot)
        if knot > self._cache[0]:
            self._cache = (knot, energy)
        return energy

    def _partial(self, knot: int, seconds: float) -> float:
        """Energy in Wh from knot ``knot`` to ``seconds`` (within the knot)."""
        elapsed = seconds - knot * KNOT_SECONDS
        low = self._knot_power(knot)
        high = self._knot_power(knot + 1)
        return (low * elapsed + (high - low) * elapsed**2 / (2 * KNOT_SECONDS)) / 3600

    def energy(self, when: datetime) -> float:
        """Active import energy register in Wh at ``when``: the integral of ``power``."""
        seconds = when.timestamp()
        knot = math.floor(seconds / KNOT_SECONDS)
        return self._energy_at_knot(knot) + self._partial(knot, seconds)

    def values(self, when: datetime) -> dict[str, float]:
        """Every instantaneous value and register at ``when``, in W, var, A, V, Wh, varh."""
        power = self.power(when)
        tan_phi = math.tan(math.acos(self._power_factor))
        seconds = when.timestamp()
        values: dict[str, float] = {
            "active_power_import": power,
            "active_power_export": 0.0,
            "reactive_power_import": power * tan_phi,
            "reactive_power_export": 0.0,
        }
        for index, share in enumerate(self._shares, start=1):
            phase_angle = 2 * math.pi * (seconds / 3600 + index / 3)
            voltage = NOMINAL_VOLTAGE + 3.0 * math.sin(phase_angle) + index - 2
            values[f"voltage_l{index}"] = voltage
            values[f"current_l{index}"] = power * share / (voltage * self._power_factor)
            values[f"active_power_import_l{index}"] = power * share
        energy = self.energy(when)
        values["active_power_import_total"] = energy
        values["active_power_export_total"] = float(self._energy_start[1])
        values["reactive_power_import_total"] = (
            self._energy_start[2] + (energy - self._energy_start[0]) * tan_phi
        )
        values["reactive_power_export_total"] = float(self._energy_start[3])
        return values

    @property
    def power_factor(self) -> float:
        """The constant power factor of the simulated load."""
        return self._power_factor
