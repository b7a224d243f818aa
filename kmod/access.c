// SPDX-License-Identifier: GPL-2.0
/*
 * Accesses: how a software device -- one with no IOMMU of its own, the
 * RFC's "SW mdev" -- reaches memory through an IOAS.  It binds without any
 * security context and uses IOVAs only through these helpers: pin pages
 * (the pages stay pinned until it unpins them), or copy bytes in or out.
 * An unmap over pinned pages calls the access's unmap callback, which
 * must unpin them; the unmap then completes.
 */
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/slab.h>

#include "iommufd_private.h"

/**
 * iommufd_access_create() - a software device's way into IOASes
 * @ictx: the iommufd (its file is held until iommufd_access_destroy())
 * @ops: the driver's callbacks; @ops->unmap must unpin what it pinned in
 *	the range it is given before returning
 * @data: passed back to @ops
 *
 * Return: the access, not attached to any IOAS, or ERR_PTR(-ENOMEM).
 */
struct iommufd_access *
iommufd_access_create(struct iommufd_ctx *ictx,
		      const struct iommufd_access_ops *ops, void *data)
{
	struct iommufd_access *access;

	access = iommufd_kzalloc(sizeof(*access), GFP_KERNEL_ACCOUNT);
	if (!access)
		return ERR_PTR(-ENOMEM);
	access->ictx = ictx;
	access->ops = ops;
	access->data = data;
	mutex_init(&access->attach_lock);
	mutex_init(&access->ioas_lock);
	INIT_LIST_HEAD(&access->ioas_item);
	iommufd_ctx_get(ictx);
	iommufd_stats_object(1);
	return access;
}

/**
 * iommufd_access_destroy() - end an access
 * @access: the access; detached first (the unmap callback unpins all)
 */
void iommufd_access_destroy(struct iommufd_access *access)
{
	iommufd_access_detach(access);
	iommufd_ctx_put(access->ictx);
	mutex_destroy(&access->ioas_lock);
	mutex_destroy(&access->attach_lock);
	kfree(access);
	iommufd_stats_object(-1);
}

/* A pinning access needs page-aligned areas in its IOAS. */
static int iommufd_access_add_alignment(struct iommufd_access *access,
					struct iommufd_ioas *ioas)
{
	lockdep_assert_held(&access->attach_lock);
	if (!access->ops->needs_pin_pages)
		return 0;
	return iopt_add_access_alignment(&ioas->iopt, PAGE_SIZE);
}

static void iommufd_access_remove_alignment(struct iommufd_access *access,
					    struct iommufd_ioas *ioas)
{
	lockdep_assert_held(&access->attach_lock);
	if (access->ops->needs_pin_pages)
		iopt_remove_access_alignment(&ioas->iopt);
}

/* Start getting @ioas's unmap notifications. */
static void iommufd_access_listen(struct iommufd_access *access,
				  struct iommufd_ioas *ioas)
{
	lockdep_assert_held(&access->attach_lock);
	mutex_lock(&ioas->iopt.access_lock);
	list_add_tail(&access->ioas_item, &ioas->iopt.accesses);
	mutex_unlock(&ioas->iopt.access_lock);
}

/* Stop notifications from @ioas and make the driver unpin everything. */
static void iommufd_access_unlisten(struct iommufd_access *access,
				    struct iommufd_ioas *ioas)
{
	lockdep_assert_held(&access->attach_lock);
	mutex_lock(&ioas->iopt.access_lock);
	list_del_init(&access->ioas_item);
	mutex_unlock(&ioas->iopt.access_lock);
	access->ops->unmap(access->data, 0, ULONG_MAX);
}

/* Point new pins (and existing ones) at @ioas; NULL for no IOAS. */
static void iommufd_access_set_ioas(struct iommufd_access *access,
				    struct iommufd_ioas *ioas)
{
	lockdep_assert_held(&access->attach_lock);
	mutex_lock(&access->ioas_lock);
	access->ioas = ioas;
	access->ioas_unpin = ioas;
	mutex_unlock(&access->ioas_lock);
}

/* No new pins from here on; existing ones still unpin through the IOAS. */
static void iommufd_access_stop_pins(struct iommufd_access *access)
{
	lockdep_assert_held(&access->attach_lock);
	mutex_lock(&access->ioas_lock);
	access->ioas = NULL;
	mutex_unlock(&access->ioas_lock);
}

