"""The config of a remote server (streamable HTTP or SSE), added only through the connector flow."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.errors import InvalidConfig

Transport = Literal["auto", "http", "sse"]
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
FORBIDDEN_HEADERS = {
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "cookie",
    "mcp-session-id",
    "mcp-protocol-version",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
}
MAX_SECRET_BYTES = 4096
MAX_SCOPES = 20


class NoAuth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["none"] = "none"


class ApiKeyAuth(BaseModel):
    """A static header, e.g. `Authorization: Bearer …` or `X-API-Key: …`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["api_key"] = "api_key"
    header: str = "Authorization"
    value: str = Field(repr=False)


class OAuthAuth(BaseModel):
    """OAuth 2.1 with PKCE; a pre-registered client for servers without dynamic registration."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["oauth"] = "oauth"
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    scopes: tuple[str, ...] = ()


Auth = Annotated[NoAuth | ApiKeyAuth | OAuthAuth, Field(discriminator="type")]


class RemoteServerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["remote"] = "remote"
    url: str
    transport: Transport = "auto"
    auth: Auth = NoAuth()

    def approval_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def runtime_differs_from(self, other: object) -> bool:
        return not isinstance(other, RemoteServerConfig) or self.approval_hash() != other.approval_hash()

    def describe(self) -> str:
        return f"{self.url} ({self.transport_label()}, {self.auth_label()})"

    def transport_label(self) -> str:
        return {"auto": "streamable HTTP, falling back to SSE", "http": "streamable HTTP", "sse": "SSE"}[self.transport]

    def auth_label(self) -> str:
        if isinstance(self.auth, ApiKeyAuth):
            return f"API key in `{self.auth.header}`"
        if isinstance(self.auth, OAuthAuth):
            return "OAuth" + (" with a pre-registered client" if self.auth.client_id else "")
        return "no authentication"

    # -- secrets are kept apart from what can be shown or mirrored -----------------------------

    def secret_values(self) -> dict[str, str]:
        if isinstance(self.auth, ApiKeyAuth):
            return {"api_key": self.auth.value}
        if isinstance(self.auth, OAuthAuth) and self.auth.client_secret:
            return {"client_secret": self.auth.client_secret}
        return {}

    def public_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        auth = data["auth"]
        auth.pop("value", None)
        auth.pop("client_secret", None)
        data["secret_names"] = sorted(self.secret_values())
        return data

    @classmethod
    def from_public(cls, public: dict[str, Any], secrets: dict[str, str]) -> RemoteServerConfig:
        data = dict(public)
        data.pop("secret_names", None)
        auth = dict(data.get("auth", {}))
        if auth.get("type") == "api_key":
            auth["value"] = secrets.get("api_key", "")
        elif auth.get("type") == "oauth" and "client_secret" in secrets:
            auth["client_secret"] = secrets["client_secret"]
        data["auth"] = auth
        return cls.model_validate(data)


def build_api_key_auth(header: str, value: str) -> ApiKeyAuth:
    header = header.strip() or "Authorization"
    if not HEADER_NAME.fullmatch(header) or header.lower() in FORBIDDEN_HEADERS:
        raise InvalidConfig.single("api_header", f"`{header[:64]}` cannot be used as the API key header.")
    value = value.strip()
    if not value:
        raise InvalidConfig.single("api_value", "Enter the API key.")
    if any(ch in value for ch in "\r\n\x00") or len(value.encode()) > MAX_SECRET_BYTES:
        raise InvalidConfig.single("api_value", "The API key contains line breaks or is too long.")
    if header.lower() == "authorization" and " " not in value:
        value = f"Bearer {value}"  # the usual scheme; a value with its own scheme is kept as given
    return ApiKeyAuth(header=header, value=value)


def build_oauth_auth(client_id: str, client_secret: str, scopes: str) -> OAuthAuth:
    client_id, client_secret = client_id.strip(), client_secret.strip()
    if client_secret and not client_id:
        raise InvalidConfig.single("oauth_client_id", "A client secret needs its client id.")
    if len(client_id) > 256 or any(ch.isspace() for ch in client_id):
        raise InvalidConfig.single("oauth_client_id", "The client id has spaces or is too long.")
    if any(ch in client_secret for ch in "\r\n\x00") or len(client_secret.encode()) > MAX_SECRET_BYTES:
        raise InvalidConfig.single("oauth_client_secret", "The client secret contains line breaks or is too long.")
    scope_list = tuple(dict.fromkeys(scopes.replace(",", " ").split()))
    if len(scope_list) > MAX_SCOPES or any(not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}", s) for s in scope_list):
        raise InvalidConfig.single("oauth_scopes", "Scopes are space-separated words without quotes or backslashes.")
    return OAuthAuth(client_id=client_id or None, client_secret=client_secret or None, scopes=scope_list)
