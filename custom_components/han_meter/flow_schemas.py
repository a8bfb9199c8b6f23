"""Form schemas of the HAN Meter config flow, and the defaults they are shown with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_PORT
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_ENCRYPTION_KEY,
    CONF_LINE_SETTINGS,
    CONF_PARITY,
    CONF_STOPBITS,
    LINE_PRESET_CUSTOM,
    LINE_PRESET_MBUS,
    LINE_PRESETS,
    PARITIES,
)

MANUAL_PATH: Final = "manual"


def key_fields(*, encryption_key_required: bool = False) -> dict[vol.Marker, Any]:
    """The encryption and authentication key fields (hidden text, like a password)."""
    secret = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off"))
    encryption = vol.Required if encryption_key_required else vol.Optional
    return {
        encryption(CONF_ENCRYPTION_KEY): secret,
        vol.Optional(CONF_AUTHENTICATION_KEY): secret,
    }


def network_schema() -> vol.Schema:
    """Host and port of a network bridge, and the keys."""
    return vol.Schema(
        {
            vol.Required(CONF_HOST): TextSelector(TextSelectorConfig(autocomplete="off")),
            vol.Required(CONF_PORT): NumberSelector(
                NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
            ),
            **key_fields(),
        }
    )


def serial_schema(ports: Mapping[str, str]) -> vol.Schema:
    """The port (from `ports`, path -> label, or typed in), the line settings and the keys."""
    options = [SelectOptionDict(value=path, label=label) for path, label in ports.items()]
    options.append(SelectOptionDict(value=MANUAL_PATH, label=MANUAL_PATH))
    return vol.Schema(
        {
            vol.Required(CONF_DEVICE): SelectSelector(
                SelectSelectorConfig(
                    options=options,
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key="device",
                )
            ),
            vol.Required(CONF_LINE_SETTINGS): SelectSelector(
                SelectSelectorConfig(
                    options=[*LINE_PRESETS, LINE_PRESET_CUSTOM],
                    mode=SelectSelectorMode.LIST,
                    translation_key=CONF_LINE_SETTINGS,
                )
            ),
            **key_fields(),
        }
    )


def serial_manual_schema() -> vol.Schema:
    """A serial port path typed in."""
    return vol.Schema(
        {vol.Required(CONF_DEVICE): TextSelector(TextSelectorConfig(autocomplete="off"))}
    )


def serial_custom_schema() -> vol.Schema:
    """Custom line settings."""
    return vol.Schema(
        {
            vol.Required(CONF_BAUDRATE): NumberSelector(
                NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
            ),
            vol.Required(CONF_PARITY): SelectSelector(
                SelectSelectorConfig(
                    options=list(PARITIES),
                    mode=SelectSelectorMode.DROPDOWN,
                    translation_key=CONF_PARITY,
                )
            ),
            vol.Required(CONF_BYTESIZE): SelectSelector(
                SelectSelectorConfig(options=["7", "8"], mode=SelectSelectorMode.DROPDOWN)
            ),
            vol.Required(CONF_STOPBITS): SelectSelector(
                SelectSelectorConfig(options=["1", "1.5", "2"], mode=SelectSelectorMode.DROPDOWN)
            ),
        }
    )


def serial_defaults(current: Mapping[str, Any], ports: Mapping[str, str]) -> dict[str, Any]:
    """What the serial form shows for the settings in `current`."""
    device = current.get(CONF_DEVICE)
    return {
        CONF_DEVICE: device if device in ports else MANUAL_PATH,
        CONF_LINE_SETTINGS: current.get(CONF_LINE_SETTINGS)
        or preset_of(current)
        or (LINE_PRESET_CUSTOM if CONF_BAUDRATE in current else LINE_PRESET_MBUS),
    }


def serial_custom_defaults(current: Mapping[str, Any]) -> dict[str, Any]:
    """What the custom line settings form shows for the settings in `current` (else M-Bus)."""
    baudrate, parity, bytesize, stopbits = LINE_PRESETS[LINE_PRESET_MBUS]
    return {
        CONF_BAUDRATE: current.get(CONF_BAUDRATE, baudrate),
        CONF_PARITY: current.get(CONF_PARITY, parity),
        CONF_BYTESIZE: str(current.get(CONF_BYTESIZE, bytesize)),
        CONF_STOPBITS: f"{current.get(CONF_STOPBITS, stopbits):g}",
    }


def preset_of(data: Mapping[str, Any]) -> str | None:
    """The line preset the settings match, if any."""
    settings = tuple(data.get(key) for key in (CONF_BAUDRATE, CONF_PARITY, CONF_BYTESIZE))
    for name, (baudrate, parity, bytesize, stopbits) in LINE_PRESETS.items():
        if settings == (baudrate, parity, bytesize) and data.get(CONF_STOPBITS) == stopbits:
            return name
    return None
