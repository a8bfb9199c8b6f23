"""Ciphered APDUs made from plain ones: what an encrypting meter sends (simulator, tests).

The inverse of :func:`.security.decrypt_apdu`.
"""

from __future__ import annotations

from .security import (
    GENERAL_DED_CIPHERING,
    GENERAL_GLO_CIPHERING,
    SC_AUTHENTICATED,
    SYSTEM_TITLE_LENGTH,
    TAG_LENGTH,
    aes_ctr,
    check_key,
)


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def encrypt_apdu(
    plain: bytes,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
    security_control: int = 0x30,
    *,
    apdu_tag: int = GENERAL_GLO_CIPHERING,
) -> bytes:
    """A ciphered APDU around ``plain`` (for the simulator and tests); inverse of decrypt."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = check_key(encryption_key)
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        raise ValueError(f"the system title must be {SYSTEM_TITLE_LENGTH} bytes")
    if not 0 <= invocation_counter <= 0xFFFFFFFF:
        raise ValueError("the invocation counter must fit in 4 bytes")
    if security_control not in (0x20, 0x21, 0x30, 0x31):
        raise ValueError(f"security control 0x{security_control:02x} is not supported")
    if apdu_tag not in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING):
        raise ValueError(f"APDU tag 0x{apdu_tag:02x} is not a ciphering tag")
    iv = bytes(system_title) + invocation_counter.to_bytes(4, "big")
    if security_control & SC_AUTHENTICATED:
        if authentication_key is None:
            raise ValueError("an authenticated security control needs an authentication key")
        auth_key = check_key(authentication_key, "authentication key")
        context = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        context.authenticate_additional_data(bytes([security_control]) + auth_key)
        body = context.update(bytes(plain)) + context.finalize() + context.tag[:TAG_LENGTH]
    else:
        body = aes_ctr(key, iv, bytes(plain))
    content = bytes([security_control]) + iv[8:] + body
    header = bytes([apdu_tag, SYSTEM_TITLE_LENGTH]) + bytes(system_title)
    return header + _encode_length(len(content)) + content
