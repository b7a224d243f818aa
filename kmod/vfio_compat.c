// SPDX-License-Identifier: GPL-2.0
/*
 * The VFIO type1 container on an iommufd.  IOMMU_VFIO_IOAS names the
 * fd's "compat IOAS"; the ioctls of a /dev/vfio/vfio container -- type
 * ';' like iommufd's, numbers from 100, below iommufd's 0x80 -- act on it,
 * so a type1 user can drive /dev/iommu as if it were a container.
 *
 * TYPE1 and TYPE1v2 differ in unmap: v2 unmaps whole mappings only, type1
 * may unmap part of one.  SET_IOMMU(TYPE1) disables large pages on the
 * compat IOAS, so that the domains hold no IOPTE a cut would divide, and
 * its unmaps first cut the mappings at both ends of the range.
 */
#include <linux/iommu.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vfio.h>

#include "iommufd_private.h"

/* The compat IOAS with an ioctl's reference on it, or ERR_PTR(-ENODEV). */
static struct iommufd_ioas *iommufd_compat_ioas_get(struct iommufd_ctx *ictx)
{
	struct iommufd_ioas *ioas = ERR_PTR(-ENODEV);

	xa_lock(&ictx->objects);
	if (ictx->vfio_ioas && iommufd_lock_obj(&ictx->vfio_ioas->obj))
		ioas = ictx->vfio_ioas;
	xa_unlock(&ictx->objects);
	return ioas;
}

static void iommufd_compat_ioas_set(struct iommufd_ctx *ictx,
				    struct iommufd_ioas *ioas)
{
	xa_lock(&ictx->objects);
	ictx->vfio_ioas = ioas;
	xa_unlock(&ictx->objects);
}

/**
 * iommufd_vfio_compat_forget() - @obj leaves the table: stop using it
 * @ictx: its iommufd
 * @obj: the object being destroyed
 *
 * Called by iommufd_object_remove() with xa_lock held: if @obj is the
 * compat IOAS, the fd has none from now on.
 */
void iommufd_vfio_compat_forget(struct iommufd_ctx *ictx,
				struct iommufd_object *obj)
{
	lockdep_assert_held(&ictx->objects.xa_lock);
	if (ictx->vfio_ioas && &ictx->vfio_ioas->obj == obj)
		ictx->vfio_ioas = NULL;
}

/**
 * iommufd_vfio_ioas() - IOMMU_VFIO_IOAS: get, set or clear the compat IOAS
 * @ucmd: the command
 *
 * Return: 0; -EOPNOTSUPP for an unknown op or __reserved set; -ENODEV
 * (GET) when there is no compat IOAS; -ENOENT (SET) when ioas_id is no
 * IOAS; -EFAULT.
 */
