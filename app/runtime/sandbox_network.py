"""Internet for a sandboxed server, and nothing of the host: slirp4netns plus routes and nftables in its netns.

The server's network namespace starts with loopback only. Before the server is let go (bwrap waits on its
--block-fd), `attach` gives it a tap device through slirp4netns, with the host's loopback disabled, then, as
the namespace's owner, adds unreachable routes for every range that is not the public internet (so even a
route lookup fails) and an nftables ruleset that rejects the same ranges and every address of the host
(belt and braces, and IPv6 altogether). The server never holds CAP_NET_ADMIN, so it cannot change either.
DNS goes to slirp's forwarder 10.0.2.3, which asks the host's resolver on the server's behalf.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

SLIRP_NETWORK = "10.0.2.0/24"
SLIRP_GATEWAY = "10.0.2.2"  # slirp maps it to the host's loopback unless --disable-host-loopback
SLIRP_DNS = "10.0.2.3"
SLIRP_ADDRESS = "10.0.2.100"  # slirp4netns's default address for the namespace's side
SLIRP_MTU = 65520
RESOLV_CONF = f"nameserver {SLIRP_DNS}\noptions timeout:2 attempts:2\n"
NS_GET_USERNS = 0xB701
# Never reachable from a sandbox: this-network, private, CGNAT, loopback, link-local (metadata), IETF protocol
# assignments, documentation, benchmarking, multicast and reserved ranges.
REFUSED_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
SETUP_SECONDS = 10.0


class NetworkSetupError(Exception):
    """The sandbox's network could not be set up; the server is not started."""


@dataclass(frozen=True)
class NetworkPlan:
    """What a sandbox may reach: the public internet, plus the admin's `allow_networks`, never the host."""

    allow_networks: tuple[str, ...] = ()
    host_addresses: tuple[str, ...] = ()

    def _allowed(self) -> list[ipaddress.IPv4Network]:
        nets = [ipaddress.ip_network(n, strict=False) for n in self.allow_networks]
        return [n for n in nets if isinstance(n, ipaddress.IPv4Network)]

    def _host(self) -> list[str]:
        return sorted({a for a in self.host_addresses if ipaddress.ip_address(a).version == 4})

    def route_commands(self) -> str:
        """`ip -batch` input: the tap device's address and default route (not slirp4netns --configure: that
        also brings up `lo`, racing bwrap's own loopback set-up, which then fails), then the filter routes.
        More specific routes win, so allowed networks beat the refused ranges and each host address (a /32)
        beats an allowed network that holds it."""
        host = {f"{a}/32" for a in self._host()}
        lines = [
            f"link set tap0 mtu {SLIRP_MTU}",
            f"addr add {SLIRP_ADDRESS}/24 dev tap0",
            "link set tap0 up",
            f"route add default via {SLIRP_GATEWAY} dev tap0",
        ]
        lines += [f"route add unreachable {network}" for network in REFUSED_NETWORKS]
        lines += [f"route replace {n} via {SLIRP_GATEWAY} dev tap0" for n in self._allowed() if str(n) not in host]
        lines += [f"route replace unreachable {a}" for a in sorted(host)]
        return "\n".join(lines) + "\n"

    def nft_ruleset(self) -> str:
        allowed = ", ".join(str(n) for n in self._allowed())
        host = ", ".join(self._host())
        rules = [
            'oifname "lo" accept',
            f"ip daddr {SLIRP_DNS} meta l4proto {{ tcp, udp }} th dport 53 accept",
            f"ip daddr {SLIRP_NETWORK} reject with icmp type admin-prohibited",
        ]
        if host:
            rules.append(f"ip daddr {{ {host} }} reject with icmp type admin-prohibited")
        if allowed:
            rules.append("ip daddr @allowed accept")
        rules += ["ip daddr @refused reject with icmp type admin-prohibited", "meta nfproto ipv6 reject"]
        allowed_set = (
            f"  set allowed {{ type ipv4_addr; flags interval; auto-merge; elements = {{ {allowed} }} }}\n"
            if allowed
            else ""
        )
        refused = ", ".join(REFUSED_NETWORKS)
        body = "\n".join(f"    {rule}" for rule in rules)
        return (
            "table inet plugboard_sandbox {\n"
            f"{allowed_set}"
            f"  set refused {{ type ipv4_addr; flags interval; auto-merge; elements = {{ {refused} }} }}\n"
            "  chain out {\n"
            "    type filter hook output priority 0; policy accept;\n"
            f"{body}\n"
            "  }\n"
            "}\n"
        )


