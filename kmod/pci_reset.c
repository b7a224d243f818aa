// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci resets: the function reset (VFIO_DEVICE_RESET) and the hot
 * reset of a whole slot or bus (VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and
 * VFIO_DEVICE_PCI_HOT_RESET), with the device-cdev semantics of VFIO-PCI.
 *
 * A hot reset resets every device of the slot or bus.  The caller may do
 * it only when each of them is bound to this driver and is the caller's:
 * bound to the same iommufd, or in an IOMMU group of which a device is
 * bound to it (the group's DMA is then the caller's already).  No group
 * fds are given in the cdev form: the count must be 0.
 *
 * While any reset runs, BAR access of the devices reset waits (mmio_lock
 * held for writing, every mapping zapped: it refills after).  The PCI
 * core saves and restores each device's config space around the reset,
 * and only trylocks the devices, so a reset racing a driver's removal
 * fails with EAGAIN instead of waiting.
 *
 * upci_list holds the bound devices, under upci_list_lock, innermost and
 * held only to add, remove or look up.  upci_hot_reset_lock serializes
 * hot resets and comes before the udev->lock of every device one resets
 * (taken nested under it).
 */
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pci_user.h"

/* A hot reset reaches at most this many functions (a bus is 256). */
#define UPCI_HOT_RESET_MAX 256

static DEFINE_MUTEX(upci_hot_reset_lock);
static DEFINE_MUTEX(upci_list_lock);
static LIST_HEAD(upci_list);

/**
 * upci_reset_list_add() - a bound device, for hot resets to find
 * @udev: the device, just bound (its lock held)
 */
void upci_reset_list_add(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	mutex_lock(&upci_list_lock);
	list_add_tail(&udev->node, &upci_list);
	mutex_unlock(&upci_list_lock);
}

/**
 * upci_reset_list_del() - no longer bound
 * @udev: the device, being unbound (its lock held)
 */
void upci_reset_list_del(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	mutex_lock(&upci_list_lock);
	list_del_init(&udev->node);
	mutex_unlock(&upci_list_lock);
}

/* --------------------------------------------------- the function reset */

/*
 * Stop BAR access and zap every mapping, for a reset.  A hot reset holds
 * several devices' mmio_lock at once, nested under upci_hot_reset_lock.
 */
static void upci_reset_hold(struct upci_device *udev, bool hot)
{
	lockdep_assert_held(&udev->lock);
	if (hot)
		down_write_nest_lock(&udev->mmio_lock, &upci_hot_reset_lock);
	else
		down_write(&udev->mmio_lock);
	if (udev->opener)
		unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
}

static void upci_reset_release(struct upci_device *udev)
{
	lockdep_assert_held_write(&udev->mmio_lock);
	up_write(&udev->mmio_lock);
	/* The restored command register may have missed an INTx mask. */
	upci_irq_after_reset(udev);
}

/**
 * upci_reset() - VFIO_DEVICE_RESET
 * @udev: the device, bound (its lock held)
 *
 * Return: 0; -EINVAL when the device has no reset of its own (GET_INFO
 * then has no RESET flag); -EAGAIN when the PCI core's device lock is
 * taken (another reset, a driver change).
 */
int upci_reset(struct upci_device *udev)
{
	int rc;

	lockdep_assert_held(&udev->lock);
	if (!udev->pdev->reset_methods[0])
		return -EINVAL;
	upci_reset_hold(udev, false);
	pci_set_power_state(udev->pdev, PCI_D0);
	rc = pci_try_reset_function(udev->pdev);
	upci_reset_release(udev);
	return rc;
}

/* ------------------------------------------------------- the hot reset */

/* The functions a hot reset of @pdev's slot (or bus) reaches. */
struct upci_affected {
	struct pci_dev *self;
	bool slot;
	unsigned int n;
	struct pci_dev *pdev[UPCI_HOT_RESET_MAX];
	struct upci_device *udev[UPCI_HOT_RESET_MAX];
};

static int upci_affected_add(struct pci_dev *pdev, void *arg)
{
	struct upci_affected *a = arg;
	struct pci_dev *top = pdev;

	/* For a slot: the slot's own functions and all below them. */
	while (a->slot && !pci_is_root_bus(top->bus) &&
	       top->bus != a->self->bus)
		top = top->bus->self;
	if (a->slot && top->slot != a->self->slot)
		return 0;
	if (a->n == UPCI_HOT_RESET_MAX)
		return -ENOSPC;
	a->pdev[a->n++] = pci_dev_get(pdev);
	return 0;
}

static void upci_affected_put(struct upci_affected *a)
{
	while (a->n--)
		pci_dev_put(a->pdev[a->n]);
	kfree(a);
}

