#!/usr/bin/env bash
# Installs the Debian packages chatnight needs, only when missing: npm (fetches
# libchdb), openssl (checks its integrity), git; with --browser also chromium (the
# viewer's browser tests), which `make run` does not need.
set -euo pipefail
need=()
if [[ "${1:-}" == "--browser" ]]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v git >/dev/null 2>&1 || need+=(git)
[[ ${#need[@]} -eq 0 ]] && exit 0
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "system-deps: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "system-deps: installing ${need[*]} with apt-get" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
