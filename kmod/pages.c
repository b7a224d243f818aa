// SPDX-License-Identifier: GPL-2.0
/*
 * Pinning user memory for DMA.
 *
 * An iopt_pages is the memory behind one IOAS_MAP (or IOAS_MAP_FILE).
 * Nothing is pinned when it is created; a page is pinned (FOLL_PIN |
 * FOLL_LONGTERM, from the mm that made the mapping, or from the file's
 * page cache) when its first user appears -- a domain that maps
 * it or an access that pins it -- and unpinned when its last user goes.
 * So the same page is pinned once however many domains and accesses use
 * it, and it is charged to RLIMIT_MEMLOCK once.
 *
 * Charging follows the mode captured at map time: the user's locked_vm
 * (per-user), the process's locked_vm (per-process), or nothing for a
 * caller with CAP_IPC_LOCK.  mm->pinned_vm is charged in every mode.
 *
 * Pin state is kept per chunk of 512 pages (2 MiB).  A chunk used as a
 * whole whose pages are one physically contiguous run -- a 2 MiB hugetlb
 * or transparent huge page -- needs only its first page and one count;
 * any other chunk keeps a page pointer and a count per page.  So large
 * folios cost neither memory nor loops per 4 KiB page.
 *
 * Chunk state exists only where something is pinned: the one chunk of a
 * small map lives in the map's own allocation; a larger map keeps its
 * chunks in an xarray, made on first use and freed when idle again.  So
 * the kernel memory a map costs follows what it pins (which is charged),
 * not its length: a terabyte of address space nobody uses costs nothing.
 */
#include <linux/file.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "iommufd_private.h"
#include "compat.h"

/*
 * Upper bound of the page-pointer batch one GUP call fills.  GUP writes
 * into a call's private batch of one chunk (4 KiB), so this bounds no
 * memory; tests lower it (SET_TEMP_MEMORY_LIMIT) to exercise the batch
 * boundaries.
 */
unsigned int iommufd_pin_batch_bytes = SZ_4M;

#define IOPT_CHUNK_SHIFT 9
#define IOPT_CHUNK_PAGES (1UL << IOPT_CHUNK_SHIFT)
#define IOPT_CHUNK_MASK (IOPT_CHUNK_PAGES - 1)

/*
 * The pin state of one chunk.  Uniform (@pages NULL): every page has
 * @users users and, while that is not zero, page i is the i-th after
 * @head (nth_page: pfn order, whatever the memory model).  Per
 * page: @pages and @page_users.  A chunk goes from uniform to per page
 * (never back) when part of it is used or its pages are not one run;
 * @head stays valid then, so readers may use either.
 */
struct iopt_chunk {
	struct page *head;
	unsigned int users;
	struct page **pages;
	unsigned int *page_users;
};

#define IOPT_CHUNK_STATE_BYTES \
	(IOPT_CHUNK_PAGES * (sizeof(struct page *) + sizeof(unsigned int)))

/*
 * After the struct, in the same allocation: the inline chunk (one-chunk
 * maps) or the xarray of chunks (larger ones), then a MAP's area.  The
 * sizes keep each of them aligned.
 */
union iopt_chunk_slot {
	struct iopt_chunk inline_chunk;
	struct xarray chunks;
};
static_assert(sizeof(struct iopt_pages) %
	      __alignof__(union iopt_chunk_slot) == 0);
static_assert(sizeof(union iopt_chunk_slot) % __alignof__(struct iopt_area) == 0);

static union iopt_chunk_slot *iopt_slot(struct iopt_pages *pages)
{
	return (union iopt_chunk_slot *)(pages + 1);
}

static bool iopt_one_chunk(struct iopt_pages *pages)
{
	return pages->npages <= IOPT_CHUNK_PAGES;
}

/*
 * What the allocation holding @pages takes (chunks and pin arrays aside):
 * a file map's ends with its file, a dma-buf map's with its import
 * (@file_backed covers both: one pointer).
 */
static size_t iopt_pages_alloc_size(bool with_area, bool file_backed)
{
	return sizeof(struct iopt_pages) + sizeof(union iopt_chunk_slot) +
	       (with_area ? sizeof(struct iopt_area) : 0) +
	       (file_backed ? sizeof(struct file *) : 0);
}

static_assert(sizeof(struct file *) == sizeof(struct iopt_dmabuf *));

/* Where a file map keeps its file. */
static struct file **iopt_pages_filep(struct iopt_pages *pages)
{
	return (struct file **)((char *)pages +
				iopt_pages_alloc_size(pages->with_area, false));
}

/**
 * iopt_pages_dmabuf() - the dma-buf import behind @pages
 * @pages: pages with @dmabuf set
 *
 * Return: the import, which lives as long as @pages.
 */
struct iopt_dmabuf *iopt_pages_dmabuf(struct iopt_pages *pages)
{
	return *(struct iopt_dmabuf **)iopt_pages_filep(pages);
}

static unsigned long chunk_len(struct iopt_pages *pages, unsigned long c)
{
	return min(IOPT_CHUNK_PAGES, pages->npages - (c << IOPT_CHUNK_SHIFT));
}

/*
 * Chunk @c, or NULL when it has no state (nothing of it is pinned).
 * Without pages->mutex only for a chunk the caller holds a use of.
 */
static struct iopt_chunk *chunk_find(struct iopt_pages *pages,
				     unsigned long c)
{
	if (iopt_one_chunk(pages))
		return &iopt_slot(pages)->inline_chunk;
	return xa_load(&iopt_slot(pages)->chunks, c);
}

/* Chunk @c, made if it has no state yet; pages->mutex held. */
static struct iopt_chunk *chunk_get(struct iopt_pages *pages, unsigned long c)
{
	struct iopt_chunk *ch;
	int rc;

	lockdep_assert_held(&pages->mutex);
	ch = chunk_find(pages, c);
	if (ch)
		return ch;
	ch = iommufd_kzalloc(sizeof(*ch), GFP_KERNEL_ACCOUNT);
	if (!ch)
		return ERR_PTR(-ENOMEM);
	rc = xa_insert(&iopt_slot(pages)->chunks, c, ch, GFP_KERNEL_ACCOUNT);
	if (rc) {
		kfree(ch);
		return ERR_PTR(rc);
	}
	iommufd_stats_kmem(sizeof(*ch));
	return ch;
}

