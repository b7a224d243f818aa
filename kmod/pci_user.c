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
 * driver) first revokes every MMIO mapping and turns bus mastering off,
 * then resets the function when it can and restores the config space
 * saved at BIND.
 *
 * The driver does not use the DMA API (driver_managed_dma), so binding it
 * does not by itself take the group from the kernel: only BIND does.
 *
 * BARs are mapped on demand: a fault inserts the page only while the
 * device is bound (mmio_on, under mmio_lock), so a mapping made at any
 * moment cannot outlive an unbind.  Config writes that would move the
 * device's decoding or break the platform's view of it (BARs, the ROM,
 * the memory/IO enables, power state, max payload size, ACS, SR-IOV) are
 * refused or left unchanged, as are the function-level reset bits.
 *
 * Interrupts (INTx, MSI, MSI-X; SET_IRQS with eventfds) live in
 * pci_irq.c.
 *
 * Lifetime: the upci_device is its /dev node's struct device; every open
 * file holds it through the cdev, so it outlives the driver's remove.
 * The lock order is in pci_user.h.  No lock is held across a user copy:
 * ioctl arguments, SET_IRQS data and config data go through kernel
 * copies, so a stalled page fault holds up nobody else.
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

static dev_t upci_devt;
static struct class *upci_class;
static DEFINE_IDA(upci_minors);

static void upci_dev_release(struct device *dev)
{
	struct upci_device *udev = container_of(dev, struct upci_device, dev);

	ida_free(&upci_minors, udev->minor);
	pci_dev_put(udev->pdev);
	mutex_destroy(&udev->lock);
	kfree(udev);
}

/* Allow or stop BAR faults; stopping zaps every mapping of the file. */
static void upci_mmio_set(struct upci_device *udev, bool on)
{
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
	upci_irq_disable(udev);		/* no handler signals from here on */
	upci_mmio_set(udev, false);	/* no MMIO from here on */
	pci_clear_master(udev->pdev);
	upci_restore(udev);
	upci_irq_quiesce(udev);
	iommufd_device_unbind(udev->idev);
	udev->idev = NULL;
	udev->attached = false;
	pci_release_regions(udev->pdev);
	pci_disable_device(udev->pdev);
	pci_info(udev->pdev, "iommufd-pci: unbound, IOMMU group back to the kernel\n");
}

/*
 * The ioctl handlers work on a kernel copy of the argument: upci_ioctl()
 * copies it in and out without udev->lock, so that no user page fault
 * (userfaultfd, FUSE) can hold the lock, and with it the driver's remove.
 */
union upci_arg {
	struct iommufd_pci_bind bind;
	struct iommufd_pci_attach attach;
	struct iommufd_pci_detach detach;
	struct iommufd_pci_device_info info;
	struct iommufd_pci_region_info region;
	struct iommufd_pci_irq_info irq_info;
	struct iommufd_pci_irq_set irq_set;	/* its data apart */
};

static int upci_bind(struct upci_device *udev, struct iommufd_pci_bind *bind)
{
	struct iommufd_device *idev;
	struct iommufd_ctx *ictx;
	int rc;

	if (bind->flags)
		return -EINVAL;
	if (udev->idev)
		return -EBUSY;

	ictx = iommufd_ctx_from_fd(bind->iommufd);
	if (IS_ERR(ictx))
		return PTR_ERR(ictx);
	/* From here the whole group is ours and its DMA blocked. */
	idev = iommufd_device_bind_dev(ictx, &udev->pdev->dev, &bind->out_devid);
	iommufd_ctx_put(ictx);
	if (IS_ERR(idev))
		return PTR_ERR(idev);

	rc = pci_enable_device(udev->pdev);
	if (rc)
		goto err_unbind;
	pci_clear_master(udev->pdev);
	upci_irq_quiesce(udev);		/* enabling turned INTx on */
	rc = pci_request_regions(udev->pdev, "iommufd-pci");
	if (rc)
		goto err_disable;
	pci_save_state(udev->pdev);
	udev->saved = pci_store_saved_state(udev->pdev);
	udev->idev = idev;
	udev->dev_id = bind->out_devid;
	upci_mmio_set(udev, true);
	pci_info(udev->pdev, "iommufd-pci: bound as device %u\n", udev->dev_id);
	return 0;

err_disable:
	pci_disable_device(udev->pdev);
err_unbind:
	iommufd_device_unbind(idev);
	return rc;
}

