// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci: give a PCI device to userspace through /dev/iommu, as a
 * VFIO device cdev.
 *
 * A device is bound to this driver by the administrator (driver_override,
 * then drivers_probe).  Each bound device gets /dev/vfio/devices/vfioN,
 * found from the PCI device through sysfs as <device>/vfio-dev/vfioN/dev,
 * the names and ioctls of Linux's vfio-pci device cdev, so that software
 * written for it (QEMU's iommufd backend) runs unchanged.  One opener at a
 * time.  Until the opener binds the device to an iommufd -- which claims
 * the whole IOMMU group and blocks its DMA -- the file gives information
 * only: no MMIO, no config writes, so no bus mastering.  Unbinding (the
 * ioctl, closing the file, or removing the driver) first revokes every
 * MMIO mapping and turns bus mastering off, then resets the function when
 * it can and restores the config space saved at BIND.
 *
 * The driver does not use the DMA API (driver_managed_dma), so binding it
 * does not by itself take the group from the kernel: only BIND does.
 *
 * Config space is virtualized as VFIO-PCI does it (pci_config.c), the
 * BARs and the ROM are reached by read()/write() and mmap()
 * (pci_region.c), resets and hot resets live in pci_reset.c, interrupts
 * (INTx, MSI, MSI-X, error and request eventfds) in pci_irq.c.
 *
 * Lifetime: the upci_device is its /dev node's struct device; every open
 * file holds it through the cdev, so it outlives the driver's remove.
 * The lock order is in pci_user.h.  No lock is held across a user copy:
 * ioctl arguments, SET_IRQS data and config and region data go through
 * kernel copies, and iommufd pins a MAP's pages before it takes the
 * locks that detach needs, so a page fault stalled there does not hold
 * up remove.  ATTACH to an IOAS with no domain yet makes its automatic
 * HWPT under udev->lock, and that maps every lazily mapped page: those
 * are pinned first, before udev->lock (upci_attach_pin()).  Only a page
 * mapped between that pin and the attach is still pinned under the lock.
 */
#include <linux/cdev.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pci_user.h"
#include "iommufd_pci_kapi.h"
#include "compat.h"

static dev_t upci_devt;
static DEFINE_IDA(upci_ids);

static void upci_dev_release(struct device *dev)
{
	struct upci_device *udev = container_of(dev, struct upci_device, dev);

	ida_free(&upci_ids, udev->index);
	upci_config_free(udev);
	pci_dev_put(udev->pdev);
	mutex_destroy(&udev->lock);
	kfree(udev);
}

/**
 * upci_mmio_set() - allow or stop BAR access
 * @udev: the device
 * @on: allow
 *
 * Stopping zaps every mapping of the file; an access already past its
 * check finishes first (it holds mmio_lock).
 */
void upci_mmio_set(struct upci_device *udev, bool on)
{
	lockdep_assert_held(&udev->lock);
	down_write(&udev->mmio_lock);
	udev->mmio_on = on;
	if (!on && udev->opener)
		unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
	up_write(&udev->mmio_lock);
}

/* ------------------------------------------------------------- binding */

/*
 * Leave the device as BIND found it: reset it if it can be (what the
 * user left running stops), then put back the config space saved then.
 */
static void upci_restore(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;

	lockdep_assert_held(&udev->lock);
	/* Gone (surprise removal): nothing to reset, reads would time out. */
	if (pci_dev_is_disconnected(pdev)) {
		kfree(udev->saved);
		udev->saved = NULL;
		return;
	}
	/*
	 * In remove the driver core holds the device lock already.  Else
	 * only a trylock: a remove waiting for udev->lock may hold it, and
	 * then the device is not reset (its config is still restored).
	 */
	pci_set_power_state(pdev, PCI_D0);	/* the user may have left D0 */
	if (udev->removed)
		__pci_reset_function_locked(pdev);
	else
		pci_try_reset_function(pdev);
	if (udev->saved && !pci_load_and_free_saved_state(pdev, &udev->saved))
		pci_restore_state(pdev);
	udev->saved = NULL;
}

/* Take everything away from the user and give the group back. */
static void upci_unbind(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	if (!udev->idev)
		return;
	upci_reset_list_del(udev);
	upci_irq_unbind(udev);		/* no handler signals from here on */
	upci_mmio_set(udev, false);	/* no MMIO from here on */
	pci_clear_master(udev->pdev);
	upci_restore(udev);
	upci_irq_quiesce(udev);
	iommufd_device_unbind(udev->idev);
	udev->idev = NULL;
	udev->ictx = NULL;
	udev->attached = false;
	upci_region_unmap_bars(udev);
	pci_release_regions(udev->pdev);
	pci_disable_device(udev->pdev);
	upci_config_unbind(udev);
	pci_info(udev->pdev, "iommufd-pci: unbound, IOMMU group back to the kernel\n");
}

/*
 * The ioctl handlers work on a kernel copy of the argument: upci_ioctl()
 * copies it in and out without udev->lock, so that no user page fault
 * (userfaultfd, FUSE) can hold the lock, and with it the driver's remove
 * (ATTACH's pinning excepted: see the top of this file).
 */
union upci_arg {
	struct iommufd_pci_bind bind;
	struct iommufd_pci_attach attach;
	struct iommufd_pci_detach detach;
	struct iommufd_pci_device_info info;
	struct upci_region_info_caps region;
	struct iommufd_pci_irq_info irq_info;
	struct iommufd_pci_irq_set irq_set;	/* its data apart */
	struct iommufd_pci_hot_reset_info hot_reset_info; /* devices apart */
	struct iommufd_pci_hot_reset hot_reset;	/* its fds apart */
	struct iommufd_pci_device_feature feature;
};

/* Bound: the device's resources are the user's, seen through its view. */
static int upci_enable(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;
	int rc;

	lockdep_assert_held(&udev->lock);
	rc = pci_enable_device(pdev);
	if (rc)
		return rc;
	pci_clear_master(pdev);
	upci_irq_quiesce(udev);		/* enabling turned INTx on */
	rc = pci_request_regions(pdev, "iommufd-pci");
	if (rc)
		goto err_disable;
	rc = upci_region_map_bars(udev);
	if (rc)
		goto err_release;
	pci_save_state(pdev);
	udev->saved = pci_store_saved_state(pdev);
	upci_config_bind(udev);
	return 0;

err_release:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
	return rc;
}

static int upci_bind(struct upci_device *udev, struct iommufd_pci_bind *bind)
{
	struct iommufd_device *idev;
	struct iommufd_ctx *ictx;
	int rc;

	lockdep_assert_held(&udev->lock);
	/* One binding per device, as VFIO's cdev: EINVAL for a second. */
	if (bind->flags || udev->idev)
		return -EINVAL;

	ictx = iommufd_ctx_from_fd(bind->iommufd);
	if (IS_ERR(ictx))
		return PTR_ERR(ictx);
	/* From here the whole group is ours and its DMA blocked. */
	idev = iommufd_device_bind_dev(ictx, &udev->pdev->dev, &bind->out_devid);
	if (IS_ERR(idev)) {
		iommufd_ctx_put(ictx);
		return PTR_ERR(idev);
	}
	rc = upci_enable(udev);
	if (rc) {
		iommufd_device_unbind(idev);
		iommufd_ctx_put(ictx);
		return rc;
	}
	udev->idev = idev;
	/* The bound device holds the iommufd file: the pointer stays good. */
	udev->ictx = ictx;
	iommufd_ctx_put(ictx);
	udev->dev_id = bind->out_devid;
	upci_mmio_set(udev, true);
	upci_reset_list_add(udev);
	pci_info(udev->pdev, "iommufd-pci: bound as device %u\n", udev->dev_id);
	return 0;
}

static int upci_attach(struct upci_device *udev,
		       struct iommufd_pci_attach *attach)
{
	int rc;

	lockdep_assert_held(&udev->lock);
	if (attach->flags || !udev->idev)
		return -EINVAL;
	if (udev->attached)
		rc = iommufd_device_replace(udev->idev, &attach->pt_id);
	else
		rc = iommufd_device_attach(udev->idev, &attach->pt_id);
	if (rc)
		return rc;
	udev->attached = true;
	return 0;
}

static int upci_detach(struct upci_device *udev,
		       struct iommufd_pci_detach *detach)
{
	lockdep_assert_held(&udev->lock);
	if (detach->flags || !udev->attached)
		return -EINVAL;
	iommufd_device_detach(udev->idev);
	udev->attached = false;
	return 0;
}

/*
 * ATTACH's first domain pins what the IOAS maps: pin it now, before
 * udev->lock, so that a pin waiting on a user's page fault holds up only
 * this call, not remove, AER or hot reset.  NULL when there is nothing
 * to pin or the locked call will refuse anyway; released, after the
 * lock, by iommufd_attach_unpin().
 */
static struct iommufd_attach_pins *
upci_attach_pin(struct upci_device *udev, struct iommufd_pci_attach *attach)
{
	struct iommufd_attach_pins *pins;
	struct iommufd_ctx *ictx = NULL;

	if (attach->flags)
		return NULL;
	mutex_lock(&udev->lock);
	if (!udev->removed && udev->idev) {
		ictx = udev->ictx;
		iommufd_ctx_get(ictx);
	}
	mutex_unlock(&udev->lock);
	if (!ictx)
		return NULL;
	pins = iommufd_attach_pin(ictx, attach->pt_id);
	iommufd_ctx_put(ictx);
	return pins;
}

/*
 * The answer to a BIND or ATTACH could not be copied out: undo it, as
 * VFIO does (the caller cannot know what it got), if it still stands.
 */
static void upci_undo(struct upci_device *udev, unsigned int cmd,
		      union upci_arg *arg)
{
	mutex_lock(&udev->lock);
	if (cmd == IOMMUFD_PCI_BIND && udev->idev &&
	    udev->dev_id == arg->bind.out_devid) {
		upci_unbind(udev);
	} else if (cmd == IOMMUFD_PCI_ATTACH && udev->attached) {
		iommufd_device_detach(udev->idev);
		udev->attached = false;
	}
	mutex_unlock(&udev->lock);
}

/* ----------------------------------------------------------- information */

static int upci_get_info(struct upci_device *udev,
			 struct iommufd_pci_device_info *info)
{
	info->flags = IOMMUFD_PCI_INFO_FLAG_PCI;
	if (udev->pdev->reset_methods[0])
		info->flags |= IOMMUFD_PCI_INFO_FLAG_RESET;
	info->num_regions = IOMMUFD_PCI_NUM_REGIONS;
	info->num_irqs = IOMMUFD_PCI_NUM_IRQS;
	return 0;
}

/*
 * VFIO_DEVICE_FEATURE: no feature is supported (no migration, no DMA
 * logging, no low-power states), as VFIO answers for such a device: the
 * request is checked, then ENOTTY.
 */
static int upci_device_feature(struct upci_device *udev,
			       struct iommufd_pci_device_feature *feature)
{
	u32 ops = IOMMUFD_PCI_FEATURE_GET | IOMMUFD_PCI_FEATURE_SET |
		  IOMMUFD_PCI_FEATURE_PROBE;

	if (feature->flags & ~(IOMMUFD_PCI_FEATURE_MASK | ops))
		return -EINVAL;
	/* GET and SET together only with PROBE. */
	if (!(feature->flags & IOMMUFD_PCI_FEATURE_PROBE) &&
	    (feature->flags & IOMMUFD_PCI_FEATURE_GET) &&
	    (feature->flags & IOMMUFD_PCI_FEATURE_SET))
		return -EINVAL;
	return -ENOTTY;
}

/*
 * Bytes of @cmd's argument copied in (and out when *@out); 0: none.  An
 * argument shorter than this is refused (EINVAL), longer is fine.
 */
static unsigned long upci_arg_size(unsigned int cmd, bool *out)
{
	*out = true;
	switch (cmd) {
	case IOMMUFD_PCI_BIND:
		return offsetofend(struct iommufd_pci_bind, out_devid);
	case IOMMUFD_PCI_ATTACH:
		return offsetofend(struct iommufd_pci_attach, pt_id);
	case IOMMUFD_PCI_GET_INFO:
		return offsetofend(struct iommufd_pci_device_info, num_irqs);
	case IOMMUFD_PCI_GET_REGION_INFO:
		return offsetofend(struct iommufd_pci_region_info, offset);
	case IOMMUFD_PCI_GET_IRQ_INFO:
		return offsetofend(struct iommufd_pci_irq_info, count);
	case IOMMUFD_PCI_GET_HOT_RESET_INFO:
		return offsetofend(struct iommufd_pci_hot_reset_info, count);
	}
	*out = false;
	switch (cmd) {
	case IOMMUFD_PCI_DETACH:
		return offsetofend(struct iommufd_pci_detach, flags);
	case IOMMUFD_PCI_SET_IRQS:
		return offsetofend(struct iommufd_pci_irq_set, count);
	case IOMMUFD_PCI_HOT_RESET:
		return offsetofend(struct iommufd_pci_hot_reset, count);
	case IOMMUFD_PCI_DEVICE_FEATURE:
		return offsetofend(struct iommufd_pci_device_feature, flags);
	}
	return 0;
}

/* The commands that only answer questions, allowed before BIND. */
static bool upci_cmd_informs(unsigned int cmd)
{
	return cmd == IOMMUFD_PCI_BIND || cmd == IOMMUFD_PCI_GET_INFO ||
	       cmd == IOMMUFD_PCI_GET_REGION_INFO ||
	       cmd == IOMMUFD_PCI_GET_IRQ_INFO;
}

static long upci_ioctl_locked(struct upci_device *udev, unsigned int cmd,
			      union upci_arg *arg, void *data)
{
	lockdep_assert_held(&udev->lock);
	if (!udev->idev && !upci_cmd_informs(cmd))
		return -EINVAL;
	switch (cmd) {
	case IOMMUFD_PCI_BIND:
		return upci_bind(udev, &arg->bind);
	case IOMMUFD_PCI_ATTACH:
		return upci_attach(udev, &arg->attach);
	case IOMMUFD_PCI_DETACH:
		return upci_detach(udev, &arg->detach);
	case IOMMUFD_PCI_UNBIND:
		upci_unbind(udev);
		return 0;
	case IOMMUFD_PCI_GET_INFO:
		return upci_get_info(udev, &arg->info);
	case IOMMUFD_PCI_GET_REGION_INFO:
		return upci_region_info(udev, &arg->region);
	case IOMMUFD_PCI_GET_IRQ_INFO:
		return upci_get_irq_info(udev, &arg->irq_info);
	case IOMMUFD_PCI_SET_IRQS:
		return upci_set_irqs(udev, &arg->irq_set, data);
	case IOMMUFD_PCI_RESET:
		return upci_reset(udev);
	case IOMMUFD_PCI_DEVICE_FEATURE:
		return upci_device_feature(udev, &arg->feature);
	}
	return -ENOTTY;
}

/* SET_IRQS: check the header and copy the data that follows it in. */
static void *upci_set_irqs_data(struct upci_device *udev,
				struct iommufd_pci_irq_set *hdr,
				void __user *uarg)
{
	size_t size;
	int rc;

	rc = upci_set_irqs_data_size(udev, hdr, &size);
	if (rc)
		return ERR_PTR(rc);
	if (!size)
		return NULL;
	return iommufd_memdup_user(uarg + sizeof(*hdr), size);
}

/*
 * GET_REGION_INFO's capability goes after the structure when the caller
 * made room for it; else argsz says how much room it needs (as VFIO).
 * Returns the bytes to copy out.
 */
static unsigned long upci_region_info_out(struct upci_region_info_caps *r,
					  unsigned long size)
{
	if (!(r->info.flags & IOMMUFD_PCI_REGION_CAPS))
		return size;
	if (r->info.argsz < sizeof(*r)) {
		r->info.argsz = sizeof(*r);
		return size;
	}
	r->info.cap_offset = sizeof(r->info);
	return sizeof(*r);
}

static long upci_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct upci_device *udev = filp->private_data;
	struct iommufd_attach_pins *pins = NULL;
	void __user *uarg = (void __user *)arg;
	union upci_arg karg;
	void *data = NULL;
	unsigned long size;
	bool out;
	long rc;

	/* The hot reset ioctls copy their variable parts themselves. */
	if (cmd == IOMMUFD_PCI_GET_HOT_RESET_INFO)
		return upci_hot_reset_info(udev, uarg);
	if (cmd == IOMMUFD_PCI_HOT_RESET)
		return upci_hot_reset(udev, uarg);

	size = upci_arg_size(cmd, &out);
	/* Every argument starts with its argsz. */
	if (size && copy_from_user(&karg, uarg, size))
		return -EFAULT;
	if (size && karg.info.argsz < size)
		return -EINVAL;
	if (cmd == IOMMUFD_PCI_SET_IRQS) {
		data = upci_set_irqs_data(udev, &karg.irq_set, uarg);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}
	if (cmd == IOMMUFD_PCI_ATTACH) {
		pins = upci_attach_pin(udev, &karg.attach);
		if (IS_ERR(pins))
			return PTR_ERR(pins);
	}

	mutex_lock(&udev->lock);
	rc = udev->removed ? -ENODEV :
			     upci_ioctl_locked(udev, cmd, &karg, data);
	mutex_unlock(&udev->lock);
	kfree(data);
	iommufd_attach_unpin(pins);

	if (!rc && cmd == IOMMUFD_PCI_GET_REGION_INFO)
		size = upci_region_info_out(&karg.region, size);
	if (!rc && out && copy_to_user(uarg, &karg, size)) {
		upci_undo(udev, cmd, &karg);
		rc = -EFAULT;
	}
	return rc;
}

