#!/bin/sh
# /init of the package smoke-test VM (scripts/test-packages): the modules
# are the ones DKMS built on the host (/lib/modules/KVER/updates/dkms, no
# tree build in the image), loaded by name as modules-load.d would; then
# /dev/iommu, the edu given to iommufd-pci, the README's example built
# against libiommufd-dev, and iommufd-tools' iommufd-inspect.
# Reports "ok - ..." / "not ok - ..." lines on ttyS1, then "# smoke done".
. /etc/functions.sh
setup_vm

t() {	# DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@" > /tmp/out 2>&1; then say "ok - $d"
	else say "not ok - $d"; sed 's/^/#   /' /tmp/out >&3; fi
}

kver=$(uname -r)
say "# kernel $kver; modules in the image: $(cd /lib/modules/$kver && find . -name '*.ko*' | tr '\n' ' ')"
t "the image has no modules of the tree's build, only DKMS's" \
	sh -c "! ls /lib/modules/$kver/*.ko 2>/dev/null | grep -q . && [ -f /lib/modules/$kver/updates/dkms/iommufd.ko ] && [ -f /lib/modules/$kver/updates/dkms/iommufd_pci.ko ]"
t "modprobe iommufd iommufd_pci (as modules-load.d does)" sh -c 'modprobe iommufd && modprobe iommufd_pci'
t "/dev/iommu is a character device, mode 0660 root:root" \
	sh -c '[ -c /dev/iommu ] && [ "$(stat -c "%a %u %g" /dev/iommu)" = "660 0 0" ]'

# The edu alone in its IOMMU group.
edu=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = 0x1234:0x11e8 ] || continue
	[ "$(ls $d/iommu_group/devices | wc -l)" = 1 ] || continue
	edu=$(basename $d)
	break
done
say "# edu alone in its group: ${edu:-none}"
bind_edu() {
	echo iommufd-pci > /sys/bus/pci/devices/$edu/driver_override &&
		echo $edu > /sys/bus/pci/drivers_probe &&
		[ "$(basename $(readlink /sys/bus/pci/devices/$edu/driver))" = iommufd-pci ]
}
t "the edu ($edu) binds to iommufd-pci" bind_edu
cdev=$(ls /sys/bus/pci/devices/$edu/vfio-dev/ 2>/dev/null | grep '^vfio[0-9]' | head -1)
say "# its device cdev: ${cdev:-none}"
t "/dev/vfio/devices/$cdev is a character device, mode 0600 root:root" \
	sh -c "[ -n '$cdev' ] && [ -c /dev/vfio/devices/$cdev ] && [ \"\$(stat -c '%a %u %g' /dev/vfio/devices/$cdev)\" = '600 0 0' ]"
t "the README's example (libiommufd-dev, linked to libiommufd0) maps and unmaps" /bin/example
t "iommufd-inspect (iommufd-tools) runs" /usr/bin/iommufd-inspect
t "iommufd-inspect --json runs" /usr/bin/iommufd-inspect --json
t "the optional iommufd_kvm loads by hand and unloads (not loaded at boot)" \
	sh -c '! [ -e /sys/module/iommufd_kvm ] && modprobe iommufd_kvm && rmmod iommufd_kvm'
t "the edu unbinds from iommufd-pci" sh -c "echo $edu > /sys/bus/pci/drivers/iommufd-pci/unbind"
t "both modules unload" sh -c 'rmmod iommufd_pci && rmmod iommufd'
# The console shows errors only (loglevel=4): a WARNING is in dmesg alone.
t "dmesg reports no BUG, Oops or WARNING" \
	sh -c "! dmesg | grep -E -A20 'Kernel panic|BUG:|Oops|WARNING:|soft lockup|Call Trace'"
dmesg | grep -E 'iommufd|taint' | sed 's/^/# dmesg: /' >&3
say "# smoke done"
poweroff_vm
