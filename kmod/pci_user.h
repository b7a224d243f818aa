/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The private header of iommufd_pci.ko: the per-device state, shared by
 * the driver (pci_user.c) and its interrupts (pci_irq.c).
 *
 * Lock order: udev->lock, then mmio_lock; mmap_lock (mmap, faults) comes
 * before mmio_lock and udev->lock is never taken under it.  intx_lock is
 * innermost (taken in the INTx handler, hard-IRQ context).
 */
#ifndef IOMMUFD_PCI_USER_H
#define IOMMUFD_PCI_USER_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>

#include "iommufd.h"
#include "uapi/linux/iommufd_pci.h"

#define UPCI_MAX_DEVICES 256
#define UPCI_REGION_MASK (IOMMUFD_PCI_REGION_OFFSET(1) - 1)

struct eventfd_ctx;

/* One interrupt vector the user listens to. */
struct upci_vector {
	struct eventfd_ctx *trigger;	/* may be NULL (INTx) */
	bool requested;			/* its IRQ has our handler */
	int virq;			/* the Linux IRQ */
	char name[48];			/* kept for request_irq() */
};

struct upci_device {
	struct device dev;		/* the /dev node; frees this */
	struct cdev cdev;
	struct pci_dev *pdev;
	int minor;
	struct mutex lock;		/* the binding state below */
	bool removed;
	struct file *opener;
	struct iommufd_device *idev;	/* non-NULL while bound */
	u32 dev_id;
	bool attached;
	struct rw_semaphore mmio_lock;
	bool mmio_on;			/* BAR faults allowed (bound) */
	struct pci_saved_state *saved;	/* config space at bind */
	/* Config registers userspace may not write (offsets, 0: absent). */
	int pm_ctrl, af_ctrl, exp_devctl, acs, sriov, rebar;
	int msi, msi_len, msix_ctrl;
	/* Interrupts, under lock: the enabled index (-1: none), vectors. */
	int irq_index;
	unsigned int nvec;
	struct upci_vector *vec;
	bool intx_maskable;		/* PCI 2.3 INTx masking works */
	spinlock_t intx_lock;		/* intx_masked, with the handler */
	bool intx_masked;
};

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
bool upci_irq_owns_intx_disable(struct upci_device *udev);
bool upci_irq_intx_live(struct upci_device *udev);
void upci_irq_after_reset(struct upci_device *udev);

#endif
