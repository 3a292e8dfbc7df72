"""The pure egress URL/IP rules (security.md §2.2, §4 items 14-21)."""

from __future__ import annotations

import ipaddress

import pytest

from app.security.url_policy import (
    EgressPolicy,
    ParsedTarget,
    Refusal,
    UrlRefused,
    address_refusal,
    check_url,
    ip_allowed,
)

PROD = EgressPolicy()
ANY_PORT = EgressPolicy(allowed_ports=None)
LOOPBACK_DEV = EgressPolicy(allowed_hosts=("127.0.0.0/8", "::1/128"), allow_http_loopback=True, allowed_ports=None)


def refusal(url: str, policy: EgressPolicy = ANY_PORT) -> Refusal:
    with pytest.raises(UrlRefused) as caught:
        check_url(url, policy)
    assert caught.value.reason  # always something to show the user
    return caught.value.code


@pytest.mark.parametrize(
    ("url", "code"),
    [
        # §4.14 metadata
        ("http://169.254.169.254/latest/meta-data/", Refusal.BLOCKED_ADDRESS),
        ("https://169.254.169.254/", Refusal.BLOCKED_ADDRESS),
        ("https://[fd00:ec2::254]/", Refusal.BLOCKED_ADDRESS),
        ("https://metadata.google.internal/computeMetadata/v1/", Refusal.BLOCKED_NAME),
        ("https://metadata/", Refusal.BLOCKED_NAME),
        # §4.15 this host
        ("https://localhost/", Refusal.BLOCKED_NAME),
        ("https://LOCALHOST/", Refusal.BLOCKED_NAME),
        ("https://evil.localhost/", Refusal.BLOCKED_NAME),
        ("https://127.0.0.1:6379/", Refusal.BLOCKED_ADDRESS),
        ("https://0.0.0.0/", Refusal.BLOCKED_ADDRESS),
        ("https://[::]/", Refusal.BLOCKED_ADDRESS),
        ("https://[::1]/", Refusal.BLOCKED_ADDRESS),
        # §4.16 encodings
        ("https://2130706433/", Refusal.OBFUSCATED_IP),
        ("https://0x7f.1/", Refusal.OBFUSCATED_IP),
        ("https://0x7f000001/", Refusal.OBFUSCATED_IP),
        ("https://0177.0.0.1/", Refusal.OBFUSCATED_IP),
        ("https://127.1/", Refusal.OBFUSCATED_IP),
        ("https://127.0.0.01/", Refusal.OBFUSCATED_IP),
        ("https://[::ffff:127.0.0.1]/", Refusal.BLOCKED_ADDRESS),
        ("https://[::ffff:8.8.8.8]/", Refusal.BLOCKED_ADDRESS),
        ("https://[::127.0.0.1]/", Refusal.BLOCKED_ADDRESS),
        ("https://[64:ff9b::a9fe:a9fe]/", Refusal.BLOCKED_ADDRESS),
        ("https://[64:ff9b:1::a9fe:a9fe]/", Refusal.BLOCKED_ADDRESS),
        ("https://[2002:a9fe:a9fe::]/", Refusal.BLOCKED_ADDRESS),
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", Refusal.BLOCKED_ADDRESS),
        ("https://%31%32%37.0.0.1/", Refusal.HOST_SYNTAX),
        # §4.17 private ranges
        ("https://10.0.0.1/", Refusal.BLOCKED_ADDRESS),
        ("https://172.16.0.1/", Refusal.BLOCKED_ADDRESS),
        ("https://172.31.255.255/", Refusal.BLOCKED_ADDRESS),
        ("https://192.168.1.1/", Refusal.BLOCKED_ADDRESS),
        ("https://100.64.0.1/", Refusal.BLOCKED_ADDRESS),
        ("https://[fc00::1]/", Refusal.BLOCKED_ADDRESS),
        ("https://[fd12:3456::1]/", Refusal.BLOCKED_ADDRESS),
        ("https://[fe80::1]/", Refusal.BLOCKED_ADDRESS),
        ("https://[fe80::1%25eth0]/", Refusal.HOST_SYNTAX),
        ("https://224.0.0.1/", Refusal.BLOCKED_ADDRESS),
        ("https://[ff02::1]/", Refusal.BLOCKED_ADDRESS),
        ("https://255.255.255.255/", Refusal.BLOCKED_ADDRESS),
        # §4.20/§4.21 schemes, downgrade, credentials, fragments, lengths
        ("javascript:alert(1)", Refusal.SCHEME),
        ("data:text/html,<script>", Refusal.SCHEME),
        ("file:///etc/passwd", Refusal.SCHEME),
        ("gopher://example.com:6379/_INFO", Refusal.SCHEME),
        ("ftp://example.com/", Refusal.SCHEME),
        ("//example.com/", Refusal.SCHEME),
        ("http://example.com/", Refusal.PLAIN_HTTP),
        ("https://u:p@example.com/", Refusal.USERINFO),
        ("https://token@example.com/", Refusal.USERINFO),
        ("https://example.com/#frag", Refusal.FRAGMENT),
        ("https://example.com/#", Refusal.FRAGMENT),
        ("https://" + "a" * 300 + ".example.com/", Refusal.HOST_LENGTH),
        ("https://" + "a" * 64 + ".example.com/", Refusal.HOST_LENGTH),
        ("https://" + ".".join(["a" * 60] * 5) + "/", Refusal.HOST_LENGTH),
        ("https:///path", Refusal.HOST_SYNTAX),
        ("https://exa_mple.com/", Refusal.HOST_SYNTAX),
        ("https://a..b.com/", Refusal.HOST_SYNTAX),
        ("https://example.com./", Refusal.HOST_SYNTAX),
        ("https://example.com\\@127.0.0.1/", Refusal.MALFORMED),
        ("https://example.com /", Refusal.MALFORMED),
        ("https://example.com:99999/", Refusal.MALFORMED),
        ("https://[::1/", Refusal.MALFORMED),
        ("https://example.com:0/", Refusal.PORT),
        ("https://redis/", Refusal.BLOCKED_NAME),
        ("https://printer.local/", Refusal.BLOCKED_NAME),
        ("https://db.internal/", Refusal.BLOCKED_NAME),
    ],
)
def test_hostile_url_is_refused_with_a_specific_code(url: str, code: Refusal) -> None:
    assert refusal(url) == code