/* The per-page arrays of @ch, if any. */
static void chunk_free_state(struct iopt_chunk *ch)
{
	if (!ch->pages)
		return;
	kfree(ch->pages);
	kfree(ch->page_users);
	iommufd_stats_kmem(-(long)IOPT_CHUNK_STATE_BYTES);
}

static bool chunk_is_idle(struct iopt_chunk *ch)
{
	if (!ch->pages)
		return !ch->users;
	return !memchr_inv(ch->page_users, 0,
			   IOPT_CHUNK_PAGES * sizeof(*ch->page_users));
}

/*
 * Free chunk @c when nothing of it is pinned any more (no reader can hold
 * a use of it then); pages->mutex held.  The inline chunk stays.
 */
static void chunk_put_if_idle(struct iopt_pages *pages, unsigned long c,
			      struct iopt_chunk *ch)
{
	lockdep_assert_held(&pages->mutex);
	if (iopt_one_chunk(pages) || !chunk_is_idle(ch))
		return;
	xa_erase(&iopt_slot(pages)->chunks, c);
	chunk_free_state(ch);
	kfree(ch);
	iommufd_stats_kmem(-(long)sizeof(*ch));
}

/*
 * Does [uptr, uptr + length) of the caller's memory hold a private file
 * mapping?  Its pages are the file's until written, and a read-only pin
 * would keep the file's page when the process then writes its own copy.
 */
static bool iopt_range_has_private_file(unsigned long uptr,
					unsigned long length)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	bool found = false;

	vma_iter_init(&vmi, mm, uptr);
	mmap_read_lock(mm);
	for_each_vma_range(vmi, vma, uptr + length) {
		if (vma->vm_file && !(vma->vm_flags & VM_SHARED)) {
			found = true;
			break;
		}
	}
	mmap_read_unlock(mm);
	return found;
}

static struct iopt_pages *__iopt_alloc_pages(unsigned long uptr,
					     unsigned long length,
					     bool writable, u8 account_mode,
					     bool with_area, bool file_backed)
{
	size_t size = iopt_pages_alloc_size(with_area, file_backed);
	struct iopt_pages *pages;
	unsigned long end, npages;

	if (!length || check_add_overflow(uptr, length, &end) ||
	    end > ULONG_MAX - PAGE_SIZE)
		return ERR_PTR(-EOVERFLOW);

	npages = (ALIGN(end, PAGE_SIZE) - ALIGN_DOWN(uptr, PAGE_SIZE)) >>
		 PAGE_SHIFT;
	pages = iommufd_kzalloc(size, GFP_KERNEL_ACCOUNT);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	kref_init(&pages->kref);
	mutex_init(&pages->mutex);
	pages->uptr = ALIGN_DOWN(uptr, PAGE_SIZE);
	pages->npages = npages;
	if (!iopt_one_chunk(pages))
		xa_init(&iopt_slot(pages)->chunks);
	pages->with_area = with_area;
	pages->spare_area = with_area;
	pages->file_backed = file_backed;
	pages->writable = writable;
	pages->account_mode = capable(CAP_IPC_LOCK) ? IOPT_ACCOUNT_NONE :
						      account_mode;
	iommufd_stats_kmem(size);
	mmgrab(current->mm);
	pages->source_mm = current->mm;
	get_task_struct(current->group_leader);
	pages->source_task = current->group_leader;
	pages->source_user = get_current_user();
	return pages;
}

/**
 * iopt_alloc_pages() - the pin state of a range of the caller's memory
 * @uptr: user address of the range
 * @length: bytes, not 0
 * @writable: pin for writing
 * @account_mode: how pins are charged (IOPT_ACCOUNT_*); none with
 *                CAP_IPC_LOCK
 * @with_area: allocate an area with it (iopt_pages_take_area())
 *
 * Nothing is pinned yet.  The caller's mm, process and user are recorded
 * as the owner the pins are charged to.  A read-only range that covers a
 * private file mapping is marked to be unshared when pinned.
 *
 * Context: process; takes current->mm's mmap_lock (read) for a read-only
 * range.
 *
 * Return: the pages (one reference), or ERR_PTR(-EOVERFLOW) for length 0
 * or a range that wraps, ERR_PTR(-ENOMEM).
 */
struct iopt_pages *iopt_alloc_pages(unsigned long uptr, unsigned long length,
				    bool writable, u8 account_mode,
				    bool with_area)
{
	struct iopt_pages *pages;

	pages = __iopt_alloc_pages(uptr, length, writable, account_mode,
				   with_area, false);
	if (!IS_ERR(pages))
		pages->unshare = !writable &&
				 iopt_range_has_private_file(uptr, length);
	return pages;
}

/**
 * iopt_alloc_dmabuf_pages() - the iopt_pages of a dma-buf import
 * @imp: the import (iopt_dmabuf_get()); the pages own it from now on,
 *       also when this fails
 * @start: byte offset in the dma-buf, checked against its size already
 * @length: bytes, not 0
 * @with_area: allocate an area with it (iopt_pages_take_area())
 *
 * Nothing of it is ever pinned or charged: domains map the exporter's
 * pages through dmabuf.c, and iopt_pages_use() refuses accesses.  It is
 * writable: the exporter, not a file mode, decides who writes its memory.
 *
 * Return: the pages, or ERR_PTR(-ENOMEM).
 */
struct iopt_pages *iopt_alloc_dmabuf_pages(struct iopt_dmabuf *imp,
					   unsigned long start,
					   unsigned long length,
					   bool with_area)
{
	struct iopt_pages *pages;

	pages = __iopt_alloc_pages(start, length, true, IOPT_ACCOUNT_NONE,
				   with_area, true);
	if (IS_ERR(pages)) {
		iopt_dmabuf_put(imp);
		return pages;
	}
	/* Not a file: the slot of the file holds the import instead. */
	pages->file_backed = false;
	pages->dmabuf = true;
	*(struct iopt_dmabuf **)iopt_pages_filep(pages) = imp;
	imp->owner = pages;
	return pages;
}

