#!/bin/sh
# /init of the demo VM: load the modules and run the walk-through.
. /etc/functions.sh
setup_vm
say "== VM up: Linux $(uname -r), IOMMU: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')"
kdir=/lib/modules/$(uname -r)
if insmod $kdir/iommufd.ko && insmod $kdir/iommufd_pci.ko; then
	say "== modules loaded: /dev/iommu and the iommufd-pci driver"
	/bin/demo >&3 2>&1
	rmmod iommufd_pci
	rmmod iommufd
	dmesg | grep 'iommufd: unloaded' | sed 's/^\[[ 0-9.]*\] /== /' >&3
else
	say "== could not load the modules"
fi
say "== demo done"
poweroff_vm
