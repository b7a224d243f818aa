// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci: give a PCI device to userspace through /dev/iommu.
 *
 * A device is bound to this driver by the administrator (driver_override,
 * then drivers_probe).  Each bound device gets /dev/iommufd-pci/<BDF>, one
 * opener at a time.  Until the opener binds the device to an iommufd --
 * which claims the whole IOMMU group and blocks its DMA -- the file gives
 * information only: no MMIO mapping, no config writes, so no bus
 * mastering.  Unbinding (the ioctl, closing the file, or removing the
 * driver) first revokes every MMIO mapping and turns bus mastering off.
 *
 * The driver does not use the DMA API (driver_managed_dma), so binding it
 * does not by itself take the group from the kernel: only BIND does.
 */
#include <linux/cdev.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iommufd.h"
#include "uapi/linux/iommufd_pci.h"

#define UPCI_MAX_DEVICES 256
#define UPCI_REGION_MASK (IOMMUFD_PCI_REGION_OFFSET(1) - 1)

struct upci_device {
	struct kref kref;
	struct pci_dev *pdev;
	struct cdev cdev;
	struct device *node;
	int minor;
	struct mutex lock;		/* everything below */
	bool removed;
	struct file *opener;
	struct iommufd_device *idev;	/* non-NULL while bound */
	u32 dev_id;
	bool attached;
};

static dev_t upci_devt;
static struct class *upci_class;
static DEFINE_IDA(upci_minors);

static void upci_free(struct kref *kref)
{
	struct upci_device *udev = container_of(kref, struct upci_device, kref);

	ida_free(&upci_minors, udev->minor);
	pci_dev_put(udev->pdev);
	mutex_destroy(&udev->lock);
	kfree(udev);
}

/* ------------------------------------------------------------- binding */

/* Take everything away from the user and give the group back. */
static void upci_unbind(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	if (!udev->idev)
		return;
	/* No MMIO from here on: every mapping of the file is zapped. */
	unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
	pci_clear_master(udev->pdev);
	iommufd_device_unbind(udev->idev);
	udev->idev = NULL;
	udev->attached = false;
	pci_release_regions(udev->pdev);
	pci_disable_device(udev->pdev);
	pci_info(udev->pdev, "iommufd-pci: unbound, IOMMU group back to the kernel\n");
}

static int upci_bind(struct upci_device *udev, void __user *arg)
{
	struct iommufd_pci_bind bind;
	struct iommufd_device *idev;
	struct iommufd_ctx *ictx;
	unsigned long minsz = offsetofend(struct iommufd_pci_bind, out_devid);
	int rc;

	if (copy_from_user(&bind, arg, minsz))
		return -EFAULT;
	if (bind.argsz < minsz || bind.flags)
		return -EINVAL;
	if (udev->idev)
		return -EBUSY;

	ictx = iommufd_ctx_from_fd(bind.iommufd);
	if (IS_ERR(ictx))
		return PTR_ERR(ictx);
	/* From here the whole group is ours and its DMA blocked. */
	idev = iommufd_device_bind_dev(ictx, &udev->pdev->dev, &bind.out_devid);
	iommufd_ctx_put(ictx);
	if (IS_ERR(idev))
		return PTR_ERR(idev);

	rc = pci_enable_device(udev->pdev);
	if (rc)
		goto err_unbind;
	pci_clear_master(udev->pdev);
	rc = pci_request_regions(udev->pdev, "iommufd-pci");
	if (rc)
		goto err_disable;
	if (copy_to_user(arg, &bind, minsz)) {
		rc = -EFAULT;
		goto err_release;
	}
	udev->idev = idev;
	udev->dev_id = bind.out_devid;
	pci_info(udev->pdev, "iommufd-pci: bound as device %u\n", udev->dev_id);
	return 0;

err_release:
	pci_release_regions(udev->pdev);
err_disable:
	pci_disable_device(udev->pdev);
err_unbind:
	iommufd_device_unbind(idev);
	return rc;
}

static int upci_attach(struct upci_device *udev, void __user *arg)
{
	struct iommufd_pci_attach attach;
	unsigned long minsz = offsetofend(struct iommufd_pci_attach, pt_id);
	int rc;

	if (copy_from_user(&attach, arg, minsz))
		return -EFAULT;
	if (attach.argsz < minsz || attach.flags || !udev->idev)
		return -EINVAL;
	if (udev->attached)
		rc = iommufd_device_replace(udev->idev, &attach.pt_id);
	else
		rc = iommufd_device_attach(udev->idev, &attach.pt_id);
	if (rc)
		return rc;
	udev->attached = true;
	if (copy_to_user(arg, &attach, minsz))
		return -EFAULT;
	return 0;
}

static int upci_detach(struct upci_device *udev, void __user *arg)
{
	struct iommufd_pci_detach detach;
	unsigned long minsz = offsetofend(struct iommufd_pci_detach, flags);

	if (copy_from_user(&detach, arg, minsz))
		return -EFAULT;
	if (detach.argsz < minsz || detach.flags || !udev->attached)
		return -EINVAL;
	iommufd_device_detach(udev->idev);
	udev->attached = false;
	return 0;
}

