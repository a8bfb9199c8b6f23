"""Constants for the HAN Meter integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "han_meter"

LOGGER = logging.getLogger(__package__)

# Config entry data.
CONF_TRANSPORT: Final = "transport"
TRANSPORT_SERIAL: Final = "serial"
TRANSPORT_NETWORK: Final = "network"

CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_BYTESIZE: Final = "bytesize"
CONF_STOPBITS: Final = "stopbits"
CONF_LINE_SETTINGS: Final = "line_settings"

CONF_METER_MANUFACTURER: Final = "meter_manufacturer"
# What the unique id is: the meter id, or a P1 identification line (no meter id sent).
CONF_IDENTIFIED_BY: Final = "identified_by"
IDENTIFIED_BY_METER_ID: Final = "meter_id"
IDENTIFIED_BY_P1_IDENT: Final = "p1_identification"
CONF_METER_TYPE: Final = "meter_type"
# Keys of an encrypted meter (32 hex digits each, stored lower case, absent when none).
CONF_ENCRYPTION_KEY: Final = "encryption_key"
CONF_AUTHENTICATION_KEY: Final = "authentication_key"

# Options.
CONF_MULTIPLIER: Final = "multiplier"
CONF_WATCHDOG_TIMEOUT: Final = "watchdog_timeout"

DEFAULT_MULTIPLIER: Final = 1.0
DEFAULT_WATCHDOG_TIMEOUT: Final = 60
MIN_WATCHDOG_TIMEOUT: Final = 10
MAX_WATCHDOG_TIMEOUT: Final = 3600

# Serial line presets: (baudrate, parity, bytesize, stopbits).
LINE_PRESET_MBUS: Final = "mbus"
LINE_PRESET_P1: Final = "p1"
LINE_PRESET_CUSTOM: Final = "custom"
LINE_PRESETS: Final[dict[str, tuple[int, str, int, float]]] = {
    LINE_PRESET_MBUS: (2400, "E", 8, 1),
    LINE_PRESET_P1: (115200, "N", 8, 1),
}
PARITIES: Final = ("N", "E", "O")
BYTESIZES: Final = (7, 8)
STOPBITS: Final = (1, 1.5, 2)
MIN_BAUDRATE: Final = 300
MAX_BAUDRATE: Final = 4_000_000

# The config flow waits this long for a message that decodes (tests shorten it).
VALIDATION_TIMEOUT: Final = 30.0
# Time allowed for opening a TCP connection or a serial port in the config flow.
CONNECT_TIMEOUT: Final = 10.0

# Number of raw messages kept for diagnostics.
RAW_MESSAGE_BUFFER: Final = 10

# A repair issue is raised after this many messages in a row fail to decrypt.
DECRYPTION_FAILURE_THRESHOLD: Final = 5
