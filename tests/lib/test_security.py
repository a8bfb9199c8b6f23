"""DLMS security: general-glo/ded-ciphering APDUs, AES-128-GCM, key errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.han_meter.amshan.builder_security import encrypt_apdu
from custom_components.han_meter.amshan.security import (
    GENERAL_DED_CIPHERING,
    CipheredApdu,
    DecryptionError,
    MalformedCipheredApduError,
    NotEncryptedError,
    UnsupportedSecurityError,
    WrongAuthenticationKeyError,
    WrongKeyError,
    check_key,
    ciphered_apdu_length,
    decrypt_apdu,
    is_ciphered_apdu,
    looks_like_plaintext,
    parse_ciphered_apdu,
    parse_key,
)
from tests.conftest import VECTORS, Vector

BY_ID = {vector.id: vector for vector in VECTORS}
GREENBOOK = BY_ID["dlmscosem_greenbook_gcm_get_request"]
NOTIFICATION = BY_ID["dlmscosem_general_glo_cipher_data_notification"]
BURGENLAND = BY_ID["ams_lg_e450_at_burgenland_gh501_2"]
KAMSTRUP = BY_ID["dlmsparser_kamstrup_omnipower_encrypted_hdlc"]
EK = bytes(range(16))
AK = bytes(range(0xD0, 0xE0))
TITLE = b"TST\x01\x02\x03\x04\x05"
PLAIN = bytes.fromhex("0f0000000100090548454c4c4f")  # DATA-NOTIFICATION, octet-string body
OTHER_KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")


def keys(vector: Vector) -> tuple[bytes, bytes | None]:
    assert vector.keys is not None
    auth = vector.keys["authentication_key"]
    encryption = vector.keys["encryption_key"]
    assert encryption is not None
    return bytes.fromhex(encryption), None if auth is None else bytes.fromhex(auth)


def bare_apdu(vector: Vector) -> bytes:
    """The ciphered APDU of a vector with one frame (bare, or one HDLC frame)."""
    if vector.raw[0] == 0xDB:
        return vector.raw
    start = vector.raw.index(b"\xe6\xe7\x00") + 3
    return vector.raw[start:-3]


SINGLE = [NOTIFICATION, GREENBOOK, BURGENLAND, KAMSTRUP]


@pytest.mark.parametrize("vector", SINGLE, ids=lambda vector: vector.id)
def test_vector_decrypts(vector: Vector) -> None:
    encryption_key, authentication_key = keys(vector)
    plain = decrypt_apdu(bare_apdu(vector), encryption_key, authentication_key)
    assert plain == vector.expect_plaintext


@pytest.mark.parametrize("vector", SINGLE, ids=lambda vector: vector.id)
def test_vector_decrypts_without_authentication_key(vector: Vector) -> None:
    encryption_key, _ = keys(vector)
    assert decrypt_apdu(bare_apdu(vector), encryption_key) == vector.expect_plaintext


@pytest.mark.parametrize("vector", SINGLE, ids=lambda vector: vector.id)
def test_vector_encrypts_to_the_same_bytes(vector: Vector) -> None:
    encryption_key, authentication_key = keys(vector)
    apdu = bare_apdu(vector)
    parts = parse_ciphered_apdu(apdu)
    assert vector.expect_plaintext is not None
    again = encrypt_apdu(
        vector.expect_plaintext,
        parts.system_title,
        parts.invocation_counter,
        encryption_key,
        authentication_key,
        parts.security_control,
    )
    assert again == apdu[: len(again)]
    assert ciphered_apdu_length(apdu) == len(again)


@pytest.mark.parametrize("vector", SINGLE, ids=lambda vector: vector.id)
def test_wrong_authentication_key_is_named(vector: Vector) -> None:
    encryption_key, _ = keys(vector)
    with pytest.raises(WrongAuthenticationKeyError) as caught:
        decrypt_apdu(bare_apdu(vector), encryption_key, OTHER_KEY)
    assert caught.value.code == "wrong_authentication_key"
    assert OTHER_KEY.hex() not in str(caught.value).lower()


@pytest.mark.parametrize("vector", SINGLE, ids=lambda vector: vector.id)
@pytest.mark.parametrize("with_authentication_key", [True, False])
def test_wrong_encryption_key(vector: Vector, with_authentication_key: bool) -> None:
    _, authentication_key = keys(vector)
    with pytest.raises(WrongKeyError) as caught:
        decrypt_apdu(
            bare_apdu(vector), OTHER_KEY, authentication_key if with_authentication_key else None
        )
    assert type(caught.value) is WrongKeyError
    assert caught.value.code == "wrong_key"
    message = str(caught.value).lower()
    assert OTHER_KEY.hex() not in message
    assert authentication_key is None or authentication_key.hex() not in message


def test_parse_parts() -> None:
    parts = parse_ciphered_apdu(GREENBOOK.raw)
    assert parts == CipheredApdu(
        tag=0xDB,
        system_title=bytes.fromhex("4d4d4d0000bc614e"),
        security_control=0x30,
        invocation_counter=0x01234567,
        ciphertext=GREENBOOK.raw[16:-12],
        auth_tag=GREENBOOK.raw[-12:],
    )
    assert parts.authenticated
    assert parts.iv == bytes.fromhex("4d4d4d0000bc614e01234567")


def test_encrypt_only_round_trip_and_wrong_key() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 7, EK, security_control=0x20)
    parts = parse_ciphered_apdu(apdu)
    assert parts.auth_tag is None
    assert not parts.authenticated
    assert len(apdu) == 2 + 8 + 1 + 5 + len(PLAIN)
    assert decrypt_apdu(apdu, EK) == PLAIN
    assert decrypt_apdu(apdu, EK, AK) == PLAIN  # no tag to check: the key is not needed
    with pytest.raises(WrongKeyError):
        decrypt_apdu(apdu, OTHER_KEY)


def test_general_ded_ciphering_and_suite_1() -> None:
    apdu = encrypt_apdu(PLAIN, TITLE, 1, EK, AK, 0x31, apdu_tag=GENERAL_DED_CIPHERING)
    assert apdu[0] == 0xDC
    assert decrypt_apdu(apdu, EK, AK) == PLAIN
    assert decrypt_apdu(encrypt_apdu(PLAIN, TITLE, 1, EK, None, 0x21), EK) == PLAIN


@pytest.mark.parametrize("size", [0x7F, 0x80, 0xFF, 0x100, 0x10000])
def test_length_encodings(size: int) -> None:
    plain = PLAIN[:6] + b"\x09" + bytes(size)
    apdu = encrypt_apdu(plain, TITLE, 3, EK, AK)
    assert ciphered_apdu_length(apdu) == len(apdu)
    assert decrypt_apdu(apdu, EK, AK) == plain
    assert decrypt_apdu(apdu + b"\x7e\x00", EK, AK) == plain  # bytes after it are ignored


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=600),
    title=st.binary(min_size=8, max_size=8),
    counter=st.integers(0, 0xFFFFFFFF),
    encryption_key=st.binary(min_size=16, max_size=16),
    authentication_key=st.binary(min_size=16, max_size=16),
    control=st.sampled_from([0x20, 0x21, 0x30, 0x31]),
)
def test_round_trip(
    body: bytes,
    title: bytes,
    counter: int,
    encryption_key: bytes,
    authentication_key: bytes,
    control: int,
) -> None:
    plain = b"\x0f" + counter.to_bytes(4, "big") + b"\x00\x09" + body
    apdu = encrypt_apdu(plain, title, counter, encryption_key, authentication_key, control)
    parts = parse_ciphered_apdu(apdu)
    assert (parts.system_title, parts.invocation_counter) == (title, counter)
    assert decrypt_apdu(apdu, encryption_key, authentication_key) == plain
    assert decrypt_apdu(apdu, encryption_key) == plain


@settings(max_examples=60, deadline=None)
@given(plain=st.binary(max_size=300), flip=st.integers(0, 10_000))
def test_any_tampered_byte_fails_the_tag(plain: bytes, flip: int) -> None:
    apdu = bytearray(encrypt_apdu(plain, TITLE, 9, EK, AK))
    position = 16 + flip % (len(apdu) - 16)  # the ciphertext or the tag
    apdu[position] ^= 0x01
    with pytest.raises(WrongKeyError):
        decrypt_apdu(bytes(apdu), EK, AK)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x0f\x00\x00\x00\x01\x00\x09\x00", b"\xe6\xe7\x00\x0f", b"/KFM5"],
)
def test_not_encrypted(data: bytes) -> None:
    assert not is_ciphered_apdu(data)
    with pytest.raises(NotEncryptedError):
        decrypt_apdu(data, EK)
    with pytest.raises(NotEncryptedError):
        ciphered_apdu_length(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xdb", "truncated"),
        (b"\xdb\x08" + TITLE, "truncated"),
        (b"\xdb\x08" + TITLE + b"\x82\x01", "truncated"),
        (b"\xdb\x08" + TITLE + b"\x10\x30\x00", "truncated"),
        (b"\xdb\x07" + TITLE[:7] + b"\x05\x20\x00\x00\x00\x01", "system title"),
        (b"\xdb\x08" + TITLE + b"\x04\x20\x00\x00\x00", "too short"),
        (b"\xdb\x08" + TITLE + b"\x85\x00\x00\x00\x00\x05", "length prefix"),
        (b"\xdb\x08" + TITLE + b"\x10\x30\x00\x00\x00\x01" + bytes(11), "shorter than its tag"),
    ],
)
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedCipheredApduError, match=reason) as caught:
        decrypt_apdu(data, EK)
    assert caught.value.code == "malformed"


def test_incomplete_header_length() -> None:
    assert ciphered_apdu_length(b"\xdb") is None
    assert ciphered_apdu_length(b"\xdb\x08" + TITLE) is None
    assert ciphered_apdu_length(b"\xdb\x08" + TITLE + b"\x82\x01") is None
    assert ciphered_apdu_length(b"\xdb\x08" + TITLE + b"\x82\x01\x00") == 2 + 8 + 3 + 256


@pytest.mark.parametrize("control", [0x00, 0x10, 0x22, 0x32, 0x70, 0x60, 0xA0, 0xB0, 0xF0])
def test_unsupported_security_control(control: int) -> None:
    apdu = b"\xdb\x08" + TITLE + b"\x20" + bytes([control]) + bytes(31)
    with pytest.raises(UnsupportedSecurityError, match=f"0x{control:02x}") as caught:
        decrypt_apdu(apdu, EK)
    assert caught.value.code == "unsupported_security"
    assert isinstance(caught.value, DecryptionError)


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_key_length_is_checked(size: int) -> None:
    key = bytes(range(size))
    with pytest.raises(ValueError, match="16 bytes") as caught:
        decrypt_apdu(GREENBOOK.raw, key)
    assert key.hex() not in str(caught.value) or not key
    with pytest.raises(ValueError, match="authentication key must be 16 bytes"):
        decrypt_apdu(GREENBOOK.raw, EK, key)
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt_apdu(PLAIN, TITLE, 1, key)


def test_key_type_is_checked() -> None:
    with pytest.raises(TypeError, match="must be bytes, not str"):
        check_key("000102030405060708090a0b0c0d0e0f")  # type: ignore[arg-type]
    assert check_key(bytearray(16)) == bytes(16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"system_title": b"short"}, "system title"),
        ({"invocation_counter": 1 << 32}, "invocation counter"),
        ({"invocation_counter": -1}, "invocation counter"),
        ({"security_control": 0x10}, "security control 0x10"),
        ({"apdu_tag": 0x0F}, "APDU tag 0x0f"),
        ({"authentication_key": None}, "needs an authentication key"),
    ],
)
def test_encrypt_misuse(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "plain": PLAIN,
        "system_title": TITLE,
        "invocation_counter": 1,
        "encryption_key": EK,
        "authentication_key": AK,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        encrypt_apdu(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "000102030405060708090A0B0C0D0E0F",
        "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        "0x000102030405060708090a0b0c0d0e0f",
        "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f",
        " 00010203-04050607-08090a0b-0c0d0e0f\n",
    ],
)
def test_parse_key(text: str) -> None:
    assert parse_key(text) == EK


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "32 hex digits"), ("0011", "32 hex digits"), ("zz" * 16, "only hex digits")],
)
def test_parse_key_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_key(text, "authentication key")
    assert "authentication key" in str(caught.value)
    assert text not in str(caught.value) or not text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (bytes.fromhex("0f000000010c07e6020111251eff800000020209"), True),
        (bytes.fromhex("0f00000001090c07e6020111251eff80000002020900"), True),
        (bytes.fromhex("0f000000010009"), True),
        (bytes.fromhex("0f0000000100"), False),  # too short
        (bytes.fromhex("0f000000010007"), False),  # 0x07 is no data tag
        (bytes.fromhex("0f000000010500"), False),  # bad date-time marker
        (bytes.fromhex("0f000000010c07e6020111251eff80000002"), False),  # nothing after
        (bytes.fromhex("c001c1000800"), True),
        (bytes.fromhex("c40000"), False),
        (b"/ISk5\\2MT382-1000\r\n\r\n1-3:0.2.8(50)", True),
        (b"/ISk\x00\x01", False),
        (b"/abc", False),
        (b"", False),
    ],
)
def test_looks_like_plaintext(data: bytes, expected: bool) -> None:
    assert looks_like_plaintext(data) is expected


def test_cryptography_is_imported_lazily() -> None:
    package_parent = Path(__file__).parents[2] / "custom_components" / "han_meter"
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import amshan.autodecoder, amshan.security, amshan.unwrap, amshan.apdu_reader\n"
        "assert 'cryptography' not in sys.modules, 'imported at module load'\n"
        "amshan.security.parse_ciphered_apdu(bytes.fromhex(sys.argv[2]))\n"
        "assert 'cryptography' not in sys.modules\n"
        "amshan.autodecoder.AutoDecoder().decode_frame_content(bytes.fromhex(sys.argv[2]))\n"
        "assert 'cryptography' not in sys.modules, 'imported without a key'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(package_parent), GREENBOOK.raw.hex()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