static int upci_attach(struct upci_device *udev,
		       struct iommufd_pci_attach *attach)
{
	int rc;

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
	if (detach->flags || !udev->attached)
		return -EINVAL;
	iommufd_device_detach(udev->idev);
	udev->attached = false;
	return 0;
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

static bool upci_bar_mmapable(struct pci_dev *pdev, int bar)
{
	return (pci_resource_flags(pdev, bar) & IORESOURCE_MEM) &&
	       pci_resource_len(pdev, bar) >= PAGE_SIZE;
}

static int upci_get_region_info(struct upci_device *udev,
				struct iommufd_pci_region_info *info)
{
	struct pci_dev *pdev = udev->pdev;

	if (info->index >= IOMMUFD_PCI_NUM_REGIONS)
		return -EINVAL;
	info->offset = IOMMUFD_PCI_REGION_OFFSET(info->index);
	info->cap_offset = 0;
	info->size = 0;
	info->flags = 0;
	if (info->index <= IOMMUFD_PCI_BAR5_REGION) {
		info->size = pci_resource_len(pdev, info->index);
		if (info->size && upci_bar_mmapable(pdev, info->index))
			info->flags = IOMMUFD_PCI_REGION_MMAP;
	} else if (info->index == IOMMUFD_PCI_CONFIG_REGION) {
		info->size = pdev->cfg_size;
		info->flags = IOMMUFD_PCI_REGION_READ |
			      IOMMUFD_PCI_REGION_WRITE;
	}
	return 0;
}

/* No BAR access while the device resets: faults wait, mappings refill. */
static int upci_reset(struct upci_device *udev)
{
	int rc;

	if (!udev->idev)
		return -EINVAL;
	down_write(&udev->mmio_lock);
	unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
	rc = pci_try_reset_function(udev->pdev);
	up_write(&udev->mmio_lock);
	/* The restored command register may have missed an INTx mask. */
	upci_irq_after_reset(udev);
	return rc;
}

/* Bytes of @cmd's argument copied in (and out when *@out); 0: none. */
static unsigned long upci_arg_size(unsigned int cmd, bool *out)
{
	*out = cmd != IOMMUFD_PCI_DETACH;
	switch (cmd) {
	case IOMMUFD_PCI_BIND:
		return offsetofend(struct iommufd_pci_bind, out_devid);
	case IOMMUFD_PCI_ATTACH:
		return offsetofend(struct iommufd_pci_attach, pt_id);
	case IOMMUFD_PCI_DETACH:
		return offsetofend(struct iommufd_pci_detach, flags);
	case IOMMUFD_PCI_GET_INFO:
		return offsetofend(struct iommufd_pci_device_info, num_irqs);
	case IOMMUFD_PCI_GET_REGION_INFO:
		return offsetofend(struct iommufd_pci_region_info, offset);
	case IOMMUFD_PCI_GET_IRQ_INFO:
		return offsetofend(struct iommufd_pci_irq_info, count);
	case IOMMUFD_PCI_SET_IRQS:
		*out = false;
		return offsetofend(struct iommufd_pci_irq_set, count);
	}
	*out = false;
	return 0;
}

static long upci_ioctl_locked(struct upci_device *udev, unsigned int cmd,
			      union upci_arg *arg, const void *data)
{
	long rc;

	switch (cmd) {
	case IOMMUFD_PCI_BIND:
		return upci_bind(udev, &arg->bind);
	case IOMMUFD_PCI_ATTACH:
		return upci_attach(udev, &arg->attach);
	case IOMMUFD_PCI_DETACH:
		return upci_detach(udev, &arg->detach);
	case IOMMUFD_PCI_UNBIND:
		rc = udev->idev ? 0 : -EINVAL;
		upci_unbind(udev);
		return rc;
	case IOMMUFD_PCI_GET_INFO:
		return upci_get_info(udev, &arg->info);
	case IOMMUFD_PCI_GET_REGION_INFO:
		return upci_get_region_info(udev, &arg->region);
	case IOMMUFD_PCI_GET_IRQ_INFO:
		return upci_get_irq_info(udev, &arg->irq_info);
	case IOMMUFD_PCI_SET_IRQS:
		return upci_set_irqs(udev, &arg->irq_set, data);
	case IOMMUFD_PCI_RESET:
		return upci_reset(udev);
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
	return memdup_user(uarg + sizeof(*hdr), size);
}

static long upci_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct upci_device *udev = filp->private_data;
	void __user *uarg = (void __user *)arg;
	union upci_arg karg;
	void *data = NULL;
	unsigned long size;
	bool out;
	long rc;

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

