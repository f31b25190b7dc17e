#!/usr/bin/env bash
# Install the pinned Colyseus server + test dependencies from package-lock.json.
# .npmrc sets legacy-peer-deps=true: the `colyseus` meta package lists
# @colyseus/uwebsockets-transport as a peer, whose uWebSockets.js dependency is
# a GitHub URL that cannot be fetched here (and is not used: we use ws-transport).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
