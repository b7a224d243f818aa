// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci interrupts: INTx, MSI and MSI-X, each vector signalling an
 * eventfd the user gave with SET_IRQS (VFIO-PCI's numbers and semantics),
 * and the two notifications VFIO-PCI adds: the error eventfd (PCIe
 * devices; signalled when AER reports an error) and the request eventfd
 * (signalled when the kernel wants the device back: the driver is being
 * removed from it).
 *
 * Everything here runs under udev->lock but the handlers.  An MSI
 * vector's trigger changes only while its IRQ is freed -- free_irq()
 * waits for a running handler.  The INTx trigger is swapped under a live
 * handler (the masked state survives) and the old one put only after
 * synchronize_hardirq(); the handler copes with none.
 *
 * MSI and MSI-X vectors ("message" vectors below) are edge-triggered:
 * the handler only signals; the kernel programs the capability and, for
 * MSI-X, the table, writing each entry again when its eventfd is set (as
 * VFIO) in case a reset or the user cleared it.  A user who rewrites the
 * table through a BAR mapping only loses its own interrupts where
 * interrupt remapping checks the source -- the case unless the module was
 * told to allow unsafe interrupts, where DMA could do as much anyway.  INTx is
 * level-triggered and may be shared: the handler masks the line at the
 * device (PCI_COMMAND_INTX_DISABLE, when the device implements PCI 2.3
 * INTx masking; else the whole IRQ line, which is then not shared) and
 * signals; the user unmasks it once the device is serviced.  The
 * INTx-disable bit is the kernel's whenever the device has that masking:
 * set while nobody listens (from probe, BIND, after MSI and after every
 * unbind), following intx_masked while INTx is enabled; config writes
 * keep it, under intx_lock so as not to race the handler.  The user's own
 * INTx-disable bit lives in the virtual config space: setting it masks
 * the line as MASK does, and no UNMASK opens it while it is set.
 *
 * UNMASK may also be left to an eventfd (KVM's irqfd resampler signals it
 * when the guest ends the interrupt): our wait-queue entry on it queues a
 * work item, which unmasks under intx_lock alone -- never udev->lock, so
 * that the teardown (INTx disable, unbind), under udev->lock, can wait
 * for it with cancel_work_sync().  That is why the INTx trigger is also
 * swapped, and signalled by an unmask, under intx_lock.
 *
 * Unbinding (and so closing the file, or removing the driver) frees every
 * IRQ before anything else happens to the device.
 */
#include <linux/bitops.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/interrupt.h>
#include <linux/msi.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "pci_user.h"
#include "compat.h"

/* MSI has at most 32 vectors, MSI-X 2048. */
#define UPCI_MAX_VECTORS 2048

static bool upci_irq_is_msg(unsigned int index)
{
	return index == IOMMUFD_PCI_MSI_IRQ_INDEX ||
	       index == IOMMUFD_PCI_MSIX_IRQ_INDEX;
}

/**
 * upci_irq_init() - interrupt state of a new device
 * @udev: the device, at probe
 *
 * No interrupt type in use; notes whether INTx can be masked at the
 * device and turns INTx off there.
 *
 * Context: probe, before the device is published (no lock).
 */
void upci_irq_init(struct upci_device *udev)
{
	udev->irq_index = -1;
	init_waitqueue_head(&udev->released);
	spin_lock_init(&udev->intx_lock);
	udev->intx_maskable = pci_intx_mask_supported(udev->pdev);
	upci_irq_quiesce(udev);
}

/**
 * upci_irq_quiesce() - INTx off at the device while nobody listens to it
 * @udev: the device
 *
 * From probe, after pci_enable_device() at BIND (which turns it on), after
 * MSI (whose shutdown turns it on) and after each unbind (whose reset may
 * not happen, leaving the line raised).  A later kernel driver gets it
 * back on from pci_enable_device().
 *
 * Context: writes PCI_COMMAND without intx_lock, so only while no INTx
 * handler is registered; after probe, the caller holds udev->lock.
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
		return pdev->pin ? 1 : 0;	/* routed or not: see enable */
	case IOMMUFD_PCI_MSI_IRQ_INDEX:
		n = pdev->msi_cap ? pci_msi_vec_count(pdev) : 0;
		return n > 0 ? min(n, UPCI_MAX_VECTORS) : 0;
	case IOMMUFD_PCI_MSIX_IRQ_INDEX:
		n = pdev->msix_cap ? pci_msix_vec_count(pdev) : 0;
		return n > 0 ? min(n, UPCI_MAX_VECTORS) : 0;
	case IOMMUFD_PCI_ERR_IRQ_INDEX:
		return pci_is_pcie(pdev) ? 1 : 0;	/* AER is PCIe's */
	case IOMMUFD_PCI_REQ_IRQ_INDEX:
		return 1;
	}
	return 0;
}

