// SPDX-License-Identifier: GPL-2.0
/*
 * HWPT objects: one hardware (or mock) page table that mirrors an IOAS.
 * A HWPT is created explicitly by IOMMU_HWPT_ALLOC or automatically when
 * a device attaches to an IOAS and no existing automatic HWPT fits it; an
 * automatic HWPT goes away with its last device.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommufd_private.h"

/**
 * iommufd_hwpt_alloc() - a HWPT mirroring every mapping of an IOAS
 * @ictx: its iommufd
 * @ioas: the IOAS
 * @domain: the new, empty page table; the HWPT takes it over (freed on
 *	failure too)
 * @auto_domain: made for an attach to the IOAS, not by IOMMU_HWPT_ALLOC
 * @enforce_cc: the device it is made for can enforce cache coherency:
 *	the domain must then enforce it, from its first map on
 *
 * Return: the HWPT, not visible until finalized, or an ERR_PTR: -ENOMEM,
 * -EINVAL when @domain cannot enforce coherency (a driver bug: it warns),
 * or what filling it from the IOAS gives.
 */
struct iommufd_hw_pagetable *
iommufd_hwpt_alloc(struct iommufd_ctx *ictx, struct iommufd_ioas *ioas,
		   struct iommufd_domain *domain, bool auto_domain,
		   bool enforce_cc)
{
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	hwpt = iommufd_object_alloc(ictx, hwpt, IOMMUFD_OBJ_HWPT);
	if (IS_ERR(hwpt)) {
		domain->ops->free(domain);
		return hwpt;
	}
	INIT_LIST_HEAD(&hwpt->devices);
	INIT_LIST_HEAD(&hwpt->iopt_item);
	mutex_init(&hwpt->devices_lock);
	hwpt->auto_domain = auto_domain;
	hwpt->domain = domain;
	/*
	 * Before anything is mapped: some IOMMUs enforce it per PTE (VT-d's
	 * second-level SNP bit), and a domain that says it can enforce once
	 * mapped may leave its earlier PTEs as they were (6.1's VT-d).  An
	 * IOMMU that reports the capability but refuses a new domain is
	 * broken.
	 */
	if (enforce_cc) {
		if (WARN_ON(!domain->ops->enforce_cache_coherency ||
			    !domain->ops->enforce_cache_coherency(domain))) {
			rc = -EINVAL;
			goto err_free_domain;
		}
		hwpt->enforce_cache_coherency = true;
	}
	/* Everything set before the IOAS's domain list shows the HWPT. */
	hwpt->ioas = ioas;
	rc = iopt_add_domain(&ioas->iopt, hwpt);
	if (rc)
		goto err_free_domain;
	refcount_inc(&ioas->obj.users);
	return hwpt;

err_free_domain:
	hwpt->domain->ops->free(hwpt->domain);
	iommufd_object_abort(ictx, &hwpt->obj);
	return ERR_PTR(rc);
}

/**
 * iommufd_hwpt_destroy() - destroy callback of a HWPT object
 * @obj: the HWPT's object, with no device left
 *
 * Takes the domain out of its IOAS (iopt_remove_domain()), frees it and
 * drops the IOAS.
 *
 * Context: process, may sleep; takes the IOAS's domains_rwsem and
 * iova_rwsem (write) and pages->mutex.  Called with no lock held from
 * IOMMU_DESTROY and fd release, and under idev->lock (and the PCI
 * driver's udev->lock) when a detach drops an automatic HWPT's last
 * device.
 */
void iommufd_hwpt_destroy(struct iommufd_object *obj)
{
	struct iommufd_hw_pagetable *hwpt =
		container_of(obj, struct iommufd_hw_pagetable, obj);

	WARN_ON(!list_empty(&hwpt->devices));
	iopt_remove_domain(&hwpt->ioas->iopt, hwpt);
	hwpt->domain->ops->free(hwpt->domain);
	refcount_dec(&hwpt->ioas->obj.users);
	mutex_destroy(&hwpt->devices_lock);
}

#define IOMMUFD_HWPT_ALLOC_FLAGS (IOMMU_HWPT_ALLOC_NEST_PARENT | \
				  IOMMU_HWPT_ALLOC_DIRTY_TRACKING)

