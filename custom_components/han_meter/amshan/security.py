"""DLMS/COSEM security: general-glo-ciphering and general-ded-ciphering APDUs.

Layout (DLMS UA Green Book): tag ``DB`` (glo) or ``DC`` (ded), the system title as a
length-prefixed octet string (8 bytes), the A-XDR length of what follows, the security
control byte, the 4-byte invocation counter, then the ciphertext and, when the frame is
authenticated, a 12-byte GCM tag. The IV is system title || invocation counter.

Security control: bits 0-3 the suite (0 and 1 use AES-128-GCM), bit 4 authenticated,
bit 5 encrypted, bit 6 broadcast key, bit 7 compressed. Accepted: 0x20/0x21 (encrypted
only: AES-CTR from counter block IV || 00000002, which is GCM's keystream) and 0x30/0x31
(authenticated and encrypted: GCM, additional data SC || authentication key). An
authenticated frame with no authentication key given is decrypted without checking its
tag. The cipher comes from ``cryptography``, imported on first use only. Error messages
never contain a key or any decrypted byte.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "CipheredApdu", "DecryptionError", "MalformedCipheredApduError", "NotEncryptedError",
    "UnsupportedSecurityError", "WrongAuthenticationKeyError", "WrongKeyError",
    "check_key", "ciphered_apdu_length", "decrypt_apdu", "is_ciphered_apdu",
    "looks_like_plaintext", "parse_ciphered_apdu", "parse_key",
]  # fmt: skip

GENERAL_GLO_CIPHERING = 0xDB
GENERAL_DED_CIPHERING = 0xDC
KEY_LENGTH = 16
SYSTEM_TITLE_LENGTH = 8
TAG_LENGTH = 12
SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20
_SUPPORTED_SUITES = (0, 1)
_CTR_START = b"\x00\x00\x00\x02"
# A-XDR data tags that can start a DATA-NOTIFICATION body (null .. time).
_DATA_TAGS = frozenset((*range(0x07), *range(0x09, 0x0E), *range(0x0F, 0x1C)))
_PRINTABLE = frozenset(string.printable.encode())


class DecryptionError(Exception):
    """A ciphered APDU could not be turned into its plaintext. ``code`` names the cause."""

    code: ClassVar[str] = "decryption_failed"


class NotEncryptedError(DecryptionError):
    """The data is not a general-glo-ciphering or general-ded-ciphering APDU."""

    code: ClassVar[str] = "not_encrypted"


class MalformedCipheredApduError(DecryptionError):
    """The ciphered APDU is truncated or its header is inconsistent."""

    code: ClassVar[str] = "malformed"


class UnsupportedSecurityError(DecryptionError):
    """The security control byte asks for something not supported (compression, ...)."""

    code: ClassVar[str] = "unsupported_security"


class WrongKeyError(DecryptionError):
    """The tag did not verify, or the plaintext is not a DLMS APDU: wrong encryption key."""

    code: ClassVar[str] = "wrong_key"


class WrongAuthenticationKeyError(WrongKeyError):
    """The encryption key decrypts the frame, but the tag fails: wrong authentication key."""

    code: ClassVar[str] = "wrong_authentication_key"


@dataclass(slots=True, frozen=True)
class CipheredApdu:
    """The parts of a general-glo/ded-ciphering APDU."""

    tag: int
    system_title: bytes
    security_control: int
    invocation_counter: int
    ciphertext: bytes
    auth_tag: bytes | None

    @property
    def authenticated(self) -> bool:
        """True when the frame carries a GCM tag."""
        return bool(self.security_control & SC_AUTHENTICATED)

    @property
    def iv(self) -> bytes:
        """The 12-byte GCM initialisation vector."""
        return self.system_title + self.invocation_counter.to_bytes(4, "big")


def is_ciphered_apdu(data: bytes) -> bool:
    """True when ``data`` starts with a general-glo/ded-ciphering tag."""
    return bool(data) and data[0] in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING)


def _read_length(data: bytes, offset: int) -> tuple[int, int] | None:
    """A-XDR length at ``offset``: (length, offset after it), None when cut short."""
    if offset >= len(data):
        return None
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    size = first & 0x7F
    if not 1 <= size <= 4:
        raise MalformedCipheredApduError(f"invalid A-XDR length prefix 0x{first:02x}")
    if offset + 1 + size > len(data):
        return None
    return int.from_bytes(data[offset + 1 : offset + 1 + size], "big"), offset + 1 + size


def _header(data: bytes) -> tuple[int, int] | None:
    """(offset of the security control byte, its length field) or None when cut short."""
    if not is_ciphered_apdu(data):
        raise NotEncryptedError("not a general-glo-ciphering or general-ded-ciphering APDU")
    if len(data) < 2:
        return None
    if data[1] != SYSTEM_TITLE_LENGTH:
        raise MalformedCipheredApduError(
            f"system title of {data[1]} bytes, expected {SYSTEM_TITLE_LENGTH}"
        )
    length = _read_length(data, 2 + SYSTEM_TITLE_LENGTH)
    if length is None:
        return None
    value, offset = length
    if value < 5:
        raise MalformedCipheredApduError(f"ciphered content of {value} bytes is too short")
    return offset, value


def ciphered_apdu_length(data: bytes) -> int | None:
    """Size of the ciphered APDU ``data`` starts with, None if cut (raises if it is none)."""
    header = _header(data)
    return None if header is None else header[0] + header[1]


def parse_ciphered_apdu(apdu: bytes) -> CipheredApdu:
    """Split a ciphered APDU into its parts; bytes after its declared length are ignored."""
    header = _header(apdu)
    if header is None or header[0] + header[1] > len(apdu):
        raise MalformedCipheredApduError("ciphered APDU is truncated")
    offset, length = header
    control = apdu[offset]
    if control & 0xC0 or control & 0x0F not in _SUPPORTED_SUITES or not control & SC_ENCRYPTED:
        raise UnsupportedSecurityError(
            f"security control 0x{control:02x} is not supported "
            "(only 0x20/0x21 encrypted and 0x30/0x31 authenticated+encrypted; "
            "no compression, broadcast key or authentication-only)"
        )
    body = apdu[offset + 5 : offset + length]
    auth_tag: bytes | None = None
    if control & SC_AUTHENTICATED:
        if len(body) < TAG_LENGTH:
            raise MalformedCipheredApduError("authenticated APDU is shorter than its tag")
        body, auth_tag = body[:-TAG_LENGTH], body[-TAG_LENGTH:]
    return CipheredApdu(
        tag=apdu[0],
        system_title=apdu[2 : 2 + SYSTEM_TITLE_LENGTH],
        security_control=control,
        invocation_counter=int.from_bytes(apdu[offset + 1 : offset + 5], "big"),
        ciphertext=body,
        auth_tag=auth_tag,
    )


def check_key(key: bytes, name: str = "encryption key") -> bytes:
    """Return ``key`` as bytes if it is 16 bytes long, else raise ``ValueError``."""
    if not isinstance(key, bytes | bytearray | memoryview):
        raise TypeError(f"the {name} must be bytes, not {type(key).__name__}")
    if len(key) != KEY_LENGTH:
        raise ValueError(f"the {name} must be {KEY_LENGTH} bytes (32 hex digits), got {len(key)}")
    return bytes(key)


def parse_key(text: str, name: str = "encryption key") -> bytes:
    """A key typed by a user: 32 hex digits, spaces, colons, dashes and a 0x prefix allowed."""
    cleaned = "".join(text.split()).replace(":", "").replace("-", "")
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    if len(cleaned) != 2 * KEY_LENGTH:
        raise ValueError(f"the {name} must be 32 hex digits, got {len(cleaned)} characters")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"the {name} must contain only hex digits 0-9, a-f") from None


def looks_like_plaintext(data: bytes) -> bool:
    """True for what a meter encrypts: a DATA-NOTIFICATION, an xDLMS get/set/action
    request or response, or a P1 telegram. Random bytes pass with a chance below 1e-3."""
    if len(data) >= 7 and data[0] == 0x0F:
        offset = 5
        if data[offset] == 0x0C:
            offset += 13
        elif data[offset : offset + 2] == b"\x09\x0c":
            offset += 14
        elif data[offset] == 0x00:
            offset += 1
        else:
            return False
        return offset < len(data) and data[offset] in _DATA_TAGS
    if len(data) >= 3 and 0xC0 <= data[0] <= 0xC7:
        return 1 <= data[1] <= 3
    return data[:1] == b"/" and len(data) >= 6 and all(b in _PRINTABLE for b in data[:24])


def aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128 in counter mode from the DLMS initial counter (IV + 00000002); its own inverse."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    context = Cipher(algorithms.AES(key), modes.CTR(iv + _CTR_START)).decryptor()
    return context.update(data) + context.finalize()


def _gcm_decrypt(
    key: bytes, parts: CipheredApdu, auth_tag: bytes, authentication_key: bytes
) -> bytes | None:
    """The plaintext, or None when the tag does not verify."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    mode = modes.GCM(parts.iv, auth_tag, min_tag_length=TAG_LENGTH)
    context = Cipher(algorithms.AES(key), mode).decryptor()
    context.authenticate_additional_data(bytes([parts.security_control]) + authentication_key)
    plaintext = context.update(parts.ciphertext)
    try:
        return plaintext + context.finalize()
    except InvalidTag:
        return None