def host_addresses() -> tuple[str, ...]:
    """Every IPv4 address of the host's interfaces (`ip -4 -o addr`), which a sandbox must never reach."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = []
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            found.append(parts[parts.index("inet") + 1].split("/")[0])
    return tuple(found)


@dataclass
class AttachedNetwork:
    """The slirp4netns process serving one sandbox; `close` ends it (its exit pipe closes with us too)."""

    process: subprocess.Popen[bytes]
    exit_write: int
    fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.exit_write)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def read_child_pid(info_read: int, deadline: float) -> int:
    """bwrap writes a JSON object with "child-pid" to its --info-fd once the namespaces exist."""
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([info_read], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(info_read, 4096)
        if not chunk:
            break
        data += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(data)["child-pid"])
    raise NetworkSetupError("the sandbox did not report its process (bubblewrap failed to start; see stderr)")


def attach(
    child_pid: int,
    plan: NetworkPlan,
    *,
    uid: int | None,
    tun_gid: int | None,
    deadline: float,
) -> AttachedNetwork:
    """Give the namespace of `child_pid` its filtered internet. Runs in a worker thread.

    `uid`: when Plugboard is root, slirp4netns runs as the server's own uid (with only the tun group added);
    otherwise as ourselves. The namespace is owned by the user namespace bwrap made for the sandbox, which we
    find with NS_GET_USERNS (the server's own /proc/N/ns/user is a nested one and does not own it)."""
    net_fd = os.open(f"/proc/{child_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    user_fd = fcntl.ioctl(net_fd, NS_GET_USERNS)
    ready_read, ready_write = os.pipe()
    exit_read, exit_write = os.pipe()
    drop: list[str] = []
    if uid is not None:
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--inh-caps=-all", "--no-new-privs"]
        drop += [f"--groups={tun_gid}"] if tun_gid is not None else ["--clear-groups"]
        drop.append("--")
    slirp = [
        *drop,
        "slirp4netns",
        f"--mtu={SLIRP_MTU}",
        "--disable-host-loopback",
        "--enable-seccomp",
        f"--ready-fd={ready_write}",
        f"--exit-fd={exit_read}",
        f"--userns-path=/proc/self/fd/{user_fd}",
        "--netns-type=path",
        f"/proc/self/fd/{net_fd}",
        "tap0",
    ]
    fds = [net_fd, user_fd, ready_read]
    try:
        process = subprocess.Popen(
            slirp,
            pass_fds=(ready_write, exit_read, user_fd, net_fd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        for fd in (*fds, ready_write, exit_read, exit_write):
            os.close(fd)
        raise NetworkSetupError(f"slirp4netns could not start: {exc.strerror}") from None
    os.close(ready_write)
    os.close(exit_read)
    attached = AttachedNetwork(process, exit_write, fds)
    try:
        _wait_ready(process, ready_read, deadline)
        enter = ["nsenter", f"--net=/proc/self/fd/{net_fd}"]
        if uid is None:  # not root: become the namespace owner's root to configure it
            enter.insert(1, f"--user=/proc/self/fd/{user_fd}")
        _run([*enter, "--", "ip", "-batch", "-"], plan.route_commands(), (net_fd, user_fd), deadline)
        _run([*enter, "--", "nft", "-f", "-"], plan.nft_ruleset(), (net_fd, user_fd), deadline)
    except BaseException:
        attached.close()
        raise
    return attached


def _wait_ready(process: subprocess.Popen[bytes], ready_read: int, deadline: float) -> None:
    ready, _, _ = select.select([ready_read], [], [], max(0.0, deadline - time.monotonic()))
    if ready and os.read(ready_read, 1) == b"1":
        return
    code = process.poll()
    detail = f" (it exited with status {code})" if code is not None else ""
    raise NetworkSetupError(f"slirp4netns did not get ready{detail}")


def _run(argv: Sequence[str], stdin: str, fds: tuple[int, ...], deadline: float) -> None:
    try:
        done = subprocess.run(
            list(argv),
            input=stdin.encode(),
            capture_output=True,
            pass_fds=fds,
            timeout=max(0.1, deadline - time.monotonic()),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkSetupError(f"`{argv[-3]}` failed in the sandbox's network: {exc}") from None
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise NetworkSetupError(f"`{argv[-3]}` failed in the sandbox's network: {last[0][:200]}")
