"""From frames to plain content: join the pieces of a message, then decrypt it.

:class:`MessageUnwrapper` is the step the :class:`~.autodecoder.AutoDecoder` runs before
decoding. It takes whole frames (HDLC, M-Bus, bare ciphered APDUs) and returns the
content to decode, or None while a message is incomplete or could not be decrypted:

1. HDLC segments (S bit) and M-Bus segments (CI field) are joined (:mod:`.reassembly`);
2. the LLC header is looked past; General Block Transfer blocks (``E0``) are joined;
3. a general-glo/ded-ciphering APDU (``DB``/``DC``) is decrypted (:mod:`.security`).

Plain content passes through unchanged, so unwrapping twice is harmless. Why the last
content gave nothing is in ``last_error`` (one of the ``ERROR_*`` codes, None when all
went well), for the user interface to say "encrypted data but no key", "wrong key" or
"wrong authentication key". Keys are never logged or put into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from .apdu_reader import CipheredApduFrame
from .hdlc import HdlcFrame
from .mbus import MbusFrame
from .reassembly import (
    DEFAULT_MAX_SIZE,
    GBT_TAG,
    GbtAssembler,
    MbusAssembler,
    SegmentAssembler,
    parse_gbt_block,
)
from .security import (
    GENERAL_DED_CIPHERING,
    GENERAL_GLO_CIPHERING,
    DecryptionError,
    MalformedCipheredApduError,
    UnsupportedSecurityError,
    WrongAuthenticationKeyError,
    WrongKeyError,
    check_key,
    decrypt_apdu,
    is_ciphered_apdu,
)

__all__ = [
    "ERROR_ENCRYPTED_NO_KEY",
    "ERROR_MALFORMED",
    "ERROR_UNSUPPORTED_SECURITY",
    "ERROR_WRONG_AUTHENTICATION_KEY",
    "ERROR_WRONG_KEY",
    "MessageUnwrapper",
    "UnwrapCounters",
]

ERROR_ENCRYPTED_NO_KEY = "encrypted_no_key"
ERROR_WRONG_KEY = WrongKeyError.code
ERROR_WRONG_AUTHENTICATION_KEY = WrongAuthenticationKeyError.code
ERROR_UNSUPPORTED_SECURITY = UnsupportedSecurityError.code
ERROR_MALFORMED = MalformedCipheredApduError.code
LLC_HEADER = b"\xe6\xe7\x00"
_GBT_PREFIX = bytes((GBT_TAG,))
_CIPHERING_PREFIXES = (bytes((GENERAL_GLO_CIPHERING,)), bytes((GENERAL_DED_CIPHERING,)))
UnwrappableFrame = HdlcFrame | MbusFrame | CipheredApduFrame


@dataclass(slots=True)
class UnwrapCounters:
    """Running totals, for diagnostics."""

    decrypted: int = 0
    encrypted_without_key: int = 0
    decryption_failures: int = 0
    reassembled: int = 0


class MessageUnwrapper:
    """Joins message pieces and decrypts ciphered APDUs; see the module doc.

    Keys are 16 bytes (``ValueError`` otherwise). Stateful: feed the frames of one
    stream to one unwrapper, in order.
    """

    __slots__ = (
        "_authentication_key",
        "_blocks",
        "_encryption_key",
        "_mbus",
        "_segments",
        "_skip_segments",
        "counters",
        "last_encrypted",
        "last_error",
        "system_title",
    )

    def __init__(
        self,
        encryption_key: bytes | None = None,
        authentication_key: bytes | None = None,
        *,
        max_message_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        self._encryption_key = None if encryption_key is None else check_key(encryption_key)
        self._authentication_key = (
            None
            if authentication_key is None
            else check_key(authentication_key, "authentication key")
        )
        self._segments = SegmentAssembler(max_message_size)
        self._blocks = GbtAssembler(max_message_size)
        self._mbus = MbusAssembler(max_message_size)
        self._skip_segments = False
        self.counters = UnwrapCounters()
        self.last_error: str | None = None
        self.last_encrypted = False
        self.system_title: bytes | None = None

    @property
    def has_key(self) -> bool:
        """True when an encryption key was given."""
        return self._encryption_key is not None

    @property
    def dropped(self) -> int:
        """Messages abandoned because a piece was missing, out of order or too large."""
        return self._segments.dropped + self._blocks.dropped + self._mbus.dropped

    def reset(self) -> None:
        """Forget partly received messages (call it when the connection is re-established)."""
        self._segments.reset()
        self._blocks.reset()
        self._mbus.reset()
        self._skip_segments = False

    @staticmethod
    def handles(message: object) -> TypeGuard[UnwrappableFrame]:
        """True for the frame types :meth:`unwrap_message` takes."""
        return isinstance(message, UnwrappableFrame)

    def join_message(self, message: UnwrappableFrame) -> bytes | None:
        """The content of a whole message once ``message`` completes one, else None.

        Joins HDLC and M-Bus segments only; the content may still be a GBT block or
        ciphered: pass it to :meth:`unwrap_content`.
        """
        if isinstance(message, HdlcFrame):
            header = message.header
            if not message.is_valid:
                # A broken segment: drop the message, and its later segments too unless
                # this one was known to be its last.
                if self._segments.pending or (header is not None and header.segmentation):
                    self._skip_segments = header is None or header.segmentation
                    self._segments.reset()
                return None
            segmented = header is not None and header.segmentation
            if self._skip_segments:
                self._skip_segments = segmented
                return None
            if not segmented and not self._segments.pending:
                return message.payload
            content = self._segments.feed(message.payload, segmented)
        elif isinstance(message, MbusFrame):
            if not message.is_valid:
                self._mbus.reset()
                return None
            content = self._mbus.feed(message.control_information, message.payload)
            if content is None or not message.segment_number:
                return content
        else:
            return message.payload
        if content is not None:
            self.counters.reassembled += 1
        return content

    def unwrap_message(self, message: UnwrappableFrame) -> bytes | None:
        """The plain content once ``message`` completes a message, else None."""
        content = self.join_message(message)
        return None if content is None else self.unwrap_content(content)

    def unwrap_content(self, content: bytes) -> bytes | None:
        """Content with GBT blocks joined and ciphering removed; None if incomplete or failed.

        Anything else (plain APDUs, notification bodies, P1 telegrams) is returned as is.
        """
        start = 3 if content[:3] == LLC_HEADER else 0
        tag = content[start : start + 1]
        if tag != _GBT_PREFIX and tag not in _CIPHERING_PREFIXES:  # plain: the usual case
            self.last_error = None
            self.last_encrypted = False
            return content
        apdu = content[start:]
        if tag == _GBT_PREFIX:
            block = parse_gbt_block(apdu)
            if block is None:
                self._blocks.reset()
                self.last_error = ERROR_MALFORMED
                return None
            joined = self._blocks.feed(block)
            if joined is None:
                return None
            if block.block_number > 1:
                self.counters.reassembled += 1
            content = apdu = joined
        if not is_ciphered_apdu(apdu):
            self.last_error = None
            self.last_encrypted = False
            return content
        return self._decrypt(apdu)

    def _decrypt(self, apdu: bytes) -> bytes | None:
        self.last_encrypted = True
        self.system_title = apdu[2:10] if len(apdu) >= 10 else None
        if self._encryption_key is None:
            self.counters.encrypted_without_key += 1
            self.last_error = ERROR_ENCRYPTED_NO_KEY
            return None
        try:
            plain = decrypt_apdu(apdu, self._encryption_key, self._authentication_key)
        except DecryptionError as error:
            self.counters.decryption_failures += 1
            self.last_error = error.code
            return None
        self.counters.decrypted += 1
        self.last_error = None
        return plain
