"""The SDK's TokenStorage over SQLite: tokens and client registrations encrypted per owner and server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from app.domain.owner import Owner
from app.security.crypto import SecretBox
from app.store.database import Database


class OAuthCredentialStore:
    def __init__(self, db: Database, box: SecretBox, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._box = box
        self.clock = clock

    def for_server(self, owner: Owner, server_id: str, resource: str | None = None) -> ServerTokenStorage:
        return ServerTokenStorage(self, owner, server_id, resource)

    async def read(self, owner: Owner, server_id: str, column: str) -> str | None:
        row = await self._db.fetch_one(
            f"SELECT {column} FROM oauth_credentials WHERE server_id = ? AND owner_id = ?",  # fixed names
            (server_id, owner.id),
        )
        if row is None or row[0] is None:
            return None
        return self._box.decrypt(row[0], context=_context(owner, server_id, column))

    async def write(self, owner: Owner, server_id: str, column: str, plaintext: str) -> None:
        sealed = self._box.encrypt(plaintext, context=_context(owner, server_id, column))
        async with self._db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO oauth_credentials (server_id, owner_id, {column}, updated_at) VALUES (?, ?, ?, ?) "
                f"ON CONFLICT (server_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at",
                (server_id, owner.id, sealed, time.time()),
            )

    async def forget(self, owner: Owner, server_id: str, *, keep_client: bool = False) -> None:
        async with self._db.transaction() as conn:
            if keep_client:
                await conn.execute(
                    "UPDATE oauth_credentials SET tokens_enc = NULL WHERE server_id = ? AND owner_id = ?",
                    (server_id, owner.id),
                )
            else:
                await conn.execute(
                    "DELETE FROM oauth_credentials WHERE server_id = ? AND owner_id = ?", (server_id, owner.id)
                )

    async def has_tokens(self, owner: Owner, server_id: str) -> bool:
        return await self.read(owner, server_id, "tokens_enc") is not None


class ServerTokenStorage:
    """What one OAuthClientProvider sees: only its own server's credentials.

    Tokens are stored with the absolute time their access token expires, and read back with `expires_in`
    counting down from now: a provider that loads them after a restart knows when to refresh (the SDK keeps
    expiry only in memory and would otherwise treat a stored token as valid forever).

    Tokens are also bound to the server URL (`resource`) they were issued for: after the URL changes they are
    never sent again, and the next sign-in replaces them.
    """

    def __init__(self, store: OAuthCredentialStore, owner: Owner, server_id: str, resource: str | None) -> None:
        self._store = store
        self._owner = owner
        self._server_id = server_id
        self._resource = resource

    async def get_tokens(self) -> OAuthToken | None:
        raw = await self._store.read(self._owner, self._server_id, "tokens_enc")
        if not raw:
            return None
        stored = json.loads(raw)
        if "token" not in stored:  # written before expiry times were kept
            return OAuthToken.model_validate(stored)
        if self._resource is not None and stored.get("resource") not in (None, self._resource):
            return None  # issued for another URL of this server
        token = OAuthToken.model_validate(stored["token"])
        expires_at = stored.get("expires_at")
        if isinstance(expires_at, int | float):
            token.expires_in = max(0, int(expires_at - self._store.clock()))
        return token

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires_at = None if tokens.expires_in is None else self._store.clock() + int(tokens.expires_in)
        stored = {"token": tokens.model_dump(mode="json"), "expires_at": expires_at, "resource": self._resource}
        await self._store.write(self._owner, self._server_id, "tokens_enc", json.dumps(stored))

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = await self._store.read(self._owner, self._server_id, "client_info_enc")
        return OAuthClientInformationFull.model_validate_json(raw) if raw else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        await self._store.write(self._owner, self._server_id, "client_info_enc", client_info.model_dump_json())


def _context(owner: Owner, server_id: str, column: str) -> str:
    return f"oauth|{owner.id}|{server_id}|{column}"
