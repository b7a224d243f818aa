// SPDX-License-Identifier: GPL-2.0
/*
 * The IOVA space of one IOAS.
 *
 * Three trees describe it: areas (what is mapped; a red-black tree by
 * IOVA, as areas never overlap), reserved ranges (what can never be
 * mapped: test reservations, the parts outside a domain's aperture,
 * device reserved regions) and allowed ranges (where automatic IOVA
 * allocation may look, and which nothing may reserve), interval trees.
 * Every domain in @domains mirrors every area; attaching a domain maps all
 * areas into it, and map/unmap update all domains.
 */
#include <linux/iommu.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/slab.h>

#include "iommufd_private.h"

/**
 * iopt_init_table() - set up an empty IOVA space
 * @iopt: the io_pagetable, embedded in a new IOAS
 *
 * No areas, domains or accesses; alignment 1; large pages allowed.
 *
 * Context: no lock; the IOAS is not published yet.
 */
void iopt_init_table(struct io_pagetable *iopt)
{
	init_rwsem(&iopt->domains_rwsem);
	init_rwsem(&iopt->iova_rwsem);
	INIT_LIST_HEAD(&iopt->domains);
	iopt->area_tree = RB_ROOT;
	iopt->allowed_itree = RB_ROOT_CACHED;
	iopt->reserved_itree = RB_ROOT_CACHED;
	iopt->iova_alignment = 1;
	iopt->access_alignment = 1;
	mutex_init(&iopt->access_lock);
	INIT_LIST_HEAD(&iopt->accesses);
	init_waitqueue_head(&iopt->add_domain_wait);
	atomic_set(&iopt->early_pins, 0);
}

static void iopt_free_tree(struct rb_root_cached *root)
{
	struct interval_tree_node *node;

	while ((node = interval_tree_iter_first(root, 0, ULONG_MAX))) {
		interval_tree_remove(node, root);
		kfree(node);
	}
}

/**
 * iopt_destroy_table() - unmap everything and free the IOVA trees
 * @iopt: the io_pagetable of an IOAS being destroyed
 *
 * Warns if a domain or an access is still attached.
 *
 * Context: process; takes the IOAS's locks through iopt_unmap_all().
 * No other user of the IOAS is left.
 */
void iopt_destroy_table(struct io_pagetable *iopt)
{
	unsigned long unmapped;

	iopt_unmap_all(iopt, &unmapped);
	WARN_ON(!list_empty(&iopt->domains));
	WARN_ON(!list_empty(&iopt->accesses));
	/* struct iopt_reserved starts with its node */
	iopt_free_tree(&iopt->reserved_itree);
	iopt_free_tree(&iopt->allowed_itree);
}

/**
 * iopt_area_iter_first() - first area that intersects [@start, @last]
 * @iopt: the IOVA space
 * @start: first IOVA of the range
 * @last: last IOVA of the range
 *
 * Finds the first area ending at or after @start (ends sort like starts)
 * and returns it if it begins no later than @last.
 *
 * Context: caller holds @iopt->iova_rwsem (read or write; asserted).
 * Areas being mapped or unmapped are returned too: check
 * iopt_area_busy() before relying on their domains.
 *
 * Return: the area, or NULL.
 */
struct iopt_area *iopt_area_iter_first(struct io_pagetable *iopt,
				       unsigned long start, unsigned long last)
{
	struct rb_node *node = iopt->area_tree.rb_node;
	struct iopt_area *found = NULL;

	lockdep_assert_held(&iopt->iova_rwsem);
	while (node) {
		struct iopt_area *area = rb_entry(node, struct iopt_area,
						  node.rb);

		if (area->node.last >= start) {
			found = area;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return found && found->node.start <= last ? found : NULL;
}

/**
 * iopt_area_iter_next() - the area after @area, if it begins by @last
 * @area: an area returned by iopt_area_iter_first() or by this function
 * @start: first IOVA of the range (unused: the tree is walked in order)
 * @last: last IOVA of the range
 *
 * Context: caller holds the IOAS's iova_rwsem, as for
 * iopt_area_iter_first() (asserted).  Busy areas are returned too.
 *
 * Return: the next area, or NULL.
 */
struct iopt_area *iopt_area_iter_next(struct iopt_area *area,
				      unsigned long start, unsigned long last)
{
	struct rb_node *node = rb_next(&area->node.rb);

	lockdep_assert_held(&area->iopt->iova_rwsem);
	area = node ? rb_entry(node, struct iopt_area, node.rb) : NULL;
	return area && area->node.start <= last ? area : NULL;
}

static bool iopt_area_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct iopt_area, node.rb)->node.start <
	       rb_entry(b, struct iopt_area, node.rb)->node.start;
}

/* Where in the area tree a new range goes. */
struct iopt_slot {
	struct rb_node *parent;
	struct rb_node **link;
};

/*
 * Find where [start, last] goes in the area tree, or -EEXIST if an area
 * meets it.  One descent answers both: areas never overlap, so every area
 * off the path lies wholly beyond one the range was compared with.
 */
static int iopt_area_find_slot(struct io_pagetable *iopt, unsigned long start,
			       unsigned long last, struct iopt_slot *slot)
{
	struct rb_node **link = &iopt->area_tree.rb_node, *parent = NULL;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	while (*link) {
		struct iopt_area *area = rb_entry(*link, struct iopt_area,
						  node.rb);

		parent = *link;
		if (last < area->node.start)
			link = &parent->rb_left;
		else if (start > area->node.last)
			link = &parent->rb_right;
		else
			return -EEXIST;
	}
	slot->parent = parent;
	slot->link = link;
	return 0;
}

/*
 * Under iova_rwsem (write), nothing overlapping @area: at @slot when it
 * was found for @area's range and the tree has not changed since.
 */
static void iopt_area_insert(struct io_pagetable *iopt, struct iopt_area *area,
			     struct iopt_slot *slot)
{
	lockdep_assert_held_write(&iopt->iova_rwsem);
	if (!slot) {
		rb_add(&area->node.rb, &iopt->area_tree, iopt_area_less);
		return;
	}
	rb_link_node(&area->node.rb, slot->parent, slot->link);
	rb_insert_color(&area->node.rb, &iopt->area_tree);
}

static void iopt_area_erase(struct io_pagetable *iopt, struct iopt_area *area)
{
	lockdep_assert_held_write(&iopt->iova_rwsem);
	rb_erase(&area->node.rb, &iopt->area_tree);
}

static unsigned long iopt_area_length(struct iopt_area *area)
{
	return area->node.last - area->node.start + 1;
}

/**
 * iopt_area_first_index() - index of the first page of its pages @area uses
 * @area: the area
 *
 * Context: any; the caller keeps the area's range from changing (holds
 * the IOAS's iova_rwsem, or alone owns the area).
 *
 * Return: a page index into @area->pages.
 */
unsigned long iopt_area_first_index(struct iopt_area *area)
{
	return area->pages_byte >> PAGE_SHIFT;
}

/**
 * iopt_area_last_index() - index of the last page of its pages @area uses
 * @area: the area
 *
 * Context: as iopt_area_first_index().
 *
 * Return: a page index into @area->pages.
 */
unsigned long iopt_area_last_index(struct iopt_area *area)
{
	return (area->pages_byte + iopt_area_length(area) - 1) >> PAGE_SHIFT;
}

static bool iopt_tree_intersects(struct rb_root_cached *root,
				 unsigned long start, unsigned long last)
{
	return interval_tree_iter_first(root, start, last);
}

/* ------------------------------------------------------------ alignment */

static unsigned long iopt_domain_alignment(struct iommufd_domain *domain)
{
	return 1UL << __ffs(domain->pgsize_bitmap);
}

/* Would every area still be valid with IOVA alignment @align? */
static int iopt_check_alignment(struct io_pagetable *iopt,
				unsigned long align)
{
	struct iopt_area *area;

	lockdep_assert_held(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		if ((area->node.start | iopt_area_length(area) |
		     (area->pages_byte % PAGE_SIZE)) & (align - 1))
			return -EADDRINUSE;
		cond_resched();	/* as many areas as the user made */
	}
	return 0;
}

static void iopt_recalc_alignment(struct io_pagetable *iopt)
{
	struct iommufd_hw_pagetable *hwpt;
	unsigned long align = 1;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	list_for_each_entry(hwpt, &iopt->domains, iopt_item)
		align = max(align, iopt_domain_alignment(hwpt->domain));
	if (iopt->disable_large_pages)
		align = max(align, PAGE_SIZE);
	align = max(align, iopt->access_alignment);
	iopt->iova_alignment = align;
}

