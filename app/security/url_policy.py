"""Which URLs and IP addresses outbound requests may reach (pure: no I/O, no DNS).

`check_url` vets a URL's syntax, host and port; it runs when a user registers a remote server and again on
every request (each redirect hop, each OAuth fetch) inside `app.security.egress`. Host names are only known
to be safe once resolved, so the egress transport also applies `address_refusal` to every resolved address.

`ip_allowed` uses explicit range tables: Python 3.11's `is_global` is True for multicast `224.0.0.1`, NAT64
`64:ff9b::a9fe:a9fe` and 6to4 `2002:a9fe:a9fe::1`, and `is_private` is False for CGNAT `100.64.0.1`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 8192
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refusal(StrEnum):
    """Why a URL or address was refused; stable codes for callers and tests (the text is for people)."""

    MALFORMED = "malformed"
    SCHEME = "scheme"
    PLAIN_HTTP = "plain_http"
    USERINFO = "userinfo"
    FRAGMENT = "fragment"
    HOST_SYNTAX = "host_syntax"
    HOST_LENGTH = "host_length"
    OBFUSCATED_IP = "obfuscated_ip"
    BLOCKED_NAME = "blocked_name"
    BLOCKED_ADDRESS = "blocked_address"
    PORT = "port"


class UrlRefused(ValueError):
    """A URL breaks the egress policy; `reason` is safe to show to the user who typed it."""

    def __init__(self, code: Refusal, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _nets(*specs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), label) for net, label in specs)


# First match wins, so specific entries (metadata IPs, ::1 inside ::/96) come before the ranges holding them.
_BLOCKED_V4 = _nets(
    ("169.254.169.254/32", "the cloud metadata service"),
    ("0.0.0.0/8", "a 'this host' address (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private network (10.0.0.0/8)"),
    ("100.64.0.0/10", "carrier-grade NAT space (100.64.0.0/10)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local space, where cloud metadata lives (169.254.0.0/16)"),
    ("172.16.0.0/12", "a private network (172.16.0.0/12)"),
    ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
    ("192.0.2.0/24", "documentation space (192.0.2.0/24)"),
    ("192.88.99.0/24", "the 6to4 relay anycast range (192.88.99.0/24)"),
    ("192.168.0.0/16", "a private network (192.168.0.0/16)"),
    ("198.18.0.0/15", "benchmarking space (198.18.0.0/15)"),
    ("198.51.100.0/24", "documentation space (198.51.100.0/24)"),
    ("203.0.113.0/24", "documentation space (203.0.113.0/24)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved space (240.0.0.0/4)"),
)
_BLOCKED_V6 = _nets(
    ("::/128", "the unspecified address (::)"),
    ("::1/128", "loopback (::1)"),
    ("::ffff:0:0/96", "an IPv4-mapped address (::ffff:0:0/96)"),
    ("::/96", "an IPv4-compatible address (::/96)"),
    ("64:ff9b::/96", "NAT64, which reaches IPv4 space (64:ff9b::/96)"),
    ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
    ("100::/64", "the discard prefix (100::/64)"),
    ("2001::/32", "Teredo, which embeds an IPv4 address (2001::/32)"),
    ("2001:db8::/32", "documentation space (2001:db8::/32)"),
    ("2001::/23", "IETF protocol assignments (2001::/23)"),
    ("2002::/16", "6to4, which embeds an IPv4 address (2002::/16)"),
    ("3fff::/20", "documentation space (3fff::/20)"),
    ("fd00:ec2::254/128", "the AWS metadata service (fd00:ec2::254)"),
    ("fc00::/7", "a unique-local (private) network (fc00::/7)"),
    ("fe80::/10", "link-local space (fe80::/10)"),
    ("fec0::/10", "deprecated site-local space (fec0::/10)"),
    ("ff00::/8", "multicast (ff00::/8)"),
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")

# An allowed *name* may resolve to private space (an intranet), never to these: nothing legitimate lives there,
# and they are how a hostile or hijacked DNS answer reaches metadata services or embeds an arbitrary IPv4 target.
_NEVER_VIA_NAME = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
        "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2001::/32", "2002::/16",
        "fd00:ec2::254/128", "fe80::/10", "ff00::/8",
    )
)  # fmt: skip

# Names that resolve to the host itself or to metadata services on common clouds and distributions.
_BLOCKED_NAMES = frozenset(
    {
        "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
        "metadata", "metadata.google.internal", "metadata.goog",
        "instance-data", "instance-data.ec2.internal",
    }
)  # fmt: skip
# Special-use suffixes that only ever name local or private machines.
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
# WHATWG URL parsing treats a host whose last label is numeric as IPv4 (`127.1`, `0x7f.1`, `2130706433`).
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"^{_OCTET}(?:\.{_OCTET}){{3}}$")
# Controls, spaces and backslashes are parsed differently by different URL parsers (`http://a\@b/`).
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound requests may go. The defaults are the production policy: public https on port 443.

    `allowed_hosts` entries are CIDR networks ("10.20.0.0/16", "127.0.0.0/8", "::1/128"), exact host names
    ("wiki.corp.internal") or subdomain wildcards ("*.corp.internal"). A listed network is reachable although
    private; a listed name may resolve to private space (but never to link-local, metadata or multicast).
    """

    allowed_hosts: tuple[str, ...] = ()
    allow_http_loopback: bool = False
    allowed_ports: tuple[int, ...] | None = (443,)
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _suffixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for entry in (e.strip().lower() for e in self.allowed_hosts):
            if not entry:
                raise ValueError("empty entry in allowed_hosts")
            if any(ch in entry for ch in "/:") or _NUMERIC_LABEL.match(entry.rsplit(".", 1)[-1]):
                networks.append(ipaddress.ip_network(entry, strict=True))
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                names.add(entry)
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_suffixes", tuple(suffixes))

    def covers_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._networks)

    def covers_name(self, host: str) -> bool:
        host = host.lower()
        return host in self._names or host.endswith(self._suffixes)


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed `check_url`: ASCII lower-case host (no brackets), effective port, IP if literal."""

    scheme: str
    host: str
    port: int
    ip: IPAddress | None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address, or None if it is."""
    table = _BLOCKED_V4 if ip.version == 4 else _BLOCKED_V6
    for net, label in table:
        if ip in net:
            return label
    if ip.version == 6 and ip not in _GLOBAL_UNICAST_V6:
        return "outside IPv6 global unicast space (2000::/3)"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def ip_allowed(ip: IPAddress, policy: EgressPolicy) -> bool:
    """True if `ip` is public unicast, or inside a network the policy explicitly allows."""
    return policy.covers_ip(ip) or blocked_reason(ip) is None