/* ------------------------------------------------------ read and write */

/*
 * Config space through a kernel copy, so that udev->lock is never held
 * across a user copy: a copy may fault, and faults take mmap_lock.
 */
static ssize_t upci_config_user_rw(struct upci_device *udev,
				   char __user *buf, size_t count, loff_t pos,
				   bool write)
{
	ssize_t rc;
	u8 *kbuf;

	if (pos >= udev->pdev->cfg_size)
		return -EINVAL;
	count = min_t(size_t, count, udev->pdev->cfg_size - pos);
	kbuf = write ? iommufd_memdup_user(buf, count) :
		       iommufd_kzalloc(count, GFP_KERNEL);
	if (IS_ERR_OR_NULL(kbuf))
		return kbuf ? PTR_ERR(kbuf) : -ENOMEM;

	mutex_lock(&udev->lock);
	if (udev->removed)
		rc = -ENODEV;
	else if (write && !udev->idev)
		rc = -EINVAL;	/* no config writes before bind */
	else
		rc = upci_config_rw(udev, kbuf, count, pos, write);
	mutex_unlock(&udev->lock);

	if (rc > 0 && !write && copy_to_user(buf, kbuf, rc))
		rc = -EFAULT;
	kfree(kbuf);
	return rc;
}

static ssize_t upci_rw(struct file *filp, char __user *buf, size_t count,
		       loff_t *ppos, bool write)
{
	struct upci_device *udev = filp->private_data;
	unsigned int index = *ppos >> IOMMUFD_PCI_REGION_SHIFT;
	loff_t pos = *ppos & UPCI_REGION_MASK;
	ssize_t rc;

	if (!count)
		return 0;
	if (index == IOMMUFD_PCI_CONFIG_REGION)
		rc = upci_config_user_rw(udev, buf, count, pos, write);
	else
		rc = upci_region_rw(udev, index, buf, count, pos, write);
	if (rc > 0)
		*ppos += rc;
	return rc;
}

