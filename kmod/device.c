// SPDX-License-Identifier: GPL-2.0
/*
 * Devices: the in-kernel API a device driver uses to give its device to an
 * iommufd.  bind creates the device object (dev_id); attach points the
 * device's DMA at a HWPT, or at an IOAS through an automatic HWPT; replace
 * switches that target in one step; detach returns the device to blocked
 * DMA; unbind ends it all.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommufd_private.h"

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

/*
 * Remove @obj, on which the caller holds its own reference, once the
 * short-lived users (ioctls in flight) are gone: a minute at most, as
 * upstream waits, since an ioctl can be held up in a user page fault.
 * If @wanted(@obj) says a new long-term user came meanwhile, or the
 * minute runs out (WARN), only the caller's reference goes; the fd's
 * close frees the object then.
 */
static void iommufd_object_remove_wait(struct iommufd_ctx *ictx,
				       struct iommufd_object *obj,
				       bool (*wanted)(struct iommufd_object *))
{
	unsigned long deadline = jiffies + 60 * HZ;

	while (iommufd_object_remove_held(ictx, obj) == -EBUSY) {
		if ((wanted && wanted(obj)) ||
		    WARN(time_after(jiffies, deadline),
			 "iommufd: object %u still busy at removal\n",
			 obj->id)) {
			refcount_dec(&obj->users);
			return;
		}
		usleep_range(100, 1000);
	}
}

void iommufd_device_unbind(struct iommufd_device *idev)
{
	struct iommufd_ctx *ictx = idev->ictx;
	bool put_ctx = !idev->ops->owned_by_ctx;

	iommufd_device_detach(idev);
	iommufd_object_remove_wait(ictx, &idev->obj, NULL);
	if (put_ctx)
		iommufd_ctx_put(ictx);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_unbind, IOMMUFD);

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

/* An automatic HWPT of @ioas that @idev can use, with a reference. */
static struct iommufd_hw_pagetable *
iommufd_find_auto_hwpt(struct iommufd_device *idev, struct iommufd_ioas *ioas)
{
	struct iommufd_hw_pagetable *hwpt, *found = NULL;

	down_read(&ioas->iopt.domains_rwsem);
	list_for_each_entry(hwpt, &ioas->iopt.domains, iopt_item) {
		if (hwpt->auto_domain &&
		    idev->ops->domain_compatible(idev, hwpt->domain) &&
		    refcount_inc_not_zero(&hwpt->obj.users)) {
			found = hwpt;
			break;
		}
	}
	up_read(&ioas->iopt.domains_rwsem);
	return found;
}

static struct iommufd_hw_pagetable *
iommufd_auto_hwpt(struct iommufd_device *idev, struct iommufd_ioas *ioas)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_domain *domain;

	hwpt = iommufd_find_auto_hwpt(idev, ioas);
	if (hwpt)
		return hwpt;
	domain = idev->ops->domain_alloc(idev);
	if (IS_ERR(domain))
		return ERR_CAST(domain);
	hwpt = iommufd_hwpt_alloc(idev->ictx, ioas, domain, true);
	if (IS_ERR(hwpt))
		return hwpt;
	/* The device's reference, taken before anyone can see the object. */
	refcount_inc(&hwpt->obj.users);
	iommufd_object_finalize(idev->ictx, &hwpt->obj);
	return hwpt;
}

/* The HWPT that @pt_id names for @idev, with a reference. */
static struct iommufd_hw_pagetable *
iommufd_device_target(struct iommufd_device *idev, u32 pt_id)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *obj;

	obj = iommufd_get_object(idev->ictx, pt_id, IOMMUFD_OBJ_ANY);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	switch (obj->type) {
	case IOMMUFD_OBJ_HWPT:
		hwpt = container_of(obj, struct iommufd_hw_pagetable, obj);
		if (!idev->ops->domain_compatible(idev, hwpt->domain)) {
			iommufd_put_object(obj);
			return ERR_PTR(-EINVAL);
		}
		return hwpt;
	case IOMMUFD_OBJ_IOAS:
		hwpt = iommufd_auto_hwpt(idev,
					 container_of(obj, struct iommufd_ioas,
						      obj));
		iommufd_put_object(obj);
		return hwpt;
	default:
		iommufd_put_object(obj);
		return ERR_PTR(-EINVAL);
	}
}

static bool iommufd_hwpt_unused(struct iommufd_hw_pagetable *hwpt)
{
	bool unused;

	mutex_lock(&hwpt->devices_lock);
	unused = list_empty(&hwpt->devices);
	mutex_unlock(&hwpt->devices_lock);
	return unused;
}

/* A device attached to the HWPT again while its last one was leaving. */
static bool iommufd_hwpt_wanted(struct iommufd_object *obj)
{
	return !iommufd_hwpt_unused(container_of(obj,
						 struct iommufd_hw_pagetable,
						 obj));
}

