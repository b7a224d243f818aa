// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci regions: the BARs and the expansion ROM, as VFIO-PCI shows
 * them -- their GET_REGION_INFO, read() and write() at the region offset,
 * and mmap() of memory BARs.
 *
 * Every access needs the device bound (the group's security context made)
 * and, for memory, its decode on in the user's view of the command
 * register: mmio_on and mem_on, both under mmio_lock, which unbind, reset
 * and a decode switched off take for writing after zapping every mapping.
 * So a BAR mapping is filled by faults only while both hold; read() and
 * write() get EINVAL unbound and EIO with the decode off, as under VFIO.
 *
 * read() and write() go through a kernel bounce buffer, a page at a time:
 * no user copy happens under mmio_lock, so a stalled page fault cannot
 * hold up an unbind.  The MSI-X table (and pending bits) of a BAR read as
 * all-ones and drop writes there: the kernel programs the table.  I/O-port
 * BARs are reached by read()/write() only.
 */
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pci_user.h"
#include "compat.h"

/* VFIO's region capability saying the MSI-X table may be mapped. */
#define UPCI_REGION_CAP_MSIX_MAPPABLE 3

/* ------------------------------------------------------------ the BARs */

/* Memory BARs answer while the user's decode is on and the device in D0-D2. */
static bool upci_mem_usable(struct upci_device *udev)
{
	lockdep_assert_held(&udev->mmio_lock);
	return udev->mem_on && udev->pdev->current_state < PCI_D3hot;
}

static bool upci_bar_is_mem(struct pci_dev *pdev, int bar)
{
	return pci_resource_flags(pdev, bar) & IORESOURCE_MEM;
}

/* Whole pages of MMIO that nothing else can share: mmap()able. */
static bool upci_bar_mmapable(struct pci_dev *pdev, int bar)
{
	return upci_bar_is_mem(pdev, bar) &&
	       pci_resource_len(pdev, bar) >= PAGE_SIZE &&
	       PAGE_ALIGNED(pci_resource_start(pdev, bar));
}

/**
 * upci_region_init() - where the MSI-X table is, to keep read()/write() off
 * @udev: the device, being probed
 */
void upci_region_init(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;
	u32 table;
	u16 flags;

	udev->msix_bar = -1;
	if (!pdev->msix_cap)
		return;
	pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, &flags);
	pci_read_config_dword(pdev, pdev->msix_cap + PCI_MSIX_TABLE, &table);
	udev->msix_bar = table & PCI_MSIX_TABLE_BIR;
	udev->msix_start = table & PCI_MSIX_TABLE_OFFSET;
	udev->msix_end = udev->msix_start +
			 ((flags & PCI_MSIX_FLAGS_QSIZE) + 1) * PCI_MSIX_ENTRY_SIZE;
}

/**
 * upci_region_map_bars() - map every BAR for read() and write()
 * @udev: the device, being bound (its regions requested)
 *
 * Return: 0 or -ENOMEM; on failure nothing stays mapped.
 */
int upci_region_map_bars(struct upci_device *udev)
{
	int bar;

	lockdep_assert_held(&udev->lock);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		if (!pci_resource_len(udev->pdev, bar))
			continue;
		udev->bar_io[bar] = iommufd_should_fail() ? NULL :
				    pci_iomap(udev->pdev, bar, 0);
		if (!udev->bar_io[bar]) {
			upci_region_unmap_bars(udev);
			return -ENOMEM;
		}
	}
	return 0;
}

/**
 * upci_region_unmap_bars() - undo upci_region_map_bars()
 * @udev: the device, being unbound (no access can be running: mmio_on
 *        is off)
 */
void upci_region_unmap_bars(struct upci_device *udev)
{
	int bar;

	lockdep_assert_held(&udev->lock);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		if (udev->bar_io[bar])
			pci_iounmap(udev->pdev, udev->bar_io[bar]);
		udev->bar_io[bar] = NULL;
	}
}

/* --------------------------------------------------------- region info */

static void upci_bar_info(struct upci_device *udev,
			  struct upci_region_info_caps *out)
{
	struct iommufd_pci_region_info *info = &out->info;
	struct pci_dev *pdev = udev->pdev;

	info->size = pci_resource_len(pdev, info->index);
	if (!info->size)
		return;
	info->flags = IOMMUFD_PCI_REGION_READ | IOMMUFD_PCI_REGION_WRITE;
	if (!upci_bar_mmapable(pdev, info->index))
		return;
	info->flags |= IOMMUFD_PCI_REGION_MMAP;
	/*
	 * The MSI-X table may be mapped with the rest: a user who rewrites
	 * it only loses its own interrupts under interrupt remapping, which
	 * BIND requires unless told to allow unsafe interrupts.
	 */
	if (udev->msix_bar == info->index) {
		out->cap.id = UPCI_REGION_CAP_MSIX_MAPPABLE;
		out->cap.version = 1;
		out->cap.next = 0;
		info->flags |= IOMMUFD_PCI_REGION_CAPS;
	}
}

