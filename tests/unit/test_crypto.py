"""The AES-256-GCM field cipher: sealing, tamper detection, binding, rotation, key parsing."""

from __future__ import annotations

import base64
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_adapters.crypto import (
    DecryptionError,
    FieldCipher,
    generate_key,
    key_id_of,
    load_or_create_dev_key,
)

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()
AD = b"payments.client_secret:0190a4b2-0000-7000-8000-000000000001"


def cipher(spec: str = f"a:{KEY_A}") -> FieldCipher:
    return FieldCipher.from_keys(spec)


# ------------------------------------------------------------------ sealing
@given(plaintext=st.binary(max_size=2048), associated=st.binary(max_size=128))
def test_what_is_sealed_opens_to_the_same_bytes(plaintext, associated):
    c = cipher()
    assert (
        c.decrypt(c.encrypt(plaintext, associated_data=associated), associated_data=associated)
        == plaintext
    )


def test_every_seal_uses_a_fresh_nonce():
    c = cipher()
    first, second = (c.encrypt(b"same", associated_data=AD) for _ in range(2))
    assert first != second
    header = 2 + len("a")
    assert first[header : header + 12] != second[header : header + 12]


def test_the_value_carries_its_format_version_and_key_id():
    sealed = cipher().encrypt(b"secret", associated_data=AD)
    assert sealed[0] == 1
    assert sealed[1:3] == b"\x01a"
    assert key_id_of(sealed) == "a"
    assert FieldCipher.key_id_of(sealed) == "a"
    assert len(sealed) == 3 + 12 + len(b"secret") + 16
    assert b"secret" not in sealed


# ------------------------------------------------------------------ tampering
@pytest.mark.parametrize("position", [0, 1, 2, 3, 10, 14, 15, 20, -1])
def test_any_changed_byte_is_detected(position):
    c = cipher()
    sealed = bytearray(c.encrypt(b"client secret value", associated_data=AD))
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionError):
        c.decrypt(bytes(sealed), associated_data=AD)


def test_a_value_moved_to_another_row_or_column_does_not_open():
    c = cipher()
    sealed = c.encrypt(b"secret", associated_data=AD)
    with pytest.raises(DecryptionError, match="altered or belongs elsewhere"):
        c.decrypt(sealed, associated_data=AD.replace(b"0001", b"0002"))
    with pytest.raises(DecryptionError):
        c.decrypt(sealed, associated_data=b"payments.description:" + AD.split(b":")[1])


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\x01",
        b"\x02\x01a" + bytes(40),
        b"\x01\x00" + bytes(40),
        b"\x01\x05ab" + bytes(5),
        b"\x01\x01\xff" + bytes(40),
    ],
)
def test_malformed_values_are_refused(value):
    with pytest.raises(DecryptionError):
        cipher().decrypt(value, associated_data=AD)


# ------------------------------------------------------------------ rotation
def test_the_first_key_encrypts_and_every_key_decrypts():
    old = cipher(f"a:{KEY_A}")
    sealed_old = old.encrypt(b"old value", associated_data=AD)
    rotated = cipher(f"b:{KEY_B},a:{KEY_A}")
    assert rotated.primary_key_id == "b"
    assert rotated.key_ids == ("b", "a")
    assert rotated.decrypt(sealed_old, associated_data=AD) == b"old value"
    sealed_new = rotated.encrypt(b"new value", associated_data=AD)
    assert key_id_of(sealed_new) == "b"
    assert rotated.needs_rotation(sealed_old)
    assert not rotated.needs_rotation(sealed_new)


def test_a_value_under_a_dropped_key_names_the_key_not_its_material():
    sealed = cipher(f"a:{KEY_A}").encrypt(b"x", associated_data=AD)
    with pytest.raises(DecryptionError, match="'a', which is not configured") as caught:
        cipher(f"b:{KEY_B}").decrypt(sealed, associated_data=AD)
    assert KEY_A not in str(caught.value)


def test_a_key_id_that_exists_with_other_material_does_not_open():
    sealed = cipher(f"a:{KEY_A}").encrypt(b"x", associated_data=AD)
    with pytest.raises(DecryptionError):
        cipher(f"a:{KEY_B}").decrypt(sealed, associated_data=AD)


# ------------------------------------------------------------------ ENCRYPTION_KEYS
def test_keys_in_url_safe_or_unpadded_base64_are_accepted():
    raw = bytes(range(200, 232))
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    standard = base64.b64encode(raw).decode()
    one, two = cipher(f"k:{urlsafe}"), cipher(f" k : {standard} ")
    assert two.decrypt(one.encrypt(b"v", associated_data=AD), associated_data=AD) == b"v"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "ENCRYPTION_KEYS is empty"),
        ("   ", "ENCRYPTION_KEYS is empty"),
        (KEY_A, "entry 1 has no key id"),
        (f":{KEY_A}", "entry 1 has no key id"),
        (f"a:{KEY_A},,b:{KEY_B}", "entry 2 is empty"),
        (f"a b:{KEY_A}", "key id 'a b' must be"),
        ("a:", "key 'a' is empty"),
        ("a:not*base64!", "key 'a' is not valid base64"),
        (f"a:{base64.b64encode(bytes(16)).decode()}", "decodes to 16 bytes; AES-256 needs 32"),
        (f"a:{KEY_A},a:{KEY_B}", "key id 'a' appears twice"),
    ],
)
def test_bad_key_strings_are_refused_with_a_reason_and_no_key(spec, message):
    with pytest.raises(ValueError, match=message) as caught:
        FieldCipher.from_keys(spec)
    assert KEY_A not in str(caught.value)
    assert KEY_B not in str(caught.value)


def test_the_reason_names_the_setting_it_came_from():
    with pytest.raises(ValueError, match=r"^DEV_KEYS: entry 1"):
        FieldCipher.from_keys("nokey", name="DEV_KEYS")


def test_the_cipher_never_shows_its_keys():
    text = repr(cipher(f"b:{KEY_B},a:{KEY_A}"))
    assert "b" in text
    assert KEY_A not in text
    assert KEY_B not in text


def test_keys_must_be_32_bytes_when_given_directly():
    with pytest.raises(ValueError, match="must be 32 bytes"):
        FieldCipher([("a", bytes(31))])
    with pytest.raises(ValueError, match="at least one"):
        FieldCipher([])


def test_generated_keys_parse_and_differ():
    one, two = generate_key("k1"), generate_key()
    assert one.startswith("k1:")
    assert len(base64.b64decode(one.partition(":")[2])) == 32
    assert FieldCipher.from_keys(f"{one},{two}").key_ids[0] == "k1"
    assert one.partition(":")[2] != two.partition(":")[2]


# ------------------------------------------------------------------ development key file
def test_the_dev_key_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / ".payment-service.key"
    first = load_or_create_dev_key(path)
    second = load_or_create_dev_key(path)
    assert first == second
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert FieldCipher.from_keys(first).primary_key_id == "dev"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_concurrent_starters_agree_on_one_dev_key(tmp_path):
    path = tmp_path / ".payment-service.key"
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_or_create_dev_key(path), range(16)))
    assert len(keys) == 1


def test_a_corrupt_dev_key_file_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.key"
    path.write_text("dev:tooshort\n")
    with pytest.raises(ValueError, match=r"bad\.key"):
        load_or_create_dev_key(path)
