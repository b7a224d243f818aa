// SPDX-License-Identifier: GPL-2.0
/*
 * The security context of an IOMMU group (the seed message of the RFC).
 *
 * Binding the first device of a group to an iommufd claims DMA ownership of
 * the whole group.  The kernel refuses that while any device of the group
 * is driven by a kernel driver that uses the DMA API (the group is not
 * viable); once claimed, the group sits in a blocking domain -- no DMA
 * reaches memory -- until a device is attached.  Further devices of the
 * group join the same context (same iommufd only).  Unbinding the last
 * device releases ownership and the group returns to its kernel default
 * domain.
 *
 * All devices of a group share one IOMMU domain, so attachment is tracked
 * here per group: the domain the group uses and how many bound devices
 * asked for it.
 */
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/irqdomain.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "iommufd_private.h"
#include "compat.h"

COMPAT_IMPORT_GROUP_REPLACE();

static bool allow_unsafe_interrupts;
module_param(allow_unsafe_interrupts, bool, 0644);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Bind devices even without interrupt remapping (a device can then raise any interrupt by DMA)");

static LIST_HEAD(iommufd_groups);
static DEFINE_MUTEX(iommufd_groups_lock);

struct iommufd_group {
	struct list_head node;
	struct iommu_group *group;
	struct iommufd_ctx *ictx;	/* the owner */
	unsigned int devices;		/* bound devices */
	struct mutex lock;
	struct iommu_domain *attached;	/* NULL: blocking domain */
	unsigned int attach_users;
};

static struct iommufd_group *iommufd_group_find(struct iommu_group *group)
{
	struct iommufd_group *igroup;

	lockdep_assert_held(&iommufd_groups_lock);
	list_for_each_entry(igroup, &iommufd_groups, node)
		if (igroup->group == group)
			return igroup;
	return NULL;
}

struct group_blocker {
	struct device *self;
	struct device *found;
	char driver[32];	/* its driver's name, read once */
};

static int find_kernel_driven(struct device *dev, void *data)
{
	/* Not under the device lock: the driver may be leaving meanwhile. */
	struct device_driver *drv = READ_ONCE(dev->driver);
	struct group_blocker *b = data;

	if (dev != b->self && drv && !b->found) {
		b->found = get_device(dev);
		strscpy(b->driver, drv->name, sizeof(b->driver));
	}
	return 0;
}

/* Explain in the kernel log why the group of @dev cannot be claimed. */
static void iommufd_group_explain(struct device *dev, struct iommu_group *group)
{
	struct group_blocker b = { .self = dev };

	iommu_group_for_each_dev(group, &b, find_kernel_driven);
	if (b.found) {
		dev_warn(dev,
			 "iommufd: cannot bind: %s in the same IOMMU group %d is driven by kernel driver %s; unbind it first\n",
			 dev_name(b.found), iommu_group_id(group), b.driver);
		put_device(b.found);
	} else {
		dev_warn(dev, "iommufd: cannot bind: IOMMU group %d is in use by the kernel\n",
			 iommu_group_id(group));
	}
}

static struct iommufd_group *iommufd_group_create(struct device *dev,
						  struct iommu_group *group,
						  struct iommufd_ctx *ictx)
{
	struct iommufd_group *igroup;
	int rc;

	lockdep_assert_held(&iommufd_groups_lock);
	igroup = iommufd_kzalloc(sizeof(*igroup), GFP_KERNEL);
	if (!igroup)
		return ERR_PTR(-ENOMEM);
	rc = iommu_group_claim_dma_owner(group, igroup);
	if (rc) {
		iommufd_group_explain(dev, group);
		kfree(igroup);
		/* EPERM from the core means "owned by kernel drivers" */
		return ERR_PTR(rc == -EPERM ? -EBUSY : rc);
	}
	igroup->group = group;
	igroup->ictx = ictx;
	mutex_init(&igroup->lock);
	list_add(&igroup->node, &iommufd_groups);
	return igroup;
}