/**
 * iommufd_access_attach() - let an access reach an IOAS
 * @access: the access, not attached
 * @ioas_id: the IOAS
 *
 * Return: 0; -EINVAL when attached already; -ENOENT for no such IOAS; an
 * error when a pinning access cannot have page-aligned areas there.
 */
int iommufd_access_attach(struct iommufd_access *access, u32 ioas_id)
{
	struct iommufd_ioas *ioas;
	int rc;

	mutex_lock(&access->attach_lock);
	rc = -EINVAL;
	if (access->ioas_unpin)
		goto out_unlock;
	ioas = iommufd_get_ioas(access->ictx, ioas_id);
	rc = PTR_ERR_OR_ZERO(ioas);
	if (rc)
		goto out_unlock;
	rc = iommufd_access_add_alignment(access, ioas);
	if (rc) {
		iommufd_put_object(&ioas->obj);
		goto out_unlock;
	}
	iommufd_access_listen(access, ioas);
	/* The access's long-term reference; the lookup's goes. */
	refcount_inc(&ioas->obj.users);
	iommufd_put_object(&ioas->obj);
	iommufd_access_set_ioas(access, ioas);
out_unlock:
	mutex_unlock(&access->attach_lock);
	return rc;
}

/**
 * iommufd_access_detach() - no more IOAS for an access
 * @access: the access (attached or not)
 *
 * The unmap callback is called for everything first: no pin survives.
 */
void iommufd_access_detach(struct iommufd_access *access)
{
	struct iommufd_ioas *ioas;

	mutex_lock(&access->attach_lock);
	ioas = access->ioas_unpin;
	if (ioas) {
		iommufd_access_stop_pins(access);
		iommufd_access_unlisten(access, ioas);
		iommufd_access_remove_alignment(access, ioas);
		iommufd_access_set_ioas(access, NULL);
		refcount_dec(&ioas->obj.users);
	}
	mutex_unlock(&access->attach_lock);
}

/**
 * iommufd_access_replace() - move an access to another IOAS
 * @access: the access, attached
 * @ioas_id: the new IOAS
 *
 * Pins on the old one are released through the unmap callback before the
 * access can pin on the new one.  The new IOAS's alignment is secured
 * first, so nothing can fail after the access has left the old one.
 *
 * Return: 0 (also for the IOAS it is on); -ENOENT when not attached or
 * for no such IOAS; an alignment error, the access staying where it was.
 */
int iommufd_access_replace(struct iommufd_access *access, u32 ioas_id)
{
	struct iommufd_ioas *new, *old;
	int rc;

	new = iommufd_get_ioas(access->ictx, ioas_id);
	if (IS_ERR(new))
		return PTR_ERR(new);
	mutex_lock(&access->attach_lock);
	old = access->ioas_unpin;
	rc = -ENOENT;
	if (!old)
		goto err_put;
	rc = 0;
	if (old == new)
		goto err_put;
	rc = iommufd_access_add_alignment(access, new);
	if (rc)
		goto err_put;
	iommufd_access_stop_pins(access);
	iommufd_access_unlisten(access, old);
	iommufd_access_listen(access, new);
	/* The access's long-term reference moves to the new IOAS. */
	refcount_inc(&new->obj.users);
	iommufd_access_set_ioas(access, new);
	iommufd_access_remove_alignment(access, old);
	mutex_unlock(&access->attach_lock);
	refcount_dec(&old->obj.users);
	iommufd_put_object(&new->obj);
	return 0;

err_put:
	mutex_unlock(&access->attach_lock);
	iommufd_put_object(&new->obj);
	return rc;
}

/**
 * iommufd_access_notify_unmap() - ask every access of an IOAS to unpin
 * @iopt: the IOVA space being unmapped
 * @iova: first IOVA of the range
 * @length: bytes
 *
 * Runs each access's unmap callback, which unpins through this module.
 *
 * Context: process, may sleep in the callbacks.  Takes iopt->access_lock
 * and holds it across them; the caller holds no lock of the IOAS.
 */
void iommufd_access_notify_unmap(struct io_pagetable *iopt,
				 unsigned long iova, unsigned long length)
{
	struct iommufd_access *access;

	mutex_lock(&iopt->access_lock);
	list_for_each_entry(access, &iopt->accesses, ioas_item)
		access->ops->unmap(access->data, iova, length);
	mutex_unlock(&iopt->access_lock);
}

