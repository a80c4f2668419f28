#!/usr/bin/env bash
# What the benchmarks drive besides the tests' packages (tests/machine.sh): Postfix's
# smtp-sink, the C SMTP server the invitations are sent to. Debian starts the mail service
# it installs; the benchmark starts its own smtp-sink on a free port, so it is stopped.
set -euo pipefail
bash "$(dirname "$0")/../tests/machine.sh"
command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] && exit 0
as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "postfix postfix/main_mailer_type select No configuration" | "${as_root[@]}" debconf-set-selections
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq postfix >/dev/null
"${as_root[@]}" service postfix stop >/dev/null 2>&1 || true
