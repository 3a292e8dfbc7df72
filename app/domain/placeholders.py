"""`${secret:NAME}` and VS Code `${input:id}` placeholders in configs: where they may appear and what they mean.

A secret placeholder stands for a value already stored (encrypted) for the same server; it must be a whole env
value. An input placeholder is a value the owner still has to type in (in a Slack modal, never in a message).
Neither may appear in the command, the arguments or the working directory: those are shown and mirrored as
plain text.
"""

from __future__ import annotations

import re

from app.domain.errors import InvalidConfig
from app.domain.local_config import LocalServerConfig

SECRET_PLACEHOLDER = re.compile(r"^\$\{secret:([A-Za-z0-9_.-]{1,64})\}$")
_SECRET_MARK = re.compile(r"\$\{secret:")
INPUT_REFERENCE = re.compile(r"\$\{input:([^}]{0,80})\}")
INPUT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def secret_placeholder(name: str) -> str:
    """`${secret:NAME}`: what a stored secret is shown and mirrored as (`secret_name` reads it back)."""
    return "${secret:" + name + "}"


def secret_name(value: str) -> str | None:
    match = SECRET_PLACEHOLDER.fullmatch(value)
    return match.group(1) if match else None


def input_ids(value: str) -> list[str]:
    return INPUT_REFERENCE.findall(value)


def plain_text_problem(config: LocalServerConfig) -> str | None:
    """A placeholder in what is shown and mirrored as plain text: refused, it would not be secret there."""
    for label, text in [("the command", config.command), *(("an argument", a) for a in config.args)]:
        if _SECRET_MARK.search(text) or INPUT_REFERENCE.search(text):
            return (
                f"a `${{secret:…}}` or `${{input:…}}` placeholder is in {label}; arguments are shown and saved as "
                "plain text, so pass the secret through an `env` variable instead."
            )
    if config.cwd and (_SECRET_MARK.search(config.cwd) or INPUT_REFERENCE.search(config.cwd)):
        return "a placeholder is in the working directory; placeholders work only as `env` values."
    return None


def resolve_secrets(env: dict[str, str], stored: dict[str, str], *, where: str) -> dict[str, str]:
    """`${secret:NAME}` -> the value stored for this server's variable NAME; a missing one is an error."""
    resolved: dict[str, str] = {}
    for key, value in env.items():
        name = secret_name(value)
        if name is not None:
            if name not in stored:
                raise InvalidConfig.single(
                    "json", f"{where}: fill in {name}: `{key}` refers to a stored secret {name} that does not exist."
                )
            resolved[key] = stored[name]
        elif _SECRET_MARK.search(value):
            raise InvalidConfig.single(
                "json", f"{where}: `{key}`: a `${{secret:NAME}}` placeholder must be the whole value."
            )
        else:
            resolved[key] = value
    return resolved


def fill_inputs(env: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """Replace every `${input:id}` whose value is given; others are left for the caller to report."""
    return {key: INPUT_REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), value) for key, value in env.items()}


def unresolved_problem(config: LocalServerConfig) -> str | None:
    """Why this config still holds a placeholder nobody filled in (None when it holds none)."""
    if problem := plain_text_problem(config):
        return problem
    for key, value in config.env.items():
        if (name := secret_name(value)) is not None:
            return f"fill in {name}: `{key}` is a placeholder for a secret this server does not have yet."
        if ids := input_ids(value):
            return f"fill in `{ids[0]}`: `{key}` still refers to a VS Code input."
    return None