/**
 * upci_get_irq_info() - VFIO_DEVICE_GET_IRQ_INFO
 * @udev: the device
 * @info: in: the index; out: its count and flags
 *
 * Context: process; reads only what the device supports.  upci_ioctl()
 * calls it with udev->lock held; it needs none.
 *
 * Return: 0, or -EINVAL for an unknown index (or the error index without
 * PCIe).
 */
int upci_get_irq_info(struct upci_device *udev,
		      struct iommufd_pci_irq_info *info)
{
	/* No error index without PCIe (AER), as VFIO. */
	if (info->index >= IOMMUFD_PCI_NUM_IRQS ||
	    (info->index == IOMMUFD_PCI_ERR_IRQ_INDEX &&
	     !pci_is_pcie(udev->pdev)))
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

/**
 * upci_set_irqs_data_size() - check a SET_IRQS header
 * @udev: the device
 * @hdr: the header, copied in
 * @size: set to the bytes of data that follow the header
 *
 * Before any lock, so that the data can be copied in first.
 *
 * Context: process; called without udev->lock.
 *
 * Return: 0, or -EINVAL for a bad header or a range past the index's
 * vectors.
 */
int upci_set_irqs_data_size(struct upci_device *udev,
			    const struct iommufd_pci_irq_set *hdr,
			    size_t *size)
{
	u32 data = hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_TYPE_MASK;
	u32 action = hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TYPE_MASK;
	unsigned int max;

	if (hdr->argsz < sizeof(*hdr) || hdr->index >= IOMMUFD_PCI_NUM_IRQS ||
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
	lockdep_assert_held(&udev->lock);
	if (udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX)
		return udev;
	return &udev->vec[i];
}

static void upci_vector_free(struct upci_device *udev, unsigned int i)
{
	struct upci_vector *v = &udev->vec[i];

	lockdep_assert_held(&udev->lock);
	if (v->requested)
		free_irq(v->virq, upci_vector_cookie(udev, i));
	v->requested = false;
	if (v->trigger)
		eventfd_ctx_put(v->trigger);
	v->trigger = NULL;
}

/* Request vector @i's IRQ, signalling @trigger (taken over, or put). */
static int upci_vector_request(struct upci_device *udev, unsigned int i,
			       struct eventfd_ctx *trigger,
			       irq_handler_t handler, unsigned long irqflags)
{
	struct upci_vector *v = &udev->vec[i];
	int rc;

	lockdep_assert_held(&udev->lock);
	v->trigger = trigger;
	if (udev->irq_index == IOMMUFD_PCI_MSIX_IRQ_INDEX) {
		struct msi_msg msg;

		/* The table entry may have been cleared: write it again. */
		get_cached_msi_msg(v->virq, &msg);
		pci_write_msi_msg(v->virq, &msg);
	}
	/* request_irq() allocates: a fault point. */
	rc = iommufd_should_fail() ? -ENOMEM :
		request_irq(v->virq, handler, irqflags, v->name,
			    upci_vector_cookie(udev, i));
	if (rc) {
		v->trigger = NULL;
		if (trigger)
			eventfd_ctx_put(trigger);
		return rc;
	}
	v->requested = true;
	return 0;
}

static int upci_vectors_alloc(struct upci_device *udev, int index,
			      unsigned int nvec)
{
	lockdep_assert_held(&udev->lock);
	/* Up to 2048 MSI-X vectors: not necessarily contiguous memory. */
	udev->vec = iommufd_kvcalloc(nvec, sizeof(*udev->vec),
				     GFP_KERNEL_ACCOUNT);
	if (!udev->vec)
		return -ENOMEM;
	udev->nvec = nvec;
	udev->irq_index = index;
	return 0;
}

static void upci_vectors_drop(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	kvfree(udev->vec);
	udev->vec = NULL;
	udev->nvec = 0;
	udev->irq_index = -1;
}

static void upci_intx_mask(struct upci_device *udev);
static void upci_unmaskfd_clear(struct upci_device *udev);

/**
 * upci_irq_disable() - free every IRQ and leave the device's interrupts off
 * @udev: the device
 *
 * For SET_IRQS's switch of index, unbind, close and reset.
 *
 * Context: process; caller holds udev->lock (asserted).
 */
void upci_irq_disable(struct upci_device *udev)
{
	unsigned int i;

	lockdep_assert_held(&udev->lock);
	if (udev->irq_index < 0)
		return;
	/* INTx: no more unmasks, then off at the device before its handler. */
	if (udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX) {
		upci_unmaskfd_clear(udev);
		upci_intx_mask(udev);
	}
	for (i = 0; i < udev->nvec; i++)
		upci_vector_free(udev, i);
	if (upci_irq_is_msg(udev->irq_index))
		pci_free_irq_vectors(udev->pdev);
	if (udev->irq_index == IOMMUFD_PCI_MSI_IRQ_INDEX)
		upci_config_msi_enabled(udev, 0);
	upci_vectors_drop(udev);
	upci_irq_quiesce(udev);
}

/* The eventfds for @fds[0..@n) (NULL for -1): all, or none and an error. */
static int upci_eventfds_get(const s32 *fds, unsigned int n,
			     struct eventfd_ctx **out)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		out[i] = fds[i] < 0 ? NULL : eventfd_ctx_fdget(fds[i]);
		if (IS_ERR(out[i])) {
			int rc = PTR_ERR(out[i]);

			while (i--)
				if (out[i])
					eventfd_ctx_put(out[i]);
			return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------- MSI and MSI-X */

static irqreturn_t upci_msg_handler(int irq, void *arg)
{
	struct upci_vector *v = arg;

	compat_eventfd_signal(v->trigger);
	return IRQ_HANDLED;
}

/*
 * Enable MSI or MSI-X (@index) with @nvec vectors.  When the platform has
 * fewer, nothing is enabled and the number it has is returned (positive),
 * as VFIO does, so that the caller can ask again for that many.
 */
static int upci_msg_enable(struct upci_device *udev, unsigned int index,
			   unsigned int nvec)
{
	bool msix = index == IOMMUFD_PCI_MSIX_IRQ_INDEX;
	struct pci_dev *pdev = udev->pdev;
	unsigned int i;
	int rc;

	lockdep_assert_held(&udev->lock);
	rc = upci_vectors_alloc(udev, index, nvec);
	if (rc)
		return rc;
	/* Allocates the vectors' descriptors: a fault point. */
	rc = iommufd_should_fail() ? -ENOMEM :
		pci_alloc_irq_vectors(pdev, 1, nvec,
				      msix ? PCI_IRQ_MSIX : PCI_IRQ_MSI);
	if (rc < (int)nvec) {
		if (rc > 0)
			pci_free_irq_vectors(pdev);
		upci_vectors_drop(udev);
		upci_irq_quiesce(udev);
		return rc;
	}
	if (!msix)
		upci_config_msi_enabled(udev, nvec);
	for (i = 0; i < nvec; i++) {
		udev->vec[i].virq = pci_irq_vector(pdev, i);
		snprintf(udev->vec[i].name, sizeof(udev->vec[i].name),
			 "iommufd-pci-%s[%u](%s)", msix ? "msix" : "msi", i,
			 pci_name(pdev));
	}
	return 0;
}

/*
 * Eventfds for vectors [start, start + count).  They are all looked up
 * first, so a bad fd changes nothing.  Should an IRQ then not be granted
 * (out of memory), the vectors of the range up to that one are left
 * without an eventfd and the later ones keep theirs, as in VFIO.
 */
static int upci_msg_set_triggers(struct upci_device *udev,
				 const struct iommufd_pci_irq_set *hdr,
				 const s32 *fds)
{
	bool enabled_here = false;
	struct eventfd_ctx **ctx;
	unsigned int i;
	int rc;

	lockdep_assert_held(&udev->lock);
	ctx = iommufd_kvcalloc(hdr->count, sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	rc = upci_eventfds_get(fds, hdr->count, ctx);
	if (rc)
		goto out_free;
	if (udev->irq_index < 0) {
		rc = upci_msg_enable(udev, hdr->index,
				     hdr->start + hdr->count);
		if (rc)
			goto err_put;
		enabled_here = true;
	} else if (hdr->start + hdr->count > udev->nvec) {
		rc = -EINVAL;	/* enabled with fewer vectors */
		goto err_put;
	}
	for (i = 0; i < hdr->count; i++) {
		upci_vector_free(udev, hdr->start + i);
		if (!ctx[i])
			continue;
		rc = upci_vector_request(udev, hdr->start + i, ctx[i],
					 upci_msg_handler, 0);
		ctx[i] = NULL;	/* taken over, or put */
		if (rc)
			goto err_unset;
	}
	goto out_free;

err_unset:
	while (i--)
		upci_vector_free(udev, hdr->start + i);
err_put:
	for (i = 0; i < hdr->count; i++)
		if (ctx[i])
			eventfd_ctx_put(ctx[i]);
	if (enabled_here && udev->irq_index >= 0)
		upci_irq_disable(udev);
out_free:
	kvfree(ctx);
	return rc;
}

static int upci_msg_set(struct upci_device *udev,
			struct iommufd_pci_irq_set *hdr, const void *data)
{
	unsigned int i;

	lockdep_assert_held(&udev->lock);
	if (!(hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER))
		return -ENOTTY;	/* message vectors are not maskable here */
	if (udev->irq_index >= 0 && udev->irq_index != hdr->index)
		return -EINVAL;	/* disable the other index first */
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD)
		return upci_msg_set_triggers(udev, hdr, data);
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
			compat_eventfd_signal(v->trigger);
	}
	return 0;
}

/* ---------------------------------------------------------------- INTx */

/* The INTx trigger may be swapped under a handler: see upci_intx_trigger. */
static void upci_intx_signal(struct upci_device *udev)
{
	struct eventfd_ctx *trigger = READ_ONCE(udev->vec[0].trigger);

	if (trigger)
		compat_eventfd_signal(trigger);
}

static irqreturn_t upci_intx_handler(int irq, void *arg)
{
	struct upci_device *udev = arg;
	irqreturn_t ret = IRQ_NONE;
	unsigned long flags;

	spin_lock_irqsave(&udev->intx_lock, flags);
	if (!udev->intx_maskable) {
		/*
		 * Not shared: the line is ours, mask all of it -- once: a
		 * user MASK may have got there first, and the disable depth
		 * must stay at one for UNMASK to open it again.
		 */
		if (!udev->intx_masked)
			disable_irq_nosync(udev->pdev->irq);
		udev->intx_masked = true;
		ret = IRQ_HANDLED;
	} else if (!udev->intx_masked && pci_check_and_mask_intx(udev->pdev)) {
		udev->intx_masked = true;
		ret = IRQ_HANDLED;
	}
	spin_unlock_irqrestore(&udev->intx_lock, flags);
	if (ret == IRQ_HANDLED)
		upci_intx_signal(udev);
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

/*
 * Unmask the line, with intx_lock held; a line still asserted stays masked
 * and signals again (the trigger is swapped under intx_lock too).
 */
static void __upci_intx_unmask(struct upci_device *udev)
{
	struct eventfd_ctx *trigger;

	lockdep_assert_held(&udev->intx_lock);
	if (!udev->intx_masked || READ_ONCE(udev->intx_user_disabled))
		return;
	if (!udev->intx_maskable) {
		enable_irq(udev->pdev->irq);
		udev->intx_masked = false;
	} else if (pci_check_and_unmask_intx(udev->pdev)) {
		udev->intx_masked = false;
	} else {
		trigger = READ_ONCE(udev->vec[0].trigger);
		if (trigger)
			compat_eventfd_signal(trigger);
	}
}

static void upci_intx_unmask(struct upci_device *udev)
{
	unsigned long flags;

	lockdep_assert_held(&udev->lock);
	spin_lock_irqsave(&udev->intx_lock, flags);
	__upci_intx_unmask(udev);
	spin_unlock_irqrestore(&udev->intx_lock, flags);
}

/* An unmask eventfd: our entry on its wait queue and the work it queues. */
struct upci_unmaskfd {
	struct upci_device *udev;
	struct eventfd_ctx *ctx;
	wait_queue_entry_t wait;
	poll_table pt;
	struct work_struct work;
	bool closed;			/* EPOLLHUP: off the wait queue */
};

/* Process context, no udev->lock: the teardown waits for this under it. */
static void upci_unmaskfd_work(struct work_struct *work)
{
	struct upci_unmaskfd *u = container_of(work, struct upci_unmaskfd,
					       work);
	unsigned long flags;

	spin_lock_irqsave(&u->udev->intx_lock, flags);
	__upci_intx_unmask(u->udev);
	spin_unlock_irqrestore(&u->udev->intx_lock, flags);
}

/* The eventfd was signalled: atomic context, its wait-queue lock held. */
static int upci_unmaskfd_wake(wait_queue_entry_t *wait, unsigned int mode,
			      int sync, void *key)
{
	struct upci_unmaskfd *u = container_of(wait, struct upci_unmaskfd,
					       wait);
	u64 cnt;

	if (key_to_poll(key) & EPOLLIN) {
		eventfd_ctx_do_read(u->ctx, &cnt);
		schedule_work(&u->work);
	}
	/*
	 * The eventfd's last file closed: it unregisters, as in VFIO (QEMU
	 * closes it and registers a new one).  Off the wait queue now (its
	 * lock is held here); the rest waits for udev->lock: the next
	 * registration, INTx disable or unbind (upci_unmaskfd_clear()).
	 */
	if (key_to_poll(key) & EPOLLHUP) {
		list_del_init(&wait->entry);
		WRITE_ONCE(u->closed, true);
	}
	return 0;
}

static void upci_unmaskfd_queue(struct file *file, wait_queue_head_t *wqh,
				poll_table *pt)
{
	struct upci_unmaskfd *u = container_of(pt, struct upci_unmaskfd, pt);

	add_wait_queue(wqh, &u->wait);
}

/* Unregister the unmask eventfd: no unmask from it runs after this. */
static void upci_unmaskfd_clear(struct upci_device *udev)
{
	struct upci_unmaskfd *u = udev->unmaskfd;
	u64 cnt;

	lockdep_assert_held(&udev->lock);
	if (!u)
		return;
	udev->unmaskfd = NULL;
	/* Off the wait queue (if still on): it can queue no more work. */
	eventfd_ctx_remove_wait_queue(u->ctx, &u->wait, &cnt);
	cancel_work_sync(&u->work);
	eventfd_ctx_put(u->ctx);
	kfree(u);
}

/*
 * UNMASK with DATA_EVENTFD: @fd unmasks INTx (enabled) whenever signalled;
 * a negative @fd unregisters it.  One at a time, as VFIO (-EBUSY), until
 * it is unregistered or its eventfd closed.
 */
static int upci_unmaskfd_set(struct upci_device *udev, s32 fd)
{
	struct upci_unmaskfd *u;
	struct file *file;
	__poll_t events;
	int rc;

	lockdep_assert_held(&udev->lock);
	if (fd < 0 || (udev->unmaskfd && READ_ONCE(udev->unmaskfd->closed)))
		upci_unmaskfd_clear(udev);
	if (fd < 0)
		return 0;
	if (udev->unmaskfd)
		return -EBUSY;
	u = iommufd_kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (!u)
		return -ENOMEM;
	file = fget(fd);
	if (!file) {
		rc = -EBADF;
		goto err_free;
	}
	u->ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(u->ctx)) {
		rc = PTR_ERR(u->ctx);	/* -EINVAL: not an eventfd */
		goto err_fput;
	}
	u->udev = udev;
	INIT_WORK(&u->work, upci_unmaskfd_work);
	init_waitqueue_func_entry(&u->wait, upci_unmaskfd_wake);
	init_poll_funcptr(&u->pt, upci_unmaskfd_queue);
	/* Set up before it goes on the wait queue, where it may fire. */
	udev->unmaskfd = u;
	events = vfs_poll(file, &u->pt);
	fput(file);
	/* Signalled before we listened: unmask now, as if we had heard. */
	if (events & EPOLLIN)
		schedule_work(&u->work);
	return 0;

err_fput:
	fput(file);
err_free:
	kfree(u);
	return rc;
}

/*
 * Make the device's INTx-disable bit say what intx_masked says: open the
 * line after enable, and after a reset, whose restored command register
 * may predate a mask the handler set meanwhile.
 */
static void upci_intx_apply_mask(struct upci_device *udev)
{
	unsigned long flags;

	spin_lock_irqsave(&udev->intx_lock, flags);
	if (udev->intx_maskable)
		pci_intx(udev->pdev, !udev->intx_masked);
	spin_unlock_irqrestore(&udev->intx_lock, flags);
}

/* Enable INTx signalling @trigger (taken over; may be NULL). */
static int upci_intx_enable(struct upci_device *udev,
			    struct eventfd_ctx *trigger)
{
	struct pci_dev *pdev = udev->pdev;
	int rc;

	lockdep_assert_held(&udev->lock);
	if (!pdev->irq || pdev->irq == IRQ_NOTCONNECTED) {
		rc = -ENODEV;	/* the platform routed no IRQ for the pin */
		goto err_put;
	}
	rc = upci_vectors_alloc(udev, IOMMUFD_PCI_INTX_IRQ_INDEX, 1);
	if (rc)
		goto err_put;
	udev->vec[0].virq = pdev->irq;
	snprintf(udev->vec[0].name, sizeof(udev->vec[0].name),
		 "iommufd-pci-intx(%s)", pci_name(pdev));
	udev->intx_masked = false;
	rc = upci_vector_request(udev, 0, trigger, upci_intx_handler,
				 udev->intx_maskable ? IRQF_SHARED : 0);
	if (rc) {
		upci_vectors_drop(udev);
		return rc;
	}
	/* Masked from the start while the user's INTx-disable bit is set. */
	if (udev->intx_user_disabled)
		upci_intx_mask(udev);
	/* The handler is in place (and may have masked it already). */
	upci_intx_apply_mask(udev);
	return 0;

err_put:
	if (trigger)
		eventfd_ctx_put(trigger);
	return rc;
}

/*
 * A new INTx trigger under the live handler: the masked state stays,
 * and the old eventfd goes once no handler can be signalling it.
 */
static void upci_intx_trigger(struct upci_device *udev,
			      struct eventfd_ctx *trigger)
{
	struct eventfd_ctx *old = udev->vec[0].trigger;
	unsigned long flags;

	lockdep_assert_held(&udev->lock);
	/* Under intx_lock: an unmask's signal (__upci_intx_unmask) is. */
	spin_lock_irqsave(&udev->intx_lock, flags);
	WRITE_ONCE(udev->vec[0].trigger, trigger);
	spin_unlock_irqrestore(&udev->intx_lock, flags);
	/*
	 * Only a running handler can hold the old one: wait for handlers,
	 * not for the interrupt chip (synchronize_irq() also waits for a
	 * level interrupt still active at the IO-APIC, which under QEMU's
	 * AMD-Vi remapping was seen stuck for good: a soft lockup).
	 */
	synchronize_hardirq(udev->vec[0].virq);
	if (old)
		eventfd_ctx_put(old);
}

static int upci_intx_set(struct upci_device *udev,
			 struct iommufd_pci_irq_set *hdr, const void *data)
{
	bool intx = udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX;
	struct eventfd_ctx *trigger;
	int rc;

	lockdep_assert_held(&udev->lock);
	if (udev->irq_index >= 0 && !intx)
		return -EINVAL;	/* disable MSI or MSI-X first */
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER) {
		if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD) {
			/* -1: enabled with no eventfd, as VFIO */
			rc = upci_eventfds_get(data, 1, &trigger);
			if (rc)
				return rc;
			if (!intx)
				return upci_intx_enable(udev, trigger);
			upci_intx_trigger(udev, trigger);
			return 0;
		}
		if (!intx)
			return -EINVAL;
		if (!hdr->count)
			upci_irq_disable(udev);
		else if (upci_irq_selected(hdr, data, 0))
			upci_intx_signal(udev);
		return 0;
	}
	/* MASK and UNMASK: on an enabled line, vector 0 alone (as VFIO). */
	if (!intx || hdr->start || hdr->count != 1)
		return -EINVAL;
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD) {
		/* An unmask eventfd; a mask eventfd VFIO does not have. */
		if (hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_MASK)
			return -ENOTTY;
		return upci_unmaskfd_set(udev, *(const s32 *)data);
	}
	if (!upci_irq_selected(hdr, data, 0))
		return 0;
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_MASK)
		upci_intx_mask(udev);
	else
		upci_intx_unmask(udev);
	return 0;
}

