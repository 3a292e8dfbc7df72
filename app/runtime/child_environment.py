"""The environment of a server process, built from nothing: no app setting or secret can leak into it."""

from __future__ import annotations

from collections.abc import Mapping

# The host's certificate and proxy settings are the admin's: passed from Plugboard's own environment to every
# server, over whatever its owner configured (owners may not set the certificate ones at all).
ADMIN_CERTIFICATE_FILES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "PIP_CERT")
ADMIN_CERTIFICATE_FOLDERS = ("SSL_CERT_DIR",)
ADMIN_PROXIES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def admin_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The certificate and proxy settings of Plugboard's own environment (both spellings of the proxies)."""
    names = [*ADMIN_CERTIFICATE_FILES, *ADMIN_CERTIFICATE_FOLDERS]
    names += [spelling for name in ADMIN_PROXIES for spelling in (name, name.lower())]
    return {name: environ[name] for name in names if environ.get(name)}


def admin_paths(admin_env: Mapping[str, str]) -> tuple[str, ...]:
    """The files and folders the admin's certificate settings name: a sandbox must see them."""
    names = (*ADMIN_CERTIFICATE_FILES, *ADMIN_CERTIFICATE_FOLDERS)
    return tuple(
        path
        for name in names
        for value in [admin_env.get(name, "")]
        for path in value.split(":")
        if path.startswith("/")
    )


def child_environment(
    *, home: str, path: str, configured: Mapping[str, str], admin: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Fixed base + the admin's certificate/proxy settings + the owner's configured variables.

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
    return {**dict(configured), **dict(admin or {}), **base}
