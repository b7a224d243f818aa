// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd-pci config space: what the user reads and writes at the config
 * region, virtualized the way VFIO-PCI does it, so that a VMM that
 * emulates a PCI device on top of it (QEMU) finds what it expects.
 *
 * Every byte of config space has two masks: the bits read from and
 * written to a virtual copy (vconfig) instead of the device, and the bits
 * the user may write at all.  A read takes the virtual bits from vconfig
 * and the others from the device; a write puts the writable virtual bits
 * in vconfig and the writable others into the device (read-modify-write);
 * a write of nothing writable is dropped and still succeeds.
 *
 * - The header: vendor and device ID, the capability pointer, the
 *   interrupt line and pin are virtual; so are the BARs and the ROM BAR,
 *   which size as hardware does (write all-ones, read the size mask) and
 *   never reach the device; the command register goes to the device but
 *   for INTx disable, which is virtual and masks the line (pci_irq.c); a
 *   memory decode switched off stops and zaps BAR access.
 * - Capabilities VFIO knows are shown, read-only but for their control
 *   registers: power state (the kernel changes it), PCIe device control
 *   (not the payload size or phantom functions; FLR resets the function),
 *   AF FLR, MSI (fully virtual: the VMM emulates MSI and enables it with
 *   SET_IRQS; the kernel programs the device), AER masks and severities.
 *   MSI-X and the rest read the device and drop writes.  Capabilities it
 *   does not know are left out of the chains.
 * - Bytes outside every capability go to the device, both ways, as VFIO
 *   trusts the device's isolation there.
 *
 * Everything here runs under udev->lock.  The layout (masks, chains) is
 * built from the device at probe and again at each BIND, with the values
 * the user starts from.
 */
#include <linux/bitmap.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "pci_user.h"

/* Config registers, as little-endian byte arrays. */
static u32 upci_le(const u8 *p, int n)
{
	__le32 v = 0;

	memcpy(&v, p, n);
	return le32_to_cpu(v);
}

static void upci_put_le(u8 *p, int n, u32 val)
{
	__le32 v = cpu_to_le32(val);

	memcpy(p, &v, n);
}

/*
 * Set the masks of the @n-byte register at @pos (1, 2, 4, or a multiple
 * of 4 bytes that each take @virt and @write).
 */
static void upci_perm(struct upci_device *udev, int pos, int n, u32 virt,
		      u32 write)
{
	int i;

	for (i = 0; i < n; i += 4) {
		upci_put_le(udev->vbits + pos + i, min(n - i, 4), virt);
		upci_put_le(udev->wbits + pos + i, min(n - i, 4), write);
	}
}

/* ------------------------------------------------------ the layout */