/**
 * iopt_disable_large_pages() - map with PAGE_SIZE IOPTEs only (HUGE_PAGES=0)
 * @iopt: the IOVA space
 *
 * Refused while a domain holds mappings, since those may already use
 * large pages.  Raises the IOVA alignment to at least PAGE_SIZE.
 *
 * Context: process; takes domains_rwsem and iova_rwsem, both for write.
 *
 * Return: 0 (also when already disabled); -EINVAL while domains hold
 * mappings; -EADDRINUSE when an area is not PAGE_SIZE aligned.
 */
int iopt_disable_large_pages(struct io_pagetable *iopt)
{
	int rc = 0;

	down_write(&iopt->domains_rwsem);
	down_write(&iopt->iova_rwsem);
	if (iopt->disable_large_pages)
		goto out;
	if (!list_empty(&iopt->domains) &&
	    !RB_EMPTY_ROOT(&iopt->area_tree)) {
		rc = -EINVAL;
		goto out;
	}
	rc = iopt_check_alignment(iopt, max(iopt->iova_alignment, PAGE_SIZE));
	if (rc)
		goto out;
	iopt->disable_large_pages = true;
	iopt_recalc_alignment(iopt);
out:
	up_write(&iopt->iova_rwsem);
	up_write(&iopt->domains_rwsem);
	return rc;
}

/**
 * iopt_enable_large_pages() - allow large IOPTEs again (HUGE_PAGES=1)
 * @iopt: the IOVA space
 *
 * Affects later mappings only; the IOVA alignment is recomputed.
 *
 * Context: process; takes iova_rwsem for write (not domains_rwsem).
 */
void iopt_enable_large_pages(struct io_pagetable *iopt)
{
	/* Domain fills read it under domains_rwsem alone (iopt_max_chunk()). */
	down_write(&iopt->domains_rwsem);
	down_write(&iopt->iova_rwsem);
	iopt->disable_large_pages = false;
	iopt_recalc_alignment(iopt);
	up_write(&iopt->iova_rwsem);
	up_write(&iopt->domains_rwsem);
}

/**
 * iopt_add_access_alignment() - one more access needs areas aligned to @align
 * @iopt: the IOVA space
 * @align: the alignment the access needs (a power of two)
 *
 * An access that pins pages needs page-aligned areas; the requirement
 * lasts until iopt_remove_access_alignment().
 *
 * Context: process; takes iova_rwsem for write.
 *
 * Return: 0, or -EADDRINUSE when an existing area is not so aligned
 * (nothing changes then).
 */
