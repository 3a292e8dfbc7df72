"""The review of a config file is valid Block Kit, shows every command line whole, and knows when it is too big."""

from __future__ import annotations

import json

from app.domain.config_batch import PendingBatch, plan_import
from app.domain.config_document import parse_config_document
from app.domain.owner import Owner
from app.services.config_import import BatchReview
from app.services.local_gate import RunConditions
from app.slack import ids
from app.slack.blocks.config_review import fits_in_a_message, review_blocks, secrets_modal, upload_modal
from tests.support.blockkit import message_problems, view_problems
from tests.support.harness import text_of

OWNER = Owner(team_id="T0TEST", user_id="U0TEST")
SANDBOXED = RunConditions(sandboxed=True, network="internet", flags=())


def review_of(document: dict, *, source: str = "upload") -> BatchReview:
    plan = plan_import(parse_config_document(json.dumps(document)), [])
    batch = PendingBatch(
        id="b" * 22, owner=OWNER, source=source, filename="mcp.json", kind="VS Code config", plan=plan, created_at=0
    )
    conditions = {i.name: SANDBOXED for i in plan.items}
    return BatchReview(plan, "mcp.json", "VS Code config", source, batch, conditions)  # type: ignore[arg-type]


def servers(count: int, arg_length: int) -> dict:
    return {
        f"server-{n}": {
            "command": "npx",
            "args": ["-y", f"@scope/server-{n}@1.2.3", "--root", "/srv/" + "x" * arg_length],
            "env": {"API_TOKEN": "literal-secret-value"},
        }
        for n in range(count)
    }


def test_a_twenty_server_file_fits_one_valid_message_with_every_command_line_whole() -> None:
    review = review_of({"mcpServers": servers(20, 60)})
    blocks = review_blocks(review)
    assert fits_in_a_message(blocks)
    assert message_problems(text="review", blocks=blocks) == []
    shown = text_of({"blocks": blocks})
    for n in range(20):
        assert f"npx -y @scope/server-{n}@1.2.3 --root /srv/{'x' * 60}" in shown
    assert shown.count("Runs in a sandbox") == 1  # said once for all, not twenty times
    assert "literal-secret-value" not in json.dumps(blocks)


def test_a_file_whose_review_would_not_fit_is_recognised() -> None:
    blocks = review_blocks(review_of({"mcpServers": servers(32, 3000)}))
    assert not fits_in_a_message(blocks)


def test_an_edit_on_disk_offers_confirm_and_discard_and_an_upload_offers_merge_replace_and_cancel() -> None:
    disk = review_blocks(review_of({"mcpServers": servers(1, 5)}, source="disk"))
    upload = review_blocks(review_of({"mcpServers": servers(1, 5)}))
    labels = [[e["text"]["text"] for e in b["elements"]] for b in disk if b["type"] == "actions"]
    assert labels == [["Confirm", "Discard"]]
    labels = [[e["text"]["text"] for e in b["elements"]] for b in upload if b["type"] == "actions"]
    assert labels == [["Confirm — merge", "Cancel"]]


def test_the_upload_and_secrets_modals_are_valid_views() -> None:
    assert view_problems(upload_modal({"response_url": "https://hooks.slack.com/x"})) == []
    review = review_of(
        {
            "inputs": [{"id": "tok", "description": "Token " * 400, "password": True}],
            "servers": {"s": {"command": "npx", "env": {"T": "${input:tok}"}}},
        }
    )
    assert next(b for b in review_blocks(review) if b["type"] == "actions")["elements"][0]["action_id"] == (
        ids.ENTER_SECRETS
    )
    assert view_problems(secrets_modal(review.plan.inputs, {"batch": "b", "response_url": ""})) == []


def test_text_from_the_file_cannot_ping_or_link_in_the_review() -> None:
    review = review_of(
        {
            "inputs": [{"id": "tok", "description": "<!channel> <https://evil.example|click me>"}],
            "servers": {"s": {"command": "npx", "args": ["<!here>"], "env": {"T": "${input:tok}"}}},
        }
    )
    shown = json.dumps(review_blocks(review))
    assert "<!channel>" not in shown and "<!here>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt;" in shown
