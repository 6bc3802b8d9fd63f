#!/usr/bin/env bash
# Installs MariaDB (server, client and mariadb-backup), sysbench (both for
# the hot-backup drill tests), make and a C compiler (bench's
# slow-disk library, internal/syncdelay) from the distribution when
# missing. Used by `make demo` and .ci/run. The distribution's own service is
# not started: binlog-replay's tests and bench start their own servers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/sbin:/sbin"

have() { command -v "$1" >/dev/null 2>&1; }
if have mariadbd && have mariadb-install-db && have mariadb-binlog && have mariadb && have mariadb-backup && have sysbench && have make && have cc; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-mariadb: MariaDB is missing; run as root, or: sudo apt-get install mariadb-server mariadb-client mariadb-backup sysbench make gcc libc6-dev" >&2
  exit 1
fi
# policy-rc.d exit 101 keeps the packages' postinst from starting the
# distribution's service. Only remove it if we made it.
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
apt-get update -q
apt-get install -y -q --no-install-recommends mariadb-server mariadb-client mariadb-backup sysbench make gcc libc6-dev
if [ -n "$made_policy" ]; then
  rm -f /usr/sbin/policy-rc.d
fi