/*
 * Without interrupt remapping, a DMA write to the MSI window is an
 * interrupt the device chose: no IOMMU mapping stops it.  Refuse, as VFIO
 * does, unless the administrator accepts it.
 */
static int iommufd_check_interrupts(struct device *dev)
{
	if (compat_device_has_isolated_msi(dev))
		return 0;
	if (!allow_unsafe_interrupts) {
		dev_warn(dev, "iommufd: cannot bind: no interrupt remapping, so the device could raise any interrupt by DMA; load iommufd with allow_unsafe_interrupts=1 to accept that\n");
		return -EPERM;
	}
	dev_warn(dev, "iommufd: binding without interrupt remapping (allow_unsafe_interrupts)\n");
	return 0;
}

/**
 * iommufd_group_bind() - join @dev's IOMMU group to @ictx
 * @dev: the device being bound
 * @ictx: the iommufd it is bound to
 *
 * The group's first bound device claims DMA ownership of the group (it
 * then sits in a blocking domain); later devices of the group join the
 * same context, which must be @ictx.
 *
 * Context: process; takes iommufd_groups_lock, and the IOMMU core's
 * group mutex inside it when claiming.
 *
 * Return: the group's context, or ERR_PTR(): -EPERM without interrupt
 * remapping (unless allowed); -ENODEV with no IOMMU group; -EBUSY when
 * the group belongs to another iommufd or a kernel driver uses it;
 * -ENOMEM.
 */
struct iommufd_group *iommufd_group_bind(struct device *dev,
					 struct iommufd_ctx *ictx)
{
	struct iommufd_group *igroup;
	struct iommu_group *group;
	int rc;

	rc = iommufd_check_interrupts(dev);
	if (rc)
		return ERR_PTR(rc);
	group = iommu_group_get(dev);
	if (!group) {
		dev_warn(dev, "iommufd: cannot bind: the device has no IOMMU group (is the IOMMU on?)\n");
		return ERR_PTR(-ENODEV);
	}
	mutex_lock(&iommufd_groups_lock);
	igroup = iommufd_group_find(group);
	if (igroup && igroup->ictx != ictx) {
		dev_warn(dev, "iommufd: cannot bind: IOMMU group %d belongs to another iommufd\n",
			 iommu_group_id(group));
		igroup = ERR_PTR(-EBUSY);
	} else if (!igroup) {
		igroup = iommufd_group_create(dev, group, ictx);
		/* The new igroup keeps this reference to the group. */
		if (!IS_ERR(igroup))
			group = NULL;
	}
	if (!IS_ERR(igroup))
		igroup->devices++;
	mutex_unlock(&iommufd_groups_lock);
	if (group)
		iommu_group_put(group);
	return igroup;
}

/**
 * iommufd_group_unbind() - undo iommufd_group_bind() for one device
 * @igroup: the group's context
 *
 * The last device releases DMA ownership (the group goes back to its
 * default domain) and frees @igroup.  The group must not be attached.
 *
 * Context: process; takes iommufd_groups_lock.
 */
void iommufd_group_unbind(struct iommufd_group *igroup)
{
	mutex_lock(&iommufd_groups_lock);
	if (--igroup->devices) {
		mutex_unlock(&iommufd_groups_lock);
		return;
	}
	WARN_ON(igroup->attached);
	/*
	 * Back to the kernel's default domain, before the group leaves the
	 * list: a bind that no longer finds it can claim it at once.
	 */
	iommu_group_release_dma_owner(igroup->group);
	list_del(&igroup->node);
	mutex_unlock(&iommufd_groups_lock);
	iommu_group_put(igroup->group);
	mutex_destroy(&igroup->lock);
	kfree(igroup);
}

/**
 * iommufd_group_id() - the IOMMU group's id, for the debugfs state file
 * @igroup: the group's context
 *
 * Context: any; no lock.
 *
 * Return: the id.
 */
int iommufd_group_id(struct iommufd_group *igroup)
{
	return iommu_group_id(igroup->group);
}

