// SPDX-License-Identifier: GPL-2.0
/*
 * Devices: the in-kernel API a device driver uses to give its device to an
 * iommufd.  bind creates the device object (dev_id); attach points the
 * device's DMA at a HWPT, or at an IOAS through an automatic HWPT; replace
 * switches that target in one step; detach returns the device to blocked
 * DMA; unbind ends it all.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommufd_private.h"

/**
 * iommufd_device_bind() - make a device object for a backend's device
 * @ictx: the iommufd
 * @ops: how the device reaches its IOMMU
 * @priv: the backend's, for @ops (ops->release frees it once bound)
 * @id: returns the device id (dev_id)
 *
 * Return: the device, or an ERR_PTR: -ENOMEM; -EINVAL when its IOMMU
 * cannot make DMA cache-coherent (IOMMUFD_CAP_CACHE_COHERENCY).
 */
struct iommufd_device *iommufd_device_bind(struct iommufd_ctx *ictx,
					   const struct iommufd_device_ops *ops,
					   void *priv, u32 *id)
{
	struct iommufd_device *idev;

	idev = iommufd_object_alloc(ictx, idev, IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(idev))
		return idev;
	idev->ictx = ictx;
	idev->ops = ops;
	idev->priv = priv;
	/*
	 * Every map asks for coherent DMA (IOMMU_CACHE) and nothing lets the
	 * user make up for DMA that is not: an IOMMU that cannot honour it
	 * is refused, as VFIO does.
	 */
	if (!ops->capable(idev, IOMMUFD_CAP_CACHE_COHERENCY)) {
		iommufd_object_abort(ictx, &idev->obj);
		return ERR_PTR(-EINVAL);
	}
	idev->enforce_cache_coherency =
		ops->capable(idev, IOMMUFD_CAP_ENFORCE_CACHE_COHERENCY);
	mutex_init(&idev->lock);
	INIT_LIST_HEAD(&idev->hwpt_item);
	/*
	 * A driver outside the fd keeps the fd alive while bound.  Devices
	 * owned by the fd itself (mock devices) must not, or the fd could
	 * never be released.
	 */
	if (!ops->owned_by_ctx)
		iommufd_ctx_get(ictx);
	/* The driver's reference, dropped by unbind: DESTROY gives EBUSY. */
	refcount_inc(&idev->obj.users);
	iommufd_object_finalize(ictx, &idev->obj);
	*id = idev->obj.id;
	return idev;
}

/**
 * iommufd_device_unbind() - end a binding made by iommufd_device_bind_dev()
 * @idev: the device
 *
 * Detaches the device and removes its object once ioctls in flight are
 * done with it.  The driver must not use @idev afterwards.
 */
void iommufd_device_unbind(struct iommufd_device *idev)
{
	struct iommufd_ctx *ictx = idev->ictx;
	bool put_ctx = !idev->ops->owned_by_ctx;

	iommufd_device_detach(idev);
	iommufd_object_destroy_user(ictx, &idev->obj);
	if (put_ctx)
		iommufd_ctx_put(ictx);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_unbind, IOMMUFD);

/**
 * iommufd_device_destroy() - destroy callback of a device object
 * @obj: the device's object, detached already
 *
 * Calls the backend's release.
 *
 * Context: process; from object removal once no ioctl uses the device,
 * when its driver unbinds it (the PCI driver holds its udev->lock then,
 * the mock device's destroy no lock).
 */
void iommufd_device_destroy(struct iommufd_object *obj)
{
	struct iommufd_device *idev =
		container_of(obj, struct iommufd_device, obj);

	WARN_ON(idev->hwpt);
	mutex_destroy(&idev->lock);
	if (idev->ops->release)
		idev->ops->release(idev);
}

/* The device's reserved regions can never be mapped in its IOAS. */
static int iommufd_device_reserve(struct iommufd_device *idev,
				  struct io_pagetable *iopt)
{
	if (!idev->ops->reserve)
		return 0;
	return idev->ops->reserve(idev, iopt);
}

/*
 * Can @idev use @hwpt?  A table that enforces coherency takes only devices
 * whose IOMMU can enforce it too (one that cannot would refuse the domain,
 * or let no-snoop DMA through); the converse is fine: the table then
 * simply does not enforce, as upstream.
 */
static bool iommufd_hwpt_fits(struct iommufd_hw_pagetable *hwpt,
			      struct iommufd_device *idev)
{
	if (hwpt->enforce_cache_coherency && !idev->enforce_cache_coherency)
		return false;
	return idev->ops->domain_compatible(idev, hwpt->domain);
}

