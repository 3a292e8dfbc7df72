"""`/mcp upload`: a modal with a file input -> read the file from Slack -> review message -> (secrets modal).

The review message carries the decision buttons handled in `batch_decisions.py`. Reading and parsing happen
after the modal is acknowledged (3-second rule); whatever goes wrong is said in the conversation, and nothing
changes.
"""

from __future__ import annotations

from typing import Any

from app.domain.config_document import MAX_FILE_BYTES, decode_config_file, parse_config_document
from app.domain.errors import PlugboardError
from app.services.config_import import ConfigImportService
from app.slack import ids
from app.slack.blocks.config_review import read_secrets, secrets_modal, upload_modal
from app.slack.command_line import CommandRequest
from app.slack.edge import Request, reporting_errors, slack_handler
from app.slack.file_fetch import SlackFiles, too_large
from app.slack.review_message import problem_text, send_refusal, send_review


class UploadFlow:
    def __init__(self, imports: ConfigImportService) -> None:
        self._imports = imports

    async def open(self, req: CommandRequest) -> None:
        await req.ack()
        view = upload_modal({"response_url": req.body.get("response_url", "")})
        await req.client.views_open(trigger_id=req.body["trigger_id"], view=view)

    @slack_handler
    async def submitted(self, req: Request) -> None:
        ack, owner, client = req.ack, req.owner, req.client
        state = req.view["state"]["values"].get(ids.UPLOAD_FILE, {}).get(ids.VALUE, {})
        files = state.get("files") or []
        if len(files) != 1 or not isinstance(files[0], dict):
            await ack(response_action="errors", errors={ids.UPLOAD_FILE: "Choose one JSON config file."})
            return
        chosen: dict[str, Any] = files[0]
        name = str(chosen.get("name") or "file")[:200]
        size = chosen.get("size")
        if isinstance(size, int) and size > MAX_FILE_BYTES:  # said at once, before any download
            await ack(response_action="errors", errors={ids.UPLOAD_FILE: too_large(name, size, MAX_FILE_BYTES)})
            return
        await ack()
        reply = req.reply
        try:
            name, content = await SlackFiles(client, max_bytes=MAX_FILE_BYTES).read(str(chosen.get("id", "")))
            document = parse_config_document(decode_config_file(content))
            review = await self._imports.propose(owner, document, source="upload", filename=name)
        except PlugboardError as exc:
            await send_refusal(reply, name, exc, replace=False)
            return
        await send_review(reply, review, replace=False)

    @slack_handler
    async def enter_secrets(self, req: Request) -> None:
        """The review's *Enter secrets…* button: a modal with one field per VS Code input."""
        await req.ack()
        batch_id = str(req.body["actions"][0].get("value", ""))
        async with reporting_errors(req.reply, replace=False):
            review = await self._imports.review(req.owner, batch_id)
            metadata = {"batch": batch_id, "response_url": req.body.get("response_url") or ""}
            view = secrets_modal(review.plan.inputs, metadata)
            await req.client.views_open(trigger_id=req.body["trigger_id"], view=view)

    @slack_handler
    async def secrets_submitted(self, req: Request) -> None:
        ack, owner = req.ack, req.owner
        batch_id = req.metadata.get("batch", "")
        try:
            inputs = (await self._imports.review(owner, batch_id)).plan.inputs
            values = read_secrets(req.view["state"]["values"], inputs)
            empty = [index for index, item in enumerate(inputs) if not values[item.id]]
            if empty:
                await ack(response_action="errors", errors={f"input_{i}": "Enter a value." for i in empty})
                return
            review = await self._imports.fill_inputs(owner, batch_id, values)
        except PlugboardError as exc:  # shown on the first field: the modal has at least one
            await ack(response_action="errors", errors={"input_0": problem_text(exc)[:2000]})
            return
        await ack()
        await send_review(req.reply, review)