/**
 * upci_irq_after_reset() - reapply the INTx state after a reset
 * @udev: the device
 *
 * With INTx in use the mask is set again; otherwise INTx is turned off.
 *
 * Context: caller holds udev->lock (asserted).
 */
void upci_irq_after_reset(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	if (udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX)
		upci_intx_apply_mask(udev);
	else
		upci_irq_quiesce(udev);
}

/**
 * upci_irq_intx_user_mask() - the user wrote its INTx-disable bit
 * @udev: the device (its lock held)
 * @disable: the bit's new value
 *
 * Setting it masks the line (when INTx is enabled), as SET_IRQS MASK;
 * clearing it unmasks it, as UNMASK (a line still raised signals again).
 */
void upci_irq_intx_user_mask(struct upci_device *udev, bool disable)
{
	lockdep_assert_held(&udev->lock);
	if (udev->intx_user_disabled == disable)
		return;
	WRITE_ONCE(udev->intx_user_disabled, disable);
	if (udev->irq_index != IOMMUFD_PCI_INTX_IRQ_INDEX)
		return;
	if (disable)
		upci_intx_mask(udev);
	else
		upci_intx_unmask(udev);
}

/* ------------------------------------------------ error and request */

/*
 * SET_IRQS on the error or request index, one eventfd in *@slot: an
 * eventfd sets it (-1 clears it); TRIGGER with no data and count 0
 * clears it; with count 1, no data or a true bool signals it now.
 * Only upci_set_irqs() calls it, holding (and asserting) udev->lock,
 * under which the error and AER paths read the slot.
 */
