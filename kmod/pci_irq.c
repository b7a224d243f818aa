// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci interrupts: INTx and MSI, each vector signalling an eventfd
 * the user gave with SET_IRQS (VFIO-PCI's numbers and semantics).
 *
 * Everything here runs under udev->lock but the handlers.  A vector's
 * trigger changes only while its IRQ is freed -- free_irq() waits for a
 * running handler -- so a handler never sees its trigger go.
 *
 * MSI vectors are edge-triggered: the handler only signals.  INTx is
 * level-triggered and may be shared: the handler masks the line at the
 * device (PCI_COMMAND_INTX_DISABLE, when the device implements PCI 2.3
 * INTx masking; else the whole IRQ line, which is then not shared) and
 * signals; the user unmasks it once the device is serviced.  While INTx
 * is enabled the INTx-disable bit is the kernel's: a config write keeps
 * it, under intx_lock so as not to race the handler.
 *
 * Unbinding (and so closing the file, or removing the driver) frees every
 * IRQ before anything else happens to the device.
 */
#include <linux/bitops.h>
#include <linux/eventfd.h>
#include <linux/interrupt.h>
#include <linux/slab.h>

#include "pci_user.h"

/* More MSI vectors than anyone asks of one function; bounds SET_IRQS. */
#define UPCI_MAX_MSI 32

void upci_irq_init(struct upci_device *udev)
{
	udev->irq_index = -1;
	spin_lock_init(&udev->intx_lock);
	udev->intx_maskable = pci_intx_mask_supported(udev->pdev);
	upci_irq_quiesce(udev);
}

/*
 * INTx off at the device while nobody listens to it: from probe, and
 * again after each unbind (whose reset may not happen, leaving the line
 * raised).  A later kernel driver gets it back on from
 * pci_enable_device().
 */
void upci_irq_quiesce(struct upci_device *udev)
{
	if (udev->intx_maskable)
		pci_intx(udev->pdev, 0);
}

/* Vectors @index has on this device; 0: none, or not supported. */
static unsigned int upci_irq_count(struct upci_device *udev,
				   unsigned int index)
{
	struct pci_dev *pdev = udev->pdev;
	int n;

	switch (index) {
	case IOMMUFD_PCI_INTX_IRQ_INDEX:
		return pdev->pin && pdev->irq && pdev->irq != IRQ_NOTCONNECTED;
	case IOMMUFD_PCI_MSI_IRQ_INDEX:
		n = pdev->msi_cap ? pci_msi_vec_count(pdev) : 0;
		return n > 0 ? min(n, UPCI_MAX_MSI) : 0;
	}
	return 0;
}

int upci_get_irq_info(struct upci_device *udev,
		      struct iommufd_pci_irq_info *info)
{
	if (info->index >= IOMMUFD_PCI_NUM_IRQS)
		return -EINVAL;
	info->count = upci_irq_count(udev, info->index);
	info->flags = IOMMUFD_PCI_IRQ_INFO_EVENTFD;
	if (info->index == IOMMUFD_PCI_INTX_IRQ_INDEX)
		info->flags |= IOMMUFD_PCI_IRQ_INFO_MASKABLE |
			       IOMMUFD_PCI_IRQ_INFO_AUTOMASKED;
	else
		info->flags |= IOMMUFD_PCI_IRQ_INFO_NORESIZE;
	return 0;
}

/*
 * Check a SET_IRQS header (before any lock, so that its data can be
 * copied in first); *@size returns the bytes of data that follow it.
 */
int upci_set_irqs_data_size(struct upci_device *udev,
			    const struct iommufd_pci_irq_set *hdr,
			    size_t *size)
{
	u32 data = hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_TYPE_MASK;
	u32 action = hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TYPE_MASK;
	unsigned int max;

	if (hdr->index >= IOMMUFD_PCI_NUM_IRQS ||
	    hdr->flags & ~(IOMMUFD_PCI_IRQ_SET_DATA_TYPE_MASK |
			   IOMMUFD_PCI_IRQ_SET_ACTION_TYPE_MASK) ||
	    hweight32(data) != 1 || hweight32(action) != 1)
		return -EINVAL;
	/* Count 0 only to disable: TRIGGER with no data. */
	if (!hdr->count && (data != IOMMUFD_PCI_IRQ_SET_DATA_NONE ||
			    action != IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER))
		return -EINVAL;
	max = upci_irq_count(udev, hdr->index);
	if (hdr->start >= max || hdr->count > max - hdr->start)
		return -EINVAL;
	if (data == IOMMUFD_PCI_IRQ_SET_DATA_BOOL)
		*size = hdr->count;
	else if (data == IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD)
		*size = hdr->count * sizeof(s32);
	else
		*size = 0;
	if (hdr->argsz - sizeof(*hdr) < *size)
		return -EINVAL;
	return 0;
}

/* Is vector @i of the request selected: no data, or a true bool? */
static bool upci_irq_selected(const struct iommufd_pci_irq_set *hdr,
			      const void *data, unsigned int i)
{
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_BOOL)
		return ((const u8 *)data)[i];
	return true;
}

/* ------------------------------------------------------------- vectors */

