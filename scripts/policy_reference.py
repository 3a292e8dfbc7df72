"""Write the admin policy reference (generated from app/domain/policy.py) into README.md between its markers.

.venv/bin/python scripts/policy_reference.py            # rewrite the block in README.md
.venv/bin/python scripts/policy_reference.py --check    # exit 1 when README.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.domain.policy_reference import current_block, reference_block, with_reference

README = Path(__file__).resolve().parents[1] / "README.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("readme", nargs="?", type=Path, default=README, help="the README to update (default: ours)")
    parser.add_argument("--check", action="store_true", help="only report whether the README is up to date")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    if args.check:
        if current_block(text) == reference_block():
            return 0
        print(f"{args.readme}: the admin policy reference is out of date; run {Path(__file__).name}", file=sys.stderr)
        return 1
    updated = with_reference(text)
    if updated != text:
        args.readme.write_text(updated, encoding="utf-8")
        print(f"{args.readme}: admin policy reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
