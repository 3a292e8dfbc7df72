"""`/mcp allow|deny` and the buttons that answer tool warnings (allow a risky tool, decide held tools)."""

from __future__ import annotations

from slack_bolt.context.respond.async_respond import AsyncRespond

from app.domain.errors import ConfirmationNeeded, UsageError
from app.domain.names import exposed_tool_name
from app.domain.owner import Owner
from app.services.tool_policy_service import PIN_SHOWN, ToolPolicyService
from app.slack.blocks.held_tools import parse_held_button_value
from app.slack.blocks.plain import section
from app.slack.blocks.tools import allow_prompt_blocks, allow_prompt_text
from app.slack.command_line import McpCommand, parse_tool_reference
from app.slack.edge import Request, reporting_errors, slack_handler
from app.slack.text import code, escape


class ToolCommands:
    def __init__(self, policy: ToolPolicyService) -> None:
        self._policy = policy

    async def allow(self, command: McpCommand, owner: Owner, respond: AsyncRespond) -> None:
        server, tool = _server_and_tool(command, "allow")
        try:
            await self._policy.allow(owner, server, tool, confirmed=False)
        except ConfirmationNeeded as exc:
            exposed = exposed_tool_name(server, tool)
            value = f"{server}:{tool}@{exc.pin[:PIN_SHOWN]}"
            await respond(
                text=allow_prompt_text(exposed),
                response_type="ephemeral",
                blocks=allow_prompt_blocks(str(exc), value),
            )
            return
        await respond(
            text=escape(f"Allowed {server}__{tool}"),
            response_type="ephemeral",
            blocks=[section(f":white_check_mark: {code(server + '__' + tool)} is allowed.")],
        )

    async def deny(self, command: McpCommand, owner: Owner, respond: AsyncRespond) -> None:
        server, tool = _server_and_tool(command, "deny")
        await self._policy.deny(owner, server, tool)
        await respond(
            text=escape(f"Denied {server}__{tool}"),
            response_type="ephemeral",
            blocks=[section(f":no_entry: {code(server + '__' + tool)} is denied; it cannot be called.")],
        )

    async def ask_first(self, command: McpCommand, owner: Owner, respond: AsyncRespond) -> None:
        server, tool = _server_and_tool(command, "ask")
        await self._policy.ask_first(owner, server, tool)
        await respond(
            text=escape(f"The assistant asks before calling {server}__{tool}"),
            response_type="ephemeral",
            blocks=[
                section(
                    f":raised_hand: The assistant will ask you before every call of {code(server + '__' + tool)}. "
                    f"`/mcp allow {server}__{tool}` stops the asking."
                )
            ],
        )

    # -- buttons -----------------------------------------------------------------------------

    @slack_handler
    async def confirm_allow(self, req: Request) -> None:
        await req.ack()
        server, _, rest = str(req.body["actions"][0].get("value", "")).partition(":")
        tool, _, pin = rest.partition("@")
        async with reporting_errors(req.reply, escaped=True):
            await self._policy.allow(req.owner, server, tool, confirmed=True, pin_shown=pin)
            await req.reply.send(
                escape(f"Allowed {server}__{tool}"),
                [section(f":white_check_mark: {code(server + '__' + tool)} is allowed (you confirmed).")],
            )

    @slack_handler
    async def approve_held(self, req: Request) -> None:
        await self._held(req, approve=True)

    @slack_handler
    async def keep_held(self, req: Request) -> None:
        await self._held(req, approve=False)

    async def _held(self, req: Request, *, approve: bool) -> None:
        await req.ack()
        server_id, shown = parse_held_button_value(str(req.body["actions"][0].get("value", "")))
        async with reporting_errors(req.reply, escaped=True):
            decided, skipped = await self._policy.decide_held(req.owner, server_id, shown, approve=approve)
            verb = "approved" if approve else "kept disabled"
            lines = [f"Tools {verb}: {', '.join(code(n) for n in decided) or 'none'}"]
            if skipped:
                lines.append(
                    f"Not changed (decided already, or changed again since this message; see `/mcp tools`): "
                    f"{', '.join(code(n) for n in skipped)}"
                )
            await req.reply.send(f"Tools {verb}", [section("\n".join(lines))])


def _server_and_tool(command: McpCommand, verb: str) -> tuple[str, str]:
    named = parse_tool_reference(command.rest)
    if named is None or named.rest:
        raise UsageError(
            f"Usage: `/mcp {verb} <server>__<tool>`, with the tool named as `/mcp tools` lists it "
            f"(`/mcp {verb} <server> <tool>` works too)."
        )
    return named.server, named.tool