int iopt_add_access_alignment(struct io_pagetable *iopt, unsigned long align)
{
	int rc;

	down_write(&iopt->iova_rwsem);
	rc = iopt_check_alignment(iopt, max(iopt->iova_alignment, align));
	if (!rc) {
		iopt->access_alignment_users++;
		iopt->access_alignment = max(iopt->access_alignment, align);
		iopt_recalc_alignment(iopt);
	}
	up_write(&iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_remove_access_alignment() - undo iopt_add_access_alignment()
 * @iopt: the IOVA space
 *
 * When the last such access goes, the access alignment drops back to 1.
 *
 * Context: process; takes iova_rwsem for write.
 */
void iopt_remove_access_alignment(struct io_pagetable *iopt)
{
	down_write(&iopt->iova_rwsem);
	if (!WARN_ON(!iopt->access_alignment_users) &&
	    !--iopt->access_alignment_users)
		iopt->access_alignment = 1;
	iopt_recalc_alignment(iopt);
	up_write(&iopt->iova_rwsem);
}

/* ------------------------------------------------------- reserved, allowed */

static int __iopt_reserve_iova(struct io_pagetable *iopt, unsigned long start,
			       unsigned long last, void *owner)
{
	struct iopt_reserved *res;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	if (iopt_tree_intersects(&iopt->allowed_itree, start, last) ||
	    iopt_area_iter_first(iopt, start, last))
		return -EADDRINUSE;
	res = iommufd_kzalloc(sizeof(*res), GFP_KERNEL_ACCOUNT);
	if (!res)
		return -ENOMEM;
	res->node.start = start;
	res->node.last = last;
	res->owner = owner;
	interval_tree_insert(&res->node, &iopt->reserved_itree);
	return 0;
}

static void __iopt_remove_reserved_iova(struct io_pagetable *iopt, void *owner)
{
	struct interval_tree_node *node, *next;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	for (node = interval_tree_iter_first(&iopt->reserved_itree, 0,
					     ULONG_MAX);
	     node; node = next) {
		struct iopt_reserved *res =
			container_of(node, struct iopt_reserved, node);

		next = interval_tree_iter_next(node, 0, ULONG_MAX);
		if (res->owner == owner) {
			interval_tree_remove(node, &iopt->reserved_itree);
			kfree(res);
		}
	}
}

/**
 * iopt_reserve_iova() - forbid mappings in [@start, @last]
 * @iopt: the IOVA space
 * @start: first IOVA
 * @last: last IOVA
 * @owner: a tag for iopt_remove_reserved_iova() (may be NULL)
 *
 * Context: process; takes iova_rwsem for write.  Device attach calls it
 * (through iommufd_group_reserve()) with idev->lock held.
 *
 * Return: 0; -EADDRINUSE when the range is mapped or allowed; -ENOMEM.
 */
int iopt_reserve_iova(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, void *owner)
{
	int rc;

	down_write(&iopt->iova_rwsem);
	rc = __iopt_reserve_iova(iopt, start, last, owner);
	up_write(&iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_remove_reserved_iova() - drop every reserved range of @owner
 * @iopt: the IOVA space
 * @owner: the tag given to iopt_reserve_iova()
 *
 * Context: process; takes iova_rwsem for write.  Device detach and
 * replace call it with idev->lock held.
 */
void iopt_remove_reserved_iova(struct io_pagetable *iopt, void *owner)
{
	down_write(&iopt->iova_rwsem);
	__iopt_remove_reserved_iova(iopt, owner);
	up_write(&iopt->iova_rwsem);
}

/**
 * iopt_set_allow_iova() - replace the allowed IOVA ranges (IOAS_ALLOW_IOVAS)
 * @iopt: the IOVA space
 * @allowed: the new ranges; on success @iopt takes them and the old ones
 *           are freed, on failure they stay the caller's
 *
 * Context: process; takes iova_rwsem for write.
 *
 * Return: 0, or -EADDRINUSE when a new range overlaps a reserved one.
 */
int iopt_set_allow_iova(struct io_pagetable *iopt,
			struct rb_root_cached *allowed)
{
	struct interval_tree_node *node;

	down_write(&iopt->iova_rwsem);
	for (node = interval_tree_iter_first(allowed, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		if (iopt_tree_intersects(&iopt->reserved_itree, node->start,
					 node->last)) {
			up_write(&iopt->iova_rwsem);
			return -EADDRINUSE;
		}
	}
	swap(*allowed, iopt->allowed_itree);
	up_write(&iopt->iova_rwsem);
	iopt_free_tree(allowed);
	return 0;
}

/* -------------------------------------------------------- IOVA placement */

/* A caller-chosen IOVA: usable, free, and where it goes in the tree. */
static int iopt_check_iova(struct io_pagetable *iopt, unsigned long iova,
			   unsigned long length, struct iopt_slot *slot)
{
	unsigned long last;

	lockdep_assert_held(&iopt->iova_rwsem);
	if ((iova | length) & (iopt->iova_alignment - 1))
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	if (iopt_tree_intersects(&iopt->reserved_itree, iova, last))
		return -EINVAL;
	return iopt_area_find_slot(iopt, iova, last, slot);
}

/*
 * The first IOVA >= @pos aligned to @align.  Below PAGE_SIZE alignment the
 * IOVA also keeps the user address's offset in its page (@page_offset is
 * then a multiple of @align).
 */
static bool iopt_align_candidate(unsigned long pos, unsigned long align,
				 unsigned long page_offset, unsigned long *out)
{
	unsigned long cand;

	if (align >= PAGE_SIZE) {
		if (check_add_overflow(pos, align - 1, &cand))
			return false;
		*out = cand & ~(align - 1);
		return true;
	}
	cand = ALIGN_DOWN(pos, PAGE_SIZE) + page_offset;
	if (cand < pos && check_add_overflow(cand, PAGE_SIZE, &cand))
		return false;
	*out = cand;
	return true;
}

/* Find a free span of @length inside [start, last]; 0 if found. */
static int iopt_find_in_span(struct io_pagetable *iopt, unsigned long start,
			     unsigned long last, unsigned long length,
			     unsigned long align, unsigned long page_offset,
			     unsigned long *iova)
{
	unsigned long pos = start, cand, cand_last, hit_last;
	struct interval_tree_node *reserved;
	struct iopt_area *area;

	lockdep_assert_held(&iopt->iova_rwsem);
	while (pos <= last) {
		if (!iopt_align_candidate(pos, align, page_offset, &cand) ||
		    check_add_overflow(cand, length - 1, &cand_last) ||
		    cand_last > last)
			return -ENOSPC;
		reserved = interval_tree_iter_first(&iopt->reserved_itree, cand,
						    cand_last);
		area = reserved ? NULL :
			iopt_area_iter_first(iopt, cand, cand_last);
		if (!reserved && !area) {
			*iova = cand;
			return 0;
		}
		hit_last = reserved ? reserved->last : area->node.last;
		if (hit_last == ULONG_MAX)
			return -ENOSPC;
		pos = hit_last + 1;
	}
	return -ENOSPC;
}

/*
 * Choose an IOVA for @length bytes of user memory at @uptr.  The IOVA
 * keeps as much of uptr's alignment as the length can use, so that large
 * IOMMU pages fit where the CPU used them.  IOVA 0 is never returned.
 */
static int iopt_alloc_iova(struct io_pagetable *iopt, unsigned long *iova,
			   unsigned long uptr, unsigned long length)
{
	unsigned long align, page_offset = uptr % PAGE_SIZE;
	struct interval_tree_node *span;

	lockdep_assert_held(&iopt->iova_rwsem);
	if (length >= ULONG_MAX / 2)
		return -EOVERFLOW;
	align = roundup_pow_of_two(length);
	if (uptr)
		align = min(align, 1UL << __ffs(uptr));
	if (align < iopt->iova_alignment)
		return -EINVAL;

	if (RB_EMPTY_ROOT(&iopt->allowed_itree.rb_root))
		return iopt_find_in_span(iopt, PAGE_SIZE, ULONG_MAX - PAGE_SIZE,
					 length, align, page_offset, iova);
	for (span = interval_tree_iter_first(&iopt->allowed_itree, 0,
					     ULONG_MAX);
	     span; span = interval_tree_iter_next(span, 0, ULONG_MAX)) {
		if (!iopt_find_in_span(iopt, max(span->start, PAGE_SIZE),
				       span->last, length, align, page_offset,
				       iova))
			return 0;
	}
	return -ENOSPC;
}

/* ------------------------------------------------------ domain mirroring */

/**
 * iopt_domain_unmap_now() - unmap a range and wait for the IOTLB
 * @domain: the domain
 * @iova: where the range starts
 * @length: its length
 *
 * Afterwards nothing reaches the pages: they may be unpinned or freed.
 */
void iopt_domain_unmap_now(struct iommufd_domain *domain, unsigned long iova,
			   unsigned long length)
{
	struct iommu_iotlb_gather gather;

	iommu_iotlb_gather_init(&gather);
	domain->ops->unmap(domain, iova, length, &gather);
	domain->ops->flush(domain, &gather);
}

/**
 * iopt_map_run_add() - extend a run of contiguous memory, mapping it if not
 * @run: the run: set up with its domain, prot and longest length, and
 *       @len 0 to start
 * @iova: where the next piece goes (right after the run's end)
 * @phys: its physical address
 * @len: its length
 *
 * A piece that continues the run physically (and keeps it within its
 * longest length) only grows it; else the run so far is mapped with one
 * call, so that the backend can use its largest page sizes, and a new run
 * starts with the piece.
 *
 * Return: 0, or the backend's error, @run->iova then being the first IOVA
 * not mapped.
 */
int iopt_map_run_add(struct iopt_map_run *run, unsigned long iova,
		     phys_addr_t phys, unsigned long len)
{
	int rc;

	if (run->len && (phys != run->phys + run->len ||
			 run->len + len > run->max)) {
		rc = iopt_map_run_finish(run);
		if (rc)
			return rc;
	}
	if (!run->len) {
		run->iova = iova;
		run->phys = phys;
	}
	run->len += len;
	return 0;
}

/**
 * iopt_map_run_finish() - map what is left of a run
 * @run: the run
 *
 * Return: 0, or the backend's error, @run->iova then being the first IOVA
 * not mapped.
 */
int iopt_map_run_finish(struct iopt_map_run *run)
{
	int rc = 0;

	if (run->len)
		rc = run->domain->ops->map(run->domain, run->iova, run->phys,
					   run->len, run->prot);
	if (!rc)
		run->len = 0;
	return rc;
}

/*
 * Program @domain with all of @area, from byte @area->pages_byte of its
 * pages, a physically contiguous run (at most @max_chunk bytes) per call.
 * All or nothing.
 */
static int iopt_area_map_range(struct iopt_area *area,
			       struct iommufd_domain *domain,
			       unsigned long max_chunk)
{
	struct iopt_map_run run = {
		.domain = domain,
		.prot = area->iommu_prot,
		.max = max_chunk,
	};
	struct iopt_pages *pages = area->pages;
	unsigned long byte = area->pages_byte;
	unsigned long iova = area->node.start;
	unsigned long left = iopt_area_length(area);
	int rc;

	while (left) {
		unsigned long off = byte % PAGE_SIZE;
		unsigned long chunk, npages;
		struct page *page;

		/* No further than this step can use (max_chunk). */
		npages = iopt_pages_run(pages, byte >> PAGE_SHIFT,
					DIV_ROUND_UP(off + min(left, max_chunk),
						     PAGE_SIZE),
					&page);
		chunk = min3((npages << PAGE_SHIFT) - off, left, max_chunk);
		rc = iopt_map_run_add(&run, iova, page_to_phys(page) + off,
				      chunk);
		if (rc)
			goto err_unmap;
		iova += chunk;
		byte += chunk;
		left -= chunk;
	}
	rc = iopt_map_run_finish(&run);
	if (rc)
		goto err_unmap;
	return 0;

err_unmap:
	if (run.iova != area->node.start)
		iopt_domain_unmap_now(domain, area->node.start,
				      run.iova - area->node.start);
	return rc;
}

static unsigned long iopt_max_chunk(struct io_pagetable *iopt)
{
	/* Written under both rwsems (for write): either one keeps it. */
	lockdep_assert_held(&iopt->domains_rwsem);
	return iopt->disable_large_pages ? PAGE_SIZE : ULONG_MAX;
}

/* Pin the area's pages for one more domain and map them there. */
static int iopt_area_fill_domain(struct iopt_area *area,
				 struct iommufd_domain *domain)
{
	int rc;

	lockdep_assert_held(&area->iopt->domains_rwsem);
	if (area->pages->dmabuf)
		return iopt_dmabuf_fill_domain(area, domain,
					       iopt_max_chunk(area->iopt));
	rc = iopt_pages_use(area->pages, iopt_area_first_index(area),
			    iopt_area_last_index(area));
	if (rc)
		return rc;
	rc = iopt_area_map_range(area, domain, iopt_max_chunk(area->iopt));
	if (rc)
		iopt_pages_unuse(area->pages, iopt_area_first_index(area),
				 iopt_area_last_index(area));
	return rc;
}

static void iopt_area_unfill_domain(struct iopt_area *area,
				    struct iommufd_domain *domain)
{
	lockdep_assert_held(&area->iopt->domains_rwsem);
	if (area->pages->dmabuf) {
		iopt_dmabuf_unfill_domain(area, domain);
		return;
	}
	iopt_domain_unmap_now(domain, area->node.start, iopt_area_length(area));
	iopt_pages_unuse(area->pages, iopt_area_first_index(area),
			 iopt_area_last_index(area));
}

/*
 * Map @area into every domain of its IOAS; all or nothing.  With @pinned
 * the caller holds a use of the area's pages, which the first domain
 * takes over on success (so that domain pins nothing); on failure it
 * stays the caller's.
 */
static int iopt_area_fill_domains(struct iopt_area *area, bool pinned)
{
	struct io_pagetable *iopt = area->iopt;
	struct iommufd_hw_pagetable *hwpt, *undo;
	bool first = true;
	int rc;

	lockdep_assert_held(&iopt->domains_rwsem);
	pinned = pinned && !area->pages->dmabuf;
	list_for_each_entry(hwpt, &iopt->domains, iopt_item) {
		if (first && pinned)
			rc = iopt_area_map_range(area, hwpt->domain,
						 iopt_max_chunk(iopt));
		else
			rc = iopt_area_fill_domain(area, hwpt->domain);
		if (rc)
			goto err_undo;
		first = false;
	}
	return 0;

err_undo:
	first = true;
	list_for_each_entry(undo, &iopt->domains, iopt_item) {
		if (undo == hwpt)
			break;
		if (first && pinned)
			iopt_domain_unmap_now(undo->domain, area->node.start,
					      iopt_area_length(area));
		else
			iopt_area_unfill_domain(area, undo->domain);
		first = false;
	}
	return rc;
}

/*
 * Unmap every claimed area from every domain with one IOTLB flush per
 * domain, then -- only then -- drop the areas' users of their pages.
 */
static void iopt_unfill_claimed(struct io_pagetable *iopt,
				struct iopt_area *claimed)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommu_iotlb_gather gather;
	struct iopt_area *area;

	lockdep_assert_held(&iopt->domains_rwsem);
	list_for_each_entry(hwpt, &iopt->domains, iopt_item) {
		iommu_iotlb_gather_init(&gather);
		/*
		 * As many areas as the user made (200,000 took a debug kernel
		 * 26 s): yield between them; the gathered range waits.
		 */
		for (area = claimed; area; area = area->claim_next) {
			/* Mapped or not (revoked): dmabuf.c knows. */
			if (area->pages->dmabuf)
				continue;
			hwpt->domain->ops->unmap(hwpt->domain, area->node.start,
						 iopt_area_length(area),
						 &gather);
			cond_resched();
		}
		hwpt->domain->ops->flush(hwpt->domain, &gather);
	}
	list_for_each_entry(hwpt, &iopt->domains, iopt_item) {
		for (area = claimed; area; area = area->claim_next) {
			if (area->pages->dmabuf) {
				iopt_dmabuf_unfill_domain(area, hwpt->domain);
				continue;
			}
			iopt_pages_unuse(area->pages,
					 iopt_area_first_index(area),
					 iopt_area_last_index(area));
			cond_resched();
		}
	}
}

static void iopt_area_unfill_domains(struct iopt_area *area)
{
	struct iommufd_hw_pagetable *hwpt;

	lockdep_assert_held(&area->iopt->domains_rwsem);
	list_for_each_entry(hwpt, &area->iopt->domains, iopt_item)
		iopt_area_unfill_domain(area, hwpt->domain);
}

static int iopt_reserve_aperture(struct io_pagetable *iopt,
				 struct iommufd_hw_pagetable *hwpt)
{
	struct iommufd_domain *domain = hwpt->domain;
	int rc;

	if (domain->aperture_start) {
		rc = __iopt_reserve_iova(iopt, 0, domain->aperture_start - 1,
					 hwpt);
		if (rc)
			return rc;
	}
	if (domain->aperture_last != ULONG_MAX) {
		rc = __iopt_reserve_iova(iopt, domain->aperture_last + 1,
					 ULONG_MAX, hwpt);
		if (rc)
			return rc;
	}
	return 0;
}

/* A use of an area's pages, taken before iopt_add_domain() locks. */
struct iopt_prepin {
	struct iopt_pages *pages;	/* a reference */
	unsigned long start, last;	/* the area's IOVA range then */
	unsigned long first_index, last_index;
	int rc;				/* of iopt_pages_use() */
	bool used;			/* a use taken (not a dma-buf) */
};

/*
 * Pin every area for iopt_add_domain() without holding the IOAS's locks:
 * take a reference to each area's pages and its range under iova_rwsem,
 * then a use of each range with no lock held (GUP happens here).  A use
 * that fails is recorded, not returned: the area may be unmapped before
 * the domain is filled, and then it does not matter.
 *
 * For a domain (@for_domain), areas that come in later would not be
 * pinned, so none may: from here to the end of iopt_add_domain(),
 * @adding_domains makes maps wait before they insert (iopt_map_elms()).
 * Cutting an area (iopt_area_split()) keeps its pages and its range, so
 * both parts stay covered.  Otherwise (iopt_hold_pins()) maps go on, and
 * @early_pins tells IOAS_CHANGE_PROCESS that counts are moving.
 *
 * Return: the uses in IOVA order (NULL when there is no area), or an
 * ERR_PTR (@adding_domains or @early_pins raised in both cases: the
 * caller lowers it).
 */
static struct iopt_prepin *iopt_prepin_areas(struct io_pagetable *iopt,
					     unsigned long *nr,
					     bool for_domain)
{
	struct iopt_prepin *pins = NULL;
	struct iopt_area *area;
	unsigned long n = 0, i;

	down_write(&iopt->iova_rwsem);
	if (for_domain)
		iopt->adding_domains++;
	else
		atomic_inc(&iopt->early_pins);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX))
		n++;
	if (n) {
		/* One entry per area, each of which costs the user more. */
		pins = iommufd_kvcalloc(n, sizeof(*pins), GFP_KERNEL_ACCOUNT);
		if (!pins) {
			up_write(&iopt->iova_rwsem);
			return ERR_PTR(-ENOMEM);
		}
	}
	i = 0;
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		kref_get(&area->pages->kref);
		pins[i].pages = area->pages;
		pins[i].start = area->node.start;
		pins[i].last = area->node.last;
		pins[i].first_index = iopt_area_first_index(area);
		pins[i].last_index = iopt_area_last_index(area);
		i++;
	}
	up_write(&iopt->iova_rwsem);

	for (i = 0; i < n; i++) {
		/* A dma-buf's pages are not pinned: its fill maps them. */
		if (pins[i].pages->dmabuf)
			continue;
		pins[i].rc = iopt_pages_use(pins[i].pages, pins[i].first_index,
					    pins[i].last_index);
		pins[i].used = !pins[i].rc;
		cond_resched();
	}
	*nr = n;
	return pins;
}

/*
 * The use that covers @area (its pages, within the range it had), or
 * NULL.  @pos walks @pins along with the tree, both in IOVA order.
 */
static struct iopt_prepin *iopt_prepin_find(struct iopt_prepin *pins,
					    unsigned long nr,
					    unsigned long *pos,
					    struct iopt_area *area)
{
	lockdep_assert_held(&area->iopt->iova_rwsem);
	while (*pos < nr && pins[*pos].last < area->node.start)
		(*pos)++;
	if (*pos < nr && pins[*pos].pages == area->pages &&
	    pins[*pos].start <= area->node.start &&
	    area->node.last <= pins[*pos].last)
		return &pins[*pos];
	return NULL;
}

/* Drop the uses and references of iopt_prepin_areas(); no lock held. */
static void iopt_prepin_release(struct iopt_prepin *pins, unsigned long nr)
{
	unsigned long i;

	if (IS_ERR_OR_NULL(pins))
		return;
	for (i = 0; i < nr; i++) {
		if (pins[i].used)
			iopt_pages_unuse(pins[i].pages, pins[i].first_index,
					 pins[i].last_index);
		iopt_put_pages(pins[i].pages);
		cond_resched();
	}
	kvfree(pins);
}

/**
 * iopt_add_domain() - make a domain mirror the IOAS
 * @iopt: the IOVA space
 * @hwpt: the HWPT whose domain joins it, not yet on any IOAS
 *
 * Reserve what the domain cannot translate, raise the alignment to its
 * smallest page, and map every area into it.  The areas are pinned first
 * with none of the IOAS's locks held (iopt_prepin_areas()): the first
 * domain of an IOAS pins everything, and a pin that waits on a user's
 * page fault must not hold up unmap, detach or removal.  Filling the
 * domain under the locks then only counts one more user of each page.
 *
 * Return: 0; -EADDRINUSE when an area does not fit the domain's
 * alignment or aperture; the pin's error of the first area that cannot
 * be pinned (-EFAULT, -ENOMEM, ...); the domain's mapping error.
 */
int iopt_add_domain(struct io_pagetable *iopt,
		    struct iommufd_hw_pagetable *hwpt)
{
	unsigned long align = iopt_domain_alignment(hwpt->domain);
	struct iopt_area *area, *undo;
	struct iopt_prepin *pins, *pin;
	unsigned long nr = 0, pos = 0;
	int rc;

	pins = iopt_prepin_areas(iopt, &nr, true);
	down_write(&iopt->domains_rwsem);
	down_write(&iopt->iova_rwsem);
	if (IS_ERR(pins)) {
		rc = PTR_ERR(pins);
		goto out_unlock;
	}
	rc = iopt_check_alignment(iopt, max(iopt->iova_alignment, align));
	if (rc)
		goto out_unlock;
	rc = iopt_reserve_aperture(iopt, hwpt);
	if (rc)
		goto out_reserved;
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		pin = iopt_prepin_find(pins, nr, &pos, area);
		/* Every area was there for the pass: adding_domains. */
		WARN_ON_ONCE(!pin);
		rc = pin ? pin->rc : 0;
		if (rc)
			goto out_unfill;
		rc = iopt_area_fill_domain(area, hwpt->domain);
		if (rc)
			goto out_unfill;
		cond_resched();
	}
	list_add_tail(&hwpt->iopt_item, &iopt->domains);
	iopt_recalc_alignment(iopt);
	goto out_unlock;

out_unfill:
	for (undo = iopt_area_iter_first(iopt, 0, ULONG_MAX); undo != area;
	     undo = iopt_area_iter_next(undo, 0, ULONG_MAX))
		iopt_area_unfill_domain(undo, hwpt->domain);
out_reserved:
	__iopt_remove_reserved_iova(iopt, hwpt);
out_unlock:
	/*
	 * The pass's uses go after the unlock, and may unpin (a failed
	 * fill, an area unmapped meanwhile): IOAS_CHANGE_PROCESS must keep
	 * finding the IOAS busy until they are gone, as after
	 * iopt_hold_pins().
	 */
	atomic_inc(&iopt->early_pins);
	iopt->adding_domains--;
	up_write(&iopt->iova_rwsem);
	up_write(&iopt->domains_rwsem);
	wake_up_all(&iopt->add_domain_wait);
	/* The domain holds what it needs now: the pass's uses may go. */
	iopt_prepin_release(pins, nr);
	atomic_dec(&iopt->early_pins);
	return rc;
}

