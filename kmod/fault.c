// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for the tests (selftest=1 only; Debian's kernel has no
 * CONFIG_FAULT_INJECTION).  Every allocation and pin point of the module
 * asks iommufd_should_fail(), and so does every one of iommufd_pci.ko
 * (iommufd_fault.h; both modules count in one sequence); writing N to
 * /sys/kernel/debug/iommufd/fail_nth makes the N-th such point reached by
 * the writing process fail, once.  Reading it gives how many points are
 * left before that (0 or less: it fired).  A test walks N = 1, 2, ...
 * over an operation sequence until nothing fires, checking each time that
 * the failure unwound completely.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "iommufd_private.h"

static atomic_t fail_countdown = ATOMIC_INIT(0);
static pid_t fail_tgid;
/* Read inline by iommufd_should_fail(), in both modules. */
bool iommufd_fail_armed;
EXPORT_SYMBOL_NS_GPL(iommufd_fail_armed, IOMMUFD);

/**
 * __iommufd_should_fail() - is this the fault point to fail?
 *
 * Called through iommufd_should_fail() (iommufd_fault.h) at every fault
 * point of iommufd.ko and iommufd_pci.ko while a count is armed: counts
 * the points the arming process reaches, in any of its threads.
 *
 * Context: any; no lock.
 *
 * Return: true for the N-th one (N as written to fail_nth), once.
 */
bool __iommufd_should_fail(void)
{
	if (task_tgid_nr(current) != READ_ONCE(fail_tgid) ||
	    atomic_dec_return(&fail_countdown))
		return false;
	/* Once: disarmed, the countdown stays at 0 ("fired"). */
	WRITE_ONCE(iommufd_fail_armed, false);
	return true;
}
EXPORT_SYMBOL_NS_GPL(__iommufd_should_fail, IOMMUFD);

static ssize_t fail_nth_write(struct file *file, const char __user *buf,
			      size_t count, loff_t *ppos)
{
	int n, rc;

	rc = kstrtoint_from_user(buf, count, 0, &n);
	if (rc)
		return rc;
	WRITE_ONCE(iommufd_fail_armed, false);
	atomic_set(&fail_countdown, n);
	WRITE_ONCE(fail_tgid, task_tgid_nr(current));
	WRITE_ONCE(iommufd_fail_armed, n > 0);
	return count;
}

static ssize_t fail_nth_read(struct file *file, char __user *buf,
			     size_t count, loff_t *ppos)
{
	char tmp[16];
	int len = scnprintf(tmp, sizeof(tmp), "%d\n",
			    atomic_read(&fail_countdown));

	return simple_read_from_buffer(buf, count, ppos, tmp, len);
}

static const struct file_operations fail_nth_fops = {
	.owner = THIS_MODULE,
	.read = fail_nth_read,
	.write = fail_nth_write,
	.llseek = default_llseek,
};

/**
 * iommufd_fault_init() - create the debugfs "fail_nth" file (selftest=1)
 * @dir: the module's debugfs directory
 *
 * Context: module init.
 */
void iommufd_fault_init(struct dentry *dir)
{
	if (iommufd_selftest)
		debugfs_create_file("fail_nth", 0600, dir, NULL,
				    &fail_nth_fops);
}