/*
 * The ROM region: the size of its BAR.  Once bound, with the memory
 * decode on, the ROM is looked at: a BAR with no image answering in it
 * reports size 0 (before BIND the device is not touched).
 */
static void upci_rom_info(struct upci_device *udev,
			  struct iommufd_pci_region_info *info)
{
	struct pci_dev *pdev = udev->pdev;
	void __iomem *rom = NULL;
	size_t size;

	info->size = pci_resource_len(pdev, PCI_ROM_RESOURCE);
	if (!info->size)
		return;
	down_read(&udev->mmio_lock);
	if (udev->mmio_on && upci_mem_usable(udev)) {
		/* It enables the ROM's decode for as long as it maps. */
		rom = pci_map_rom(pdev, &size);
		if (rom)
			pci_unmap_rom(pdev, rom);
		else
			info->size = 0;
	}
	up_read(&udev->mmio_lock);
	if (info->size)
		info->flags = IOMMUFD_PCI_REGION_READ;
}

/**
 * upci_region_info() - GET_REGION_INFO
 * @udev: the device
 * @out: the request (@out->info.index in); the answer, and the capability
 *       that follows it when out->info.flags has IOMMUFD_PCI_REGION_CAPS
 *
 * Works before BIND: information only.  The caller places the capability
 * (or asks for room for it) as VFIO does.
 *
 * Return: 0, or -EINVAL for an index the device does not have (the VGA
 * region included: these devices have none).
 */
int upci_region_info(struct upci_device *udev,
		     struct upci_region_info_caps *out)
{
	struct iommufd_pci_region_info *info = &out->info;

	if (info->index >= IOMMUFD_PCI_NUM_REGIONS ||
	    info->index == IOMMUFD_PCI_VGA_REGION)
		return -EINVAL;
	info->offset = IOMMUFD_PCI_REGION_OFFSET(info->index);
	info->cap_offset = 0;
	info->size = 0;
	info->flags = 0;
	switch (info->index) {
	case IOMMUFD_PCI_CONFIG_REGION:
		info->size = udev->pdev->cfg_size;
		info->flags = IOMMUFD_PCI_REGION_READ |
			      IOMMUFD_PCI_REGION_WRITE;
		return 0;
	case IOMMUFD_PCI_ROM_REGION:
		upci_rom_info(udev, info);
		return 0;
	}
	upci_bar_info(udev, out);
	return 0;
}

/* ------------------------------------------------------ read and write */

/*
 * One access of @n bytes (1, 2, 4 or, on memory BARs, 8) at @io, little
 * endian in @buf, as the device sees it.
 */
static void upci_io_access(void __iomem *io, u8 *buf, int n, bool write)
{
	__le64 v64;
	__le32 v32;
	__le16 v16;

	switch (n) {
	case 8:
		if (write) {
			memcpy(&v64, buf, 8);
			writeq(le64_to_cpu(v64), io);
		} else {
			v64 = cpu_to_le64(readq(io));
			memcpy(buf, &v64, 8);
		}
		break;
	case 4:
		if (write) {
			memcpy(&v32, buf, 4);
			iowrite32(le32_to_cpu(v32), io);
		} else {
			v32 = cpu_to_le32(ioread32(io));
			memcpy(buf, &v32, 4);
		}
		break;
	case 2:
		if (write) {
			memcpy(&v16, buf, 2);
			iowrite16(le16_to_cpu(v16), io);
		} else {
			v16 = cpu_to_le16(ioread16(io));
			memcpy(buf, &v16, 2);
		}
		break;
	default:
		if (write)
			iowrite8(*buf, io);
		else
			*buf = ioread8(io);
	}
}

/* The largest naturally aligned access at @off that fits in @len. */
static int upci_access_size(u64 off, size_t len, bool mem)
{
	if (mem && len >= 8 && IS_ALIGNED(off, 8))
		return 8;
	if (len >= 4 && IS_ALIGNED(off, 4))
		return 4;
	if (len >= 2 && IS_ALIGNED(off, 2))
		return 2;
	return 1;
}

/*
 * [@off, @off + @len) of the region mapped at @io, skipping [@skip_start,
 * @skip_end) (all-ones to read, writes dropped).
 */
static void upci_io_rw(void __iomem *io, u8 *buf, u64 off, size_t len,
		       u64 skip_start, u64 skip_end, bool mem, bool write)
{
	while (len) {
		size_t room = off < skip_start ? skip_start - off :
			      off >= skip_end ? len : 0;
		int n;

		if (!room) {
			n = min_t(u64, len, skip_end - off);
			if (!write)
				memset(buf, 0xff, n);
		} else {
			n = upci_access_size(off, min(len, room), mem);
			upci_io_access(io + off, buf, n, write);
		}
		buf += n;
		off += n;
		len -= n;
	}
}

