"""Warnings shown on the consent message: what about this command deserves a second look.

Arguments are passed to the program literally (never through a shell), but a shell or interpreter that is
given code on its command line will run it: the flags below look inside each argument as a shell would.
"""

from __future__ import annotations

import os
import re

from app.domain.local_config import LocalServerConfig

_PRIVILEGE = {"sudo", "doas", "su", "pkexec", "runuser", "setpriv", "chroot", "nsenter"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "cmd", "powershell", "pwsh", "busybox"}
_INTERPRETER = re.compile(r"^(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|perl|ruby|php|lua|osascript)$")
_INLINE_CODE_FLAGS = {"-c", "-e", "--eval", "--exec", "--print", "-p", "--command", "--call", "-r", "--require"}
_INLINE_CODE_PREFIXES = ("--eval=", "--exec=", "--print=", "--command=", "--call=", "--require=")
# Programs that fetch and run a package: (program, subcommand words before the package, or None).
_RUNNERS: dict[str, tuple[str, ...]] = {
    "npx": (),
    "bunx": (),
    "pnpx": (),
    "uvx": (),
    "pipx": ("run",),
    "npm": ("exec",),
    "pnpm": ("dlx",),
    "yarn": ("dlx",),
    "uv": ("tool", "run"),
    "deno": ("run",),
}
_PACKAGE_OPTIONS = {"--from", "--package", "-p", "--spec"}
_OPTIONS_WITH_VALUE = {"--with", "--python", "--registry", "--cache", "--index-url"}
_EXACT_VERSION = re.compile(r"^v?\d+(\.\d+)*([-+][0-9A-Za-z.-]+)?$")
_SHELL_SYNTAX = re.compile(r"(\|\s*[\w/.]|&&|\|\||;|`|\$\(|>\s*[/~\w]|<\()")
_SENSITIVE = re.compile(
    r"(^|[/\s=~])(\.ssh|\.aws|\.gnupg|\.kube|\.docker|\.netrc|\.env|\.pgpass|id_rsa|id_ed25519|shadow|passwd)\b"
)
_SAFE_ABSOLUTE = ("/usr/", "/opt/", "/home/plugboard/", "/dev/null")
# Environment variables that are allowed but change where the server's code or traffic comes from.
_REGISTRY_ENV = re.compile(
    r"^(NPM_CONFIG_.*REGISTRY.*|YARN_REGISTRY|YARN_NPM_REGISTRY_SERVER|PNPM_.*REGISTRY.*|BUN_CONFIG_REGISTRY|"
    r"UV_.*INDEX.*|UV_FIND_LINKS|PIP_.*INDEX.*|PIP_FIND_LINKS)$"
)
_NPM_CONFIG_ENV = re.compile(r"^NPM_CONFIG_.+$")
_PROXY_ENV = re.compile(r"^.*_PROXY$")


def risk_flags(config: LocalServerConfig) -> list[str]:
    words = [config.command, *config.args]
    # What a shell would see, for arguments that are themselves command lines (`bash -c "sudo rm -rf /"`).
    tokens = [token for word in words for token in re.split(r"[\s;&|()`]+", word) if token]
    program = os.path.basename(config.command)
    flags: list[str] = []
    privileged = sorted({os.path.basename(t) for t in tokens} & _PRIVILEGE)
    if privileged:
        flags.append(f"`{privileged[0]}` asks for elevated privileges")
    if program in _SHELLS:
        flags.append(f"runs a shell (`{program}`)")
    if _recursive_delete(tokens):
        flags.append("contains `rm -rf` (a recursive delete)")
    if any(_SHELL_SYNTAX.search(w) for w in words):
        flags.append("contains shell syntax (pipes, `;`, `&&`, `$(…)`, redirects): a shell given this would run it")
    if inline := _inline_code(program, config.args):
        flags.append(f"inline-code flag {', '.join(f'`{f}`' for f in inline)}: runs code given on the command line")
    if (package := runner_package(program, config.args)) and not pinned(package):
        flags.append(f"`{program}` fetches `{package}` without an exact version; what runs can change later")
    outside = sorted({p for p in [*config.args, config.cwd or ""] if _outside_folder(p)})
    if outside:
        flags.append("uses paths outside your server folder: " + ", ".join(f"`{p[:80]}`" for p in outside[:5]))
    if any(_SENSITIVE.search(w) for w in words):
        flags.append("mentions credentials or key files (e.g. `.ssh`, `.aws`)")
    flags += [flag for name in config.env if (flag := env_flag(name))]
    return flags