static ssize_t upci_read(struct file *filp, char __user *buf, size_t count,
			 loff_t *ppos)
{
	return upci_rw(filp, buf, count, ppos, false);
}

static ssize_t upci_write(struct file *filp, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	return upci_rw(filp, (char __user *)buf, count, ppos, true);
}

static int upci_mmap(struct file *filp, struct vm_area_struct *vma)
{
	return upci_region_mmap(filp->private_data, vma);
}

/* ------------------------------------------------------- open / release */

static int upci_open(struct inode *inode, struct file *filp)
{
	struct upci_device *udev = container_of(inode->i_cdev,
						struct upci_device, cdev);
	int rc = 0;

	mutex_lock(&udev->lock);
	if (udev->removed)
		rc = -ENODEV;
	else if (udev->opener)
		rc = -EBUSY;	/* one user at a time */
	if (!rc) {
		/* The file keeps udev alive through the cdev. */
		udev->opener = filp;
		filp->private_data = udev;
	}
	mutex_unlock(&udev->lock);
	return rc;
}

static int upci_release(struct inode *inode, struct file *filp)
{
	struct upci_device *udev = filp->private_data;

	mutex_lock(&udev->lock);
	upci_unbind(udev);
	udev->opener = NULL;
	mutex_unlock(&udev->lock);
	wake_up(&udev->released);	/* a remove may be waiting for it */
	return 0;
}