def decrypt_apdu(
    apdu: bytes, encryption_key: bytes, authentication_key: bytes | None = None
) -> bytes:
    """The plain APDU (or P1 telegram) inside a general-glo/ded-ciphering APDU.

    Raises ``ValueError`` for a key that is not 16 bytes, :class:`NotEncryptedError`,
    :class:`MalformedCipheredApduError`, :class:`UnsupportedSecurityError`,
    :class:`WrongAuthenticationKeyError` (the tag fails but the encryption key gives a
    valid APDU) and :class:`WrongKeyError` (the tag fails otherwise, or a frame without
    a checked tag does not decrypt to a recognisable APDU or telegram).
    """
    key = check_key(encryption_key)
    auth_key = authentication_key
    if auth_key is not None:
        auth_key = check_key(auth_key, "authentication key")
    parts = parse_ciphered_apdu(bytes(apdu))
    if parts.auth_tag is not None and auth_key is not None:
        plaintext = _gcm_decrypt(key, parts, parts.auth_tag, auth_key)
        if plaintext is not None:
            return plaintext
        if looks_like_plaintext(aes_ctr(key, parts.iv, parts.ciphertext)):
            raise WrongAuthenticationKeyError(
                "the authentication tag does not verify: the authentication key is wrong"
            )
        raise WrongKeyError("the authentication tag does not verify: the encryption key is wrong")
    plaintext = aes_ctr(key, parts.iv, parts.ciphertext)
    if not looks_like_plaintext(plaintext):
        raise WrongKeyError("the frame does not decrypt to an APDU: the encryption key is wrong")
    return plaintext