/* An automatic HWPT of @ioas that @idev can use, with a reference. */
static struct iommufd_hw_pagetable *
iommufd_find_auto_hwpt(struct iommufd_device *idev, struct iommufd_ioas *ioas)
{
	struct iommufd_hw_pagetable *hwpt, *found = NULL;

	lockdep_assert_held(&ioas->auto_lock);
	down_read(&ioas->iopt.domains_rwsem);
	list_for_each_entry(hwpt, &ioas->iopt.domains, iopt_item) {
		/* One its last device left is being destroyed: skip it. */
		if (hwpt->auto_domain && hwpt->auto_users &&
		    iommufd_hwpt_fits(hwpt, idev) &&
		    refcount_inc_not_zero(&hwpt->obj.users)) {
			hwpt->auto_users++;
			found = hwpt;
			break;
		}
	}
	up_read(&ioas->iopt.domains_rwsem);
	return found;
}

/*
 * An automatic HWPT of @ioas for @idev, found or made, with the device's
 * reference; ioas->auto_lock held, so that no other device finds one
 * that is not finished.
 */
static struct iommufd_hw_pagetable *
iommufd_auto_hwpt(struct iommufd_device *idev, struct iommufd_ioas *ioas)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_domain *domain;

	lockdep_assert_held(&ioas->auto_lock);
	hwpt = iommufd_find_auto_hwpt(idev, ioas);
	if (hwpt)
		return hwpt;
	domain = idev->ops->domain_alloc(idev, 0);
	if (IS_ERR(domain))
		return ERR_CAST(domain);
	hwpt = iommufd_hwpt_alloc(idev->ictx, ioas, domain, true,
				  idev->enforce_cache_coherency);
	if (IS_ERR(hwpt))
		return hwpt;
	/* The device's reference, taken before anyone can see the object. */
	refcount_inc(&hwpt->obj.users);
	hwpt->auto_users = 1;
	iommufd_object_finalize(idev->ictx, &hwpt->obj);
	return hwpt;
}

/*
 * The HWPT that @pt_id names for @idev, with a long-term reference.  For
 * an automatic HWPT (an IOAS named, or such a HWPT by its id) the device
 * is counted among its users and *@auto_ioas returns the IOAS with its
 * auto_lock held (the caller unlocks once the device is on the HWPT's
 * list); else NULL.
 */
static struct iommufd_hw_pagetable *
iommufd_device_target(struct iommufd_device *idev, u32 pt_id,
		      struct iommufd_ioas **auto_ioas)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_ioas *ioas;
	struct iommufd_object *obj;

	*auto_ioas = NULL;
	obj = iommufd_get_object(idev->ictx, pt_id, IOMMUFD_OBJ_ANY);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	switch (obj->type) {
	case IOMMUFD_OBJ_HWPT:
		hwpt = container_of(obj, struct iommufd_hw_pagetable, obj);
		if (!iommufd_hwpt_fits(hwpt, idev)) {
			hwpt = ERR_PTR(-EINVAL);
			break;
		}
		if (hwpt->auto_domain) {
			/* Named by id, still counted among its devices. */
			ioas = hwpt->ioas;
			mutex_lock(&ioas->auto_lock);
			if (!hwpt->auto_users) {
				mutex_unlock(&ioas->auto_lock);
				hwpt = ERR_PTR(-ENOENT);	/* going away */
				break;
			}
			hwpt->auto_users++;
			*auto_ioas = ioas;
		}
		refcount_inc(&hwpt->obj.users);
		break;
	case IOMMUFD_OBJ_IOAS:
		ioas = container_of(obj, struct iommufd_ioas, obj);
		mutex_lock(&ioas->auto_lock);
		hwpt = iommufd_auto_hwpt(idev, ioas);
		if (IS_ERR(hwpt))
			mutex_unlock(&ioas->auto_lock);
		else
			*auto_ioas = ioas;
		break;
	default:
		hwpt = ERR_PTR(-EINVAL);
	}
	/* The long-term reference (or the HWPT's on its IOAS) holds it. */
	iommufd_put_object(obj);
	return hwpt;
}

/*
 * Drop a device's reference on @hwpt.  An automatic HWPT goes with its
 * last device, once ioctls that hold it for a moment let go (so that its
 * IOAS is free right after).  Which device is the last is counted under
 * the IOAS's auto_lock, where devices find automatic HWPTs: once none is
 * left, none can find it, and only that last device removes it.
 */