/**
 * iommufd_group_attach() - point the group at @domain for one more device
 * @igroup: the group's context
 * @domain: the domain wanted
 * @old: the domain the device moves from (which it alone uses), or NULL
 *
 * A group already using @domain only counts one more user.  A group
 * attached elsewhere by another device refuses.
 *
 * Context: process; takes igroup->lock and, inside it, the IOMMU core's
 * group mutex.  The caller (iommu_api.c) holds the domains' hw_lock for
 * write.
 *
 * Return: 0; -EINVAL when the group uses another domain; or the IOMMU
 * core's attach or replace error.
 */
int iommufd_group_attach(struct iommufd_group *igroup,
			 struct iommu_domain *domain, struct iommu_domain *old)
{
	int rc = 0;

	mutex_lock(&igroup->lock);
	if (igroup->attached == domain) {
		igroup->attach_users++;
	} else if (!igroup->attached) {
		rc = iommu_attach_group(domain, igroup->group);
		if (!rc) {
			igroup->attached = domain;
			igroup->attach_users = 1;
		}
	} else if (old && igroup->attached == old &&
		   igroup->attach_users == 1) {
		/* In one step where the kernel can (compat.h). */
		rc = compat_group_replace_domain(igroup->group, old, domain);
		if (!rc)
			igroup->attached = domain;
	} else {
		rc = -EINVAL;
	}
	mutex_unlock(&igroup->lock);
	return rc;
}

/**
 * iommufd_group_detach() - one device no longer uses the group's domain
 * @igroup: the group's context, attached
 *
 * The last user sends the group back to its blocking domain.
 *
 * Context: process; takes igroup->lock and, inside it, the IOMMU core's
 * group mutex.  The caller holds the domain's hw_lock for write.
 */
void iommufd_group_detach(struct iommufd_group *igroup)
{
	mutex_lock(&igroup->lock);
	if (!WARN_ON(!igroup->attached) && !--igroup->attach_users) {
		/* With DMA ownership claimed this lands in the blocking domain. */
		iommu_detach_group(igroup->attached, igroup->group);
		igroup->attached = NULL;
	}
	mutex_unlock(&igroup->lock);
}

/**
 * iommufd_group_reserve() - reserve the group's reserved regions in @iopt
 * @igroup: the group's context
 * @iopt: the IOVA space the device attaches to
 * @owner: the tag for iopt_remove_reserved_iova()
 *
 * DMA to the MSI window or an RMRR never reaches memory, so nothing may
 * be mapped there.  Relaxable direct mappings are skipped.  On failure
 * whatever was reserved for @owner is removed again.
 *
 * Context: process; takes iova_rwsem (write) per region, not
 * igroup->lock.  Attach calls it with idev->lock held.
 *
 * Return: 0; -EADDRINUSE when a region is mapped or allowed; -ENOMEM; or
 * the IOMMU core's error listing the regions.
 */
int iommufd_group_reserve(struct iommufd_group *igroup,
			  struct io_pagetable *iopt, void *owner)
{
	struct iommu_resv_region *resv, *next;
	LIST_HEAD(regions);
	int rc;

	rc = iommu_get_group_resv_regions(igroup->group, &regions);
	if (rc)
		return rc;
	/*
	 * Everything but relaxable direct mappings, as upstream; that
	 * includes a software MSI window (SMMU), which no mapping may cover
	 * even though this module sets up no MSI translation in it yet.
	 */
	list_for_each_entry(resv, &regions, list) {
		if (resv->type == IOMMU_RESV_DIRECT_RELAXABLE || !resv->length)
			continue;
		rc = iopt_reserve_iova(iopt, resv->start,
				       resv->start + resv->length - 1, owner);
		if (rc) {
			pr_warn("iommufd: IOMMU group %d: reserved region [%pa, +%#zx] is already mapped or allowed in the IOAS\n",
				iommu_group_id(igroup->group), &resv->start,
				resv->length);
			iopt_remove_reserved_iova(iopt, owner);
			break;
		}
	}
	list_for_each_entry_safe(resv, next, &regions, list)
		kfree(resv);
	return rc;
}