/* The length of a standard capability VFIO shows; 0: hidden. */
static int upci_cap_len(struct upci_device *udev, u8 id, int pos)
{
	struct pci_dev *pdev = udev->pdev;
	u16 flags;
	u8 len;

	switch (id) {
	case PCI_CAP_ID_PM:
		return PCI_PM_SIZEOF;
	case PCI_CAP_ID_AGP:
		return PCI_AGP_SIZEOF;
	case PCI_CAP_ID_VPD:
		return PCI_CAP_VPD_SIZEOF;
	case PCI_CAP_ID_MSIX:
		return PCI_CAP_MSIX_SIZEOF;
	case PCI_CAP_ID_AF:
		return PCI_CAP_AF_SIZEOF;
	case PCI_CAP_ID_MSI:
		pci_read_config_word(pdev, pos + PCI_MSI_FLAGS, &flags);
		return (flags & PCI_MSI_FLAGS_64BIT ? PCI_MSI_DATA_64 :
			PCI_MSI_DATA_32) + 2 +
		       (flags & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
	case PCI_CAP_ID_PCIX:
		pci_read_config_word(pdev, pos + PCI_X_CMD, &flags);
		return pdev->hdr_type == PCI_HEADER_TYPE_BRIDGE ?
		       PCI_X_BRIDGE_SSTATUS + 4 :
		       (flags & PCI_X_CMD_VERSION(~0) ? PCI_CAP_PCIX_SIZEOF_V2 :
			PCI_CAP_PCIX_SIZEOF_V0);
	case PCI_CAP_ID_EXP:
		pci_read_config_word(pdev, pos + PCI_EXP_FLAGS, &flags);
		if ((flags & PCI_EXP_FLAGS_VERS) >= 2)
			return PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
		return PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
	case PCI_CAP_ID_VNDR:
		pci_read_config_byte(pdev, pos + PCI_CAP_FLAGS, &len);
		return len;
	case PCI_CAP_ID_HT:
	case PCI_CAP_ID_SATA:
		return 0;	/* the rest of the chain bounds them */
	}
	return -1;		/* hidden */
}

/* The length of an extended capability VFIO shows; -1: hidden. */
static int upci_ecap_len(u16 id)
{
	switch (id) {
	case PCI_EXT_CAP_ID_ERR:
		return PCI_ERR_ROOT_COMMAND;
	case PCI_EXT_CAP_ID_DSN:
		return PCI_EXT_CAP_DSN_SIZEOF;
	case PCI_EXT_CAP_ID_PWR:
		return PCI_EXT_CAP_PWR_SIZEOF;
	case PCI_EXT_CAP_ID_ARI:
		return PCI_EXT_CAP_ARI_SIZEOF;
	case PCI_EXT_CAP_ID_ATS:
		return PCI_EXT_CAP_ATS_SIZEOF;
	case PCI_EXT_CAP_ID_SRIOV:
		return PCI_EXT_CAP_SRIOV_SIZEOF;
	case PCI_EXT_CAP_ID_MCAST:
		return PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF;
	case PCI_EXT_CAP_ID_PRI:
		return PCI_EXT_CAP_PRI_SIZEOF;
	case PCI_EXT_CAP_ID_LTR:
		return PCI_EXT_CAP_LTR_SIZEOF;
	case PCI_EXT_CAP_ID_VC:
	case PCI_EXT_CAP_ID_MFVC:
	case PCI_EXT_CAP_ID_VC9:
	case PCI_EXT_CAP_ID_VNDR:
	case PCI_EXT_CAP_ID_ACS:
	case PCI_EXT_CAP_ID_REBAR:
	case PCI_EXT_CAP_ID_DPA:
	case PCI_EXT_CAP_ID_TPH:
		return 0;	/* the rest of the chain bounds them */
	}
	return -1;
}

/*
 * A shown capability of @len bytes at @pos (0: up to the next one or the
 * end of its space): read-only from the device, but for the header bytes
 * that chain it (@hdr bytes, virtual).
 */
static void upci_show(struct upci_device *udev, int pos, int len, int hdr,
		      int end)
{
	int i;

	if (!len || pos + len > end)
		len = end - pos;
	for (i = 0; i < len; i++) {
		udev->vbits[pos + i] = i < hdr ? 0xff : 0;
		udev->wbits[pos + i] = 0;
	}
	__set_bit(pos, udev->cap_starts);
	__set_bit(pos + len, udev->cap_starts);
}

/* The control registers of the capabilities that have them. */
static void upci_cap_perms(struct upci_device *udev, u8 id, int pos)
{
	u16 flags = upci_le(udev->vconfig + pos + PCI_MSI_FLAGS, 2);

	switch (id) {
	case PCI_CAP_ID_PM:
		/* PME is the host's; the power state changes by our hand. */
		upci_perm(udev, pos + PCI_PM_PMC, 2, PCI_PM_CAP_PME_MASK, 0);
		upci_perm(udev, pos + PCI_PM_CTRL, 4,
			  PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS,
			  ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS |
			    PCI_PM_CTRL_STATE_MASK));
		upci_put_le(udev->vconfig + pos + PCI_PM_PMC, 2,
			    upci_le(udev->vconfig + pos + PCI_PM_PMC, 2) &
			    ~PCI_PM_CAP_PME_MASK);
		upci_put_le(udev->vconfig + pos + PCI_PM_CTRL, 2,
			    upci_le(udev->vconfig + pos + PCI_PM_CTRL, 2) &
			    ~(PCI_PM_CTRL_PME_ENABLE |
			      PCI_PM_CTRL_PME_STATUS));
		udev->pm_ctrl = pos + PCI_PM_CTRL;
		break;
	case PCI_CAP_ID_PCIX:
		upci_perm(udev, pos + PCI_X_CMD, 2, 0, 0xffff);
		upci_perm(udev, pos + PCI_X_ECC_CSR, 4, 0, ~0U);
		break;
	case PCI_CAP_ID_EXP:
		upci_perm(udev, pos + PCI_EXP_DEVCTL, 2,
			  PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD |
			  PCI_EXP_DEVCTL_READRQ, ~PCI_EXP_DEVCTL_PHANTOM & 0xffff);
		upci_perm(udev, pos + PCI_EXP_DEVCTL2, 2, 0,
			  ~PCI_EXP_DEVCTL2_ARI & 0xffff);
		udev->exp_devctl = pos + PCI_EXP_DEVCTL;
		break;
	case PCI_CAP_ID_AF:
		upci_perm(udev, pos + PCI_AF_CTRL, 1, PCI_AF_CTRL_FLR,
			  PCI_AF_CTRL_FLR);
		udev->af_ctrl = pos + PCI_AF_CTRL;
		break;
	case PCI_CAP_ID_MSI:
		/* Flags (low byte), address and data virtual; masks real. */
		upci_perm(udev, pos + PCI_MSI_FLAGS, 1, 0xff, 0xff);
		upci_perm(udev, pos + PCI_MSI_ADDRESS_LO, 4, ~0U, ~0U);
		if (flags & PCI_MSI_FLAGS_64BIT) {
			upci_perm(udev, pos + PCI_MSI_ADDRESS_HI, 4, ~0U, ~0U);
			upci_perm(udev, pos + PCI_MSI_DATA_64, 2, 0xffff,
				  0xffff);
			if (flags & PCI_MSI_FLAGS_MASKBIT)
				upci_perm(udev, pos + PCI_MSI_MASK_64, 8, 0,
					  ~0U);
		} else {
			upci_perm(udev, pos + PCI_MSI_DATA_32, 2, 0xffff,
				  0xffff);
			if (flags & PCI_MSI_FLAGS_MASKBIT)
				upci_perm(udev, pos + PCI_MSI_MASK_32, 8, 0,
					  ~0U);
		}
		/* Off, and no more vectors than SET_IRQS enabled. */
		upci_put_le(udev->vconfig + pos + PCI_MSI_FLAGS, 2,
			    flags & ~(PCI_MSI_FLAGS_ENABLE |
				      PCI_MSI_FLAGS_QSIZE |
				      PCI_MSI_FLAGS_QMASK));
		udev->msi = pos;
		break;
	}
}

