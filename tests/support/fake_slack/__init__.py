"""A local fake of the Slack Web API (plus files.slack.com and response_url hooks) for integration tests.

Run it inside the test's event loop and point the app's ``AsyncWebClient`` at it::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        ...
        call = await slack.wait_for("views.open")
        assert slack.problems == []

It enforces the Slack rules an app can get wrong (docs: reference slack.md §1.4-§1.7, §4): bearer token,
single-use trigger_ids that expire after 3 s, Block Kit validation on every ``views.*`` / ``chat.*`` /
response_url call (via :mod:`tests.support.blockkit`), modal stack depth, view hash conflicts, the
``files_upload_v2`` three-step dance with ``channel_id`` format checks, and private file downloads that
need the bot token (else a 200 HTML sign-in page, as real Slack does). The agent surfaces (``chat.*Stream``,
``assistant.threads.setStatus``/``setSuggestedPrompts``) live in :mod:`tests.support.fake_slack.streams`: streams
must reply in a thread, name recipients outside DMs and stay under 12,000 characters; ``streaming_enabled = False``
and ``rate_limit(...)`` make Slack refuse them so the fallback can be tested.

Recording: every HTTP request that reaches the fake is appended to :attr:`FakeSlack.calls` as a
:class:`Call`. Web API calls use the API method name (``"views.open"``); the other routes use
``"upload"`` (raw POST to an ``upload_url``), ``"download"`` (``/files-pri/...``) and ``"response_url"``.
Structured params that Slack takes as JSON strings in form bodies (``view``, ``blocks``, ``attachments``,
``files``, ``metadata``, ``message``) are recorded decoded, so ``call.params["view"]["blocks"]`` works for
JSON and form requests alike.
"""

from tests.support.fake_slack.records import Call, UploadedFile
from tests.support.fake_slack.server import FakeSlack
from tests.support.fake_slack.streams import StatusUpdate, SuggestedPrompts

__all__ = ["Call", "FakeSlack", "StatusUpdate", "SuggestedPrompts", "UploadedFile"]
