#!/usr/bin/env bash
# Runs every fuzz target of the module briefly; seed corpora live in testdata/fuzz/.
#
# The budget is a count of executions ("20000x"), not a duration: with a duration, Go
# before 1.27 can report a spurious "context deadline exceeded" failure when a worker is
# still running as the deadline passes on a loaded machine (golang/go#75804). A count has
# no deadline to race; -timeout still bounds a target that hangs.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime="${1:-20000x}"
go=${GO:-go}
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do
  for target in $(grep -h -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
    echo "fuzz: $dir $target ($fuzztime)"
    if ! $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -timeout 5m "$dir" >"$log" 2>&1; then
      cat "$log"
      echo "fuzz: $dir $target FAILED; the failing input was saved under $dir/testdata/fuzz/$target" >&2
      status=1
    fi
  done
done
exit $status
