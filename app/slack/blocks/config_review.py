"""Block Kit for whole config files: the upload modal, the review of what a file changes, the secrets modal."""

from __future__ import annotations

import json
from typing import Any

from app.domain.config_batch import BatchItem, InputRequest, RemoteOffer
from app.services.config_import import BatchReview
from app.services.local_gate import RunConditions
from app.slack import ids
from app.slack.blocks.confirmation import WARNING, conditions_text
from app.slack.blocks.plain import button
from app.slack.text import clean, code, escape, escaped_chunks

_SECTION_LIMIT = 2900
MAX_MESSAGE_BLOCKS = 50
MAX_MESSAGE_CHARS = 12_000  # Slack refuses messages whose blocks hold much more (msg_blocks_too_long)
MAX_LISTED = 40
TOO_BIG = (
    "This file changes too much to review in one Slack message: split it into smaller files (fewer servers or "
    "shorter command lines). Nothing was changed."
)


def upload_modal(metadata: dict[str, str]) -> dict[str, Any]:
    intro = (
        "Upload `claude_desktop_config.json` (Claude Desktop), `mcp.json` (VS Code or a Plugboard download) or "
        "`.mcp.json` (Claude Code). You will see what it would add, change and remove before anything runs. "
        "Secrets in it are stored encrypted and never shown again."
    )
    return {
        "type": "modal",
        "callback_id": ids.UPLOAD_MODAL,
        "title": {"type": "plain_text", "text": "Upload MCP config"},
        "submit": {"type": "plain_text", "text": "Review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": [
            _section(intro),
            {
                "type": "input",
                "block_id": ids.UPLOAD_FILE,
                "label": {"type": "plain_text", "text": "Config file (JSON)"},
                "element": {"type": "file_input", "action_id": ids.VALUE, "filetypes": ["json"], "max_files": 1},
            },
        ],
    }


def review_text(review: BatchReview) -> str:
    plan = review.plan
    if review.batch is None:
        return f"Nothing to change from {review.filename}."
    return (
        f"Review {review.filename}: {sum(i.kind == 'add' for i in plan.items)} to add, "
        f"{sum(i.kind == 'edit' for i in plan.items)} to change, {len(plan.removals)} not in the file."
    )


def review_blocks(review: BatchReview) -> list[dict[str, Any]]:
    plan, batch = review.plan, review.batch
    blocks: list[dict[str, Any]] = [_header(f"Review {clean(review.filename)}"), _section(_intro(review))]
    shared = _shared_conditions(review)
    for item in plan.items:
        blocks += _item_blocks(item, review.conditions.get(item.name), shared=shared is not None)
    if plan.removals:
        names = _names([r.name for r in plan.removals])
        if review.source == "disk":
            blocks.append(_section(f":wastebasket: *Remove* (their processes stop): {names}"))
        else:
            blocks.append(_section(f"*Not in the file* (kept with *Merge*, removed with *Replace*): {names}"))
    if plan.unchanged:
        blocks.append(_context(f"Unchanged: {_names(list(plan.unchanged))}"))
    blocks += [_remote_block(offer) for offer in plan.remote if offer.state != "unchanged"]
    if batch is None:
        blocks.append(_section(":white_check_mark: *Nothing to change*: your servers already match this file."))
        return blocks
    if plan.inputs:
        blocks.append(_section(_inputs_text(plan.inputs)))
    if any(item.config is not None and item.enabled for item in plan.items):
        blocks.append(_section((conditions_text(shared) + "\n" if shared else "") + WARNING))
    blocks.append(_decision(review))
    return blocks


def fits_in_a_message(blocks: list[dict[str, Any]]) -> bool:
    text = sum(len(t) for block in blocks for t in _texts(block))
    return len(blocks) <= MAX_MESSAGE_BLOCKS and text <= MAX_MESSAGE_CHARS


def review_fits_in_a_message(review: BatchReview) -> bool:
    """What ConfigImportService is told can be shown (it discards a batch whose review cannot)."""
    return fits_in_a_message(review_blocks(review))


def too_big_blocks() -> list[dict[str, Any]]:
    return [_section(f":x: {TOO_BIG}")]


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["text"]] if isinstance(node.get("text"), str) else [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


def secrets_modal(inputs: tuple[InputRequest, ...], metadata: dict[str, str]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        _section(
            "The file asks for these values. They are stored encrypted, used where the file says "
            "`${input:…}`, and never shown again."
        )
    ]
    for index, item in enumerate(inputs):
        hint = f"${{input:{item.id}}}" + (f" — one of: {', '.join(item.options)}" if item.options else "")
        blocks.append(
            {
                "type": "input",
                "block_id": f"input_{index}",
                "label": {"type": "plain_text", "text": clean(item.description or item.id)[:2000] or item.id},
                "hint": {"type": "plain_text", "text": hint[:2000]},
                "element": {"type": "plain_text_input", "action_id": ids.VALUE, "max_length": 3000},
            }
        )
    return {
        "type": "modal",
        "callback_id": ids.SECRETS_MODAL,
        "title": {"type": "plain_text", "text": "Enter secrets"},
        "submit": {"type": "plain_text", "text": "Review"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def read_secrets(values: dict[str, dict[str, dict[str, Any]]], inputs: tuple[InputRequest, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, item in enumerate(inputs):
        raw = values.get(f"input_{index}", {}).get(ids.VALUE, {}).get("value")
        found[item.id] = raw.strip() if isinstance(raw, str) else ""
    return found


def _intro(review: BatchReview) -> str:
    if review.source == "disk":
        return (
            f"You edited {code(review.filename)} on the Plugboard host. Nothing changes until you confirm; "
            "*Discard* puts the file back as it runs now."
        )
    return f"From {code(review.filename)}, a {escape(review.kind)}. Nothing runs until you confirm."


def _shared_conditions(review: BatchReview) -> RunConditions | None:
    """How every server of the file runs, when that is the same for all (said once instead of per server)."""
    ways = {
        (c.sandboxed, c.network, c.allow_networks, c.home_quota_mb) for c in review.conditions.values() if c is not None
    }
    if len(ways) != 1:
        return None
    sandboxed, network, allow_networks, home_quota_mb = ways.pop()
    return RunConditions(
        sandboxed=sandboxed, network=network, flags=(), allow_networks=allow_networks, home_quota_mb=home_quota_mb
    )


def _item_blocks(item: BatchItem, conditions: RunConditions | None, *, shared: bool) -> list[dict[str, Any]]:
    config = item.config
    if config is None:
        return []
    name = code(item.name)
    if item.kind == "edit" and not item.config_changed:
        if not item.enabled:
            return [_section(f":double_vertical_bar: *Disable* {name}: it stops; its config is kept.")]
        title = f"*Enable* {name} — exact command line:"
    elif item.kind == "add":
        off = " _(imported disabled: it will not start)_" if not item.enabled else ""
        title = f":heavy_plus_sign: *Add* {name}{off} — exact command line:"
    else:
        off = " _(and disable it)_" if not item.enabled else ""
        title = f":pencil2: *Change* {name}{off} — new exact command line:"
    env = ", ".join(f"{code(key)}=••••••" for key in config.env) or "_none_"
    cwd = code(config.cwd) if config.cwd else "_private folder_"
    parts = [title]
    parts += ["```" + piece + "```" for piece in escaped_chunks(config.command_line(), _SECTION_LIMIT - 10)]
    parts.append(f"*Environment:* {env}\n*Working directory:* {cwd}")
    if conditions is not None and shared:
        parts += [f":warning: {escape(flag)}" for flag in conditions.flags]
    elif conditions is not None:
        parts.append(conditions_text(conditions))
    return [_section(text) for text in _packed(parts)]


def _remote_block(offer: RemoteOffer) -> dict[str, Any]:
    notes = []
    if offer.header_names:
        notes.append(f"headers {', '.join(code(h) for h in offer.header_names[:5])} are not copied: enter them there")
    if offer.url_trimmed:
        notes.append("the part of the URL after `?` (or a user:password) was left out, as it may hold a key")
    text = f":globe_with_meridians: *Remote* {code(offer.name)} — add it with `/mcp connect`: {code(offer.url)}"
    if offer.state == "name_taken":
        notes.append("you already have a local server of this name; connect it under another name")
    if notes:
        text += "\n_" + "; ".join(notes) + "._"
    block = _section(text[:3000])
    value = json.dumps({"name": offer.name, "url": offer.url, "transport": offer.transport})
    if offer.state != "name_taken" and len(value) <= 2000:
        block["accessory"] = {
            "type": "button",
            "action_id": ids.CONNECT_PREFILLED,
            "value": value,
            "text": {"type": "plain_text", "text": f"Connect {offer.name}"[:75]},
        }
    return block


def _inputs_text(inputs: tuple[InputRequest, ...]) -> str:
    lines = [f"• {code(i.id)}" + (f" — {escape(i.description[:200])}" if i.description else "") for i in inputs]
    return (":key: *Secrets to enter first* (VS Code `inputs`; you type them in a private form):\n" + "\n".join(lines))[
        :3000
    ]


def _decision(review: BatchReview) -> dict[str, Any]:
    batch = review.batch
    assert batch is not None
    plan = batch.plan
    elements: list[dict[str, Any]] = []
    if plan.inputs:
        elements.append(button(ids.ENTER_SECRETS, "Enter secrets…", batch.id, style="primary"))
    elif review.source == "disk":
        elements.append(button(ids.CONFIRM_BATCH, "Confirm", f"replace:{batch.id}", style="primary"))
    else:
        if plan.items:
            elements.append(button(ids.CONFIRM_BATCH, "Confirm — merge", f"merge:{batch.id}", style="primary"))
        if plan.removals:
            replace = button(ids.REPLACE_BATCH, "Confirm — replace", f"replace:{batch.id}", style="danger")
            replace["confirm"] = {
                "title": {"type": "plain_text", "text": "Replace your config?"},
                "text": {"type": "plain_text", "text": f"This removes {_plain_names(plan.removals)}."[:300]},
                "confirm": {"type": "plain_text", "text": "Replace"},
                "deny": {"type": "plain_text", "text": "Back"},
                "style": "danger",
            }
            elements.append(replace)
    cancel = "Discard" if review.source == "disk" else "Cancel"
    elements.append(button(ids.CANCEL_BATCH, cancel, batch.id))
    return {"type": "actions", "block_id": "batch_decision", "elements": elements}


def _packed(parts: list[str]) -> list[str]:
    """Join parts into as few section texts as fit; a part is never split (each is already short enough)."""
    texts: list[str] = []
    for part in parts:
        if texts and len(texts[-1]) + 1 + len(part) <= _SECTION_LIMIT:
            texts[-1] += "\n" + part
        else:
            texts.append(part[:3000])
    return texts


def _names(names: list[str]) -> str:
    shown = ", ".join(code(n) for n in names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def _plain_names(items: tuple[BatchItem, ...]) -> str:
    names = [i.name for i in items]
    return f"{len(names)} server(s) not in the file: " + ", ".join(names)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}
