"""`python -m app admin …`: list owners and servers, export an owner's config, revoke a server.

Reads the same settings as the app (`PLUGBOARD_DATA_DIR`, `PLUGBOARD_ENCRYPTION_KEYS` or the key file in the
data dir) and needs no Slack token. A revocation disables the server in the database, audits it, and drops a
signal in `data/revocations/` that a running Plugboard picks up within seconds (stopping the server); if the app
is not running, the server simply stays disabled when it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from app.domain.errors import PlugboardError
from app.domain.owner import Owner
from app.domain.server_config import summary
from app.settings import Settings
from app.wiring import DATABASE_FILE, admin_service, encryption_keys, open_store


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app admin", description="Plugboard support tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every owner and their servers")
    export = commands.add_parser("export", help="an owner's config; secrets appear as ${secret:NAME}")
    export.add_argument("owner_id", help="TEAM-USER, e.g. T0123-U0456 (see `list`)")
    export.add_argument("--remote", action="store_true", help="print mcp_remote.json instead of mcp.json")
    revoke = commands.add_parser("revoke", help="disable a server now (kept for investigation) and audit it")
    revoke.add_argument("owner_id")
    revoke.add_argument("server", help="the server's name")
    revoke.add_argument("--reason", default="", help="recorded in the audit log")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"plugboard admin: invalid settings: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    data_dir = settings.plugboard_data_dir.resolve()
    if not (data_dir / DATABASE_FILE).is_file():
        print(f"plugboard admin: no Plugboard database in {data_dir} (set PLUGBOARD_DATA_DIR)", file=sys.stderr)
        return 2
    keys = encryption_keys(settings)
    try:
        return asyncio.run(_run(args, data_dir, keys))
    except (PlugboardError, ValueError) as exc:
        print(f"plugboard admin: {exc}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, data_dir: Path, keys: str | None) -> int:
    store = await open_store(data_dir, keys)
    try:
        admin = admin_service(store)
        if args.command == "list":
            for owner, records in await admin.owners():
                print(f"{owner.id}  ({len(records)} server{'s' if len(records) != 1 else ''})")
                for record in records:
                    kind = "local" if record.config.type == "stdio" else "remote"
                    state = "enabled" if record.enabled else "disabled"
                    print(f"  {record.name:<32} {kind:<6} {state:<8} {summary(record.config)}")
        elif args.command == "export":
            print(await admin.export(Owner.from_id(args.owner_id), remote=args.remote), end="")
        else:
            owner = Owner.from_id(args.owner_id)
            record = await admin.revoke(owner, args.server, reason=args.reason)
            print(
                f"revoked {record.name} of {owner.id}: disabled and audited; "
                "a running Plugboard stops it within seconds."
            )
        return 0
    finally:
        await store.close()
