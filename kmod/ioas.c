// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS objects and their ioctls: alloc, IOVA ranges, allowed IOVAs, map,
 * copy, unmap, change process, and IOMMU_OPTION.
 */
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "iommufd_private.h"

/* A new, empty IOAS object, not yet published. */
static struct iommufd_ioas *iommufd_ioas_alloc(struct iommufd_ctx *ictx)
{
	struct iommufd_ioas *ioas;

	ioas = iommufd_object_alloc(ictx, ioas, IOMMUFD_OBJ_IOAS);
	if (IS_ERR(ioas))
		return ioas;
	iopt_init_table(&ioas->iopt);
	mutex_init(&ioas->auto_lock);
	return ioas;
}

/**
 * iommufd_ioas_destroy() - destroy callback of an IOAS object
 * @obj: the IOAS's object, with no HWPT or access left
 *
 * Unmaps everything and frees the IOVA trees.
 *
 * Context: process, may sleep; no lock held (IOMMU_DESTROY, fd release).
 */
void iommufd_ioas_destroy(struct iommufd_object *obj)
{
	struct iommufd_ioas *ioas = container_of(obj, struct iommufd_ioas, obj);

	iopt_destroy_table(&ioas->iopt);
	mutex_destroy(&ioas->auto_lock);
}

/**
 * iommufd_ioas_alloc_ioctl() - IOMMU_IOAS_ALLOC
 * @ucmd: the command
 *
 * Context: process; no lock held.
 *
 * Return: 0, -EOPNOTSUPP for flags, -ENOMEM, or -EFAULT.
 */
int iommufd_ioas_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_alloc *cmd = ucmd->cmd;
	struct iommufd_ioas *ioas;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;
	ioas = iommufd_ioas_alloc(ucmd->ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	cmd->out_ioas_id = ioas->obj.id;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		iommufd_object_abort_and_destroy(ucmd->ictx, &ioas->obj);
		return rc;
	}
	iommufd_object_finalize(ucmd->ictx, &ioas->obj);
	return 0;
}

/*
 * The holes between reserved ranges, i.e. where a mapping can go: fills
 * @out with up to @max of them and returns how many there are.
 */
static u32 iommufd_iova_holes(struct io_pagetable *iopt,
			      struct iommu_iova_range *out, u32 max)
{
	struct interval_tree_node *node;
	unsigned long pos = 0;
	u32 n = 0;

	lockdep_assert_held(&iopt->iova_rwsem);
	for (node = interval_tree_iter_first(&iopt->reserved_itree, 0,
					     ULONG_MAX);
	     node; node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		if (node->start > pos) {
			if (n < max)
				out[n] = (struct iommu_iova_range){
					.start = pos, .last = node->start - 1 };
			n++;
		}
		if (node->last == ULONG_MAX)
			return n;
		pos = max(pos, node->last + 1);
	}
	if (n < max)
		out[n] = (struct iommu_iova_range){ .start = pos,
						    .last = ULONG_MAX };
	return n + 1;
}

/**
 * iommufd_iova_holes_snapshot() - the IOVA ranges a mapping can use
 * @ioas: the IOAS, held by the caller
 * @max: how many ranges the caller wants at most
 * @out: set to an array of min(@max, the count) ranges (kvfree() it), or
 *	NULL
 * @alignment: set to the IOAS's IOVA alignment
 *
 * A snapshot of the holes between reserved ranges, taken under
 * iova_rwsem, for the caller to copy to the user without it: a copy held
 * up in a page fault must not hold up maps, attaches or a device's
 * removal.
 *
 * Return: how many holes there are (possibly more than @max), or -ENOMEM.
 */
long iommufd_iova_holes_snapshot(struct iommufd_ioas *ioas, u32 max,
					struct iommu_iova_range **out,
					u64 *alignment)
{
	struct io_pagetable *iopt = &ioas->iopt;
	u32 room = 0, n;

	*out = NULL;
	for (;;) {
		down_read(&iopt->iova_rwsem);
		n = iommufd_iova_holes(iopt, *out, room);
		*alignment = iopt->iova_alignment;
		up_read(&iopt->iova_rwsem);
		/* Room for as many as the user wants, or all there are. */
		if (room >= min(n, max))
			return n;
		kvfree(*out);
		room = min(n, max);
		*out = iommufd_kvcalloc(room, sizeof(**out), GFP_KERNEL_ACCOUNT);
		if (!*out)
			return -ENOMEM;
	}
}

