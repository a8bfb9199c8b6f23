"""Options flow for the HAN Meter integration."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
)

from .capacity_options import (
    capacity_schema,
    capacity_suggested_values,
    validate_capacity_input,
)
from .const import (
    CONF_MULTIPLIER,
    CONF_WATCHDOG_TIMEOUT,
    DEFAULT_MULTIPLIER,
    DEFAULT_WATCHDOG_TIMEOUT,
    MAX_WATCHDOG_TIMEOUT,
    MIN_WATCHDOG_TIMEOUT,
)

MAX_MULTIPLIER = 100_000


class HanMeterOptionsFlow(OptionsFlow):
    """Handle HAN Meter options."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Manage the multiplier, the watchdog timeout and the capacity tariff."""
        errors: dict[str, str] = {}
        if user_input is not None:
            multiplier = user_input.get(CONF_MULTIPLIER)
            watchdog = user_input.get(CONF_WATCHDOG_TIMEOUT)
            if not isinstance(multiplier, int | float) or not 0 < multiplier <= MAX_MULTIPLIER:
                errors[CONF_MULTIPLIER] = "invalid_multiplier"
            if (
                not isinstance(watchdog, int | float)
                or not MIN_WATCHDOG_TIMEOUT <= watchdog <= MAX_WATCHDOG_TIMEOUT
            ):
                errors[CONF_WATCHDOG_TIMEOUT] = "invalid_watchdog_timeout"
            capacity, capacity_errors = validate_capacity_input(user_input)
            errors.update(capacity_errors)
            if not errors:
                assert isinstance(multiplier, int | float)
                assert isinstance(watchdog, int | float)
                return self.async_create_entry(
                    data={
                        CONF_MULTIPLIER: float(multiplier),
                        CONF_WATCHDOG_TIMEOUT: int(watchdog),
                        **capacity,
                    }
                )
        else:
            user_input = {
                CONF_MULTIPLIER: self.config_entry.options.get(CONF_MULTIPLIER, DEFAULT_MULTIPLIER),
                CONF_WATCHDOG_TIMEOUT: self.config_entry.options.get(
                    CONF_WATCHDOG_TIMEOUT, DEFAULT_WATCHDOG_TIMEOUT
                ),
                **capacity_suggested_values(self.config_entry.options),
            }
        schema = vol.Schema(
            {
                vol.Required(CONF_MULTIPLIER): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step="any")
                ),
                vol.Required(CONF_WATCHDOG_TIMEOUT): NumberSelector(
                    NumberSelectorConfig(
                        mode=NumberSelectorMode.BOX, step=1, unit_of_measurement="s"
                    )
                ),
                **capacity_schema(),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )
