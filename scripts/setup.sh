#!/usr/bin/env bash
# Sets up repair-agent on a fresh Debian/Ubuntu machine: a Docker engine (installed and
# started when none answers), bubblewrap, the project in .venv/, the sandbox's root file
# system and image (built offline), the model server's environment and the bundled model.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    if [ ! -f /tmp/.repair-agent-apt-updated ]; then
        as_root apt-get update -qq && touch /tmp/.repair-agent-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# 1. A Docker engine that answers.
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1; then
        log "installing the Docker engine (docker.io)"
        apt_install docker.io
    fi
    log "starting dockerd (log: /var/log/repair-agent-dockerd.log)"
    as_root sh -c 'setsid nohup dockerd > /var/log/repair-agent-dockerd.log 2>&1 < /dev/null &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/repair-agent-dockerd.log"; exit 2; }
fi
command -v debootstrap >/dev/null 2>&1 || { log "installing debootstrap (builds the sandbox's root file system offline)"; apt_install debootstrap; }
command -v bwrap >/dev/null 2>&1 || { log "installing bubblewrap (the sandbox where no Docker engine runs)"; apt_install bubblewrap; }
command -v chromium >/dev/null 2>&1 || { log "installing Chromium (the browser the run page's tests drive)"; apt_install chromium; }

# 2. The project in .venv/.
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import agent, sandbox, eval, pytest, ray, playwright" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
    log "installing repair-agent and its dependencies into .venv (with the test and Ray extras)"
    .venv/bin/pip install -q --disable-pip-version-check -e ".[test,ray]" 2> >(grep -v "WARNING: Location" >&2)
    touch .venv/.installed
fi

# 3. The sandbox's root file system and image (once; reused afterwards).
.venv/bin/agent sandbox build

# 4. The model server's environment and the bundled model (once; cached in ~/.cache/repair-agent).
.venv/bin/agent model pull
log "ready: .venv/bin/agent"
