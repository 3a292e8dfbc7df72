"""Finding the cause in errors that the MCP client wraps in nested ExceptionGroups and chains."""

from __future__ import annotations

from collections.abc import Iterator


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """Every leaf exception in a group tree, each followed by its causes, depth first, without repeats."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            stack.extend(reversed(current.exceptions))
            continue
        yield current
        stack.extend(linked for linked in (current.__cause__, current.__context__) if linked is not None)


def find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((leaf for leaf in leaves(exc) if isinstance(leaf, kind)), None)