/*
 * HWPT_ALLOC on a paging HWPT asks for a nested HWPT, which is not
 * implemented: the request is judged as upstream judges it (the core's
 * flags and parent checks, then the backend's data checks) and a valid
 * one gets EOPNOTSUPP.
 */
static int iommufd_hwpt_nested_check(struct iommufd_device *idev,
				     struct iommufd_hw_pagetable *parent,
				     const struct iommu_hwpt_alloc *cmd,
				     const struct iommufd_user_data *ud)
{
	int rc;

	if ((cmd->flags & ~(IOMMU_HWPT_FAULT_ID_VALID |
			    IOMMU_HWPT_ALLOC_PASID)) ||
	    !cmd->data_len || !idev->ops->nested_check)
		return -EOPNOTSUPP;
	if (parent->auto_domain || !parent->nest_parent)
		return -EINVAL;
	rc = idev->ops->nested_check(idev, parent->domain,
				     cmd->flags & ~IOMMU_HWPT_FAULT_ID_VALID,
				     ud);
	return rc ? rc : -EOPNOTSUPP;
}

/*
 * Which IOAS does @cmd->pt_id name for a new paging HWPT?  A paging HWPT
 * is a nesting parent: the error of iommufd_hwpt_nested_check().
 */
static struct iommufd_ioas *
iommufd_hwpt_parent(struct iommufd_ucmd *ucmd, struct iommufd_device *idev,
		    const struct iommu_hwpt_alloc *cmd,
		    const struct iommufd_user_data *ud)
{
	struct iommufd_object *obj;
	int rc;

	/* An unknown id is as wrong as one of the wrong kind: EINVAL. */
	obj = iommufd_get_object(ucmd->ictx, cmd->pt_id, IOMMUFD_OBJ_ANY);
	if (IS_ERR(obj))
		return ERR_PTR(-EINVAL);
	switch (obj->type) {
	case IOMMUFD_OBJ_IOAS:
		return container_of(obj, struct iommufd_ioas, obj);
	case IOMMUFD_OBJ_HWPT:
		rc = iommufd_hwpt_nested_check(idev,
				container_of(obj, struct iommufd_hw_pagetable,
					     obj), cmd, ud);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	iommufd_put_object(obj);
	return ERR_PTR(rc);
}

/**
 * iommufd_user_data_get() - read HWPT_ALLOC's data as a backend's struct
 * @ud: the data as read from the user
 * @type: the data type of the backend's struct
 * @dst: the struct; what the user's length does not cover is zeroed
 * @size: its size, at most IOMMUFD_USER_DATA_MAX
 * @min_len: the shortest length accepted (the end of the last field the
 *	backend cannot do without)
 *
 * Return: 0; -EINVAL for another type or a length outside [@min_len,
 * @size]; -EFAULT when the user's buffer could not be read.
 */
int iommufd_user_data_get(const struct iommufd_user_data *ud, u32 type,
			  void *dst, size_t size, size_t min_len)
{
	if (WARN_ON(size > sizeof(ud->data)))
		return -EINVAL;
	if (ud->type != type || ud->len < min_len || ud->len > size)
		return -EINVAL;
	if (ud->copy_rc)
		return ud->copy_rc;
	memcpy(dst, ud->data, ud->len);
	memset(dst + ud->len, 0, size - ud->len);
	return 0;
}

/*
 * Read the data now, while nothing is held: a copy stuck in a fault must
 * hold up no unbind.  Its errors wait for the backend, which checks the
 * type and the length first.
 */
static void iommufd_user_data_read(struct iommufd_user_data *ud,
				   const struct iommu_hwpt_alloc *cmd)
{
	ud->type = cmd->data_type;
	ud->len = cmd->data_len;
	ud->copy_rc = 0;
	if (ud->len <= sizeof(ud->data) &&
	    copy_from_user(ud->data, u64_to_user_ptr(cmd->data_uptr), ud->len))
		ud->copy_rc = -EFAULT;
}

/**
 * iommufd_hwpt_alloc_ioctl() - IOMMU_HWPT_ALLOC
 * @ucmd: the command
 *
 * Allocates a domain of the device's kind and mirrors the IOAS into it.
 * The device is let go before the domain is filled, and the fill pins
 * before it takes the IOAS's locks.
 *
 * Context: process; no lock held.
 *
 * Return: 0 or a negative errno.
 */
int iommufd_hwpt_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_alloc *cmd = ucmd->cmd;
	struct iommufd_user_data ud;
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_domain *domain;
	struct iommufd_device *idev;
	struct iommufd_ioas *ioas;
	bool enforce_cc;
	u32 flags;
	int rc;

	if (cmd->__reserved || cmd->__reserved2)
		return -EOPNOTSUPP;
	/* Data comes with a type, and a type with data. */
	if ((cmd->data_type == IOMMU_HWPT_DATA_NONE) != !cmd->data_len)
		return -EINVAL;
	if (cmd->data_len)
		iommufd_user_data_read(&ud, cmd);

	idev = iommufd_get_device(ucmd, cmd->dev_id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	ioas = iommufd_hwpt_parent(ucmd, idev, cmd, &ud);
	if (IS_ERR(ioas)) {
		iommufd_put_object(&idev->obj);
		return PTR_ERR(ioas);
	}
	/*
	 * Flags are judged once the parent is known (upstream's order: a
	 * bad device or parent is reported first).  6.1's IOMMU drivers
	 * cannot nest: only the mock's domains can.
	 */
	if ((cmd->flags & ~(IOMMUFD_HWPT_ALLOC_FLAGS |
			    IOMMU_HWPT_FAULT_ID_VALID)) ||
	    ((cmd->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) &&
	     (!idev->ops->nest_parent ||
	      (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID)))) {
		iommufd_put_object(&idev->obj);
		rc = -EOPNOTSUPP;
		goto out_put_ioas;
	}
	/*
	 * The device only picks the kind of domain: let go of it before the
	 * domain is filled, which pins pages and may wait on user faults
	 * (its unbind would wait for us).  The fill pins before it takes the
	 * IOAS's locks (iopt_add_domain()), so unmaps and other devices'
	 * detach do not wait either.  A device that cannot track dirty pages
	 * refuses DIRTY_TRACKING here.
	 */
	flags = cmd->flags & ~IOMMU_HWPT_FAULT_ID_VALID;
	if (!cmd->data_len)
		domain = idev->ops->domain_alloc(idev, flags);
	else if (idev->ops->domain_alloc_user)
		domain = idev->ops->domain_alloc_user(idev, flags, &ud);
	else
		domain = ERR_PTR(-EOPNOTSUPP);
	enforce_cc = idev->enforce_cache_coherency;
	iommufd_put_object(&idev->obj);
	if (IS_ERR(domain)) {
		rc = PTR_ERR(domain);
		goto out_put_ioas;
	}
	hwpt = iommufd_hwpt_alloc(ucmd->ictx, ioas, domain, false, enforce_cc);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_put_ioas;
	}
	/*
	 * FAULT_ID_VALID names a fault queue, judged last as upstream does;
	 * none can exist (IOMMU_FAULT_QUEUE_ALLOC is not implemented).
	 */
	if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
		iommufd_object_abort_and_destroy(ucmd->ictx, &hwpt->obj);
		rc = -ENOENT;
		goto out_put_ioas;
	}
	hwpt->nest_parent = cmd->flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
	cmd->out_hwpt_id = hwpt->obj.id;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		iommufd_object_abort_and_destroy(ucmd->ictx, &hwpt->obj);
		goto out_put_ioas;
	}
	iommufd_object_finalize(ucmd->ictx, &hwpt->obj);