/* The standard capability chain, unknown capabilities left out. */
static void upci_caps_build(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;
	u8 *prev = udev->vconfig + PCI_CAPABILITY_LIST;
	int shown = 0, loops = PCI_CFG_SPACE_SIZE / PCI_CAP_SIZEOF;
	u16 status;
	u8 pos, id, next;

	pci_read_config_word(pdev, PCI_STATUS, &status);
	pos = status & PCI_STATUS_CAP_LIST ? udev->vconfig[PCI_CAPABILITY_LIST]
					   : 0;
	*prev = 0;
	while (pos >= PCI_STD_HEADER_SIZEOF && loops--) {
		int len;

		pos &= ~3;
		pci_read_config_byte(pdev, pos + PCI_CAP_LIST_ID, &id);
		pci_read_config_byte(pdev, pos + PCI_CAP_LIST_NEXT, &next);
		len = upci_cap_len(udev, id, pos);
		if (len >= 0) {
			*prev = pos;
			upci_show(udev, pos, len, 2, PCI_CFG_SPACE_SIZE);
			udev->vconfig[pos + PCI_CAP_LIST_ID] = id;
			prev = udev->vconfig + pos + PCI_CAP_LIST_NEXT;
			*prev = 0;
			upci_cap_perms(udev, id, pos);
			shown++;
		} else {
			pci_info(pdev, "iommufd-pci: capability %#x at %#x left out\n",
				 id, pos);
		}
		pos = next;
	}
	if (!shown)
		upci_put_le(udev->vconfig + PCI_STATUS, 2,
			    upci_le(udev->vconfig + PCI_STATUS, 2) &
			    ~PCI_STATUS_CAP_LIST);
}

/* AER: the masks, severities, status bits and ECRC enables are the user's. */
static void upci_aer_perms(struct upci_device *udev, int pos)
{
	u32 unc = PCI_ERR_UNC_UND | PCI_ERR_UNC_DLP | PCI_ERR_UNC_SURPDN |
		  PCI_ERR_UNC_POISON_TLP | PCI_ERR_UNC_FCP |
		  PCI_ERR_UNC_COMP_TIME | PCI_ERR_UNC_COMP_ABORT |
		  PCI_ERR_UNC_UNX_COMP | PCI_ERR_UNC_RX_OVER |
		  PCI_ERR_UNC_MALF_TLP | PCI_ERR_UNC_ECRC | PCI_ERR_UNC_UNSUP |
		  PCI_ERR_UNC_ACSV | PCI_ERR_UNC_INTN | PCI_ERR_UNC_MCBTLP |
		  PCI_ERR_UNC_ATOMEG | PCI_ERR_UNC_TLPPRE;
	u32 cor = PCI_ERR_COR_RCVR | PCI_ERR_COR_BAD_TLP |
		  PCI_ERR_COR_BAD_DLLP | PCI_ERR_COR_REP_ROLL |
		  PCI_ERR_COR_REP_TIMER | PCI_ERR_COR_ADV_NFAT |
		  PCI_ERR_COR_INTERNAL | PCI_ERR_COR_LOG_OVER;

	upci_perm(udev, pos + PCI_ERR_UNCOR_STATUS, 4, 0, unc);
	upci_perm(udev, pos + PCI_ERR_UNCOR_MASK, 4, 0, unc);
	upci_perm(udev, pos + PCI_ERR_UNCOR_SEVER, 4, 0, unc);
	upci_perm(udev, pos + PCI_ERR_COR_STATUS, 4, 0, cor);
	upci_perm(udev, pos + PCI_ERR_COR_MASK, 4, 0, cor);
	upci_perm(udev, pos + PCI_ERR_CAP, 4, 0,
		  PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE);
}

