"""`/mcp download`: the owner's config as files in their DM (placeholders instead of secrets).

Files go through `files_upload_v2` to the DM channel (`D…`) from `conversations.open`: Slack refuses a user id
as the upload channel.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from app.services.config_import import ConfigImportService
from app.slack.blocks.plain import text_blocks
from app.slack.command_line import CommandRequest

COMMENT = (
    "Your Plugboard MCP config. Secrets are not in it: each shows as `${secret:NAME}`, which keeps the stored "
    "value when you upload the file again with `/mcp upload`."
)


class ConfigDownload:
    def __init__(self, imports: ConfigImportService) -> None:
        self._imports = imports

    async def download(self, req: CommandRequest) -> None:
        await req.ack()
        files = await self._imports.export(req.owner)
        if not files:
            text = "You have no servers yet, so there is nothing to download. `/mcp add` or `/mcp upload` adds some."
            await req.respond(text=text, blocks=text_blocks(text), response_type="ephemeral")
            return
        try:
            dm = await req.client.conversations_open(users=req.owner.user_id)
            await req.client.files_upload_v2(
                channel=dm["channel"]["id"],
                file_uploads=[{"filename": f.filename, "content": f.text, "title": f.filename} for f in files],
                initial_comment=COMMENT,
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "error") if exc.response is not None else "error"
            text = f":x: Slack refused to send the files to your DM (`{error}`); an admin may need to add scopes."
            await req.respond(text=text, blocks=text_blocks(text), response_type="ephemeral")
            return
        names = " and ".join(f"`{f.filename}`" for f in files)
        text = f":inbox_tray: Sent {names} to your DM with Plugboard."
        await req.respond(text=text, blocks=text_blocks(text), response_type="ephemeral")
