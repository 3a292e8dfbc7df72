"""The order of bubblewrap's mounts decides what a sandboxed server can see."""

from __future__ import annotations

from pathlib import Path

from app.runtime.sandbox import SANDBOX_HOME, bwrap_arguments


def _argv(read_only: tuple[str, ...]) -> list[str]:
    return bwrap_arguments(
        home=Path("/data/users/T1-U1/servers/s/home"),
        cwd_inside=SANDBOX_HOME,
        read_only=read_only,
        network=True,
        scratch_bytes=1024,
    )


def test_a_visible_path_under_tmp_is_mounted_after_the_private_tmp_so_it_stays_visible() -> None:
    argv = _argv(("/tmp/checkout/.venv",))
    tmpfs = argv.index("/tmp", argv.index("--tmpfs", argv.index("/dev/shm")))
    bind = argv.index("/tmp/checkout/.venv")
    assert bind > tmpfs


def test_the_private_home_is_bound_after_everything_it_could_be_shadowed_by() -> None:
    argv = _argv(("/usr", "/opt"))
    assert argv.index(SANDBOX_HOME) > max(argv.index("/usr"), argv.index("/opt"), argv.index("/tmp"))


def test_no_environment_value_is_passed_on_the_command_line() -> None:
    assert "--setenv" not in _argv(("/usr",))
