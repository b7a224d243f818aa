#!/usr/bin/env bash
# The suite's debug kernel: Debian's linux-source-6.1 built with KASAN,
# lockdep, atomic-sleep checks, kmemleak and fault injection over a small
# x86_64_defconfig (scripts/debug-kernel.config says what and why).
#
# Built once, outside the checkout, under
#   $DEBUG_KERNEL_CACHE/debug-kernel-<source version>-<config hash>/
# keyed by the linux-source-6.1 package version and a hash of the config
# fragment, this script's build recipe and the compiler.  A rerun with
# the same key pays nothing; an interrupted build resumes where it stopped
# (the tree is built in place, the "built" stamp is written last).  Two
# runs at once take turns (flock) instead of building twice.
#
# Prints the cache directory on stdout, which holds:
#   src/                        the built tree: KDIR for out-of-tree modules
#   bzImage                     the kernel
#   KVER                        its release string (uname -r in the VM)
#   modroot/lib/modules/KVER/   its modules (VFIO, e1000, e1000e), as installed
# Usage: scripts/debug-kernel.sh           (logs go to stderr)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBUG_KERNEL_CACHE=${DEBUG_KERNEL_CACHE:-/var/cache/iommufd-dev}
SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
FRAGMENT=$TOP/scripts/debug-kernel.config
# Bump when the recipe below changes in a way that changes the result.
RECIPE=1
BUILD_PKGS="$SRC_PKG flex bison bc libelf-dev libssl-dev xz-utils gcc make"

[ -f "$FRAGMENT" ] || die "missing $FRAGMENT"

# The packages the kernel build needs (like lib.sh's ensure_packages).
missing=()
for p in $BUILD_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "the debug kernel needs packages (${missing[*]}); run as root or install them"
	log "installing ${missing[*]} (for the debug kernel)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || die "apt-get update failed"
	apt-get install -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install of ${missing[*]} failed"
fi
[ -f "$SRC_TAR" ] || die "$SRC_PKG is installed but $SRC_TAR is missing"

srcver=$(dpkg-query -W -f='${Version}' "$SRC_PKG") || die "cannot read the version of $SRC_PKG"
key=$( { echo "recipe $RECIPE base x86_64_defconfig"; gcc -dumpfullversion; cat "$FRAGMENT"; } |
	sha256sum | cut -c1-12)
dir=$DEBUG_KERNEL_CACHE/debug-kernel-$srcver-$key
mkdir -p "$DEBUG_KERNEL_CACHE" || die "cannot create $DEBUG_KERNEL_CACHE"

exec 9> "$DEBUG_KERNEL_CACHE/debug-kernel.lock"
if ! flock -n 9; then
	log "another run is building the debug kernel; waiting for it"
	flock 9 || die "cannot lock $DEBUG_KERNEL_CACHE/debug-kernel.lock"
fi

if [ -f "$dir/built" ]; then
	echo "$dir"
	exit 0
fi

start=$(date +%s)
log "building the debug kernel ($SRC_PKG $srcver, config $key) in $dir; the first build takes a while"
mkdir -p "$dir"
if [ ! -f "$dir/src/Makefile" ]; then
	rm -rf "$dir/src" "$dir/.unpack"
	mkdir -p "$dir/.unpack"
	log "unpacking $SRC_TAR"
	tar -xJf "$SRC_TAR" -C "$dir/.unpack" || die "cannot unpack $SRC_TAR"
	mv "$dir/.unpack/linux-source-6.1" "$dir/src" || die "$SRC_TAR has no linux-source-6.1/"
	rmdir "$dir/.unpack"
fi

kmake() { nice -n 19 make -C "$dir/src" -j"$(nproc)" "$@"; }

if [ ! -f "$dir/config-done" ]; then
	kmake -s x86_64_defconfig >&2 || die "make x86_64_defconfig failed"
	(cd "$dir/src" && ./scripts/kconfig/merge_config.sh -m .config "$FRAGMENT") > "$dir/merge.log" 2>&1 ||
		die "merging $FRAGMENT failed (see $dir/merge.log)"
	kmake -s olddefconfig >&2 || die "make olddefconfig failed"
	# Every option the fragment names must have survived the dependencies.
	bad=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF -- "$line" "$dir/src/.config" || bad+=("$line") ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			! grep -q "^$opt=" "$dir/src/.config" || bad+=("$line") ;;
		esac
	done < "$FRAGMENT"
	[ ${#bad[@]} -eq 0 ] ||
		die "the debug kernel's .config lost options of $FRAGMENT (a dependency is missing): ${bad[*]}"
	touch "$dir/config-done"
fi

log "compiling the debug kernel (nice, -j$(nproc); log: $dir/build.log)"
if ! kmake bzImage modules > "$dir/build.log" 2>&1; then
	tail -30 "$dir/build.log" >&2
	die "the debug kernel build failed (full log: $dir/build.log)"
fi
kver=$(kmake -s kernelrelease) || die "make kernelrelease failed"
rm -rf "$dir/modroot"
kmake -s INSTALL_MOD_PATH="$dir/modroot" INSTALL_MOD_STRIP=1 DEPMOD=/bin/true modules_install >&2 ||
	die "modules_install of the debug kernel failed"
# The symlinks into the build tree are useless in an initramfs.
rm -f "$dir/modroot/lib/modules/$kver/build" "$dir/modroot/lib/modules/$kver/source"
cp "$dir/src/arch/x86/boot/bzImage" "$dir/bzImage"
echo "$kver" > "$dir/KVER"
# Only the built tree is kept: the objects of the kernel proper are not
# needed to build modules against it, but are kept so a resumed build
# is incremental (delete the directory to reclaim the space).
echo "$SRC_PKG $srcver, x86_64_defconfig + debug-kernel.config ($key), gcc $(gcc -dumpfullversion), built in $(( $(date +%s) - start )) s" \
	> "$dir/built"
log "debug kernel $kver built in $(( $(date +%s) - start )) s"
echo "$dir"
