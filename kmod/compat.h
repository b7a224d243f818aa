/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces that differ between the kernels the modules build
 * for (Debian's 6.1 and 6.12), each behind one name.  The only place that
 * tests the kernel version: the rest of the code calls these.
 */
#ifndef IOMMUFD_COMPAT_H
#define IOMMUFD_COMPAT_H

#include <linux/version.h>
#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/iommu.h>
#include <linux/magic.h>
#include <linux/irqdomain.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>

/*
 * Whether the kernel built for is @major.@minor or later (checkpatch
 * warns about LINUX_VERSION_CODE: this is the one place it is needed).
 */
#define COMPAT_KERNEL_AT_LEAST(major, minor) \
	(KERNEL_VERSION(major, minor, 0) <= LINUX_VERSION_CODE)

/*
 * pin_user_pages_remote() without its vmas argument, which 6.5 removed.
 * The caller holds mmap_read_lock(@mm).
 */
static inline long compat_pin_user_pages_remote(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long nr_pages,
						 unsigned int gup_flags,
						 struct page **pages,
						 int *locked)
{
#if COMPAT_KERNEL_AT_LEAST(6, 5)
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     locked);
#else
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, locked);
#endif
}

/**
 * compat_file_pin_page() - pin one page of a shmem or hugetlbfs file
 * @file: a shmem (memfd, tmpfs) or hugetlbfs file; others give -EINVAL
 * @pgoff: the page's offset in the file, in PAGE_SIZE units
 *
 * The page gets one FOLL_PIN reference, as pin_user_pages() would give,
 * so unpin_user_page() and its kin release it.  A page past the end of
 * the file gives -EINVAL.  6.12 has memfd_pin_folios(), which also moves
 * the folio out of ZONE_MOVABLE/CMA first (FOLL_LONGTERM); 6.1 has
 * nothing for files, so the page is found through the page cache (shmem
 * reads it in or allocates it; a hole of hugetlbfs is filled by
 * fallocate, which needs the file open for writing) and its reference
 * made a pin the way GUP makes one.  6.1 does not migrate it.
 *
 * Return: the page, or an ERR_PTR().
 */
static inline struct page *compat_file_pin_page(struct file *file,
						pgoff_t pgoff)
{
#if COMPAT_KERNEL_AT_LEAST(6, 11)
	loff_t start = (loff_t)pgoff << PAGE_SHIFT;
	struct folio *folio;
	pgoff_t offset;
	long n;

	n = memfd_pin_folios(file, start, start + PAGE_SIZE - 1, &folio, 1,
			     &offset);
	if (n < 0)
		return ERR_PTR(n);
	if (n != 1)
		return ERR_PTR(-EINVAL);
	return folio_page(folio, offset >> PAGE_SHIFT);
#else
	struct address_space *mapping = file->f_mapping;
	struct inode *inode = file_inode(file);
	loff_t pos = (loff_t)pgoff << PAGE_SHIFT;
	struct folio *folio;
	struct page *page;

	if (pos >= i_size_read(inode))
		return ERR_PTR(-EINVAL);
	/* shmem_file() and is_file_hugepages() need unexported symbols. */
	if (!S_ISREG(inode->i_mode))
		return ERR_PTR(-EINVAL);
	if (inode->i_sb->s_magic == TMPFS_MAGIC) {
		page = shmem_read_mapping_page_gfp(mapping, pgoff,
						   mapping_gfp_mask(mapping));
		if (IS_ERR(page))
			return page;
		folio = page_folio(page);
	} else if (inode->i_sb->s_magic == HUGETLBFS_MAGIC) {
		struct hstate *h = hstate_file(file);
		loff_t hpos = pos & huge_page_mask(h);
		int rc;

		folio = filemap_get_folio(mapping, pos >> huge_page_shift(h));
		if (!folio) {
			rc = vfs_fallocate(file, FALLOC_FL_KEEP_SIZE, hpos,
					   huge_page_size(h));
			if (rc)
				return ERR_PTR(rc);
			folio = filemap_get_folio(mapping,
						  pos >> huge_page_shift(h));
			if (!folio)
				return ERR_PTR(-EINVAL);
		}
		page = folio_page(folio, (pos - hpos) >> PAGE_SHIFT);
	} else {
		return ERR_PTR(-EINVAL);
	}
	/* The reference just taken becomes the pin's (try_grab_folio()). */
	if (folio_test_large(folio))
		atomic_inc(folio_pincount_ptr(folio));
	else
		folio_ref_add(folio, GUP_PIN_COUNTING_BIAS - 1);
	node_stat_mod_folio(folio, NR_FOLL_PIN_ACQUIRED, 1);
	return page;
#endif
}

/*
 * iommu_map() with the allocation flags for the page tables it may need,
 * an argument from 6.3 on (6.1 always allocates with GFP_KERNEL).
 */
static inline int compat_iommu_map(struct iommu_domain *domain,
				   unsigned long iova, phys_addr_t paddr,
				   size_t size, int prot, gfp_t gfp)
{
#if COMPAT_KERNEL_AT_LEAST(6, 3)
	return iommu_map(domain, iova, paddr, size, prot, gfp);
#else
	return iommu_map(domain, iova, paddr, size, prot);
#endif
}