static int upci_notify_set(struct eventfd_ctx **slot,
			   const struct iommufd_pci_irq_set *hdr,
			   const void *data)
{
	struct eventfd_ctx *ctx;
	s32 fd;

	if (!(hdr->flags & IOMMUFD_PCI_IRQ_SET_ACTION_TRIGGER))
		return -ENOTTY;
	if (hdr->flags & IOMMUFD_PCI_IRQ_SET_DATA_EVENTFD) {
		fd = *(const s32 *)data;
		if (fd < -1)
			return -EINVAL;
		ctx = fd == -1 ? NULL : eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
		if (*slot)
			eventfd_ctx_put(*slot);
		*slot = ctx;
		return 0;
	}
	if (!*slot)
		return -EINVAL;
	if (!hdr->count) {
		eventfd_ctx_put(*slot);
		*slot = NULL;
	} else if (upci_irq_selected(hdr, data, 0)) {
		compat_eventfd_signal(*slot);
	}
	return 0;
}

/* Drop the error and request eventfds (unbind). */
static void upci_notify_clear(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	if (udev->err_trigger)
		eventfd_ctx_put(udev->err_trigger);
	if (udev->req_trigger)
		eventfd_ctx_put(udev->req_trigger);
	udev->err_trigger = NULL;
	udev->req_trigger = NULL;
}

