#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh machine: uv, the locked Python environment and,
# with --broker, the mosquitto MQTT broker (Debian package) used by the tests.
# uv comes from PATH when installed, else it is installed from PyPI into .tools/ (a small
# venv inside the checkout), which works whatever the Python's user-site layout is.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--broker" ]] && ! command -v mosquitto >/dev/null 2>&1 && [[ ! -x /usr/sbin/mosquitto ]]; then
    echo "setup: installing mosquitto (Debian package)" >&2
    SUDO=""
    if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi
# deploy/mosquitto/make-certs.sh (secured-broker tests, first installs) needs the openssl CLI.
if [[ "${1:-}" == "--broker" ]] && ! command -v openssl >/dev/null 2>&1; then
    echo "setup: installing openssl (Debian package)" >&2
    SUDO=""
    if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

if command -v uv >/dev/null 2>&1; then
    UV=uv
else
    UV=.tools/bin/uv
    if [[ ! -x "$UV" ]]; then
        echo "setup: installing uv from PyPI into .tools/" >&2
        python3 -m venv .tools
        .tools/bin/python -m pip install --quiet --disable-pip-version-check uv
    fi
fi

# Bytecode is compiled at install time: the service runs with a read-only tree and the
# environment may set PYTHONDONTWRITEBYTECODE=1, so nothing would cache it later (issue 9:
# `alvhd --help` start-up 3.7 s without .pyc vs 1.5 s with, before lazy imports).
"$UV" sync --frozen --quiet --compile-bytecode
# The project itself is an editable install (a .pth pointing at this checkout), which
# --compile-bytecode does not cover: compile daemon/ and adapters/ here too. The interpreter
# still *reads* these .pyc under PYTHONDONTWRITEBYTECODE=1; without them every command
# compiled ~100 project modules on each start (issue 9: `alvhd config` 0.45 s -> 0.22 s,
# `alvhd replay` about 0.5 s less).
"$UV" run --frozen --no-sync python -m compileall -q -j 0 daemon adapters
