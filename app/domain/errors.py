"""Domain errors: what went wrong, in words a Slack user can act on.

PlugboardError
├── InvalidConfig        a config field broke a rule (carries field -> message)
├── ServerNotFound       no server of that name belongs to the caller
├── ServerNameTaken      the caller already has a server of that name
├── NotYourServer        an action named a server the caller does not own
├── ChangeExpired        a pending confirmation is gone (used, cancelled or too old)
├── ServerLimitReached   adding would take the owner past the admin's servers_per_owner
├── ServerUnavailable    the server is not running / failed to start / call failed
├── InputsMissing        an import was confirmed before the secrets its file asks for were entered
├── ToolNotFound         the server offers no tool of that name right now
├── ConfirmationNeeded   allowing a risky tool needs a second yes (carries the definition's pin)
├── NotAnAdmin           only admins may read everyone's audit log
├── AssistantBusy        too many assistant turns at once or too fast (carries when to retry)
├── NotYourApproval      someone other than the asker clicked an approval button
├── ApprovalClosed       the approval was already answered, expired or superseded
├── NotRunnable          a tool's policy state (denied, held) keeps the Run form from calling it
├── ElicitationGone      a server's question is no longer waiting for an answer
└── NotYourElicitation   someone other than the server's owner tried to answer its question
"""

from __future__ import annotations


class PlugboardError(Exception):
    """Base of every error whose message is safe to show the user as-is."""


class InvalidConfig(PlugboardError):
    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {msg}" if field else msg for field, msg in problems.items()))

    @classmethod
    def single(cls, field: str, message: str) -> InvalidConfig:
        return cls({field: message})


class ServerNotFound(PlugboardError):
    def __init__(self, name: str) -> None:
        super().__init__(f"You have no server named `{name}`. Try `/mcp list`.")


class ServerNameTaken(PlugboardError):
    def __init__(self, name: str) -> None:
        super().__init__(f"You already have a server named `{name}`. Pick another name or use `/mcp edit {name}`.")


class NotYourServer(PlugboardError):
    def __init__(self) -> None:
        super().__init__("That button belongs to someone else's server; nothing was changed.")


class ChangeExpired(PlugboardError):
    def __init__(self) -> None:
        super().__init__("This confirmation is no longer valid (already used, cancelled or expired). Start again.")


class ServerLimitReached(PlugboardError):
    """Adding would take the owner past `limits.servers_per_owner`: nothing was added; the message has the numbers."""

    def __init__(self, message: str, *, have: int, adding: int, limit: int) -> None:
        super().__init__(message)
        self.have, self.adding, self.limit = have, adding, limit

    @classmethod
    def adding_servers(cls, *, have: int, adding: int, limit: int, what: str = "This") -> ServerLimitReached:
        """`have` servers now (after any removals the same change makes), `adding` new ones, `limit` allowed."""
        if adding == 1:
            message = f"You have {have} of {limit} servers; remove one first (`/mcp remove <name>`)."
        else:
            advice = (
                "remove some first (`/mcp remove <name>`)" if adding <= limit else "that is more than the limit allows"
            )
            message = (
                f"{what} adds {adding} servers but you have room for {max(limit - have, 0)} more (limit {limit}); "
                f"{advice}."
            )
        return cls(message, have=have, adding=adding, limit=limit)


class ServerUnavailable(PlugboardError):
    pass


class InputsMissing(PlugboardError):
    def __init__(self) -> None:
        super().__init__("Enter the secrets this file asks for first (the *Enter secrets* button).")


class ToolNotFound(PlugboardError):
    def __init__(self, server: str, tool: str) -> None:
        super().__init__(f"`{server}` offers no tool `{tool}` right now. Try `/mcp tools {server}`.")


class ConfirmationNeeded(PlugboardError):
    """Allowing this tool needs an explicit second yes (it is on the risky-tool denylist)."""

    def __init__(self, message: str, pin: str) -> None:
        super().__init__(message)
        self.pin = pin  # the definition the warning is about; the confirmation must be for this one


class UsageError(PlugboardError):
    """A command typed the wrong way; the message shows the right form."""


class FileNotReadable(PlugboardError):
    """A file shared with the app could not be read from Slack; the message says why, and that nothing changed."""


class NotAnAdmin(PlugboardError):
    def __init__(self) -> None:
        super().__init__("Only Plugboard admins can read everyone's audit log.")


class AssistantBusy(PlugboardError):
    """Too many turns at once or too fast for one person: say when to try again."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class NotYourApproval(PlugboardError):
    """Someone other than the asker clicked an approval button in a shared thread."""

    def __init__(self, owner_user_id: str) -> None:
        super().__init__(f"Only <@{owner_user_id}> can approve this.")
        self.owner_user_id = owner_user_id


class ApprovalClosed(PlugboardError):
    """The approval was already answered, expired or superseded."""


class NotRunnable(PlugboardError):
    """The tool exists but its policy state (denied, held) keeps it from being called."""


class ElicitationGone(PlugboardError):
    def __init__(self) -> None:
        super().__init__("This request is no longer waiting for an answer (answered, declined or expired).")


class NotYourElicitation(PlugboardError):
    def __init__(self) -> None:
        super().__init__("This request is for someone else; only the person whose server asked can answer it.")
