"""The Add / Edit server modal, and reading its submitted values back into a config."""

from __future__ import annotations

import json
from typing import Any

from app.domain.errors import InvalidConfig, PlugboardError
from app.domain.local_config import (
    MAX_ARG_BYTES,
    MAX_COMMAND_BYTES,
    LocalServerConfig,
    build_local_config,
    parse_arg_lines,
    parse_env_lines,
)
from app.domain.placeholders import secret_placeholder
from app.domain.remote_config import RemoteServerConfig
from app.slack import ids

Values = dict[str, dict[str, dict[str, Any]]]


def text_input(
    block_id: str,
    label: str,
    *,
    hint: str,
    optional: bool = False,
    multiline: bool = False,
    initial: str | None = None,
    placeholder: str | None = None,
    max_length: int = 3000,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.VALUE,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": placeholder}
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint},
        "element": element,
    }


def build_server_modal(
    *, metadata: dict[str, str], name: str | None = None, config: LocalServerConfig | None = None
) -> dict[str, Any]:
    editing = config is not None
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    "Run a local MCP server (stdio) on the Plugboard host. You will see exactly what will run and "
                    "confirm it before anything starts."
                ),
            },
        },
    ]
    if not editing:
        blocks.append(
            text_input(
                ids.FIELD_NAME,
                "Name",
                hint="Lowercase letters, digits, - and _ (e.g. github).",
                placeholder="github",
                max_length=32,
            )
        )
    blocks += [
        text_input(
            ids.FIELD_COMMAND,
            "Command",
            hint="The program only, e.g. npx, uvx or an absolute path.",
            initial=config.command if config else None,
            placeholder="npx",
            max_length=MAX_COMMAND_BYTES,
        ),
        text_input(
            ids.FIELD_ARGS,
            "Arguments",
            optional=True,
            multiline=True,
            hint="One argument per line, exactly as the program should receive it.",
            initial="\n".join(config.args) if config else None,
            placeholder="-y\n@modelcontextprotocol/server-everything",
            max_length=3000,
        ),
        text_input(
            ids.FIELD_ENV,
            "Environment",
            optional=True,
            multiline=True,
            hint="KEY=value lines. Values are stored encrypted and never shown again; "
            "keep a ${secret:KEY} placeholder to leave a value unchanged.",
            initial="\n".join(f"{k}={secret_placeholder(k)}" for k in config.env) if config else None,
            placeholder="API_KEY=...",
            max_length=3000,
        ),
        text_input(
            ids.FIELD_CWD,
            "Working directory",
            optional=True,
            hint="Optional. Relative paths are inside this server's private folder.",
            initial=config.cwd if config else None,
            max_length=1024,
        ),
    ]
    title = f"Edit {name}" if editing and name else "Add MCP server"
    return {
        "type": "modal",
        "callback_id": ids.EDIT_MODAL if editing else ids.ADD_MODAL,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def local_only(config: LocalServerConfig | RemoteServerConfig) -> LocalServerConfig:
    """The Edit Config modal is for local servers; remote ones change through the connector flow."""
    if not isinstance(config, LocalServerConfig):
        raise PlugboardError("Remote servers are changed with `/mcp connect` (use the same name to replace it).")
    return config


def _value(values: Values, block_id: str) -> str:
    raw = values.get(block_id, {}).get(ids.VALUE, {}).get("value")
    return raw if isinstance(raw, str) else ""


def read_name(values: Values) -> str:
    return _value(values, ids.FIELD_NAME).strip()


def read_config(values: Values, *, previous: LocalServerConfig | None = None) -> LocalServerConfig:
    """Submitted form -> validated config; InvalidConfig keys are the input block ids."""
    args = parse_arg_lines(_value(values, ids.FIELD_ARGS))
    if any(len(a.encode()) > MAX_ARG_BYTES for a in args):
        raise InvalidConfig.single(ids.FIELD_ARGS, f"Each argument is at most {MAX_ARG_BYTES} bytes.")
    env = parse_env_lines(_value(values, ids.FIELD_ENV))
    if previous is not None:
        # A kept placeholder means "unchanged": the secret itself never travels through Slack again.
        env = {k: previous.env[k] if v == secret_placeholder(k) and k in previous.env else v for k, v in env.items()}
    cwd = _value(values, ids.FIELD_CWD) or None
    return build_local_config(command=_value(values, ids.FIELD_COMMAND), args=args, env=env, cwd=cwd)