static const struct file_operations upci_fops = {
	.owner = THIS_MODULE,
	.open = upci_open,
	.release = upci_release,
	.unlocked_ioctl = upci_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = upci_read,
	.write = upci_write,
	.mmap = upci_mmap,
	.llseek = generic_file_llseek,
};

/**
 * iommufd_pci_file_is_device() - is @file one of this driver's device files?
 * @file: any open file
 *
 * For iommufd_kvm.ko, which tells KVM's VFIO pseudo device which files are
 * VFIO device files.  @file's f_op is only compared, never called.
 *
 * Return: true for an open /dev/vfio/devices/vfioN of this driver.
 */
bool iommufd_pci_file_is_device(struct file *file)
{
	return file->f_op == &upci_fops;
}
EXPORT_SYMBOL_NS_GPL(iommufd_pci_file_is_device, IOMMUFD);

/**
 * iommufd_pci_file_enforced_coherent() - is DMA of @file's device coherent?
 * @file: an open file
 *
 * Whether the IOMMU domains the device's DMA can go through enforce cache
 * coherency (no-snoop DMA snoops anyway), as found when the driver took
 * the device: KVM then need not honour the guest's cache flushes.
 *
 * Return: that answer for a device file of this driver; false for any
 * other file.
 */
bool iommufd_pci_file_enforced_coherent(struct file *file)
{
	struct upci_device *udev;

	if (!iommufd_pci_file_is_device(file))
		return false;
	/* Set by open, constant while the file is open. */
	udev = file->private_data;
	return udev->enforced_coherent;
}
EXPORT_SYMBOL_NS_GPL(iommufd_pci_file_enforced_coherent, IOMMUFD);

