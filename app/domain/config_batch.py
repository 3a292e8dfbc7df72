"""What a whole config file would change for one owner, and the batch that waits for the owner's yes.

Merge adds new names and changes servers whose config (or on/off state) differs; Replace also removes the
owner's local servers the file leaves out. Remote entries are never part of a batch: they are offered as
prefilled `/mcp connect` flows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.domain.config_document import ConfigDocument, RemoteEntry, SecretInput, public_url
from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig, build_local_config
from app.domain.owner import Owner
from app.domain.placeholders import fill_inputs, input_ids, resolve_secrets
from app.domain.remote_config import RemoteServerConfig
from app.domain.server import PENDING_CHANGE_TTL_SECONDS, ServerRecord

Source = Literal["upload", "disk"]


class BatchItem(BaseModel):
    """One server the batch adds, changes (config and/or on/off) or removes."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["add", "edit", "remove"]
    name: str
    config: LocalServerConfig | None = None
    enabled: bool = True
    server_id: str | None = None
    base_version: int | None = None
    config_changed: bool = True

    @property
    def checked_by_policy(self) -> bool:
        """Everything but turning a server off must pass the admin policy (a stored config may run later)."""
        return self.config is not None and (self.kind == "add" or self.config_changed or self.enabled)


class RemoteOffer(BaseModel):
    """A remote entry of the file: `new`/`changed` get a Connect button, `unchanged` is listed, `name_taken` noted."""

    model_config = ConfigDict(frozen=True)

    name: str
    url: str
    transport: Literal["http", "sse"]
    header_names: tuple[str, ...] = ()
    url_trimmed: bool = False
    state: Literal["new", "changed", "unchanged", "name_taken"] = "new"


class InputRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    description: str
    password: bool
    options: tuple[str, ...] = ()


class ImportPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: tuple[BatchItem, ...] = ()
    removals: tuple[BatchItem, ...] = ()  # local servers the file leaves out
    unchanged: tuple[str, ...] = ()
    remote: tuple[RemoteOffer, ...] = ()
    inputs: tuple[InputRequest, ...] = ()  # VS Code inputs still to be typed in

    def changes(self, *, replace: bool) -> tuple[BatchItem, ...]:
        return self.items + (self.removals if replace else ())

    def nothing_to_change(self, *, replace: bool) -> bool:
        return not self.changes(replace=replace)


class PendingBatch(BaseModel):
    """A plan shown to its owner and not yet confirmed; nothing runs from it."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: Owner
    source: Source
    filename: str
    kind: str
    plan: ImportPlan
    created_at: float

    def expired(self, now: float) -> bool:
        return now - self.created_at > PENDING_CHANGE_TTL_SECONDS

    @property
    def always_replace(self) -> bool:
        """An edit of the mirror file states the whole config: what it leaves out is removed."""
        return self.source == "disk"


def plan_import(document: ConfigDocument, current: list[ServerRecord]) -> ImportPlan:
    """Compare the file with the owner's servers; raise InvalidConfig for anything that cannot be applied."""
    by_name = {r.name: r for r in current}
    declared = {i.id: i for i in document.inputs}
    items: list[BatchItem] = []
    unchanged: list[str] = []
    wanted_inputs: dict[str, SecretInput] = {}
    for entry in document.local:
        where = f"`{entry.name}`"
        record = by_name.get(entry.name)
        if record is not None and not isinstance(record.config, LocalServerConfig):
            raise InvalidConfig.single("json", f"{where} is a remote server of yours; give the local one another name.")
        stored = record.config.env if record is not None and isinstance(record.config, LocalServerConfig) else {}
        env = resolve_secrets(entry.config.env, stored, where=where)
        for ident in {i for value in env.values() for i in input_ids(value)}:
            if ident not in declared:
                raise InvalidConfig.single("json", f"{where}: `${{input:{ident[:64]}}}` is used but not in `inputs`.")
            wanted_inputs[ident] = declared[ident]
        config = _rebuilt(entry.config, env, where)
        enabled = not entry.disabled
        if record is None:
            items.append(BatchItem(kind="add", name=entry.name, config=config, enabled=enabled))
        elif config.runtime_differs_from(record.config) or record.enabled != enabled:
            items.append(_edit(record, config, enabled))
        else:
            unchanged.append(entry.name)
    local_names = {e.name for e in document.local}
    # A file of remote servers only (e.g. a downloaded mcp_remote.json) says nothing about local ones.
    speaks_for_local = bool(document.local) or not document.remote
    removals = tuple(
        BatchItem(kind="remove", name=r.name, server_id=r.id, base_version=r.version)
        for r in sorted(current, key=lambda r: r.name)
        if speaks_for_local and isinstance(r.config, LocalServerConfig) and r.name not in local_names
    )
    remote = tuple(_offer(entry, by_name.get(entry.name)) for entry in document.remote)
    unchanged += [o.name for o in remote if o.state == "unchanged"]
    inputs = tuple(
        InputRequest(id=i.id, description=i.description, password=i.password, options=i.options)
        for i in wanted_inputs.values()
    )
    return ImportPlan(items=tuple(items), removals=removals, unchanged=tuple(unchanged), remote=remote, inputs=inputs)


