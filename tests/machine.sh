#!/usr/bin/env bash
# The Debian packages the tests drive for real, installed when missing (needs root or sudo):
# chromium for the browser walks (Playwright is given /usr/bin/chromium; it downloads
# nothing), PostgreSQL's server binaries and redis-server for the PostgreSQL + Redis pass,
# nginx for the walk through a TLS-terminating proxy.
set -euo pipefail
needed=()
command -v chromium >/dev/null || needed+=(chromium)
command -v redis-server >/dev/null || needed+=(redis-server)
command -v nginx >/dev/null || needed+=(nginx-light)
{ command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; } || needed+=(postgresql)
[ ${#needed[@]} -eq 0 ] && exit 0
as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq "${needed[@]}" >/dev/null
# Debian starts the services it installs; the tests start their own on free ports
for service in redis-server nginx postgresql; do
  "${as_root[@]}" service "$service" stop >/dev/null 2>&1 || true
done
