#!/usr/bin/env bash
# The Go programs the tests run beside the sandbox, installed once from the Go module proxy into a cache
# keyed by version (tools/bootstrap.sh runs this; so do tox and CI through it).
#
#   tools/go-tools.sh              install what is missing (fast when everything is cached)
#   tools/go-tools.sh --print NAME print where NAME's binary lives (installed or not)
#
# Output: ${READINESS_CACHE:-$HOME/.cache/prefect-readiness}/go-tools/<name>-<version>/<name>
# Two runs against one cache do not race (flock); each binary is built in a private folder and renamed
# into place. A failed install prints the go command's own output. tests/go_tools.py reads TOOLS below.
set -euo pipefail

# name  module  version  package inside the module. Each module is built as its own main module (its own
# go.mod and go.sum, as its release pins them): fetched with `go mod download`, built with `go build`.
# (kustomize v5.8.3 needs Go 1.27; the Pushgateway's module list is not served, so `go install` refuses it.)
TOOLS=(
  "kustomize sigs.k8s.io/kustomize/kustomize/v5 v5.8.2 ."
  "pushgateway github.com/prometheus/pushgateway v1.11.1 ."
  "fake-gcs-server github.com/fsouza/fake-gcs-server v1.56.1 ."
  "promtool github.com/prometheus/prometheus v0.316.0 ./cmd/promtool"
)
CACHE="${READINESS_CACHE:-$HOME/.cache/prefect-readiness}/go-tools"

log() { printf 'go-tools: %s\n' "$*" >&2; }
path_of() { echo "$CACHE/$1-$2/$1"; }

if [[ "${1:-}" == "--print" ]]; then
  for entry in "${TOOLS[@]}"; do
    read -r name module version package <<<"$entry"
    [[ "$name" == "${2:-}" ]] && { path_of "$name" "$version"; exit 0; }
  done
  log "unknown tool ${2:-}"
  exit 2
fi

missing() {
  local entry name module version package
  for entry in "${TOOLS[@]}"; do
    read -r name module version package <<<"$entry"
    [[ -x "$(path_of "$name" "$version")" ]] || echo "$entry"
  done
}

[[ -z "$(missing)" ]] && { log "cached: $CACHE (nothing to install)"; exit 0; }
command -v go >/dev/null || { log "Go (>= 1.24) is needed to install: $(missing | cut -d' ' -f1 | tr '\n' ' ')"; exit 1; }

mkdir -p "$CACHE"
exec 9>>"$CACHE/.lock"
if ! flock -n 9; then
  log "another install into $CACHE is running; waiting for it"
  flock 9
fi

while read -r name module version package; do
  [[ -n "$name" ]] || continue
  target="$(path_of "$name" "$version")"
  [[ -x "$target" ]] && continue
  work="$(mktemp -d "$CACHE/.build.XXXXXX")"
  started=$(date +%s)
  log "building $name from $module@$version (first time only)"
  if ! dir="$(GOFLAGS="" go mod download -json "$module@$version" 2>"$work/log" |
      python3 -c '
import json, sys
info = json.load(sys.stdin)
if "Dir" not in info:  # go writes why (an unknown version, a proxy refusal) into the JSON, not stderr
    sys.exit(info.get("Error") or "go mod download gave no module directory")
print(info["Dir"])' 2>>"$work/log")" ||
     ! (cd "$dir" && CGO_ENABLED=0 GOWORK=off GOFLAGS="-mod=readonly" go build -trimpath -ldflags "-s -w" -o "$work/$name" \
          "$package") >>"$work/log" 2>&1; then
    log "building $name from $module@$version failed; go said:"
    cat "$work/log" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "$(dirname "$target")"
  mv -f "$work/$name" "$target"
  rm -rf "$work"
  log "$name $version built in $(( $(date +%s) - started )) s: $target"
done < <(missing)
