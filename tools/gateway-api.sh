#!/usr/bin/env bash
# The Gateway API CRDs (standard channel) the sandbox installs for a Gateway API edge, taken from the Go module
# sigs.k8s.io/gateway-api, which ships them under config/crd/standard/. Fetched once from the Go module proxy
# into a cache keyed by version (tools/bootstrap.sh runs this; readiness/sandbox/kubernetes/gateway_api.py
# runs it when the cache is empty).
#
#   tools/gateway-api.sh           fetch when missing (fast when cached)
#   tools/gateway-api.sh --print   print the cache folder (fetched or not)
#
# Output: ${READINESS_CACHE:-$HOME/.cache/prefect-readiness}/gateway-api-<version>/*.yaml
# Two runs against one cache do not race (flock); the files land in a private folder renamed into place.
# A failed fetch prints the go command's own output. (v1.7.0 needs Go 1.27.)
set -euo pipefail

VERSION="${GATEWAY_API_VERSION:-v1.6.3}"
MODULE="sigs.k8s.io/gateway-api"
CACHE="${READINESS_CACHE:-$HOME/.cache/prefect-readiness}"
TARGET="$CACHE/gateway-api-$VERSION"

log() { printf 'gateway-api: %s\n' "$*" >&2; }

if [[ "${1:-}" == "--print" ]]; then
  echo "$TARGET"
  exit 0
fi
[[ -f "$TARGET/.complete" ]] && { log "cached: $TARGET"; exit 0; }
command -v go >/dev/null || { log "Go is needed to fetch $MODULE@$VERSION (its CRDs)"; exit 1; }

mkdir -p "$CACHE"
exec 9>>"$CACHE/.gateway-api.lock"
if ! flock -n 9; then
  log "another fetch into $CACHE is running; waiting for it"
  flock 9
fi
[[ -f "$TARGET/.complete" ]] && exit 0

work="$(mktemp -d "$CACHE/.gateway-api.XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
log "fetching $MODULE@$VERSION from the Go module proxy (first time only)"
# go reports a module it cannot fetch in the JSON's "Error" (stdout), and other trouble on stderr: show both.
if ! GOWORK=off GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" >"$work/download.json" 2>"$work/log"; then
  log "go mod download $MODULE@$VERSION failed; go said:"
  cat "$work/log" "$work/download.json" >&2
  exit 1
fi
dir="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Dir"])' "$work/download.json")"
mkdir "$work/crds"
# The CustomResourceDefinitions only (the folder also holds a ValidatingAdmissionPolicy).
for file in "$dir"/config/crd/standard/*.yaml; do
  if grep -q '^kind: CustomResourceDefinition' "$file"; then
    cp "$file" "$work/crds/"
    chmod 0644 "$work/crds/$(basename "$file")"
  fi
done
ls "$work/crds"/*.yaml >/dev/null 2>&1 || { log "no CRD in $dir/config/crd/standard"; exit 1; }
touch "$work/crds/.complete"
rm -rf "$TARGET"
mv "$work/crds" "$TARGET"
log "$MODULE $VERSION CRDs in $TARGET after $(( $(date +%s) - started )) s"