out_put_ioas:
	iommufd_put_object(&ioas->obj);
	return rc;
}

/*
 * The nesting commands below are not implemented: no nested HWPT, vIOMMU,
 * vEVENTQ or HW queue object can exist.  Each judges its arguments in
 * upstream's order, so a request gets upstream's errno up to the object
 * it names, which is unknown here (ENOENT), or EOPNOTSUPP where upstream
 * would go on to create something.
 */

/**
 * iommufd_hwpt_invalidate() - IOMMU_HWPT_INVALIDATE
 * @ucmd: the command; entry_num is written back (0: nothing handled)
 *
 * Only nested HWPTs and vIOMMUs take invalidations, and none exists.
 *
 * Return: -EOPNOTSUPP for a non-zero __reserved; -EINVAL for a bad array
 * (with entries: no pointer, an entry length of 0 or above PAGE_SIZE, or
 * more than 2^19 entries) or an object of another kind; -ENOENT for an
 * unknown id; -EFAULT when entry_num cannot be written back.
 */
int iommufd_hwpt_invalidate(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_invalidate *cmd = ucmd->cmd;
	struct iommufd_object *obj;
	int rc;

	if (cmd->__reserved) {
		rc = -EOPNOTSUPP;
	} else if (cmd->entry_num &&
		   (!cmd->data_uptr || !cmd->entry_len ||
		    cmd->entry_len > PAGE_SIZE || cmd->entry_num > 1U << 19)) {
		rc = -EINVAL;
	} else {
		obj = iommufd_get_object(ucmd->ictx, cmd->hwpt_id,
					 IOMMUFD_OBJ_ANY);
		if (IS_ERR(obj)) {
			rc = PTR_ERR(obj);
		} else {
			/* A paging HWPT, or any other kind: not nested. */
			iommufd_put_object(obj);
			rc = -EINVAL;
		}
	}
	cmd->entry_num = 0;
	if (iommufd_ucmd_respond(ucmd, sizeof(*cmd)))
		return -EFAULT;
	return rc;
}