/*
 * The extended chain: its headers are virtual.  An unknown capability is
 * skipped by its predecessor's next pointer; the first one, which has
 * none, stays as an empty header (ID 0) pointing on.
 */
static void upci_ecaps_build(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;
	int pos = PCI_CFG_SPACE_SIZE, end = pdev->cfg_size;
	int loops = (end - PCI_CFG_SPACE_SIZE) / PCI_CAP_SIZEOF, shown = 0;
	u8 *prev = NULL;
	u32 header;

	if (end <= PCI_CFG_SPACE_SIZE)
		return;
	while (pos >= PCI_CFG_SPACE_SIZE && pos < end && loops--) {
		u16 id;
		int len;

		if (pci_read_config_dword(pdev, pos, &header) ||
		    !header || header == ~0U)
			break;
		id = PCI_EXT_CAP_ID(header);
		len = upci_ecap_len(id);
		if (len < 0 && prev) {
			/* Point the previous one past it. */
			upci_put_le(prev, 4, (upci_le(prev, 4) & 0x000fffff) |
				    (PCI_EXT_CAP_NEXT(header) << 20));
			pos = PCI_EXT_CAP_NEXT(header);
			continue;
		}
		upci_show(udev, pos, len < 0 ? PCI_CAP_SIZEOF : len, 4, end);
		upci_put_le(udev->vconfig + pos, 4,
			    len < 0 ? header & 0xfff00000 : header);
		if (id == PCI_EXT_CAP_ID_ERR)
			upci_aer_perms(udev, pos);
		if (id == PCI_EXT_CAP_ID_PWR)
			upci_perm(udev, pos + PCI_PWR_DATA, 1, 0, 0xff);
		shown += len >= 0;
		prev = udev->vconfig + pos;
		pos = PCI_EXT_CAP_NEXT(header);
	}
	if (!shown) {
		upci_put_le(udev->vconfig + PCI_CFG_SPACE_SIZE, 4, 0);
		upci_perm(udev, PCI_CFG_SPACE_SIZE, 4, ~0U, 0);
	}
}

/* The BAR registers and the ROM BAR: virtual, sized like hardware. */
static void upci_bars_build(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;
	int bar;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		int pos = PCI_BASE_ADDRESS_0 + 4 * bar;
		unsigned long flags = pci_resource_flags(pdev, bar);
		u64 mask = ~(pci_resource_len(pdev, bar) - 1);
		u32 type;

		upci_perm(udev, pos, 4, ~0U, 0);
		/* Not assigned by the host: not implemented, for the user. */
		if (!pci_resource_start(pdev, bar)) {
			upci_put_le(udev->vconfig + pos, 4, 0);
			continue;
		}
		if (flags & IORESOURCE_IO) {
			type = PCI_BASE_ADDRESS_SPACE_IO;
			mask &= PCI_BASE_ADDRESS_IO_MASK;
		} else {
			type = (flags & IORESOURCE_PREFETCH ?
				PCI_BASE_ADDRESS_MEM_PREFETCH : 0) |
			       (flags & IORESOURCE_MEM_64 ?
				PCI_BASE_ADDRESS_MEM_TYPE_64 : 0);
			mask &= (u64)PCI_BASE_ADDRESS_MEM_MASK | ~0ULL << 32;
		}
		upci_perm(udev, pos, 4, ~0U, (u32)mask);
		upci_put_le(udev->vconfig + pos, 4,
			    (upci_le(udev->vconfig + pos, 4) & (u32)mask) |
			    type);
		if (type & PCI_BASE_ADDRESS_MEM_TYPE_64 &&
		    bar + 1 < PCI_STD_NUM_BARS) {
			bar++;
			upci_perm(udev, pos + 4, 4, ~0U, mask >> 32);
			upci_put_le(udev->vconfig + pos + 4, 4,
				    upci_le(udev->vconfig + pos + 4, 4) &
				    (mask >> 32));
		}
	}
	if (pci_resource_start(pdev, PCI_ROM_RESOURCE)) {
		u32 mask = ~(pci_resource_len(pdev, PCI_ROM_RESOURCE) - 1) &
			   PCI_ROM_ADDRESS_MASK;

		upci_perm(udev, PCI_ROM_ADDRESS, 4, ~0U,
			  mask | PCI_ROM_ADDRESS_ENABLE);
		upci_put_le(udev->vconfig + PCI_ROM_ADDRESS, 4,
			    upci_le(udev->vconfig + PCI_ROM_ADDRESS, 4) &
			    (mask | PCI_ROM_ADDRESS_ENABLE));
	} else {
		upci_perm(udev, PCI_ROM_ADDRESS, 4, ~0U, 0);
		upci_put_le(udev->vconfig + PCI_ROM_ADDRESS, 4, 0);
	}
}

