"""Making text from users and servers safe to show in Slack mrkdwn."""

from __future__ import annotations

from app.domain.text_rules import strip_invisible


def clean(text: str) -> str:
    """Invisible text must not hide in what we show."""
    return strip_invisible(text)


def escape(text: str) -> str:
    """Slack's three control characters; also neuters `<!channel>` and `<url|label>` tricks."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """Inline code that cannot be broken out of with backticks."""
    return "`" + escape(text).replace("`", "ˋ") + "`"


def code_block(text: str) -> str:
    return "```" + escape(text).replace("```", "ˋˋˋ") + "```"


def truncate(text: str, limit: int, note: str = "…") -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))] + note


def chunks(text: str, size: int) -> list[str]:
    """Split long text into pieces that each fit one Slack section (used to show long commands whole)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def escaped_chunks(text: str, limit: int) -> list[str]:
    """Escape, then split so that no piece exceeds `limit` and no entity (`&amp;`) is cut in half."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in clean(text):
        escaped = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}.get(ch, ch)
        if size + len(escaped) > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    pieces.append("".join(current))
    return pieces
