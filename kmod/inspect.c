// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/iommufd/state: everything every open iommufd holds,
 * one record per line, "kind key=value ...", for the iommufd-inspect tool.
 *
 * debugfs rather than an ioctl because the reader is an administrator
 * looking at all processes at once, not a program looking at its own fd;
 * and because this is a debugging view, not ABI.
 *
 * Records:
 *   ctx     id pid comm account
 *   ioas    ctx id alignment areas domains accesses
 *   area    ctx ioas iova last length pages prot pinned
 *   pages   id pid uid account npages pinned
 *   hwpt    ctx id ioas backend auto devices pgsizes enforce_cc
 *   device  ctx id name group hwpt
 *   object  ctx id type (anything else)
 * "pages" ids are hashed kernel pointers: areas that share memory (after
 * IOAS_COPY) name the same pages, which is pinned and charged once.
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/sched.h>
#include <linux/sched/user.h>
#include <linux/ctype.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "iommufd_private.h"
#include "compat.h"

static LIST_HEAD(iommufd_ctxs);
static DEFINE_MUTEX(iommufd_ctxs_lock);
static unsigned int iommufd_ctx_seq;

/**
 * iommufd_inspect_add() - list a new iommufd in the debugfs state file
 * @ictx: the context, being opened
 *
 * Records its sequence number and the opening process's pid and name.
 *
 * Context: process (the opener); takes iommufd_ctxs_lock alone.
 */
void iommufd_inspect_add(struct iommufd_ctx *ictx)
{
	char *c;

	mutex_lock(&iommufd_ctxs_lock);
	ictx->seq = ++iommufd_ctx_seq;
	ictx->pid = task_tgid_nr(current);
	get_task_comm(ictx->comm, current);
	/* A process names itself: keep its name one "key=value" token. */
	for (c = ictx->comm; *c; c++)
		if (!isgraph(*c) || *c == '=')
			*c = '_';
	list_add_tail(&ictx->inspect_node, &iommufd_ctxs);
	mutex_unlock(&iommufd_ctxs_lock);
}

/**
 * iommufd_inspect_del() - take an iommufd off the state file's list
 * @ictx: the context, being released
 *
 * Context: process; takes iommufd_ctxs_lock alone.
 */
void iommufd_inspect_del(struct iommufd_ctx *ictx)
{
	mutex_lock(&iommufd_ctxs_lock);
	list_del(&ictx->inspect_node);
	mutex_unlock(&iommufd_ctxs_lock);
}

static const char *account_name(u8 mode)
{
	switch (mode) {
	case IOPT_ACCOUNT_USER:
		return "user";
	case IOPT_ACCOUNT_MM:
		return "process";
	default:
		return "none";
	}
}

/*
 * The reader only ever trylocks an object's locks, since users can hold
 * those across things they stall (a pin waiting on a page fault).  A busy
 * object is shown with busy=1 and no details.
 */
static void show_pages(struct seq_file *m, struct iopt_pages *pages)
{
	unsigned long pinned;

	/*
	 * source_task and source_user outlive the trylock only because the
	 * caller, show_area(), holds (and asserts) the IOAS's iova_rwsem.
	 */
	if (!iopt_pages_try_pinned_in(pages, 0, pages->npages - 1, &pinned)) {
		seq_printf(m, "pages id=%p busy=1\n", pages);
		return;
	}
	seq_printf(m, "pages id=%p pid=%d uid=%u account=%s npages=%lu pinned=%lu\n",
		   pages, task_tgid_nr(pages->source_task),
		   from_kuid(&init_user_ns, pages->source_user->uid),
		   account_name(pages->account_mode), pages->npages, pinned);
}

static void show_area(struct seq_file *m, struct iommufd_ctx *ictx,
		      struct iommufd_ioas *ioas, struct iopt_area *area)
{
	unsigned long pinned;

	lockdep_assert_held(&ioas->iopt.iova_rwsem);
	if (!iopt_pages_try_pinned_in(area->pages, iopt_area_first_index(area),
				      iopt_area_last_index(area), &pinned)) {
		seq_printf(m, "area ctx=%u ioas=%u iova=%#lx last=%#lx busy=1\n",
			   ictx->seq, ioas->obj.id, area->node.start,
			   area->node.last);
		return;
	}
	seq_printf(m, "area ctx=%u ioas=%u iova=%#lx last=%#lx length=%lu pages=%p prot=%s%s pinned=%lu\n",
		   ictx->seq, ioas->obj.id, area->node.start, area->node.last,
		   area->node.last - area->node.start + 1, area->pages,
		   (area->iommu_prot & IOMMU_READ) ? "r" : "",
		   (area->iommu_prot & IOMMU_WRITE) ? "w" : "", pinned);
	show_pages(m, area->pages);
}

static bool ioas_trylock(struct io_pagetable *iopt)
{
	if (!down_read_trylock(&iopt->domains_rwsem))
		return false;
	if (down_read_trylock(&iopt->iova_rwsem))
		return true;
	up_read(&iopt->domains_rwsem);
	return false;
}

static void show_ioas(struct seq_file *m, struct iommufd_ctx *ictx,
		      struct iommufd_ioas *ioas)
{
	struct io_pagetable *iopt = &ioas->iopt;
	struct iommufd_hw_pagetable *hwpt;
	unsigned int nareas = 0, ndomains = 0, naccesses = 0;
	struct iommufd_access *access;
	struct iopt_area *area;

