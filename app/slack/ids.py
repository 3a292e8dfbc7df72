"""callback_id / action_id / block_id values shared by builders and listeners."""

ADD_MODAL = "server_add"
EDIT_MODAL = "server_edit"

CONFIRM_CHANGE = "change_confirm"
CANCEL_CHANGE = "change_cancel"
SERVER_MENU = "server_menu"
CONFIRM_REMOVE = "remove_confirm"
CANCEL_REMOVE = "remove_cancel"
OPEN_ADD_MODAL = "open_add_modal"

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