def address_refusal(host: str, ip: IPAddress, policy: EgressPolicy) -> str | None:
    """Why `host` may not be reached at `ip` (a literal or one of its resolved addresses), or None if it may."""
    if policy.covers_ip(ip):
        return None
    reason = blocked_reason(ip)
    if reason is None:
        return None
    if policy.covers_name(host) and not any(ip.version == n.version and ip in n for n in _NEVER_VIA_NAME):
        return None
    return reason


def parse_ip(text: str) -> IPAddress | None:
    """A canonical IP literal (IPv6 zone id dropped), or None for anything else, including `127.1`."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return ip


def check_url(url: str, policy: EgressPolicy) -> ParsedTarget:
    """Vet `url` against `policy` without resolving it.

    Raises:
        UrlRefused: with a `Refusal` code and a user-facing reason.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(Refusal.MALFORMED, f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if _FORBIDDEN_CHARS.search(url):
        raise UrlRefused(Refusal.MALFORMED, "The URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        explicit_port = parts.port
    except ValueError as exc:  # urlsplit: bad brackets or a port out of range
        raise UrlRefused(Refusal.MALFORMED, f"The URL could not be parsed ({exc}).") from None

    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise UrlRefused(Refusal.SCHEME, f"Only https:// URLs are allowed, not {shown}.")
    if "@" in parts.netloc:
        raise UrlRefused(Refusal.USERINFO, "Put credentials in the auth settings, not in the URL (user@host).")
    if "#" in url:
        raise UrlRefused(Refusal.FRAGMENT, "The URL must not contain a #fragment.")
    if not hostname:
        raise UrlRefused(Refusal.HOST_SYNTAX, "The URL has no host.")

    bracketed = parts.netloc.startswith("[")
    host, ip = _vet_host(hostname, bracketed=bracketed)

    if ip is None:
        if not policy.covers_name(host):
            _refuse_blocked_name(host)
    else:
        reason = address_refusal(host, ip, policy)
        if reason is not None:
            raise UrlRefused(Refusal.BLOCKED_ADDRESS, f"{ip} is not reachable from here: it is {reason}.")

    if scheme == "http" and not (policy.allow_http_loopback and ip is not None and ip.is_loopback):
        raise UrlRefused(Refusal.PLAIN_HTTP, "Use https://: plain http:// would expose tokens and tool traffic.")
    port = DEFAULT_PORTS[scheme] if explicit_port is None else explicit_port
    if not 0 < port < 65536:
        raise UrlRefused(Refusal.PORT, f"Port {port} is not a valid port.")
    if policy.allowed_ports is not None and port not in policy.allowed_ports:
        allowed = ", ".join(str(p) for p in policy.allowed_ports)
        raise UrlRefused(Refusal.PORT, f"Port {port} is not allowed (allowed: {allowed}).")

    return ParsedTarget(scheme=scheme, host=host, port=port, ip=ip)


def _vet_host(hostname: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:
        if "%" in hostname:
            raise UrlRefused(Refusal.HOST_SYNTAX, "IPv6 zone ids (%eth0) are not allowed in a URL.")
        try:
            return hostname, ipaddress.IPv6Address(hostname)
        except ValueError:
            raise UrlRefused(Refusal.HOST_SYNTAX, f"'{hostname}' is not a valid IPv6 address.") from None

    if hostname.endswith("."):
        raise UrlRefused(Refusal.HOST_SYNTAX, "The host name must not end with a dot.")
    if not hostname.isascii():
        try:
            hostname = idna.encode(hostname).decode("ascii")
        except idna.IDNAError:
            raise UrlRefused(Refusal.HOST_SYNTAX, "The host name is not a valid internationalised name.") from None
    if len(hostname) > MAX_HOST_LENGTH:
        raise UrlRefused(Refusal.HOST_LENGTH, f"The host name is longer than {MAX_HOST_LENGTH} characters.")
    labels = hostname.split(".")
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise UrlRefused(Refusal.HOST_LENGTH, f"A host name label is longer than {MAX_LABEL_LENGTH} characters.")
        if not _LABEL.match(label):
            raise UrlRefused(Refusal.HOST_SYNTAX, f"'{hostname}' is not a valid host name.")

    if _NUMERIC_LABEL.match(labels[-1]):
        # Resolvers accept octal, hex and short forms (`0177.0.0.1`, `0x7f.1`, `127.1`); only dotted-quad is clear.
        if not _CANONICAL_IPV4.match(hostname):
            raise UrlRefused(Refusal.OBFUSCATED_IP, f"'{hostname}' is an IP address in a non-standard form.")
        return hostname, ipaddress.IPv4Address(hostname)
    return hostname, None


def _refuse_blocked_name(host: str) -> None:
    if host in _BLOCKED_NAMES or host.endswith(_BLOCKED_SUFFIXES):
        raise UrlRefused(Refusal.BLOCKED_NAME, f"'{host}' names this machine or a private or metadata service.")
    if "." not in host:
        # Single-label names resolve through local search domains (docker, k8s, corporate DNS).
        raise UrlRefused(Refusal.BLOCKED_NAME, f"'{host}' is not a fully qualified public host name.")