	if (!mutex_trylock(&iopt->access_lock))
		goto busy;
	list_for_each_entry(access, &iopt->accesses, ioas_item)
		naccesses++;
	mutex_unlock(&iopt->access_lock);
	if (!ioas_trylock(iopt))
		goto busy;
	list_for_each_entry(hwpt, &iopt->domains, iopt_item)
		ndomains++;
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX))
		nareas++;
	seq_printf(m, "ioas ctx=%u id=%u alignment=%lu areas=%u domains=%u accesses=%u\n",
		   ictx->seq, ioas->obj.id, iopt->iova_alignment, nareas,
		   ndomains, naccesses);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX))
		show_area(m, ictx, ioas, area);
	up_read(&iopt->iova_rwsem);
	up_read(&iopt->domains_rwsem);
	return;
busy:
	seq_printf(m, "ioas ctx=%u id=%u busy=1\n", ictx->seq, ioas->obj.id);
}

static void show_hwpt(struct seq_file *m, struct iommufd_ctx *ictx,
		      struct iommufd_hw_pagetable *hwpt)
{
	struct iommufd_device *idev;
	unsigned int ndev = 0;

	if (!mutex_trylock(&hwpt->devices_lock)) {
		seq_printf(m, "hwpt ctx=%u id=%u busy=1\n", ictx->seq,
			   hwpt->obj.id);
		return;
	}
	list_for_each_entry(idev, &hwpt->devices, hwpt_item)
		ndev++;
	mutex_unlock(&hwpt->devices_lock);
	seq_printf(m, "hwpt ctx=%u id=%u ioas=%u backend=%s auto=%d devices=%u pgsizes=%#lx enforce_cc=%d\n",
		   ictx->seq, hwpt->obj.id, hwpt->ioas->obj.id,
		   iommufd_is_mock_domain(hwpt->domain) ? "mock" : "iommu",
		   hwpt->auto_domain, ndev, hwpt->domain->pgsize_bitmap,
		   hwpt->enforce_cache_coherency);
}

static void show_device(struct seq_file *m, struct iommufd_ctx *ictx,
			struct iommufd_device *idev)
{
	if (!mutex_trylock(&idev->lock)) {
		seq_printf(m, "device ctx=%u id=%u busy=1\n", ictx->seq,
			   idev->obj.id);
		return;
	}
	seq_printf(m, "device ctx=%u id=%u name=%s group=%d hwpt=%u\n",
		   ictx->seq, idev->obj.id,
		   idev->dev ? dev_name(idev->dev) : "mock",
		   iommufd_device_group_id(idev),
		   idev->hwpt ? idev->hwpt->obj.id : 0);
	mutex_unlock(&idev->lock);
}

static void show_object(struct seq_file *m, struct iommufd_ctx *ictx,
			struct iommufd_object *obj)
{
	switch (obj->type) {
	case IOMMUFD_OBJ_IOAS:
		show_ioas(m, ictx, container_of(obj, struct iommufd_ioas, obj));
		break;
	case IOMMUFD_OBJ_HWPT:
		show_hwpt(m, ictx, container_of(obj, struct iommufd_hw_pagetable,
						obj));
		break;
	case IOMMUFD_OBJ_DEVICE:
		show_device(m, ictx, container_of(obj, struct iommufd_device,
						  obj));
		break;
	default:
		seq_printf(m, "object ctx=%u id=%u type=selftest\n", ictx->seq,
			   obj->id);
	}
}

/* Walk @ictx's objects, each held by a short reference while shown. */
static void show_ctx(struct seq_file *m, struct iommufd_ctx *ictx)
{
	struct iommufd_object *obj;
	unsigned long index = 0;
	bool held;

	seq_printf(m, "ctx id=%u pid=%d comm=%s account=%s\n", ictx->seq,
		   ictx->pid, ictx->comm, account_name(ictx->account_mode));
	for (;;) {
		xa_lock(&ictx->objects);
		obj = xa_find(&ictx->objects, &index, ULONG_MAX, XA_PRESENT);
		held = obj && iommufd_lock_obj(obj);
		xa_unlock(&ictx->objects);
		if (!obj)
			break;
		/* One being removed meanwhile is skipped. */
		if (held) {
			show_object(m, ictx, obj);
			iommufd_put_object(obj);
		}
		index++;
	}
}

/*
 * The open context after number @seq, its file held so that it cannot be
 * released while shown; NULL after the last.  One being released is
 * skipped.
 */
static struct iommufd_ctx *iommufd_next_ctx(unsigned int seq)
{
	struct iommufd_ctx *ictx, *found = NULL;

	mutex_lock(&iommufd_ctxs_lock);
	list_for_each_entry(ictx, &iommufd_ctxs, inspect_node) {
		if (ictx->seq > seq && compat_file_get_unless_zero(ictx->file)) {
			found = ictx;
			break;
		}
	}
	mutex_unlock(&iommufd_ctxs_lock);
	return found;
}

/*
 * Each context is shown without the list's lock (a big one takes a
 * while, and every open and release of /dev/iommu needs the list), its
 * file held instead.  The list is in order of seq.
 */
static int iommufd_state_show(struct seq_file *m, void *unused)
{
	struct iommufd_ctx *ictx;
	unsigned int seq = 0;

	while ((ictx = iommufd_next_ctx(seq))) {
		seq = ictx->seq;
		show_ctx(m, ictx);
		iommufd_ctx_put(ictx);
	}
	seq_printf(m, "stats objects=%ld pinned=%ld\n",
		   iommufd_stats_nr_objects(), iommufd_stats_nr_pinned());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(iommufd_state);

/**
 * iommufd_inspect_init() - create the debugfs "state" file
 * @dir: the module's debugfs directory
 *
 * Context: module init.
 */
void iommufd_inspect_init(struct dentry *dir)
{
	debugfs_create_file("state", 0400, dir, NULL, &iommufd_state_fops);
}