/* ----------------------------------------------------------- information */

static int upci_get_info(struct upci_device *udev, void __user *arg)
{
	struct iommufd_pci_device_info info;
	unsigned long minsz = offsetofend(struct iommufd_pci_device_info,
					  num_irqs);

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = IOMMUFD_PCI_INFO_FLAG_PCI;
	if (udev->pdev->reset_methods[0])
		info.flags |= IOMMUFD_PCI_INFO_FLAG_RESET;
	info.num_regions = IOMMUFD_PCI_NUM_REGIONS;
	info.num_irqs = 0;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static bool upci_bar_mmapable(struct pci_dev *pdev, int bar)
{
	return (pci_resource_flags(pdev, bar) & IORESOURCE_MEM) &&
	       pci_resource_len(pdev, bar) >= PAGE_SIZE;
}

static int upci_get_region_info(struct upci_device *udev, void __user *arg)
{
	struct iommufd_pci_region_info info;
	unsigned long minsz = offsetofend(struct iommufd_pci_region_info,
					  offset);
	struct pci_dev *pdev = udev->pdev;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= IOMMUFD_PCI_NUM_REGIONS)
		return -EINVAL;
	info.offset = IOMMUFD_PCI_REGION_OFFSET(info.index);
	info.cap_offset = 0;
	info.size = 0;
	info.flags = 0;
	if (info.index <= IOMMUFD_PCI_BAR5_REGION) {
		info.size = pci_resource_len(pdev, info.index);
		if (info.size && upci_bar_mmapable(pdev, info.index))
			info.flags = IOMMUFD_PCI_REGION_MMAP;
	} else if (info.index == IOMMUFD_PCI_CONFIG_REGION) {
		info.size = pdev->cfg_size;
		info.flags = IOMMUFD_PCI_REGION_READ | IOMMUFD_PCI_REGION_WRITE;
	}
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static int upci_reset(struct upci_device *udev)
{
	if (!udev->idev)
		return -EINVAL;
	return pci_try_reset_function(udev->pdev);
}

static long upci_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct upci_device *udev = filp->private_data;
	void __user *uarg = (void __user *)arg;
	long rc;

	mutex_lock(&udev->lock);
	if (udev->removed) {
		rc = -ENODEV;
		goto out;
	}
	switch (cmd) {
	case IOMMUFD_PCI_BIND:
		rc = upci_bind(udev, uarg);
		break;
	case IOMMUFD_PCI_ATTACH:
		rc = upci_attach(udev, uarg);
		break;
	case IOMMUFD_PCI_DETACH:
		rc = upci_detach(udev, uarg);
		break;
	case IOMMUFD_PCI_UNBIND:
		rc = udev->idev ? 0 : -EINVAL;
		upci_unbind(udev);
		break;
	case IOMMUFD_PCI_GET_INFO:
		rc = upci_get_info(udev, uarg);
		break;
	case IOMMUFD_PCI_GET_REGION_INFO:
		rc = upci_get_region_info(udev, uarg);
		break;
	case IOMMUFD_PCI_RESET:
		rc = upci_reset(udev);
		break;
	default:
		rc = -ENOTTY;
	}
out:
	mutex_unlock(&udev->lock);
	return rc;
}

/* --------------------------------------------------------- config space */

static ssize_t upci_config_rw(struct upci_device *udev, char __user *buf,
			      size_t count, loff_t pos, bool write)
{
	struct pci_dev *pdev = udev->pdev;
	size_t done = 0;

	if (write && !udev->idev)
		return -EINVAL;
	if (pos >= pdev->cfg_size)
		return 0;
	count = min_t(size_t, count, pdev->cfg_size - pos);
	while (done < count) {
		size_t n = (pos % 4 == 0 && count - done >= 4) ? 4 :
			   (pos % 2 == 0 && count - done >= 2) ? 2 : 1;
		u32 val = 0;
		int rc;

		if (write && copy_from_user(&val, buf + done, n))
			return -EFAULT;
		if (n == 4)
			rc = write ? pci_user_write_config_dword(pdev, pos, val) :
				     pci_user_read_config_dword(pdev, pos, &val);
		else if (n == 2)
			rc = write ? pci_user_write_config_word(pdev, pos, val) :
				     pci_user_read_config_word(pdev, pos,
							       (u16 *)&val);
		else
			rc = write ? pci_user_write_config_byte(pdev, pos, val) :
				     pci_user_read_config_byte(pdev, pos,
							       (u8 *)&val);
		if (rc)
			return done ? done : pcibios_err_to_errno(rc);
		if (!write && copy_to_user(buf + done, &val, n))
			return -EFAULT;
		done += n;
		pos += n;
	}
	return done;
}

