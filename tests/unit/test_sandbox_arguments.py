"""The order of bubblewrap's options decides what a sandboxed server can see and what it is."""

from __future__ import annotations

import struct

import pytest

from app.runtime.sandbox_mounts import (
    SANDBOX_HOME,
    Masks,
    isolation_arguments,
    setpriv_arguments,
    view_arguments,
)
from app.runtime.sandbox_network import REFUSED_NETWORKS, NetworkPlan
from app.runtime.seccomp_filter import DENIED_X86_64, SeccompUnavailable, filter_program

HOME = "/data/users/T1-U1/servers/s/home"


def _view(
    read_only: tuple[str, ...] = ("/usr", "/opt"),
    admin: tuple[str, ...] = (),
    masks: Masks | None = None,
    proc: str = "new",
) -> list[str]:
    return view_arguments(
        home=HOME,
        read_only=read_only,
        admin_read_only=admin,
        masks=masks or Masks(),
        scratch_bytes=1024,
        etc_files={"/etc/passwd": "/data/sandbox/passwd-200000"},
        proc=proc,
    )


def _position(argv: list[str], *option: str) -> int:
    for index in range(len(argv) - len(option) + 1):
        if tuple(argv[index : index + len(option)]) == option:
            return index
    raise AssertionError(f"{option} not in {argv}")


def test_a_visible_path_under_tmp_is_mounted_after_the_private_tmp_so_it_stays_visible() -> None:
    argv = _view(admin=("/tmp/checkout/.venv",))
    assert _position(argv, "--ro-bind-try", "/tmp/checkout/.venv", "/tmp/checkout/.venv") > _position(
        argv, "--tmpfs", "/tmp"
    )


def test_the_private_home_is_bound_after_everything_it_could_be_shadowed_by() -> None:
    argv = _view()
    home = _position(argv, "--bind", HOME, SANDBOX_HOME)
    assert home > max(_position(argv, "--ro-bind-try", "/usr", "/usr"), _position(argv, "--tmpfs", "/tmp"))


def test_no_environment_value_is_passed_on_the_command_line() -> None:
    assert "--setenv" not in _view()


def test_the_apps_folders_under_a_visible_system_folder_are_covered_by_an_empty_read_only_tmpfs() -> None:
    masks = Masks(folders=("/opt/plugboard/data",), files=("/opt/plugboard/.env",), empty_file="/d/empty")
    argv = _view(masks=masks)
    bind = _position(argv, "--ro-bind-try", "/opt", "/opt")
    tmpfs = _position(argv, "--tmpfs", "/opt/plugboard/data")
    assert bind < tmpfs < _position(argv, "--remount-ro", "/opt/plugboard/data")
    assert _position(argv, "--ro-bind", "/d/empty", "/opt/plugboard/.env") > bind


def test_an_admin_path_inside_a_masked_working_dir_is_bound_onto_the_mask_before_it_turns_read_only() -> None:
    masks = Masks(folders=("/opt/app",))
    argv = _view(admin=("/opt/app/.venv",), masks=masks)
    tmpfs = _position(argv, "--tmpfs", "/opt/app")
    venv = _position(argv, "--ro-bind-try", "/opt/app/.venv", "/opt/app/.venv")
    assert tmpfs < venv < _position(argv, "--remount-ro", "/opt/app")


def test_paths_nobody_shows_are_not_masked_at_all() -> None:
    argv = _view(masks=Masks(folders=("/srv/plugboard/data",), files=("/srv/plugboard/.env",)))
    assert "/srv/plugboard/data" not in argv and "/srv/plugboard/.env" not in argv


def test_folders_bwrap_creates_for_a_deep_bind_are_traversable_by_the_servers_uid() -> None:
    argv = _view(admin=("/root/.pyenv/versions/3.11.7",))
    assert _position(argv, "--perms", "0755", "--dir", "/root") < _position(
        argv, "--ro-bind-try", "/root/.pyenv/versions/3.11.7", "/root/.pyenv/versions/3.11.7"
    )


def test_the_outer_stage_binds_the_hosts_proc_for_the_inner_stage_to_cover_with_its_own() -> None:
    outer = _view(proc="bind")
    assert _position(outer, "--bind", "/proc", "/proc") and "--proc" not in outer
    single = _view(proc="new")
    assert _position(single, "--proc", "/proc") < _position(single, "--ro-bind", "/proc/sys", "/proc/sys")


def test_every_sandbox_gets_a_user_namespace_that_cannot_make_another_and_its_own_network_unless_host() -> None:
    argv = isolation_arguments(network="internet", disable_userns=True)
    assert _position(argv, "--unshare-user", "--disable-userns") and "--unshare-net" in argv
    assert "--cap-drop" in argv and "--unshare-pid" in argv
    assert "--unshare-net" not in isolation_arguments(network="host", disable_userns=True)


def test_setpriv_drops_groups_capabilities_and_the_bounding_set_for_good() -> None:
    argv = setpriv_arguments(200_001)
    assert {"--reuid=200001", "--regid=200001", "--clear-groups", "--no-new-privs", "--bounding-set=-all"} <= set(argv)


def test_the_network_plan_routes_allowed_networks_around_the_refused_ranges_but_never_to_the_host() -> None:
    plan = NetworkPlan(allow_networks=("203.0.113.0/24", "192.0.2.2/32"), host_addresses=("192.0.2.2",))
    routes = plan.route_commands().splitlines()
    assert all(f"route add unreachable {network}" in routes for network in REFUSED_NETWORKS)
    assert "route replace 203.0.113.0/24 via 10.0.2.2 dev tap0" in routes
    assert not any("192.0.2.2/32 via" in line for line in routes)
    assert routes[-1] == "route replace unreachable 192.0.2.2/32"
    ruleset = plan.nft_ruleset()
    assert ruleset.index("192.0.2.2") < ruleset.index("@allowed") < ruleset.index("@refused")
    assert "meta nfproto ipv6 reject" in ruleset


def test_the_network_plan_without_allowed_networks_has_no_empty_set() -> None:
    assert "@allowed" not in NetworkPlan().nft_ruleset()


def test_the_seccomp_program_checks_the_architecture_first_and_refuses_each_denied_call() -> None:
    program = filter_program("x86_64")
    instructions = [struct.unpack("<HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert instructions[0] == (0x20, 0, 0, 4)  # load the architecture
    compared = {k for code, _, _, k in instructions if code == 0x15}
    assert set(DENIED_X86_64.values()) <= compared
    assert instructions[-1][3] == 0x80000000  # unknown architecture: kill


def test_no_seccomp_program_is_made_for_an_architecture_it_does_not_know() -> None:
    with pytest.raises(SeccompUnavailable):
        filter_program("riscv64")
