"""Our `ToolBox` as a pydantic-ai toolset: the model only ever sees and calls the tools the toolbox lists now.

Every failure of a call becomes something the model is told (a retry prompt for bad arguments, a failed tool
result otherwise): an exception escaping `call_tool` would abort the whole run (reference assistant.md, pitfall 8).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic_ai import AbstractToolset, ModelRetry, RunContext, ToolDefinition, ToolFailed, ToolReturn, ToolsetTool
from pydantic_ai.exceptions import ApprovalRequired
from pydantic_core import SchemaValidator, core_schema

from app.agent.toolbox import AgentTool, ToolBox, ToolRefused, ToolResult

log = logging.getLogger(__name__)

# Arguments reach `call_tool` as a plain JSON object; the real check is JSON Schema, done there with jsonschema
# (pydantic-ai does not validate a schema-only tool's arguments, pitfall 9).
_ANY_OBJECT = SchemaValidator(core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()))

# Bad arguments are sent back to the model this many times per tool before the turn gives up.
ARGUMENT_RETRIES = 2
MAX_SCHEMA_ERRORS = 5

CALL_CRASHED = "The tool could not be run because of an internal error in Plugboard."


@dataclass(frozen=True)
class CallOutcome:
    """What happened to one call, kept app-side for the step renderer (never sent to the model)."""

    status: str  # "done" | "failed"
    duration_ms: int = 0
    truncated_chars: int = 0
    error: str | None = None


@dataclass
class ToolBridge(AbstractToolset[None]):
    """A pydantic-ai toolset over one `ToolBox`, for one turn.

    `approved_call_ids` are the pending calls the person allowed (they run without asking again);
    `outcomes` collects each finished call's timing and cut, keyed by tool call id.
    """

    toolbox: ToolBox
    approved_call_ids: frozenset[str] = frozenset()
    outcomes: dict[str, CallOutcome] = field(default_factory=dict)
    _listed: dict[str, AgentTool] = field(default_factory=dict, init=False)

    @property
    def id(self) -> str:
        return "plugboard-tools"

    async def get_tools(self, ctx: RunContext[None]) -> dict[str, ToolsetTool[None]]:
        # Asked before every model request, so a server added, disabled or removed mid-turn shows at once.
        tools = await self.toolbox.tools()
        self._listed = {tool.name: tool for tool in tools}
        return {
            tool.name: ToolsetTool(
                toolset=self,
                max_retries=ARGUMENT_RETRIES,
                args_validator=_ANY_OBJECT,
                tool_def=ToolDefinition(
                    name=tool.name,
                    description=tool.description,
                    parameters_json_schema=tool.input_schema,
                    metadata={"needs_approval": tool.needs_approval},
                ),
            )
            for tool in tools
        }

    def needs_approval(self, name: str, call_id: str) -> bool:
        """Whether a call of `name` will stop for the person (as of the latest tool list)."""
        tool = self._listed.get(name)
        return tool is not None and tool.needs_approval and call_id not in self.approved_call_ids

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[None], tool: ToolsetTool[None]
    ) -> Any:
        listed = self._listed.get(name)
        if listed is None:
            # pydantic-ai only calls names it got from get_tools; this guards the toolbox if that ever changes.
            raise ModelRetry(f"Unknown tool name: {name!r}. Use one of the tools offered.")
        problems = _schema_problems(listed.input_schema, tool_args)
        if problems:
            raise ModelRetry("The arguments do not match the tool's input schema: " + "; ".join(problems))
        call_id = ctx.tool_call_id or ""
        if listed.needs_approval and not ctx.tool_call_approved and call_id not in self.approved_call_ids:
            raise ApprovalRequired(metadata={"tool": name})
        started = time.monotonic()
        try:
            result = await self.toolbox.call(name, tool_args, call_id=call_id)
        except ToolRefused as refused:
            self.outcomes[call_id] = CallOutcome("failed", _elapsed_ms(started), error=refused.message)
            raise ToolFailed(refused.message) from None
        except Exception:
            # Never abort the run: the model is told the call failed, the cause goes to our log only.
            log.exception("tool call %s crashed", name)
            self.outcomes[call_id] = CallOutcome("failed", _elapsed_ms(started), error=CALL_CRASHED)
            raise ToolFailed(CALL_CRASHED) from None
        return self._returned(call_id, result, _elapsed_ms(started))

    def _returned(self, call_id: str, result: ToolResult, elapsed_ms: int) -> ToolReturn:
        duration = result.duration_ms or elapsed_ms
        if result.is_error:
            self.outcomes[call_id] = CallOutcome(
                "failed", duration, result.truncated_chars, error=_first_line(result.text) or "The tool failed."
            )
            raise ToolFailed(result.text or "The tool failed.")
        self.outcomes[call_id] = CallOutcome("done", duration, result.truncated_chars)
        return ToolReturn(return_value=result.text)


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    """Building a validator costs more than using it: one per distinct schema, kept."""
    return Draft202012Validator(json.loads(schema_json))


def _schema_problems(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
        errors = sorted(validator.iter_errors(arguments), key=lambda error: list(error.path))
    except (SchemaError, ReferenceError, LookupError, ValueError, TypeError):
        # A server's broken or unresolvable schema is not the model's fault; let the server judge the arguments.
        return []
    problems = []
    for error in errors[:MAX_SCHEMA_ERRORS]:
        where = "/".join(str(part) for part in error.path)
        problems.append(f"{where}: {error.message}" if where else error.message)
    return problems


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""
