# Helpers for scripts inside the VM (busybox sh).  Sourced by /init.

setup_vm() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mount -t debugfs debugfs /sys/kernel/debug
	mount -t tmpfs tmpfs /tmp
	mkdir -p /dev/hugepages
	mount -t hugetlbfs hugetlbfs /dev/hugepages
	echo 80 > /proc/sys/vm/nr_hugepages
	# Everything the programs say goes to the second serial port.
	exec 3>/dev/ttyS1
}

say() { echo "$@" >&3; }

poweroff_vm() {
	sync
	poweroff -f
}