@pytest.mark.parametrize("url", ["https://example.com:22/", "https://example.com:25/", "https://example.com:8443/"])
def test_production_policy_allows_only_port_443(url: str) -> None:
    assert refusal(url, PROD) == Refusal.PORT


def test_public_https_url_is_accepted_with_normalised_target() -> None:
    assert check_url("https://MCP.Example.com/mcp?x=1", PROD) == ParsedTarget(
        scheme="https", host="mcp.example.com", port=443, ip=None
    )


def test_internationalised_host_is_checked_in_its_idna_form() -> None:
    assert check_url("https://münchen.example/", PROD).host == "xn--mnchen-3ya.example"


def test_canonical_public_ip_literals_are_accepted() -> None:
    assert check_url("https://8.8.8.8/", PROD).ip == ipaddress.IPv4Address("8.8.8.8")
    assert check_url("https://[2606:4700::1111]/", PROD).ip == ipaddress.IPv6Address("2606:4700::1111")


def test_plain_http_to_loopback_needs_both_the_flag_and_an_allowed_network() -> None:
    assert check_url("http://127.0.0.1:8080/mcp", LOOPBACK_DEV).port == 8080
    assert check_url("http://[::1]:8080/mcp", LOOPBACK_DEV).port == 8080
    no_http = EgressPolicy(allowed_hosts=("127.0.0.0/8",), allowed_ports=None)
    assert refusal("http://127.0.0.1:8080/", no_http) == Refusal.PLAIN_HTTP
    no_network = EgressPolicy(allow_http_loopback=True, allowed_ports=None)
    assert refusal("http://127.0.0.1:8080/", no_network) == Refusal.BLOCKED_ADDRESS