/**
 * upci_irq_unbind() - free every interrupt and drop every eventfd
 * @udev: the device, being unbound (its lock held)
 */
void upci_irq_unbind(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	upci_irq_disable(udev);
	upci_notify_clear(udev);
}

/**
 * upci_irq_request_release() - ask the user to give the device back
 * @udev: the device, whose driver is being removed (no lock held)
 *
 * Signals the request eventfd, if the user set one, and waits up to ten
 * seconds for the file to be closed; the caller then takes the device
 * anyway (VFIO would wait for ever).
 */
void upci_irq_request_release(struct upci_device *udev)
{
	bool asked = false;

	mutex_lock(&udev->lock);
	if (udev->opener && udev->req_trigger) {
		compat_eventfd_signal(udev->req_trigger);
		asked = true;
	}
	mutex_unlock(&udev->lock);
	if (asked && !wait_event_timeout(udev->released,
					 !READ_ONCE(udev->opener), 10 * HZ))
		pci_warn(udev->pdev, "iommufd-pci: the user did not release the device within 10 s; taking it\n");
}

/**
 * upci_irq_error_detected() - AER: signal the user's error eventfd
 * @pdev: the device
 * @state: the channel state
 *
 * Return: PCI_ERS_RESULT_CAN_RECOVER: recovery is the user's business.
 */
