"""Secrets at rest: AES-GCM bound to their row, with key ids so keys can be rotated and retired."""

from __future__ import annotations

import base64
import logging
import os
import re
import stat
from pathlib import Path

import pytest

from app.security.crypto import KEY_FILE_NAME, DecryptionError, KeyConfigError, Keyring, SecretBox

ROW = "server|T1-U1|srv-1|env"


def key(fill: int) -> str:
    return base64.b64encode(bytes([fill]) * 32).decode()


K1 = f"k1:{key(1)}"
K2 = f"k2:{key(2)}"


def box(spec: str) -> SecretBox:
    return SecretBox(Keyring.parse(spec))


def test_a_secret_round_trips_and_the_ciphertext_does_not_contain_it() -> None:
    secrets_box = box(K1)
    token = secrets_box.encrypt("hunter2 ünïcode", context=ROW)
    assert token.startswith("v1:k1:")
    assert "hunter2" not in token
    assert secrets_box.decrypt(token, context=ROW) == "hunter2 ünïcode"


def test_the_same_secret_encrypts_differently_each_time() -> None:
    secrets_box = box(K1)
    assert secrets_box.encrypt("same", context=ROW) != secrets_box.encrypt("same", context=ROW)


def test_an_empty_secret_round_trips() -> None:
    secrets_box = box(K1)
    assert secrets_box.decrypt(secrets_box.encrypt("", context=ROW), context=ROW) == ""


def test_a_ciphertext_moved_to_another_rows_context_fails_to_decrypt() -> None:
    secrets_box = box(K1)
    token = secrets_box.encrypt("alice's token", context="server|T1-UALICE|srv-a|env")
    with pytest.raises(DecryptionError, match="moved between rows"):
        secrets_box.decrypt(token, context="server|T1-UBOB|srv-b|env")


def test_a_tampered_ciphertext_fails_to_decrypt() -> None:
    secrets_box = box(K1)
    token = secrets_box.encrypt("value", context=ROW)
    prefix, payload = token.rsplit(":", 1)
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 0x01
    with pytest.raises(DecryptionError):
        secrets_box.decrypt(f"{prefix}:{base64.b64encode(bytes(raw)).decode()}", context=ROW)


@pytest.mark.parametrize(
    "token", ["v1:k1:!!!not-base64!!!", "v1:k1:", "v1:k1:AAAA", "v1:k1:" + "A" * 36, "garbage", "v2:k1:AAAA", ""]
)
def test_a_malformed_ciphertext_raises_decryption_error_not_something_else(token: str) -> None:
    with pytest.raises(DecryptionError):
        box(K1).decrypt(token, context=ROW)


def test_after_rotation_old_secrets_still_decrypt_and_new_ones_use_the_new_key() -> None:
    old = box(K1).encrypt("rotate me", context=ROW)
    rotated = box(f"{K2},{K1}")
    assert rotated.decrypt(old, context=ROW) == "rotate me"
    assert rotated.needs_rotation(old)
    new = rotated.encrypt("rotate me", context=ROW)
    assert new.startswith("v1:k2:")
    assert not rotated.needs_rotation(new)
    assert rotated.decrypt(new, context=ROW) == "rotate me"


def test_removing_the_old_key_gives_a_clear_error_naming_the_missing_key() -> None:
    old = box(K1).encrypt("rotate me", context=ROW)
    with pytest.raises(DecryptionError, match=r"no key `k1`.*removed from the keyring"):
        box(K2).decrypt(old, context=ROW)


def test_a_different_key_under_the_same_id_fails_authentication() -> None:
    token = box(K1).encrypt("value", context=ROW)
    with pytest.raises(DecryptionError, match="failed authentication"):
        box(f"k1:{key(9)}").decrypt(token, context=ROW)


def test_spaces_and_empty_items_in_the_key_spec_are_tolerated() -> None:
    keyring = Keyring.parse(f" {K2} , ,{K1} ")
    assert keyring.active_kid == "k2"
    assert [kid for kid, _ in keyring.keys] == ["k2", "k1"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no keys given"),
        (" , ", "no keys given"),
        (key(1), "kid:base64key"),
        (f":{key(1)}", "kid:base64key"),
        (f"bad kid:{key(1)}", "kid:base64key"),
        (f"{'k' * 33}:{key(1)}", "kid:base64key"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes (got 5)"),
        (f"k1:{base64.b64encode(bytes(64)).decode()}", "must be 32 bytes (got 64)"),
        ("k1:", "must be 32 bytes (got 0)"),
        (f"{K1},k1:{key(2)}", "appears twice"),
    ],
)
def test_malformed_key_specs_are_rejected_with_a_reason(spec: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=re.escape(message)):
        Keyring.parse(spec)


def test_key_material_never_appears_in_a_keyrings_repr() -> None:
    keyring = Keyring.parse(f"{K1},{K2}")
    shown = repr(keyring) + str(keyring)
    for secret in (bytes([1]) * 32, bytes([2]) * 32):
        assert repr(secret) not in shown
        assert base64.b64encode(secret).decode() not in shown
    assert "k1" in shown


def test_without_configured_keys_a_key_file_is_created_with_mode_0600_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    with caplog.at_level(logging.WARNING):
        first = Keyring.load_or_create(None, data_dir)
    path = data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "generated a key" in caplog.text
    assert base64.b64encode(first.keys[0][1]).decode() not in caplog.text

    token = SecretBox(first).encrypt("kept across restarts", context=ROW)
    second = Keyring.load_or_create(None, data_dir)
    assert second == first
    assert SecretBox(second).decrypt(token, context=ROW) == "kept across restarts"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_configured_keys_win_over_the_key_file_and_no_file_is_written(tmp_path: Path) -> None:
    keyring = Keyring.load_or_create(K2, tmp_path)
    assert keyring.active_kid == "k2"
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_a_damaged_key_file_is_reported_not_silently_replaced(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("k1:not-a-key\n")
    with pytest.raises(KeyConfigError):
        Keyring.load_or_create(None, tmp_path)
    assert (tmp_path / KEY_FILE_NAME).read_text() == "k1:not-a-key\n"