/**
 * iommufd_ioas_iova_ranges() - IOMMU_IOAS_IOVA_RANGES
 * @ucmd: the command
 *
 * Reports the IOVA ranges a mapping can use, from a snapshot taken under
 * iova_rwsem (read); copied out with no lock held.
 *
 * Context: process; no lock held.
 *
 * Return: 0; -EMSGSIZE when the user's array was too small (the count is
 * reported); or a negative errno.
 */
int iommufd_ioas_iova_ranges(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_iova_ranges *cmd = ucmd->cmd;
	struct iommu_iova_range *holes;
	struct iommufd_ioas *ioas;
	u32 max = cmd->num_iovas;
	long n;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	n = iommufd_iova_holes_snapshot(ioas, max, &holes,
					&cmd->out_iova_alignment);
	iommufd_put_object(&ioas->obj);
	if (n < 0)
		return n;
	rc = 0;
	if (min_t(u32, n, max) &&
	    copy_to_user(u64_to_user_ptr(cmd->allowed_iovas), holes,
			 min_t(u32, n, max) * sizeof(*holes)))
		rc = -EFAULT;
	kvfree(holes);
	if (rc)
		return rc;
	cmd->num_iovas = n;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (!rc && cmd->num_iovas > max)
		rc = -EMSGSIZE;
	return rc;
}

/* Read @num ranges from user memory into a fresh interval tree. */
static int iommufd_read_ranges(struct rb_root_cached *root,
			       struct iommu_iova_range __user *ranges, u32 num)
{
	u32 i;

	for (i = 0; i < num; i++) {
		struct interval_tree_node *node;
		struct iommu_iova_range r;

		if (copy_from_user(&r, &ranges[i], sizeof(r)))
			return -EFAULT;
		if (r.start >= r.last)
			return -EINVAL;
		if (interval_tree_iter_first(root, r.start, r.last))
			return -EINVAL;
		node = iommufd_kzalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
		if (!node)
			return -ENOMEM;
		node->start = r.start;
		node->last = r.last;
		interval_tree_insert(node, root);
	}
	return 0;
}

static void iommufd_free_ranges(struct rb_root_cached *root)
{
	struct interval_tree_node *node;

	while ((node = interval_tree_iter_first(root, 0, ULONG_MAX))) {
		interval_tree_remove(node, root);
		kfree(node);
	}
}

/**
 * iommufd_ioas_allow_iovas() - IOMMU_IOAS_ALLOW_IOVAS
 * @ucmd: the command
 *
 * The user's ranges are read with no reference on the IOAS held.
 *
 * Context: process; no lock held.  Takes iova_rwsem (write).
 *
 * Return: 0 or a negative errno.
 */
int iommufd_ioas_allow_iovas(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_allow_iovas *cmd = ucmd->cmd;
	struct rb_root_cached allowed = RB_ROOT_CACHED;
	struct iommufd_ioas *ioas;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	/*
	 * ENOENT for no such IOAS comes first, but the IOAS is not held
	 * while the user's ranges are read (a fault may stall there).
	 */
	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	iommufd_put_object(&ioas->obj);
	rc = iommufd_read_ranges(&allowed, u64_to_user_ptr(cmd->allowed_iovas),
				 cmd->num_iovas);
	if (rc)
		goto out_free;
	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas)) {
		rc = PTR_ERR(ioas);
		goto out_free;
	}
	rc = iopt_set_allow_iova(&ioas->iopt, &allowed);
	iommufd_put_object(&ioas->obj);
out_free:
	iommufd_free_ranges(&allowed);
	return rc;
}