pci_ers_result_t upci_irq_error_detected(struct pci_dev *pdev,
					 pci_channel_state_t state)
{
	struct upci_device *udev = pci_get_drvdata(pdev);

	mutex_lock(&udev->lock);
	if (udev->err_trigger)
		compat_eventfd_signal(udev->err_trigger);
	mutex_unlock(&udev->lock);
	return PCI_ERS_RESULT_CAN_RECOVER;
}

/*
 * MSI-X: the kernel writes the vectors' table entries (message, mask)
 * through the device's BAR, which decodes nothing while the user has
 * Memory Space off in the command register; the writes would be lost and
 * the device left with vectors it never learned.  So memory decode is on
 * while the kernel enables, requests and frees MSI-X vectors, and the
 * user's command register comes back after; mmio_lock (write) keeps the
 * user's BAR accesses, which are refused while memory is off, out of that
 * window.
 */
static int upci_msix_set(struct upci_device *udev,
			 struct iommufd_pci_irq_set *hdr, const void *data)
{
	struct pci_dev *pdev = udev->pdev;
	u16 cmd;
	int rc;

	lockdep_assert_held(&udev->lock);
	down_write(&udev->mmio_lock);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	if (!(cmd & PCI_COMMAND_MEMORY))
		pci_write_config_word(pdev, PCI_COMMAND,
				      cmd | PCI_COMMAND_MEMORY);
	rc = upci_msg_set(udev, hdr, data);
	if (!(cmd & PCI_COMMAND_MEMORY))
		pci_write_config_word(pdev, PCI_COMMAND, cmd);
	up_write(&udev->mmio_lock);
	return rc;
}