/**
 * iopt_hold_pins() - pin every area of the IOAS now, for a later attach
 * @iopt: the IOVA space; no lock of it held
 * @hold: filled with the uses taken, for iopt_release_pins()
 *
 * The first domain of an IOAS pins every page it maps, and an attach
 * adds it holding locks that a device's removal needs (idev->lock,
 * ioas->auto_lock, a driver's own): pinned here first, with no lock held,
 * those pages only gain one more user in iopt_add_domain().  A pin that
 * fails is left for the attach to report (the area may go meanwhile).
 * Maps are not held up: an area mapped after this pass is pinned by the
 * attach itself, under its locks.  When a domain mirrors the IOAS
 * already, the pass only adds users (nothing is idle); it is made all
 * the same, since that domain may go before the attach, which would then
 * pin every area under its locks.  Until the release,
 * IOAS_CHANGE_PROCESS finds the IOAS busy (EBUSY).
 *
 * Return: 0, or -ENOMEM with nothing held.
 */
int iopt_hold_pins(struct io_pagetable *iopt, struct iopt_hold *hold)
{
	hold->pins = NULL;
	hold->nr = 0;
	hold->iopt = NULL;
	hold->pins = iopt_prepin_areas(iopt, &hold->nr, false);
	if (IS_ERR(hold->pins)) {
		atomic_dec(&iopt->early_pins);
		return PTR_ERR(hold->pins);
	}
	hold->iopt = iopt;
	return 0;
}

