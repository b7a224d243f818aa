#!/bin/sh
# /init of the test VM: load the module, run every test program, check
# the module's leak counters after each one and at unload, and look for
# kernel warnings.  Everything reported goes to ttyS1 as TAP.
. /etc/functions.sh
setup_vm

STATS=/sys/kernel/debug/iommufd/stats
n=0

# One harness-level TAP line.
check() {
	n=$((n + 1))
	if [ "$1" = ok ]; then say "ok $n - $2"; else say "not ok $n - $2"; fi
}

stats_clean() {
	grep -q '^objects 0$' $STATS && grep -q '^pinned_pages 0$' $STATS &&
		grep -q '^pin_state_bytes 0$' $STATS
}

# Kernel messages since the previous check that mean something broke;
# the debug kernel's (scripts/debug-kernel.sh) reports too: KASAN,
# lockdep (all its reports are WARNING: lines, named here anyway), atomic
# sleep, RCU, lockdep turning itself off, an uninitialised lock.
KBAD='WARNING:|BUG:|Oops|soft lockup|hung_task_timeout|blocked for more than|general protection fault|UBSAN:|KASAN:|kernel BUG|refcount_t:|list_add corruption|list_del corruption|possible circular locking|possible recursive locking|inconsistent lock state|sleeping function called from invalid context|suspicious RCU usage|turning off the locking correctness validator|trying to register non-static key|DEBUG_LOCKS_WARN_ON'
seen=0
kernel_clean() {
	total=$(dmesg | wc -l)
	bad=$(dmesg | tail -n +$((seen + 1)) | grep -E "$KBAD")
	if [ -n "$bad" ]; then
		dmesg | tail -n +$((seen + 1)) | grep -E -A30 "$KBAD" | head -60 | sed 's/^/# /' >&3
	fi
	seen=$total
	[ -z "$bad" ]
}

# kmemleak (the debug kernel): what boot leaked is forgotten before the
# suite; the suite's leaks are looked for with the modules loaded (their
# symbols then name the allocation sites) and again after they unload
# (what only the modules' own data still pointed to).  A scan reports an
# object only when it is 5 s old: the second scan, after a pause, catches
# the young ones.
KMEMLEAK=/sys/kernel/debug/kmemleak
kmemleak_clean() {	# WHEN
	echo scan > $KMEMLEAK && sleep 6 && echo scan > $KMEMLEAK || {
		say "# kmemleak: the scan failed (kmemleak disabled itself? see the console)"
		return 1
	}
	cat $KMEMLEAK > /tmp/leaks
	grep -q '^unreferenced object' /tmp/leaks || return 0
	say "# kmemleak, $1: $(grep -c '^unreferenced object' /tmp/leaks) unreferenced objects:"
	head -400 /tmp/leaks | sed 's/^/# /' >&3
	# The whole report on the console too, which the host keeps.
	{ echo "kmemleak report, $1:"; cat /tmp/leaks; } > /dev/console
	echo clear > $KMEMLEAK
	return 1
}

say "# kernel $(uname -r)"
say "# kernel command line: $(cat /proc/cmdline)"
kernel_clean || say "# (the kernel complained while booting, before any test)"
if [ -e $KMEMLEAK ]; then
	sleep 6
	if echo scan > $KMEMLEAK && echo clear > $KMEMLEAK; then
		check ok "kmemleak active, boot's reports cleared"
	else
		check fail "kmemleak active, boot's reports cleared"
	fi
elif [ "${IOMMUFD_DEBUG_KERNEL:-0}" = 1 ]; then
	check fail "kmemleak active (no $KMEMLEAK on the debug kernel)"
fi
if insmod /lib/modules/$(uname -r)/iommufd.ko selftest=1 &&
   insmod /lib/modules/$(uname -r)/iommufd_pci.ko; then
	check ok "modules load"
else
	check fail "modules load"
fi
# A kernel DMA-API driver for the e1000 that shares the edus' group.
modprobe e1000 2>/dev/null || say "# e1000 driver not available"
for d in /sys/bus/pci/devices/*; do
	say "# $(basename $d) $(cat $d/vendor):$(cat $d/device) group $(basename $(readlink $d/iommu_group)) driver $(basename $(readlink $d/driver) 2>/dev/null)"
done

for t in $(ls /bin/t_* 2>/dev/null); do
	name=${t#/bin/t_}
	say "# ---- $name"
	t0=$(date +%s)
	timeout ${TEST_TIMEOUT:-300} "$t" > /tmp/out 2>&1
	rc=$?
	# Renumber the program's TAP lines into the suite's sequence.
	while IFS= read -r line; do
		case "$line" in
		"ok "*|"not ok "*)
			n=$((n + 1))
			status=${line%% [0-9]*}
			rest=${line#* [0-9]* }
			rest=${rest#[0-9]* }
			say "$status $n $name: ${rest#- }"
			;;
		1..*) ;;
		*) say "$line" ;;
		esac
	done < /tmp/out
	[ $rc -eq 124 ] && say "# $name timed out"
	say "# $name took $(( $(date +%s) - t0 )) s"
	if [ $rc -le 1 ]; then check ok "$name: exits normally"; else check fail "$name: exits normally (status $rc)"; fi
	if stats_clean; then check ok "$name: no objects or pinned pages left"
	else check fail "$name: no objects or pinned pages left ($(tr '\n' ' ' < $STATS))"; fi
	if kernel_clean; then check ok "$name: no kernel warnings"
	else check fail "$name: no kernel warnings"; fi
done

# Plain example programs: they pass when they exit 0.
for x in $(ls /bin/x_* 2>/dev/null); do
	if "$x" > /tmp/out 2>&1; then check ok "${x#/bin/x_} runs"
	else check fail "${x#/bin/x_} runs"; sed 's/^/# /' /tmp/out >&3; fi
done

if [ -e $KMEMLEAK ]; then
	if kmemleak_clean "with the modules loaded"; then check ok "kmemleak: no leaks with the modules loaded"
	else check fail "kmemleak: no leaks with the modules loaded"; fi
fi
if rmmod iommufd_pci && rmmod iommufd && dmesg | grep -q 'unloaded with no objects and no pinned pages'; then
	check ok "module unloads with zero objects and zero pinned pages"
else
	check fail "module unloads with zero objects and zero pinned pages"
fi
if [ -e $KMEMLEAK ]; then
	if kmemleak_clean "after the modules unload"; then check ok "kmemleak: no leaks after the modules unload"
	else check fail "kmemleak: no leaks after the modules unload"; fi
fi
if kernel_clean; then check ok "kernel log clean at the end"
else check fail "kernel log clean at the end"; fi
say "1..$n"
say "# suite done"
poweroff_vm
