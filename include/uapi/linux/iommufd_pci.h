/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * iommufd-pci: the user API of the PCI user-device driver.
 *
 * A PCI device bound to the "iommufd-pci" driver (through driver_override)
 * is a VFIO device cdev, as Linux's vfio-pci makes it from 6.6 on: the
 * character device /dev/vfio/devices/vfioN, found from the PCI device as
 * /sys/bus/pci/devices/<domain:bus:dev.fn>/vfio-dev/vfioN (its "dev"
 * attribute gives major:minor).  Opening it gives nothing but
 * information; BIND gives the device to an iommufd, which first makes the
 * device's whole IOMMU group safe (its DMA blocked, no kernel driver in
 * it), and only then are MMIO, config writes, bus mastering and reset
 * available.
 *
 * Every ioctl here has the number, the layout and the behaviour of its
 * VFIO namesake in <linux/vfio.h> (Debian 12's copy of that header
 * predates the device cdev, hence this one): BIND, ATTACH and DETACH are
 * VFIO_DEVICE_BIND_IOMMUFD, _ATTACH_IOMMUFD_PT and _DETACH_IOMMUFD_PT;
 * GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, SET_IRQS, RESET,
 * GET_HOT_RESET_INFO, HOT_RESET and DEVICE_FEATURE the VFIO device
 * ioctls.  Regions are at VFIO-PCI's offsets (region index << 40; index
 * 0-5 the BARs, 6 the ROM, 7 the config space); config space is
 * virtualized as VFIO-PCI does it.  UNBIND is ours; closing the file
 * unbinds as well, which also frees the device's interrupts.
 *
 * Errors: EINVAL for anything but BIND, GET_INFO, GET_REGION_INFO,
 * GET_IRQ_INFO and config reads before BIND, and for a second BIND; EBUSY
 * for BIND when another device of its IOMMU group is driven by a kernel
 * driver (the kernel log names it); EBADF when the fd given to BIND is
 * not an iommufd.
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
#define IOMMUFD_PCI_REGION_CAPS (1 << 3)	/* a capability at cap_offset */
#define IOMMUFD_PCI_GET_REGION_INFO \
	_IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 8)

/* The header of a capability in an info answer (VFIO's). */
struct iommufd_pci_info_cap_header {
	__u16 id;
	__u16 version;
	__u32 next;		/* the next one's offset, 0: last */
};

/* GET_REGION_INFO capability: the BAR's MSI-X table may be mapped. */
#define IOMMUFD_PCI_REGION_CAP_MSIX_MAPPABLE 3

/* Reset the function (EINVAL when GET_INFO has no RESET flag). */
#define IOMMUFD_PCI_RESET _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 11)

/*
 * Hot reset: the functions a reset of the device's slot (or else bus)
 * reaches, each by devid in the caller's iommufd, or OWNED (0: its group
 * is the caller's) or NOT_OWNED (-1).  count out; ENOSPC (count set) when
 * argsz has no room for them all.  HOT_RESET takes no group fds (count
 * 0): every function must be bound to this driver and be the caller's
 * (EINVAL otherwise).
 */
struct iommufd_pci_dependent_device {
	union {
		__u32 group_id;
		__u32 devid;
	};
	__u16 segment;
	__u8 bus;
	__u8 devfn;
};
#define IOMMUFD_PCI_DEVID_OWNED 0
#define IOMMUFD_PCI_DEVID_NOT_OWNED -1

struct iommufd_pci_hot_reset_info {
	__u32 argsz;
	__u32 flags;
	__u32 count;
	struct iommufd_pci_dependent_device devices[];
};
#define IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID (1 << 0)
#define IOMMUFD_PCI_HOT_RESET_FLAG_DEV_ID_OWNED (1 << 1)
#define IOMMUFD_PCI_GET_HOT_RESET_INFO \
	_IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 12)

struct iommufd_pci_hot_reset {
	__u32 argsz;
	__u32 flags;		/* must be 0 */
	__u32 count;		/* must be 0: no group fds */
	__s32 group_fds[];
};
#define IOMMUFD_PCI_HOT_RESET _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 13)

/*
 * Device features (migration, DMA logging, low power, ...): none is
 * supported; after the checks of the request (EINVAL) every one answers
 * ENOTTY, as VFIO does for a device without them.
 */