/* The type-0 header. */
static void upci_header_build(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;

	upci_perm(udev, PCI_VENDOR_ID, 4, ~0U, 0);
	upci_perm(udev, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE, 0xffff);
	upci_perm(udev, PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
	upci_perm(udev, PCI_CLASS_REVISION, 4, 0, 0);
	upci_perm(udev, PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
	upci_perm(udev, PCI_LATENCY_TIMER, 1, 0, 0xff);
	upci_perm(udev, PCI_HEADER_TYPE, 1, 0, 0);
	upci_perm(udev, PCI_BIST, 1, 0, 0xff);
	upci_perm(udev, PCI_CARDBUS_CIS, 8, 0, 0);
	upci_perm(udev, PCI_CAPABILITY_LIST, 4, 0xff, 0);
	upci_perm(udev, 0x38, 4, 0, 0);
	upci_perm(udev, PCI_INTERRUPT_LINE, 1, 0xff, 0xff);
	upci_perm(udev, PCI_INTERRUPT_PIN, 1, 0xff, 0);
	upci_perm(udev, PCI_MIN_GNT, 2, 0, 0);
	upci_put_le(udev->vconfig + PCI_COMMAND, 2,
		    udev->intx_user_disabled ? PCI_COMMAND_INTX_DISABLE : 0);
	/* No routed interrupt: no INTx pin, as VFIO shows it. */
	if (!pdev->irq || pdev->irq == IRQ_NOTCONNECTED)
		udev->vconfig[PCI_INTERRUPT_PIN] = 0;
	__set_bit(0, udev->cap_starts);
	__set_bit(PCI_STD_HEADER_SIZEOF, udev->cap_starts);
}

/* Read the device's config space into vconfig, a dword at a time. */
static void upci_config_snapshot(struct upci_device *udev)
{
	int pos;
	u32 v;

	for (pos = 0; pos < udev->pdev->cfg_size; pos += 4) {
		if (pci_read_config_dword(udev->pdev, pos, &v))
			v = ~0U;
		upci_put_le(udev->vconfig + pos, 4, v);
	}
}

/*
 * Build the user's view from the device: the masks of every byte and the
 * values the user starts from.  Bytes outside the header and every shown
 * capability are the device's, both ways.
 */
static void upci_config_build(struct upci_device *udev)
{
	int size = udev->pdev->cfg_size;

	upci_config_snapshot(udev);
	memset(udev->vbits, 0, size);
	memset(udev->wbits, 0xff, size);
	bitmap_zero(udev->cap_starts, size + 1);
	udev->pm_ctrl = 0;
	udev->exp_devctl = 0;
	udev->af_ctrl = 0;
	udev->msi = 0;
	udev->msi_qmax = 0;
	upci_header_build(udev);
	upci_bars_build(udev);
	upci_caps_build(udev);
	upci_ecaps_build(udev);
}

/**
 * upci_config_init() - the config space view of a new device
 * @udev: the device, being probed
 *
 * Return: 0 or -ENOMEM.
 */
int upci_config_init(struct upci_device *udev)
{
	int size = udev->pdev->cfg_size;

	udev->vconfig = iommufd_kzalloc(3 * size, GFP_KERNEL);
	udev->cap_starts = iommufd_bitmap_zalloc(size + 1, GFP_KERNEL);
	if (!udev->vconfig || !udev->cap_starts) {
		upci_config_free(udev);
		return -ENOMEM;
	}
	udev->vbits = udev->vconfig + size;
	udev->wbits = udev->vbits + size;
	upci_config_build(udev);
	return 0;
}

/**
 * upci_config_free() - undo upci_config_init()
 * @udev: the device
 */
void upci_config_free(struct upci_device *udev)
{
	kfree(udev->vconfig);
	bitmap_free(udev->cap_starts);
	udev->vconfig = NULL;
	udev->cap_starts = NULL;
}

/**
 * upci_config_bind() - a fresh view for a new binding
 * @udev: the device, being bound: enabled, its BAR registers as the
 *        kernel assigned them (its lock held)
 *
 * Also notes the BAR registers, to put back after a reset the kernel did
 * not see, and turns on the memory decode of the user's view as the
 * device has it.
 */
void upci_config_bind(struct upci_device *udev)
{
	struct pci_dev *pdev = udev->pdev;
	int bar;
	u16 cmd;

	lockdep_assert_held(&udev->lock);
	udev->intx_user_disabled = false;
	upci_config_build(udev);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		pci_read_config_dword(pdev, PCI_BASE_ADDRESS_0 + 4 * bar,
				      &udev->raw_bars[bar]);
	pci_read_config_dword(pdev, PCI_ROM_ADDRESS, &udev->raw_rom);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	upci_put_le(udev->vconfig + PCI_COMMAND, 2,
		    cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
	down_write(&udev->mmio_lock);
	udev->mem_on = cmd & PCI_COMMAND_MEMORY;
	up_write(&udev->mmio_lock);
}

/**
 * upci_config_unbind() - the view of an unbound device: the device's own
 * @udev: the device, unbound, its config space restored (its lock held)
 */
void upci_config_unbind(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	udev->intx_user_disabled = false;
	upci_config_build(udev);
}

/**
 * upci_config_msi_enabled() - SET_IRQS enabled or disabled MSI
 * @udev: the device (its lock held)
 * @nvec: the vectors enabled, 0 for none
 *
 * The MSI flags of the user's view then offer that many vectors (as
 * VFIO shows them: multiple-message capable is what SET_IRQS enabled),
 * and say enabled only while MSI is.
 */
void upci_config_msi_enabled(struct upci_device *udev, unsigned int nvec)
{
	lockdep_assert_held(&udev->lock);
	udev->msi_qmax = nvec ? fls(nvec * 2 - 1) - 1 : 0;
	if (!nvec && udev->msi)
		udev->vconfig[udev->msi + PCI_MSI_FLAGS] &=
			~PCI_MSI_FLAGS_ENABLE;
}

/* ------------------------------------------------------- access */

/* Did a reset the kernel did not do clear the BAR registers? */
static bool upci_bars_lost(struct upci_device *udev)
{
	int bar;
	u32 v;

	lockdep_assert_held(&udev->lock);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		if (!udev->raw_bars[bar])
			continue;
		if (pci_read_config_dword(udev->pdev,
					  PCI_BASE_ADDRESS_0 + 4 * bar, &v) ||
		    v != udev->raw_bars[bar])
			return true;
	}
	return false;
}

static void upci_bars_restore(struct upci_device *udev)
{
	int bar;

	lockdep_assert_held(&udev->lock);
	pci_info(udev->pdev, "iommufd-pci: device was reset behind our back, restoring its BARs\n");
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		pci_write_config_dword(udev->pdev, PCI_BASE_ADDRESS_0 + 4 * bar,
				       udev->raw_bars[bar]);
	pci_write_config_dword(udev->pdev, PCI_ROM_ADDRESS, udev->raw_rom);
}

/* The device's @n bytes at @pos, as a little-endian value. */
static int upci_hw_read(struct pci_dev *pdev, int pos, int n, u32 *val)
{
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

static int upci_hw_write(struct pci_dev *pdev, int pos, int n, u32 val)
{
	int rc;

	if (n == 4)
		rc = pci_user_write_config_dword(pdev, pos, val);
	else if (n == 2)
		rc = pci_user_write_config_word(pdev, pos, val);
	else
		rc = pci_user_write_config_byte(pdev, pos, val);
	return rc ? pcibios_err_to_errno(rc) : 0;
}

static int upci_chunk_read(struct upci_device *udev, int pos, int n,
			   u32 *val)
{
	u32 virt = upci_le(udev->vbits + pos, n);
	u32 full = n == 4 ? ~0U : (1U << (8 * n)) - 1;
	u32 hw = 0;
	int rc;

	lockdep_assert_held(&udev->lock);
	/* MSI: as many vectors offered as SET_IRQS enabled. */
	if (udev->msi && pos <= udev->msi + PCI_MSI_FLAGS &&
	    pos + n > udev->msi + PCI_MSI_FLAGS) {
		u8 *f = udev->vconfig + udev->msi + PCI_MSI_FLAGS;

		*f = (*f & ~PCI_MSI_FLAGS_QMASK) | (udev->msi_qmax << 1);
	}
	if (virt != full) {
		rc = upci_hw_read(udev->pdev, pos, n, &hw);
		if (rc)
			return rc;
	}
	*val = (hw & ~virt) | (upci_le(udev->vconfig + pos, n) & virt);
	return 0;
}

/*
 * The device's bits of a write: those of @write that are not virtual.
 * The command register's INTx-disable bit may be set by the INTx handler
 * meanwhile: while INTx is live, that dword is read and written under
 * intx_lock, with the accessors that do not sleep.
 */
static int upci_chunk_write_hw(struct upci_device *udev, int pos, int n,
			       u32 val, u32 write)
{
	struct pci_dev *pdev = udev->pdev;
	u32 hw_bits = write & ~upci_le(udev->vbits + pos, n);
	bool atomic = pos < PCI_COMMAND + 2 && pos + n > PCI_COMMAND &&
		      upci_irq_intx_live(udev);
	unsigned long flags = 0;
	u32 cur = 0;
	int rc = 0;

	lockdep_assert_held(&udev->lock);
	if (!hw_bits)
		return 0;
	if (atomic)
		spin_lock_irqsave(&udev->intx_lock, flags);
	/* A write of every bit needs no read. */
	if (hw_bits != (n == 4 ? ~0U : (1U << (8 * n)) - 1)) {
		if (atomic)
			rc = pcibios_err_to_errno(n == 4 ?
				pci_read_config_dword(pdev, pos, &cur) :
				pci_read_config_word(pdev, pos, (u16 *)&cur));
		else
			rc = upci_hw_read(pdev, pos, n, &cur);
	}
	if (!rc) {
		val = (cur & ~hw_bits) | (val & hw_bits);
		if (atomic)
			rc = pcibios_err_to_errno(n == 4 ?
				pci_write_config_dword(pdev, pos, val) :
				n == 2 ? pci_write_config_word(pdev, pos, val) :
				pci_write_config_byte(pdev, pos, val));
		else
			rc = upci_hw_write(pdev, pos, n, val);
	}
	if (atomic)
		spin_unlock_irqrestore(&udev->intx_lock, flags);
	return rc;
}

/*
 * The command register was written: the decode enables follow the user
 * (BAR access stops, and mappings go, while memory is off), and the
 * virtual INTx-disable bit masks the line.
 */
static int upci_command_write(struct upci_device *udev, int pos, int n,
			      u32 val, u32 write)
{
	u16 old = upci_le(udev->vconfig + PCI_COMMAND, 2), cmd;
	bool mem;
	int rc;

	lockdep_assert_held(&udev->lock);
	down_write(&udev->mmio_lock);
	/* The user's new command register, as far as this write goes. */
	cmd = (old & ~(write << (8 * (pos - PCI_COMMAND)))) |
	      ((val & write) << (8 * (pos - PCI_COMMAND)));
	mem = cmd & PCI_COMMAND_MEMORY;
	if (!mem && udev->opener)
		unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
	if ((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_IO)) && upci_bars_lost(udev))
		upci_bars_restore(udev);
	rc = upci_chunk_write_hw(udev, pos, n, val, write);
	if (!rc) {
		upci_put_le(udev->vconfig + PCI_COMMAND, 2, cmd);
		udev->mem_on = mem;
	}
	up_write(&udev->mmio_lock);
	if (!rc)
		upci_irq_intx_user_mask(udev, cmd & PCI_COMMAND_INTX_DISABLE);
	return rc;
}

/* The power state written to PM control: the kernel changes it. */
static void upci_pm_write(struct upci_device *udev, u32 ctrl)
{
	static const pci_power_t states[] = {
		PCI_D0, PCI_D1, PCI_D2, PCI_D3hot
	};
	pci_power_t state = states[ctrl & PCI_PM_CTRL_STATE_MASK];

	lockdep_assert_held(&udev->lock);
	down_write(&udev->mmio_lock);
	if (state >= PCI_D3hot && udev->opener)
		unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
	pci_set_power_state(udev->pdev, state);
	up_write(&udev->mmio_lock);
}

/* A function-level reset asked for through config space. */
static void upci_config_flr(struct upci_device *udev)
{
	lockdep_assert_held(&udev->lock);
	down_write(&udev->mmio_lock);
	if (udev->opener)
		unmap_mapping_range(udev->opener->f_mapping, 0, 0, true);
	pci_try_reset_function(udev->pdev);
	up_write(&udev->mmio_lock);
	upci_irq_after_reset(udev);
}

/* After a write to PCIe device control: FLR and the read request size. */
static void upci_devctl_written(struct upci_device *udev, u16 old)
{
	struct pci_dev *pdev = udev->pdev;
	u8 *p = udev->vconfig + udev->exp_devctl;
	u16 ctrl = upci_le(p, 2);
	u32 cap;

	lockdep_assert_held(&udev->lock);
	if (ctrl & PCI_EXP_DEVCTL_BCR_FLR) {
		/* The bit always reads 0. */
		upci_put_le(p, 2, ctrl & ~PCI_EXP_DEVCTL_BCR_FLR);
		pcie_capability_read_dword(pdev, PCI_EXP_DEVCAP, &cap);
		if (cap & PCI_EXP_DEVCAP_FLR)
			upci_config_flr(udev);
	}
	/* No lower than the payload size, which is the platform's. */
	if ((ctrl ^ old) & PCI_EXP_DEVCTL_READRQ)
		pcie_set_readrq(pdev, max(128 << ((ctrl & PCI_EXP_DEVCTL_READRQ)
						  >> 12), pcie_get_mps(pdev)));
}

static void upci_af_written(struct upci_device *udev)
{
	u8 *ctrl = udev->vconfig + udev->af_ctrl;
	u8 cap;

	lockdep_assert_held(&udev->lock);
	if (!(*ctrl & PCI_AF_CTRL_FLR))
		return;
	*ctrl &= ~PCI_AF_CTRL_FLR;
	pci_read_config_byte(udev->pdev, udev->af_ctrl - PCI_AF_CTRL +
			     PCI_AF_CAP, &cap);
	if ((cap & PCI_AF_CAP_FLR) && (cap & PCI_AF_CAP_TP))
		upci_config_flr(udev);
}

/* MSI flags: enabled only through SET_IRQS, no more than it enabled. */
static void upci_msi_flags_written(struct upci_device *udev)
{
	u8 *f = udev->vconfig + udev->msi + PCI_MSI_FLAGS;

	lockdep_assert_held(&udev->lock);
	if (udev->irq_index != IOMMUFD_PCI_MSI_IRQ_INDEX)
		*f &= ~PCI_MSI_FLAGS_ENABLE;
	if (((*f & PCI_MSI_FLAGS_QSIZE) >> 4) > udev->msi_qmax)
		*f = (*f & ~PCI_MSI_FLAGS_QSIZE) | (udev->msi_qmax << 4);
}

/* Does the access [@pos, @pos + @n) touch the @len-byte register @reg? */
static bool upci_touches(int pos, int n, int reg, int len)
{
	return reg && pos < reg + len && reg < pos + n;
}

static int upci_chunk_write(struct upci_device *udev, int pos, int n,
			    u32 val)
{
	u32 write = upci_le(udev->wbits + pos, n);
	u32 virt = upci_le(udev->vbits + pos, n);
	u16 old_devctl = 0;
	int rc;

	lockdep_assert_held(&udev->lock);
	if (!write)
		return 0;	/* nothing writable: dropped */
	if (pos < PCI_COMMAND + 2 && pos + n > PCI_COMMAND)
		return upci_command_write(udev, pos, n, val, write);
	if (udev->exp_devctl)
		old_devctl = upci_le(udev->vconfig + udev->exp_devctl, 2);
	rc = upci_chunk_write_hw(udev, pos, n, val, write);
	if (rc)
		return rc;
	if (write & virt)
		upci_put_le(udev->vconfig + pos, n,
			    (upci_le(udev->vconfig + pos, n) & ~(write & virt)) |
			    (val & write & virt));
	/* The power state is the low byte of PM control (as VFIO: from it). */
	if (pos == udev->pm_ctrl)
		upci_pm_write(udev, val);
	else if (upci_touches(pos, n, udev->exp_devctl, 2))
		upci_devctl_written(udev, old_devctl);
	else if (upci_touches(pos, n, udev->af_ctrl, 1))
		upci_af_written(udev);
	else if (udev->msi &&
		 upci_touches(pos, n, udev->msi + PCI_MSI_FLAGS, 2))
		upci_msi_flags_written(udev);
	return 0;
}

/* The largest aligned access at @pos within @count and one capability. */
static int upci_chunk_size(struct upci_device *udev, int pos, size_t count)
{
	int n = 1;

	lockdep_assert_held(&udev->lock);
	while (n < 4 && n < count && (pos + n) % 4 &&
	       !test_bit(pos + n, udev->cap_starts))
		n++;
	if (n >= 4 && !(pos % 4))
		return 4;
	if (n >= 2 && !(pos % 2))
		return 2;
	return 1;
}

/**
 * upci_config_rw() - read or write the user's view of config space
 * @udev: the device (its lock held; bound, for writes)
 * @kbuf: the bytes, little-endian as config space is
 * @count: how many
 * @pos: where
 * @write: a write
 *
 * Goes in aligned accesses of up to 4 bytes that stay within one
 * capability, as VFIO does.
 *
 * Return: @count, or a negative errno: -EFAULT when [@pos, @pos + @count)
 * leaves config space (as VFIO), else the device's error.
 */
ssize_t upci_config_rw(struct upci_device *udev, u8 *kbuf, size_t count,
		       int pos, bool write)
{
	size_t done = 0;

	lockdep_assert_held(&udev->lock);
	if (pos < 0 || pos >= udev->pdev->cfg_size ||
	    count > udev->pdev->cfg_size - pos)
		return -EFAULT;
	while (done < count) {
		int n = upci_chunk_size(udev, pos, count - done);
		u32 val;
		int rc;

		if (write) {
			rc = upci_chunk_write(udev, pos, n,
					      upci_le(kbuf + done, n));
		} else {
			rc = upci_chunk_read(udev, pos, n, &val);
			if (!rc)
				upci_put_le(kbuf + done, n, val);
		}
		if (rc)
			return rc;
		done += n;
		pos += n;
	}
	return done;
}