/*
 * A new paging (translating) domain for @dev's IOMMU, or an ERR_PTR.
 * 6.11 allocates per device (the domain then fits @dev's IOMMU instance);
 * before, per bus, with NULL on failure.
 */
static inline struct iommu_domain *compat_paging_domain_alloc(struct device *dev)
{
#if COMPAT_KERNEL_AT_LEAST(6, 11)
	return iommu_paging_domain_alloc(dev);
#else
	struct iommu_domain *domain = iommu_domain_alloc(dev->bus);

	return domain ? domain : ERR_PTR(-ENOMEM);
#endif
}

/*
 * Whether @dev's MSIs are isolated (interrupt remapping): a DMA write to
 * the MSI window cannot raise an interrupt the device was not given.
 * 6.3 replaced the IOMMU capability and the irq domain check with one
 * question about the device's MSI domain.
 */
static inline bool compat_device_has_isolated_msi(struct device *dev)
{
#if COMPAT_KERNEL_AT_LEAST(6, 3)
	return msi_device_has_isolated_msi(dev);
#else
	return device_iommu_capable(dev, IOMMU_CAP_INTR_REMAP) ||
	       irq_domain_check_msi_remap();
#endif
}

/*
 * Take a reference on @file unless its last one is already gone (its
 * release has begun).  The caller keeps the struct file from being freed,
 * e.g. by finding it on a list its release removes it from under a lock
 * held here.  From 6.7 get_file_rcu() means something else (it reloads a
 * file pointer); the count is the same atomic_long_t up to 6.12.
 */
static inline bool compat_file_get_unless_zero(struct file *file)
{
#if COMPAT_KERNEL_AT_LEAST(6, 7)
	return atomic_long_inc_not_zero(&file->f_count);
#else
	return get_file_rcu(file);
#endif
}

/* Signal an eventfd once: 6.8 dropped the count argument. */
static inline void compat_eventfd_signal(struct eventfd_ctx *ctx)
{
#if COMPAT_KERNEL_AT_LEAST(6, 8)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * Whether @dev's IOMMU can enforce cache coherency in its domains: 1 or 0,
 * IOMMU_CAP_ENFORCE_CACHE_COHERENCY (6.2 on).  6.1 has no such capability:
 * there, 0 when the driver's domains cannot enforce at all, else
 * -EOPNOTSUPP (the caller asks the IOMMU: AMD-Vi's domains always can,
 * VT-d's only on an IOMMU with Snoop Control).
 */
static inline int compat_device_enforce_cc(struct device *dev)
{
#if COMPAT_KERNEL_AT_LEAST(6, 2)
	return device_iommu_capable(dev, IOMMU_CAP_ENFORCE_CACHE_COHERENCY);
#else
	const struct iommu_domain_ops *ops =
		dev_iommu_ops(dev)->default_domain_ops;

	return ops && ops->enforce_cache_coherency ? -EOPNOTSUPP : 0;
#endif
}

/* Set VMA flags in ->mmap(): 6.3 made vma->vm_flags read-only. */
static inline void compat_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
#if COMPAT_KERNEL_AT_LEAST(6, 3)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Move @group, attached to @old, onto @domain.  From 6.5 the kernel
 * switches in one step (iommu_group_replace_domain(), which it exports to
 * its own iommufd only, in the IOMMUFD_INTERNAL namespace -- this module
 * stands in for that iommufd): DMA keeps @old's translation until
 * @domain's is in place, and keeps @old if the switch fails.  6.1 cannot:
 * the group passes through the blocking domain (no DMA reaches memory in
 * between) and goes back to @old if @domain refuses it.
 */
#if COMPAT_KERNEL_AT_LEAST(6, 5)
int iommu_group_replace_domain(struct iommu_group *group,
			       struct iommu_domain *new_domain);
/* In the one file that calls it. */
#define COMPAT_IMPORT_GROUP_REPLACE() MODULE_IMPORT_NS(IOMMUFD_INTERNAL)

static inline int compat_group_replace_domain(struct iommu_group *group,
					      struct iommu_domain *old,
					      struct iommu_domain *domain)
{
	return iommu_group_replace_domain(group, domain);
}
#else
#define COMPAT_IMPORT_GROUP_REPLACE() static_assert(true)

static inline int compat_group_replace_domain(struct iommu_group *group,
					      struct iommu_domain *old,
					      struct iommu_domain *domain)
{
	int rc;

	iommu_detach_group(old, group);
	rc = iommu_attach_group(domain, group);
	if (rc)
		WARN_ON(iommu_attach_group(old, group));
	return rc;
}
#endif

/* device_type.devnode() takes a const device from 6.2 on. */
#if COMPAT_KERNEL_AT_LEAST(6, 2)
#define COMPAT_DEVNODE_CONST const
#else
#define COMPAT_DEVNODE_CONST
#endif

/*
 * Which function KVM's VFIO pseudo device (virt/kvm/vfio.c) looks up by
 * name, with symbol_get(), to ask whether a file is VFIO's: 6.6 renamed
 * vfio_file_is_group() vfio_file_is_valid() (device cdev files count
 * too).  vfio_file_enforced_coherent() and vfio_file_set_kvm() keep their
 * names.  1: vfio_file_is_valid().
 */
#define COMPAT_KVM_VFIO_FILE_IS_VALID COMPAT_KERNEL_AT_LEAST(6, 6)

#endif /* IOMMUFD_COMPAT_H */
