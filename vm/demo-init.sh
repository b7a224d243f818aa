#!/bin/sh
# /init of the demo VM: load the module and run the walk-through.
. /etc/functions.sh
setup_vm
say "== VM up: Linux $(uname -r), IOMMU: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')"
if insmod /lib/modules/$(uname -r)/iommufd.ko selftest=1; then
	say "== module loaded: /dev/iommu is $(ls -l /dev/iommu | awk '{print $1, $5, $6}')"
	/bin/demo >&3 2>&1
	rmmod iommufd
	dmesg | grep 'iommufd: unloaded' | sed 's/^\[[ 0-9.]*\] /== /' >&3
else
	say "== could not load the module"
fi
say "== demo done"
poweroff_vm