/*
 * Which functions a hot reset of @pdev reaches: those of its slot when
 * the slot can be reset, else those of its bus (ENODEV when neither).
 */
static struct upci_affected *upci_affected_get(struct pci_dev *pdev)
{
	struct upci_affected *a = iommufd_kzalloc(sizeof(*a), GFP_KERNEL);
	int rc;

	if (!a)
		return ERR_PTR(-ENOMEM);
	a->self = pdev;
	if (pdev->slot && !pci_probe_reset_slot(pdev->slot))
		a->slot = true;
	else if (pci_probe_reset_bus(pdev->bus)) {
		kfree(a);
		return ERR_PTR(-ENODEV);
	}
	pci_walk_bus(pdev->bus, upci_affected_add, a);
	rc = a->n == UPCI_HOT_RESET_MAX ? -ENOSPC : 0;
	if (rc) {
		upci_affected_put(a);
		return ERR_PTR(rc);
	}
	return a;
}

/*
 * @pdev as seen from @ictx: its dev_id when bound to it; 0 (VFIO's
 * "owned") when it is this driver's and its IOMMU group is @ictx's, a
 * device of it being bound there; else -1 ("not owned").
 */
static s32 upci_devid_in(struct pci_dev *pdev, struct iommufd_ctx *ictx)
{
	struct iommu_group *group = iommu_group_get(&pdev->dev);
	s32 devid = IOMMUFD_PCI_DEVID_NOT_OWNED;
	struct upci_device *other;

	if (!upci_is_ours(pdev))
		goto out;
	mutex_lock(&upci_list_lock);
	list_for_each_entry(other, &upci_list, node) {
		if (other->ictx != ictx)
			continue;
		if (other->pdev == pdev) {
			devid = other->dev_id;
			break;
		}
		if (group && other->pdev->dev.iommu_group == group)
			devid = IOMMUFD_PCI_DEVID_OWNED;
	}
	mutex_unlock(&upci_list_lock);
out:
	iommu_group_put(group);
	return devid;
}

/* The bound device of ours behind @pdev, with a reference, or NULL. */
static struct upci_device *upci_get_bound(struct pci_dev *pdev)
{
	struct upci_device *udev, *found = NULL;

	mutex_lock(&upci_list_lock);
	list_for_each_entry(udev, &upci_list, node) {
		if (udev->pdev == pdev) {
			found = udev;
			get_device(&found->dev);
			break;
		}
	}
	mutex_unlock(&upci_list_lock);
	return found;
}

/*
 * The iommufd @udev is bound to, or NULL; takes and drops its lock.  No
 * reference is taken: the pointer is only a key to compare.  The caller's
 * device may be unbound meanwhile and the context freed and its memory
 * reused, so the hot reset's claim compares it again under each affected
 * device's lock, the caller's own device included (it is on its own bus
 * or slot): a context the caller's device no longer has is refused there.
 */
static struct iommufd_ctx *upci_bound_ctx(struct upci_device *udev)
{
	struct iommufd_ctx *ictx;

	mutex_lock(&udev->lock);
	ictx = udev->removed ? NULL : udev->ictx;
	mutex_unlock(&udev->lock);
	return ictx;
}

/**
 * upci_hot_reset_info() - VFIO_DEVICE_GET_PCI_HOT_RESET_INFO
 * @udev: the device (no lock held)
 * @uarg: the user's struct iommufd_pci_hot_reset_info and the room for
 *        its devices after it
 *
 * Every function the hot reset would reach, by segment, bus and devfn,
 * and by devid as seen from the caller's iommufd (flags DEV_ID; and
 * DEV_ID_OWNED when all of them are the caller's).  A snapshot: binding
 * may change once it is returned.
 *
 * Return: 0; -EINVAL before BIND or for a short argsz; -ENODEV when
 * neither slot nor bus can be reset; -ENOSPC (count set to the number
 * needed) when argsz has no room for them all; -EFAULT.
 */
