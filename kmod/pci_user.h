/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The private header of iommufd_pci.ko: the per-device state, shared by
 * the driver (pci_user.c), its config space (pci_config.c), its regions
 * (pci_region.c), its resets (pci_reset.c) and its interrupts (pci_irq.c).
 *
 * Lock order: udev->lock, then mmio_lock; mmap_lock (mmap, faults) comes
 * before mmio_lock and udev->lock is never taken under it.  intx_lock is
 * innermost (taken in the INTx handler, hard-IRQ context) but for an
 * eventfd's wait-queue lock: an unmask signals the INTx eventfd under it.
 * The unmask eventfd's work takes intx_lock alone, never udev->lock:
 * its teardown waits for it under udev->lock.
 * upci_hot_reset_lock (one hot reset at a time) comes before every
 * udev->lock: a hot reset takes the udev->lock of each bound device it
 * resets, in the order the PCI bus walk gives them -- safe because hot
 * resets are serialised by it.  upci_list_lock (the bound devices) is
 * innermost of the mutexes: taken under udev->lock, never the reverse.
 * No pin of user memory under udev->lock but that of an area mapped while
 * ATTACH ran: its pins are taken before it (upci_attach_pin()).
 *
 * Every allocation goes through iommufd_fault.h's wrappers, and the other
 * calls that fail when memory runs out (ida, iomap, IRQ vectors and
 * handlers) ask iommufd_should_fail() first: the test build's fault
 * injection fails each in turn (tests/pci.c walks them).
 */
#ifndef IOMMUFD_PCI_USER_H
#define IOMMUFD_PCI_USER_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "iommufd.h"
#include "iommufd_fault.h"
#include "uapi/linux/iommufd_pci.h"

#define UPCI_MAX_DEVICES 256
#define UPCI_REGION_MASK (IOMMUFD_PCI_REGION_OFFSET(1) - 1)

struct eventfd_ctx;
struct upci_unmaskfd;

/* One interrupt vector the user listens to. */
struct upci_vector {
	struct eventfd_ctx *trigger;	/* may be NULL (INTx) */
	bool requested;			/* its IRQ has our handler */
	int virq;			/* the Linux IRQ */
	char name[48];			/* kept for request_irq() */
};

struct upci_device {
	struct device dev;		/* /dev/vfio/devices/vfioN; frees this */
	struct device *dir;		/* "vfio-dev" under the PCI device */
	struct cdev cdev;
	struct pci_dev *pdev;
	int index;			/* the N of vfioN */
	bool enforced_coherent;		/* its IOMMU blocks no-snoop (probe) */
	struct list_head node;		/* in upci_list while bound */
	struct mutex lock;		/* the binding state below */
	bool removed;
	struct file *opener;
	struct iommufd_device *idev;	/* non-NULL while bound */
	struct iommufd_ctx *ictx;	/* the iommufd bound to */
	u32 dev_id;
	bool attached;
	struct rw_semaphore mmio_lock;
	bool mmio_on;			/* BAR access allowed (bound) */
	bool mem_on;			/* the user's memory decode enable */
	void __iomem *bar_io[PCI_STD_NUM_BARS];	/* mapped while bound */
	int msix_bar;			/* the MSI-X table's BAR and span */
	u64 msix_start, msix_end;
	struct pci_saved_state *saved;	/* config space at bind */
	u32 raw_bars[PCI_STD_NUM_BARS];	/* BAR registers at bind */
	u32 raw_rom;
	/* Config space as the user sees it (pci_config.c), under lock. */
	u8 *vconfig;			/* values of the virtualized bits */
	u8 *vbits;			/* per byte: bits read from vconfig */
	u8 *wbits;			/* per byte: bits the user may write */
	unsigned long *cap_starts;	/* where capabilities begin and end */
	int pm_ctrl, exp_devctl, af_ctrl;	/* registers with side effects */
	int msi;			/* the MSI capability, if shown */
	u8 msi_qmax;			/* log2 of the MSI vectors enabled */
	bool intx_user_disabled;	/* the user's INTx-disable bit */
	/* Interrupts, under lock: the enabled index (-1: none), vectors. */
	int irq_index;
	unsigned int nvec;
	struct upci_vector *vec;
	bool intx_maskable;		/* PCI 2.3 INTx masking works */
	spinlock_t intx_lock;		/* intx_masked, with the handler */
	bool intx_masked;
	struct upci_unmaskfd *unmaskfd;	/* INTx unmask eventfd, under lock */
	struct eventfd_ctx *err_trigger;	/* AER errors */
	struct eventfd_ctx *req_trigger;	/* the kernel wants it back */
	wait_queue_head_t released;	/* woken when the opener closes */
};

/* GET_REGION_INFO's answer with the one capability it may carry. */
struct upci_region_info_caps {
	struct iommufd_pci_region_info info;
	struct iommufd_pci_info_cap_header cap;
};

/* pci_config.c */
int upci_config_init(struct upci_device *udev);
void upci_config_free(struct upci_device *udev);
void upci_config_bind(struct upci_device *udev);
void upci_config_unbind(struct upci_device *udev);
ssize_t upci_config_rw(struct upci_device *udev, u8 *kbuf, size_t count,
		       int pos, bool write);
void upci_config_msi_enabled(struct upci_device *udev, unsigned int nvec);

/* pci_region.c */
void upci_region_init(struct upci_device *udev);
int upci_region_map_bars(struct upci_device *udev);
void upci_region_unmap_bars(struct upci_device *udev);
int upci_region_info(struct upci_device *udev,
		     struct upci_region_info_caps *out);
ssize_t upci_region_rw(struct upci_device *udev, unsigned int index,
		       char __user *ubuf, size_t count, u64 pos, bool write);
int upci_region_mmap(struct upci_device *udev, struct vm_area_struct *vma);

/* pci_reset.c */
void upci_reset_list_add(struct upci_device *udev);
void upci_reset_list_del(struct upci_device *udev);
int upci_reset(struct upci_device *udev);
long upci_hot_reset_info(struct upci_device *udev, void __user *uarg);
long upci_hot_reset(struct upci_device *udev, void __user *uarg);

/* pci_user.c */
void upci_mmio_set(struct upci_device *udev, bool on);
bool upci_is_ours(struct pci_dev *pdev);

/* pci_irq.c */
void upci_irq_init(struct upci_device *udev);
void upci_irq_quiesce(struct upci_device *udev);
int upci_get_irq_info(struct upci_device *udev,
		      struct iommufd_pci_irq_info *info);
int upci_set_irqs_data_size(struct upci_device *udev,
			    const struct iommufd_pci_irq_set *hdr,
			    size_t *size);
int upci_set_irqs(struct upci_device *udev, struct iommufd_pci_irq_set *hdr,
		  const void *data);
void upci_irq_disable(struct upci_device *udev);
void upci_irq_unbind(struct upci_device *udev);
bool upci_irq_intx_live(struct upci_device *udev);
void upci_irq_after_reset(struct upci_device *udev);
void upci_irq_intx_user_mask(struct upci_device *udev, bool disable);
void upci_irq_request_release(struct upci_device *udev);
pci_ers_result_t upci_irq_error_detected(struct pci_dev *pdev,
					 pci_channel_state_t state);

#endif