/**
 * iopt_release_pins() - drop what iopt_hold_pins() took
 * @hold: as it filled it; no lock of the IOAS held
 *
 * The uses go after the attach: pages a domain maps now keep their pin.
 */
void iopt_release_pins(struct iopt_hold *hold)
{
	if (!hold->iopt)
		return;
	iopt_prepin_release(hold->pins, hold->nr);
	atomic_dec(&hold->iopt->early_pins);
	hold->iopt = NULL;
}

/**
 * iopt_remove_domain() - stop mirroring the IOAS into @hwpt's domain
 * @iopt: the IOVA space
 * @hwpt: a HWPT whose domain iopt_add_domain() added
 *
 * Unmaps every area from the domain (unpinning what only it held), drops
 * the domain's reserved ranges and recomputes the alignment.
 *
 * Context: process, may sleep; takes domains_rwsem and iova_rwsem (both
 * for write) and, per area, pages->mutex.
 */
void iopt_remove_domain(struct io_pagetable *iopt,
			struct iommufd_hw_pagetable *hwpt)
{
	struct iopt_area *area;

	down_write(&iopt->domains_rwsem);
	down_write(&iopt->iova_rwsem);
	list_del(&hwpt->iopt_item);
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		iopt_area_unfill_domain(area, hwpt->domain);
		cond_resched();
	}
	__iopt_remove_reserved_iova(iopt, hwpt);
	iopt_recalc_alignment(iopt);
	up_write(&iopt->iova_rwsem);
	up_write(&iopt->domains_rwsem);
}

/* ------------------------------------------------------------ map, copy */

/* One piece of memory to map: @length bytes from byte @byte of @pages. */
struct iopt_map_elm {
	struct iopt_pages *pages;
	unsigned long byte;
	unsigned long length;
};

/*
 * A new area: the spare one that came with @pages (an IOAS_MAP's, already
 * zeroed) or a fresh allocation.
 */
static struct iopt_area *iopt_new_area(struct iopt_pages *pages)
{
	struct iopt_area *area = iopt_pages_take_area(pages);

	if (area) {
		area->in_pages = true;
		return area;
	}
	return iommufd_kzalloc(sizeof(*area), GFP_KERNEL_ACCOUNT);
}

static void iopt_free_area(struct iopt_area *area)
{
	bool in_pages = area->in_pages;

	/* An area inside its pages goes with them, maybe right here. */
	if (area->pages)
		iopt_put_pages(area->pages);
	if (!in_pages)
		kfree(area);
}

static void iopt_remove_area(struct iopt_area *area)
{
	lockdep_assert_held_write(&area->iopt->iova_rwsem);
	iopt_area_erase(area->iopt, area);
	iopt_free_area(area);
}

/* Reserve the IOVA and insert busy areas for @elms; under iova_rwsem. */
static int iopt_insert_areas(struct io_pagetable *iopt,
			     struct iopt_map_elm *elms, unsigned int nelms,
			     struct iopt_area **areas, unsigned long *iova,
			     unsigned long uptr, unsigned long total,
			     int iommu_prot, unsigned int flags)
{
	struct iopt_slot slot, *first_slot = NULL;
	unsigned long pos;
	unsigned int i;
	int rc;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	/* area->iommu_prot is a byte */
	BUILD_BUG_ON((IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE | IOMMU_NOEXEC |
		      IOMMU_MMIO | IOMMU_PRIV) > U8_MAX);
	if (flags & IOMMUFD_IOVA_FIXED) {
		rc = iopt_check_iova(iopt, *iova, total, &slot);
		first_slot = &slot;	/* the first area goes there */
	} else {
		rc = iopt_alloc_iova(iopt, iova, uptr, total);
	}
	if (rc)
		return rc;

	for (i = 0, pos = *iova; i < nelms; pos += elms[i].length, i++) {
		struct iopt_map_elm *elm = &elms[i];

		if ((iommu_prot & IOMMU_WRITE) && !elm->pages->writable)
			return -EPERM;
		if (((elm->byte % PAGE_SIZE) | elm->length | pos) &
		    (iopt->iova_alignment - 1))
			return -EINVAL;
	}
	for (i = 0, pos = *iova; i < nelms; pos += elms[i].length, i++) {
		struct iopt_area *area = areas[i];

		area->iopt = iopt;
		area->node.start = pos;
		area->node.last = pos + elms[i].length - 1;
		area->pages_byte = elms[i].byte;
		area->iommu_prot = iommu_prot;
		area->busy = true;
		kref_get(&elms[i].pages->kref);
		area->pages = elms[i].pages;
		iopt_area_insert(iopt, area, i ? NULL : first_slot);
	}
	return 0;
}

/* Drop the uses of pieces [from, nelms) that iopt_pin_elms() took. */
static void iopt_unpin_elms(struct iopt_map_elm *elms, unsigned int from,
			    unsigned int nelms)
{
	unsigned int i;

	for (i = from; i < nelms; i++)
		if (!elms[i].pages->dmabuf)
			iopt_pages_unuse(elms[i].pages,
					 elms[i].byte >> PAGE_SHIFT,
					 (elms[i].byte + elms[i].length - 1) >>
					 PAGE_SHIFT);
}

/* One use of every piece's pages, pinning them (GUP); all or nothing. */
static int iopt_pin_elms(struct iopt_map_elm *elms, unsigned int nelms)
{
	unsigned int i;
	int rc;

	for (i = 0; i < nelms; i++) {
		if (elms[i].pages->dmabuf)
			continue;	/* mapped by its fill, never pinned */
		rc = iopt_pages_use(elms[i].pages, elms[i].byte >> PAGE_SHIFT,
				    (elms[i].byte + elms[i].length - 1) >>
				    PAGE_SHIFT);
		if (rc)
			goto err_unpin;
	}
	return 0;

err_unpin:
	iopt_unpin_elms(elms, 0, i);
	return rc;
}