static void iommufd_hwpt_put_for_device(struct iommufd_ctx *ictx,
					struct iommufd_hw_pagetable *hwpt)
{
	struct iommufd_ioas *ioas = hwpt->ioas;
	bool last;

	if (!hwpt->auto_domain) {
		refcount_dec(&hwpt->obj.users);
		return;
	}
	mutex_lock(&ioas->auto_lock);
	last = !--hwpt->auto_users;
	if (!last)
		refcount_dec(&hwpt->obj.users);
	mutex_unlock(&ioas->auto_lock);
	if (last)
		iommufd_object_remove(ictx, &hwpt->obj, hwpt->obj.id,
				      IOMMUFD_REMOVE_WAIT_SHORTTERM);
}

static void iommufd_hwpt_add_device(struct iommufd_hw_pagetable *hwpt,
				    struct iommufd_device *idev)
{
	lockdep_assert_held(&idev->lock);
	mutex_lock(&hwpt->devices_lock);
	list_add_tail(&idev->hwpt_item, &hwpt->devices);
	mutex_unlock(&hwpt->devices_lock);
	idev->hwpt = hwpt;
}

static void iommufd_hwpt_del_device(struct iommufd_hw_pagetable *hwpt,
				    struct iommufd_device *idev)
{
	lockdep_assert_held(&idev->lock);
	mutex_lock(&hwpt->devices_lock);
	list_del_init(&idev->hwpt_item);
	mutex_unlock(&hwpt->devices_lock);
	idev->hwpt = NULL;
}

/*
 * Attach @idev to @hwpt's domain (from @old's, or from blocked DMA).  The
 * backend orders it against the domains' map, unmap and flush (see
 * iommu_api.c): no IOAS lock is held, so a map stalled in a page fault
 * holds up no attach.
 */
static int iommufd_hwpt_attach_device(struct iommufd_hw_pagetable *hwpt,
				      struct iommufd_device *idev,
				      struct iommufd_hw_pagetable *old)
{
	lockdep_assert_held(&idev->lock);
	return idev->ops->attach(idev, hwpt->domain, old ? old->domain : NULL);
}

static void iommufd_auto_unlock(struct iommufd_ioas *auto_ioas)
{
	if (auto_ioas) {
		lockdep_assert_held(&auto_ioas->auto_lock);
		mutex_unlock(&auto_ioas->auto_lock);
	}
}

/* Pins taken for an attach before its locks: iommufd_attach_pin(). */
struct iommufd_attach_pins {
	struct iommufd_ctx *ictx;	/* a reference */
	struct iommufd_ioas *ioas;	/* a short-term reference */
	struct iopt_hold hold;
};

/**
 * iommufd_attach_pin() - pin what an attach to @pt_id will map, no lock held
 * @ictx: the iommufd
 * @pt_id: the attach's target, as the user gave it
 *
 * An attach to an IOAS with no domain yet makes its first domain, which
 * pins every page the IOAS maps (GUP, which may wait for ever on a user's
 * page fault), under idev->lock, the IOAS's auto_lock and whatever lock
 * the driver holds across the attach.  Call this first, holding none of
 * them: the attach then only counts one more user of pages pinned here,
 * and a stalled fault holds up only the caller.  What is mapped between
 * this call and the attach is still pinned by the attach, under its locks.
 * Maps are not held up meanwhile; IOAS_CHANGE_PROCESS on the IOAS fails
 * with EBUSY until iommufd_attach_unpin().  A pin that fails here is not
 * reported: the attach reports it if the area is still mapped then.
 *
 * Return: a handle for iommufd_attach_unpin() after the attach; NULL when
 * there is nothing to pin (@pt_id is a HWPT, whose domain is filled
 * already, or no IOAS: the attach reports that); ERR_PTR(-ENOMEM).
 */
struct iommufd_attach_pins *iommufd_attach_pin(struct iommufd_ctx *ictx,
					       u32 pt_id)
{
	struct iommufd_attach_pins *pins;
	struct iommufd_ioas *ioas;
	int rc;

	ioas = iommufd_get_ioas(ictx, pt_id);
	if (IS_ERR(ioas))
		return NULL;
	pins = iommufd_should_fail() ? NULL :
	       kzalloc(sizeof(*pins), GFP_KERNEL_ACCOUNT);
	if (!pins) {
		rc = -ENOMEM;
		goto out_put;
	}
	rc = iopt_hold_pins(&ioas->iopt, &pins->hold);
	if (rc)
		goto out_free;
	iommufd_ctx_get(ictx);
	pins->ictx = ictx;
	pins->ioas = ioas;
	return pins;

out_free:
	kfree(pins);
out_put:
	iommufd_put_object(&ioas->obj);
	return ERR_PTR(rc);
}
EXPORT_SYMBOL_NS_GPL(iommufd_attach_pin, IOMMUFD);