/* One piece of an IOVA range: the part of one area it covers. */
struct iopt_piece {
	struct iopt_area *area;
	unsigned long start;	/* IOVA */
	unsigned long last;
};

typedef int (*iopt_piece_fn)(struct iopt_piece *p, void *arg);

static unsigned long piece_byte(struct iopt_piece *p)
{
	return p->area->pages_byte + (p->start - p->area->node.start);
}

/*
 * Walk [iova, last] area by area, calling @fn on each piece.  The range
 * must be mapped without holes and usable with @prot.
 */
static int iopt_walk_pieces(struct io_pagetable *iopt, unsigned long iova,
			       unsigned long last, int prot,
			       iopt_piece_fn fn, void *arg,
			       unsigned long *done_to)
{
	unsigned long next = iova;
	struct iopt_area *area;
	int rc;

	for (area = iopt_area_iter_first(iopt, iova, last); area;
	     area = iopt_area_iter_next(area, iova, last)) {
		struct iopt_piece p = {
			.area = area,
			.start = max(area->node.start, iova),
			.last = min(area->node.last, last),
		};

		if (p.start != next)
			return -ENOENT;
		if ((area->iommu_prot & prot) != prot)
			return -EPERM;
		rc = fn(&p, arg);
		if (rc)
			return rc;
		*done_to = p.last;
		if (p.last == last)
			return 0;
		next = p.last + 1;
	}
	return -ENOENT;
}

static int iommufd_check_range(unsigned long iova, unsigned long length,
			       unsigned long *last)
{
	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, last))
		return -EOVERFLOW;
	return 0;
}

/*
 * Check [iova, iova + length) and return the IOAS new pins and copies go
 * to, with access->ioas_lock held; the caller unlocks it.
 */
static struct iommufd_ioas *
iommufd_access_lock_ioas(struct iommufd_access *access, unsigned long iova,
			 unsigned long length, unsigned long *last)
{
	int rc = iommufd_check_range(iova, length, last);

	if (rc)
		return ERR_PTR(rc);
	mutex_lock(&access->ioas_lock);
	if (!access->ioas) {
		mutex_unlock(&access->ioas_lock);
		return ERR_PTR(-ENOENT);
	}
	return access->ioas;
}

struct pin_state {
	struct page **out;
	bool unpin;
};

static int pin_piece(struct iopt_piece *p, void *arg)
{
	struct pin_state *st = arg;
	unsigned long first = piece_byte(p) >> PAGE_SHIFT;
	unsigned long last = (piece_byte(p) + p->last - p->start) >> PAGE_SHIFT;
	struct iopt_pages *pages = p->area->pages;
	unsigned long i;
	int rc;

	/* num_accesses: unmap and split read it under the lock for write. */
	lockdep_assert_held_write(&p->area->iopt->iova_rwsem);
	if (st->unpin) {
		iopt_pages_unuse(pages, first, last);
		p->area->num_accesses--;
		return 0;
	}
	/* An unmap is waiting for this area's accesses to let go. */
	if (p->area->prevent_access)
		return -EINVAL;
	if (iopt_area_busy(p->area))
		return -ENOENT;	/* not mapped yet */
	/* The pieces must split at CPU page boundaries of the IOVA. */
	if (piece_byte(p) % PAGE_SIZE != p->start % PAGE_SIZE)
		return -EINVAL;
	rc = iopt_pages_use(pages, first, last);
	if (rc)
		return rc;
	p->area->num_accesses++;
	for (i = first; i <= last; i++)
		*st->out++ = iopt_pages_page(pages, i);
	return 0;
}

/**
 * iommufd_access_unpin_pages() - undo one iommufd_access_pin_pages()
 * @access: the access
 * @iova: the same range as the pin
 * @length: its length
 */
void iommufd_access_unpin_pages(struct iommufd_access *access,
				unsigned long iova, unsigned long length)
{
	struct pin_state st = { .unpin = true };
	struct iommufd_ioas *ioas;
	unsigned long last, done;

	if (WARN_ON(iommufd_check_range(iova, length, &last)))
		return;
	mutex_lock(&access->ioas_lock);
	ioas = access->ioas_unpin;
	if (!WARN_ON(!ioas)) {
		down_write(&ioas->iopt.iova_rwsem);
		WARN_ON(iopt_walk_pieces(&ioas->iopt, iova, last, 0,
					    pin_piece, &st, &done));
		up_write(&ioas->iopt.iova_rwsem);
	}
	mutex_unlock(&access->ioas_lock);
}