/* ------------------------------------------------------------ the names */

/* /dev/vfio/devices/vfioN, root's alone (0600), as upstream's. */
static char *upci_devnode(COMPAT_DEVNODE_CONST struct device *dev, umode_t *mode, kuid_t *uid,
			  kgid_t *gid)
{
	/*
	 * Not a fault point: the driver core calls this, and a NULL only
	 * makes it fall back to the plain name; no error path of ours.
	 */
	return kasprintf(GFP_KERNEL, "vfio/devices/%s", dev_name(dev));
}

static const struct device_type upci_dev_type = {
	.name = "vfio-dev",
	.devnode = upci_devnode,
};

static void upci_dir_release(struct device *dir)
{
	kfree(dir);
}

/*
 * The sysfs directory <PCI device>/vfio-dev that holds vfioN.  Upstream it
 * is the directory of the "vfio-dev" class; that class belongs to the
 * kernel's vfio module (loaded or not, its name is taken), so here it is
 * a plain device of that name under the PCI device.
 */
static struct device *upci_dir_add(struct pci_dev *pdev)
{
	struct device *dir = iommufd_kzalloc(sizeof(*dir), GFP_KERNEL);
	int rc;

	if (!dir)
		return ERR_PTR(-ENOMEM);
	device_initialize(dir);
	dir->parent = &pdev->dev;
	dir->release = upci_dir_release;
	rc = dev_set_name(dir, "vfio-dev");
	if (!rc)
		rc = device_add(dir);
	if (rc) {
		put_device(dir);
		return ERR_PTR(rc);
	}
	return dir;
}

