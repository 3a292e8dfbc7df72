"""files.info, the files_upload_v2 three-step dance, and private downloads that need the bot token."""

from __future__ import annotations

import copy
import time
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from tests.support.fake_slack.records import (
    SIGN_IN_PAGE,
    UPLOAD_CHANNEL_ID_RE,
    Call,
    PendingUpload,
    StoredFile,
    UploadedFile,
    api_error,
    guess_mimetype,
)
from tests.support.fake_slack.state import SlackState
from tests.support.slack_payloads import (
    TEAM_DOMAIN,
    USER_ID,
)


class FilesApi(SlackState):
    def add_file(
        self,
        name: str,
        content: bytes,
        mimetype: str = "application/json",
        *,
        user_id: str = USER_ID,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Pre-register a file a user uploaded; returns the file object as in a file_input submission."""
        file_id = self._new_id("F")
        obj = self._file_object(file_id, name, title or name, mimetype, len(content), user_id)
        self._files[file_id] = StoredFile(obj=obj, content=content)
        return copy.deepcopy(obj)

    def file_content(self, file_id: str) -> bytes:
        return self._files[file_id].content

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file")
        if not file_id:
            return api_error("invalid_arguments", ["[ERROR] missing required field: file"])
        stored = self._files.get(str(file_id))
        if stored is None:
            return api_error("file_not_found")
        return {
            "ok": True,
            "file": copy.deepcopy(stored.obj),
            "content": "",
            "is_truncated": False,
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _files_get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except (TypeError, ValueError):
            length = -1
        if not filename or length < 1:
            return api_error("invalid_arguments", ["[ERROR] filename and a positive length are required"])
        file_id = self._new_id("F")
        token = self._alnum(40)
        self._pending[file_id] = PendingUpload(file_id=file_id, filename=str(filename), length=length, token=token)
        return {"ok": True, "upload_url": f"{self.base_url}upload/v1/{token}", "file_id": file_id}

    def _files_complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            return api_error("invalid_arguments", ["[ERROR] files must be a JSON array of {id, title}"])
        channel_id = params.get("channel_id")
        channels = [c for c in str(params.get("channels") or "").split(",") if c]
        targets = ([str(channel_id)] if channel_id else []) + channels
        bad = [c for c in targets if not UPLOAD_CHANNEL_ID_RE.match(c)]
        if bad:
            return api_error(
                "invalid_arguments",
                [f"[ERROR] failed to match all allowed schemas [json-pointer:/channel_id] ({bad[0]!r})"],
            )
        pending = []
        for item in files:
            upload = self._pending.get(str(item["id"]))
            if upload is None or upload.content is None:
                return api_error("file_not_found")
            pending.append((upload, item))
        shared = []
        for upload, item in pending:
            del self._pending[upload.file_id]
            content = upload.content or b""
            title = item.get("title") or upload.filename
            obj = self._file_object(
                upload.file_id, upload.filename, title, guess_mimetype(upload.filename), len(content), self.bot_user_id
            )
            self._files[upload.file_id] = StoredFile(obj=obj, content=content)
            recipients: list[str | None] = [*targets] or [None]  # None: uploaded but not shared
            for target in recipients:
                self.uploaded_files.append(
                    UploadedFile(
                        file_id=upload.file_id,
                        filename=upload.filename,
                        title=item.get("title"),
                        content=content,
                        channel_id=target,
                        initial_comment=params.get("initial_comment"),
                        thread_ts=params.get("thread_ts"),
                    )
                )
            shared.append(obj)
        for target in targets:
            self._store_message(
                target,
                {"text": params.get("initial_comment") or "", "thread_ts": params.get("thread_ts")},
                files=shared,
            )
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        pending = next((p for p in self._pending.values() if p.token == token), None)
        if pending is None:
            await self._record(Call("upload", {"token": token}, headers, path=request.path, status=404))
            return web.Response(status=404, text="not found")
        if request.content_type.startswith("multipart/"):
            content = b""
            reader = await request.multipart()
            part = await reader.next()
            if isinstance(part, BodyPartReader):
                content = bytes(await part.read())
        else:
            content = await request.read()
        pending.content = content
        if len(content) != pending.length:
            self.problems.append(
                f"upload: {pending.filename!r} declared length {pending.length} but {len(content)} bytes were sent"
            )
        params = {"file_id": pending.file_id, "filename": pending.filename, "length": len(content)}
        await self._record(Call("upload", params, headers, path=request.path))
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_download(self, request: web.Request) -> web.Response:
        ref = request.match_info["ref"]
        file_id = ref.rsplit("-", 1)[-1]
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        authorized = auth.partition(" ")[0].lower() == "bearer" and auth.partition(" ")[2].strip() == self.bot_token
        stored = self._files.get(file_id)
        status = 200 if stored is not None or not authorized else 404
        await self._record(
            Call("download", {"file_id": file_id, "authorized": authorized}, headers, "GET", request.path, None, status)
        )
        if not authorized:
            return web.Response(text=SIGN_IN_PAGE, content_type="text/html")
        if stored is None:
            return web.Response(status=404, text=SIGN_IN_PAGE, content_type="text/html")
        return web.Response(
            body=stored.content,
            content_type=str(stored.obj["mimetype"]),
            headers={"Content-Disposition": f'attachment; filename="{stored.obj["name"]}"'},
        )

    def _file_object(
        self, file_id: str, name: str, title: str, mimetype: str, size: int, user_id: str
    ) -> dict[str, Any]:
        now = int(time.time())
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        url = f"{self.base_url}files-pri/{self.team_id}-{file_id}/download/{quote(name)}"
        return {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.base_url}files-pri/{self.team_id}-{file_id}/{quote(name)}",
            "url_private_download": url,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user_id}/{file_id}/{quote(name)}",
            "permalink_public": f"https://slack-files.com/{self.team_id}-{file_id}-{self._hex(10)}",
            "has_rich_preview": False,
            "file_access": "visible",
        }