struct iommufd_pci_device_feature {
	__u32 argsz;
	__u32 flags;		/* feature index, GET / SET / PROBE */
	__u8 data[];
};
#define IOMMUFD_PCI_FEATURE_MASK 0xffff
#define IOMMUFD_PCI_FEATURE_GET (1 << 16)
#define IOMMUFD_PCI_FEATURE_SET (1 << 17)
#define IOMMUFD_PCI_FEATURE_PROBE (1 << 18)
#define IOMMUFD_PCI_DEVICE_FEATURE \
	_IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 17)

/*
 * Interrupts, as VFIO-PCI numbers them: index 0 INTx, 1 MSI, 2 MSI-X,
 * 3 error, 4 request.  INTx, MSI and MSI-X are supported (count 0 for
 * the others, or when the device has none); each vector signals an
 * eventfd.
 * INTx is automasked: the kernel masks it (PCI_COMMAND_INTX_DISABLE) when
 * it fires, and the user unmasks it (SET_IRQS ACTION_UNMASK) once the
 * device is serviced.  That bit is the kernel's (set while nobody listens;
 * config writes keep it).  The kernel programs the MSI capability and
 * the MSI-X table; config writes to the MSI capability and to the MSI-X
 * control are refused (EPERM).
 */
enum {
	IOMMUFD_PCI_INTX_IRQ_INDEX = 0,
	IOMMUFD_PCI_MSI_IRQ_INDEX = 1,
	IOMMUFD_PCI_MSIX_IRQ_INDEX = 2,
	IOMMUFD_PCI_ERR_IRQ_INDEX = 3,
	IOMMUFD_PCI_REQ_IRQ_INDEX = 4,
	IOMMUFD_PCI_NUM_IRQS = 5,
};

struct iommufd_pci_irq_info {
	__u32 argsz;
	__u32 flags;
	__u32 index;		/* in */
	__u32 count;		/* vectors the index has (0: none) */
};
#define IOMMUFD_PCI_IRQ_INFO_EVENTFD (1 << 0)
#define IOMMUFD_PCI_IRQ_INFO_MASKABLE (1 << 1)
#define IOMMUFD_PCI_IRQ_INFO_AUTOMASKED (1 << 2)
#define IOMMUFD_PCI_IRQ_INFO_NORESIZE (1 << 3)
#define IOMMUFD_PCI_GET_IRQ_INFO \
	_IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 9)

/*
 * Act on vectors [start, start + count) of @index.  One DATA flag says
 * what @data holds: nothing, a __u8 per vector (act where non-zero) or an
 * __s32 eventfd per vector (-1: none).  One ACTION flag says what to do:
 *  - TRIGGER with eventfds: signal them when the vectors fire (enables
 *    the index; MSI or MSI-X is enabled with start + count vectors (a
 *    vector with -1 has no handler) -- when the
 *    platform has fewer, nothing is enabled and SET_IRQS returns how many
 *    it has, a positive number, as VFIO does); with NONE and count 0:
 *    disable the index; with NONE or BOOL otherwise: signal the eventfds
 *    now, as if the vectors had fired (a loopback for tests).
 *  - MASK / UNMASK (INTx only; NONE or BOOL): stop or allow the line.
 * Errors: EINVAL for a bad combination, range or size, before BIND, when
 * another index is enabled, or for an fd that is not an eventfd; EBADF
 * for an fd that is not open; ENOTTY for MASK/UNMASK on MSI or MSI-X.
 */
struct iommufd_pci_irq_set {
	__u32 argsz;
	__u32 flags;
	__u32 index;
	__u32 start;
	__u32 count;
	__u8 data[];
};
#define IOMMUFD_PCI_IRQ_SET_DATA_NONE (1 << 0)
#define IOMMUFD_PCI_IRQ_SET_DATA_BOOL (1 << 1)
#define IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD (1 << 2)
#define IOMMUFD_PCI_IRQ_SET_ACTION_MASK (1 << 3)
#define IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK (1 << 4)
#define IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER (1 << 5)
#define IOMMUFD_PCI_IRQ_SET_DATA_TYPE_MASK                                   \
	(IOMMUFD_PCI_IRQ_SET_DATA_NONE | IOMMUFD_PCI_IRQ_SET_DATA_BOOL |     \
	 IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD)
#define IOMMUFD_PCI_IRQ_SET_ACTION_TYPE_MASK                                 \
	(IOMMUFD_PCI_IRQ_SET_ACTION_MASK | IOMMUFD_PCI_IRQ_SET_ACTION_UNMASK | \
	 IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER)
#define IOMMUFD_PCI_SET_IRQS _IO(IOMMUFD_PCI_VFIO_TYPE, IOMMUFD_PCI_VFIO_BASE + 10)

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