/**
 * upci_set_irqs() - VFIO_DEVICE_SET_IRQS
 * @udev: the device
 * @hdr: the header, checked by upci_set_irqs_data_size()
 * @data: the data that follows it, copied in
 *
 * Context: process; caller holds udev->lock (asserted).
 *
 * Return: 0; -EINVAL before BIND or for a request the index refuses; or
 * the error of enabling vectors or of an eventfd.
 */
int upci_set_irqs(struct upci_device *udev, struct iommufd_pci_irq_set *hdr,
		  const void *data)
{
	lockdep_assert_held(&udev->lock);
	if (!udev->idev)
		return -EINVAL;
	switch (hdr->index) {
	case IOMMUFD_PCI_INTX_IRQ_INDEX:
		return upci_intx_set(udev, hdr, data);
	case IOMMUFD_PCI_MSI_IRQ_INDEX:
		return upci_msg_set(udev, hdr, data);
	case IOMMUFD_PCI_MSIX_IRQ_INDEX:
		return upci_msix_set(udev, hdr, data);
	case IOMMUFD_PCI_ERR_IRQ_INDEX:
		return upci_notify_set(&udev->err_trigger, hdr, data);
	case IOMMUFD_PCI_REQ_IRQ_INDEX:
		return upci_notify_set(&udev->req_trigger, hdr, data);
	}
	return -EINVAL;	/* no vectors: refused by the header check */
}

/**
 * upci_irq_intx_live() - must a command register write hold off INTx?
 * @udev: the device
 *
 * Context: caller holds udev->lock (asserted).
 *
 * Return: true while the INTx handler may mask or unmask at the device.
 */
bool upci_irq_intx_live(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	return udev->irq_index == IOMMUFD_PCI_INTX_IRQ_INDEX &&
	       udev->intx_maskable;
}
