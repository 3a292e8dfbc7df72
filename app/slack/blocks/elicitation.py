"""A server's question to its owner (MCP elicitation): the message with its buttons, what it becomes once
settled, and the modal that asks (built by the same renderer as the Run-tool form)."""

from __future__ import annotations

import json
from typing import Any

from app.services.elicitation_service import ElicitationRequest, Outcome
from app.slack import ids
from app.slack.blocks.plain import button, context, section
from app.slack.blocks.tool_form import TITLE_MAX, tool_form
from app.slack.text import code, escape, escaped_chunks, truncate

MESSAGE_SHOWN = 2000
BUTTON_URL_MAX = 3000


def _quote(message: str) -> str:
    text = escape(truncate(message.strip(), MESSAGE_SHOWN)) or "_(no message)_"
    return "\n".join("> " + line for line in text.splitlines() or [""])


def _url_sections(url: str) -> list[dict[str, Any]]:
    """The whole URL as code: MCP requires showing it in full, so a long one spans several sections."""
    return [section("```" + piece + "```") for piece in escaped_chunks(url.replace("`", "%60"), 2900)]


def question_text(request: ElicitationRequest) -> str:
    if request.url is not None:
        return f"{request.server_name} wants you to open a link ({request.host})"
    return f"{request.server_name} is asking you something"


def question_blocks(request: ElicitationRequest, minutes: int) -> list[dict[str, Any]]:
    server = code(request.server_name)
    if request.url is not None:
        blocks = [
            section(f":warning: {server} wants you to open a link outside Slack, on *{escape(request.host)}*."),
            section(_quote(request.message)),
            section("The full address:"),
            *_url_sections(request.url),
            context(
                "Only continue if you trust this server and expected this. Plugboard has not opened or checked "
                "the link; *Show the link* gives it to you to open yourself."
            ),
        ]
        buttons = [
            button(ids.ELICIT_OPEN_LINK, "Show the link", request.id, style="primary"),
            button(ids.ELICIT_DECLINE, "Decline", request.id),
        ]
    else:
        blocks = [
            section(f":raising_hand: {server} asks you for input, for a tool call you started:"),
            section(_quote(request.message)),
        ]
        buttons = [
            button(ids.ELICIT_OPEN, "Provide input", request.id, style="primary"),
            button(ids.ELICIT_DECLINE, "Decline", request.id),
        ]
    blocks.append({"type": "actions", "block_id": "elicitation", "elements": buttons})
    blocks.append(
        context(f"Only <@{request.owner.user_id}> can answer. Waits {minutes} min, then the call is cancelled.")
    )
    return blocks


_SETTLED = {
    "accepted": ":white_check_mark: You answered {server}.",
    "declined": ":no_entry_sign: You declined {server}'s request.",
    "expired": ":hourglass: No answer in time: {server} was told the request was cancelled.",
    "withdrawn": "{server} no longer needs an answer.",
}


def settled_blocks(request: ElicitationRequest, outcome: Outcome) -> list[dict[str, Any]]:
    blocks = [section(_SETTLED[outcome].format(server=code(request.server_name))), context(_quote(request.message))]
    if outcome == "accepted" and request.url is not None:
        blocks = [section(f":link: The link from {code(request.server_name)}, on *{escape(request.host)}*:")]
        blocks += _url_sections(request.url)
        if len(request.url) <= BUTTON_URL_MAX:
            link = button(ids.ELICIT_LINK, f"Open {truncate(request.host, 60)}", request.id)
            link["url"] = request.url
            blocks.append({"type": "actions", "block_id": "elicitation_link", "elements": [link]})
    return blocks


def elicitation_form(request: ElicitationRequest) -> dict[str, Any]:
    assert request.schema is not None
    intro = [section(f":raising_hand: {code(request.server_name)} asks:\n{_quote(request.message)}")]
    return tool_form(
        request.schema,
        title=truncate(f"Answer {request.server_name}", TITLE_MAX),
        callback_id=ids.ELICIT_FORM_MODAL,
        private_metadata=json.dumps({"elicitation": request.id}),
        intro=intro,
        submit="Send",
    )


def gone_modal(message: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Request closed"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(escape(message))],
    }
