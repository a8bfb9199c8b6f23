"""Options of the capacity tariff: their form fields, checks and the tracker settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .capacity import DEFAULT_STEPS, CapacityConfig, CapacityMode
from .const import LOGGER

CONF_CAPACITY_MODE: Final = "capacity_mode"
CONF_CAPACITY_STEPS: Final = "capacity_steps"  # stored as a list of kW limits
CONF_CAPACITY_PEAKS: Final = "capacity_peaks"  # absent: the mode's default
CONF_CAPACITY_WINDOW: Final = "capacity_window"
MODE_OFF: Final = "off"
CAPACITY_MODES: Final = (CapacityMode.NORWAY.value, CapacityMode.SWEDEN.value, MODE_OFF)
MIN_PEAKS: Final = 1
MAX_PEAKS: Final = 10

_SEPARATORS = re.compile(r"[\s,;]+")
_FIELDS = (CONF_CAPACITY_MODE, CONF_CAPACITY_STEPS, CONF_CAPACITY_PEAKS, CONF_CAPACITY_WINDOW)


def parse_steps(text: str) -> tuple[float, ...]:
    """Step limits (kW) from text such as "2, 5, 10"; ValueError unless positive, increasing."""
    steps = tuple(float(part) for part in _SEPARATORS.split(text.strip()) if part)
    CapacityConfig(steps=steps)  # refuses none, non-positive, infinite, not increasing
    return steps


def format_steps(steps: tuple[float, ...] | list[float]) -> str:
    """The text `parse_steps` reads back, whole numbers without decimals."""
    return ", ".join(f"{step:g}" for step in steps)


def capacity_config(options: Mapping[str, Any], time_zone: str) -> CapacityConfig | None:
    """The tracker settings of an entry's options; None when the tariff is off.

    Invalid stored values (the options flow refuses them) give the defaults.
    """
    mode = options.get(CONF_CAPACITY_MODE, CapacityMode.NORWAY.value)
    if mode == MODE_OFF:
        return None
    try:
        steps = tuple(float(step) for step in options.get(CONF_CAPACITY_STEPS, DEFAULT_STEPS))
        peaks = options.get(CONF_CAPACITY_PEAKS)
        return CapacityConfig(
            time_zone=time_zone,
            steps=steps,
            peaks=None if peaks is None else int(peaks),
            mode=CapacityMode(mode),
            window=bool(options.get(CONF_CAPACITY_WINDOW, False)),
        )
    except (TypeError, ValueError) as err:
        LOGGER.warning("Invalid capacity tariff options (%s); using the defaults", err)
        return CapacityConfig(time_zone=time_zone)


def capacity_schema() -> dict[vol.Marker, Any]:
    """The options form's capacity tariff fields (defaults for a form sent without them)."""
    return {
        vol.Optional(CONF_CAPACITY_MODE, default=CapacityMode.NORWAY.value): SelectSelector(
            SelectSelectorConfig(
                options=list(CAPACITY_MODES),
                translation_key=CONF_CAPACITY_MODE,
                mode=SelectSelectorMode.DROPDOWN,
            )
        ),
        vol.Optional(CONF_CAPACITY_STEPS, default=format_steps(DEFAULT_STEPS)): TextSelector(),
        vol.Optional(CONF_CAPACITY_PEAKS): NumberSelector(
            NumberSelectorConfig(min=MIN_PEAKS, max=MAX_PEAKS, step=1, mode=NumberSelectorMode.BOX)
        ),
        vol.Optional(CONF_CAPACITY_WINDOW, default=False): BooleanSelector(),
    }


def capacity_suggested_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """What the form shows for the entry's options (the schema's defaults show the rest)."""
    values = {key: value for key, value in options.items() if key in _FIELDS}
    if (steps := values.get(CONF_CAPACITY_STEPS)) is not None:
        values[CONF_CAPACITY_STEPS] = format_steps(steps)
    return values


def validate_capacity_input(
    user_input: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The options to store from the form's input, and the form errors.

    Default values are left out of the options, so that they follow the defaults.
    """
    errors: dict[str, str] = {}
    options: dict[str, Any] = {}
    if (mode := user_input.get(CONF_CAPACITY_MODE)) not in (None, CapacityMode.NORWAY.value):
        options[CONF_CAPACITY_MODE] = mode
    if user_input.get(CONF_CAPACITY_WINDOW):
        options[CONF_CAPACITY_WINDOW] = True
    try:
        steps = parse_steps(str(user_input.get(CONF_CAPACITY_STEPS, "")))
    except ValueError:
        errors[CONF_CAPACITY_STEPS] = "invalid_steps"
    else:
        if steps != DEFAULT_STEPS:
            options[CONF_CAPACITY_STEPS] = list(steps)
    if (peaks := user_input.get(CONF_CAPACITY_PEAKS)) is not None:
        # The selector has made it a number from MIN_PEAKS to MAX_PEAKS.
        if float(peaks).is_integer():
            options[CONF_CAPACITY_PEAKS] = int(peaks)
        else:
            errors[CONF_CAPACITY_PEAKS] = "invalid_peaks"
    return options, errors
