#!/usr/bin/env bash
# The Debian packages the tests drive for real, installed when missing (needs root or sudo):
# chromium for the browser walks (Playwright is given /usr/bin/chromium; it downloads nothing).
set -euo pipefail
needed=()
command -v chromium >/dev/null || needed+=(chromium)
[ ${#needed[@]} -eq 0 ] && exit 0
as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${needed[@]}" >/dev/null
