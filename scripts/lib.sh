#!/usr/bin/env bash
# Shared helpers for the host-side scripts: package set-up, kernel
# version detection and the build.  Sourced, never run directly.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$TOP/out}

die() { echo "error: $*" >&2; exit 1; }
log() { echo "== $*" >&2; }

# The Debian packages the build and the VM need.  Installed only when
# one of them is missing, so a prepared machine pays nothing.
NEEDED_PKGS="qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod gcc make libc6-dev"

ensure_packages() {
	local missing=()
	local p
	for p in $NEEDED_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install failed"
}

# The newest installed Debian 6.1 kernel whose headers are also installed.
detect_kver() {
	local v
	for v in $(ls -1 /lib/modules 2>/dev/null | sort -rV); do
		case "$v" in 6.1.*) ;; *) continue ;; esac
		[ -f "/boot/vmlinuz-$v" ] && [ -d "/lib/modules/$v/build" ] && { echo "$v"; return 0; }
	done
	die "no 6.1 kernel with matching headers under /lib/modules (install linux-image-amd64 and linux-headers-amd64)"
}

build_all() {
	local kver=$1
	log "building the module against $kver"
	make -s -C "$TOP" KVER="$kver" all >&2 || die "build failed"
}
