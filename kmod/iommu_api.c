// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel IOMMU API backend: HWPTs are real iommu_domains programmed
 * with iommu_map()/iommu_unmap(), and physical devices reach them through
 * their IOMMU group (group.c).  This is what drives VT-d or AMD-Vi.
 */
#include <linux/device.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "iommufd_private.h"
#include "compat.h"

/*
 * 6.1's IOMMU drivers do not order a domain's attach and detach against
 * its map, unmap and IOTLB flush: VT-d's flush looks up the IOMMUs the
 * domain is attached to while a detach takes one away (a NULL dereference
 * in iommu_flush_iotlb_psi), and its first attach drops table levels a
 * map may be walking (the domain then drifts from its IOAS).  VFIO's
 * type1 holds one lock across all of these; here each domain's @hw_lock
 * does: map, unmap and flush take it for reading, attach and detach for
 * writing.  It is held only around the driver calls -- never across
 * pinning.  Map and unmap take it under the IOAS's locks (and a dma-buf's
 * pages->mutex); attach and detach take igroup->lock under it, the one
 * lock of the module nested inside (iommufd_private.h's lock order).
 */
struct kernel_domain {
	struct iommufd_domain base;
	struct rw_semaphore hw_lock;
	struct iommu_domain *domain;
	const struct bus_type *bus;
};

static struct kernel_domain *to_kdomain(struct iommufd_domain *d)
{
	return container_of(d, struct kernel_domain, base);
}

static int kdomain_map(struct iommufd_domain *d, unsigned long iova,
		       phys_addr_t paddr, size_t size, int prot)
{
	struct kernel_domain *kd = to_kdomain(d);
	int rc;

	if (iommufd_should_fail())
		return -ENOMEM;
	down_read(&kd->hw_lock);
	rc = compat_iommu_map(kd->domain, iova, paddr, size,
			      prot | IOMMU_CACHE, GFP_KERNEL_ACCOUNT);
	up_read(&kd->hw_lock);
	return rc;
}

static void kdomain_unmap(struct iommufd_domain *d, unsigned long iova,
			  size_t size, struct iommu_iotlb_gather *gather)
{
	struct kernel_domain *kd = to_kdomain(d);
	size_t done;

	down_read(&kd->hw_lock);
	done = iommu_unmap_fast(kd->domain, iova, size, gather);
	up_read(&kd->hw_lock);
	WARN_ON(done != size);
}

static void kdomain_flush(struct iommufd_domain *d,
			  struct iommu_iotlb_gather *gather)
{
	struct kernel_domain *kd = to_kdomain(d);

	down_read(&kd->hw_lock);
	iommu_iotlb_sync(kd->domain, gather);
	up_read(&kd->hw_lock);
}

/* Still empty: called before the HWPT's first map. */
static bool kdomain_enforce_cache_coherency(struct iommufd_domain *d)
{
	struct iommu_domain *domain = to_kdomain(d)->domain;

	return domain->ops->enforce_cache_coherency &&
	       domain->ops->enforce_cache_coherency(domain);
}

static void kdomain_free(struct iommufd_domain *d)
{
	struct kernel_domain *kd = to_kdomain(d);

	iommu_domain_free(kd->domain);
	kfree(kd);
	iommufd_stats_object(-1);
}

static const struct iommufd_domain_ops kdomain_ops = {
	.map = kdomain_map,
	.unmap = kdomain_unmap,
	.flush = kdomain_flush,
	.free = kdomain_free,
	.enforce_cache_coherency = kdomain_enforce_cache_coherency,
};

/* A physical device as bound to an iommufd. */
struct phys_dev {
	struct device *dev;
	struct iommufd_group *igroup;
};

static struct phys_dev *to_phys(struct iommufd_device *idev)
{
	return idev->priv;
}

static struct iommufd_domain *phys_domain_alloc(struct iommufd_device *idev,
					       u32 flags)
{
	struct device *dev = to_phys(idev)->dev;
	struct kernel_domain *kd;

	/*
	 * No kernel domain can report dirty pages here: 6.1's drivers have
	 * no dirty tracking, and 6.12's VT-d and AMD-Vi hand the pages they
	 * find to iova_bitmap_set(), which a kernel built without
	 * CONFIG_IOMMUFD_DRIVER (Debian's) compiles to nothing: the hardware
	 * bits would be cleared and every dirty page lost.
	 */
	if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
		return ERR_PTR(-EOPNOTSUPP);
	kd = iommufd_kzalloc(sizeof(*kd), GFP_KERNEL_ACCOUNT);
	if (!kd)
		return ERR_PTR(-ENOMEM);
	kd->domain = compat_paging_domain_alloc(dev);
	if (IS_ERR(kd->domain)) {
		struct iommu_domain *err = kd->domain;

		kfree(kd);
		return ERR_CAST(err);
	}
	init_rwsem(&kd->hw_lock);
	kd->bus = dev->bus;
	kd->base.ops = &kdomain_ops;
	kd->base.pgsize_bitmap = kd->domain->pgsize_bitmap;
	if (kd->domain->geometry.force_aperture) {
		kd->base.aperture_start = kd->domain->geometry.aperture_start;
		kd->base.aperture_last = kd->domain->geometry.aperture_end;
	} else {
		kd->base.aperture_last = ULONG_MAX;
	}
	iommufd_stats_object(1);
	return &kd->base;
}

