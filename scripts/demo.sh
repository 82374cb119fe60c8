#!/usr/bin/env bash
# The README's first command: import a keepalived pair into a desired-state repository,
# validate it, and plan the move from the starter repository to it.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d "${TMPDIR:-/tmp}/keepgit-demo.XXXXXX")
trap 'rm -rf "$out"' EXIT
kg() { echo "\$ keepgit $*"; node bin/keepgit.js "$@"; }

kg import lb1=examples/keepalived-pair/lb1.conf lb2=examples/keepalived-pair/lb2.conf -o "$out/repo" --force
echo
kg validate "$out/repo" || exit 1
echo
kg plan repo-template "$out/repo"
rc=$?
[ "$rc" -le 1 ] || exit "$rc"
echo
echo "(the imported repository was in $out/repo; copy it with: keepgit import ... -o DIR)"