def test_http_loopback_flag_does_not_allow_http_to_other_allowed_hosts() -> None:
    policy = EgressPolicy(allowed_hosts=("10.0.0.0/8", "wiki.corp.internal"), allow_http_loopback=True)
    assert refusal("http://10.1.2.3/", policy) == Refusal.PLAIN_HTTP
    assert refusal("http://wiki.corp.internal/", policy) == Refusal.PLAIN_HTTP
    assert check_url("https://10.1.2.3/", policy).ip == ipaddress.IPv4Address("10.1.2.3")
    assert check_url("https://wiki.corp.internal/", policy).host == "wiki.corp.internal"


def test_loopback_allowance_does_not_extend_to_names_or_other_encodings() -> None:
    assert refusal("http://localhost:8080/", LOOPBACK_DEV) == Refusal.BLOCKED_NAME
    assert refusal("http://127.1:8080/", LOOPBACK_DEV) == Refusal.OBFUSCATED_IP
    assert refusal("http://[::ffff:127.0.0.1]:8080/", LOOPBACK_DEV) == Refusal.BLOCKED_ADDRESS


def test_wildcard_allowed_host_covers_subdomains_but_not_the_apex() -> None:
    policy = EgressPolicy(allowed_hosts=("*.corp.internal",))
    assert check_url("https://wiki.corp.internal/", policy).host == "wiki.corp.internal"
    assert refusal("https://corp.internal/", policy) == Refusal.BLOCKED_NAME


def test_malformed_allowed_hosts_entry_fails_loudly() -> None:
    with pytest.raises(ValueError):
        EgressPolicy(allowed_hosts=("10.0.0.1/8",))  # host bits set: almost certainly a typo
    with pytest.raises(ValueError):
        EgressPolicy(allowed_hosts=("",))


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.0.1",
        "169.254.169.254", "169.254.0.1", "172.16.0.1", "192.0.0.8", "192.0.2.1", "192.168.0.1", "198.18.0.1",
        "198.19.255.255", "198.51.100.1", "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
        "255.255.255.255",
        "::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
        "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1", "2002:a9fe:a9fe::1", "fc00::1",
        "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1", "ff0e::1", "100::1", "3fff::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert not ip_allowed(ipaddress.ip_address(address), ANY_PORT)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "2a00:1450::1"])
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert ip_allowed(ipaddress.ip_address(address), PROD)


def test_allowed_networks_open_exactly_their_range() -> None:
    policy = EgressPolicy(allowed_hosts=("127.0.0.0/8", "::1/128", "10.20.0.0/16"))
    assert ip_allowed(ipaddress.ip_address("127.0.0.5"), policy)
    assert ip_allowed(ipaddress.ip_address("::1"), policy)
    assert ip_allowed(ipaddress.ip_address("10.20.3.4"), policy)
    assert not ip_allowed(ipaddress.ip_address("10.21.0.1"), policy)
    assert not ip_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), policy)  # v4 network never covers v6 forms


def test_allowed_name_may_resolve_to_private_space_but_never_to_metadata_or_link_local() -> None:
    policy = EgressPolicy(allowed_hosts=("wiki.corp.internal",))
    assert address_refusal("wiki.corp.internal", ipaddress.ip_address("10.1.2.3"), policy) is None
    assert address_refusal("wiki.corp.internal", ipaddress.ip_address("fd12::1"), policy) is None
    for hostile in ("169.254.169.254", "fd00:ec2::254", "fe80::1", "0.0.0.0", "::ffff:10.0.0.1", "224.0.0.1"):
        assert address_refusal("wiki.corp.internal", ipaddress.ip_address(hostile), policy) is not None
    assert address_refusal("other.example", ipaddress.ip_address("10.1.2.3"), policy) is not None