/**
 * iopt_alloc_file_pages() - the pin state of a range of a file
 * @file: the file (a reference is taken); which kinds can be pinned is
 *        only checked when pages are pinned, as is the end of the file
 * @start: byte offset of the range in @file
 * @length: its length in bytes
 * @writable: pin for DMA writes (the file must be open for writing)
 * @account_mode: how the pins are charged, as for user memory
 * @with_area: allocate an area with it (iopt_pages_take_area())
 *
 * The pages are pinned from @file's page cache when used, like the pages
 * of a user-VA map from its mm, and are charged to the caller.
 *
 * Return: the pages, or ERR_PTR(-EACCES) for a writable map of a file not
 * open for writing, -EOVERFLOW or -ENOMEM.
 */
struct iopt_pages *iopt_alloc_file_pages(struct file *file,
					 unsigned long start,
					 unsigned long length, bool writable,
					 u8 account_mode, bool with_area)
{
	struct iopt_pages *pages;

	if (writable && !(file->f_mode & FMODE_WRITE))
		return ERR_PTR(-EACCES);
	pages = __iopt_alloc_pages(start, length, writable, account_mode,
				   with_area, true);
	if (!IS_ERR(pages))
		*iopt_pages_filep(pages) = get_file(file);
	return pages;
}

/**
 * iopt_pages_take_area() - the area allocated with @pages, once
 * @pages: pages allocated with_area
 *
 * Context: no lock.  The first call, which finds the area, comes before
 * the pages are shared (the map that allocated them); later calls only
 * read the flag and get NULL.
 *
 * Return: the zeroed area, or NULL if already taken or never allocated.
 */
struct iopt_area *iopt_pages_take_area(struct iopt_pages *pages)
{
	/*
	 * No lock: @spare_area shares its byte with flags others read, so
	 * it may only change while nobody else has the pages yet.
	 */
	WARN_ON_ONCE(pages->spare_area && kref_read(&pages->kref) != 1);
	if (!pages->spare_area)
		return NULL;
	pages->spare_area = false;
	return (struct iopt_area *)(iopt_slot(pages) + 1);
}

static void iopt_release_pages(struct kref *kref)
{
	struct iopt_pages *pages = container_of(kref, struct iopt_pages, kref);
	struct iopt_chunk *ch;
	bool pinned = false;
	unsigned long c;

	/* Nothing may be pinned any more (per page: @users is stale). */
	if (iopt_one_chunk(pages)) {
		ch = &iopt_slot(pages)->inline_chunk;
		pinned = !chunk_is_idle(ch);
		chunk_free_state(ch);
	} else {
		xa_for_each(&iopt_slot(pages)->chunks, c, ch) {
			pinned |= !chunk_is_idle(ch);
			chunk_free_state(ch);
			kfree(ch);
			iommufd_stats_kmem(-(long)sizeof(*ch));
		}
		xa_destroy(&iopt_slot(pages)->chunks);
	}
	WARN_ON(pinned);
	if (pages->file_backed)
		fput(*iopt_pages_filep(pages));
	/* Off the exporter's list before the mutex a revoke takes goes. */
	if (pages->dmabuf)
		iopt_dmabuf_put(iopt_pages_dmabuf(pages));
	mmdrop(pages->source_mm);
	put_task_struct(pages->source_task);
	free_uid(pages->source_user);
	mutex_destroy(&pages->mutex);
	iommufd_stats_kmem(-(long)iopt_pages_alloc_size(pages->with_area,
							pages->file_backed ||
							pages->dmabuf));
	kfree(pages);
}

/**
 * iopt_put_pages() - drop a reference to @pages
 * @pages: the pages; nothing of them may be pinned at the last put
 *
 * The last put frees them: fput() of a file, and for a dma-buf import
 * iopt_dmabuf_put(), which takes the test exporter's lock.
 *
 * Context: process, may sleep.  Allowed under an IOAS's iova_rwsem.
 */
void iopt_put_pages(struct iopt_pages *pages)
{
	kref_put(&pages->kref, iopt_release_pages);
}

/**
 * iopt_pages_page() - the pinned page at @index
 * @pages: the pages
 * @index: a page index into @pages
 *
 * Context: no lock: runs without @pages->mutex.  The caller holds a use
 * (iopt_pages_use()) covering @index, which keeps the page pinned.
 *
 * Return: the page.
 */
struct page *iopt_pages_page(struct iopt_pages *pages, unsigned long index)
{
	struct iopt_chunk *ch = chunk_find(pages, index >> IOPT_CHUNK_SHIFT);
	/* Pairs with chunk_expand(): a published array is filled. */
	struct page **pp = smp_load_acquire(&ch->pages);

	return pp ? pp[index & IOPT_CHUNK_MASK] :
		    nth_page(ch->head, index & IOPT_CHUNK_MASK);
}

/**
 * iopt_pages_run() - the physically contiguous pinned run from @index
 * @pages: the pages
 * @index: a page index into @pages
 * @max: the most pages wanted
 * @first: set to the run's first page
 *
 * The run stops at @max pages and at the end of @index's chunk; a chunk
 * pinned as one uniform run is returned whole, so filling a domain does
 * not look at its pages one by one.
 *
 * Context: no lock: runs without @pages->mutex.  The caller holds a use
 * covering the run.
 *
 * Return: the run's length in pages (at least 1 for @max >= 1).
 */
unsigned long iopt_pages_run(struct iopt_pages *pages, unsigned long index,
			     unsigned long max, struct page **first)
{
	unsigned long c = index >> IOPT_CHUNK_SHIFT, off = index & IOPT_CHUNK_MASK;
	unsigned long left = min(max, chunk_len(pages, c) - off), n;
	struct iopt_chunk *ch = chunk_find(pages, c);
	/* Pairs with chunk_expand(): a published array is filled. */
	struct page **pp = smp_load_acquire(&ch->pages);
	unsigned long pfn;

	if (!pp) {
		*first = nth_page(ch->head, off);
		return left;
	}
	*first = pp[off];
	pfn = page_to_pfn(pp[off]);
	for (n = 1; n < left && page_to_pfn(pp[off + n]) == pfn + n; n++)
		;
	return n;
}

/**
 * iopt_pages_try_pinned_in() - how many pages of [@first, @last] are pinned
 * @pages: the pages
 * @first: first page index
 * @last: last page index
 * @n: set to the count on success
 *
 * For readers that must not wait on @pages->mutex at all (debugfs
 * state, which walks every area of every context).
 *
 * Context: any sleeping context; only trylocks @pages->mutex.
 *
 * Return: true and *@n set; false, with nothing counted, when the mutex
 * is busy.
 */