/* The BAR part of one bounce-buffer step; mmio_lock is held. */
static int upci_bar_rw(struct upci_device *udev, int bar, u8 *buf, u64 off,
		       size_t len, bool write)
{
	struct pci_dev *pdev = udev->pdev;
	bool mem = upci_bar_is_mem(pdev, bar);
	u64 skip_start = 0, skip_end = 0;

	lockdep_assert_held(&udev->mmio_lock);
	if (!udev->mmio_on)
		return -EINVAL;		/* not bound */
	if (mem && !upci_mem_usable(udev))
		return -EIO;		/* memory decode off */
	if (bar == udev->msix_bar) {
		skip_start = udev->msix_start;
		skip_end = udev->msix_end;
	}
	upci_io_rw(udev->bar_io[bar], buf, off, len, skip_start, skip_end,
		   mem, write);
	return 0;
}

/* The ROM part of one bounce-buffer step; mmio_lock is held. */
static int upci_rom_read(struct upci_device *udev, u8 *buf, u64 off,
			 size_t len)
{
	void __iomem *rom;
	size_t size;

	lockdep_assert_held(&udev->mmio_lock);
	if (!udev->mmio_on)
		return -EINVAL;
	if (!upci_mem_usable(udev))
		return -EIO;
	rom = pci_map_rom(udev->pdev, &size);
	if (!rom)
		return -EIO;
	/* Past the image, up to the end of the BAR: all-ones. */
	upci_io_rw(rom, buf, off, len, size, U64_MAX, false, false);
	pci_unmap_rom(udev->pdev, rom);
	return 0;
}

/*
 * The size of region @index as read() and write() see it, 0 when they
 * cannot reach it.
 */
static u64 upci_region_rw_size(struct upci_device *udev, unsigned int index,
			       bool write)
{
	if (index <= IOMMUFD_PCI_BAR5_REGION)
		return pci_resource_len(udev->pdev, index);
	if (index == IOMMUFD_PCI_ROM_REGION && !write)
		return pci_resource_len(udev->pdev, PCI_ROM_RESOURCE);
	return 0;
}

/**
 * upci_region_rw() - read() or write() on a BAR or the ROM
 * @udev: the device
 * @index: the region
 * @ubuf: the user's buffer
 * @count: its length
 * @pos: the offset in the region
 * @write: a write
 *
 * Goes a page at a time through a kernel buffer, mmio_lock held only
 * while the device is touched.
 *
 * Return: the bytes done, or (when nothing was done yet) -EINVAL before
 * BIND, for a region that cannot be read or written this way or an offset
 * past its end, -EIO with the memory decode off in the user's command
 * register, -EFAULT for a bad buffer.
 */
ssize_t upci_region_rw(struct upci_device *udev, unsigned int index,
		       char __user *ubuf, size_t count, u64 pos, bool write)
{
	u64 size = upci_region_rw_size(udev, index, write);
	ssize_t done = 0;
	u8 *kbuf;
	int rc = 0;

	if (pos >= size)
		return -EINVAL;
	count = min_t(u64, count, size - pos);
	kbuf = iommufd_kmalloc(min_t(size_t, count, PAGE_SIZE), GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	while (done < count) {
		size_t n = min_t(size_t, count - done, PAGE_SIZE);

		if (write && copy_from_user(kbuf, ubuf + done, n)) {
			rc = -EFAULT;
			break;
		}
		down_read(&udev->mmio_lock);
		if (index == IOMMUFD_PCI_ROM_REGION)
			rc = upci_rom_read(udev, kbuf, pos + done, n);
		else
			rc = upci_bar_rw(udev, index, kbuf, pos + done, n,
					 write);
		up_read(&udev->mmio_lock);
		if (rc)
			break;
		if (!write && copy_to_user(ubuf + done, kbuf, n)) {
			rc = -EFAULT;
			break;
		}
		done += n;
	}
	kfree(kbuf);
	return done ? done : rc;
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
	if (udev->mmio_on && upci_mem_usable(udev))
		ret = vmf_insert_pfn(vma, vmf->address,
				     upci_mmio_pfn(udev, vma, vmf->address));
	up_read(&udev->mmio_lock);
	return ret;
}

static const struct vm_operations_struct upci_mmio_ops = {
	.fault = upci_mmio_fault,
};

/**
 * upci_region_mmap() - mmap() of a memory BAR
 * @udev: the device
 * @vma: the new mapping (mmap_lock held)
 *
 * The mapping starts empty: pages come in on faults, only while the
 * device is bound and its memory decode on.
 *
 * Return: 0, or -EINVAL before BIND, for a region that cannot be mapped,
 * a range past its end or a private mapping.
 */
int upci_region_mmap(struct upci_device *udev, struct vm_area_struct *vma)
{
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
	compat_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_private_data = udev;
	vma->vm_ops = &upci_mmio_ops;	/* pages come in on faults */
	rc = 0;
out:
	up_read(&udev->mmio_lock);
	return rc;
}
