#!/bin/sh
# /init of the benchmark VM: our modules, VFIO type1 as the peer, then
# the benchmark program.
. /etc/functions.sh
setup_vm
echo 300 > /proc/sys/vm/nr_hugepages
kdir=/lib/modules/$(uname -r)
say "== VM up: Linux $(uname -r), $(nproc) vCPUs, IOMMU: $(ls /sys/class/iommu | tr '\n' ' ')"
if insmod $kdir/iommufd.ko selftest=1 && insmod $kdir/iommufd_pci.ko &&
   modprobe vfio_iommu_type1 && modprobe vfio-pci; then
	# iommufd_bench=small,copy on the kernel command line: those only.
	sel=$(sed -n 's/.*iommufd_bench=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
	# For scripts/profile-tcg: the kernel's symbols, no workload.
	case "$sel" in kallsyms) cat /proc/kallsyms >&3; sel=none ;; esac
	/bin/bench $sel >&3 2>&1
else
	say "== could not load the modules"
fi
say "== bench done"
poweroff_vm
