// SPDX-License-Identifier: GPL-2.0
/*
 * Pinning user memory for DMA.
 *
 * An iopt_pages is the memory behind one IOAS_MAP.  Nothing is pinned when
 * it is created; a page is pinned (FOLL_PIN | FOLL_LONGTERM, from the mm
 * that made the mapping) when its first user appears -- a domain that maps
 * it or an access that pins it -- and unpinned when its last user goes.
 * So the same page is pinned once however many domains and accesses use
 * it, and it is charged to RLIMIT_MEMLOCK once.
 *
 * Charging follows the mode captured at map time: the user's locked_vm
 * (per-user), the process's locked_vm (per-process), or nothing for a
 * caller with CAP_IPC_LOCK.  mm->pinned_vm is charged in every mode.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "iommufd_private.h"

/*
 * Upper bound of the page-pointer batch one GUP call fills.  GUP writes
 * straight into the pages array, so this bounds no memory; tests lower it
 * (SET_TEMP_MEMORY_LIMIT) to exercise the batch boundaries.
 */
unsigned int iommufd_pin_batch_bytes = SZ_4M;

/*
 * Large pin state goes straight to vmalloc: kvmalloc() would first try a
 * high-order kmalloc, and its compaction attempt measured slower than the
 * whole map of a hugetlb range.
 */
static void *iopt_pages_state_alloc(size_t size)
{
	if (size > PAGE_SIZE * 4)
		return __vmalloc(size, GFP_KERNEL_ACCOUNT);
	return kmalloc(size, GFP_KERNEL_ACCOUNT);
}

struct iopt_pages *iopt_alloc_pages(unsigned long uptr, unsigned long length,
				    bool writable, u8 account_mode)
{
	struct iopt_pages *pages;
	unsigned long end, npages;
	size_t size;

	if (!length || check_add_overflow(uptr, length, &end) ||
	    end > ULONG_MAX - PAGE_SIZE)
		return ERR_PTR(-EOVERFLOW);

	npages = (ALIGN(end, PAGE_SIZE) - ALIGN_DOWN(uptr, PAGE_SIZE)) >>
		 PAGE_SHIFT;
	/* One allocation: the object, then a page pointer and a count per page. */
	size = sizeof(*pages) +
	       npages * (sizeof(*pages->pages) + sizeof(*pages->users));
	pages = iommufd_should_fail() ? NULL : iopt_pages_state_alloc(size);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	/* pages[] is written by GUP before it is read: only clear the rest. */
	memset(pages, 0, sizeof(*pages));
	kref_init(&pages->kref);
	mutex_init(&pages->mutex);
	pages->uptr = ALIGN_DOWN(uptr, PAGE_SIZE);
	pages->npages = npages;
	pages->pages = (struct page **)(pages + 1);
	pages->users = (unsigned int *)(pages->pages + npages);
	memset(pages->users, 0, npages * sizeof(*pages->users));
	pages->writable = writable;
	pages->account_mode = capable(CAP_IPC_LOCK) ? IOPT_ACCOUNT_NONE :
						      account_mode;
	pages->alloc_size = size;
	iommufd_stats_kmem(size);
	mmgrab(current->mm);
	pages->source_mm = current->mm;
	get_task_struct(current->group_leader);
	pages->source_task = current->group_leader;
	pages->source_user = get_current_user();
	return pages;
}

static void iopt_release_pages(struct kref *kref)
{
	struct iopt_pages *pages = container_of(kref, struct iopt_pages, kref);

	WARN_ON(pages->npinned);
	mmdrop(pages->source_mm);
	put_task_struct(pages->source_task);
	free_uid(pages->source_user);
	mutex_destroy(&pages->mutex);
	iommufd_stats_kmem(-(long)pages->alloc_size);
	kvfree(pages);
}

void iopt_put_pages(struct iopt_pages *pages)
{
	kref_put(&pages->kref, iopt_release_pages);
}

