#!/usr/bin/env bash
# Installs what the web client example and its browser tests need, once: Debian's Chromium
# (headless; a test tool's own browser download cannot reach the internet here) and the npm
# packages pinned in package-lock.json. Fails loudly when it cannot.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "FATAL: Node.js 20+ with npm is needed (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "FATAL: Node.js 20+ is needed, found $(node --version)" >&2
  exit 1
fi

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "installing Debian's chromium for the browser tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
if [ ! -x "$chromium" ]; then
  echo "FATAL: no Chromium at $chromium" >&2
  exit 1
fi

# npm ci only when the lock file is newer than the installed tree.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
