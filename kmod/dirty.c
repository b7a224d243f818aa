// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking of a HWPT allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING:
 * IOMMU_HWPT_SET_DIRTY_TRACKING turns it on and off, and
 * IOMMU_HWPT_GET_DIRTY_BITMAP reports (and clears) the IOVA DMA wrote to
 * in a user bitmap, one bit per page_size bytes from the given IOVA.
 *
 * The bitmap is walked one user page at a time: that page is pinned and
 * mapped before the domain is read, so nothing touches user memory with
 * the HWPT held or the domain's lock taken, and no kernel allocation
 * grows with the range.  A dirty leaf that covers bits past the page's
 * last one leaves them pending ("carried") until the next page is
 * mapped: a leaf's bits are all set although it is cleared only once.
 */
#include <linux/highmem.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>

#include "iommufd_private.h"

struct iommufd_dirty_bitmap {
	u64 iova;		/* of bit 0 */
	u64 last;		/* the last IOVA the bitmap covers */
	u64 page_size;
	u64 nbits;
	/* The window: bits [win_first, win_last], mapped at @kaddr. */
	u64 win_first;
	u64 win_last;
	u8 *kaddr;
	/* Bits after the window, up to this one, still to set (0: none). */
	u64 carry;
};

/* Set bits [@first, @last] of the window. */
static void dirty_fill(struct iommufd_dirty_bitmap *bm, u64 first, u64 last)
{
	/*
	 * Bit n is bit n % 8 of byte n / 8: the layout of little-endian u64
	 * words that the uAPI defines, whatever the alignment of the buffer.
	 */
	while (first <= last) {
		u8 *byte = bm->kaddr + (first - bm->win_first) / BITS_PER_BYTE;
		unsigned int bit = first % BITS_PER_BYTE;
		unsigned int n = min_t(u64, BITS_PER_BYTE - bit,
				       last - first + 1);

		*byte |= GENMASK(bit + n - 1, bit);
		first += n;
	}
}

/**
 * iommufd_dirty_record() - report a dirty leaf to a bitmap being read
 * @bm: the bitmap the backend's ->read_and_clear() was given
 * @iova: the leaf's first IOVA
 * @length: the leaf's size in bytes
 *
 * Sets every bit the leaf overlaps; those past the mapped window are set
 * once the walk reaches them.  Does not sleep.
 */
void iommufd_dirty_record(struct iommufd_dirty_bitmap *bm, unsigned long iova,
			  unsigned long length)
{
	u64 leaf_last = (u64)iova + (length - 1);
	u64 first, last;

	if (!length || leaf_last < bm->iova || iova > bm->last)
		return;
	first = div64_u64(max_t(u64, iova, bm->iova) - bm->iova,
			  bm->page_size);
	last = div64_u64(min(leaf_last, bm->last) - bm->iova, bm->page_size);
	if (last > bm->win_last) {
		bm->carry = max(bm->carry, last);
		last = bm->win_last;
	}
	first = max(first, bm->win_first);
	if (first <= last)
		dirty_fill(bm, first, last);
}

/* The IOVA of bit @n. */
static u64 dirty_bit_iova(struct iommufd_dirty_bitmap *bm, u64 n)
{
	return bm->iova + n * bm->page_size;
}

/*
 * Read @bm's bits of HWPT @hwpt_id window by window, each window the
 * bitmap bytes that share one user page.  The HWPT is looked up again
 * for each window, after the page is pinned: it is never held while
 * user memory is faulted in.
 */
static int dirty_walk(struct iommufd_ctx *ictx, u32 hwpt_id,
		      struct iommufd_dirty_bitmap *bm, unsigned long data,
		      bool no_clear)
{
	u64 nbytes = DIV_ROUND_UP_ULL(bm->nbits, BITS_PER_BYTE);
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_domain *domain;
	u64 byte, len;
	int rc;

	bm->carry = 0;
	for (byte = 0; byte < nbytes; byte += len) {
		unsigned long uaddr = data + byte;
		unsigned int offset = offset_in_page(uaddr);
		struct page *page;
		void *kaddr;

		len = min_t(u64, PAGE_SIZE - offset, nbytes - byte);
		if (fatal_signal_pending(current))
			return -EINTR;
		rc = iommufd_should_fail() ? -ENOMEM :
		     pin_user_pages_fast(uaddr & PAGE_MASK, 1, FOLL_WRITE,
					 &page);
		if (rc != 1)
			return rc < 0 ? rc : -EFAULT;

		hwpt = iommufd_get_hwpt(ictx, hwpt_id);
		if (IS_ERR(hwpt)) {
			unpin_user_page(page);
			return PTR_ERR(hwpt);
		}
		domain = hwpt->domain;
		/* Destroyed meanwhile, and the id given to another HWPT? */
		if (!domain->dirty_ops) {
			iommufd_put_object(&hwpt->obj);
			unpin_user_page(page);
			return -EOPNOTSUPP;
		}
		kaddr = kmap_local_page(page);
		bm->kaddr = kaddr + offset;
		bm->win_first = byte * BITS_PER_BYTE;
		bm->win_last = bm->win_first - 1 +
			       min_t(u64, len * BITS_PER_BYTE,
				     bm->nbits - bm->win_first);
		if (bm->carry) {
			dirty_fill(bm, bm->win_first,
				   min(bm->carry, bm->win_last));
			if (bm->carry <= bm->win_last)
				bm->carry = 0;
		}
		rc = domain->dirty_ops->read_and_clear(
			domain, dirty_bit_iova(bm, bm->win_first),
			dirty_bit_iova(bm, bm->win_last) + (bm->page_size - 1),
			no_clear, bm);
		kunmap_local(kaddr);
		iommufd_put_object(&hwpt->obj);
		unpin_user_pages_dirty_lock(&page, 1, true);
		if (rc)
			return rc;
		cond_resched();
	}
	return 0;
}

