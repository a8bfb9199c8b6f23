"""Repair flows of HAN Meter: new keys for a meter whose data no longer decrypts.

The new keys are checked against the messages the meter sent most recently (kept by
the coordinator): when they do not decrypt the newest of them, the form says why. When
no recent message tells either way (the meter is not connected), the keys are taken
on their format alone; the reloaded entry raises the issue again if they are wrong.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from .const import DOMAIN
from .coordinator import HanMeterConfigEntry
from .decryption import (
    KEY_ERROR_FIELDS,
    KEY_FIELDS,
    key_error_in_messages,
    parse_key_fields,
)
from .flow_schemas import key_fields


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the flow that fixes an issue of this integration."""
    return DecryptionKeyRepairFlow(str((data or {}).get("entry_id", "")))


class DecryptionKeyRepairFlow(RepairsFlow):
    """Ask for the meter's new keys, check them, store them and reload the entry."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of the entry `entry_id`."""
        self._entry_id = entry_id

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Start the flow (`user_input` is the issue's data here, not a form's)."""
        return await self.async_step_new_keys()

    async def async_step_new_keys(
        self, user_input: dict[str, Any] | None = None
    ) -> data_entry_flow.FlowResult:
        """Show the key form, or store keys that work."""
        entry: HanMeterConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or entry.domain != DOMAIN:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            keys, errors = parse_key_fields(user_input)
            if not errors:
                kept = {key: value for key, value in entry.data.items() if key not in KEY_FIELDS}
                data = {**kept, **keys}
                if (error := self._key_error(entry, data)) is not None:
                    errors[KEY_ERROR_FIELDS[error]] = error
                else:
                    self.hass.config_entries.async_update_entry(entry, data=data)
                    if entry.state is ConfigEntryState.LOADED:  # else its next setup reads them
                        self.hass.config_entries.async_schedule_reload(entry.entry_id)
                    return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="new_keys",
            data_schema=vol.Schema(key_fields(encryption_key_required=True)),
            errors=errors,
            description_placeholders={"title": entry.title},
        )

    @staticmethod
    def _key_error(entry: HanMeterConfigEntry, data: dict[str, Any]) -> str | None:
        """Why the keys in `data` fail on the meter's recent messages, None if they do not."""
        if entry.state is not ConfigEntryState.LOADED:
            return None
        return key_error_in_messages(list(entry.runtime_data.raw_messages), data)
