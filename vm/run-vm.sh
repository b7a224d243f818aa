#!/usr/bin/env bash
# Boot the test machine with an initramfs and wait for it to power off.
# q35 with an emulated VT-d; one edu alone in its IOMMU group (00:03.0
# or nearby); two edus and an e1000 behind a conventional PCI bridge, all
# in the bridge's group; an e1000e (MSI-X) alone in its group, driverless.  ttyS0 carries the kernel console (saved to
# CONSOLE), ttyS1 carries what the programs inside report (RESULTS).
# Usage: run-vm.sh KVER INITRD CONSOLE RESULTS TIMEOUT_S [extra qemu args]
# KERNEL_IMAGE overrides the kernel (default /boot/vmlinuz-KVER).
set -uo pipefail
kver=$1 initrd=$2 console=$3 results=$4 limit=$5
shift 5

# VM_CPU overrides the CPU model (e.g. the debug kernel's "max,la57=off").
# One TCG thread runs both vCPUs: with one host thread per vCPU, a vCPU
# once executed a stale int3 of the kernel's live text patching after the
# patch had completed ("Oops: int3" in __schedule, 6.12, the QEMU VM).
# The two vCPUs still interleave, so the race tests still race.
accel=tcg,thread=single cpu=${VM_CPU:-max}
# Nested KVM hangs at boot on the machines measured here: TCG unless asked.
if [ "${IOMMUFD_KVM:-0}" = 1 ]; then
	accel=kvm cpu=${VM_CPU:-host}
fi
# IOMMU=vtd (default), vtd-sm (VT-d scalable mode, with Snoop Control:
# its domains can enforce cache coherency), amd (AMD-Vi) or
# vtd-noir (VT-d without interrupt remapping).
case "${IOMMU:-vtd}" in
vtd) iommu_dev="-device intel-iommu,intremap=on" iommu_arg="intel_iommu=on" ;;
vtd-sm) iommu_dev="-device intel-iommu,intremap=on,x-scalable-mode=on,snoop-control=on"
	iommu_arg="intel_iommu=on,sm_on" ;;
amd) iommu_dev="-device amd-iommu,intremap=on" iommu_arg="amd_iommu=on" ;;
vtd-noir) iommu_dev="-device intel-iommu,intremap=off" iommu_arg="intel_iommu=on" ;;
*) echo "unknown IOMMU=$IOMMU" >&2; exit 2 ;;
esac
: > "$results"
# no_timer_check: under TCG on a loaded host the IO-APIC timer check at
# boot can miss its ticks and panic ("timer doesn't work through
# Interrupt-remapped IO-APIC", seen once on AMD-Vi); VMs skip it.
timeout --foreground -k 5 "$limit" qemu-system-x86_64 \
	-accel "$accel" -M q35,kernel-irqchip=split -m "${VM_MEM:-2G}" -smp 2 -cpu "$cpu" \
	$iommu_dev \
	-device edu -device pci-bridge,id=b1,chassis_nr=1 \
	-device edu,bus=b1,addr=1.0 -device edu,bus=b1,addr=2.0 \
	-nic none -device e1000,bus=b1,addr=3.0 -device e1000e \
	"$@" \
	-kernel "${KERNEL_IMAGE:-/boot/vmlinuz-$kver}" -initrd "$initrd" \
	-append "console=ttyS0 $iommu_arg iommu.strict=1 loglevel=4 panic=-1 softlockup_panic=1 hung_task_panic=1 no_timer_check ${KAPPEND:-}" \
	-display none -no-reboot -monitor none \
	-serial "file:$console" -serial "file:$results"
rc=$?
[ $rc -eq 124 ] && echo "vm: timed out after ${limit}s" >&2
exit $rc
