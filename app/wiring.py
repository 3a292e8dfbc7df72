"""The core object graph (store, runtime, services), built in one place for the app, the admin CLI and test harnesses.

`app.bootstrap` adds the Slack and web edge on top of `build_core`; the admin CLI needs only `open_store`.
`CoreOverrides` is how a harness (the MCP conformance client) swaps a piece without wiring its own graph.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.agent.instructions import ASSISTANT_INSTRUCTIONS
from app.agent.model_config import ModelConfig
from app.agent.runner import AgentRunner
from app.agent.tokens import TokenCounter
from app.domain.policy import Policy, PolicyError, exposing_read_only_paths, parse_policy
from app.domain.tool_policy import Denylist
from app.runtime.child_environment import admin_environment
from app.runtime.exception_chain import find
from app.runtime.launcher import DirectLauncher, Launcher, LauncherRouter, ServerFolders
from app.runtime.remote_launcher import HttpClientFactory, RemoteLauncher, SessionCredentials
from app.runtime.sandbox import SandboxLauncher
from app.runtime.sandbox_setup import sandbox_launcher
from app.runtime.server_actor import ActorTimings, ClientOptions
from app.runtime.session_manager import SessionManager
from app.runtime.tool_registry import ToolRegistry
from app.security.crypto import Keyring, SecretBox
from app.security.egress import EgressRefused, guarded_client_factory
from app.security.url_policy import EgressPolicy, check_url
from app.services.admin_servers import AdminServers, load_admin_servers
from app.services.admin_service import AdminService
from app.services.assistant_service import AssistantService
from app.services.assistant_tools import ConversationTools
from app.services.audit_service import AuditService
from app.services.config_import import ConfigImportService
from app.services.connector_service import ConnectorService
from app.services.elicitation_service import ElicitationService
from app.services.local_gate import LocalGate
from app.services.oauth_flows import OAuthFlows
from app.services.server_gate import ServerGate, UrlCheck
from app.services.server_service import ServerService
from app.services.tool_policy_service import ToolPolicyService
from app.services.tool_service import ToolService
from app.settings import Settings
from app.store.assistant_approvals import ApprovalModeRepository, ApprovalRepository
from app.store.assistant_threads import ConversationRepository
from app.store.audit_log import AuditLog
from app.store.config_mirror import ConfigMirror
from app.store.database import Database
from app.store.oauth_credentials import OAuthCredentialStore
from app.store.pending_batches import PendingBatchRepository
from app.store.revocation_signals import RevocationSignals
from app.store.server_repository import ServerRepository
from app.store.tool_catalog import ToolCatalog
from app.store.tool_state_repository import ToolStateRepository

log = logging.getLogger(__name__)

DATABASE_FILE = "plugboard.sqlite3"
# Cap for non-stream responses (OAuth metadata, tokens, JSON results); SSE streams are capped per event.
SESSION_RESPONSE_CAP = 64 * 1024 * 1024


@dataclass
class Store:
    """The database and what reads and writes it directly, over one data dir and one key ring."""

    data_dir: Path
    box: SecretBox
    db: Database
    repo: ServerRepository
    audit: AuditLog

    async def close(self) -> None:
        await self.db.close()


async def open_store(
    data_dir: Path, keys: str | None, *, box: SecretBox | None = None, fsync_every_commit: bool = False
) -> Store:
    """Open the database in `data_dir` with the configured keys (else the data dir's key file, made on first run)."""
    if box is None:
        box = SecretBox(await asyncio.to_thread(Keyring.load_or_create, keys, data_dir))
    db = await Database.open(data_dir / DATABASE_FILE, fsync_every_commit=fsync_every_commit)
    return Store(data_dir, box, db, ServerRepository(db, box), AuditLog(db))


def encryption_keys(settings: Settings) -> str | None:
    return settings.plugboard_encryption_keys.get_secret_value() if settings.plugboard_encryption_keys else None


def admin_service(store: Store) -> AdminService:
    """What the admin CLI uses: list, export, revoke (signalled to a running app through the data dir)."""
    return AdminService(store.db, store.repo, store.audit, RevocationSignals(store.data_dir))


@dataclass(frozen=True)
class CoreOverrides:
    """Pieces a harness supplies instead of what the settings and the policy file would give."""

    policy: Policy | None = None  # instead of reading PLUGBOARD_POLICY_FILE
    box: SecretBox | None = None  # instead of the configured keys or the data dir's key file
    local_launcher: Launcher | None = None  # instead of the sandbox (or trusted) launcher the policy asks for
    http_client_factory: HttpClientFactory | None = None  # instead of the egress guard's client for the policy
    url_check: UrlCheck | None = None  # instead of the URL policy's check
    timings: ActorTimings | None = None
    client_options: ClientOptions | None = None
    client_metadata_url: str | None = None  # a CIMD URL offered to authorization servers


@dataclass
class Core:
    """Everything below the Slack and web edge."""

    settings: Settings
    policy: Policy
    store: Store
    registry: ToolRegistry
    sessions: SessionManager
    mirror: ConfigMirror
    servers: ServerService
    tools: ToolService
    tool_policy: ToolPolicyService
    audit: AuditService
    flows: OAuthFlows
    connectors: ConnectorService
    imports: ConfigImportService
    # MCP servers' questions to their owners mid-call; the Slack edge binds its notifier (`notify_with`).
    elicitation: ElicitationService = field(default_factory=ElicitationService)
    # The assistant; it answers "not set up" until the settings name a model. The Slack edge binds its views.
    assistant: AssistantService | None = None

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    @property
    def db(self) -> Database:
        return self.store.db

    async def close(self) -> None:
        """Stop every server (no child survives) and close the database."""
        if self.assistant is not None:
            await self.assistant.close()
        await self.connectors.close()
        await self.sessions.close()
        await self.store.close()


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file {path}: {exc.strerror}") from None
    return parse_policy(text, source=f"policy file {path}")


async def build_core(settings: Settings, overrides: CoreOverrides | None = None) -> Core:
    given = overrides or CoreOverrides()
    policy = given.policy
    if policy is None:
        policy = await asyncio.to_thread(load_policy, settings.plugboard_policy_file)
    data_dir = settings.plugboard_data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = await open_store(
        data_dir, encryption_keys(settings), box=given.box, fsync_every_commit=settings.plugboard_db_fsync_every_commit
    )
    try:
        return await _build_on(store, settings, policy, given, data_dir)
    except BaseException:
        await store.close()  # a refused start-up (policy, sandbox) must not leave the database threads running
        raise


async def _build_on(store: Store, settings: Settings, policy: Policy, given: CoreOverrides, data_dir: Path) -> Core:
    db, repo, audit = store.db, store.repo, store.audit
    limits = policy.limits
    elicitation = ElicitationService()
    registry = ToolRegistry(description_limit=limits.description_chars)
    catalog = ToolCatalog(db)
    tool_states = ToolStateRepository(db)
    tool_policy = ToolPolicyService(
        db,
        repo,
        tool_states,
        registry,
        audit,
        Denylist(policy.tools.denylist),
        catalog=catalog,
        approval_modes=ApprovalModeRepository(db),
    )
    timings = given.timings or ActorTimings(
        connect_timeout=settings.plugboard_connect_timeout or limits.connect_timeout_seconds,
        request_timeout=settings.plugboard_request_timeout or limits.request_timeout_seconds,
        restart_backoff=settings.plugboard_restart_backoff,
        first_start_timeout=limits.first_start_timeout_seconds,
    )
    egress = egress_policy(policy)
    client_factory = given.http_client_factory or _client_factory(egress)
    url_check = given.url_check or _url_check(egress)
    if given.local_launcher is not None:
        local_launcher, sandbox_problem, home_quota_mb = given.local_launcher, None, None
    else:
        local_launcher, sandbox_problem, home_quota_mb = await _local_launcher(settings, policy, data_dir)
    flows = OAuthFlows(settings.public_url)
    credentials = SessionCredentials()  # bound to the connector service below, which needs the sessions first
    remote_launcher = RemoteLauncher(client_factory, credentials, describe_http_error=describe_egress_error)
    sessions = SessionManager(
        LauncherRouter(local_launcher, remote_launcher),
        registry,
        timings,
        max_live_per_owner=limits.live_servers_per_owner,
        max_live_total=limits.live_servers_total,
        tool_gate=tool_policy.evaluate,
        client_options=given.client_options or ClientOptions(elicitation_handler=elicitation.handle),
        idle_seconds=limits.idle_minutes * 60,
    )
    sandbox = local_launcher if isinstance(local_launcher, SandboxLauncher) else None
    local_gate = LocalGate(
        policy.local_servers,
        sandbox_problem,
        home_quota_mb=home_quota_mb,
        hidden_paths=sandbox.hidden_paths if sandbox is not None else None,
        command_problem=sandbox.command_problem if sandbox is not None else None,
    )
    gate = ServerGate(local_gate, url_check)
    mirror = ConfigMirror(data_dir)
    servers = ServerService(
        db,
        repo,
        audit,
        mirror,
        sessions,
        registry,
        gate,
        max_servers_per_owner=limits.servers_per_owner,
        catalog=catalog,
    )
    admin = AdminServers(
        await asyncio.to_thread(load_admin_servers, settings.plugboard_admin_servers_file),
        repo,
        offered=policy.admin_servers_for == "everyone",
    )
    tools = ToolService(
        repo,
        sessions,
        registry,
        audit,
        result_limit=limits.result_chars_slack,
        agent_result_limit=limits.result_chars_agent,
        admin=admin,
        catalog=catalog,
        tool_states=tool_states,
        start_wait=settings.plugboard_confirm_wait,
        starter=servers.ensure_started,  # a first use goes through the policy's checks, like any start
    )
    connectors = ConnectorService(
        servers,
        OAuthCredentialStore(db, store.box),
        flows,
        client_factory,
        url_check,
        client_metadata_url=given.client_metadata_url,
    )
    credentials.bind(connectors.session_auth, connectors.needs_sign_in)
    sessions.on_status(lambda record, status: _spawn(connectors.on_status(record, status)))
    imports = ConfigImportService(
        db, PendingBatchRepository(db, store.box), repo, servers, audit, max_servers_per_owner=limits.servers_per_owner
    )
    core = Core(
        settings,
        policy,
        store,
        registry,
        sessions,
        mirror,
        servers,
        tools,
        tool_policy,
        AuditService(audit, policy.admins),
        flows,
        connectors,
        imports,
        elicitation=elicitation,
    )
    core.assistant = build_assistant(settings, policy, store, tools, tool_policy, elicitation)
    return core


def model_config(settings: Settings) -> ModelConfig | None:
    """The assistant's model from the settings, or None when the admin has not configured one."""
    if not settings.llm_configured or settings.plugboard_llm_provider is None or settings.plugboard_llm_model is None:
        return None
    key = settings.plugboard_llm_api_key
    return ModelConfig(
        provider=settings.plugboard_llm_provider,
        model=settings.plugboard_llm_model,
        api_key=key.get_secret_value() if key is not None else "not-needed",  # local servers take any key
        base_url=settings.plugboard_llm_base_url,
        timeout_seconds=settings.plugboard_llm_timeout,
        max_tool_calls=settings.plugboard_llm_max_tool_calls,
    )


def build_assistant(
    settings: Settings,
    policy: Policy,
    store: Store,
    tools: ToolService,
    tool_policy: ToolPolicyService,
    elicitation: ElicitationService,
) -> AssistantService:
    config = model_config(settings)
    runner = (
        AgentRunner(
            config,
            instructions=ASSISTANT_INSTRUCTIONS,
            tokens=TokenCounter(config.model, cache_dir=store.data_dir / "tiktoken"),
        )
        if config is not None
        else None
    )
    modes = ApprovalModeRepository(store.db)  # the same table ToolPolicyService writes `/mcp ask` into
    return AssistantService(
        runner,
        ConversationRepository(store.db, store.box),
        ApprovalRepository(store.db),
        modes,
        tools,
        ConversationTools(tools, tool_policy, modes),
        policy.assistant,
        elicitation=elicitation,
    )


_background: set[asyncio.Task[None]] = set()


def _spawn(coroutine: Coroutine[Any, Any, None]) -> None:
    """Status callbacks are synchronous; the async follow-up runs as its own task, kept referenced."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


def egress_policy(policy: Policy) -> EgressPolicy:
    remote = policy.remote
    try:
        return EgressPolicy(
            allowed_hosts=remote.allowed_hosts,
            allow_http_loopback=remote.allow_http_loopback,
            allowed_ports=None if remote.allow_any_port else remote.allowed_ports,
        )
    except ValueError as exc:
        raise PolicyError(f"policy file has invalid settings: remote.allowed_hosts: {exc}") from None


def _url_check(egress: EgressPolicy) -> UrlCheck:
    def check(url: str) -> None:
        check_url(url, egress)  # raises UrlRefused (a ValueError) with the reason

    return check


def _client_factory(egress: EgressPolicy) -> HttpClientFactory:
    return guarded_client_factory(egress, max_response_bytes=SESSION_RESPONSE_CAP)


def describe_egress_error(exc: BaseException) -> str | None:
    """A request the egress guard refused will be refused again: say why, and stop retrying."""
    refused = find(exc, EgressRefused)
    if isinstance(refused, EgressRefused):
        return f"refused by Plugboard's network policy: {refused.reason}"
    return None


def protected_paths(settings: Settings, data_dir: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(folders, files) only the app may see: masked inside every sandbox, never listed in read_only_paths."""
    folders = {str(data_dir)}
    working_dir = Path.cwd().resolve()
    if working_dir != Path("/"):
        folders.add(str(working_dir))
    files = {str(working_dir / ".env")}
    for setting in (settings.plugboard_policy_file, settings.plugboard_admin_servers_file):
        if setting is not None:
            files.add(str(setting.resolve()))
    for path in files:  # the path as given and where it leads (a symlinked .env)
        files.add(os.path.realpath(path))
    # Only what exists can be mounted over; a file created later (a new .env) is masked from the next start-up.
    existing_folders = tuple(sorted(p for p in folders if os.path.isdir(p)))
    return existing_folders, tuple(sorted(p for p in files if os.path.isfile(p)))


async def _local_launcher(
    settings: Settings, policy: Policy, data_dir: Path
) -> tuple[Launcher, str | None, int | None]:
    """The launcher for local servers, why they cannot run here (or None), and the home quota when enforced."""
    folders = ServerFolders(data_dir)
    mode = policy.local_servers.mode
    if mode == "trusted":
        log.warning('local servers run WITHOUT a sandbox (policy local_servers.mode = "trusted")')
        return DirectLauncher(folders, settings.plugboard_child_path, admin_environment(os.environ)), None, None
    protected_folders, protected_files = await asyncio.to_thread(protected_paths, settings, data_dir)
    if problems := exposing_read_only_paths(
        policy.local_servers.read_only_paths, (*protected_folders, *protected_files)
    ):
        raise PolicyError(f"policy file {settings.plugboard_policy_file} has invalid settings: {problems[0]}")
    setup = await sandbox_launcher(
        data_dir,
        policy.local_servers,
        policy.limits,
        protected_folders=protected_folders,
        protected_files=protected_files,
        child_path=settings.plugboard_child_path,
        self_check=mode != "off",
    )
    return setup.launcher, setup.problem, setup.home_quota_mb