/* ------------------------------------------------------------ the driver */

static struct upci_device *upci_alloc(struct pci_dev *pdev)
{
	struct upci_device *udev;
	int rc;

	udev = iommufd_kzalloc(sizeof(*udev), GFP_KERNEL);
	if (!udev)
		return ERR_PTR(-ENOMEM);
	udev->pdev = pci_dev_get(pdev);
	mutex_init(&udev->lock);
	init_rwsem(&udev->mmio_lock);
	INIT_LIST_HEAD(&udev->node);
	upci_region_init(udev);
	rc = upci_config_init(udev);
	if (rc)
		goto err_free;
	udev->index = iommufd_should_fail() ? -ENOMEM :
		      ida_alloc_max(&upci_ids, UPCI_MAX_DEVICES - 1,
				    GFP_KERNEL);
	if (udev->index < 0) {
		rc = udev->index;
		goto err_config;
	}
	upci_irq_init(udev);
	return udev;

err_config:
	upci_config_free(udev);
err_free:
	pci_dev_put(pdev);
	kfree(udev);
	return ERR_PTR(rc);
}

static int upci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct upci_device *udev;
	int rc;

	/* Bridges route other devices' traffic: not for userspace. */
	if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL) {
		pci_info(pdev, "iommufd-pci: not an endpoint (header type %u), refused\n",
			 pdev->hdr_type);
		return -EINVAL;
	}
	udev = upci_alloc(pdev);
	if (IS_ERR(udev))
		return PTR_ERR(udev);
	udev->enforced_coherent = iommufd_device_enforces_cc(&pdev->dev);
	/* From here the device's release frees everything. */
	device_initialize(&udev->dev);
	udev->dev.type = &upci_dev_type;
	udev->dev.devt = MKDEV(MAJOR(upci_devt), udev->index);
	udev->dev.release = upci_dev_release;
	rc = dev_set_name(&udev->dev, "vfio%d", udev->index);
	if (rc)
		goto err_put;
	udev->dir = upci_dir_add(pdev);
	if (IS_ERR(udev->dir)) {
		rc = PTR_ERR(udev->dir);
		goto err_put;
	}
	udev->dev.parent = udev->dir;
	cdev_init(&udev->cdev, &upci_fops);
	udev->cdev.owner = THIS_MODULE;
	rc = cdev_device_add(&udev->cdev, &udev->dev);
	if (rc)
		goto err_dir;
	pci_set_drvdata(pdev, udev);
	return 0;

