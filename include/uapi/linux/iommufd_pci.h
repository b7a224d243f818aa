/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * iommufd-pci: the user API of the PCI user-device driver.
 *
 * A PCI device bound to the "iommufd-pci" driver (through driver_override)
 * gets a character device /dev/iommufd-pci/<domain:bus:dev.fn>.  Opening
 * it gives nothing but information; BIND gives the device to an iommufd,
 * which first makes the device's whole IOMMU group safe (its DMA blocked,
 * no kernel driver in it), and only then are MMIO mmap, config writes,
 * bus mastering and reset available.
 *
 * BIND, ATTACH and DETACH have the numbers and layouts of Linux's VFIO
 * device-cdev ioctls; GET_INFO, GET_REGION_INFO and RESET those of the
 * VFIO device ioctls, and regions are found at VFIO-PCI's offsets (region
 * index << 40; index 0-5 the BARs, 7 the config space).  UNBIND is ours;
 * closing the last reference to the file unbinds as well.
 *
 * Errors: EINVAL for anything but GET_INFO/GET_REGION_INFO/config reads
 * before BIND; EBUSY for BIND when the device is bound already or another
 * device of its IOMMU group is driven by a kernel driver (the kernel log
 * names it); EBADF when the fd given to BIND is not an iommufd.
 */
#ifndef _UAPI_IOMMUFD_PCI_H
#define _UAPI_IOMMUFD_PCI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOMMUFD_PCI_VFIO_TYPE (';')
#define IOMMUFD_PCI_VFIO_BASE 100

/* Give the device to the iommufd @iommufd; returns its id there. */
struct iommufd_pci_bind {
	__u32 argsz;
	__u32 flags;		/* must be 0 */
	__s32 iommufd;
	__u32 out_devid;
};
#define IOMMUFD_PCI_BIND _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 18)

/*
 * Point the device's DMA at an IOAS or HWPT (@pt_id in); @pt_id returns
 * the HWPT used.  On an attached device this replaces the attachment.
 */
struct iommufd_pci_attach {
	__u32 argsz;
	__u32 flags;		/* must be 0 */
	__u32 pt_id;
};
#define IOMMUFD_PCI_ATTACH _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 19)

/* Back to blocked DMA. */
struct iommufd_pci_detach {
	__u32 argsz;
	__u32 flags;		/* must be 0 */
};
#define IOMMUFD_PCI_DETACH _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 20)

struct iommufd_pci_device_info {
	__u32 argsz;
	__u32 flags;
	__u32 num_regions;
	__u32 num_irqs;
	__u32 cap_offset;
	__u32 pad;
};
#define IOMMUFD_PCI_INFO_FLAG_RESET (1 << 0)
#define IOMMUFD_PCI_INFO_FLAG_PCI (1 << 1)
#define IOMMUFD_PCI_GET_INFO _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 7)

struct iommufd_pci_region_info {
	__u32 argsz;
	__u32 flags;
	__u32 index;
	__u32 cap_offset;
	__aligned_u64 size;
	__aligned_u64 offset;	/* where to mmap / pread / pwrite it */
};
#define IOMMUFD_PCI_REGION_READ (1 << 0)
#define IOMMUFD_PCI_REGION_WRITE (1 << 1)
#define IOMMUFD_PCI_REGION_MMAP (1 << 2)
#define IOMMUFD_PCI_GET_REGION_INFO \
	_IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 8)

#define IOMMUFD_PCI_RESET _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 11)

enum {
	IOMMUFD_PCI_BAR0_REGION = 0,
	IOMMUFD_PCI_BAR5_REGION = 5,
	IOMMUFD_PCI_ROM_REGION = 6,
	IOMMUFD_PCI_CONFIG_REGION = 7,
	IOMMUFD_PCI_VGA_REGION = 8,
	IOMMUFD_PCI_NUM_REGIONS = 9,
};
#define IOMMUFD_PCI_REGION_SHIFT 40
#define IOMMUFD_PCI_REGION_OFFSET(index) \
	((__u64)(index) << IOMMUFD_PCI_REGION_SHIFT)

/* Ours: end the binding without closing the file. */
#define IOMMUFD_PCI_TYPE ('|')
#define IOMMUFD_PCI_UNBIND _IO(IOMMUFD_PCI_TYPE, 0x01)

#endif
