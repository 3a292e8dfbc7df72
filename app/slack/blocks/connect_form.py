"""The Connectors modal: name, URL, transport, and none / API key / OAuth."""

from __future__ import annotations

import json
from typing import Any

from app.domain.errors import InvalidConfig
from app.domain.remote_config import (
    ApiKeyAuth,
    NoAuth,
    OAuthAuth,
    RemoteServerConfig,
    Transport,
    build_api_key_auth,
    build_oauth_auth,
)
from app.slack import ids
from app.slack.blocks.server_form import Values, text_input

_TRANSPORTS = {"auto": "Automatic (streamable HTTP, then SSE)", "http": "Streamable HTTP", "sse": "SSE"}
_AUTHS = {"none": "None", "api_key": "API key", "oauth": "OAuth (sign in with the browser)"}
MAX_URL = 2048


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": label}, "value": value}


def _text_input(
    block_id: str,
    label: str,
    hint: str,
    *,
    initial: str | None = None,
    optional: bool = True,
    placeholder: str | None = None,
    max_length: int = 3000,
) -> dict[str, Any]:
    """Single-line and optional unless said otherwise: most connector fields depend on the chosen auth."""
    return text_input(
        block_id, label, hint=hint, optional=optional, initial=initial, placeholder=placeholder, max_length=max_length
    )


def _select(block_id: str, label: str, choices: dict[str, str], chosen: str) -> dict[str, Any]:
    options = [_option(v, t) for v, t in choices.items()]
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "static_select",
            "action_id": ids.VALUE,
            "options": options,
            "initial_option": _option(chosen, choices[chosen]),
        },
    }


def build_connect_modal(
    *,
    metadata: dict[str, str],
    name: str | None = None,
    url: str | None = None,
    transport: str = "auto",
    config: RemoteServerConfig | None = None,
) -> dict[str, Any]:
    auth = config.auth if config else NoAuth()
    editing = "server_id" in metadata
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ("Connect a remote MCP server. Nothing connects until you have reviewed it and confirmed."),
            },
        },
    ]
    if not editing:
        blocks.append(
            _text_input(
                ids.FIELD_NAME,
                "Name",
                "Lowercase letters, digits, - and _ (e.g. linear).",
                initial=name,
                optional=False,
                max_length=32,
            )
        )
    blocks += [
        _text_input(
            ids.FIELD_URL,
            "Server URL",
            "https://… — the server's MCP endpoint.",
            initial=config.url if config else url,
            optional=False,
            placeholder="https://mcp.example.com/mcp",
            max_length=MAX_URL,
        ),
        _select(ids.FIELD_TRANSPORT, "Transport", _TRANSPORTS, config.transport if config else transport),
        _select(ids.FIELD_AUTH, "Authentication", _AUTHS, auth.type),
        _text_input(
            ids.FIELD_API_HEADER,
            "API key header",
            "Only for API key. Default: Authorization (Bearer).",
            initial=auth.header if isinstance(auth, ApiKeyAuth) else None,
            placeholder="Authorization",
            max_length=64,
        ),
        _text_input(
            ids.FIELD_API_VALUE,
            "API key",
            "Only for API key. Stored encrypted; never shown again."
            + (" Leave empty to keep the current key." if isinstance(auth, ApiKeyAuth) else ""),
            max_length=3000,
        ),
        _text_input(
            ids.FIELD_CLIENT_ID,
            "OAuth client id",
            "Optional: for servers without client registration.",
            initial=auth.client_id if isinstance(auth, OAuthAuth) else None,
            max_length=256,
        ),
        _text_input(
            ids.FIELD_CLIENT_SECRET,
            "OAuth client secret",
            "Optional, with a client id. Stored encrypted.",
            max_length=3000,
        ),
        _text_input(
            ids.FIELD_SCOPES,
            "OAuth scopes",
            "Optional, space-separated.",
            initial=" ".join(auth.scopes) if isinstance(auth, OAuthAuth) else None,
            max_length=1000,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ids.CONNECT_MODAL,
        "title": {"type": "plain_text", "text": f"Change {name}"[:24] if editing and name else "Connect MCP server"},
        "submit": {"type": "plain_text", "text": "Review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def _text(values: Values, block_id: str) -> str:
    raw = values.get(block_id, {}).get(ids.VALUE, {}).get("value")
    return raw.strip() if isinstance(raw, str) else ""


def _choice(values: Values, block_id: str, default: str) -> str:
    selected = values.get(block_id, {}).get(ids.VALUE, {}).get("selected_option") or {}
    value = selected.get("value")
    return value if isinstance(value, str) else default


def read_connect_form(values: Values, *, previous: RemoteServerConfig | None = None) -> RemoteServerConfig:
    url = _text(values, ids.FIELD_URL)
    if not url:
        raise InvalidConfig.single(ids.FIELD_URL, "Enter the server URL.")
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidConfig.single(ids.FIELD_URL, "The URL contains spaces or control characters, or is too long.")
    transport = _choice(values, ids.FIELD_TRANSPORT, "auto")
    if transport not in _TRANSPORTS:
        raise InvalidConfig.single(ids.FIELD_TRANSPORT, "Pick a transport.")
    kind = _choice(values, ids.FIELD_AUTH, "none")
    auth: NoAuth | ApiKeyAuth | OAuthAuth
    if kind == "api_key":
        value = _text(values, ids.FIELD_API_VALUE)
        if not value and previous is not None and isinstance(previous.auth, ApiKeyAuth):
            value = previous.auth.value  # left empty while editing: keep the stored key
        auth = build_api_key_auth(_text(values, ids.FIELD_API_HEADER), value)
    elif kind == "oauth":
        secret = _text(values, ids.FIELD_CLIENT_SECRET)
        if not secret and previous is not None and isinstance(previous.auth, OAuthAuth):
            secret = previous.auth.client_secret or ""
        auth = build_oauth_auth(_text(values, ids.FIELD_CLIENT_ID), secret, _text(values, ids.FIELD_SCOPES))
    elif kind == "none":
        auth = NoAuth()
    else:
        raise InvalidConfig.single(ids.FIELD_AUTH, "Pick an authentication method.")
    chosen: Transport = transport  # type: ignore[assignment]  # checked against _TRANSPORTS above
    return RemoteServerConfig(url=url, transport=chosen, auth=auth)