	mutex_lock(&udev->lock);
	rc = udev->removed ? -ENODEV :
			     upci_ioctl_locked(udev, cmd, &karg, data);
	mutex_unlock(&udev->lock);
	kfree(data);

	if (!rc && out && copy_to_user(uarg, &karg, size)) {
		upci_undo(udev, cmd, &karg);
		rc = -EFAULT;
	}
	return rc;
}

/* --------------------------------------------------------- config space */

static bool upci_overlaps(int pos, int n, int reg, int len)
{
	return reg && pos < reg + len && reg < pos + n;
}

/* May userspace write [pos, pos + n)? */
static bool upci_config_writable(struct upci_device *udev, int pos, int n)
{
	return !upci_overlaps(pos, n, PCI_BASE_ADDRESS_0, 24) &&
	       !upci_overlaps(pos, n, PCI_ROM_ADDRESS, 4) &&
	       !upci_overlaps(pos, n, udev->pm_ctrl, 2) &&
	       !upci_overlaps(pos, n, udev->af_ctrl, 1) &&
	       !upci_overlaps(pos, n, udev->acs, PCI_ACS_EGRESS_CTL_V) &&
	       !upci_overlaps(pos, n, udev->sriov, PCI_EXT_CAP_SRIOV_SIZEOF) &&
	       /* The kernel programs MSI and MSI-X (SET_IRQS). */
	       !upci_overlaps(pos, n, udev->msi, udev->msi_len) &&
	       !upci_overlaps(pos, n, udev->msix_ctrl, 2) &&
	       /* Resizable BAR: header, six (capability, control) pairs */
	       !upci_overlaps(pos, n, udev->rebar, 4 + 6 * 8);
}

/* Bits of the dword at @base (n bytes from @pos) a write must keep. */
static u32 upci_config_kept(struct upci_device *udev, int base)
{
	u32 kept = 0;

	if (base == (PCI_COMMAND & ~3))
		kept |= (PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
			 (upci_irq_owns_intx_disable(udev) ?
			  PCI_COMMAND_INTX_DISABLE : 0)) <<
			(8 * (PCI_COMMAND & 3));
	/* Payload size, phantom functions, and no FLR behind our back. */
	if (udev->exp_devctl && base == (udev->exp_devctl & ~3))
		kept |= (PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_PHANTOM |
			 PCI_EXP_DEVCTL_BCR_FLR) <<
			(8 * (udev->exp_devctl & 3));
	return kept;
}

/* The raw config write of @n bytes (1, 2 or 4) of @val at @pos. */
static int upci_config_write_raw(struct pci_dev *pdev, int pos, int n,
				 u32 val, bool user)
{
	if (n == 4)
		return user ? pci_user_write_config_dword(pdev, pos, val) :
			      pci_write_config_dword(pdev, pos, val);
	if (n == 2)
		return user ? pci_user_write_config_word(pdev, pos, val) :
			      pci_write_config_word(pdev, pos, val);
	return user ? pci_user_write_config_byte(pdev, pos, val) :
		      pci_write_config_byte(pdev, pos, val);
}

/*
 * Write @n bytes of @val at @pos but the @kept bits of their dword.  The
 * INTx handler may set INTX_DISABLE meanwhile: while INTx is enabled the
 * command register is read and written under intx_lock, with the
 * accessors that do not sleep.
 */
static int upci_config_write_keeping(struct upci_device *udev, int pos,
				     int n, u32 val, u32 kept)
{
	struct pci_dev *pdev = udev->pdev;
	int base = pos & ~3, shift = 8 * (pos & 3);
	u32 width = n == 4 ? ~0U : (1U << (8 * n)) - 1;
	bool atomic = base == (PCI_COMMAND & ~3) && upci_irq_intx_live(udev);
	unsigned long flags = 0;
	u32 cur;
	int rc;

	if (atomic) {
		spin_lock_irqsave(&udev->intx_lock, flags);
		rc = pci_read_config_dword(pdev, base, &cur);
	} else {
		rc = pci_user_read_config_dword(pdev, base, &cur);
	}
	if (!rc) {
		val = ((((val & width) << shift) & ~kept) | (cur & kept)) >>
		      shift;
		rc = upci_config_write_raw(pdev, pos, n, val, !atomic);
	}
	if (atomic)
		spin_unlock_irqrestore(&udev->intx_lock, flags);
	return rc;
}

/* Write @n bytes (1, 2 or 4, naturally aligned) of @val at @pos. */
static int upci_config_write(struct upci_device *udev, int pos, int n,
			     u32 val)
{
	int base = pos & ~3, shift = 8 * (pos & 3);
	u32 width = n == 4 ? ~0U : (1U << (8 * n)) - 1;
	u32 kept = upci_config_kept(udev, base) & (width << shift);
	int rc;

	if (!upci_config_writable(udev, pos, n))
		return -EPERM;
	if (kept)
		rc = upci_config_write_keeping(udev, pos, n, val, kept);
	else
		rc = upci_config_write_raw(udev->pdev, pos, n, val, true);
	return rc ? pcibios_err_to_errno(rc) : 0;
}

static int upci_config_read(struct upci_device *udev, int pos, int n,
			    u32 *val)
{
	struct pci_dev *pdev = udev->pdev;
	u16 v16;
	u8 v8;
	int rc;

	if (n == 4) {
		rc = pci_user_read_config_dword(pdev, pos, val);
	} else if (n == 2) {
		rc = pci_user_read_config_word(pdev, pos, &v16);
		*val = v16;
	} else {
		rc = pci_user_read_config_byte(pdev, pos, &v8);
		*val = v8;
	}
	return rc ? pcibios_err_to_errno(rc) : 0;
}

/*
 * Config space as a little-endian byte stream in @kbuf, in naturally
 * aligned accesses of up to 4 bytes.  Returns the bytes done.
 */
static ssize_t upci_config_rw(struct upci_device *udev, u8 *kbuf,
			      size_t count, int pos, bool write)
{
	size_t done = 0;

	lockdep_assert_held(&udev->lock);
	while (done < count) {
		int n = (pos % 4 == 0 && count - done >= 4) ? 4 :
			(pos % 2 == 0 && count - done >= 2) ? 2 : 1;
		__le32 le = 0;
		u32 val;
		int rc;

		if (write) {
			memcpy(&le, kbuf + done, n);
			rc = upci_config_write(udev, pos, n, le32_to_cpu(le));
		} else {
			rc = upci_config_read(udev, pos, n, &val);
			le = cpu_to_le32(val);
			memcpy(kbuf + done, &le, n);
		}
		if (rc)
			return done ? done : rc;
		done += n;
		pos += n;
	}
	return done;
}

/*
 * User data goes through a kernel copy, so that udev->lock is never held
 * across a user copy: a copy may fault, and faults take mmap_lock.
 */
static ssize_t upci_rw(struct file *filp, char __user *buf, size_t count,
		       loff_t *ppos, bool write)
{
	struct upci_device *udev = filp->private_data;
	unsigned int index = *ppos >> IOMMUFD_PCI_REGION_SHIFT;
	loff_t pos = *ppos & UPCI_REGION_MASK;
	ssize_t rc;
	u8 *kbuf;

	if (index != IOMMUFD_PCI_CONFIG_REGION)
		return -EINVAL;	/* BARs are reached through mmap */
	if (pos >= udev->pdev->cfg_size)
		return 0;
	count = min_t(size_t, count, udev->pdev->cfg_size - pos);
	kbuf = write ? memdup_user(buf, count) : kzalloc(count, GFP_KERNEL);
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

/* The pfn behind @addr of a BAR mapping. */
static unsigned long upci_mmio_pfn(struct upci_device *udev,
				   struct vm_area_struct *vma, unsigned long addr)
{
	unsigned int index = vma->vm_pgoff >>
			     (IOMMUFD_PCI_REGION_SHIFT - PAGE_SHIFT);
	u64 offset = ((vma->vm_pgoff << PAGE_SHIFT) & UPCI_REGION_MASK) +
		     (addr - vma->vm_start);

	return (pci_resource_start(udev->pdev, index) + offset) >> PAGE_SHIFT;
}

static vm_fault_t upci_mmio_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct upci_device *udev = vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	down_read(&udev->mmio_lock);
	if (udev->mmio_on)
		ret = vmf_insert_pfn(vma, vmf->address,
				     upci_mmio_pfn(udev, vma, vmf->address));
	up_read(&udev->mmio_lock);
	return ret;
}

static const struct vm_operations_struct upci_mmio_ops = {
	.fault = upci_mmio_fault,
};

static int upci_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct upci_device *udev = filp->private_data;
	unsigned int index = vma->vm_pgoff >>
			     (IOMMUFD_PCI_REGION_SHIFT - PAGE_SHIFT);
	u64 offset = (vma->vm_pgoff << PAGE_SHIFT) & UPCI_REGION_MASK;
	u64 size = vma->vm_end - vma->vm_start;
	struct pci_dev *pdev = udev->pdev;
	int rc = -EINVAL;