long upci_hot_reset_info(struct upci_device *udev, void __user *uarg)
{
	struct iommufd_pci_hot_reset_info hdr;
	struct iommufd_pci_dependent_device *devs = NULL;
	unsigned long minsz = offsetofend(typeof(hdr), count);
	struct iommufd_ctx *ictx;
	struct upci_affected *a;
	unsigned int i;
	long rc = 0;

	if (copy_from_user(&hdr, uarg, minsz))
		return -EFAULT;
	if (hdr.argsz < minsz)
		return -EINVAL;
	ictx = upci_bound_ctx(udev);
	if (!ictx)
		return -EINVAL;
	a = upci_affected_get(udev->pdev);
	if (IS_ERR(a))
		return PTR_ERR(a);
	hdr.flags = 0;
	hdr.count = a->n;
	if (hdr.argsz < sizeof(hdr) + a->n * sizeof(*devs)) {
		rc = -ENOSPC;
		goto out_hdr;
	}
	devs = iommufd_kcalloc(a->n, sizeof(*devs), GFP_KERNEL);
	if (!devs) {
		rc = -ENOMEM;
		goto out;
	}
	hdr.flags = IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID |
		    IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
	for (i = 0; i < a->n; i++) {
		devs[i].devid = upci_devid_in(a->pdev[i], ictx);
		devs[i].segment = pci_domain_nr(a->pdev[i]->bus);
		devs[i].bus = a->pdev[i]->bus->number;
		devs[i].devfn = a->pdev[i]->devfn;
		if (devs[i].devid == IOMMUFD_PCI_DEVID_NOT_OWNED)
			hdr.flags &= ~IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
	}
	if (copy_to_user(uarg + sizeof(hdr), devs, a->n * sizeof(*devs)))
		rc = -EFAULT;
out_hdr:
	if (copy_to_user(uarg, &hdr, minsz))
		rc = -EFAULT;
out:
	kfree(devs);
	upci_affected_put(a);
	return rc;
}

/*
 * Lock (nested under upci_hot_reset_lock) every bound affected device
 * and check that each affected function is the caller's: bound to @ictx,
 * or unbound in a group of @ictx's.  EINVAL for one that is not, as VFIO.
 * Returns with the devices locked and held for the reset when 0.
 */
static int upci_hot_reset_claim(struct upci_affected *a,
				struct iommufd_ctx *ictx)
{
	unsigned int i;

	lockdep_assert_held(&upci_hot_reset_lock);
	for (i = 0; i < a->n; i++) {
		struct upci_device *d = upci_get_bound(a->pdev[i]);

		a->udev[i] = d;
		if (d)
			mutex_lock_nest_lock(&d->lock, &upci_hot_reset_lock);
		if (d ? d->ictx != ictx :
			upci_devid_in(a->pdev[i], ictx) ==
			IOMMUFD_PCI_DEVID_NOT_OWNED)
			return -EINVAL;
	}
	for (i = 0; i < a->n; i++) {
		if (!a->udev[i])
			continue;
		upci_reset_hold(a->udev[i], true);
		pci_set_power_state(a->pdev[i], PCI_D0);
	}
	return 0;
}

/* Undo upci_hot_reset_claim(): @held says the devices are held. */
static void upci_hot_reset_unclaim(struct upci_affected *a, bool held)
{
	unsigned int i;

	lockdep_assert_held(&upci_hot_reset_lock);
	for (i = 0; i < a->n; i++) {
		struct upci_device *d = a->udev[i];

		if (!d)
			continue;
		if (held)
			upci_reset_release(d);
		mutex_unlock(&d->lock);
		put_device(&d->dev);
		a->udev[i] = NULL;
	}
}

/**
 * upci_hot_reset() - VFIO_DEVICE_PCI_HOT_RESET (the device-cdev form)
 * @udev: the device (no lock held)
 * @uarg: the user's struct iommufd_pci_hot_reset
 *
 * Return: 0; -EINVAL for non-zero flags, a group-fd count (the cdev form
 * has none), before BIND, or when a function of the slot or bus is not
 * bound to this driver or not the caller's; -ENODEV when
 * neither slot nor bus can be reset; -EAGAIN when the PCI core could not
 * lock every device.
 */
long upci_hot_reset(struct upci_device *udev, void __user *uarg)
{
	unsigned long minsz = offsetofend(struct iommufd_pci_hot_reset, count);
	struct iommufd_pci_hot_reset hdr;
	struct iommufd_ctx *ictx;
	struct upci_affected *a;
	bool claimed;
	unsigned int i;
	long rc;

	if (copy_from_user(&hdr, uarg, minsz))
		return -EFAULT;
	if (hdr.argsz < minsz || hdr.flags || hdr.count)
		return -EINVAL;
	ictx = upci_bound_ctx(udev);
	if (!ictx)
		return -EINVAL;
	a = upci_affected_get(udev->pdev);
	if (IS_ERR(a))
		return PTR_ERR(a);
	for (i = 0; i < a->n; i++) {
		if (!upci_is_ours(a->pdev[i])) {
			rc = -EINVAL;
			goto out;
		}
	}
	mutex_lock(&upci_hot_reset_lock);
	rc = upci_hot_reset_claim(a, ictx);
	claimed = !rc;
	if (claimed)
		rc = pci_reset_bus(udev->pdev);
	upci_hot_reset_unclaim(a, claimed);
	mutex_unlock(&upci_hot_reset_lock);
out:
	upci_affected_put(a);
	return rc;
}
