"""ConnectorService on fakes of its credential store, notifier and server runtime, with the remote server and its
authorization server played by an in-process httpx2 MockTransport: who gets told what, and when a sign-in is
refused before the owner is sent anywhere."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.shared.auth import OAuthToken

from app.domain.owner import Owner
from app.domain.remote_config import OAuthAuth, RemoteServerConfig
from app.domain.server import ServerRecord
from app.domain.status import ServerStatus
from app.security.egress import EgressRefused
from app.security.url_policy import Refusal
from app.services.connector_service import ConnectorService
from app.services.oauth_flows import AuthorizationRequired, OAuthFlows
from tests.unit.fakes import FakeCredentials, FakeNotifier, ServerWorld

pytestmark = pytest.mark.anyio

ALICE = Owner(team_id="T0TEST", user_id="U0ALICE")
MCP_URL = "https://mcp.example.com/mcp"
AUTH = "https://auth.example.com"
Handler = Callable[[httpx2.Request], httpx2.Response]


def remote_record(auth: OAuthAuth | None = None) -> ServerRecord:
    config = RemoteServerConfig(url=MCP_URL, transport="http", auth=auth or OAuthAuth())
    return ServerRecord(
        id="remote1",
        owner=ALICE,
        name="docs",
        config=config,
        enabled=True,
        approved_hash=config.approval_hash(),
        version=1,
        created_at=0.0,
        updated_at=0.0,
    )


def accepting_everything(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25"}})


def asking_for_sign_in(request: httpx2.Request) -> httpx2.Response:
    """An MCP server that wants OAuth, and its authorization server (PKCE S256, dynamic registration)."""
    url = str(request.url)
    if url.startswith(MCP_URL) and "authorization" not in request.headers:
        metadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        return httpx2.Response(401, headers={"WWW-Authenticate": f'Bearer resource_metadata="{metadata}"'})
    if url == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp":
        return httpx2.Response(200, json={"resource": MCP_URL, "authorization_servers": [AUTH]})
    if url == f"{AUTH}/.well-known/oauth-authorization-server":
        return httpx2.Response(
            200,
            json={
                "issuer": AUTH,
                "authorization_endpoint": f"{AUTH}/authorize",
                "token_endpoint": f"{AUTH}/token",
                "registration_endpoint": f"{AUTH}/register",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
            },
        )
    if url == f"{AUTH}/register":
        return httpx2.Response(201, json={**json.loads(request.content), "client_id": "registered-client"})
    return httpx2.Response(404)


class Remote:
    """The HTTP client factory the service is given, answering with `handler` in process."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    @asynccontextmanager
    async def __call__(self, **options: Any) -> AsyncIterator[httpx2.AsyncClient]:
        transport = httpx2.MockTransport(self.handler)
        async with httpx2.AsyncClient(transport=transport, auth=options.get("auth")) as client:
            yield client


class Refusing:
    """A client factory whose egress policy refuses the server outright."""

    @asynccontextmanager
    async def __call__(self, **options: Any) -> AsyncIterator[httpx2.AsyncClient]:
        raise EgressRefused(Refusal.BLOCKED_ADDRESS, "the address is private")
        yield  # pragma: no cover


class World:
    def __init__(self, factory: Any, *, refused_prefix: str | None = None, record: ServerRecord | None = None):
        self.record = record or remote_record()
        self.servers = ServerWorld()
        self.servers.store.servers[self.record.id] = self.record
        self.credentials = FakeCredentials()
        self.notifier = FakeNotifier()

        def check_url(url: str) -> None:
            if refused_prefix and url.startswith(refused_prefix):
                raise ValueError("private address")

        self.connector = ConnectorService(
            self.servers.service,
            self.credentials,  # type: ignore[arg-type]
            OAuthFlows("https://plugboard.example.com"),
            factory,
            check_url,
        )
        self.connector.notify_with(self.notifier)

    def has_tokens(self) -> None:
        self.credentials.tokens[(ALICE.id, self.record.id)] = OAuthToken(access_token="at", refresh_token="rt")


