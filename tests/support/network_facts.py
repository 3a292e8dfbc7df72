"""Facts about this machine's network, worked out when asked (never hard-coded: CI and laptops differ).

- `host_ipv4_addresses()`: the host's own IPv4 addresses (`ip -4 -o addr`), loopback left out by default.
- `resolvers()`: the name servers in /etc/resolv.conf.
- `registry_networks()`: the npm registry's and PyPI's IPv4 addresses as /32 networks, for a policy's
  `[local_servers] allow_networks`, so sandboxed `npx`/`uvx` can still install packages when the sandbox
  rejects the private or documentation ranges a proxy may sit in. Looking a name up can fail (no DNS):
  that name then adds nothing.
- `allow_networks_toml(extra)`: the `allow_networks = [...]` line to put in a policy's `[local_servers]` table.

Nothing here sends a packet to the addresses it returns; the only traffic is the name look-ups that
`getent` makes through the system resolver.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

LOOKUP_TIMEOUT_SECONDS = 10
PYPI_HOSTS = ("pypi.org", "files.pythonhosted.org")
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/"


def _run(argv: list[str]) -> str | None:
    """stdout of `argv`, or None when the program is missing, fails or takes too long."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=LOOKUP_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_ip_addr(output: str) -> list[str]:
    """Addresses in `ip -4 -o addr` output: `2: eth0    inet 192.0.2.2/24 brd ... scope global eth0 ...`."""
    found: list[str] = []
    for line in output.splitlines():
        words = line.split()
        if "inet" in words[:-1]:
            found.append(words[words.index("inet") + 1].split("/")[0])
    return found


@cache
def _all_host_ipv4_addresses() -> tuple[str, ...]:
    return tuple(dict.fromkeys(parse_ip_addr(_run(["ip", "-4", "-o", "addr"]) or "")))


def host_ipv4_addresses(*, include_loopback: bool = False) -> list[str]:
    """The IPv4 addresses of this machine's interfaces (empty when `ip` is missing)."""
    return [a for a in _all_host_ipv4_addresses() if include_loopback or not ipaddress.ip_address(a).is_loopback]


def parse_resolv_conf(text: str) -> list[str]:
    found: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append(words[1])
    return found


def resolvers(path: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The name servers this machine asks (empty when there is no resolv.conf)."""
    try:
        return parse_resolv_conf(path.read_text())
    except OSError:
        return []


@cache
def npm_registry_host() -> str:
    """The host of the npm registry npm is configured for (npm's default when npm is missing)."""
    configured = (_run(["npm", "config", "get", "registry"]) or "").strip()
    return urlsplit(configured or DEFAULT_NPM_REGISTRY).hostname or urlsplit(DEFAULT_NPM_REGISTRY).hostname or ""


def parse_getent_ahosts(output: str) -> list[str]:
    """Addresses in `getent ahostsv4 NAME` output: `203.0.113.80    STREAM registry.npmjs.org`, one per line."""
    found: list[str] = []
    for line in output.splitlines():
        words = line.split()
        if words:
            try:
                found.append(str(ipaddress.IPv4Address(words[0])))
            except ValueError:
                continue
    return list(dict.fromkeys(found))


@cache
def ipv4_addresses_of(host: str) -> tuple[str, ...]:
    """What `host` resolves to here (IPv4), or () when the look-up fails."""
    return tuple(parse_getent_ahosts(_run(["getent", "ahostsv4", host]) or ""))


def registry_hosts() -> list[str]:
    return list(dict.fromkeys([npm_registry_host(), *PYPI_HOSTS]))


def registry_networks() -> list[str]:
    """The npm registry's and PyPI's addresses as sorted /32 networks (those that resolved)."""
    addresses = {address for host in registry_hosts() for address in ipv4_addresses_of(host)}
    return sorted((f"{a}/32" for a in addresses), key=lambda n: ipaddress.ip_network(n))


def allow_networks_toml(extra: Iterable[str] = ()) -> str:
    """`allow_networks = [...]` (with a newline) for the `[local_servers]` table: the registries plus `extra`.

    It is a key of that table, so it must come before any other `[table]` header in the policy text."""
    networks = list(dict.fromkeys([*registry_networks(), *(str(ipaddress.ip_network(n)) for n in extra)]))
    return f"allow_networks = {json.dumps(networks)}\n"
