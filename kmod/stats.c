// SPDX-License-Identifier: GPL-2.0
/*
 * Leak accounting: the number of live objects (table objects, accesses,
 * mock devices) and of pinned pages across the module.  Both must be zero
 * whenever no fd is open; the module checks that at unload and the test
 * harness reads them from debugfs after every test program.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "iommufd_private.h"

static atomic_long_t iommufd_nr_objects = ATOMIC_LONG_INIT(0);
static atomic_long_t iommufd_nr_pinned = ATOMIC_LONG_INIT(0);
static atomic_long_t iommufd_kmem = ATOMIC_LONG_INIT(0);
static struct dentry *iommufd_debugfs;

/**
 * iommufd_stats_object() - count live objects up or down
 * @delta: +1 or -1
 *
 * Context: any; atomic.
 */
void iommufd_stats_object(int delta)
{
	atomic_long_add(delta, &iommufd_nr_objects);
}

/**
 * iommufd_stats_pinned() - count pinned pages up or down
 * @delta: pages pinned (positive) or unpinned (negative)
 *
 * Context: any; atomic.
 */
void iommufd_stats_pinned(long delta)
{
	atomic_long_add(delta, &iommufd_nr_pinned);
}

/**
 * iommufd_stats_kmem() - count bookkeeping bytes held
 * @delta: bytes allocated (positive) or freed (negative)
 *
 * For pin state and other per-map allocations.
 *
 * Context: any; atomic.
 */
void iommufd_stats_kmem(long delta)
{
	atomic_long_add(delta, &iommufd_kmem);
}

/**
 * iommufd_stats_nr_objects() - live objects now
 *
 * Context: any.
 *
 * Return: the count.
 */
long iommufd_stats_nr_objects(void)
{
	return atomic_long_read(&iommufd_nr_objects);
}

/**
 * iommufd_stats_nr_pinned() - pinned pages now
 *
 * Context: any.
 *
 * Return: the count.
 */
long iommufd_stats_nr_pinned(void)
{
	return atomic_long_read(&iommufd_nr_pinned);
}

static int iommufd_stats_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "objects %ld\n", iommufd_stats_nr_objects());
	seq_printf(m, "pinned_pages %ld\n", iommufd_stats_nr_pinned());
	seq_printf(m, "pin_state_bytes %ld\n", atomic_long_read(&iommufd_kmem));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(iommufd_stats);

/**
 * iommufd_stats_init() - create the module's debugfs directory and files
 *
 * Context: module init.  debugfs errors are ignored.
 *
 * Return: 0.
 */
int iommufd_stats_init(void)
{
	iommufd_debugfs = debugfs_create_dir("iommufd", NULL);
	debugfs_create_file("stats", 0444, iommufd_debugfs, NULL,
			    &iommufd_stats_fops);
	iommufd_inspect_init(iommufd_debugfs);
	iommufd_fault_init(iommufd_debugfs);
	return 0;
}

/**
 * iommufd_stats_exit() - remove the debugfs files and check for leaks
 *
 * Warns if any object, pinned page or bookkeeping byte is left.
 *
 * Context: module exit.
 */
void iommufd_stats_exit(void)
{
	debugfs_remove_recursive(iommufd_debugfs);
	if (WARN(iommufd_stats_nr_objects() || iommufd_stats_nr_pinned() ||
		 atomic_long_read(&iommufd_kmem),
		 "iommufd: unloading with %ld objects, %ld pinned pages, %ld bytes of pin state\n",
		 iommufd_stats_nr_objects(), iommufd_stats_nr_pinned(),
		 atomic_long_read(&iommufd_kmem)))
		return;
	pr_info("iommufd: unloaded with no objects and no pinned pages\n");
}
