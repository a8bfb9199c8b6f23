"""Keys of encrypted meters: reading them from forms and entries, and watching them work.

Keys are stored in the config entry data as 32 lower-case hex digits, and only there:
never logged, never in diagnostics. :class:`DecryptionMonitor` raises a repair issue when
a meter that worked sends data the stored keys no longer decrypt (the grid company
changed the key, or the meter was replaced): an entry only exists after its meter's
data decoded with the keys it holds, so ``DECRYPTION_FAILURE_THRESHOLD`` messages in a
row failing for a key reason mean the keys went stale. The issue goes away as soon as a
message decodes again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from . import const
from .amshan.autodecoder import AutoDecoder
from .amshan.meter_connection import ReaderSelector
from .amshan.security import parse_key
from .amshan.unwrap import (
    ERROR_ENCRYPTED_NO_KEY,
    ERROR_WRONG_AUTHENTICATION_KEY,
    ERROR_WRONG_KEY,
)
from .const import CONF_AUTHENTICATION_KEY, CONF_ENCRYPTION_KEY, DOMAIN, LOGGER

KEY_FIELDS: Final = (CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY)
# Why a message did not decrypt, when the keys are the cause (form error keys too).
KEY_ERRORS: Final = frozenset(
    (ERROR_ENCRYPTED_NO_KEY, ERROR_WRONG_KEY, ERROR_WRONG_AUTHENTICATION_KEY)
)
# The form field a key error belongs to.
KEY_ERROR_FIELDS: Final = {
    ERROR_ENCRYPTED_NO_KEY: CONF_ENCRYPTION_KEY,
    ERROR_WRONG_KEY: CONF_ENCRYPTION_KEY,
    ERROR_WRONG_AUTHENTICATION_KEY: CONF_AUTHENTICATION_KEY,
}
ISSUE_DECRYPTION_FAILED: Final = "decryption_failed"


def parse_key_fields(user_input: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The keys a form gives, as stored (hex by field, empty ones left out), and form errors.

    Spaces, colons, dashes and a ``0x`` prefix are tolerated (amshan's ``parse_key``).
    """
    keys: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in KEY_FIELDS:
        text = user_input.get(field)
        if not isinstance(text, str) or not text.strip():
            continue
        try:
            keys[field] = parse_key(text).hex()
        except ValueError:
            errors[field] = "invalid_key"
    return keys, errors


def stored_keys(data: Mapping[str, Any]) -> dict[str, str]:
    """The keys held by config entry data (hex by field)."""
    return {field: data[field] for field in KEY_FIELDS if isinstance(data.get(field), str)}


def _key(data: Mapping[str, Any], field: str) -> bytes | None:
    text = data.get(field)
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_key(text)
    except ValueError:
        return None  # not written by this integration: as if there were none


def decoder_for(data: Mapping[str, Any]) -> AutoDecoder:
    """A decoder with the keys of config entry data (or form data)."""
    return AutoDecoder(
        encryption_key=_key(data, CONF_ENCRYPTION_KEY),
        authentication_key=_key(data, CONF_AUTHENTICATION_KEY),
    )


class KeyErrorWatch:
    """Tells, message by message, whether the message just decoded failed for its keys."""

    __slots__ = ("_decoder", "_failed")

    def __init__(self, decoder: AutoDecoder) -> None:
        """Watch `decoder` (call `key_error` after each message it decodes)."""
        self._decoder = decoder
        self._failed = self._failures()

    def _failures(self) -> int:
        counters = self._decoder.unwrapper.counters
        return counters.encrypted_without_key + counters.decryption_failures

    def key_error(self) -> str | None:
        """The key error of the last message ("wrong_key", ...), None if there was none."""
        failed = self._failures()
        new, self._failed = failed > self._failed, failed
        error = self._decoder.last_error
        return error if new and error in KEY_ERRORS else None


def key_error_in_messages(messages: Iterable[bytes], data: Mapping[str, Any]) -> str | None:
    """Decode raw messages (as received, oldest first) with the keys of `data`.

    Returns the key error of the newest message that decoded or failed for its keys,
    or None when it decoded, or when no message tells either way.
    """
    decoder = decoder_for(data)
    watch = KeyErrorWatch(decoder)
    verdict: str | None = None
    for message in ReaderSelector().read(b"".join(messages)):
        if not message.is_valid:
            continue
        if decoder.decode_message(message):
            verdict = None
            watch.key_error()
        elif (error := watch.key_error()) is not None:
            verdict = error
    return verdict


def issue_id_for(entry_id: str) -> str:
    """The id of an entry's decryption repair issue."""
    return f"{ISSUE_DECRYPTION_FAILED}_{entry_id}"


class DecryptionMonitor:
    """Raises the repair issue of an entry when its keys stop working; clears it after."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, decoder: AutoDecoder) -> None:
        """Watch what `decoder` makes of the entry's messages."""
        self._hass = hass
        self._entry = entry
        self._watch = KeyErrorWatch(decoder)
        self.consecutive_failures = 0
        self.last_key_error: str | None = None
        self.issue_raised = False

    @callback
    def async_message_handled(self, decoded: bool) -> None:
        """Call after each message with whether it decoded."""
        error = self._watch.key_error()
        if decoded:
            self.consecutive_failures = 0
            if self.issue_raised:
                LOGGER.info("The data of meter %s decrypts again", self._entry.title)
                self.async_clear_issue()
            return
        if error is None:
            return  # garbage, a piece of a message, an unknown layout: not about keys
        self.consecutive_failures += 1
        self.last_key_error = error
        if self.consecutive_failures >= const.DECRYPTION_FAILURE_THRESHOLD:
            self._async_raise_issue(error)

    @callback
    def _async_raise_issue(self, error: str) -> None:
        if self.issue_raised:
            return
        self.issue_raised = True
        entry = self._entry
        LOGGER.warning(
            "The data of meter %s can no longer be decrypted (%s); the grid company may "
            "have changed the key: enter the new key in Settings > Repairs",
            entry.title,
            error,
        )
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id_for(entry.entry_id),
            data={"entry_id": entry.entry_id},
            is_fixable=True,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_DECRYPTION_FAILED,
            translation_placeholders={"title": entry.title},
        )

    @callback
    def async_clear_issue(self) -> None:
        """Remove the issue (the keys work again, or the entry unloads)."""
        if self.issue_raised:
            self.issue_raised = False
            ir.async_delete_issue(self._hass, DOMAIN, issue_id_for(self._entry.entry_id))
