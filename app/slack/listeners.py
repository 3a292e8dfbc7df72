"""Wire listeners onto the Bolt app: one line each, handlers are bound methods of small classes."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from app.services.assistant_service import AssistantService
from app.services.audit_service import AuditService
from app.services.config_import import ConfigImportService
from app.services.connector_service import ConnectorService
from app.services.elicitation_service import ElicitationService
from app.services.server_service import ServerService
from app.services.tool_policy_service import ToolPolicyService
from app.services.tool_service import ToolService
from app.slack import ids
from app.slack.actions import ServerActions
from app.slack.assistant_listeners import register_assistant
from app.slack.audit_command import AuditCommand
from app.slack.batch_decisions import BatchDecisions
from app.slack.commands import McpCommands
from app.slack.confirm_flow import ConfirmFlow
from app.slack.connect import ConnectFlow
from app.slack.download import ConfigDownload
from app.slack.elicitation import ElicitationAnswers
from app.slack.home import HomeTab
from app.slack.run_tool import RunTool
from app.slack.submissions import ServerSubmissions
from app.slack.tool_commands import ToolCommands
from app.slack.upload import UploadFlow

log = logging.getLogger(__name__)


def register_listeners(
    app: AsyncApp,
    servers: ServerService,
    tools: ToolService,
    tool_policy: ToolPolicyService,
    audit: AuditService,
    connectors: ConnectorService,
    imports: ConfigImportService,
    *,
    settle_timeout: float,
    elicitation: ElicitationService | None = None,
    assistant: AssistantService | None = None,
    assistant_unavailable: str | None = None,
) -> None:
    """Bolt tries listeners in order and runs the first that matches, calling every matcher before it: `/mcp`
    (the hot path, every tool call) comes first, then the assistant's (before App Home's: see
    `register_assistant`)."""
    confirm = ConfirmFlow(servers, connectors, settle_timeout)
    connect = ConnectFlow(servers, connectors)
    home = HomeTab(servers, tools, audit, assistant_unavailable=assistant_unavailable)
    tool_commands = ToolCommands(tool_policy)
    upload = UploadFlow(imports)
    decisions = BatchDecisions(imports, confirm)
    audit_command = AuditCommand(audit)
    run_tool = RunTool(tools)
    answers = ElicitationAnswers(elicitation or ElicitationService())
    commands = McpCommands(
        servers,
        tools,
        confirm,
        tool_commands,
        connect,
        upload,
        ConfigDownload(imports),
        audit_command,
        run_tool.command,
    )
    submissions = ServerSubmissions(servers)
    actions = ServerActions(servers, confirm, home, connect)

    app.command("/mcp")(commands.handle)
    if assistant is not None:
        register_assistant(app, assistant)
    app.action(ids.RUN_TOOL)(run_tool.run_button)
    app.action(ids.RUN_OPEN_PICKER)(run_tool.open_picker)
    app.view(ids.RUN_PICKER_MODAL)(run_tool.picked)
    app.view(ids.RUN_FORM_MODAL)(run_tool.submitted)
    app.action(ids.ELICIT_OPEN)(answers.open_form)
    app.action(ids.ELICIT_DECLINE)(answers.decline)
    app.action(ids.ELICIT_OPEN_LINK)(answers.open_link)
    app.action(ids.ELICIT_LINK)(answers.link_clicked)
    app.view(ids.ELICIT_FORM_MODAL)(answers.submitted)
    app.view(ids.ADD_MODAL)(submissions.add)
    app.view(ids.EDIT_MODAL)(submissions.edit)
    app.action(ids.CONFIRM_CHANGE)(actions.confirm_change)
    app.action(ids.CANCEL_CHANGE)(actions.cancel_change)
    app.action(ids.USE_WORKSPACE)(actions.use_workspace)
    app.action(ids.SERVER_MENU)(actions.server_menu)
    app.action(ids.FIX_SERVER)(actions.server_menu)
    app.action(ids.CONFIRM_REMOVE)(actions.confirm_remove)
    app.action(ids.CANCEL_REMOVE)(actions.cancel_remove)
    app.action(ids.OPEN_ADD_MODAL)(actions.open_add_modal)
    app.action(ids.OPEN_CONNECT_MODAL)(actions.open_connect_modal)
    app.action(ids.OPEN_HELP)(home.open_help)
    app.action(ids.CONFIRM_ALLOW_TOOL)(tool_commands.confirm_allow)
    app.action(ids.APPROVE_HELD)(tool_commands.approve_held)
    app.action(ids.KEEP_HELD)(tool_commands.keep_held)
    app.view(ids.CONNECT_MODAL)(connect.submitted)
    app.action(ids.CONNECT_PREFILLED)(connect.prefilled)
    app.action(ids.RECONNECT)(connect.reconnect)
    app.action(ids.SIGN_IN_LINK)(connect.link_clicked)
    app.view(ids.UPLOAD_MODAL)(upload.submitted)
    app.view(ids.SECRETS_MODAL)(upload.secrets_submitted)
    app.action(ids.ENTER_SECRETS)(upload.enter_secrets)
    app.action(ids.CONFIRM_BATCH)(decisions.confirm)
    app.action(ids.REPLACE_BATCH)(decisions.confirm)
    app.action(ids.CANCEL_BATCH)(decisions.cancel)
    app.event("app_home_opened")(home.opened)
    app.error(_on_error)


async def _on_error(error: Exception, body: dict[str, Any]) -> None:
    # boundary: anything a listener did not handle; logged without the payload (it may carry user input)
    log.error("unhandled error in a Slack listener: %s", type(error).__name__, exc_info=error)