/**
 * iommufd_attach_unpin() - drop the pins of iommufd_attach_pin()
 * @pins: its handle (NULL or an ERR_PTR: nothing happens)
 *
 * After the attach, holding none of its locks: what the attached domain
 * maps stays pinned by it.
 */
void iommufd_attach_unpin(struct iommufd_attach_pins *pins)
{
	if (IS_ERR_OR_NULL(pins))
		return;
	iopt_release_pins(&pins->hold);
	iommufd_put_object(&pins->ioas->obj);
	iommufd_ctx_put(pins->ictx);
	kfree(pins);
}
EXPORT_SYMBOL_NS_GPL(iommufd_attach_unpin, IOMMUFD);

/**
 * iommufd_device_attach() - point a bound device's DMA at a HWPT or IOAS
 * @idev: the device, not attached
 * @pt_id: in: a HWPT id, or an IOAS id (an automatic HWPT of that IOAS
 *	that fits the device is used, or made); out: the HWPT's id
 *
 * Return: 0; -EBUSY when attached already; -ENOENT for no such object;
 * -EINVAL for one of another type or a HWPT the device cannot use (of
 * another backend, or enforcing coherency the device's IOMMU cannot); the
 * backend's error (reserved regions that collide with mappings, ...).
 */
int iommufd_device_attach(struct iommufd_device *idev, u32 *pt_id)
{
	struct iommufd_attach_pins *pins;
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_ioas *auto_ioas;
	int rc;

	/* Pinned before idev->lock, which detach and unbind need. */
	pins = iommufd_attach_pin(idev->ictx, *pt_id);
	if (IS_ERR(pins))
		return PTR_ERR(pins);
	mutex_lock(&idev->lock);
	if (idev->hwpt) {
		rc = -EBUSY;
		goto out_unlock;
	}
	hwpt = iommufd_device_target(idev, *pt_id, &auto_ioas);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_unlock;
	}
	rc = iommufd_device_reserve(idev, &hwpt->ioas->iopt);
	if (rc)
		goto out_put;
	rc = iommufd_hwpt_attach_device(hwpt, idev, NULL);
	if (rc)
		goto out_unreserve;
	iommufd_hwpt_add_device(hwpt, idev);
	iommufd_auto_unlock(auto_ioas);
	*pt_id = hwpt->obj.id;
	goto out_unlock;

out_unreserve:
	iopt_remove_reserved_iova(&hwpt->ioas->iopt, idev);
out_put:
	iommufd_auto_unlock(auto_ioas);
	iommufd_hwpt_put_for_device(idev->ictx, hwpt);
out_unlock:
	mutex_unlock(&idev->lock);
	iommufd_attach_unpin(pins);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_attach, IOMMUFD);

/**
 * iommufd_device_replace() - move an attached device to another HWPT/IOAS
 * @idev: the device, attached
 * @pt_id: as for iommufd_device_attach()
 *
 * On failure the device stays where it was.  (6.1 has no atomic replace:
 * the kernel backend passes through blocked DMA.)
 *
 * Return: 0; -EINVAL when not attached; else as iommufd_device_attach().
 */
