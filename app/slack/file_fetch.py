"""Reading a file a user shared with the app: `files.info`, then `url_private_download` with the bot token.

Slack answers a download without the token (or without the `files:read` scope) with 200 and an HTML sign-in
page, so HTML is read as "no access". The token is only ever sent to Slack's own hosts, without redirects.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from app.domain.errors import FileNotReadable

NO_ACCESS = (
    "Slack answered with a sign-in page instead of the file, so Plugboard has no access to it "
    "(the app needs the `files:read` scope, and the file must be shared with it). Nothing was changed."
)
_TIMEOUT = aiohttp.ClientTimeout(total=15)
_SLACK_FILE_HOSTS = (".slack.com", ".slack-gov.com")


class SlackFiles:
    def __init__(self, client: AsyncWebClient, *, max_bytes: int) -> None:
        self._client = client
        self._max_bytes = max_bytes

    async def read(self, file_id: str) -> tuple[str, bytes]:
        """(file name, content) of a file the user shared; FileNotReadable says why not."""
        try:
            info = await self._client.files_info(file=file_id)
        except SlackApiError as exc:
            error = exc.response.get("error", "error") if exc.response is not None else "error"
            raise FileNotReadable(f"Slack would not describe the file ({error}). Nothing was changed.") from None
        file = info.get("file") or {}
        name = str(file.get("name") or "file")[:200]
        size = file.get("size")
        if isinstance(size, int) and size > self._max_bytes:
            raise FileNotReadable(too_large(name, size, self._max_bytes))
        url = file.get("url_private_download") or file.get("url_private")
        if not isinstance(url, str) or not url:
            raise FileNotReadable("Slack gave no download address for the file. Nothing was changed.")
        return name, await self.download(url)

    async def download(self, url: str, *, with_token: bool = True) -> bytes:
        token = self._client.token if with_token and self._is_slack_host(url) else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=False) as session,
                session.get(url, headers=headers, allow_redirects=False) as response,
            ):
                if response.content_type == "text/html":
                    raise FileNotReadable(NO_ACCESS)
                if response.status != 200:
                    raise FileNotReadable(f"Slack answered {response.status} to the download. Nothing was changed.")
                content = await response.content.read(self._max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError):
            raise FileNotReadable("The file could not be downloaded from Slack. Nothing was changed.") from None
        if content.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
            raise FileNotReadable(NO_ACCESS)
        if len(content) > self._max_bytes:
            raise FileNotReadable(too_large("the file", len(content), self._max_bytes))
        return content

    def _is_slack_host(self, url: str) -> bool:
        """Slack's file hosts over https, or the host of the configured Web API (e.g. a local test fake)."""
        target, api = urlsplit(url), urlsplit(self._client.base_url)
        if (target.scheme, target.netloc) == (api.scheme, api.netloc):
            return True
        host = target.hostname or ""
        return target.scheme == "https" and host.endswith(_SLACK_FILE_HOSTS)


def too_large(name: str, size: int, limit: int) -> str:
    return f"`{name}` is {size / 1024:,.0f} KB; config files can be at most {limit // 1024} KB. Nothing was changed."
