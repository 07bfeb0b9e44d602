#!/usr/bin/env bash
# Build the dashboards from SERVING_DIR/serving.duckdb into SERVING_DIR/dashboards/ (static site).
#   SERVING_DIR=data/serving dashboards/scripts/build.sh     (default: <repo>/data/serving)
# One line per step; a failing step prints the tool's output. VERBOSE=1 shows everything.
# `npm ci` runs only when package.json, package-lock.json or the patch changed (stamp file in
# node_modules). The serving file is copied to dashboards/.serving/ first: never read in place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
serving_dir="${SERVING_DIR:-$here/../data/serving}"
serving_dir="$(cd "$serving_dir" 2>/dev/null && pwd)" || {
	echo "dashboards: SERVING_DIR ${SERVING_DIR:-$here/../data/serving} does not exist" >&2
	exit 1
}
out="$serving_dir/dashboards"
export SERVING_DIR="$serving_dir" SEND_ANONYMOUS_USAGE_STATS=no NODE_OPTIONS="${NODE_OPTIONS:-} --no-deprecation"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

step() {  # step <label> <command...>
	local label="$1" start=$SECONDS
	shift
	if [[ "${VERBOSE:-}" =~ ^(1|true|yes)$ ]]; then
		echo "dashboards: $label"
		"$@"
	elif ! "$@" >"$log" 2>&1; then
		echo "dashboards: $label FAILED" >&2
		cat "$log" >&2
		if grep -q 'ops does not exist\|Table with name .* does not exist' "$log"; then
			echo "dashboards: the serving file lacks a table the pages read (the ops schema is written by the publish step since it exists: re-run the pipeline)" >&2
		fi
		exit 1
	else
		echo "dashboards: $label ($((SECONDS - start)) s)"
	fi
}

cd "$here"
# One build at a time in this folder (make dashboards and a test run share .evidence/ and build/).
exec 9>"$here/.build.lock"
flock 9
command -v npm >/dev/null || { echo "dashboards: npm not found (Node 20 is needed)" >&2; exit 1; }
[[ -f "$serving_dir/serving.duckdb" ]] || { echo "dashboards: $serving_dir/serving.duckdb not found (run the pipeline first)" >&2; exit 1; }

stamp=node_modules/.install-stamp
want="$(cat package.json package-lock.json scripts/patch-evidence.mjs | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
	step "npm ci" npm ci --no-audit --no-fund
	echo "$want" >"$stamp"
else
	echo "dashboards: npm ci (up to date, skipped)"
fi

step "stage $serving_dir/serving.duckdb" node scripts/stage-serving.mjs
# An empty query result leaves the previous build's parquet file in place: start clean.
rm -rf .evidence/template/static/data
step "evidence sources" npx --no-install evidence sources --strict
step "evidence build" npx --no-install evidence build

# Swap the site in whole: readers see the old or the new one. `.*.tmp` is what the publish step
# removes after a kill.
tmp="$serving_dir/.dashboards.$$.tmp"
rm -rf "$tmp" "$serving_dir/.dashboards.old.tmp"
cp -R build "$tmp"
if [[ -d "$out" ]]; then mv "$out" "$serving_dir/.dashboards.old.tmp"; fi
mv "$tmp" "$out"
rm -rf "$serving_dir/.dashboards.old.tmp"
echo "dashboards: site in $out"