/*
 * Insert areas for @elms back to back from *@iova (or a chosen IOVA) and
 * map them into every domain.  Everything is undone on failure.
 *
 * Pinning may wait for ever on a user's page fault (userfaultfd, FUSE),
 * so it never runs under domains_rwsem or iova_rwsem, which unmap,
 * detach, HWPT destroy and device removal need: when the IOAS has a
 * domain, the pieces are pinned first, with no lock of the IOAS held,
 * and the first domain filled takes that use over (the others only count
 * one more user of pinned pages).  Without a domain nothing is pinned:
 * pinning stays lazy.  Whether there is a domain is only sure under the
 * lock: one that came meanwhile sends us back to pin first, and while a
 * domain is being added we wait for it, as it pins only the areas that
 * were there when it started (iopt_prepin_areas()).  A pin that failed
 * is reported after the IOVA checks, and only if a domain needs it.
 *
 * The areas go into the tree busy, under iova_rwsem; programming the
 * domains then runs without it, so maps and unmaps of other ranges
 * proceed meanwhile.  domains_rwsem, held for read throughout, keeps the
 * set of domains fixed.
 */
static int iopt_map_elms(struct io_pagetable *iopt, struct iopt_map_elm *elms,
			 unsigned int nelms, unsigned long *iova,
			 unsigned long uptr, int iommu_prot,
			 unsigned int flags)
{
	bool tried = false, pinned = false, want_pin = false, counted = false;
	struct iopt_area **areas, *one_area;
	unsigned int i, filled, handed = 0;
	unsigned long total = 0;
	unsigned int adding;
	int rc, pin_rc = 0;

	for (i = 0; i < nelms; i++)
		if (check_add_overflow(total, elms[i].length, &total))
			return -EOVERFLOW;
	/* MAP has one piece: no allocation for the list on that hot path. */
	areas = nelms == 1 ? &one_area :
		iommufd_kcalloc(nelms, sizeof(*areas), GFP_KERNEL_ACCOUNT);
	if (!areas)
		return -ENOMEM;
	areas[0] = NULL;
	for (i = 0; i < nelms; i++) {
		areas[i] = iopt_new_area(elms[i].pages);
		if (!areas[i]) {
			rc = -ENOMEM;
			goto out_free;
		}
	}

	for (;;) {
		/* Unlocked, a hint: the check under the lock decides. */
		if (!tried && (want_pin || !list_empty(&iopt->domains))) {
			if (flags & IOMMUFD_IOVA_SHARED_PAGES) {
				down_read(&iopt->iova_rwsem);
				atomic_inc(&iopt->early_pins);
				up_read(&iopt->iova_rwsem);
				counted = true;
			}
			pin_rc = iopt_pin_elms(elms, nelms);
			pinned = !pin_rc;
			tried = true;
		}
		down_read(&iopt->domains_rwsem);
		down_write(&iopt->iova_rwsem);
		adding = iopt->adding_domains;
		if (!adding && (tried || list_empty(&iopt->domains)))
			break;
		up_write(&iopt->iova_rwsem);
		up_read(&iopt->domains_rwsem);
		want_pin = true;
		if (adding &&
		    wait_event_killable(iopt->add_domain_wait,
					!READ_ONCE(iopt->adding_domains))) {
			rc = -EINTR;
			goto out_unpin;
		}
	}
	rc = iopt_insert_areas(iopt, elms, nelms, areas, iova, uptr, total,
			       iommu_prot, flags);
	up_write(&iopt->iova_rwsem);
	if (rc)
		goto out_unlock;
	if (pin_rc && !list_empty(&iopt->domains)) {
		rc = pin_rc;
		goto err_erase;
	}

	for (filled = 0; filled < nelms; filled++) {
		rc = iopt_area_fill_domains(areas[filled], pinned);
		if (rc)
			break;
	}

	if (!rc) {
		if (!list_empty(&iopt->domains))
			handed = nelms;	/* else no domain took the uses */
		/*
		 * Settled.  Only this call has touched the areas since they
		 * went in, so no iova_rwsem: publish them with a release
		 * that pairs with iopt_area_busy().
		 */
		for (i = 0; i < nelms; i++)
			smp_store_release(&areas[i]->busy, false); /* settled */
		areas = memset(areas, 0, nelms * sizeof(*areas));
		goto out_unlock;
	}
	/*
	 * Still busy, so still ours: unfill without the lock, then leave.
	 * Unfilling drops the uses the filled areas' first domain took; the
	 * failed area's and the later ones' are still ours.
	 */
	handed = filled;
	for (i = 0; i < filled; i++)
		iopt_area_unfill_domains(areas[i]);
err_erase:
	down_write(&iopt->iova_rwsem);
	for (i = 0; i < nelms; i++)
		iopt_area_erase(iopt, areas[i]);
	up_write(&iopt->iova_rwsem);
out_unlock:
	up_read(&iopt->domains_rwsem);
out_unpin:
	if (pinned)
		iopt_unpin_elms(elms, handed, nelms);
	if (counted)
		atomic_dec(&iopt->early_pins);
out_free:
	for (i = 0; i < nelms; i++)
		if (areas[i])
			iopt_free_area(areas[i]);
	if (areas != &one_area)
		kfree(areas);
	return rc;
}

/**
 * iopt_map_user_pages() - map user memory into the IOAS (IOAS_MAP)
 * @ictx: the context whose accounting mode charges the pins
 * @iopt: the IOVA space
 * @iova: in: the IOVA with IOMMUFD_IOVA_FIXED; out: the IOVA used
 * @uptr: user address of the memory
 * @length: bytes to map
 * @iommu_prot: IOMMU_READ, IOMMU_WRITE, ...
 * @flags: IOMMUFD_IOVA_FIXED or 0
 *
 * When the IOAS has a domain the pages are pinned first, with no lock
 * of the IOAS held (a pin may wait on a user page fault); otherwise
 * pinning waits until something uses them.
 *
 * Context: process; takes current->mm's mmap_lock, then domains_rwsem
 * (read) and iova_rwsem (write) to insert the areas, and pages->mutex to
 * program the domains.  The caller holds none of them.
 *
 * Return: 0 or a negative errno; nothing stays mapped on failure.
 */
int iopt_map_user_pages(struct iommufd_ctx *ictx, struct io_pagetable *iopt,
			unsigned long *iova, unsigned long uptr,
			unsigned long length, int iommu_prot,
			unsigned int flags)
{
	struct iopt_map_elm elm;
	int rc;

	if (!length)
		return -EINVAL;
	elm.pages = iopt_alloc_pages(uptr, length, iommu_prot & IOMMU_WRITE,
				     ictx->account_mode, true);
	if (IS_ERR(elm.pages))
		return PTR_ERR(elm.pages);
	elm.byte = uptr % PAGE_SIZE;
	elm.length = length;
	rc = iopt_map_elms(iopt, &elm, 1, iova, uptr, iommu_prot, flags);
	iopt_put_pages(elm.pages);
	return rc;
}

/**
 * iopt_map_file_pages() - map a range of a shmem or hugetlbfs file
 * @ictx: the context whose accounting mode charges the pins
 * @iopt: the IOVA space to map into
 * @iova: in: the IOVA with IOMMUFD_IOVA_FIXED; out: the IOVA used
 * @file: the file, pinned through its page cache
 * @start: byte offset in @file; its page offset follows the MAP rules of
 *         a user VA (a multiple of the IOAS's alignment)
 * @length: bytes to map
 * @iommu_prot: IOMMU_READ, IOMMU_WRITE, ...
 * @flags: IOMMUFD_IOVA_FIXED or 0
 *
 * Like iopt_map_user_pages(), with pages that come from @file: they are
 * pinned now if a domain exists, else when first used, and -EINVAL then
 * for a file of another kind or a range past its end.
 *
 * Return: 0 or a negative errno.
 */
int iopt_map_file_pages(struct iommufd_ctx *ictx, struct io_pagetable *iopt,
			unsigned long *iova, struct file *file,
			unsigned long start, unsigned long length,
			int iommu_prot, unsigned int flags)
{
	struct iopt_map_elm elm;
	int rc;

	if (!length)
		return -EINVAL;
	elm.pages = iopt_alloc_file_pages(file, start, length,
					  iommu_prot & IOMMU_WRITE,
					  ictx->account_mode, true);
	if (IS_ERR(elm.pages))
		return PTR_ERR(elm.pages);
	elm.byte = start % PAGE_SIZE;
	elm.length = length;
	rc = iopt_map_elms(iopt, &elm, 1, iova, start, iommu_prot, flags);
	iopt_put_pages(elm.pages);
	return rc;
}

/**
 * iopt_map_dmabuf_pages() - map a range of a dma-buf
 * @iopt: the IOVA space to map into
 * @iova: in: the IOVA with IOMMUFD_IOVA_FIXED; out: the IOVA used
 * @dmabuf: the dma-buf (the import takes its own reference)
 * @start: byte offset in @dmabuf; its page offset follows the MAP rules
 * @length: bytes to map
 * @iommu_prot: IOMMU_READ, IOMMU_WRITE, ...
 * @flags: IOMMUFD_IOVA_FIXED or 0
 *
 * Like iopt_map_file_pages(), with the exporter's pages mapped straight
 * into the domains: nothing is pinned or charged.
 *
 * Return: 0; -EINVAL for an empty range or one past the dma-buf's end;
 * -EOPNOTSUPP for an exporter other than the test one; -ENODEV when it
 * is revoked; or the errno of the map.
 */
