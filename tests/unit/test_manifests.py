"""The Slack app manifests in manifests/ are valid and say what Plugboard needs.

Validation is offline: Slack's published manifest schema (slackapi/manifest-schema) is kept
unchanged in tests/data/, and every URL it `$ref`s is served from that copy by a
`referencing.Registry` that refuses to fetch anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
SCHEMAS = ROOT / "tests" / "data"

SCHEMA_BASE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.0.0/schemas/"
SUB_SCHEMAS = ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json")

URL_KEYS = {"url", "request_url", "message_menu_options_url"}
EXPECTED_SCOPES = {
    "commands",
    "chat:write",
    "im:write",
    "im:history",
    "files:read",
    "files:write",
    "users:read",
    "app_mentions:read",
    "assistant:write",
}
EXPECTED_EVENTS = {"app_home_opened", "message.im", "app_mention"}
USAGE_HINT = "help | list | add | add-json | connect | upload | download | tools | call | audit"


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _refuse_network(uri: str) -> Resource[Any]:
    raise NoSuchResource(uri)


def _registry() -> Registry[Any]:
    resources = [
        (SCHEMA_BASE + name, Resource.from_contents(_load(SCHEMAS / name), default_specification=DRAFT7))
        for name in SUB_SCHEMAS
    ]
    return Registry(retrieve=_refuse_network).with_resources(resources)  # type: ignore[call-arg]


def _validator() -> Draft7Validator:
    return Draft7Validator(
        _load(SCHEMAS / "manifest.schema.json"),
        registry=_registry(),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )


def _manifest(mode: str) -> dict[str, Any]:
    data: dict[str, Any] = _load(MANIFESTS / f"manifest.{mode}.json")
    return data


def _url_values(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in URL_KEYS and isinstance(value, str):
                yield key, value
            yield from _url_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _url_values(item)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _slash_command(manifest: dict[str, Any]) -> dict[str, Any]:
    commands = [c for c in manifest["features"]["slash_commands"] if c["command"] == "/mcp"]
    assert len(commands) == 1, "exactly one /mcp command"
    command: dict[str, Any] = commands[0]
    return command


def test_every_schema_reference_resolves_from_the_stored_copy_without_network() -> None:
    main = _load(SCHEMAS / "manifest.schema.json")
    resolver = _registry().resolver()
    refs = set(_refs(main))
    assert refs, "the main schema should point at its versioned schemas"
    for ref in refs:
        resolved = resolver.lookup(ref)
        assert resolved.contents["title"] == "App Manifest"


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_manifest_is_valid_against_slacks_manifest_schema(mode: str) -> None:
    # Our stored v1 schema (tests/data, commit 4a68bcc) predates slackapi/manifest-schema PR #74, which added
    # `features.agent_view` to v1 and v2 alike; the key is checked against the v2 definition in the test below.
    manifest = _manifest(mode)
    manifest["features"].pop("agent_view")
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_check_rejects_a_manifest_slack_would_refuse() -> None:
    broken = _manifest("socket")
    broken["features"]["slash_commands"][0]["command"] = "mcp"  # no leading slash
    broken["settings"]["not_a_setting"] = True
    assert not _validator().is_valid(broken)


def test_socket_manifest_enables_socket_mode_and_has_no_request_urls() -> None:
    manifest = _manifest("socket")
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert list(_url_values(manifest)) == []


def test_http_manifest_sends_every_request_url_to_slack_events() -> None:
    manifest = _manifest("http")
    assert manifest["settings"]["socket_mode_enabled"] is False
    urls = dict(_url_values(manifest["settings"]["interactivity"]))
    assert set(urls) == {"request_url", "message_menu_options_url"}
    assert "request_url" in manifest["settings"]["event_subscriptions"]
    assert "url" in _slash_command(manifest)
    for key, value in _url_values(manifest):
        assert value.startswith("https://"), f"{key} must be https: {value}"
        assert value.endswith("/slack/events"), f"{key} must point at /slack/events: {value}"


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_manifest_offers_the_mcp_slash_command_with_its_usage_hint(mode: str) -> None:
    command = _slash_command(_manifest(mode))
    assert command["usage_hint"] == USAGE_HINT
    assert command["should_escape"] is False


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_manifest_asks_only_for_the_scopes_and_events_plugboard_uses(mode: str) -> None:
    manifest = _manifest(mode)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == EXPECTED_SCOPES
    assert "user" not in manifest["oauth_config"]["scopes"]
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == EXPECTED_EVENTS


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_manifest_enables_app_home_with_a_writable_messages_tab(mode: str) -> None:
    manifest = _manifest(mode)
    app_home = manifest["features"]["app_home"]
    assert app_home == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["display_information"]["name"] == "Plugboard"


def test_socket_and_http_manifests_differ_only_in_how_slack_reaches_the_app() -> None:
    def without_delivery(manifest: dict[str, Any]) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(manifest))
        copy["settings"].pop("socket_mode_enabled")
        for command in copy["features"]["slash_commands"]:
            command.pop("url", None)
        copy["settings"]["event_subscriptions"].pop("request_url", None)
        for key in ("request_url", "message_menu_options_url"):
            copy["settings"]["interactivity"].pop(key, None)
        return copy

    assert without_delivery(_manifest("socket")) == without_delivery(_manifest("http"))


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_manifest_describes_the_agent_as_slacks_agent_view_schema_defines_it(mode: str) -> None:
    # The stored v1 schema predates `features.agent_view` (slackapi/manifest-schema PR #74 added it to v1 and
    # v2 alike); the stored v2 copy has the definition, so the section is checked against that.
    definitions = _load(SCHEMAS / "manifest.schema.2.0.0.json")["definitions"]
    schema = {"$ref": "#/definitions/app-manifests.v1.features.agent_view", "definitions": definitions}
    agent_view = _manifest(mode)["features"]["agent_view"]
    errors = list(Draft7Validator(schema).iter_errors(agent_view))
    assert not errors, [e.message for e in errors]
    assert agent_view["agent_description"]
    assert 1 <= len(agent_view["suggested_prompts"]) <= 4
