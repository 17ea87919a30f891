#!/usr/bin/env bash
# Runs every fuzz target of the module briefly; seed corpora live in testdata/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime="${1:-4s}"
go=${GO:-go}
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
  for target in $(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
    echo "fuzz: $dir $target ($fuzztime)"
    if ! $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir" >"$log" 2>&1; then
      cat "$log"
      echo "fuzz: $dir $target FAILED; the failing input was saved under $dir/testdata/fuzz/$target" >&2
      status=1
    fi
  done
done
exit $status