/**
 * iommufd_access_pin_pages() - pin the pages behind an IOVA range
 * @access: the access, attached, made with needs_pin_pages
 * @iova: the start of the range
 * @length: its length
 * @out_pages: one page per CPU page of the range, out
 * @flags: IOMMUFD_ACCESS_RW_WRITE when the device will write
 *
 * The pages stay pinned until iommufd_access_unpin_pages(), or the unmap
 * callback for an unmap over them.
 *
 * Return: 0; -EINVAL or -EOVERFLOW for an empty or wrapping range;
 * -ENOENT when not attached or something of the range is not mapped (or
 * being unmapped); -EPERM for a write to a read-only mapping; the pin's
 * error (-ENOMEM beyond RLIMIT_MEMLOCK, -EFAULT).
 */
int iommufd_access_pin_pages(struct iommufd_access *access,
			     unsigned long iova, unsigned long length,
			     struct page **out_pages, unsigned int flags)
{
	struct pin_state st = { .out = out_pages };
	int prot = (flags & IOMMUFD_ACCESS_RW_WRITE) ? IOMMU_WRITE : IOMMU_READ;
	struct iommufd_ioas *ioas;
	unsigned long last, done = 0;
	int rc;

	if (!access->ops->needs_pin_pages)
		return -EINVAL;
	ioas = iommufd_access_lock_ioas(access, iova, length, &last);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	down_write(&ioas->iopt.iova_rwsem);
	rc = iopt_walk_pieces(&ioas->iopt, iova, last, prot, pin_piece, &st,
				 &done);
	if (rc && done) {
		st.unpin = true;
		iopt_walk_pieces(&ioas->iopt, iova, done, 0, pin_piece, &st,
				    &last);
	}
	up_write(&ioas->iopt.iova_rwsem);
	mutex_unlock(&access->ioas_lock);
	return rc;
}

struct rw_state {
	u8 *data;
	bool write;
};

/* Copy one piece through temporarily pinned pages. */
static int rw_piece(struct iopt_piece *p, void *arg)
{
	struct rw_state *st = arg;
	struct iopt_pages *pages = p->area->pages;
	unsigned long byte = piece_byte(p);
	unsigned long left = p->last - p->start + 1;
	unsigned long first = byte >> PAGE_SHIFT;
	unsigned long last = (byte + left - 1) >> PAGE_SHIFT;
	int rc;

	/* prevent_access and busy are written under it (for write). */
	lockdep_assert_held(&p->area->iopt->iova_rwsem);
	if (p->area->prevent_access)
		return -EINVAL;
	if (iopt_area_busy(p->area))
		return -ENOENT;
	rc = iopt_pages_use(pages, first, last);
	if (rc)
		return rc;
	while (left) {
		unsigned long off = byte % PAGE_SIZE;
		unsigned long n = min(PAGE_SIZE - off, left);
		u8 *va = kmap_local_page(iopt_pages_page(pages,
							 byte >> PAGE_SHIFT));

		if (st->write)
			memcpy(va + off, st->data, n);
		else
			memcpy(st->data, va + off, n);
		kunmap_local(va);
		st->data += n;
		byte += n;
		left -= n;
	}
	iopt_pages_unuse(pages, first, last);
	return 0;
}

/**
 * iommufd_access_rw() - copy bytes to or from the memory at an IOVA
 * @access: the access, attached
 * @iova: where
 * @data: a kernel buffer
 * @length: how many bytes
 * @flags: IOMMUFD_ACCESS_RW_WRITE to write the memory
 *
 * Return: 0, or as iommufd_access_pin_pages().
 */
int iommufd_access_rw(struct iommufd_access *access, unsigned long iova,
		      void *data, size_t length, unsigned int flags)
{
	struct rw_state st = {
		.data = data,
		.write = flags & IOMMUFD_ACCESS_RW_WRITE,
	};
	struct iommufd_ioas *ioas;
	unsigned long last, done;
	int rc;

	ioas = iommufd_access_lock_ioas(access, iova, length, &last);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	down_read(&ioas->iopt.iova_rwsem);
	rc = iopt_walk_pieces(&ioas->iopt, iova, last,
				 st.write ? IOMMU_WRITE : IOMMU_READ,
				 rw_piece, &st, &done);
	up_read(&ioas->iopt.iova_rwsem);
	mutex_unlock(&access->ioas_lock);
	return rc;
}