static int charge_user_locked_vm(struct iopt_pages *pages, unsigned long n)
{
	unsigned long limit, cur, new;

	limit = task_rlimit(pages->source_task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	do {
		cur = atomic_long_read(&pages->source_user->locked_vm);
		new = cur + n;
		if (new > limit || new < cur)
			return -ENOMEM;
	} while (atomic_long_cmpxchg(&pages->source_user->locked_vm, cur,
				     new) != cur);
	return 0;
}

static int charge_mm_locked_vm(struct iopt_pages *pages, unsigned long n,
			       bool inc)
{
	int rc;

	mmap_write_lock(pages->source_mm);
	rc = __account_locked_vm(pages->source_mm, n, inc, pages->source_task,
				 false);
	mmap_write_unlock(pages->source_mm);
	return rc;
}

/* Charge (@inc) or refund @n newly pinned or unpinned pages. */
static int iopt_pages_account(struct iopt_pages *pages, unsigned long n,
			      bool inc)
{
	int rc = 0;

	switch (pages->account_mode) {
	case IOPT_ACCOUNT_USER:
		if (inc)
			rc = charge_user_locked_vm(pages, n);
		else
			atomic_long_sub(n, &pages->source_user->locked_vm);
		break;
	case IOPT_ACCOUNT_MM:
		rc = charge_mm_locked_vm(pages, n, inc);
		break;
	}
	if (rc)
		return rc;
	if (inc)
		atomic64_add(n, &pages->source_mm->pinned_vm);
	else
		atomic64_sub(n, &pages->source_mm->pinned_vm);
	return 0;
}

static void iopt_pages_unpin_run(struct iopt_pages *pages,
				 unsigned long start, unsigned long n)
{
	/* pages[] keeps stale pointers: users[] says what is pinned. */
	unpin_user_pages_dirty_lock(&pages->pages[start], n, pages->writable);
	pages->npinned -= n;
	iommufd_stats_pinned(-(long)n);
}

/* Pin one batch: the fast path when the caller is the mapping's process. */
static long iopt_pages_gup_batch(struct iopt_pages *pages, unsigned long index,
				 unsigned long n, unsigned int flags)
{
	unsigned long addr = pages->uptr + (index << PAGE_SHIFT);
	long rc;

	if (current->mm == pages->source_mm)
		return pin_user_pages_fast(addr, n, flags, &pages->pages[index]);
	if (!mmget_not_zero(pages->source_mm))
		return -EFAULT;
	mmap_read_lock(pages->source_mm);
	rc = pin_user_pages_remote(pages->source_mm, addr, n, flags,
				   &pages->pages[index], NULL, NULL);
	mmap_read_unlock(pages->source_mm);
	mmput(pages->source_mm);
	return rc;
}

/* GUP [start, start + n) from the source mm, in batches. */
static int iopt_pages_gup(struct iopt_pages *pages, unsigned long start,
			  unsigned long n)
{
	unsigned int flags = FOLL_LONGTERM | (pages->writable ? FOLL_WRITE : 0);
	unsigned long batch = max_t(unsigned long, 1,
				    iommufd_pin_batch_bytes /
				    sizeof(struct page *));
	unsigned long done = 0;
	long rc = 0;

	while (done < n) {
		rc = iommufd_should_fail() ? -EFAULT :
		     iopt_pages_gup_batch(pages, start + done,
					  min(batch, n - done), flags);
		if (rc <= 0) {
			rc = rc ? rc : -EFAULT;
			break;
		}
		done += rc;
		pages->npinned += rc;
		iommufd_stats_pinned(rc);
		rc = 0;
	}
	if (rc && done)
		iopt_pages_unpin_run(pages, start, done);
	return rc;
}

static int iopt_pages_pin_run(struct iopt_pages *pages, unsigned long start,
			      unsigned long n)
{
	int rc;

	if (iommufd_should_fail())
		return -ENOMEM;
	rc = iopt_pages_account(pages, n, true);
	if (rc)
		return rc;
	rc = iopt_pages_gup(pages, start, n);
	if (rc)
		iopt_pages_account(pages, n, false);
	return rc;
}

/* Length of the run from @i to at most @last whose users are all zero. */
static unsigned long unused_run(struct iopt_pages *pages, unsigned long i,
				unsigned long last)
{
	unsigned long end = i;

	while (end < last && !pages->users[end + 1])
		end++;
	return end - i + 1;
}

/*
 * Drop one user of every page in [first, last], unpinning (and refunding)
 * each run of pages that has no user left.  One pass.
 */
static void __iopt_pages_unuse(struct iopt_pages *pages, unsigned long first,
			       unsigned long last)
{
	unsigned long i = first, end;

	while (i <= last) {
		if (WARN_ON(!pages->users[i]) || --pages->users[i]) {
			i++;
			continue;
		}
		for (end = i + 1; end <= last && pages->users[end] == 1; end++)
			pages->users[end] = 0;
		iopt_pages_unpin_run(pages, i, end - i);
		iopt_pages_account(pages, end - i, false);
		i = end;
	}
}

/*
 * Add one user to every page in [first, last] (indexes into @pages),
 * pinning the runs of pages that had none.  All or nothing.  One pass.
 */
int iopt_pages_use(struct iopt_pages *pages, unsigned long first,
		   unsigned long last)
{
	unsigned long i = first, n;
	int rc;

	mutex_lock(&pages->mutex);
	while (i <= last) {
		if (pages->users[i]) {
			pages->users[i++]++;
			continue;
		}
		n = unused_run(pages, i, last);
		rc = iopt_pages_pin_run(pages, i, n);
		if (rc) {
			if (i > first)
				__iopt_pages_unuse(pages, first, i - 1);
			mutex_unlock(&pages->mutex);
			return rc;
		}
		memset32(&pages->users[i], 1, n);
		i += n;
	}
	mutex_unlock(&pages->mutex);
	return 0;
}

/* Drop one user of every page in [first, last]; unpin what has none left. */
void iopt_pages_unuse(struct iopt_pages *pages, unsigned long first,
		      unsigned long last)
{
	mutex_lock(&pages->mutex);
	__iopt_pages_unuse(pages, first, last);
	mutex_unlock(&pages->mutex);
}