int iommufd_device_replace(struct iommufd_device *idev, u32 *pt_id)
{
	struct iommufd_hw_pagetable *old, *hwpt;
	struct iommufd_attach_pins *pins;
	struct iommufd_ioas *auto_ioas;
	bool same_ioas;
	int rc;

	pins = iommufd_attach_pin(idev->ictx, *pt_id);
	if (IS_ERR(pins))
		return PTR_ERR(pins);
	mutex_lock(&idev->lock);
	old = idev->hwpt;
	if (!old) {
		rc = -EINVAL;
		goto out_unlock;
	}
	hwpt = iommufd_device_target(idev, *pt_id, &auto_ioas);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_unlock;
	}
	if (hwpt == old) {
		/* The device holds it already: this cannot be the last. */
		if (auto_ioas)
			hwpt->auto_users--;
		iommufd_auto_unlock(auto_ioas);
		refcount_dec(&hwpt->obj.users);
		*pt_id = hwpt->obj.id;
		rc = 0;
		goto out_unlock;
	}
	same_ioas = hwpt->ioas == old->ioas;
	if (!same_ioas) {
		rc = iommufd_device_reserve(idev, &hwpt->ioas->iopt);
		if (rc)
			goto out_put;
	}
	rc = iommufd_hwpt_attach_device(hwpt, idev, old);
	if (rc)
		goto out_unreserve;
	if (!same_ioas)
		iopt_remove_reserved_iova(&old->ioas->iopt, idev);
	iommufd_hwpt_del_device(old, idev);
	iommufd_hwpt_add_device(hwpt, idev);
	iommufd_auto_unlock(auto_ioas);
	*pt_id = hwpt->obj.id;
	iommufd_hwpt_put_for_device(idev->ictx, old);
	goto out_unlock;

out_unreserve:
	if (!same_ioas)
		iopt_remove_reserved_iova(&hwpt->ioas->iopt, idev);
out_put:
	iommufd_auto_unlock(auto_ioas);
	iommufd_hwpt_put_for_device(idev->ictx, hwpt);
out_unlock:
	mutex_unlock(&idev->lock);
	iommufd_attach_unpin(pins);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_replace, IOMMUFD);

/**
 * iommufd_device_detach() - back to blocked DMA
 * @idev: the device (attached or not: then nothing happens)
 *
 * An automatic HWPT the device leaves unused goes with it.
 */
void iommufd_device_detach(struct iommufd_device *idev)
{
	struct iommufd_hw_pagetable *hwpt;

	mutex_lock(&idev->lock);
	hwpt = idev->hwpt;
	if (hwpt) {
		idev->ops->detach(idev);
		iopt_remove_reserved_iova(&hwpt->ioas->iopt, idev);
		iommufd_hwpt_del_device(hwpt, idev);
		iommufd_hwpt_put_for_device(idev->ictx, hwpt);
	}
	mutex_unlock(&idev->lock);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_detach, IOMMUFD);

/**
 * iommufd_get_hw_info() - IOMMU_GET_HW_INFO
 * @ucmd: the command
 *
 * The backend fills in the data type, its data, the capabilities and the
 * PASID width.  Each backend reports one data type: with
 * IOMMU_HW_INFO_FLAG_INPUT_TYPE, asking for another is -EOPNOTSUPP.
 *
 * Return: 0 or a negative errno.
 */
int iommufd_get_hw_info(struct iommufd_ucmd *ucmd)
{
	struct iommu_hw_info *cmd = ucmd->cmd;
	void __user *udata = u64_to_user_ptr(cmd->data_uptr);
	struct iommufd_device *idev;
	u32 len = 64, copy, in_type;
	void *data;
	int rc;

	if ((cmd->flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE) ||
	    cmd->__reserved[0] || cmd->__reserved[1] || cmd->__reserved[2])
		return -EOPNOTSUPP;
	/* Without the flag the field was only ever an output: ignore it. */
	in_type = (cmd->flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE) ?
		  cmd->in_data_type : IOMMU_HW_INFO_TYPE_DEFAULT;
	data = iommufd_kzalloc(len, GFP_KERNEL);
	if (!data)
		return -ENOMEM;
	idev = iommufd_get_device(ucmd, cmd->dev_id);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto out_free;
	}
	cmd->out_data_type = IOMMU_HW_INFO_TYPE_NONE;
	cmd->out_capabilities = 0;
	cmd->out_max_pasid_log2 = 0;
	rc = idev->ops->hw_info(idev, cmd, data, &len);
	/*
	 * Let go of the device before touching user memory: a copy stuck
	 * in a fault must not hold up its unbind.
	 */
	iommufd_put_object(&idev->obj);
	if (rc)
		goto out_free;
	if (in_type != IOMMU_HW_INFO_TYPE_DEFAULT &&
	    in_type != cmd->out_data_type) {
		rc = -EOPNOTSUPP;
		goto out_free;
	}
	copy = min(cmd->data_len, len);
	if (copy && copy_to_user(udata, data, copy)) {
		rc = -EFAULT;
		goto out_free;
	}
	if (cmd->data_len > len &&
	    clear_user(udata + len, cmd->data_len - len)) {
		rc = -EFAULT;
		goto out_free;
	}
	cmd->data_len = len;
	rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
out_free:
	kfree(data);
	return rc;
}
