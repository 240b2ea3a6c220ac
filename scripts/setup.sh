#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh machine: uv, the locked Python environment and,
# with --broker, the mosquitto MQTT broker (Debian package) used by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--broker" ]] && ! command -v mosquitto >/dev/null 2>&1 && [[ ! -x /usr/sbin/mosquitto ]]; then
    echo "setup: installing mosquitto (Debian package)" >&2
    SUDO=""
    if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
    echo "setup: installing uv (from PyPI)" >&2
    python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
    export PATH="$HOME/.local/bin:$PATH"
fi

uv sync --frozen --quiet