def env_flag(name: str) -> str | None:
    """Why an allowed environment variable still deserves a look (its value is never shown), or None."""
    if _REGISTRY_ENV.match(name):
        return f"`{name}` points the package manager at another registry: what it downloads and runs comes from there"
    if name == "NO_PROXY":
        return "`NO_PROXY` chooses which hosts the server reaches without going through a proxy"
    if _PROXY_ENV.match(name):
        return f"`{name}` sends the server's traffic through a proxy you name: the proxy sees where it connects"
    if _NPM_CONFIG_ENV.match(name):
        return f"`{name}` changes how npm fetches and installs the packages it runs"
    return None


def _recursive_delete(tokens: list[str]) -> bool:
    for index, token in enumerate(tokens):
        if os.path.basename(token) not in {"rm", "rmdir", "shred"}:
            continue
        options = ""
        for option in tokens[index + 1 :]:
            if not option.startswith("-"):
                break
            options += {"--recursive": "r", "--force": "f"}.get(option, option if not option.startswith("--") else "")
        if "r" in options.lower():
            return True
    return False


def _inline_code(program: str, args: tuple[str, ...]) -> list[str]:
    found = {a for a in args if a in _INLINE_CODE_FLAGS or a.startswith(_INLINE_CODE_PREFIXES)}
    if program in _SHELLS or _INTERPRETER.match(program):
        # Clustered short options: `bash -ec`, `python3 -Sc`, `node -pe`.
        found |= {a for a in args if re.fullmatch(r"-[A-Za-z]*[ceE][A-Za-z]*", a)}
    if program in _RUNNERS:
        found.discard("-p")  # `npx -p pkg`: the package, not code
    return sorted(a.split("=", 1)[0] for a in found)


def runner_package(program: str, args: tuple[str, ...]) -> str | None:
    """The package a runner such as `npx -y pkg` fetches, or None when the program is not a runner."""
    if program not in _RUNNERS:
        return None
    subcommand = _RUNNERS[program]
    rest = list(args)
    if subcommand:
        if tuple(rest[: len(subcommand)]) != subcommand:
            return None
        rest = rest[len(subcommand) :]
    for index, arg in enumerate(rest):
        name, _, value = arg.partition("=")
        if name in _PACKAGE_OPTIONS:  # `uvx --from pkg==1.0 cmd`, `npx --package=pkg cmd`: that is the package
            return value or (rest[index + 1] if index + 1 < len(rest) else None)
    skip_next = False
    for arg in rest:
        if skip_next:
            skip_next = False
            continue
        if arg in _OPTIONS_WITH_VALUE:
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def pinned(package: str) -> bool:
    """`pkg@1.2.3`, `@scope/pkg@1.2.3`, `pkg==1.2.3`; not `pkg`, `pkg@latest`, `pkg@^1`, `git+https://…`."""
    if "==" in package:
        return bool(_EXACT_VERSION.match(package.split("==", 1)[1]))
    name = package[1:] if package.startswith("@") else package
    if "@" not in name or "://" in package:
        return False
    return bool(_EXACT_VERSION.match(name.rsplit("@", 1)[1]))


def _outside_folder(word: str) -> bool:
    value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
    if value.startswith(("/", "~")):
        return value != "/home/plugboard" and not value.startswith(_SAFE_ABSOLUTE)
    return ".." in re.split(r"[/\\]", value)
