#!/usr/bin/env bash
# Installs the machine-level programs the local stack needs, only those missing (Debian/apt).
# Kafka itself is not a Debian package: infra/kafka/pom.xml fetches it from Maven Central on first start.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v runuser >/dev/null || need+=(util-linux)
command -v npm >/dev/null || need+=(nodejs npm)  # contracts/: the Solidity compiler and the local EVM node
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || need+=(wrk)
  command -v go >/dev/null || need+=(golang-go)  # builds bench/openloop, the fixed-rate client
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "installing system packages: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: need root (or sudo) to apt-get install ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's postinst may try to start the services; we run our own instances, so stop any that started.
service redis-server stop >/dev/null 2>&1 || true
