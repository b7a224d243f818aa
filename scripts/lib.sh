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
	# The test build of the modules (IOMMU_TEST_CMD, the mock, fault
	# injection); scripts/test-packages tests the build users get.
	make -s -C "$TOP" KVER="$kver" IOMMUFD_TEST=1 all >&2 || die "build failed"
}

# QEMU 10 from bookworm-backports, unpacked (never installed) under
# $QEMU10_CACHE: the nested hypervisor of the "qemu" VM run, which
# passes the VM's edu through /dev/iommu.  A private APT configuration
# (its own sources list naming only bookworm-backports, its own lists,
# cache and an empty dpkg status) leaves the host's APT and packages
# alone.  The unpacked tree is keyed by the package versions, so a rerun
# pays nothing; lists are fetched only when there are none or when the
# ones there name a version the mirror no longer has.  Echoes the
# directory holding bin/qemu-system-x86_64 and, for its -L, share/ with
# bios-256k.bin (seabios) and kvmvapic.bin (qemu-system-data), all the
# firmware a q35 machine with -nodefaults loads.
QEMU10_CACHE=${QEMU10_CACHE:-/var/cache/iommufd-dev}
ensure_qemu10() {
	local apt=$QEMU10_CACHE/apt qver sver dir tmp f
	mkdir -p "$apt"/lists/partial "$apt"/cache/archives/partial "$apt"/etc/parts \
		"$apt"/etc/preferences.d "$apt"/etc/sources.list.d || die "cannot create $apt"
	[ -f "$apt/status" ] || : > "$apt/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" \
		> "$apt/etc/sources.list"
	cat > "$apt/apt.conf" <<-CONF
	Dir::Etc::main "/dev/null";
	Dir::Etc::parts "$apt/etc/parts";
	Dir::Etc::sourcelist "$apt/etc/sources.list";
	Dir::Etc::sourceparts "$apt/etc/sources.list.d";
	Dir::Etc::preferencesparts "$apt/etc/preferences.d";
	Dir::State "$apt";
	Dir::State::lists "$apt/lists";
	Dir::State::status "$apt/status";
	Dir::Cache "$apt/cache";
	APT::Architecture "amd64";
	APT::Sandbox::User "root";
	CONF
	local -x APT_CONFIG=$apt/apt.conf
	_qemu10_versions() {
		qver=$(apt-cache show --no-all-versions qemu-system-x86 2>/dev/null | sed -n 's/^Version: //p')
		sver=$(apt-cache show --no-all-versions seabios 2>/dev/null | sed -n 's/^Version: //p')
	}
	_qemu10_versions
	if [ -z "$qver" ] || [ -z "$sver" ]; then
		log "fetching the bookworm-backports package lists (private APT config $apt)"
		apt-get update -q >&2 || die "apt-get update of bookworm-backports failed"
		_qemu10_versions
		[ -n "$qver" ] && [ -n "$sver" ] || die "no qemu-system-x86/seabios in bookworm-backports"
	fi
	case "$qver" in *:10.*) ;; *) die "bookworm-backports has qemu-system-x86 $qver, not QEMU 10" ;; esac
	dir=$QEMU10_CACHE/qemu10-${qver#*:}
	if [ ! -x "$dir/bin/qemu-system-x86_64" ] || [ ! -f "$dir/share/kvmvapic.bin" ]; then
		tmp=$(mktemp -d "$QEMU10_CACHE/.qemu10.XXXXXX") || die "mktemp failed"
		if ! (cd "$tmp" && apt-get download -q qemu-system-x86 qemu-system-data seabios >&2); then
			log "download failed; refreshing the bookworm-backports lists"
			apt-get update -q >&2 || die "apt-get update of bookworm-backports failed"
			(cd "$tmp" && apt-get download -q qemu-system-x86 qemu-system-data seabios >&2) ||
				{ rm -rf "$tmp"; die "cannot download QEMU 10 from bookworm-backports"; }
			_qemu10_versions
			dir=$QEMU10_CACHE/qemu10-${qver#*:}
		fi
		for f in "$tmp"/*.deb; do
			dpkg -x "$f" "$tmp/root" || { rm -rf "$tmp"; die "cannot unpack $f"; }
		done
		mkdir -p "$tmp/out/bin" "$tmp/out/share"
		cp "$tmp/root/usr/bin/qemu-system-x86_64" "$tmp/out/bin/" &&
			cp "$tmp/root/usr/share/seabios/bios-256k.bin" "$tmp/out/share/" &&
			cp "$tmp/root/usr/share/qemu/kvmvapic.bin" "$tmp/out/share/" ||
			{ rm -rf "$tmp"; die "the QEMU 10 packages lack qemu-system-x86_64 or its firmware"; }
		echo "qemu-system-x86 $qver" > "$tmp/out/VERSIONS"
		echo "seabios $sver" >> "$tmp/out/VERSIONS"
		rm -rf "$dir"
		mv "$tmp/out" "$dir" || die "cannot create $dir"
		rm -rf "$tmp"
	fi
	# Every library must come from the host (the bookworm libraries
	# Debian's QEMU 7.2 pulls in satisfy QEMU 10 too); name any that do not.
	f=$(ldd "$dir/bin/qemu-system-x86_64" 2>&1 | grep -E 'not found|version .* not found')
	[ -z "$f" ] || die "QEMU 10 needs libraries this host lacks: $f"
	"$dir/bin/qemu-system-x86_64" --version > /dev/null 2>&1 || die "$dir/bin/qemu-system-x86_64 does not run"
	echo "$dir"
}

# Debian 12's newest build of Linux 6.12 (linux-image-6.12.*+deb12-amd64
# from bookworm-security, or bookworm-backports when security has none),
# with its headers (-amd64 and -common) and linux-kbuild, unpacked (never
# installed) under $KERNEL612_CACHE/kernel612-KVER-VERSION through a
# private APT configuration like ensure_qemu10's.  The lists are
# refreshed when a day old, so a new build is picked up.  Echoes the
# directory, which holds:
#   KVER      the kernel release (e.g. 6.12.118+deb12-amd64)
#   VERSIONS  the package versions
#   vmlinuz   the kernel the VM boots
#   root/     the unpacked packages: MODROOT for vm/mkinitramfs.sh (the
#             modules it copies are decompressed: Debian ships .ko.xz)
#   kdir      the kbuild tree to build modules against (make KDIR=...)
KERNEL612_CACHE=${KERNEL612_CACHE:-/var/cache/iommufd-dev}
ensure_kernel_612() {
	local apt=$KERNEL612_CACHE/apt612 kver ver dir tmp f base
	mkdir -p "$apt"/lists/partial "$apt"/cache/archives/partial "$apt"/etc/parts \
		"$apt"/etc/preferences.d "$apt"/etc/sources.list.d || die "cannot create $apt"
	[ -f "$apt/status" ] || : > "$apt/status"
	cat > "$apt/etc/sources.list" <<-SRC
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
	SRC
	cat > "$apt/apt.conf" <<-CONF
	Dir::Etc::main "/dev/null";
	Dir::Etc::parts "$apt/etc/parts";
	Dir::Etc::sourcelist "$apt/etc/sources.list";
	Dir::Etc::sourceparts "$apt/etc/sources.list.d";
	Dir::Etc::preferencesparts "$apt/etc/preferences.d";
	Dir::State "$apt";
	Dir::State::lists "$apt/lists";
	Dir::State::status "$apt/status";
	Dir::Cache "$apt/cache";
	APT::Architecture "amd64";
	APT::Sandbox::User "root";
	CONF
	local -x APT_CONFIG=$apt/apt.conf
	command -v x86_64-linux-gnu-gcc-12 > /dev/null ||
		die "Debian's 6.12 for bookworm is built with gcc-12: install gcc-12 (x86_64-linux-gnu-gcc-12)"
	# The newest 6.12 image (bookworm-security's if it has one: APT
	# prefers the higher version, and security's is at least backports').
	_k612_newest() {
		kver=$(apt-cache pkgnames linux-image-6.12. 2>/dev/null |
			sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' | sort -V | tail -1)
		ver=
		[ -z "$kver" ] || ver=$(apt-cache show --no-all-versions "linux-image-$kver" 2>/dev/null |
			sed -n 's/^Version: //p')
	}
	if [ -z "$(find "$apt/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
		log "fetching the bookworm-security and bookworm-backports package lists (private APT config $apt)"
		apt-get update -q >&2 || die "apt-get update of bookworm-security/bookworm-backports failed"
	fi
	_k612_newest
	[ -n "$kver" ] && [ -n "$ver" ] ||
		die "no linux-image-6.12.*+deb12-amd64 in bookworm-security or bookworm-backports"
	base=${kver%-amd64}
	dir=$KERNEL612_CACHE/kernel612-$kver-$ver
	if [ ! -f "$dir/COMPLETE" ]; then
		log "fetching Linux $kver ($ver): image, headers, kbuild (into $dir)"
		tmp=$(mktemp -d "$KERNEL612_CACHE/.kernel612.XXXXXX") || die "mktemp failed"
		(cd "$tmp" && apt-get download -q "linux-image-$kver" "linux-headers-$kver" \
			"linux-headers-$base-common" "linux-kbuild-$base" >&2) ||
			{ rm -rf "$tmp"; die "cannot download Linux $kver ($ver) and its headers"; }
		for f in "$tmp"/*.deb; do
			dpkg -x "$f" "$tmp/root" || { rm -rf "$tmp"; die "cannot unpack $f"; }
		done
		[ -f "$tmp/root/boot/vmlinuz-$kver" ] && [ -d "$tmp/root/lib/modules/$kver/kernel" ] &&
			[ -f "$tmp/root/usr/src/linux-headers-$kver/Makefile" ] &&
			[ -d "$tmp/root/usr/lib/linux-kbuild-$base/scripts" ] ||
			{ rm -rf "$tmp"; die "the $kver packages lack the kernel, its modules, headers or kbuild"; }
		# The -amd64 headers' Makefile includes the -common one by its
		# installed path; their scripts/ and tools/ links are relative
		# (../../lib/linux-kbuild-*), so they hold in the cache.
		sed -i "s#^include /usr/src/#include $dir/root/usr/src/#" \
			"$tmp/root/usr/src/linux-headers-$kver/Makefile" ||
			{ rm -rf "$tmp"; die "cannot point the $kver headers at their cache"; }
		# The kernel modules the test VMs load, plain (busybox's
		# modprobe and the initramfs script take .ko).
		find "$tmp/root/lib/modules/$kver/kernel/drivers/vfio" \
			"$tmp/root/lib/modules/$kver/kernel/virt/lib" \
			"$tmp/root/lib/modules/$kver/kernel/drivers/net/ethernet/intel" \
			-name '*.ko.xz' -exec xz -d {} + ||
			{ rm -rf "$tmp"; die "cannot decompress the $kver modules (xz-utils?)"; }
		echo "$kver" > "$tmp/KVER"
		for f in "$tmp"/*.deb; do dpkg-deb -f "$f" Package Version | paste -sd' '; done > "$tmp/VERSIONS"
		rm -f "$tmp"/*.deb
		ln -s "root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
		ln -s "root/usr/src/linux-headers-$kver" "$tmp/kdir"
		rm -rf "$dir"
		mkdir -p "$(dirname "$dir")"
		mv "$tmp" "$dir" || die "cannot create $dir"
		touch "$dir/COMPLETE"
	fi
	echo "$dir"
}

# The headers of ensure_kernel_612's Linux 6.12 (directory @1) installed
# on the host for real, as a Debian 12 user running bookworm-security's
# 6.12 has them: linux-headers-KVER, linux-headers-BASE-common and
# linux-kbuild-BASE at the cached version, with what they need from the
# host's sources (pahole, gcc-12), so that DKMS builds for that kernel
# (scripts/test-packages).  The kernel image is never installed on the
# host: the headers package depends on it, so a local package with no
# file, iommufd-test-headers-only-KVER, provides linux-image-KVER at that
# version instead.  apt-get's simulation is checked first: nothing is
# upgraded, downgraded or removed.  Quick when already installed; the
# packages stay installed (a build dependency of the test).  Echoes
# the kernel release.
ensure_headers_612() {	# K612
	local kver ver base stub p tmp sim ok=1
	local -a pkgs debs
	kver=$(cat "$1/KVER") || die "no $1/KVER"
	base=${kver%-amd64}
	ver=$(sed -n "s/^Package: linux-headers-$kver Version: //p" "$1/VERSIONS")
	[ -n "$ver" ] || die "no linux-headers-$kver version in $1/VERSIONS"
	stub=iommufd-test-headers-only-$kver
	pkgs=("linux-headers-$kver" "linux-headers-$base-common" "linux-kbuild-$base")
	for p in "${pkgs[@]}" "$stub"; do
		[ "$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)" = "install ok installed $ver" ] || ok=0
	done
	if [ $ok = 1 ]; then
		echo "$kver"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "the Linux $kver headers are not installed; run as root"
	log "installing the Linux $kver headers ($ver) on the host, without its image"
	tmp=$(mktemp -d) && chmod 755 "$tmp" || die "mktemp failed"
	# The cache's own APT configuration names the version it fetched.
	if ! (cd "$tmp" && APT_CONFIG=$KERNEL612_CACHE/apt612/apt.conf \
		apt-get download -q "${pkgs[@]/%/=$ver}" >&2); then
		rm -rf "$tmp"
		die "cannot download ${pkgs[*]} $ver"
	fi
	mkdir -p "$tmp/stub/DEBIAN"
	cat > "$tmp/stub/DEBIAN/control" <<-CTL
	Package: $stub
	Version: $ver
	Architecture: all
	Maintainer: iommufd-dkms test suite <root@localhost>
	Section: kernel
	Priority: optional
	Provides: linux-image-$kver (= $ver)
	Description: Linux $kver headers without its image (iommufd test host)
	 Installed by iommufd's scripts/test-packages so that DKMS builds for
	 Linux $kver on this host, whose VM boots that kernel from a cache; it
	 holds no file.  Purge it together with linux-headers-$kver.
	CTL
	dpkg-deb --root-owner-group -b "$tmp/stub" "$tmp/$stub.deb" > /dev/null ||
		{ rm -rf "$tmp"; die "cannot build $stub"; }
	debs=("$tmp"/*.deb)
	# Nothing of the host replaced: only new packages (Inst without [old]).
	sim=$(apt-get install -s --no-install-recommends "${debs[@]}" 2>&1) ||
		{ echo "$sim" >&2; rm -rf "$tmp"; die "apt-get cannot install the Linux $kver headers"; }
	if echo "$sim" | grep -E -q '^(Remv |Inst [^ ]+ \[|Inst linux-image-)'; then
		echo "$sim" | grep -E '^(Inst|Remv) ' >&2
		rm -rf "$tmp"
		die "installing the Linux $kver headers would change the host's packages (above): not done"
	fi
	if ! apt-get install -y -q --no-install-recommends "${debs[@]}" >&2; then
		rm -rf "$tmp"
		die "apt-get install of the Linux $kver headers failed"
	fi
	rm -rf "$tmp"
	for p in "${pkgs[@]}" "$stub"; do
		[ "$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)" = "install ok installed $ver" ] ||
			die "$p $ver is not installed after apt-get install"
	done
	echo "$kver"
}

# Build kmod/ (the test build) against @kdir in a copy under @dest (kmod/ keeps the 6.1
# build the other VMs load).  Without pahole (Debian's linux-kbuild
# depends on it; this host need not have it) the modules go without BTF.
build_kmod_copy() {	# KDIR DEST
	local btf=
	command -v pahole > /dev/null || btf=CONFIG_DEBUG_INFO_BTF_MODULES=
	rm -rf "$2"
	mkdir -p "$2/kmod" || die "cannot create $2"
	ln -s "$TOP/include" "$2/include"
	find "$TOP/kmod" -maxdepth 1 -type f \( -name '*.[ch]' ! -name '*.mod.c' -o -name Kbuild -o -name Makefile \) \
		-exec cp {} "$2/kmod/" \;
	make -s -C "$2/kmod" KDIR="$1" IOMMUFD_TEST=1 $btf >&2
}

# Every shared library @binary needs (as ldd resolves them here) and the
# dynamic loader, copied under @root at their own paths.
copy_libs() {	# BINARY ROOT
	local lib
	for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$2$(dirname "$lib")"
		cp -L "$lib" "$2$lib" || return 1
	done
}