int iommufd_vfio_ioas(struct iommufd_ucmd *ucmd)
{
	struct iommu_vfio_ioas *cmd = ucmd->cmd;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct iommufd_ioas *ioas;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	switch (cmd->op) {
	case IOMMU_VFIO_IOAS_GET:
		ioas = iommufd_compat_ioas_get(ictx);
		if (IS_ERR(ioas))
			return PTR_ERR(ioas);
		cmd->ioas_id = ioas->obj.id;
		iommufd_put_object(&ioas->obj);
		return iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	case IOMMU_VFIO_IOAS_SET:
		ioas = iommufd_get_ioas(ictx, cmd->ioas_id);
		if (IS_ERR(ioas))
			return PTR_ERR(ioas);
		/* Held, so not being destroyed: forget() cannot miss it. */
		iommufd_compat_ioas_set(ictx, ioas);
		iommufd_put_object(&ioas->obj);
		return 0;
	case IOMMU_VFIO_IOAS_CLEAR:
		iommufd_compat_ioas_set(ictx, NULL);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* VFIO_SET_IOMMU */
static int iommufd_vfio_set_iommu(struct iommufd_ctx *ictx,
				  unsigned long type)
{
	struct iommufd_ioas *ioas;
	int rc = 0;

	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
		return -EINVAL;
	/* A container takes SET_IOMMU only once it has a group. */
	ioas = iommufd_compat_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	if (type == VFIO_TYPE1_IOMMU)
		rc = iopt_disable_large_pages(&ioas->iopt);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/*
 * VFIO_DMA_CC_IOMMU: 1 when every domain of the compat IOAS enforces
 * cache coherency (hwpt.c sets that for HWPTs made for devices that can),
 * as upstream; 1 too while there is none.
 */
static long iommufd_vfio_cc_iommu(struct iommufd_ctx *ictx)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_ioas *ioas;
	long rc = 1;

	ioas = iommufd_compat_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	down_read(&ioas->iopt.domains_rwsem);
	list_for_each_entry(hwpt, &ioas->iopt.domains, iopt_item)
		if (!hwpt->enforce_cache_coherency)
			rc = 0;
	up_read(&ioas->iopt.domains_rwsem);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/* VFIO_CHECK_EXTENSION */
static long iommufd_vfio_check_extension(struct iommufd_ctx *ictx,
					 unsigned long ext)
{
	switch (ext) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_DMA_CC_IOMMU:
		return iommufd_vfio_cc_iommu(ictx);
	/*
	 * NOIOMMU: this module has no no-IOMMU mode, whatever the kernel's
	 * configuration.  TYPE1_NESTING (6) is obsolete; UPDATE_VADDR
	 * cannot be made safe: 0 like every other extension.
	 */
	default:
		return 0;
	}
}

/* The page sizes every domain of @ioas maps, as VFIO reports them. */
static u64 iommufd_compat_pgsizes(struct iommufd_ioas *ioas)
{
	struct io_pagetable *iopt = &ioas->iopt;
	struct iommufd_hw_pagetable *hwpt;
	unsigned long pgsizes = ULONG_MAX;

	down_read(&iopt->domains_rwsem);
	list_for_each_entry(hwpt, &iopt->domains, iopt_item)
		pgsizes &= hwpt->domain->pgsize_bitmap;
	up_read(&iopt->domains_rwsem);
	/* Sizes below a CPU page count as one CPU page. */
	if (pgsizes & ~PAGE_MASK)
		pgsizes = (pgsizes & PAGE_MASK) | PAGE_SIZE;
	return max(pgsizes, READ_ONCE(iopt->iova_alignment));
}

/* The capability chain after the info: DMA_AVAIL, then IOVA_RANGE. */
#define COMPAT_DMA_AVAIL_OFFSET sizeof(struct vfio_iommu_type1_info)
#define COMPAT_DMA_AVAIL_SIZE \
	ALIGN(sizeof(struct vfio_iommu_type1_info_dma_avail), sizeof(u64))
#define COMPAT_IOVA_OFFSET (COMPAT_DMA_AVAIL_OFFSET + COMPAT_DMA_AVAIL_SIZE)
#define COMPAT_IOVA_HDR_SIZE \
	sizeof(struct vfio_iommu_type1_info_cap_iova_range)

/*
 * Write the IOVA_RANGE capability at @cap if all of it fits in @room
 * bytes; returns its size, or -errno.  The ranges are a snapshot: nothing
 * is held while the user's memory is written.
 */
static long iommufd_compat_fill_iova_cap(struct iommufd_ioas *ioas,
					 void __user *cap, size_t room)
{
	struct vfio_iommu_type1_info_cap_iova_range hdr = {
		.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
		.header.version = 1,
	};
	u32 fit = room > COMPAT_IOVA_HDR_SIZE ?
		min_t(size_t, (room - COMPAT_IOVA_HDR_SIZE) /
			      sizeof(struct vfio_iova_range), U32_MAX) : 0;
	struct iommu_iova_range *holes;
	struct vfio_iova_range r;
	u64 alignment;
	long n;
	u32 i;
	int rc = 0;

	n = iommufd_iova_holes_snapshot(ioas, fit, &holes, &alignment);
	if (n < 0)
		return n;
	if (n > fit || room < COMPAT_IOVA_HDR_SIZE)
		goto out_free;
	hdr.nr_iovas = n;
	if (copy_to_user(cap, &hdr, sizeof(hdr))) {
		rc = -EFAULT;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		r.start = holes[i].start;
		r.end = holes[i].last;
		if (copy_to_user(cap + sizeof(hdr) + i * sizeof(r), &r,
				 sizeof(r))) {
			rc = -EFAULT;
			goto out_free;
		}
	}
out_free:
	kvfree(holes);
	return rc ? rc : COMPAT_IOVA_HDR_SIZE + n * sizeof(r);
}

/*
 * VFIO_IOMMU_GET_INFO: the info (min(argsz, its size) bytes), and the
 * capabilities that fit whole in argsz.  argsz comes back as the size
 * of everything; cap_offset is set only when everything fitted.
 */
static int iommufd_vfio_get_info(struct iommufd_ctx *ictx, void __user *arg)
{
	struct vfio_iommu_type1_info_dma_avail dma = {
		.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
		.header.version = 1,
		/* Pins are limited by RLIMIT_MEMLOCK, not by a count. */
		.avail = U32_MAX,
	};
	size_t minsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	struct vfio_iommu_type1_info info = {};
	struct iommufd_ioas *ioas;
	size_t room, total;
	long iova_size;
	int rc = 0;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	ioas = iommufd_compat_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	info.iova_pgsizes = iommufd_compat_pgsizes(ioas);
	info.cap_offset = 0;

	if (info.argsz >= COMPAT_DMA_AVAIL_OFFSET + sizeof(dma)) {
		if (info.argsz >= COMPAT_IOVA_OFFSET)
			dma.header.next = COMPAT_IOVA_OFFSET;
		if (copy_to_user(arg + COMPAT_DMA_AVAIL_OFFSET, &dma,
				 sizeof(dma))) {
			rc = -EFAULT;
			goto out_put;
		}
	}
	room = info.argsz > COMPAT_IOVA_OFFSET ?
	       info.argsz - COMPAT_IOVA_OFFSET : 0;
	iova_size = iommufd_compat_fill_iova_cap(ioas, arg + COMPAT_IOVA_OFFSET,
						 room);
	if (iova_size < 0) {
		rc = iova_size;
		goto out_put;
	}
	total = COMPAT_IOVA_OFFSET + ALIGN(iova_size, sizeof(u64));
	if (info.argsz >= total)
		info.cap_offset = COMPAT_DMA_AVAIL_OFFSET;
	minsz = min_t(size_t, info.argsz, sizeof(info));
	info.argsz = total;
	if (copy_to_user(arg, &info, minsz))
		rc = -EFAULT;
out_put:
	iommufd_put_object(&ioas->obj);
	return rc;
}

/* VFIO_IOMMU_MAP_DMA: a mapping at a fixed IOVA of the compat IOAS. */
static int iommufd_vfio_map_dma(struct iommufd_ctx *ictx, void __user *arg)
{
	const u32 known = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_map, size);
	struct vfio_iommu_type1_dma_map map;
	struct iommufd_ioas *ioas;
	unsigned long iova;
	int prot = 0;
	int rc;

	if (copy_from_user(&map, arg, minsz))
		return -EFAULT;
	if (map.argsz < minsz || (map.flags & ~known))
		return -EINVAL;
	/* As upstream, neither flag is no error: a mapping nothing may use. */
	if (map.flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= IOMMU_READ;
	if (map.flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= IOMMU_WRITE;
	ioas = iommufd_compat_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	if (map.iova >= ULONG_MAX || map.size >= ULONG_MAX) {
		rc = -EOVERFLOW;
		goto out_put;
	}
	iova = map.iova;
	rc = iopt_map_user_pages(ictx, &ioas->iopt, &iova, map.vaddr, map.size,
				 prot, IOMMUFD_IOVA_FIXED);
out_put:
	iommufd_put_object(&ioas->obj);
	return rc;
}

/*
 * Type1 (large pages off): cut the mappings at both ends of [iova, iova +
 * size) so that the unmap may take part of one.  A range the unmap will
 * refuse anyway (empty or wrapping) is not cut.
 */
static int iommufd_compat_cut(struct io_pagetable *iopt, u64 iova, u64 size)
{
	unsigned long cuts[2];
	u64 last;

	if (!READ_ONCE(iopt->disable_large_pages) || !size ||
	    check_add_overflow(iova, size - 1, &last))
		return 0;
	/* Mappings end at the range's last IOVA and before its first. */
	cuts[0] = last;
	cuts[1] = iova - 1;
	return iopt_cut_iova(iopt, cuts, iova ? 2 : 1);
}

/*
 * VFIO_IOMMU_UNMAP_DMA.  The dirty-bitmap and VADDR flags are refused:
 * dirty tracking has its own interface, and VADDR cannot be made safe.
 */
static int iommufd_vfio_unmap_dma(struct iommufd_ctx *ictx, void __user *arg)
{
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size);
	struct vfio_iommu_type1_dma_unmap unmap;
	unsigned long unmapped = 0;
	struct iommufd_ioas *ioas;
	int rc;

	if (copy_from_user(&unmap, arg, minsz))
		return -EFAULT;
	if (unmap.argsz < minsz || (unmap.flags & ~VFIO_DMA_UNMAP_FLAG_ALL))
		return -EINVAL;
	ioas = iommufd_compat_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (unmap.iova || unmap.size) {
			rc = -EINVAL;
			goto out_put;
		}
		rc = iopt_unmap_all(&ioas->iopt, &unmapped);
	} else {
		rc = iommufd_compat_cut(&ioas->iopt, unmap.iova, unmap.size);
		if (rc)
			goto out_put;
		rc = iopt_unmap_iova_or_none(&ioas->iopt, unmap.iova,
					     unmap.size, &unmapped);
	}
	/* As upstream: size comes back (0) from a failed unmap too. */
	unmap.size = unmapped;
	if (copy_to_user(arg, &unmap, minsz))
		rc = -EFAULT;
out_put:
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * iommufd_vfio_ioctl() - a VFIO container ioctl on an iommufd
 * @ictx: the iommufd
 * @cmd: the request, type ';' with a number below IOMMUFD_CMD_BASE
 * @arg: its argument: a pointer, or an integer (CHECK_EXTENSION, SET_IOMMU)
 *
 * Return: the ioctl's result; -ENOTTY for requests it does not know,
 * VFIO_IOMMU_DIRTY_PAGES among them (dirty tracking has its own interface).
 */
long iommufd_vfio_ioctl(struct iommufd_ctx *ictx, unsigned int cmd,
			unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return iommufd_vfio_check_extension(ictx, arg);
	case VFIO_SET_IOMMU:
		return iommufd_vfio_set_iommu(ictx, arg);
	case VFIO_IOMMU_GET_INFO:
		return iommufd_vfio_get_info(ictx, uarg);
	case VFIO_IOMMU_MAP_DMA:
		return iommufd_vfio_map_dma(ictx, uarg);
	case VFIO_IOMMU_UNMAP_DMA:
		return iommufd_vfio_unmap_dma(ictx, uarg);
	default:
		return -ENOTTY;
	}
}
