"""`python -m app`: run Plugboard (Socket Mode with SLACK_APP_TOKEN, else HTTP mode on PORT)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

import uvicorn
from pydantic import ValidationError

from app.admin_cli import main as admin_main
from app.bootstrap import build
from app.domain.policy import PolicyError
from app.logging_setup import configure_logging
from app.services.admin_servers import AdminServersError
from app.settings import SETUP_DOC, Settings

log = logging.getLogger("plugboard")


def _load_settings() -> Settings | None:
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]).upper()
            print(f"plugboard: setting {field} is invalid: {error['msg']}", file=sys.stderr)
        return None
    missing = settings.missing()
    if missing:
        print("plugboard: cannot start, these settings are missing:", file=sys.stderr)
        for item in missing:
            print(f"  - {item}", file=sys.stderr)
        print(f"Put them in .env or the environment; see {SETUP_DOC}.", file=sys.stderr)
        return None
    return settings


def _remember_stop_signals(stop: asyncio.Event) -> None:
    """Our own SIGINT/SIGTERM handlers: uvicorn re-raises the signal after its shutdown, and with the
    default handler that would kill us before every MCP server is stopped."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    _remember_stop_signals(stop)
    plugboard = await build(settings)
    # Everything made so far (imported libraries, the object graph) lives as long as the app: out of the
    # collector's full passes, which otherwise walk it all and stall the event loop for a few hundred ms.
    gc.freeze()
    server = uvicorn.Server(
        uvicorn.Config(plugboard.asgi, host=settings.host, port=settings.port, lifespan="off", log_level="warning")
    )
    socket_handler = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert settings.slack_app_token is not None
        socket_handler = AsyncSocketModeHandler(plugboard.bolt, settings.slack_app_token.get_secret_value())
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        log.info("connected to Slack in Socket Mode; OAuth routes and /healthz on port %d", settings.port)
    else:
        log.info("serving Slack events on http://%s:%d/slack/events", settings.host, settings.port)
    # Bringing servers back can take a while: do it behind the running app, not before it.
    restore = asyncio.create_task(plugboard.restore(), name="restore-servers")
    plugboard.start_background()
    try:
        if not stop.is_set():  # a signal during start-up skips straight to shutdown
            await server.serve()  # returns after SIGINT/SIGTERM
    finally:
        log.info("shutting down: stopping every MCP server")
        restore.cancel()
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        await plugboard.close()


def main() -> int:
    if sys.argv[1:2] == ["admin"]:  # `python -m app admin …`: support tools, no Slack tokens needed
        return admin_main(sys.argv[2:])
    settings = _load_settings()
    if settings is None:
        return 2
    secrets = [
        s.get_secret_value()
        for s in (settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret)
        if s is not None
    ]
    configure_logging(secrets)
    try:
        asyncio.run(serve(settings))
    except (PolicyError, AdminServersError) as exc:
        print(f"plugboard: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