static ssize_t upci_rw(struct file *filp, char __user *buf, size_t count,
		       loff_t *ppos, bool write)
{
	struct upci_device *udev = filp->private_data;
	unsigned int index = *ppos >> IOMMUFD_PCI_REGION_SHIFT;
	ssize_t rc;

	if (index != IOMMUFD_PCI_CONFIG_REGION)
		return -EINVAL;	/* BARs are reached through mmap */
	mutex_lock(&udev->lock);
	if (udev->removed)
		rc = -ENODEV;
	else
		rc = upci_config_rw(udev, buf, count,
				    *ppos & UPCI_REGION_MASK, write);
	mutex_unlock(&udev->lock);
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

/* ----------------------------------------------------------------- mmap */

static int upci_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct upci_device *udev = filp->private_data;
	unsigned int index = vma->vm_pgoff >>
			     (IOMMUFD_PCI_REGION_SHIFT - PAGE_SHIFT);
	u64 offset = (vma->vm_pgoff << PAGE_SHIFT) & UPCI_REGION_MASK;
	u64 size = vma->vm_end - vma->vm_start;
	struct pci_dev *pdev = udev->pdev;
	int rc = -EINVAL;

	mutex_lock(&udev->lock);
	/* Before bind the group is not safe yet: no MMIO. */
	if (udev->removed || !udev->idev)
		goto out;
	if (index > IOMMUFD_PCI_BAR5_REGION || !upci_bar_mmapable(pdev, index))
		goto out;
	if (!(vma->vm_flags & VM_SHARED) ||
	    offset + size > pci_resource_len(pdev, index))
		goto out;
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	rc = io_remap_pfn_range(vma, vma->vm_start,
				(pci_resource_start(pdev, index) + offset) >>
				PAGE_SHIFT, size, vma->vm_page_prot);
out:
	mutex_unlock(&udev->lock);
	return rc;
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
		udev->opener = filp;
		kref_get(&udev->kref);
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
	kref_put(&udev->kref, upci_free);
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

/* ------------------------------------------------------------ the driver */

static int upci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct upci_device *udev;
	int rc;

	udev = kzalloc(sizeof(*udev), GFP_KERNEL);
	if (!udev)
		return -ENOMEM;
	kref_init(&udev->kref);
	mutex_init(&udev->lock);
	udev->pdev = pci_dev_get(pdev);
	udev->minor = ida_alloc_max(&upci_minors, UPCI_MAX_DEVICES - 1,
				    GFP_KERNEL);
	if (udev->minor < 0) {
		rc = udev->minor;
		pci_dev_put(pdev);
		kfree(udev);
		return rc;
	}
	cdev_init(&udev->cdev, &upci_fops);
	udev->cdev.owner = THIS_MODULE;
	rc = cdev_add(&udev->cdev, MKDEV(MAJOR(upci_devt), udev->minor), 1);
	if (rc)
		goto err_put;
	udev->node = device_create(upci_class, &pdev->dev,
				   MKDEV(MAJOR(upci_devt), udev->minor), udev,
				   "iommufd-pci!%s", pci_name(pdev));
	if (IS_ERR(udev->node)) {
		rc = PTR_ERR(udev->node);
		goto err_cdev;
	}
	pci_set_drvdata(pdev, udev);
	return 0;

err_cdev:
	cdev_del(&udev->cdev);
err_put:
	kref_put(&udev->kref, upci_free);
	return rc;
}

static void upci_remove(struct pci_dev *pdev)
{
	struct upci_device *udev = pci_get_drvdata(pdev);

	mutex_lock(&udev->lock);
	udev->removed = true;
	upci_unbind(udev);
	mutex_unlock(&udev->lock);
	device_destroy(upci_class, MKDEV(MAJOR(upci_devt), udev->minor));
	cdev_del(&udev->cdev);
	kref_put(&udev->kref, upci_free);
}

static struct pci_driver upci_driver = {
	.name = "iommufd-pci",
	.id_table = NULL,	/* bound through driver_override only */
	.probe = upci_probe,
	.remove = upci_remove,
	.driver_managed_dma = true,
};

static int __init upci_init(void)
{
	int rc;

	rc = alloc_chrdev_region(&upci_devt, 0, UPCI_MAX_DEVICES,
				 "iommufd-pci");
	if (rc)
		return rc;
	upci_class = class_create(THIS_MODULE, "iommufd-pci");
	if (IS_ERR(upci_class)) {
		rc = PTR_ERR(upci_class);
		goto err_region;
	}
	rc = pci_register_driver(&upci_driver);
	if (rc)
		goto err_class;
	return 0;

err_class:
	class_destroy(upci_class);
err_region:
	unregister_chrdev_region(upci_devt, UPCI_MAX_DEVICES);
	return rc;
}

static void __exit upci_exit(void)
{
	pci_unregister_driver(&upci_driver);
	class_destroy(upci_class);
	unregister_chrdev_region(upci_devt, UPCI_MAX_DEVICES);
}

module_init(upci_init);
module_exit(upci_exit);

MODULE_DESCRIPTION("iommufd-pci: PCI devices for userspace through /dev/iommu");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IOMMUFD);