async def test_a_server_that_needs_sign_in_again_gets_its_owner_a_reconnect_message() -> None:
    world = World(Remote(accepting_everything))
    world.has_tokens()

    await world.connector.on_status(world.record, ServerStatus("needs_auth"))

    assert world.notifier.sent == [("reauth_needed", "docs", None)]


@pytest.mark.parametrize("state", ["ready", "error", "stopped"])
async def test_other_states_send_no_reconnect_message(state: Any) -> None:
    world = World(Remote(accepting_everything))
    world.has_tokens()

    await world.connector.on_status(world.record, ServerStatus(state))

    assert world.notifier.sent == []


async def test_a_server_never_signed_in_to_sends_no_reconnect_message() -> None:
    world = World(Remote(accepting_everything))

    await world.connector.on_status(world.record, ServerStatus("needs_auth"))

    assert world.notifier.sent == []


async def test_after_close_servers_stopping_send_no_reconnect_message() -> None:
    world = World(Remote(accepting_everything))
    world.has_tokens()
    await world.connector.close()

    await world.connector.on_status(world.record, ServerStatus("needs_auth"))

    assert world.notifier.sent == []


async def test_a_running_session_refused_by_the_server_marks_it_as_needing_sign_in_without_asking_anyone() -> None:
    world = World(Remote(accepting_everything))
    refusing = httpx2.MockTransport(lambda request: httpx2.Response(401))

    async with httpx2.AsyncClient(transport=refusing, auth=world.connector.session_auth(world.record)) as client:
        with pytest.raises(AuthorizationRequired):
            await client.post(MCP_URL, json={})

    assert world.connector.needs_sign_in(world.record)
    assert world.notifier.sent == []


async def test_the_session_credentials_are_reused_until_the_config_is_approved_again() -> None:
    world = World(Remote(accepting_everything))
    first = world.connector.session_auth(world.record)
    reapproved = world.record.model_copy(update={"approved_hash": "a-newer-approval"})

    assert world.connector.session_auth(world.record) is first
    assert world.connector.session_auth(reapproved) is not first


async def test_a_sign_in_sends_the_owner_a_link_to_the_authorization_server() -> None:
    world = World(Remote(asking_for_sign_in))

    world.connector.start_authorization(world.record)

    assert await world.notifier.next() == ("sign_in_link", "docs", "auth.example.com")
    await world.connector.close()
    assert world.notifier.sent == []


async def test_an_authorization_endpoint_the_network_policy_refuses_fails_the_sign_in_before_any_link() -> None:
    world = World(Remote(asking_for_sign_in), refused_prefix=f"{AUTH}/authorize")

    world.connector.start_authorization(world.record)

    kind, name, reason = await world.notifier.next()
    assert (kind, name) == ("failed", "docs")
    assert "authorization endpoint" in str(reason) and "refused by Plugboard's network policy" in str(reason)
    assert world.notifier.sent == []


async def test_a_server_the_egress_policy_refuses_fails_the_sign_in_with_the_reason() -> None:
    world = World(Refusing())

    world.connector.start_authorization(world.record)

    assert await world.notifier.next() == (
        "failed",
        "docs",
        "refused by Plugboard's network policy: the address is private",
    )


async def test_a_pre_registered_client_is_stored_before_signing_in() -> None:
    record = remote_record(OAuthAuth(client_id="pre-registered", client_secret="client-secret"))
    world = World(Refusing(), record=record)

    world.connector.start_authorization(world.record)
    await world.notifier.next()

    client = world.credentials.clients[(ALICE.id, record.id)]
    assert (client.client_id, client.client_secret) == ("pre-registered", "client-secret")
    assert client.token_endpoint_auth_method == "client_secret_basic"


async def test_a_sign_in_the_server_accepts_reloads_the_server_and_tells_the_owner_its_tools() -> None:
    world = World(Remote(accepting_everything))
    world.servers.sessions.statuses[world.record.id] = ServerStatus("ready", tool_count=1)
    world.servers.registry.publish(ALICE, world.record.id, "docs", [types.Tool(name="search", input_schema={})])

    world.connector.start_authorization(world.record)

    assert await world.notifier.next() == ("connected", "docs", ["search"])
    assert world.servers.sessions.started == ["docs"]
