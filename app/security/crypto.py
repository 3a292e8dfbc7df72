"""Encryption of secrets at rest: AES-256-GCM with key ids, so keys can be rotated.

Ciphertext format: `v1:<kid>:<base64(nonce || ciphertext)>`. The associated data binds a
ciphertext to its row (owner, server, field), so a value copied into another row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEY_FILE_NAME = "encryption.key"


class KeyConfigError(ValueError):
    """PLUGBOARD_ENCRYPTION_KEYS (or the key file) is malformed."""


class DecryptionError(Exception):
    """A ciphertext could not be decrypted with any configured key (wrong key, wrong row, or tampered)."""


@dataclass(frozen=True)
class Keyring:
    """Ordered keys: the first encrypts, all decrypt."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)  # a repr in a log or traceback must not leak keys

    def __repr__(self) -> str:
        return f"Keyring(kids={[kid for kid, _ in self.keys]!r})"

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            kid, sep, encoded = item.partition(":")
            if not sep or not _KID.fullmatch(kid):
                raise KeyConfigError("each key must look like `kid:base64key` (kid: letters, digits, - or _)")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise KeyConfigError(f"key `{kid}` is not valid base64") from None
            if len(key) != 32:
                raise KeyConfigError(f"key `{kid}` must be 32 bytes (got {len(key)})")
            if any(existing == kid for existing, _ in keys):
                raise KeyConfigError(f"key id `{kid}` appears twice")
            keys.append((kid, key))
        if not keys:
            raise KeyConfigError("no keys given")
        return cls(tuple(keys))

    @classmethod
    def load_or_create(cls, spec: str | None, data_dir: Path) -> Keyring:
        """Use the configured keys, else the key file in the data dir, creating it (0600) on first run."""
        if spec:
            return cls.parse(spec)
        path = data_dir / KEY_FILE_NAME
        if path.exists():
            return cls.parse(path.read_text().strip())
        data_dir.mkdir(parents=True, exist_ok=True)
        generated = f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generated + "\n")
        log.warning(
            "PLUGBOARD_ENCRYPTION_KEYS is not set: generated a key in %s (mode 0600). "
            "Back it up; without it stored secrets cannot be read.",
            path,
        )
        return cls.parse(generated)

    @property
    def active_kid(self) -> str:
        return self.keys[0][0]


class SecretBox:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys}

    def encrypt(self, plaintext: str, *, context: str) -> str:
        kid = self._keyring.active_kid
        nonce = secrets.token_bytes(12)
        sealed = self._ciphers[kid].encrypt(nonce, plaintext.encode(), context.encode())
        return f"v1:{kid}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str) -> str:
        version, _, rest = token.partition(":")
        kid, _, payload = rest.partition(":")
        cipher = self._ciphers.get(kid)
        if version != "v1" or cipher is None:
            raise DecryptionError(f"no key `{kid}` for this secret (was a key removed from the keyring?)")
        try:
            raw = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise DecryptionError("secret is not valid base64 (damaged in storage?)") from None
        if len(raw) < 12 + 16:  # nonce + GCM tag
            raise DecryptionError("secret is too short to be a ciphertext (damaged in storage?)")
        try:
            return cipher.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag:
            raise DecryptionError("secret failed authentication (wrong key or moved between rows)") from None

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(f"v1:{self._keyring.active_kid}:")