err_dir:
	device_unregister(udev->dir);
err_put:
	put_device(&udev->dev);
	return rc;
}

static void upci_remove(struct pci_dev *pdev)
{
	struct upci_device *udev = pci_get_drvdata(pdev);
	struct device *dir = udev->dir;

	/* Ask the user to let go first, as VFIO does, for a while. */
	upci_irq_request_release(udev);
	mutex_lock(&udev->lock);
	udev->removed = true;
	upci_unbind(udev);
	mutex_unlock(&udev->lock);
	cdev_device_del(&udev->cdev, &udev->dev);
	device_unregister(dir);
	/* Open files keep it (through the cdev) until they are closed. */
	put_device(&udev->dev);
}

static const struct pci_error_handlers upci_err_handlers = {
	.error_detected = upci_irq_error_detected,
};

static struct pci_driver upci_driver;

/**
 * upci_is_ours() - is @pdev bound to this driver?
 * @pdev: a PCI device
 *
 * Return: true when it is (a snapshot: binding can change after).
 */
bool upci_is_ours(struct pci_dev *pdev)
{
	return READ_ONCE(pdev->driver) == &upci_driver;
}

static struct pci_driver upci_driver = {
	.name = "iommufd-pci",
	.id_table = NULL,	/* bound through driver_override only */
	.probe = upci_probe,
	.remove = upci_remove,
	.err_handler = &upci_err_handlers,
	.driver_managed_dma = true,
};

static int __init upci_init(void)
{
	int rc;

	rc = alloc_chrdev_region(&upci_devt, 0, UPCI_MAX_DEVICES, "vfio-dev");
	if (rc)
		return rc;
	rc = pci_register_driver(&upci_driver);
	if (rc)
		unregister_chrdev_region(upci_devt, UPCI_MAX_DEVICES);
	return rc;
}

static void __exit upci_exit(void)
{
	pci_unregister_driver(&upci_driver);
	unregister_chrdev_region(upci_devt, UPCI_MAX_DEVICES);
}

module_init(upci_init);
module_exit(upci_exit);

MODULE_DESCRIPTION("iommufd-pci: PCI devices for userspace through /dev/iommu, as VFIO device cdevs");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IOMMUFD);
