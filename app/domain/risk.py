"""Warnings shown on the consent message: what about this command deserves a second look."""

from __future__ import annotations

import os
import re

from app.domain.local_config import LocalServerConfig

_PRIVILEGE = {"sudo", "doas", "su", "pkexec", "runuser"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "cmd", "powershell", "pwsh"}
_INLINE_CODE_FLAGS = {"-c", "-e", "--eval", "--exec", "-x", "--print", "-p", "--command", "--call", "-r", "--require"}
_RUNNERS = {"npx", "bunx", "pnpx", "uvx", "pipx"}
_SHELL_SYNTAX = re.compile(r"(\|\s*\w|&&|\|\||;|`|\$\(|>\s*/|<\()")
_SENSITIVE = re.compile(r"(^|/)(\.ssh|\.aws|\.gnupg|\.kube|\.docker|\.netrc|\.env|id_rsa|id_ed25519|shadow|passwd)\b")


def risk_flags(config: LocalServerConfig) -> list[str]:
    words = [config.command, *config.args]
    program = os.path.basename(config.command)
    flags: list[str] = []
    if program in _PRIVILEGE:
        flags.append(f"`{program}` asks for elevated privileges")
    if program in _SHELLS:
        flags.append(f"runs a shell (`{program}`)")
    if any(_is_recursive_delete(words, i) for i in range(len(words))):
        flags.append("contains `rm -rf`")
    if any(_SHELL_SYNTAX.search(w) for w in config.args):
        flags.append("arguments contain shell syntax (pipes, `;`, `&&`, `$(…)`); they are passed literally")
    inline = sorted({a for a in config.args if a in _INLINE_CODE_FLAGS or a.startswith("--eval=")})
    if inline:
        flags.append(f"inline-code flag {', '.join(f'`{f}`' for f in inline)}: runs code given on the command line")
    if program in _RUNNERS and (package := _first_package(config.args)) and not _pinned(package):
        flags.append(f"`{program}` fetches `{package}` without a pinned version; what runs can change later")
    outside = sorted(
        {
            p
            for p in [*config.args, config.cwd or ""]
            if p.startswith(("/", "~")) and not p.startswith(("/usr/", "/opt/", "/home/plugboard"))
        }
    )
    if outside:
        flags.append("uses paths outside your server folder: " + ", ".join(f"`{p[:80]}`" for p in outside[:5]))
    if any(_SENSITIVE.search(w) for w in words):
        flags.append("mentions credentials or key files (e.g. `.ssh`, `.aws`)")
    return flags


def _is_recursive_delete(words: list[str], index: int) -> bool:
    if os.path.basename(words[index]) != "rm" and not words[index].startswith("rm "):
        return "rm -rf" in words[index] or "rm -fr" in words[index]
    rest = words[index + 1 : index + 4]
    return any(w.startswith("-") and "r" in w.lower() and "f" in w.lower() for w in rest)


def _first_package(args: tuple[str, ...]) -> str | None:
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in {"--from", "--package", "-p", "--with"}:
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def _pinned(package: str) -> bool:
    name = package[1:] if package.startswith("@") else package
    if "@" in name:
        version = name.rsplit("@", 1)[1]
        return bool(version) and version not in {"latest", "next"}
    return "==" in package