def with_inputs(plan: ImportPlan, values: dict[str, str], current: list[ServerRecord]) -> ImportPlan:
    """The plan with every `${input:id}` filled in; items that turn out to change nothing become unchanged."""
    missing = [i.id for i in plan.inputs if not values.get(i.id)]
    if missing:
        raise InvalidConfig.single("inputs", f"fill in {missing[0]}")
    by_id = {r.id: r for r in current}
    items: list[BatchItem] = []
    unchanged = list(plan.unchanged)
    for item in plan.items:
        if item.config is None:
            items.append(item)
            continue
        config = _rebuilt(item.config, fill_inputs(item.config.env, values), f"`{item.name}`")
        record = by_id.get(item.server_id or "")
        if record is not None and not config.runtime_differs_from(record.config) and record.enabled == item.enabled:
            unchanged.append(item.name)
            continue
        if record is not None:
            items.append(_edit(record, config, item.enabled).model_copy(update={"base_version": item.base_version}))
        else:
            items.append(item.model_copy(update={"config": config}))
    return plan.model_copy(update={"items": tuple(items), "unchanged": tuple(unchanged), "inputs": ()})


def _edit(record: ServerRecord, config: LocalServerConfig, enabled: bool) -> BatchItem:
    return BatchItem(
        kind="edit",
        name=record.name,
        config=config,
        enabled=enabled,
        server_id=record.id,
        base_version=record.version,
        config_changed=config.runtime_differs_from(record.config),
    )


def _rebuilt(config: LocalServerConfig, env: dict[str, str], where: str) -> LocalServerConfig:
    try:
        return build_local_config(
            command=config.command,
            args=config.args,
            env=env,
            cwd=config.cwd,
            offline=config.offline,
            network=config.network,
        )
    except InvalidConfig as exc:
        field, message = next(iter(exc.problems.items()))
        raise InvalidConfig.single("json", f"{where}: {field}: {message}") from None


def _offer(entry: RemoteEntry, record: ServerRecord | None) -> RemoteOffer:
    state: Literal["new", "changed", "unchanged", "name_taken"] = "new"
    if record is not None:
        if not isinstance(record.config, RemoteServerConfig):
            state = "name_taken"
        elif _same_url(record.config.url, entry.url):
            state = "unchanged"
        else:
            state = "changed"
    return RemoteOffer(
        name=entry.name,
        url=entry.url,
        transport=entry.transport,
        header_names=entry.header_names,
        url_trimmed=entry.url_trimmed,
        state=state,
    )


def _same_url(stored: str, public: str) -> bool:
    try:
        return public_url(stored)[0] == public
    except ValueError:
        return False