/*
 * Drop a device's reference on @hwpt.  An automatic HWPT goes with the
 * device that left it unused (@last), once ioctls in flight let go of it.
 */
static void iommufd_hwpt_put_for_device(struct iommufd_ctx *ictx,
					struct iommufd_hw_pagetable *hwpt,
					bool last)
{
	if (hwpt->auto_domain && last)
		iommufd_object_remove_wait(ictx, &hwpt->obj,
					   iommufd_hwpt_wanted);
	else
		refcount_dec(&hwpt->obj.users);
}

static void iommufd_hwpt_add_device(struct iommufd_hw_pagetable *hwpt,
				    struct iommufd_device *idev)
{
	mutex_lock(&hwpt->devices_lock);
	list_add_tail(&idev->hwpt_item, &hwpt->devices);
	mutex_unlock(&hwpt->devices_lock);
	idev->hwpt = hwpt;
}

/* Returns whether @idev was the last device on @hwpt. */
static bool iommufd_hwpt_del_device(struct iommufd_hw_pagetable *hwpt,
				    struct iommufd_device *idev)
{
	bool last;

	mutex_lock(&hwpt->devices_lock);
	list_del_init(&idev->hwpt_item);
	last = list_empty(&hwpt->devices);
	mutex_unlock(&hwpt->devices_lock);
	idev->hwpt = NULL;
	return last;
}

int iommufd_device_attach(struct iommufd_device *idev, u32 *pt_id)
{
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	mutex_lock(&idev->lock);
	if (idev->hwpt) {
		rc = -EBUSY;
		goto out_unlock;
	}
	hwpt = iommufd_device_target(idev, *pt_id);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_unlock;
	}
	rc = iommufd_device_reserve(idev, &hwpt->ioas->iopt);
	if (rc)
		goto out_put;
	rc = idev->ops->attach(idev, hwpt->domain, NULL);
	if (rc)
		goto out_unreserve;
	iommufd_hwpt_add_device(hwpt, idev);
	*pt_id = hwpt->obj.id;
	goto out_unlock;

out_unreserve:
	iopt_remove_reserved_iova(&hwpt->ioas->iopt, idev);
out_put:
	iommufd_hwpt_put_for_device(idev->ictx, hwpt, iommufd_hwpt_unused(hwpt));
out_unlock:
	mutex_unlock(&idev->lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_attach, IOMMUFD);

int iommufd_device_replace(struct iommufd_device *idev, u32 *pt_id)
{
	struct iommufd_hw_pagetable *old, *hwpt;
	bool same_ioas, last;
	int rc;

	mutex_lock(&idev->lock);
	old = idev->hwpt;
	if (!old) {
		rc = -EINVAL;
		goto out_unlock;
	}
	hwpt = iommufd_device_target(idev, *pt_id);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_unlock;
	}
	if (hwpt == old) {
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
	rc = idev->ops->attach(idev, hwpt->domain, old->domain);
	if (rc)
		goto out_unreserve;
	if (!same_ioas)
		iopt_remove_reserved_iova(&old->ioas->iopt, idev);
	last = iommufd_hwpt_del_device(old, idev);
	iommufd_hwpt_add_device(hwpt, idev);
	*pt_id = hwpt->obj.id;
	iommufd_hwpt_put_for_device(idev->ictx, old, last);
	goto out_unlock;

out_unreserve:
	if (!same_ioas)
		iopt_remove_reserved_iova(&hwpt->ioas->iopt, idev);
out_put:
	iommufd_hwpt_put_for_device(idev->ictx, hwpt, iommufd_hwpt_unused(hwpt));
out_unlock:
	mutex_unlock(&idev->lock);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_replace, IOMMUFD);

void iommufd_device_detach(struct iommufd_device *idev)
{
	struct iommufd_hw_pagetable *hwpt;

	mutex_lock(&idev->lock);
	hwpt = idev->hwpt;
	if (hwpt) {
		idev->ops->detach(idev);
		iopt_remove_reserved_iova(&hwpt->ioas->iopt, idev);
		iommufd_hwpt_put_for_device(idev->ictx, hwpt,
					    iommufd_hwpt_del_device(hwpt, idev));
	}
	mutex_unlock(&idev->lock);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_detach, IOMMUFD);

int iommufd_get_hw_info(struct iommufd_ucmd *ucmd)
{
	struct iommu_hw_info *cmd = ucmd->cmd;
	void __user *udata = u64_to_user_ptr(cmd->data_uptr);
	struct iommufd_device *idev;
	u32 len = 64, copy;
	void *data;
	int rc;

	if (cmd->flags || cmd->__reserved[0] || cmd->__reserved[1] ||
	    cmd->__reserved[2])
		return -EOPNOTSUPP;
	data = kzalloc(len, GFP_KERNEL);
	if (!data)
		return -ENOMEM;
	idev = iommufd_get_device(ucmd, cmd->dev_id);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto out_free;
	}
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