static bool phys_domain_compatible(struct iommufd_device *idev,
				   struct iommufd_domain *d)
{
	return d->ops == &kdomain_ops &&
	       to_kdomain(d)->bus == to_phys(idev)->dev->bus;
}

static int phys_attach(struct iommufd_device *idev, struct iommufd_domain *d,
		       struct iommufd_domain *old)
{
	struct kernel_domain *kd = to_kdomain(d);
	struct kernel_domain *kold = old ? to_kdomain(old) : NULL;
	int rc;

	/* Both domains change their attachment: both locks, in address order. */
	if (kold && kold < kd) {
		down_write(&kold->hw_lock);
		down_write_nested(&kd->hw_lock, SINGLE_DEPTH_NESTING);
	} else {
		down_write(&kd->hw_lock);
		if (kold)
			down_write_nested(&kold->hw_lock,
					  SINGLE_DEPTH_NESTING);
	}
	rc = iommufd_group_attach(to_phys(idev)->igroup, kd->domain,
				  kold ? kold->domain : NULL);
	if (kold)
		up_write(&kold->hw_lock);
	up_write(&kd->hw_lock);
	return rc;
}

static void phys_detach(struct iommufd_device *idev)
{
	/* The device's HWPT is still set: its domain loses the device. */
	struct kernel_domain *kd;

	lockdep_assert_held(&idev->lock);
	kd = to_kdomain(idev->hwpt->domain);
	down_write(&kd->hw_lock);
	iommufd_group_detach(to_phys(idev)->igroup);
	up_write(&kd->hw_lock);
}

/*
 * 6.1 keeps the VT-d capability registers private to the driver; its
 * sysfs attributes (group "intel-iommu" of the IOMMU's device) are the
 * one place they are published.  Call the attribute's show() directly:
 * no path lookup, so the caller's root and mounts play no part.
 */
static int read_iommu_attr_u64(struct device *iommu_dev, const char *group,
			       const char *name, u64 *val)
{
	const struct attribute_group **g;
	struct attribute **a;
	char *page;
	ssize_t n = -ENOENT;
	int rc;

	page = (char *)__get_free_page(GFP_KERNEL);	/* show() wants a page */
	if (!page)
		return -ENOMEM;
	for (g = iommu_dev->groups; g && *g && n == -ENOENT; g++) {
		if (!(*g)->name || strcmp((*g)->name, group))
			continue;
		for (a = (*g)->attrs; a && *a; a++) {
			struct device_attribute *da =
				container_of(*a, struct device_attribute, attr);

			if (!strcmp((*a)->name, name) && da->show) {
				n = da->show(iommu_dev, da, page);
				break;
			}
		}
	}
	rc = n <= 0 ? (n ? n : -EIO) : kstrtou64(strim(page), 16, val);
	free_page((unsigned long)page);
	return rc;
}

/* The VT-d IOMMU that translates @dev's DMA, or NULL: not VT-d. */
static struct device *phys_vtd_iommu(struct device *dev)
{
	struct device *iommu_dev;

	if (!dev->iommu || !dev->iommu->iommu_dev ||
	    !dev->iommu->iommu_dev->dev)
		return NULL;
	iommu_dev = dev->iommu->iommu_dev->dev;
	return strncmp(dev_name(iommu_dev), "dmar", 4) ? NULL : iommu_dev;
}

/* VT-d's extended capability bit 7: Snoop Control (the SNP bit works). */
#define VTD_ECAP_SC BIT_ULL(7)

/**
 * iommufd_device_enforces_cc() - do @dev's IOMMU domains enforce coherency?
 * @dev: a device
 *
 * Whether the domains made for @dev can enforce cache coherency (make
 * no-snoop DMA snoop the CPU caches), as iommufd_device_bind_dev()
 * records it for the device: IOMMU_CAP_ENFORCE_CACHE_COHERENCY, or on
 * 6.1, which lacks it, the same answer from the IOMMU (AMD-Vi: always;
 * VT-d: with Snoop Control).  For a driver answering KVM's question
 * about its device file.  May sleep.
 *
 * Return: true when they do; false for a device without an IOMMU.
 */