	/* Under mmap_lock: mmio_lock only, never udev->lock. */
	down_read(&udev->mmio_lock);
	/* Before bind the group is not safe yet: no MMIO. */
	if (!udev->mmio_on)
		goto out;
	if (index > IOMMUFD_PCI_BAR5_REGION || !upci_bar_mmapable(pdev, index))
		goto out;
	if (!(vma->vm_flags & VM_SHARED) ||
	    offset + size > pci_resource_len(pdev, index))
		goto out;
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_private_data = udev;
	vma->vm_ops = &upci_mmio_ops;	/* pages come in on faults */
	rc = 0;
out:
	up_read(&udev->mmio_lock);
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

/* Where the registers userspace may not write live on this device. */
static void upci_find_protected(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;

	int af = pci_find_capability(pdev, PCI_CAP_ID_AF);

	if (pdev->pm_cap)
		udev->pm_ctrl = pdev->pm_cap + PCI_PM_CTRL;
	if (af)
		udev->af_ctrl = af + PCI_AF_CTRL;	/* its FLR bit */
	if (pci_is_pcie(pdev))
		udev->exp_devctl = pci_pcie_cap(pdev) + PCI_EXP_DEVCTL;
	udev->acs = pci_find_ext_capability(pdev, PCI_EXT_CAP_ID_ACS);
	if (udev->acs)
		udev->acs += PCI_ACS_CAP;
	udev->sriov = pci_find_ext_capability(pdev, PCI_EXT_CAP_ID_SRIOV);
	udev->rebar = pci_find_ext_capability(pdev, PCI_EXT_CAP_ID_REBAR);
	if (pdev->msi_cap) {
		u16 flags;

		/* Flags, address (32 or 64 bits), data, then mask bits. */
		pci_read_config_word(pdev, pdev->msi_cap + PCI_MSI_FLAGS,
				     &flags);
		udev->msi = pdev->msi_cap + PCI_MSI_FLAGS;
		udev->msi_len = PCI_MSI_DATA_32 + 2 - PCI_MSI_FLAGS +
				(flags & PCI_MSI_FLAGS_64BIT ? 4 : 0) +
				(flags & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
	}
	if (pdev->msix_cap)
		udev->msix_ctrl = pdev->msix_cap + PCI_MSIX_FLAGS;
}

static int upci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct upci_device *udev;
	int minor, rc;

	/* Bridges route other devices' traffic: not for userspace. */
	if (pdev->hdr_type != PCI_HEADER_TYPE_NORMAL) {
		pci_info(pdev, "iommufd-pci: not an endpoint (header type %u), refused\n",
			 pdev->hdr_type);
		return -EINVAL;
	}
	minor = ida_alloc_max(&upci_minors, UPCI_MAX_DEVICES - 1, GFP_KERNEL);
	if (minor < 0)
		return minor;
	udev = kzalloc(sizeof(*udev), GFP_KERNEL);
	if (!udev) {
		ida_free(&upci_minors, minor);
		return -ENOMEM;
	}
	udev->minor = minor;
	udev->pdev = pci_dev_get(pdev);
	mutex_init(&udev->lock);
	init_rwsem(&udev->mmio_lock);
	upci_find_protected(udev);
	upci_irq_init(udev);
	/* From here the device's release frees everything. */
	device_initialize(&udev->dev);
	udev->dev.class = upci_class;
	udev->dev.parent = &pdev->dev;
	udev->dev.devt = MKDEV(MAJOR(upci_devt), minor);
	udev->dev.release = upci_dev_release;
	rc = dev_set_name(&udev->dev, "iommufd-pci!%s", pci_name(pdev));
	if (rc)
		goto err_put;
	cdev_init(&udev->cdev, &upci_fops);
	udev->cdev.owner = THIS_MODULE;
	rc = cdev_device_add(&udev->cdev, &udev->dev);
	if (rc)
		goto err_put;
	pci_set_drvdata(pdev, udev);
	return 0;

err_put:
	put_device(&udev->dev);
	return rc;
}

static void upci_remove(struct pci_dev *pdev)
{
	struct upci_device *udev = pci_get_drvdata(pdev);

	mutex_lock(&udev->lock);
	udev->removed = true;
	upci_unbind(udev);
	mutex_unlock(&udev->lock);
	cdev_device_del(&udev->cdev, &udev->dev);
	/* Open files keep it (through the cdev) until they are closed. */
	put_device(&udev->dev);
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
