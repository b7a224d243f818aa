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

void iommufd_stats_object(int delta)
{
	atomic_long_add(delta, &iommufd_nr_objects);
}

void iommufd_stats_pinned(long delta)
{
	atomic_long_add(delta, &iommufd_nr_pinned);
}

/* Bytes of per-page bookkeeping (pin state) held now. */
void iommufd_stats_kmem(long delta)
{
	atomic_long_add(delta, &iommufd_kmem);
}

long iommufd_stats_nr_objects(void)
{
	return atomic_long_read(&iommufd_nr_objects);
}

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

int iommufd_stats_init(void)
{
	iommufd_debugfs = debugfs_create_dir("iommufd", NULL);
	debugfs_create_file("stats", 0444, iommufd_debugfs, NULL,
			    &iommufd_stats_fops);
	iommufd_inspect_init(iommufd_debugfs);
	iommufd_fault_init(iommufd_debugfs);
	return 0;
}

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
