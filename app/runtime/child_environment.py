"""The environment of a server process, built from nothing: no app setting or secret can leak into it."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"


def child_environment(*, home: str, path: str, configured: Mapping[str, str]) -> dict[str, str]:
    """Fixed base + the owner's configured variables.

    The SDK's stdio client merges HOME, LOGNAME, PATH, SHELL, TERM and USER from our own process
    under whatever we pass; setting all six here means none of the app's values get through.
    """
    base = {
        "PATH": path,
        "HOME": home,
        "LANG": "C.UTF-8",
        "LOGNAME": "plugboard",
        "USER": "plugboard",
        "SHELL": "/bin/sh",
        "TERM": "dumb",
        "TMPDIR": home + "/tmp",
    }
    # Configured names were validated against the reserved set, but the base still wins if one slips in.
    return {**dict(configured), **base}