/**
 * iommufd_viommu_alloc() - IOMMU_VIOMMU_ALLOC
 * @ucmd: the command
 *
 * Return: -EOPNOTSUPP for flags or type DEFAULT (0); -ENOENT for an
 * unknown device; -EOPNOTSUPP otherwise (no backend makes vIOMMUs).
 */
int iommufd_viommu_alloc(struct iommufd_ucmd *ucmd)
{
	struct iommu_viommu_alloc *cmd = ucmd->cmd;
	struct iommufd_device *idev;

	if (cmd->flags || !cmd->type)
		return -EOPNOTSUPP;
	idev = iommufd_get_device(ucmd, cmd->dev_id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	iommufd_put_object(&idev->obj);
	return -EOPNOTSUPP;
}

/**
 * iommufd_vdevice_alloc() - IOMMU_VDEVICE_ALLOC
 * @ucmd: the command
 *
 * Return: -ENOENT: the vIOMMU it names cannot exist (on 64-bit every
 * virt_id fits an unsigned long, upstream's only earlier check).
 */
int iommufd_vdevice_alloc(struct iommufd_ucmd *ucmd)
{
	return -ENOENT;
}

/**
 * iommufd_veventq_alloc() - IOMMU_VEVENTQ_ALLOC
 * @ucmd: the command
 *
 * Return: -EOPNOTSUPP for flags, __reserved or type DEFAULT (0); -EINVAL
 * for a depth of 0 or above 2^19; -ENOENT otherwise (no vIOMMU exists).
 */
int iommufd_veventq_alloc(struct iommufd_ucmd *ucmd)
{
	struct iommu_veventq_alloc *cmd = ucmd->cmd;

	if (cmd->flags || cmd->__reserved || !cmd->type)
		return -EOPNOTSUPP;
	if (!cmd->veventq_depth || cmd->veventq_depth > 1U << 19)
		return -EINVAL;
	return -ENOENT;
}

/**
 * iommufd_hw_queue_alloc() - IOMMU_HW_QUEUE_ALLOC
 * @ucmd: the command
 *
 * Return: -EOPNOTSUPP for flags or type DEFAULT (0); -EINVAL for a length
 * of 0; -EOVERFLOW when the range wraps; -ENOENT otherwise (no vIOMMU
 * exists).
 */
int iommufd_hw_queue_alloc(struct iommufd_ucmd *ucmd)
{
	struct iommu_hw_queue_alloc *cmd = ucmd->cmd;
	u64 last;

	if (cmd->flags || !cmd->type)
		return -EOPNOTSUPP;
	if (!cmd->length)
		return -EINVAL;
	if (check_add_overflow(cmd->nesting_parent_iova, cmd->length - 1,
			       &last))
		return -EOVERFLOW;
	return -ENOENT;
}
