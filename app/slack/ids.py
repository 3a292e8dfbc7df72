"""callback_id / action_id / block_id values shared by builders and listeners."""

ADD_MODAL = "server_add"
EDIT_MODAL = "server_edit"

CONFIRM_CHANGE = "change_confirm"
CANCEL_CHANGE = "change_cancel"
USE_WORKSPACE = "change_use_workspace"
SERVER_MENU = "server_menu"
CONFIRM_REMOVE = "remove_confirm"
CANCEL_REMOVE = "remove_cancel"
OPEN_ADD_MODAL = "open_add_modal"
OPEN_CONNECT_MODAL = "open_connect_modal"
OPEN_HELP = "open_help"
HELP_MODAL = "help"
FIX_SERVER = "server_fix"  # a button under a failed report: same values as SERVER_MENU (`edit:<id>`, …)

# input blocks of the server form: block_id == field name so InvalidConfig problems map onto them
FIELD_NAME = "name"
FIELD_COMMAND = "command"
FIELD_ARGS = "args"
FIELD_ENV = "env"
FIELD_CWD = "cwd"
VALUE = "value"

APPROVE_HELD = "held_approve"
KEEP_HELD = "held_keep"
CONFIRM_ALLOW_TOOL = "tool_allow_confirm"

CONNECT_MODAL = "server_connect"
CONNECT_PREFILLED = "connect_prefilled"
RECONNECT = "server_reconnect"
SIGN_IN_LINK = "oauth_sign_in_link"
FIELD_URL = "url"
FIELD_TRANSPORT = "transport"
FIELD_AUTH = "auth"
FIELD_API_HEADER = "api_header"
FIELD_API_VALUE = "api_value"
FIELD_CLIENT_ID = "oauth_client_id"
FIELD_CLIENT_SECRET = "oauth_client_secret"
FIELD_SCOPES = "oauth_scopes"

# config files: /mcp upload, on-disk edits, pending whole-file changes
UPLOAD_MODAL = "config_upload"
UPLOAD_FILE = "config_file"
SECRETS_MODAL = "config_secrets"
ENTER_SECRETS = "batch_secrets"
CONFIRM_BATCH = "batch_confirm"
REPLACE_BATCH = "batch_replace"
CANCEL_BATCH = "batch_cancel"

# the assistant: approvals in the thread, Retry under a failed answer, the thread's server selection
APPROVE_CALL_ONCE = "assistant_approve_once"
APPROVE_CALL_ALWAYS = "assistant_approve_always"
DENY_CALL = "assistant_deny"
RETRY_TURN = "assistant_retry"
THREAD_TOOLS = "assistant_thread_tools"
THREAD_TOOLS_MODAL = "assistant_thread_tools_modal"
THREAD_SERVERS = "thread_servers"

# the Run-tool form (/mcp run, Run buttons) and MCP elicitation (a server's question mid-call)
RUN_TOOL = "run_tool"  # button value: the exposed tool name `server__tool`
RUN_PICKER_MODAL = "run_tool_picker"
RUN_PICKER_TOOL = "run_picked_tool"  # block_id of the picker's select
RUN_FORM_MODAL = "run_tool_form"
RUN_OPEN_PICKER = "run_open_picker"  # App Home's "Run a tool"
ELICIT_OPEN = "elicit_open"  # button value: the request id
ELICIT_DECLINE = "elicit_decline"
ELICIT_OPEN_LINK = "elicit_open_link"
ELICIT_LINK = "elicit_link"  # the url button shown after consent: Slack opens it, we only ack
ELICIT_FORM_MODAL = "elicit_form"