/*
 * The range checks of GET_DIRTY_BITMAP against @hwpt's IOAS; fills in
 * @bm's range.
 */
static int dirty_check_range(struct iommufd_hw_pagetable *hwpt,
			     struct iommu_hwpt_get_dirty_bitmap *cmd,
			     struct iommufd_dirty_bitmap *bm)
{
	struct io_pagetable *iopt = &hwpt->ioas->iopt;
	unsigned long align;
	u64 last, end;

	if (check_add_overflow(cmd->iova, cmd->length - 1, &last) ||
	    cmd->iova > ULONG_MAX || last > ULONG_MAX)
		return -EOVERFLOW;
	/* With length 0 only iova 0 gets here: it names no page. */
	if (!cmd->length || !cmd->page_size)
		return -EINVAL;
	down_read(&iopt->iova_rwsem);
	align = iopt->iova_alignment;
	up_read(&iopt->iova_rwsem);
	/* The end, last + 1, is 0 (2^64, aligned) for a range up to U64_MAX. */
	end = last + 1;
	if (cmd->iova % align || end % align)
		return -EINVAL;
	bm->nbits = div64_u64(cmd->length, cmd->page_size);
	if (div64_u64(cmd->iova, cmd->page_size) * cmd->page_size !=
	    cmd->iova || bm->nbits * cmd->page_size != cmd->length)
		return -EINVAL;
	bm->iova = cmd->iova;
	bm->last = last;
	bm->page_size = cmd->page_size;
	return 0;
}

/**
 * iommufd_hwpt_get_dirty_bitmap() - IOMMU_HWPT_GET_DIRTY_BITMAP
 * @ucmd: the command; struct iommu_hwpt_get_dirty_bitmap
 *
 * Sets (never clears) the bit of each page_size unit of [iova, iova +
 * length) that a dirty leaf overlaps, and clears those leaves unless
 * NO_CLEAR.  The HWPT is held for each bitmap page's domain read only,
 * so destroying it meanwhile ends the walk with -ENOENT.
 *
 * Return: 0; -EOPNOTSUPP for unknown flags, __reserved set or a HWPT
 * without dirty tracking; -ENOENT for no such HWPT; -EOVERFLOW for a
 * range past ULONG_MAX; -EINVAL for length or page_size 0, an iova or
 * end not aligned to the IOAS or not a multiple of page_size, or
 * tracking off; -EFAULT for a bitmap that is not writable user memory;
 * -EINTR when killed.
 */
int iommufd_hwpt_get_dirty_bitmap(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_get_dirty_bitmap *cmd = ucmd->cmd;
	struct iommufd_dirty_bitmap bm = {};
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	if ((cmd->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) ||
	    cmd->__reserved)
		return -EOPNOTSUPP;
	hwpt = iommufd_get_hwpt(ucmd->ictx, cmd->hwpt_id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	rc = dirty_check_range(hwpt, cmd, &bm);
	if (!rc && !hwpt->domain->dirty_ops)
		rc = -EOPNOTSUPP;
	iommufd_put_object(&hwpt->obj);
	if (rc)
		return rc;
	/* The bitmap's bytes must be user addresses that do not wrap. */
	if (cmd->data + DIV_ROUND_UP_ULL(bm.nbits, BITS_PER_BYTE) - 1 <
	    cmd->data)
		return -EFAULT;
	return dirty_walk(ucmd->ictx, cmd->hwpt_id, &bm, cmd->data,
			  cmd->flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
}

/**
 * iommufd_hwpt_set_dirty_tracking() - IOMMU_HWPT_SET_DIRTY_TRACKING
 * @ucmd: the command; struct iommu_hwpt_set_dirty_tracking
 *
 * Enabling first forgets every dirty leaf (a clean snapshot); enabling
 * or disabling twice is no error.
 *
 * Return: 0; -EOPNOTSUPP for unknown flags or a HWPT without dirty
 * tracking; -ENOENT for no such HWPT.
 */
int iommufd_hwpt_set_dirty_tracking(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_set_dirty_tracking *cmd = ucmd->cmd;
	bool enable = cmd->flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_domain *domain;
	int rc = 0;

	if (cmd->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE)
		return -EOPNOTSUPP;
	hwpt = iommufd_get_hwpt(ucmd->ictx, cmd->hwpt_id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	domain = hwpt->domain;
	if (!domain->dirty_ops) {
		rc = -EOPNOTSUPP;
		goto out_put;
	}
	/* Start from a clean snapshot: forget what was dirtied before. */
	if (enable)
		rc = domain->dirty_ops->read_and_clear(domain, 0, ULONG_MAX,
						       false, NULL);
	if (!rc)
		rc = domain->dirty_ops->set_tracking(domain, enable);
out_put:
	iommufd_put_object(&hwpt->obj);
	return rc;
}