bool iommufd_device_enforces_cc(struct device *dev)
{
	struct device *vtd;
	u64 ecap;
	int rc;

	if (!device_iommu_mapped(dev))
		return false;
	rc = compat_device_enforce_cc(dev);
	if (rc != -EOPNOTSUPP)
		return rc > 0;
	/* 6.1: what 6.2's capability says (see compat.h). */
	vtd = phys_vtd_iommu(dev);
	if (!vtd)
		return true;
	return !read_iommu_attr_u64(vtd, "intel-iommu", "ecap", &ecap) &&
	       (ecap & VTD_ECAP_SC);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_enforces_cc, IOMMUFD);

static bool phys_capable(struct iommufd_device *idev, enum iommufd_cap cap)
{
	struct device *dev = to_phys(idev)->dev;

	switch (cap) {
	case IOMMUFD_CAP_CACHE_COHERENCY:
		return device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY);
	case IOMMUFD_CAP_ENFORCE_CACHE_COHERENCY:
		return iommufd_device_enforces_cc(dev);
	}
	return false;
}

static int phys_hw_info(struct iommufd_device *idev,
			struct iommu_hw_info *info, void *data, u32 *data_len)
{
	struct device *dev = to_phys(idev)->dev;
	struct iommu_hw_info_vtd *vtd = data;
	struct device *iommu_dev;

	info->out_data_type = IOMMU_HW_INFO_TYPE_NONE;
	*data_len = 0;
	iommu_dev = phys_vtd_iommu(dev);
	if (!iommu_dev)
		return 0;	/* AMD-Vi and others: no type-specific data yet */
	if (read_iommu_attr_u64(iommu_dev, "intel-iommu", "cap",
				&vtd->cap_reg) ||
	    read_iommu_attr_u64(iommu_dev, "intel-iommu", "ecap",
				&vtd->ecap_reg))
		return 0;
	vtd->flags = 0;
	info->out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	*data_len = sizeof(*vtd);
	return 0;
}

static int phys_reserve(struct iommufd_device *idev, struct io_pagetable *iopt)
{
	return iommufd_group_reserve(to_phys(idev)->igroup, iopt, idev);
}

static void phys_release(struct iommufd_device *idev)
{
	struct phys_dev *pdev = to_phys(idev);

	iommufd_group_unbind(pdev->igroup);
	put_device(pdev->dev);
	kfree(pdev);
}

static const struct iommufd_device_ops phys_dev_ops = {
	.domain_alloc = phys_domain_alloc,
	.domain_compatible = phys_domain_compatible,
	.attach = phys_attach,
	.detach = phys_detach,
	.capable = phys_capable,
	.hw_info = phys_hw_info,
	.reserve = phys_reserve,
	.release = phys_release,
};

/**
 * iommufd_device_bind_dev - give a physical device to an iommufd
 * @ictx: the iommufd
 * @dev: a device whose driver does not use the DMA API
 * @id: returns the device id (dev_id) in @ictx
 *
 * The first bound device of an IOMMU group claims the group: its DMA is
 * blocked from here until an attach.  Fails with EBUSY (and says why in
 * the kernel log) when another device of the group is driven by a kernel
 * driver, with EINVAL when its IOMMU cannot make DMA cache-coherent.  Undo
 * with iommufd_device_unbind().
 */
struct iommufd_device *iommufd_device_bind_dev(struct iommufd_ctx *ictx,
					       struct device *dev, u32 *id)
{
	struct iommufd_device *idev;
	struct phys_dev *pdev;
	int rc;

	pdev = iommufd_kzalloc(sizeof(*pdev), GFP_KERNEL);
	if (!pdev)
		return ERR_PTR(-ENOMEM);
	pdev->igroup = iommufd_group_bind(dev, ictx);
	if (IS_ERR(pdev->igroup)) {
		rc = PTR_ERR(pdev->igroup);
		goto err_free;
	}
	pdev->dev = get_device(dev);
	idev = iommufd_device_bind(ictx, &phys_dev_ops, pdev, id);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto err_unbind;
	}
	idev->dev = dev;
	return idev;

err_unbind:
	put_device(dev);
	iommufd_group_unbind(pdev->igroup);
err_free:
	kfree(pdev);
	return ERR_PTR(rc);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_bind_dev, IOMMUFD);

/**
 * iommufd_device_group_id() - the IOMMU group of a device, for debugfs
 * @idev: the device
 *
 * Context: any; the caller keeps @idev bound (inspect.c holds idev->lock).
 *
 * Return: the group id, or -1 for a mock device (no IOMMU group).
 */
int iommufd_device_group_id(struct iommufd_device *idev)
{
	if (idev->ops != &phys_dev_ops)
		return -1;
	return iommufd_group_id(to_phys(idev)->igroup);
}
