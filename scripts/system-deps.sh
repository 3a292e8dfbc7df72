#!/usr/bin/env bash
# Installs the Debian packages Plugboard needs, if any is missing; used by `make system-deps` and
# `make system-deps-test`.
#
#   scripts/system-deps.sh runtime        what `make run` needs (the sandbox, its network, Node.js + npm)
#   scripts/system-deps.sh test           what only the tests need on top (chromium)
#
# Fast and silent when everything is there: each need is checked with `command -v` first. Otherwise the
# missing packages are installed with apt-get, directly as root, through `sudo` when it works without a
# password (`sudo -n true`); if neither is possible (or there is no apt-get) it prints the exact command to
# run and exits 1, so nothing starts half-installed.
#
# Environment: PYTHON (default python3) and VENV (default .venv), as in the Makefile: for `runtime`, when
# $VENV does not exist yet, $PYTHON and its venv module are checked too (Debian: python3, python3-venv).
# For trying this script out:
# SYSTEM_DEPS_UID (pretend to be this user id), SYSTEM_DEPS_SBIN (extra directories searched, default
# /usr/local/sbin:/usr/sbin:/sbin, which a normal user's PATH lacks; empty: PATH only),
# SYSTEM_DEPS_DRY_RUN=1 (print the install commands instead of running them).
set -euo pipefail

# command:Debian package, per group.
runtime_needs=(
  bwrap:bubblewrap
  slirp4netns:slirp4netns
  nft:nftables
  mkfs.ext4:e2fsprogs
  setpriv:util-linux
  nsenter:util-linux
  prlimit:util-linux
  ip:iproute2
  node:nodejs
  npm:npm
  npx:npm
)
test_needs=(
  chromium:chromium
)

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
uid=${SYSTEM_DEPS_UID:-$(id -u)}
sbin=${SYSTEM_DEPS_SBIN-/usr/local/sbin:/usr/sbin:/sbin}
dry_run=${SYSTEM_DEPS_DRY_RUN:-}
search_path=$PATH${sbin:+:$sbin}

[ "$#" -gt 0 ] || set -- runtime
needs=()
check_python=
for group in "$@"; do
  case $group in
    runtime) needs+=("${runtime_needs[@]}"); check_python=1 ;;
    test) needs+=("${test_needs[@]}") ;;
    *) echo "system-deps: unknown group '$group' (runtime or test)" >&2; exit 2 ;;
  esac
done

has() { PATH=$search_path command -v "$1" >/dev/null 2>&1; }

missing_cmds=()
missing_pkgs=()
add_pkg() {
  local p
  for p in ${missing_pkgs[@]+"${missing_pkgs[@]}"}; do [ "$p" = "$1" ] && return 0; done
  missing_pkgs+=("$1")
}

check() {
  missing_cmds=()
  missing_pkgs=()
  local need cmd
  for need in "${needs[@]}"; do
    cmd=${need%%:*}
    if ! has "$cmd"; then
      missing_cmds+=("$cmd")
      add_pkg "${need#*:}"
    fi
  done
  # Only needed to create the venv: Debian ships the venv module (and ensurepip) apart from python3.
  if [ -n "$check_python" ] && [ ! -x "$VENV/bin/python" ]; then
    if ! has "$PYTHON"; then
      missing_cmds+=("$PYTHON")
      add_pkg python3
      add_pkg python3-venv
    elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
      missing_cmds+=("$PYTHON -m venv")
      add_pkg python3-venv
    fi
  fi
}

check
[ "${#missing_pkgs[@]}" -eq 0 ] && exit 0

pkgs="${missing_pkgs[*]}"
echo "system-deps: missing ${missing_cmds[*]} (Debian packages: $pkgs)" >&2

if ! has apt-get; then
  echo "system-deps: apt-get is not available here; install those with your system's package manager," \
    "then run make again." >&2
  exit 1
fi

sudo=()
if [ "$uid" -ne 0 ]; then
  if has sudo && sudo -n true >/dev/null 2>&1; then
    sudo=(sudo)
  else
    if has sudo; then
      why="sudo needs a password here"
    else
      why="sudo is not installed"
    fi
    {
      echo "system-deps: not root and $why, so nothing was installed. Run this, then run make again:"
      echo
      echo "    sudo apt-get update && sudo apt-get install -y $pkgs"
      echo
      echo "(or as root: apt-get update && apt-get install -y $pkgs)"
    } >&2
    exit 1
  fi
fi

run() {
  if [ -n "$dry_run" ]; then
    echo "system-deps: would run: $*"
  else
    "$@"
  fi
}

echo "system-deps: installing $pkgs${sudo[*]:+ (with sudo)}"
run ${sudo[@]+"${sudo[@]}"} apt-get update
# shellcheck disable=SC2086  # $pkgs is a list of package names
run ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
[ -n "$dry_run" ] && exit 0

check
if [ "${#missing_cmds[@]}" -gt 0 ]; then
  echo "system-deps: still missing after the install: ${missing_cmds[*]}" >&2
  exit 1
fi
