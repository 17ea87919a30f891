#!/usr/bin/env bash
# Fetches libchdb.so (the ClickHouse engine as a library) into a cache outside the repo.
# The npm tarball is checked against the integrity hash pinned below; once the library is
# cached nothing is downloaded again, so later runs work offline.
set -euo pipefail

PKG="@chdb/lib-linux-x64-gnu"
VERSION="26.7.3-stable.1"
# sha512 integrity of the npm tarball, as the registry publishes it (npm view PKG@VERSION dist.integrity).
INTEGRITY="${CHATNIGHT_CHDB_INTEGRITY:-sha512-XP97mMqnc5tZpKQywR8N7cLTsHNiTmHr30pC5mzo3jWmukjKn2IBa60c2B/gWUNcuFjOMjWoorQICCqBVj5wpw==}"

cache="${CHATNIGHT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatnight}"
dest="$cache/chdb/$VERSION"
lib="$dest/libchdb.so"
stamp="$dest/libchdb.so.ok"

if [[ -f "$lib" && -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$(stat -c %s "$lib")" ]]; then
  echo "$lib"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-libchdb: npm is needed to fetch libchdb (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
work="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "fetch-libchdb: downloading $PKG@$VERSION (about 180 MB, once)..." >&2
( cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null )
tgz="$(ls "$work"/*.tgz)"

got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [[ "$got" != "$INTEGRITY" ]]; then
  echo "fetch-libchdb: integrity mismatch for $PKG@$VERSION" >&2
  echo "  expected $INTEGRITY" >&2
  echo "  got      $got" >&2
  echo "  delete $dest and try again; if it persists the registry copy changed: check the version" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$work" package/libchdb.so
mv -f "$work/package/libchdb.so" "$lib"
stat -c %s "$lib" > "$stamp"
echo "fetch-libchdb: cached $lib" >&2
echo "$lib"
