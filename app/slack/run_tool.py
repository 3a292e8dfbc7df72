"""`/mcp run [server] [tool]`, the Run buttons and the form they open: a tool run with arguments from a modal
built from its input schema. The call goes through `ToolService.call` like `/mcp call` (ownership, policy, pins,
audit); the result goes to the person's DM, with a file when it is too long for a message.

Which tool a form or button means is looked up again in the clicker's own tools every time: a button's value
only names it (`server__tool`), and someone else's button names a tool of theirs, which the clicker does not have.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import NotRunnable, PlugboardError, ToolNotFound
from app.domain.names import split_exposed_tool_name
from app.domain.owner import Owner
from app.domain.registered_tool import RegisteredTool
from app.services.tool_service import ToolOutcome, ToolService
from app.slack import ids
from app.slack.blocks.plain import text_blocks
from app.slack.blocks.run_tool import (
    RESULT_SHOWN,
    failure_blocks,
    loading_modal,
    notice_modal,
    picker_modal,
    result_blocks,
    run_form,
)
from app.slack.blocks.tool_form import FormInputError, read_form, schema_digest
from app.slack.command_line import CommandRequest, parse_tool_reference
from app.slack.edge import Request, slack_handler
from app.slack.text import escape

log = logging.getLogger(__name__)

RUN_USAGE = "Usage: `/mcp run [<server>] [<tool>]` (or `<server>__<tool>`, as `/mcp tools` lists it)."
CHANGED_NOTE = "The tool's input changed since this form was opened: check the fields and run it again."


class RunTool:
    def __init__(self, tools: ToolService) -> None:
        self._tools = tools

    # -- opening the form -------------------------------------------------------------------------------

    async def command(self, req: CommandRequest) -> None:
        """`/mcp run server tool` opens the tool's form; `/mcp run [server]` a picker of the runnable tools."""
        named = parse_tool_reference(req.command.rest)
        words = req.command.words
        if (named is not None and named.rest) or (named is None and len(words) > 1):
            raise PlugboardError(RUN_USAGE)
        await req.ack()
        owner = req.owner

        async def view() -> dict[str, Any]:
            if named is not None:
                return run_form(await self._runnable(owner, named.server, named.tool))
            return picker_modal(await self._choices(owner, words[0] if words else None))

        await _open(req.client, req.body["trigger_id"], view)

    @slack_handler
    async def run_button(self, req: Request) -> None:
        """A Run button beside a tool (`/mcp tools`): the value names the tool, the clicker must have it."""
        await req.ack()
        named = split_exposed_tool_name(req.value)

        async def view() -> dict[str, Any]:
            if named is None:
                raise PlugboardError("That button does not name a tool. Try `/mcp tools`.")
            return run_form(await self._runnable(req.owner, *named))

        await _open(req.client, req.body["trigger_id"], view)

    @slack_handler
    async def open_picker(self, req: Request) -> None:
        """App Home's "Run a tool"."""
        await req.ack()

        async def view() -> dict[str, Any]:
            return picker_modal(await self._choices(req.owner, None))

        await _open(req.client, req.body["trigger_id"], view)

    @slack_handler
    async def picked(self, req: Request) -> None:
        """The picker's Next: the chosen tool's form replaces the picker."""
        state = req.view["state"]["values"].get(ids.RUN_PICKER_TOOL, {}).get("value", {})
        chosen = str((state.get("selected_option") or {}).get("value", ""))
        named = split_exposed_tool_name(chosen)
        try:
            if named is None:
                raise PlugboardError("Pick a tool.")
            tool = await self._runnable(req.owner, *named)
        except PlugboardError as exc:
            await req.ack(response_action="errors", errors={ids.RUN_PICKER_TOOL: str(exc)[:300]})
            return
        await req.ack(response_action="update", view=run_form(tool))

    # -- running ----------------------------------------------------------------------------------------

    @slack_handler
    async def submitted(self, req: Request) -> None:
        """The form's Run: check the input against the schema it was built from, then call and DM the result."""
        metadata = req.metadata
        server, tool_name = metadata.get("server", ""), metadata.get("tool", "")
        try:
            tool = await self._runnable(req.owner, server, tool_name)
        except PlugboardError as exc:
            await req.ack(response_action="update", view=notice_modal(str(exc)))
            return
        schema = tool.tool.input_schema
        if schema_digest(schema) != metadata.get("digest"):
            await req.ack(response_action="update", view=run_form(tool, note=CHANGED_NOTE))
            return
        try:
            arguments = read_form(schema, req.view["state"]["values"])
        except FormInputError as exc:
            await req.ack(response_action="errors", errors=exc.errors)
            return
        await req.ack()
        await self._run_and_report(req.client, req.owner, tool, arguments)

    async def _run_and_report(
        self, client: AsyncWebClient, owner: Owner, tool: RegisteredTool, arguments: dict[str, Any]
    ) -> None:
        dm = (await client.conversations_open(users=owner.user_id))["channel"]["id"]
        exposed = tool.exposed_name
        try:
            # The agent's (larger) cap: what does not fit a message still reaches the person, as a file.
            outcome = await self._tools.call(
                owner, tool.server_name, tool.tool.name, json.dumps(arguments), for_agent=True, via="run_form"
            )
        except PlugboardError as exc:
            await client.chat_postMessage(
                channel=dm, text=f"{exposed} did not run", blocks=failure_blocks(exposed, str(exc))
            )
            return
        await _post_result(client, dm, exposed, outcome)

    # -- which tools ------------------------------------------------------------------------------------

    async def _runnable(self, owner: Owner, server: str, tool_name: str) -> RegisteredTool:
        """The owner's own tool of that name, if its policy lets it be called; else the reason it cannot."""
        tool = next((t for t in await self._tools.tools_of(owner, server) if t.tool.name == tool_name), None)
        if tool is None:
            raise ToolNotFound(server, tool_name)
        if not tool.allowed:
            why = f" ({tool.reason})" if tool.reason else ""
            raise NotRunnable(
                f"`{tool.exposed_name}` is {tool.state}{why}, so it cannot be run. "
                f"`/mcp allow {tool.exposed_name}` lets you use it."
            )
        return tool

    async def _choices(self, owner: Owner, server: str | None) -> list[RegisteredTool]:
        if server is not None:
            tools = await self._tools.tools_of(owner, server)
            empty = f"`{server}` has no tools you can run right now. See `/mcp tools {server}`."
        else:
            tools = await self._tools.catalog(owner)
            empty = "None of your servers offers a tool you can run right now. See `/mcp tools`."
        runnable = [t for t in tools if t.allowed]
        if not runnable:
            raise PlugboardError(empty)
        return sorted(runnable, key=lambda t: (t.server_name, t.tool.name))


async def _post_result(client: AsyncWebClient, dm: str, exposed: str, outcome: ToolOutcome) -> None:
    attach = len(outcome.text) > RESULT_SHOWN
    text = f"{exposed} result" + (" (error)" if outcome.is_error else "")
    await client.chat_postMessage(
        channel=dm,
        text=text,
        blocks=result_blocks(exposed, outcome, attached=attach),
        unfurl_links=False,
        unfurl_media=False,
    )
    if not attach:
        return
    try:
        await client.files_upload_v2(
            channel=dm, filename=f"{exposed}-result.txt", content=outcome.text, title=f"{exposed} result"
        )
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response is not None else "error"
        message = f":x: Slack refused the file with the whole result (`{escape(str(error))}`)."
        await client.chat_postMessage(channel=dm, text=message, blocks=text_blocks(message))


async def _open(client: AsyncWebClient, trigger_id: str, build: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    """Open a modal at once (a trigger_id lasts 3 s; finding the tool may start its server), then show the form,
    or why there is none."""
    opened = await client.views_open(trigger_id=trigger_id, view=loading_modal())
    try:
        view = await build()
    except PlugboardError as exc:
        view = notice_modal(str(exc))
    await client.views_update(view_id=opened["view"]["id"], view=view)
