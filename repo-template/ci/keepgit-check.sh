#!/usr/bin/env bash
# Pull-request check for a keepgit desired-state repository: validate the head revision
# and print the plan from the base revision to it. Exit codes: 0 ok, 1 the head is
# refused (schema or policy), 2 an error running the check.
#
#   ci/keepgit-check.sh BASE_REV HEAD_REV
#
# Needs `keepgit` on PATH (npm install -g <keepgit checkout or package>), or set KEEPGIT.
set -euo pipefail
base=${1:?usage: keepgit-check.sh BASE_REV HEAD_REV}
head=${2:?usage: keepgit-check.sh BASE_REV HEAD_REV}
keepgit=${KEEPGIT:-keepgit}
repo=$(git rev-parse --show-toplevel)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Validate exactly what was committed at HEAD_REV, not the working tree.
git -C "$repo" archive "$head" | tar -x -C "$work"

echo "== keepgit validate ($head)"
$keepgit validate "$work"

echo
echo "== keepgit plan $base → $head"
$keepgit plan --repo "$repo" --from "$base" --to "$head" "${@:3}"