int iopt_map_dmabuf_pages(struct io_pagetable *iopt, unsigned long *iova,
			  struct dma_buf *dmabuf, unsigned long start,
			  unsigned long length, int iommu_prot,
			  unsigned int flags)
{
	struct iopt_dmabuf *imp;
	struct iopt_map_elm elm;
	int rc;

	imp = iopt_dmabuf_get(dmabuf, start, length);
	if (IS_ERR(imp))
		return PTR_ERR(imp);
	elm.pages = iopt_alloc_dmabuf_pages(imp, start, length, true);
	if (IS_ERR(elm.pages))
		return PTR_ERR(elm.pages);
	rc = iopt_dmabuf_attach(imp, start + length - 1);
	if (rc)
		goto out_put;
	elm.byte = start % PAGE_SIZE;
	elm.length = length;
	rc = iopt_map_elms(iopt, &elm, 1, iova, start, iommu_prot, flags);
out_put:
	iopt_put_pages(elm.pages);
	return rc;
}

/*
 * Collect the pages behind [iova, iova + length) of @src, which must be
 * mapped without holes.  Each piece holds a reference on its pages.
 */
static int iopt_get_pieces(struct io_pagetable *src, unsigned long iova,
			   unsigned long length, struct iopt_map_elm **out,
			   unsigned int *nout)
{
	struct iopt_map_elm *elms = NULL;
	unsigned long last, next = iova;
	struct iopt_area *area;
	unsigned int n = 0, i;
	int rc = 0;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;

	down_read(&src->iova_rwsem);
	for (area = iopt_area_iter_first(src, iova, last); area;
	     area = iopt_area_iter_next(area, iova, last))
		n++;
	elms = iommufd_kcalloc(max(n, 1U), sizeof(*elms), GFP_KERNEL_ACCOUNT);
	if (!elms) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	i = 0;
	for (area = iopt_area_iter_first(src, iova, last); area;
	     area = iopt_area_iter_next(area, iova, last)) {
		unsigned long start = max(area->node.start, iova);
		unsigned long end = min(area->node.last, last);

		if (start != next || iopt_area_busy(area))
			break;
		elms[i].pages = area->pages;
		kref_get(&area->pages->kref);
		elms[i].byte = area->pages_byte + (start - area->node.start);
		elms[i].length = end - start + 1;
		i++;
		if (end == last) {
			next = 0;
			break;
		}
		next = end + 1;
	}
	if (!i || next) {
		rc = -ENOENT;
		while (i--)
			iopt_put_pages(elms[i].pages);
		kfree(elms);
		goto out_unlock;
	}
	*out = elms;
	*nout = i;
out_unlock:
	up_read(&src->iova_rwsem);
	return rc;
}

/**
 * iopt_copy_pages() - map in @dst the pages mapped in @src (IOAS_COPY)
 * @dst: the IOVA space to map into
 * @src: the IOVA space the range is mapped in (may be @dst)
 * @dst_iova: in: the IOVA with IOMMUFD_IOVA_FIXED; out: the IOVA used
 * @src_iova: first IOVA of the range in @src
 * @length: bytes; the range must be fully mapped by settled areas
 * @iommu_prot: IOMMU_READ, IOMMU_WRITE, ...
 * @flags: IOMMUFD_IOVA_FIXED or 0
 *
 * The pages are shared, not pinned again: a page pinned in both counts
 * once.  As in iopt_map_user_pages(), pinning for @dst's domains happens
 * with none of @dst's locks held.
 *
 * Context: process; takes @src's iova_rwsem (read) to find the pages,
 * drops it, then takes @dst's locks as iopt_map_user_pages() does.
 *
 * Return: 0; -EINVAL, -EOVERFLOW for a bad range; -ENOENT when the range
 * has a hole or a busy area; or the errno of the map.
 */
int iopt_copy_pages(struct io_pagetable *dst, struct io_pagetable *src,
		    unsigned long *dst_iova, unsigned long src_iova,
		    unsigned long length, int iommu_prot, unsigned int flags)
{
	struct iopt_map_elm *elms;
	unsigned int n, i;
	int rc;

	rc = iopt_get_pieces(src, src_iova, length, &elms, &n);
	if (rc)
		return rc;
	rc = iopt_map_elms(dst, elms, n, dst_iova, src_iova, iommu_prot,
			   flags | IOMMUFD_IOVA_SHARED_PAGES);
	for (i = 0; i < n; i++)
		iopt_put_pages(elms[i].pages);
	kfree(elms);
	return rc;
}

/* ----------------------------------------------------------------- unmap */

/*
 * How long an unmap waits for accesses to let go of an area: a pin may be
 * on its way (taken, not yet known to the driver's unmap callback) and is
 * then dropped a moment later.  Only an access that never unpins runs out.
 */
#define IOPT_UNMAP_ACCESS_TRIES 2000

/*
 * Accesses pin pages in [start, last]: ask them all to let go, without
 * holding our locks since their callbacks unpin through us.  The caller
 * has stopped new pins (prevent_access) on the areas concerned.
 */
static void iopt_release_accesses(struct io_pagetable *iopt,
				  unsigned long start, unsigned long last,
				  int tries)
{
	/* The caller's locks (iopt_unmap_range()), dropped here. */
	lockdep_assert_held_write(&iopt->iova_rwsem);
	lockdep_assert_held(&iopt->domains_rwsem);
	up_write(&iopt->iova_rwsem);
	up_read(&iopt->domains_rwsem);
	if (tries > 2)
		usleep_range(500, 1000);
	iommufd_access_notify_unmap(iopt, start, last - start + 1);
}

/* A failed unmap lets accesses use the areas it had asked them to leave. */
static void iopt_unmap_allow_access(struct io_pagetable *iopt,
				    unsigned long start, unsigned long last)
{
	struct iopt_area *area;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, start, last); area;
	     area = iopt_area_iter_next(area, start, last))
		if (!iopt_area_busy(area))
			area->prevent_access = false;
}

/*
 * Check [start, last] for unmap: only whole, settled areas; accesses let
 * go first.  Claims the areas (busy, on @claimed) in one walk of the
 * tree.  Returns -EAGAIN with both locks dropped when it had to ask
 * accesses to let go.
 */
static int iopt_unmap_claim(struct io_pagetable *iopt, unsigned long start,
			    unsigned long last, int *tries,
			    struct iopt_area **claimed)
{
	unsigned long pin_start = ULONG_MAX, pin_last = 0;
	struct iopt_area *area;
	int rc = 0;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	for (area = iopt_area_iter_first(iopt, start, last); area;
	     area = iopt_area_iter_next(area, start, last)) {
		if (area->node.start < start || area->node.last > last) {
			rc = -ENOENT;
			break;
		}
		if (iopt_area_busy(area)) {
			rc = -EBUSY;	/* being mapped or unmapped now */
			break;
		}
		if (area->num_accesses) {
			pin_start = min(pin_start, area->node.start);
			pin_last = max(pin_last, area->node.last);
		}
		area->claim_next = *claimed;
		*claimed = area;
	}
	if (!rc && pin_start <= pin_last &&
	    WARN_ON(++*tries > IOPT_UNMAP_ACCESS_TRIES))
		rc = -EDEADLK;		/* an access that never unpins */
	if (rc) {
		*claimed = NULL;	/* nothing claimed after all */
		if (*tries)
			iopt_unmap_allow_access(iopt, start, last);
		return rc;
	}
	if (pin_start <= pin_last) {
		/* One round for all pins: none new in the range, all go. */
		for (area = *claimed; area; area = area->claim_next)
			area->prevent_access = true;
		*claimed = NULL;
		iopt_release_accesses(iopt, pin_start, pin_last, *tries);
		return -EAGAIN;
	}
	for (area = *claimed; area; area = area->claim_next)
		area->busy = true;
	return 0;
}

/*
 * Unmap every area inside [start, last].  The areas are claimed (busy)
 * under iova_rwsem, unmapped from the domains and unpinned without it,
 * and only then leave the tree, so their IOVA cannot be reused before
 * the domains are clear.
 */