/* What request_irq() was given for vector @i: the handler's argument. */
static void *upci_vector_cookie(struct upci_device *udev, unsigned int i)
{
	if (udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX)
		return udev;
	return &udev->vec[i];
}

static void upci_vector_free(struct upci_device *udev, unsigned int i)
{
	struct upci_vector *v = &udev->vec[i];

	if (!v->trigger)
		return;
	free_irq(v->virq, upci_vector_cookie(udev, i));
	eventfd_ctx_put(v->trigger);
	v->trigger = NULL;
}

/* Point vector @i at eventfd @fd (-1: none), requesting its IRQ. */
static int upci_vector_set(struct upci_device *udev, unsigned int i, int fd,
			   irq_handler_t handler, unsigned long irqflags)
{
	struct upci_vector *v = &udev->vec[i];
	struct eventfd_ctx *trigger;
	int rc;

	upci_vector_free(udev, i);
	if (fd < 0)
		return 0;
	trigger = eventfd_ctx_fdget(fd);
	if (IS_ERR(trigger))
		return PTR_ERR(trigger);
	v->trigger = trigger;
	rc = request_irq(v->virq, handler, irqflags, v->name,
			 upci_vector_cookie(udev, i));
	if (rc) {
		v->trigger = NULL;
		eventfd_ctx_put(trigger);
	}
	return rc;
}

static int upci_vectors_alloc(struct upci_device *udev, int index,
			      unsigned int nvec)
{
	udev->vec = kcalloc(nvec, sizeof(*udev->vec), GFP_KERNEL_ACCOUNT);
	if (!udev->vec)
		return -ENOMEM;
	udev->nvec = nvec;
	udev->irq_index = index;
	return 0;
}

/* Free every IRQ and leave the device's interrupts off. */
void upci_irq_disable(struct upci_device *udev)
{
	unsigned int i;

	lockdep_assert_held(&udev->lock);
	if (udev->irq_index < 0)
		return;
	for (i = 0; i < udev->nvec; i++)
		upci_vector_free(udev, i);
	if (udev->irq_index == IOMMUFD_PCI_MSI_IRQ_INDEX)
		pci_free_irq_vectors(udev->pdev);
	else if (udev->intx_maskable)
		pci_intx(udev->pdev, 0);
	kfree(udev->vec);
	udev->vec = NULL;
	udev->nvec = 0;
	udev->irq_index = -1;
}

/* ----------------------------------------------------------------- MSI */

static irqreturn_t upci_msi_handler(int irq, void *arg)
{
	struct upci_vector *v = arg;

	eventfd_signal(v->trigger, 1);
	return IRQ_HANDLED;
}

static int upci_msi_enable(struct upci_device *udev, unsigned int nvec)
{
	struct pci_dev *pdev = udev->pdev;
	unsigned int i;
	int rc;

	rc = upci_vectors_alloc(udev, IOMMUFD_PCI_MSI_IRQ_INDEX, nvec);
	if (rc)
		return rc;
	rc = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSI);
	if (rc < 0) {
		kfree(udev->vec);
		udev->vec = NULL;
		udev->nvec = 0;
		udev->irq_index = -1;
		return rc;
	}
	for (i = 0; i < nvec; i++) {
		udev->vec[i].virq = pci_irq_vector(pdev, i);
		snprintf(udev->vec[i].name, sizeof(udev->vec[i].name),
			 "iommufd-pci-msi[%u](%s)", i, pci_name(pdev));
	}
	return 0;
}

/* Eventfds for vectors [start, start + count): all or nothing. */
static int upci_msi_set_triggers(struct upci_device *udev,
				 const struct iommufd_pci_irq_set *hdr,
				 const s32 *fds)
{
	bool enabled_here = false;
	unsigned int i;
	int rc;

	if (udev->irq_index < 0) {
		rc = upci_msi_enable(udev, hdr->start + hdr->count);
		if (rc)
			return rc;
		enabled_here = true;
	} else if (hdr->start + hdr->count > udev->nvec) {
		return -EINVAL;	/* enabled with fewer vectors */
	}
	for (i = 0; i < hdr->count; i++) {
		rc = upci_vector_set(udev, hdr->start + i, fds[i],
				     upci_msi_handler, 0);
		if (rc)
			goto err_undo;
	}
	return 0;

err_undo:
	while (i--)
		upci_vector_free(udev, hdr->start + i);
	if (enabled_here)
		upci_irq_disable(udev);
	return rc;
}

static int upci_msi_set(struct upci_device *udev,
			struct iommufd_pci_irq_set *hdr, const void *data)
{
	unsigned int i;

	if (!(hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER))
		return -ENOTTY;	/* MSI vectors are not maskable here */
	if (udev->irq_index >= 0 &&
	    udev->irq_index != IOMMUFD_PCI_MSI_IRQ_INDEX)
		return -EINVAL;	/* disable INTx first */
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD)
		return upci_msi_set_triggers(udev, hdr, data);
	if (udev->irq_index < 0)
		return -EINVAL;
	if (!hdr->count) {
		upci_irq_disable(udev);
		return 0;
	}
	if (hdr->start + hdr->count > udev->nvec)
		return -EINVAL;
	/* Loopback: fire the selected vectors' eventfds now. */
	for (i = 0; i < hdr->count; i++) {
		struct upci_vector *v = &udev->vec[hdr->start + i];

		if (v->trigger && upci_irq_selected(hdr, data, i))
			eventfd_signal(v->trigger, 1);
	}
	return 0;
}