bool iopt_pages_try_pinned_in(struct iopt_pages *pages, unsigned long first,
			      unsigned long last, unsigned long *n)
{
	unsigned long c, s, e, i;
	struct iopt_chunk *ch;

	if (!mutex_trylock(&pages->mutex))
		return false;
	*n = 0;
	for (c = first >> IOPT_CHUNK_SHIFT; c <= last >> IOPT_CHUNK_SHIFT;
	     c++) {
		/* Only chunks with state: a lazy map has few. */
		if (!iopt_one_chunk(pages)) {
			ch = xa_find(&iopt_slot(pages)->chunks, &c,
				     last >> IOPT_CHUNK_SHIFT, XA_PRESENT);
			if (!ch)
				break;
		} else {
			ch = chunk_find(pages, c);
		}
		s = max(first, c << IOPT_CHUNK_SHIFT);
		e = min(last, (c << IOPT_CHUNK_SHIFT) + chunk_len(pages, c) - 1);
		if (!ch->pages) {
			/* Uniform: every page has the same users. */
			*n += ch->users ? e - s + 1 : 0;
		} else {
			for (i = s; i <= e; i++)
				*n += !!ch->page_users[i & IOPT_CHUNK_MASK];
		}
		cond_resched();
	}
	mutex_unlock(&pages->mutex);
	return true;
}

/*
 * Who a pin is charged to: the process (mm and task for its rlimit) and
 * the user.  An iopt_pages names its owner; IOAS_CHANGE_PROCESS charges
 * the caller before taking the pages over.
 */
struct iopt_owner {
	struct mm_struct *mm;
	struct task_struct *task;
	struct user_struct *user;
};