static int iopt_unmap_range(struct io_pagetable *iopt, unsigned long start,
			    unsigned long last, unsigned long *unmapped)
{
	struct iopt_area *area, *next, *claimed = NULL;
	unsigned long total = 0;
	int tries = 0, rc;

again:
	down_read(&iopt->domains_rwsem);
	down_write(&iopt->iova_rwsem);
	rc = iopt_unmap_claim(iopt, start, last, &tries, &claimed);
	if (rc == -EAGAIN)
		goto again;	/* the locks were dropped */
	up_write(&iopt->iova_rwsem);
	if (rc) {
		up_read(&iopt->domains_rwsem);
		return rc;
	}

	/* Claimed areas are ours alone: no tree walk, no iova_rwsem. */
	iopt_unfill_claimed(iopt, claimed);

	down_write(&iopt->iova_rwsem);
	for (area = claimed; area; area = next) {
		next = area->claim_next;
		total += iopt_area_length(area);
		iopt_remove_area(area);
		cond_resched();
	}
	up_write(&iopt->iova_rwsem);
	up_read(&iopt->domains_rwsem);
	*unmapped = total;
	return 0;
}

/**
 * iopt_unmap_iova_or_none() - unmap the areas inside a range, if any
 * @iopt: the IOVA space
 * @iova: first IOVA of the range
 * @length: its length in bytes, not 0
 * @unmapped: the bytes unmapped, set on success (0 when nothing was there)
 *
 * As iopt_unmap_iova(), but a range with nothing mapped in it succeeds
 * (VFIO type1 semantics).
 *
 * Return: 0; -EINVAL for length 0; -EOVERFLOW when the range wraps;
 * -ENOENT when an area crosses an end of the range; -EBUSY while one is
 * being mapped or unmapped.
 */
int iopt_unmap_iova_or_none(struct io_pagetable *iopt, unsigned long iova,
			    unsigned long length, unsigned long *unmapped)
{
	unsigned long last;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	return iopt_unmap_range(iopt, iova, last, unmapped);
}

/**
 * iopt_unmap_iova() - unmap the areas inside a range (IOAS_UNMAP)
 * @iopt: the IOVA space
 * @iova: first IOVA of the range
 * @length: its length in bytes, not 0
 * @unmapped: set to the bytes unmapped on success
 *
 * Context: process, may sleep; takes domains_rwsem (read) and iova_rwsem
 * (write), drops iova_rwsem while the domains are cleared, and calls the
 * accesses' unmap callbacks with neither held.
 *
 * Return: 0; -ENOENT when nothing is mapped there or an area crosses an
 * end of the range; -EINVAL, -EOVERFLOW for a bad range; -EBUSY while an
 * area is being mapped or unmapped; -EDEADLK when an access never lets
 * go of its pins.
 */
int iopt_unmap_iova(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, unsigned long *unmapped)
{
	int rc = iopt_unmap_iova_or_none(iopt, iova, length, unmapped);

	if (!rc && !*unmapped)
		return -ENOENT;
	return rc;
}

/**
 * iopt_unmap_all() - unmap every area
 * @iopt: the IOVA space
 * @unmapped: set to the bytes unmapped on success (0 when empty)
 *
 * Context: as iopt_unmap_iova().
 *
 * Return: 0; -EBUSY while an area is being mapped or unmapped; -EDEADLK
 * when an access never lets go of its pins.
 */
int iopt_unmap_all(struct io_pagetable *iopt, unsigned long *unmapped)
{
	return iopt_unmap_range(iopt, 0, ULONG_MAX, unmapped);
}

/* ------------------------------------------------------------- cutting */

/*
 * Split @area after @iova, the upper part going into @*spare (zeroed;
 * set to NULL once used), so that an unmap may end or begin there.  Only
 * while large pages are disabled: every domain then holds the area in
 * IOPTEs of PAGE_SIZE at most, and the cut, aligned to the IOAS (at least
 * PAGE_SIZE), falls between them and between pages of the area's pages,
 * so the domains stay as they are, and so do the pages' use counts once
 * the chunk the cut falls in counts per page.
 */
static int iopt_area_split(struct iopt_area *area, unsigned long iova,
			   struct iopt_area **spare)
{
	struct io_pagetable *iopt = area->iopt;
	unsigned long split = iova + 1;	/* first IOVA of the upper part */
	unsigned long split_byte;
	struct iopt_area *upper;
	int rc;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	if (iova == area->node.last)
		return 0;
	if (iopt_area_busy(area) || area->prevent_access)
		return -EBUSY;
	/* Its domain mappings are recorded whole (dmabuf.c). */
	if (area->pages->dmabuf)
		return -EOPNOTSUPP;
	if (!iopt->disable_large_pages)
		return -EINVAL;
	split_byte = area->pages_byte + (split - area->node.start);
	if ((split | split_byte) & (iopt->iova_alignment - 1))
		return -EINVAL;
	/* Pins of accesses record their area: they cannot be divided. */
	if (area->num_accesses)
		return -EINVAL;
	rc = iopt_pages_split_at(area->pages, split_byte >> PAGE_SHIFT);
	if (rc)
		return rc;

	upper = *spare;
	*spare = NULL;
	upper->iopt = iopt;
	upper->node.start = split;
	upper->node.last = area->node.last;
	upper->pages_byte = split_byte;
	upper->iommu_prot = area->iommu_prot;
	kref_get(&area->pages->kref);
	upper->pages = area->pages;
	/* The lower part keeps its place in the tree: same start. */
	area->node.last = iova;
	iopt_area_insert(iopt, upper, NULL);
	return 0;
}

/**
 * iopt_cut_iova() - make areas end at the given IOVAs
 * @iopt: the IOVA space, with large pages disabled
 * @iovas: for each, the area that holds it is split to end there
 * @num: how many (at most 2)
 *
 * For VFIO type1's unmap of part of a mapping: cut at both ends of the
 * range first.  An IOVA in no area, or at an area's end, needs no cut.
 * A cut already made stays when a later one fails; it changes nothing
 * but the bookkeeping.
 *
 * Return: 0; -EINVAL when a cut is not aligned to the IOAS, falls in an
 * area an access has pinned pages of, or large pages are enabled; -EBUSY
 * when the area is being mapped or unmapped; -EOPNOTSUPP for a dma-buf
 * area; -ENOMEM.
 */
int iopt_cut_iova(struct io_pagetable *iopt, const unsigned long *iovas,
		  unsigned int num)
{
	struct iopt_area *spare[2] = {};
	struct iopt_area *area;
	unsigned int i;
	int rc = 0;

	if (WARN_ON(num > ARRAY_SIZE(spare)))
		return -EINVAL;
	for (i = 0; i < num; i++) {
		spare[i] = iommufd_kzalloc(sizeof(*spare[i]),
					   GFP_KERNEL_ACCOUNT);
		if (!spare[i]) {
			rc = -ENOMEM;
			goto out_free;
		}
	}

	down_write(&iopt->iova_rwsem);
	for (i = 0; i < num; i++) {
		area = iopt_area_iter_first(iopt, iovas[i], iovas[i]);
		if (!area)
			continue;
		rc = iopt_area_split(area, iovas[i], &spare[i]);
		if (rc)
			break;
	}
	up_write(&iopt->iova_rwsem);
out_free:
	for (i = 0; i < num; i++)
		kfree(spare[i]);
	return rc;
}

/**
 * iopt_collect_pages() - the pages of every area, for IOAS_CHANGE_PROCESS
 * @iopt: the IOVA space, its iova_rwsem held for write
 * @out: where to store the pages (not referenced: the areas hold them
 *       while iova_rwsem is held), or NULL only to count
 * @max: room in @out
 * @n: in: how many of @out are used; out: that plus this IOAS's areas
 *     (counted past @max too, for the caller to size @out)
 *
 * Return: 0; -EBUSY when an area is still being mapped or unmapped, or
 * pages of the IOAS are being pinned before its locks are taken (a domain
 * being added, a COPY into it) -- checked first: the caller may retry
 * once it settled; else -EINVAL
 * when an area maps a process's memory rather than a file.
 */
int iopt_collect_pages(struct io_pagetable *iopt, struct iopt_pages **out,
		       unsigned long max, unsigned long *n)
{
	struct iopt_area *area;
	bool user_va = false;

	lockdep_assert_held_write(&iopt->iova_rwsem);
	/* Pins taken before the locks (a domain added, a COPY) are busy. */
	if (iopt->adding_domains || atomic_read(&iopt->early_pins))
		return -EBUSY;
	for (area = iopt_area_iter_first(iopt, 0, ULONG_MAX); area;
	     area = iopt_area_iter_next(area, 0, ULONG_MAX)) {
		if (iopt_area_busy(area))
			return -EBUSY;
		user_va |= !area->pages->file_backed;
		if (out && *n < max)
			out[*n] = area->pages;
		(*n)++;
		cond_resched();
	}
	return user_va ? -EINVAL : 0;
}
