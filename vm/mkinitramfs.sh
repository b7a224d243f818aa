#!/usr/bin/env bash
# Pack a busybox initramfs holding the module, the static test programs
# and an init script.
# Usage: mkinitramfs.sh [--tree DIR]... [--no-kmod] KVER OUTFILE INIT [FILES...]
# FILES are copied to /bin of the image; INIT becomes /init; each DIR is
# copied over the image's root as it is (e.g. DIR/opt/x becomes /opt/x).
# KMOD_DIR (default kmod/) holds the project's .ko files; the kernel's own
# modules come from MODROOT/lib/modules/KVER (default MODROOT: /, the
# installed Debian kernel; the debug kernel's is under its cache).
# --no-kmod leaves out the tree's kmod/*.ko (the modules then come from a
# --tree, e.g. the DKMS-built ones of scripts/test-packages).
set -euo pipefail
trees=()
kmod=1
while :; do
	case "${1:-}" in
	--tree) trees+=("$2"); shift 2 ;;
	--no-kmod) kmod=0; shift ;;
	*) break ;;
	esac
done
kver=$1 out=$2 init=$3
shift 3
top=$(cd "$(dirname "$0")/.." && pwd)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,lib/modules/$kver,etc}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cp "$init" "$root/init"
chmod +x "$root/init"
cp "$top/vm/functions.sh" "$root/etc/functions.sh"
for f in "$@"; do
	cp "$f" "$root/bin/"
done
[ $kmod = 0 ] || cp "${KMOD_DIR:-$top/kmod}"/*.ko "$root/lib/modules/$kver/"
for t in "${trees[@]}"; do
	cp -a "$t/." "$root/"
done

# Kernel modules of the distribution that the VM may load, with their
# dependency list: VFIO (the peer of the benchmarks), e1000 (a kernel
# driver that uses the DMA API, sharing an IOMMU group with two edus) and
# KVM (tests/kvm.c and tests/qemu.c run nested KVM guests on the TCG
# CPU's SVM).  A module shipped as .ko.xz (Debian's 6.12) goes in plain:
# busybox's modprobe takes .ko.
mods=${MODROOT:-}/lib/modules/$kver/kernel
for m in drivers/vfio/vfio.ko drivers/vfio/vfio_iommu_type1.ko \
	 drivers/vfio/vfio_virqfd.ko drivers/vfio/pci/vfio-pci-core.ko \
	 drivers/vfio/pci/vfio-pci.ko \
	 virt/lib/irqbypass.ko drivers/net/ethernet/intel/e1000/e1000.ko \
	 arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko arch/x86/kvm/kvm-intel.ko \
	 drivers/crypto/ccp/ccp.ko; do
	mkdir -p "$root/lib/modules/$kver/kernel/$(dirname $m)"
	if [ -f "$mods/$m" ]; then
		cp "$mods/$m" "$root/lib/modules/$kver/kernel/$m"
	elif [ -f "$mods/$m.xz" ]; then
		xz -dc "$mods/$m.xz" > "$root/lib/modules/$kver/kernel/$m"
	fi
done
depmod -b "$root" "$kver" 2>/dev/null || true

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