/* ---------------------------------------------------------------- INTx */

static irqreturn_t upci_intx_handler(int irq, void *arg)
{
	struct upci_device *udev = arg;
	irqreturn_t ret = IRQ_NONE;
	unsigned long flags;

	spin_lock_irqsave(&udev->intx_lock, flags);
	if (!udev->intx_maskable) {
		/* Not shared: the line is ours, mask all of it. */
		disable_irq_nosync(udev->pdev->irq);
		udev->intx_masked = true;
		ret = IRQ_HANDLED;
	} else if (!udev->intx_masked && pci_check_and_mask_intx(udev->pdev)) {
		udev->intx_masked = true;
		ret = IRQ_HANDLED;
	}
	spin_unlock_irqrestore(&udev->intx_lock, flags);
	if (ret == IRQ_HANDLED)
		eventfd_signal(udev->vec[0].trigger, 1);
	return ret;
}

static void upci_intx_mask(struct upci_device *udev)
{
	unsigned long flags;

	spin_lock_irqsave(&udev->intx_lock, flags);
	if (!udev->intx_masked) {
		if (udev->intx_maskable)
			pci_intx(udev->pdev, 0);
		else
			disable_irq_nosync(udev->pdev->irq);
		udev->intx_masked = true;
	}
	spin_unlock_irqrestore(&udev->intx_lock, flags);
}

/* A line still asserted when unmasked stays masked and signals again. */
static void upci_intx_unmask(struct upci_device *udev)
{
	bool pending = false;
	unsigned long flags;

	spin_lock_irqsave(&udev->intx_lock, flags);
	if (udev->intx_masked) {
		if (!udev->intx_maskable) {
			enable_irq(udev->pdev->irq);
			udev->intx_masked = false;
		} else if (pci_check_and_unmask_intx(udev->pdev)) {
			udev->intx_masked = false;
		} else {
			pending = true;
		}
	}
	spin_unlock_irqrestore(&udev->intx_lock, flags);
	if (pending)
		eventfd_signal(udev->vec[0].trigger, 1);
}

static int upci_intx_enable(struct upci_device *udev, int fd)
{
	struct pci_dev *pdev = udev->pdev;
	int rc;

	rc = upci_vectors_alloc(udev, IOMMUFD_PCI_INTX_IRQ_INDEX, 1);
	if (rc)
		return rc;
	udev->vec[0].virq = pdev->irq;
	snprintf(udev->vec[0].name, sizeof(udev->vec[0].name),
		 "iommufd-pci-intx(%s)", pci_name(pdev));
	udev->intx_masked = false;
	rc = upci_vector_set(udev, 0, fd, upci_intx_handler,
			     udev->intx_maskable ? IRQF_SHARED : 0);
	if (rc) {
		upci_irq_disable(udev);
		return rc;
	}
	/* The handler is in place: let the device raise the line. */
	if (udev->intx_maskable)
		pci_intx(pdev, 1);
	return 0;
}

static int upci_intx_set(struct upci_device *udev,
			 struct iommufd_pci_irq_set *hdr, const void *data)
{
	bool intx = udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX;
	s32 fd;

	if (udev->irq_index >= 0 && !intx)
		return -EINVAL;	/* disable MSI first */
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER) {
		if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD) {
			fd = *(const s32 *)data;
			if (intx)
				upci_irq_disable(udev);
			return fd < 0 ? 0 : upci_intx_enable(udev, fd);
		}
		if (!intx)
			return -EINVAL;
		if (!hdr->count)
			upci_irq_disable(udev);
		else if (upci_irq_selected(hdr, data, 0))
			eventfd_signal(udev->vec[0].trigger, 1);
		return 0;
	}
	/* MASK and UNMASK: no data or a bool, on an enabled line. */
	if ((hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD) || !intx)
		return -EINVAL;
	if (!upci_irq_selected(hdr, data, 0))
		return 0;
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_MASK)
		upci_intx_mask(udev);
	else
		upci_intx_unmask(udev);
	return 0;
}

/* SET_IRQS, its header checked and its data copied in. */
int upci_set_irqs(struct upci_device *udev, struct iommufd_pci_irq_set *hdr,
		  const void *data)
{
	lockdep_assert_held(&udev->lock);
	if (!udev->idev)
		return -EINVAL;
	if (hdr->index == IOMMUFD_PCI_MSI_IRQ_INDEX)
		return upci_msi_set(udev, hdr, data);
	return upci_intx_set(udev, hdr, data);
}

/* Does the kernel own PCI_COMMAND_INTX_DISABLE now (INTx enabled)? */
bool upci_irq_owns_intx_disable(struct upci_device *udev)
{
	return udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX &&
	       udev->intx_maskable;
}
