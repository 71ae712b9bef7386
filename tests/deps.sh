#!/usr/bin/env bash
# Install the Debian 12 packages needed to build gatewayd and run its tests
# and demo. Idempotent: only asks apt for what is missing.
set -euo pipefail

packages=(
	gcc meson ninja-build pkg-config
	liburing-dev libinih-dev libpcre2-dev libsodium-dev libjansson-dev libssl-dev
	libcurl4-openssl-dev
	python3 curl iproute2 procps openssl testssl.sh
	python3-jwt python3-cryptography python3-jwcrypto
	clang libclang-rt-14-dev
	slowhttptest util-linux
	wrk
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