static int charge_user_locked_vm(const struct iopt_owner *o, unsigned long n)
{
	unsigned long limit, cur, new;

	limit = task_rlimit(o->task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	do {
		cur = atomic_long_read(&o->user->locked_vm);
		new = cur + n;
		if (new > limit || new < cur)
			return -ENOMEM;
	} while (atomic_long_cmpxchg(&o->user->locked_vm, cur, new) != cur);
	return 0;
}

static int charge_mm_locked_vm(const struct iopt_owner *o, unsigned long n,
			       bool inc)
{
	int rc;

	mmap_write_lock(o->mm);
	rc = __account_locked_vm(o->mm, n, inc, o->task, false);
	mmap_write_unlock(o->mm);
	return rc;
}

/* Charge (@inc) or refund @n pinned pages to @o in @mode; all or nothing. */
static int iopt_owner_account(const struct iopt_owner *o, u8 mode,
			      unsigned long n, bool inc)
{
	int rc = 0;

	switch (mode) {
	case IOPT_ACCOUNT_USER:
		if (inc)
			rc = charge_user_locked_vm(o, n);
		else
			atomic_long_sub(n, &o->user->locked_vm);
		break;
	case IOPT_ACCOUNT_MM:
		rc = charge_mm_locked_vm(o, n, inc);
		break;
	}
	if (rc)
		return rc;
	if (inc)
		atomic64_add(n, &o->mm->pinned_vm);
	else
		atomic64_sub(n, &o->mm->pinned_vm);
	return 0;
}

static void iopt_pages_owner(struct iopt_pages *pages, struct iopt_owner *o)
{
	/* IOAS_CHANGE_PROCESS replaces (and frees) them under it. */
	lockdep_assert_held(&pages->mutex);
	o->mm = pages->source_mm;
	o->task = pages->source_task;
	o->user = pages->source_user;
}

/* Charge (@inc) or refund @n newly pinned or unpinned pages. */
static int iopt_pages_account(struct iopt_pages *pages, unsigned long n,
			      bool inc)
{
	struct iopt_owner o;

	lockdep_assert_held(&pages->mutex);
	iopt_pages_owner(pages, &o);
	return iopt_owner_account(&o, pages->account_mode, n, inc);
}

static void iopt_pages_pinned(struct iopt_pages *pages, long n)
{
	iommufd_stats_pinned(n);
}

/* Pin pages of a file map from its page cache, one by one. */
static long iopt_pages_file_batch(struct iopt_pages *pages,
				  unsigned long index, unsigned long n,
				  struct page **out)
{
	pgoff_t pgoff = (pages->uptr >> PAGE_SHIFT) + index;
	struct page *page;
	unsigned long i;

	for (i = 0; i < n; i++) {
		page = iommufd_should_fail() ? ERR_PTR(-ENOMEM) :
		       compat_file_pin_page(*iopt_pages_filep(pages),
					    pgoff + i);
		if (IS_ERR(page)) {
			if (i)
				unpin_user_pages(out, i);
			return PTR_ERR(page);
		}
		out[i] = page;
		if (fatal_signal_pending(current)) {
			unpin_user_pages(out, i + 1);
			return -EINTR;
		}
		cond_resched();
	}
	return n;
}

/*
 * Pin one batch from @mm (the owner's, taken under pages->mutex): the
 * fast path when the caller is that process.  Runs under the pinners'
 * @pinning only: pages->mutex is not held across a GUP, which may wait
 * on a user's page fault for ever.
 */
static long iopt_pages_gup_batch(struct iopt_pages *pages,
				 struct mm_struct *mm, unsigned long index,
				 unsigned long n, struct page **out)
{
	unsigned int flags = FOLL_LONGTERM | (pages->writable ? FOLL_WRITE : 0) |
			     (pages->unshare ? FOLL_WRITE | FOLL_FORCE : 0);
	unsigned long addr = pages->uptr + (index << PAGE_SHIFT);
	long rc;

	lockdep_assert(READ_ONCE(pages->pinning));
	lockdep_assert_not_held(&pages->mutex);
	if (pages->file_backed)
		return iopt_pages_file_batch(pages, index, n, out);
	if (iommufd_should_fail())
		return -EFAULT;
	if (current->mm == mm) {
		rc = pin_user_pages_fast(addr, n, flags, out);
		return rc ? rc : -EFAULT;	/* no progress: no endless retry */
	}
	if (!mmget_not_zero(mm))
		return -EFAULT;
	mmap_read_lock(mm);
	rc = compat_pin_user_pages_remote(mm, addr, n, flags, out, NULL);
	mmap_read_unlock(mm);
	mmput(mm);
	return rc ? rc : -EFAULT;
}

static unsigned long iopt_gup_batch_max(void)
{
	return max_t(unsigned long, 1,
		     iommufd_pin_batch_bytes / sizeof(struct page *));
}

/* Give the chunk per-page state; @head-based pages stay valid meanwhile. */
static int chunk_expand(struct iopt_pages *pages, struct iopt_chunk *ch,
			unsigned long len)
{
	struct page **pp;
	unsigned int *pu;
	unsigned long i;

	lockdep_assert_held(&pages->mutex);
	if (ch->pages)
		return 0;
	pp = iommufd_kmalloc_array(IOPT_CHUNK_PAGES, sizeof(*pp),
				   GFP_KERNEL_ACCOUNT);
	pu = iommufd_kcalloc(IOPT_CHUNK_PAGES, sizeof(*pu), GFP_KERNEL_ACCOUNT);
	if (!pp || !pu) {
		kfree(pp);
		kfree(pu);
		return -ENOMEM;
	}
	for (i = 0; i < len; i++) {
		pu[i] = ch->users;
		pp[i] = ch->users ? nth_page(ch->head, i) : NULL;
	}
	ch->page_users = pu;
	/*
	 * Readers that hold a use (domain fill, access pin) look pages up
	 * without the mutex: publish the array only once it is filled.
	 */
	smp_store_release(&ch->pages, pp);
	iommufd_stats_kmem(IOPT_CHUNK_STATE_BYTES);
	return 0;
}

/* Chunks this short (small maps) pin through the stack, not an allocation. */
#define IOPT_SMALL_BATCH 16

/*
 * Drop one user of pages [s, e] of a per-page chunk; unpin idle runs.
 * Returns how many pages were unpinned (for the caller to refund).
 */
static unsigned long chunk_unuse_pages(struct iopt_pages *pages,
				       struct iopt_chunk *ch, unsigned long s,
				       unsigned long e)
{
	unsigned long i = s, end, unpinned = 0;

	lockdep_assert_held(&pages->mutex);
	while (i <= e) {
		if (WARN_ON(!ch->page_users[i]) || --ch->page_users[i]) {
			i++;
			continue;
		}
		for (end = i + 1; end <= e && ch->page_users[end] == 1; end++)
			ch->page_users[end] = 0;
		unpin_user_pages_dirty_lock(&ch->pages[i], end - i,
					    pages->writable);
		iopt_pages_pinned(pages, -(long)(end - i));
		unpinned += end - i;
		i = end;
	}
	return unpinned;
}

/* How many of pages [s, e] of chunk @c have no user (are not pinned). */
static unsigned long chunk_idle(struct iopt_pages *pages, unsigned long c,
				unsigned long s, unsigned long e)
{
	struct iopt_chunk *ch = chunk_find(pages, c);
	unsigned long i, n = 0;

	lockdep_assert_held(&pages->mutex);
	if (!ch)
		return e - s + 1;
	if (!ch->pages)
		return ch->users ? 0 : e - s + 1;
	for (i = s; i <= e; i++)
		n += !ch->page_users[i];
	return n;
}

/* Returns how many pages were unpinned. */
static unsigned long chunk_unuse(struct iopt_pages *pages, unsigned long c,
				 unsigned long s, unsigned long e)
{
	struct iopt_chunk *ch = chunk_find(pages, c);
	unsigned long len = chunk_len(pages, c), unpinned;

	lockdep_assert_held(&pages->mutex);
	if (WARN_ON(!ch))
		return 0;
	if (ch->pages) {
		unpinned = chunk_unuse_pages(pages, ch, s, e);
	} else {
		/* Uniform chunks are only ever used whole. */
		if (WARN_ON(s || e != len - 1 || !ch->users) || --ch->users)
			return 0;
		unpin_user_page_range_dirty_lock(ch->head, len,
						 pages->writable);
		iopt_pages_pinned(pages, -(long)len);
		ch->head = NULL;
		unpinned = len;
	}
	if (unpinned)
		chunk_put_if_idle(pages, c, ch);
	return unpinned;
}

/* Split [first, last] into its chunks: calls @fn(pages, c, s, e). */
#define for_each_chunk_part(pages, first, last, c, s, e)                   \
	for (c = (first) >> IOPT_CHUNK_SHIFT;                               \
	     c <= (last) >> IOPT_CHUNK_SHIFT &&                             \
	     ((s = max((first), c << IOPT_CHUNK_SHIFT) -                    \
		   (c << IOPT_CHUNK_SHIFT)),                                \
	      (e = min((last), (c << IOPT_CHUNK_SHIFT) +                    \
			       chunk_len(pages, c) - 1) -                   \
		   (c << IOPT_CHUNK_SHIFT)), 1);                            \
	     c++)

static unsigned long __iopt_pages_unuse(struct iopt_pages *pages,
					unsigned long first, unsigned long last)
{
	unsigned long c, s, e, unpinned = 0;

	lockdep_assert_held(&pages->mutex);
	for_each_chunk_part(pages, first, last, c, s, e)
		unpinned += chunk_unuse(pages, c, s, e);
	return unpinned;
}

/*
 * Pinning without holding pages->mutex across GUP
 *
 * Teardown (unmap, domain removal) drops users under pages->mutex and
 * must never wait on a user's page fault, so a GUP never runs under it.
 * Pinners of the same pages are serialised by @pinning instead, which
 * only iopt_pages_use() sets, and only when something must be pinned.
 * Per chunk, under pages->mutex: add a user to each page of the range
 * that is pinned (so that it stays pinned), note the idle ones and charge
 * them; then, without pages->mutex, GUP the idle ones into a private
 * batch; then, under it again, install them with one user each.  Only a
 * pinner makes an idle page pinned, so the noted pages are still idle
 * then, and an unuse meanwhile cannot unpin the chunk's other pages of
 * the range (the call holds a user of each).  It may unpin pages of the
 * range in later chunks: those are charged when their chunk's turn
 * comes, on top of what the call charged at its start.
 */

/*
 * Add one user to each pinned page in [s, e] of per-page chunk @ch and
 * mark the idle ones in @idle.  Returns how many are idle.
 */
static unsigned long chunk_hold_pinned(struct iopt_pages *pages,
				       struct iopt_chunk *ch, unsigned long s,
				       unsigned long e, unsigned long *idle)
{
	unsigned long i, n = 0;

	lockdep_assert_held(&pages->mutex);
	for (i = s; i <= e; i++) {
		if (ch->page_users[i]) {
			ch->page_users[i]++;
		} else {
			__set_bit(i, idle);
			n++;
		}
	}
	return n;
}

/*
 * Undo chunk_hold_pinned(): drop the users it added to the pages in
 * [s, e] not marked in @idle.  Returns how many pages that unpinned.
 */
static unsigned long chunk_release_pinned(struct iopt_pages *pages,
					  struct iopt_chunk *ch,
					  unsigned long s, unsigned long e,
					  const unsigned long *idle)
{
	unsigned long i = s, end, unpinned = 0;

	lockdep_assert_held(&pages->mutex);
	while (i <= e) {
		i = find_next_zero_bit(idle, e + 1, i);
		if (i > e)
			break;
		end = find_next_bit(idle, e + 1, i);
		unpinned += chunk_unuse_pages(pages, ch, i, end - 1);
		i = end;
	}
	return unpinned;
}

/* Unpin the pages marked in @idle below @upto (fresh pins, never used). */
static void iopt_unpin_marked(struct iopt_pages *pages, struct page **batch,
			      const unsigned long *idle, unsigned long s,
			      unsigned long upto)
{
	unsigned long i = s, end;

	while (i < upto) {
		i = find_next_bit(idle, upto, i);
		if (i >= upto)
			break;
		end = find_next_zero_bit(idle, upto, i);
		unpin_user_pages(&batch[i], end - i);
		iopt_pages_pinned(pages, -(long)(end - i));
		i = end;
	}
}

/*
 * GUP the pages of chunk @c marked in @idle (offsets in the chunk, below
 * @end) into @batch at the same offsets.  All or nothing.
 */
static int chunk_gup_marked(struct iopt_pages *pages, struct mm_struct *mm,
			    unsigned long c, const unsigned long *idle,
			    unsigned long s, unsigned long end,
			    struct page **batch)
{
	unsigned long cbase = c << IOPT_CHUNK_SHIFT, i = s, run_end;
	long rc;

	while (i < end) {
		i = find_next_bit(idle, end, i);
		if (i >= end)
			break;
		run_end = find_next_zero_bit(idle, end, i);
		while (i < run_end) {
			rc = iopt_pages_gup_batch(pages, mm, cbase + i,
						  min(iopt_gup_batch_max(),
						      run_end - i),
						  &batch[i]);
			if (rc < 0) {
				iopt_unpin_marked(pages, batch, idle, s, i);
				return rc;
			}
			iopt_pages_pinned(pages, rc);
			i += rc;
		}
		cond_resched();
	}
	return 0;
}

/* Are the @n pages of @batch one physically contiguous run? */
static bool iopt_batch_is_run(struct page **batch, unsigned long n)
{
	unsigned long pfn = page_to_pfn(batch[0]), i;

	for (i = 1; i < n; i++)
		if (page_to_pfn(batch[i]) != pfn + i)
			return false;
	return true;
}

/*
 * Give the freshly pinned pages of @batch marked in @idle to chunk @c,
 * one user each.  A whole idle chunk of one run stays uniform.
 */
static int chunk_install(struct iopt_pages *pages, unsigned long c,
			 unsigned long s, unsigned long e,
			 const unsigned long *idle, struct page **batch)
{
	unsigned long len = chunk_len(pages, c), i;
	struct iopt_chunk *ch;
	int rc;

	lockdep_assert_held(&pages->mutex);
	/* Made again if it went idle (and away) while pinning. */
	ch = chunk_get(pages, c);
	if (IS_ERR(ch))
		return PTR_ERR(ch);
	if (!ch->pages && !ch->users && s == 0 && e == len - 1 &&
	    iopt_batch_is_run(batch, len)) {
		ch->head = batch[0];
		ch->users = 1;
		return 0;
	}
	rc = chunk_expand(pages, ch, len);
	if (rc) {
		chunk_put_if_idle(pages, c, ch);
		return rc;
	}
	for (i = s; i <= e; i++) {
		if (!test_bit(i, idle))
			continue;
		WARN_ON_ONCE(ch->page_users[i]);
		ch->pages[i] = batch[i];
		ch->page_users[i] = 1;
	}
	return 0;
}

/* What one iopt_pages_use() call carries from chunk to chunk. */
struct iopt_use_state {
	bool pinner;		/* the caller set @pinning */
	unsigned long credit;	/* charged, not yet installed */
	struct page **batch;	/* IOPT_CHUNK_PAGES, allocated on demand */
};

/*
 * Add one user to pages [s, e] of chunk @c, pinning the idle ones; may
 * drop and retake pages->mutex (then the caller is the pinner: @pinning).
 * All or nothing.
 */
static int chunk_use(struct iopt_pages *pages, unsigned long c,
		     unsigned long s, unsigned long e,
		     struct iopt_use_state *st)
{
	unsigned long len = chunk_len(pages, c), nidle, unpinned;
	DECLARE_BITMAP(idle, IOPT_CHUNK_PAGES);
	struct page *small[IOPT_SMALL_BATCH];
	struct page **batch = small;
	struct iopt_chunk *ch;
	struct mm_struct *mm;
	int rc;

	lockdep_assert_held(&pages->mutex);
	ch = chunk_get(pages, c);
	if (IS_ERR(ch))
		return PTR_ERR(ch);
	bitmap_zero(idle, IOPT_CHUNK_PAGES);
	if (!ch->pages && s == 0 && e == len - 1) {
		if (ch->users) {
			ch->users++;
			return 0;
		}
		bitmap_set(idle, 0, len);
		nidle = len;
	} else {
		rc = chunk_expand(pages, ch, len);
		if (rc) {
			chunk_put_if_idle(pages, c, ch);
			return rc;
		}
		nidle = chunk_hold_pinned(pages, ch, s, e, idle);
		if (!nidle)
			return 0;
	}

	/* Only the pinner gets here (all pinned at the count: no GUP). */
	if (WARN_ON_ONCE(!st->pinner)) {
		rc = -EINVAL;
		goto err_release;
	}
	if (len > IOPT_SMALL_BATCH) {
		if (!st->batch)
			st->batch = iommufd_kmalloc_array(IOPT_CHUNK_PAGES,
							  sizeof(*st->batch),
							  GFP_KERNEL);
		rc = -ENOMEM;
		if (!st->batch)
			goto err_release;
		batch = st->batch;
	}
	/* Pages that went idle since the call counted: charge them too. */
	if (nidle > st->credit) {
		rc = iopt_pages_account(pages, nidle - st->credit, true);
		if (rc)
			goto err_release;
		st->credit = nidle;
	}
	st->credit -= nidle;
	mm = pages->source_mm;
	mmgrab(mm);
	mutex_unlock(&pages->mutex);
	rc = chunk_gup_marked(pages, mm, c, idle, s, e + 1, batch);
	mmdrop(mm);
	mutex_lock(&pages->mutex);
	if (!rc) {
		rc = chunk_install(pages, c, s, e, idle, batch);
		if (!rc)
			return 0;
		iopt_unpin_marked(pages, batch, idle, s, e + 1);
	}
	/* Nothing of it is installed: the whole charge goes back. */
	st->credit += nidle;
	/* Found again: gone only if it had no user (so none was held). */
	ch = chunk_find(pages, c);
	if (!ch)
		return rc;
err_release:
	if (ch->pages) {
		unpinned = chunk_release_pinned(pages, ch, s, e, idle);
		if (unpinned)
			iopt_pages_account(pages, unpinned, false);
	}
	chunk_put_if_idle(pages, c, ch);
	return rc;
}

/* How many pages of [first, last] have no user. */
static unsigned long iopt_pages_idle(struct iopt_pages *pages,
				     unsigned long first, unsigned long last)
{
	unsigned long c, s, e, idle = 0;

	for_each_chunk_part(pages, first, last, c, s, e)
		idle += chunk_idle(pages, c, s, e);
	return idle;
}

static int iopt_pages_use_locked(struct iopt_pages *pages,
				 unsigned long first, unsigned long last,
				 bool pinner)
{
	struct iopt_use_state st = { .pinner = pinner };
	unsigned long c, s, e, unpinned;
	int rc = 0;

	lockdep_assert_held(&pages->mutex);
	st.credit = iopt_pages_idle(pages, first, last);
	if (st.credit) {
		rc = iopt_pages_account(pages, st.credit, true);
		if (rc) {
			st.credit = 0;
			goto out;
		}
	}
	for_each_chunk_part(pages, first, last, c, s, e) {
		rc = chunk_use(pages, c, s, e, &st);
		if (rc) {
			if (c > first >> IOPT_CHUNK_SHIFT) {
				unpinned = __iopt_pages_unuse(pages, first,
						(c << IOPT_CHUNK_SHIFT) - 1);
				if (unpinned)
					iopt_pages_account(pages, unpinned,
							   false);
			}
			break;
		}
	}
	/* Every page idle at the count was still idle when its turn came. */
	WARN_ON_ONCE(!rc && st.credit);
out:
	if (st.credit)
		iopt_pages_account(pages, st.credit, false);
	kfree(st.batch);
	return rc;
}

/**
 * iopt_pages_use() - add a user to pages, pinning the ones that had none
 * @pages: the pages (not a dma-buf's)
 * @first: first page index
 * @last: last page index, inclusive
 *
 * All or nothing.  What will be pinned is charged to RLIMIT_MEMLOCK
 * before it is pinned.  When every page of the range is pinned already
 * this only counts users, under pages->mutex.  Otherwise it takes
 * @pinning, behind any other pinner of @pages, and may wait in GUP for
 * ever on a user's page fault, with neither lock of @pages blocking
 * unuse meanwhile; so a caller may hold only locks that neither teardown
 * (unmap, detach, removal) nor an unuse needs.
 *
 * Return: 0; -EINVAL for a dma-buf; -ENOMEM over the limit or out of
 * memory; -EINTR when killed while waiting; GUP's error (-EFAULT, ...).
 */
int iopt_pages_use(struct iopt_pages *pages, unsigned long first,
		   unsigned long last)
{
	int rc;

	/*
	 * Domains map a dma-buf through dmabuf.c; only an access comes
	 * here, and it cannot have the exporter's memory.
	 */
	if (pages->dmabuf)
		return -EINVAL;
	mutex_lock(&pages->mutex);
	while (iopt_pages_idle(pages, first, last)) {
		if (!pages->pinning) {
			WRITE_ONCE(pages->pinning, true);
			rc = iopt_pages_use_locked(pages, first, last, true);
			WRITE_ONCE(pages->pinning, false);
			mutex_unlock(&pages->mutex);
			/* Waiters check @pinning after queueing themselves. */
			smp_mb();
			wake_up_var(&pages->pinning);
			return rc;
		}
		mutex_unlock(&pages->mutex);
		if (wait_var_event_killable(&pages->pinning,
					    !READ_ONCE(pages->pinning)))
			return -EINTR;
		mutex_lock(&pages->mutex);
	}
	/* Nothing to pin: no need to wait behind a pinner. */
	rc = iopt_pages_use_locked(pages, first, last, false);
	mutex_unlock(&pages->mutex);
	return rc;
}
/**
 * iopt_pages_split_at() - let the users of @pages part at page @index
 * @pages: the pages of an area being split (io_pagetable.c's cut)
 * @index: the first page of the upper part
 *
 * A chunk used whole may keep one count for all its pages, and must then
 * be given up whole; the two parts of a split area give it up separately.
 * So the chunk that holds both pages @index - 1 and @index gets per-page
 * counts now (it never goes back).
 *
 * Return: 0, or -ENOMEM with nothing changed.
 */
int iopt_pages_split_at(struct iopt_pages *pages, unsigned long index)
{
	unsigned long c = index >> IOPT_CHUNK_SHIFT;
	struct iopt_chunk *ch;
	int rc = 0;

	if (!(index & IOPT_CHUNK_MASK))
		return 0;	/* between chunks */
	mutex_lock(&pages->mutex);
	ch = chunk_find(pages, c);
	if (ch && !ch->pages && ch->users)
		rc = chunk_expand(pages, ch, chunk_len(pages, c));
	mutex_unlock(&pages->mutex);
	return rc;
}

/**
 * iopt_pages_unuse() - drop one user of every page in [@first, @last]
 * @pages: the pages
 * @first: first page index
 * @last: last page index
 *
 * Pages left with no user are unpinned and refunded in one go.
 *
 * Context: process; takes @pages->mutex, which no pin holds across GUP,
 * so it never waits on a page fault (but in per-process accounting mode
 * its refund takes the owner's mmap_lock: see charge_mm_locked_vm()).
 * Domain removal calls it with
 * domains_rwsem and iova_rwsem held for write, unmap with domains_rwsem
 * held for read.
 */
void iopt_pages_unuse(struct iopt_pages *pages, unsigned long first,
		      unsigned long last)
{
	unsigned long unpinned;

	mutex_lock(&pages->mutex);
	unpinned = __iopt_pages_unuse(pages, first, last);
	if (unpinned)
		iopt_pages_account(pages, unpinned, false);
	mutex_unlock(&pages->mutex);
}

/* How many pages of @pages are pinned: what its owner is charged. */
static unsigned long iopt_pages_npinned(struct iopt_pages *pages)
{
	unsigned long n = 0, c;
	struct iopt_chunk *ch;

	lockdep_assert_held(&pages->mutex);
	if (iopt_one_chunk(pages))
		return chunk_len(pages, 0) - chunk_idle(pages, 0, 0,
						chunk_len(pages, 0) - 1);
	xa_for_each(&iopt_slot(pages)->chunks, c, ch) {
		n += chunk_len(pages, c) -
		     chunk_idle(pages, c, 0, chunk_len(pages, c) - 1);
		cond_resched();
	}
	return n;
}

static void iopt_current_owner(struct iopt_owner *o)
{
	o->mm = current->mm;
	o->task = current->group_leader;
	o->user = current_user();
}

static bool iopt_pages_owned_by_current(struct iopt_pages *pages)
{
	lockdep_assert_held(&pages->mutex);
	return pages->source_mm == current->mm &&
	       pages->source_task == current->group_leader &&
	       pages->source_user == current_user();
}

/*
 * The charges that change hands when the caller takes @pages over: per
 * user, between two processes of the same user, only pinned_vm (the
 * user's count stays as it is, and no limit can be crossed).
 */
static u8 iopt_pages_change_mode(struct iopt_pages *pages)
{
	lockdep_assert_held(&pages->mutex);
	if (pages->account_mode == IOPT_ACCOUNT_USER &&
	    pages->source_user == current_user())
		return IOPT_ACCOUNT_NONE;
	return pages->account_mode;
}

/**
 * iopt_pages_change_count() - what moving @pages to the caller would move
 * @pages: pages of an area; every IOAS that maps them has its iova_rwsem
 *         held for write, with no area busy, so that nothing pins or
 *         unpins them until iopt_pages_change_owner()
 * @npinned: per IOPT_ACCOUNT_* mode, the pinned pages to move; @pages'
 *           are added to the count of the charges that move (their
 *           mode, or only pinned_vm for IOPT_ACCOUNT_NONE, as when the
 *           user stays the same) unless the caller owns them
 *
 * Return: 0, or -EINVAL when @pages are a process's memory (IOAS_MAP),
 * which only its own mm can pin: those cannot change process.
 */
int iopt_pages_change_count(struct iopt_pages *pages,
			    unsigned long npinned[IOPT_ACCOUNT_MODES])
{
	if (!pages->file_backed)
		return -EINVAL;
	mutex_lock(&pages->mutex);
	if (!iopt_pages_owned_by_current(pages))
		npinned[iopt_pages_change_mode(pages)] +=
			iopt_pages_npinned(pages);
	mutex_unlock(&pages->mutex);
	return 0;
}

/**
 * iopt_charge_current() - charge or refund the caller for pages it takes
 * @npinned: per IOPT_ACCOUNT_* mode, the pinned pages
 * @inc: charge (checking the caller's RLIMIT_MEMLOCK) or refund
 *
 * Charges as iopt_pages_use() does for pages the caller pins itself:
 * mm->pinned_vm always, the user's locked_vm in per-user mode, the
 * process's in per-process mode.  All or nothing.
 *
 * Return: 0, or -ENOMEM with nothing charged when over the limit.
 */
int iopt_charge_current(const unsigned long npinned[IOPT_ACCOUNT_MODES],
			bool inc)
{
	struct iopt_owner o;
	int mode, rc;

	iopt_current_owner(&o);
	for (mode = 0; mode < IOPT_ACCOUNT_MODES; mode++) {
		if (!npinned[mode])
			continue;
		rc = iommufd_should_fail() ? -ENOMEM :
		     iopt_owner_account(&o, mode, npinned[mode], inc);
		if (rc)
			goto err_undo;
	}
	return 0;

err_undo:
	/* A refund never fails. */
	while (--mode >= 0)
		if (npinned[mode])
			iopt_owner_account(&o, mode, npinned[mode], !inc);
	return rc;
}

/**
 * iopt_pages_change_owner() - make the caller the owner of file pages
 * @pages: file-backed pages, held as for iopt_pages_change_count(); the
 *         caller has charged itself with iopt_charge_current() for them
 *
 * Refunds the old owner what is pinned and names the caller in its
 * place, under pages->mutex, which every charge and refund holds: later
 * pins are charged to the caller and unpins refunded to it.  Pages the
 * caller owns already are left alone.
 *
 * Return: how many pinned pages changed owner.
 */
unsigned long iopt_pages_change_owner(struct iopt_pages *pages)
{
	struct iopt_owner old;
	unsigned long n;

	if (WARN_ON(!pages->file_backed))
		return 0;
	mutex_lock(&pages->mutex);
	if (iopt_pages_owned_by_current(pages)) {
		mutex_unlock(&pages->mutex);
		return 0;
	}
	n = iopt_pages_npinned(pages);
	iopt_pages_owner(pages, &old);
	if (n)
		iopt_owner_account(&old, iopt_pages_change_mode(pages), n,
				   false);
	mmgrab(current->mm);
	pages->source_mm = current->mm;
	get_task_struct(current->group_leader);
	pages->source_task = current->group_leader;
	pages->source_user = get_current_user();
	mutex_unlock(&pages->mutex);
	mmdrop(old.mm);
	put_task_struct(old.task);
	free_uid(old.user);
	return n;
}