static int iommufd_map_prot(u32 flags)
{
	int prot = 0;

	if (flags & IOMMU_IOAS_MAP_WRITEABLE)
		prot |= IOMMU_WRITE;
	if (flags & IOMMU_IOAS_MAP_READABLE)
		prot |= IOMMU_READ;
	return prot;
}

/*
 * Tell the caller where a new mapping went (the u64 at @offset of its
 * command); undo the mapping if that fails.
 */
static int iommufd_respond_mapped(struct iommufd_ucmd *ucmd, size_t offset,
				  struct io_pagetable *iopt, unsigned long iova,
				  unsigned long length)
{
	unsigned long unmapped;
	int rc;

	rc = iommufd_ucmd_respond_u64(ucmd, offset, iova);
	if (rc)
		iopt_unmap_iova(iopt, iova, length, &unmapped);
	return rc;
}

#define IOMMUFD_MAP_FLAGS (IOMMU_IOAS_MAP_FIXED_IOVA | \
			   IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

/*
 * The checks MAP and MAP_FILE share, in upstream's order, and the
 * io_pagetable flags for the user's @uflags.
 */
static int iommufd_map_args(u32 uflags, u64 iova, u64 length,
			    unsigned int *iopt_flags)
{
	if (uflags & ~IOMMUFD_MAP_FLAGS)
		return -EOPNOTSUPP;
	if (iova >= ULONG_MAX || length >= ULONG_MAX)
		return -EOVERFLOW;
	if (!(uflags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	*iopt_flags = uflags & IOMMU_IOAS_MAP_FIXED_IOVA ? IOMMUFD_IOVA_FIXED :
							  0;
	return 0;
}

/**
 * iommufd_ioas_map() - IOMMU_IOAS_MAP
 * @ucmd: the command
 *
 * Context: process; no lock held (see iopt_map_user_pages()).  If the
 * IOVA cannot be copied back the mapping is undone.
 *
 * Return: 0 or a negative errno.
 */
int iommufd_ioas_map(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_map *cmd = ucmd->cmd;
	unsigned long iova = cmd->iova;
	struct iommufd_ioas *ioas;
	unsigned int flags;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	rc = iommufd_map_args(cmd->flags, cmd->iova, cmd->length, &flags);
	if (rc)
		return rc;
	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	rc = iopt_map_user_pages(ucmd->ictx, &ioas->iopt, &iova, cmd->user_va,
				 cmd->length, iommufd_map_prot(cmd->flags),
				 flags);
	if (rc)
		goto out_put;
	rc = iommufd_respond_mapped(ucmd, offsetof(typeof(*cmd), iova),
				    &ioas->iopt, iova, cmd->length);
out_put:
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * iommufd_ioas_map_file() - IOMMU_IOAS_MAP_FILE
 * @ucmd: the command
 *
 * A dma-buf fd maps the exporter's memory; any other fd is mapped as a
 * file through its page cache (see iopt_map_file_pages()).
 *
 * Context: process; no lock held.  If the IOVA cannot be copied back the
 * mapping is undone.
 *
 * Return: 0; -EBADF for a bad fd; or a negative errno.
 */
int iommufd_ioas_map_file(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_map_file *cmd = ucmd->cmd;
	unsigned long iova = cmd->iova;
	struct dma_buf *dmabuf;
	struct iommufd_ioas *ioas;
	unsigned int flags;
	struct file *file;
	int rc;

	rc = iommufd_map_args(cmd->flags, cmd->iova, cmd->length, &flags);
	if (rc)
		return rc;
	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	/* A dma-buf first (-EINVAL: not one), then a plain file. */
	dmabuf = dma_buf_get(cmd->fd);
	if (!IS_ERR(dmabuf)) {
		rc = iopt_map_dmabuf_pages(&ioas->iopt, &iova, dmabuf,
					   cmd->start, cmd->length,
					   iommufd_map_prot(cmd->flags), flags);
		dma_buf_put(dmabuf);
		goto out_mapped;
	}
	file = fget(cmd->fd);
	if (!file) {
		rc = -EBADF;
		goto out_put;
	}
	rc = iopt_map_file_pages(ucmd->ictx, &ioas->iopt, &iova, file,
				 cmd->start, cmd->length,
				 iommufd_map_prot(cmd->flags), flags);
	fput(file);
out_mapped:
	if (rc)
		goto out_put;
	rc = iommufd_respond_mapped(ucmd, offsetof(typeof(*cmd), iova),
				    &ioas->iopt, iova, cmd->length);
out_put:
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * iommufd_ioas_copy() - IOMMU_IOAS_COPY
 * @ucmd: the command
 *
 * Context: process; no lock held (see iopt_copy_pages()).  If the IOVA
 * cannot be copied back the mapping is undone.
 *
 * Return: 0 or a negative errno.
 */
int iommufd_ioas_copy(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_copy *cmd = ucmd->cmd;
	struct iommufd_ioas *src, *dst;
	unsigned long iova = cmd->dst_iova;
	unsigned int flags = 0;
	int rc;

	if (cmd->flags & ~IOMMUFD_MAP_FLAGS)
		return -EOPNOTSUPP;
	if (cmd->length >= ULONG_MAX || cmd->src_iova >= ULONG_MAX ||
	    cmd->dst_iova >= ULONG_MAX)
		return -EOVERFLOW;
	if (!(cmd->flags &
	      (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	src = iommufd_get_ioas(ucmd->ictx, cmd->src_ioas_id);
	if (IS_ERR(src))
		return PTR_ERR(src);
	dst = iommufd_get_ioas(ucmd->ictx, cmd->dst_ioas_id);
	if (IS_ERR(dst)) {
		rc = PTR_ERR(dst);
		goto out_put_src;
	}
	if (cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA)
		flags = IOMMUFD_IOVA_FIXED;
	rc = iopt_copy_pages(&dst->iopt, &src->iopt, &iova, cmd->src_iova,
			     cmd->length, iommufd_map_prot(cmd->flags), flags);
	if (rc)
		goto out_put_dst;
	rc = iommufd_respond_mapped(ucmd, offsetof(typeof(*cmd), dst_iova),
				    &dst->iopt, iova, cmd->length);
out_put_dst:
	iommufd_put_object(&dst->obj);
out_put_src:
	iommufd_put_object(&src->obj);
	return rc;
}

/**
 * iommufd_ioas_unmap() - IOMMU_IOAS_UNMAP
 * @ucmd: the command; iova 0 with length U64_MAX unmaps everything
 *
 * Context: process; no lock held (see iopt_unmap_iova()).
 *
 * Return: 0 or a negative errno.
 */
int iommufd_ioas_unmap(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_unmap *cmd = ucmd->cmd;
	struct iommufd_ioas *ioas;
	unsigned long unmapped = 0;
	int rc;

	ioas = iommufd_get_ioas(ucmd->ictx, cmd->ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	if (cmd->iova == 0 && cmd->length == U64_MAX) {
		rc = iopt_unmap_all(&ioas->iopt, &unmapped);
	} else if (cmd->iova >= ULONG_MAX || cmd->length >= ULONG_MAX) {
		rc = -EOVERFLOW;
	} else {
		rc = iopt_unmap_iova(&ioas->iopt, cmd->iova, cmd->length,
				     &unmapped);
	}
	if (!rc)
		rc = iommufd_ucmd_respond_u64(ucmd,
					      offsetof(typeof(*cmd), length),
					      unmapped);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/*
 * Hold every published IOAS of @ictx by a short-term reference, in id
 * order, into *@out (kfree() it after iommufd_put_all_ioas()).  One
 * being destroyed meanwhile is left out: it is going with its maps.
 */
static int iommufd_hold_all_ioas(struct iommufd_ctx *ictx,
				 struct iommufd_ioas ***out, unsigned long *nout)
{
	struct iommufd_ioas **ioas = NULL;
	unsigned long index, n, want, max = 0;
	struct iommufd_object *obj;

	for (;;) {
		n = 0;
		want = 0;
		xa_lock(&ictx->objects);
		xa_for_each(&ictx->objects, index, obj) {
			if (obj->type != IOMMUFD_OBJ_IOAS)
				continue;
			want++;
			if (n < max && iommufd_lock_obj(obj))
				ioas[n++] = container_of(obj,
							 struct iommufd_ioas,
							 obj);
		}
		xa_unlock(&ictx->objects);
		if (want <= max)
			break;
		/* More than there was room for: count again, with room. */
		while (n)
			iommufd_put_object(&ioas[--n]->obj);
		kfree(ioas);
		max = want;
		ioas = iommufd_kcalloc(max, sizeof(*ioas), GFP_KERNEL_ACCOUNT);
		if (!ioas)
			return -ENOMEM;
	}
	*out = ioas;
	*nout = n;
	return 0;
}

static void iommufd_put_all_ioas(struct iommufd_ioas **ioas, unsigned long n)
{
	while (n)
		iommufd_put_object(&ioas[--n]->obj);
	kfree(ioas);
}

/* sort() order of an array of iopt_pages pointers: by address. */
static int iommufd_cmp_pages(const void *a, const void *b)
{
	const struct iopt_pages *x = *(struct iopt_pages * const *)a;
	const struct iopt_pages *y = *(struct iopt_pages * const *)b;

	return x < y ? -1 : x > y;
}

/*
 * Move the pages of every area of the @n IOASes (their iova_rwsem held
 * for write, nested in @ictx's change_lock) to the caller.  First check
 * every area and count, then charge the caller for all, then refund each
 * old owner as its pages change hands: a failure leaves everything as it
 * was.
 */
static int iommufd_change_process_locked(struct iommufd_ctx *ictx,
					 struct iommufd_ioas **ioas,
					 unsigned long n)
{
	unsigned long npinned[IOPT_ACCOUNT_MODES] = {};
	unsigned long i, j, npages = 0, filled = 0, total = 0, moved = 0;
	struct iopt_pages **pages;
	int rc = 0, r;

	/* What keeps every count still (iopt_pages_change_count()). */
	lockdep_assert_held(&ictx->change_lock);
	for (i = 0; i < n; i++)
		lockdep_assert_held_write(&ioas[i]->iopt.iova_rwsem);
	for (i = 0; i < n; i++) {
		r = iopt_collect_pages(&ioas[i]->iopt, NULL, 0, &npages);
		if (r == -EBUSY)
			return r;	/* whatever the other IOASes map */
		if (r)
			rc = r;
	}
	if (rc || !npages)
		return rc;

	pages = iommufd_kvcalloc(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		WARN_ON(iopt_collect_pages(&ioas[i]->iopt, pages, npages,
					   &filled));
	if (WARN_ON(filled != npages)) {
		rc = -EINVAL;
		goto out_free;
	}
	/* An iopt_pages shared by areas (COPY, a cut) changes hands once. */
	sort(pages, npages, sizeof(*pages), iommufd_cmp_pages, NULL);
	for (i = 0, j = 0; i < npages; i++)
		if (!j || pages[j - 1] != pages[i])
			pages[j++] = pages[i];
	npages = j;

	for (i = 0; i < npages; i++) {
		rc = iopt_pages_change_count(pages[i], npinned);
		if (rc)
			goto out_free;
	}
	rc = iopt_charge_current(npinned, true);
	if (rc)
		goto out_free;
	for (i = 0; i < npages; i++)
		moved += iopt_pages_change_owner(pages[i]);
	for (i = 0; i < IOPT_ACCOUNT_MODES; i++)
		total += npinned[i];
	/* Nothing pinned or unpinned meanwhile: the locks say so. */
	WARN_ON(moved != total);
out_free:
	kvfree(pages);
	return rc;
}

/**
 * iommufd_ioas_change_process() - IOMMU_IOAS_CHANGE_PROCESS
 * @ucmd: the command
 *
 * Make the caller's process the owner of every mapping of the fd: the
 * pins are charged to it from now on, and what is pinned already moves
 * to it.  Only file maps (IOAS_MAP_FILE) can: their pages come from the
 * file, not from the mm of the process that mapped them.
 *
 * Return: 0 (also when the caller owns everything already);
 * -EOPNOTSUPP for a non-zero __reserved; -EBUSY while a mapping of the
 * fd is being made or removed; else -EINVAL when an IOAS of the fd maps
 * a process's memory; -ENOMEM beyond the caller's RLIMIT_MEMLOCK.
 * Nothing changes on failure.
 */
int iommufd_ioas_change_process(struct iommufd_ucmd *ucmd)
{
	struct iommu_ioas_change_process *cmd = ucmd->cmd;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct iommufd_ioas **ioas;
	unsigned long n, i;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	rc = iommufd_hold_all_ioas(ictx, &ioas, &n);
	if (rc)
		return rc;
	/*
	 * Every IOAS's iova_rwsem, for write: no map, unmap, attach,
	 * detach or access pin of the fd runs until the owners changed.
	 */
	mutex_lock(&ictx->change_lock);
	for (i = 0; i < n; i++)
		down_write_nest_lock(&ioas[i]->iopt.iova_rwsem,
				     &ictx->change_lock);
	rc = iommufd_change_process_locked(ictx, ioas, n);
	for (i = 0; i < n; i++)
		up_write(&ioas[i]->iopt.iova_rwsem);
	mutex_unlock(&ictx->change_lock);
	iommufd_put_all_ioas(ioas, n);
	return rc;
}

static int iommufd_option_rlimit_mode(struct iommu_option *cmd,
				      struct iommufd_ctx *ictx)
{
	if (cmd->object_id)
		return -EOPNOTSUPP;
	if (cmd->op == IOMMU_OPTION_OP_GET) {
		cmd->val64 = ictx->account_mode == IOPT_ACCOUNT_MM;
		return 0;
	}
	if (cmd->op != IOMMU_OPTION_OP_SET)
		return -EOPNOTSUPP;
	if (!capable(CAP_SYS_RESOURCE))
		return -EPERM;
	if (cmd->val64 > 1)
		return -EINVAL;
	/* The mode is captured by each mapping: only change it on a clean fd. */
	if (!xa_empty(&ictx->objects))
		return -EBUSY;
	ictx->account_mode = cmd->val64 ? IOPT_ACCOUNT_MM : IOPT_ACCOUNT_USER;
	return 0;
}

static int iommufd_option_huge_pages(struct iommu_option *cmd,
				     struct iommufd_ctx *ictx)
{
	struct iommufd_ioas *ioas;
	int rc = 0;

	if (cmd->op != IOMMU_OPTION_OP_GET && cmd->op != IOMMU_OPTION_OP_SET)
		return -EOPNOTSUPP;
	if (cmd->op == IOMMU_OPTION_OP_SET && cmd->val64 > 1)
		return -EINVAL;
	ioas = iommufd_get_ioas(ictx, cmd->object_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	if (cmd->op == IOMMU_OPTION_OP_GET)
		cmd->val64 = !READ_ONCE(ioas->iopt.disable_large_pages);
	else if (cmd->val64)
		iopt_enable_large_pages(&ioas->iopt);
	else
		rc = iopt_disable_large_pages(&ioas->iopt);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * iommufd_option() - IOMMU_OPTION
 * @ucmd: the command
 *
 * RLIMIT_MODE (per fd; set only with CAP_SYS_RESOURCE on an fd with no
 * objects) and HUGE_PAGES (per IOAS).
 *
 * Context: process; no lock held.
 *
 * Return: 0 or a negative errno.
 */
int iommufd_option(struct iommufd_ucmd *ucmd)
{
	struct iommu_option *cmd = ucmd->cmd;
	int rc;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	switch (cmd->option_id) {
	case IOMMU_OPTION_RLIMIT_MODE:
		rc = iommufd_option_rlimit_mode(cmd, ucmd->ictx);
		break;
	case IOMMU_OPTION_HUGE_PAGES:
		rc = iommufd_option_huge_pages(cmd, ucmd->ictx);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (rc)
		return rc;
	return iommufd_ucmd_respond(ucmd, sizeof(*cmd));
}
