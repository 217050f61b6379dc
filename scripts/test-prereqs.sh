#!/usr/bin/env bash
# Makes sure what the test suite needs is on this machine, idempotently:
# Debian packages for speech, BLE mocking, browsers, Mosquitto and Redis, and
# a running PostgreSQL server and Redis when they are installed. Quiet when all is there.
# Without root or apt, it says what is missing and the tests that need it skip.
set -u

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have pocketsphinx_continuous || need_pkgs+=(pocketsphinx)
[ -d /usr/share/pocketsphinx/model/en-us ] || need_pkgs+=(pocketsphinx-en-us)
have espeak-ng || need_pkgs+=(espeak-ng)
have sox || need_pkgs+=(sox)
have dbus-daemon || need_pkgs+=(dbus)
/usr/bin/python3 -c 'import dbusmock' >/dev/null 2>&1 || need_pkgs+=(python3-dbusmock)
have chromium || need_pkgs+=(chromium)
have mosquitto || need_pkgs+=(mosquitto)
have mosquitto_passwd || need_pkgs+=(mosquitto-clients)
have redis-server || need_pkgs+=(redis-server)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "test-prereqs: installing ${need_pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q -o DPkg::Lock::Timeout=300 "${need_pkgs[@]}" >/dev/null 2>&1 ||
      echo "test-prereqs: could not install ${need_pkgs[*]}; tests that need them will skip" >&2
  else
    echo "test-prereqs: missing ${need_pkgs[*]} (not root); tests that need them will skip" >&2
  fi
fi

# PostgreSQL: start the local cluster if it is installed but down. With no
# server at all, the database suites run on the embedded PGlite instead.
if have pg_isready && ! pg_isready -q -h 127.0.0.1 -p 5432 -t 2; then
  if have pg_ctlcluster && [ -d /etc/postgresql ]; then
    ver=$(ls /etc/postgresql | head -n1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 -t 1 && break; sleep 0.5; done
  fi
fi
# Redis backs the clustered-broker and cloud-replica tests; they skip without it.
if have redis-server && have redis-cli && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
fi
exit 0
