// SPDX-License-Identifier: GPL-2.0
/*
 * The mock IOMMU backend: a software page table with 2 KiB IOMMU pages
 * (MOCK_PAGE_SIZE, on every CPU page size), for tests that read the table
 * back.  Each IOMMU page is one xarray entry holding its physical address.
 */
#include <linux/slab.h>
#include <linux/xarray.h>

#include "iommufd_private.h"
#include "uapi/linux/iommufd_test.h"

struct mock_domain {
	struct iommufd_domain domain;
	struct xarray pfns;	/* iova / MOCK_PAGE_SIZE -> paddr / same */
};

static struct mock_domain *to_mock(struct iommufd_domain *domain)
{
	return container_of(domain, struct mock_domain, domain);
}

static void mock_unmap(struct iommufd_domain *domain, unsigned long iova,
		       size_t size, struct iommu_iotlb_gather *gather)
{
	struct mock_domain *mock = to_mock(domain);
	unsigned long i;

	for (i = 0; i < size; i += MOCK_PAGE_SIZE)
		WARN_ON(!xa_erase(&mock->pfns, (iova + i) / MOCK_PAGE_SIZE));
}

static int mock_map(struct iommufd_domain *domain, unsigned long iova,
		    phys_addr_t paddr, size_t size, int prot)
{
	struct mock_domain *mock = to_mock(domain);
	unsigned long i;
	int rc;

	if (WARN_ON((iova | paddr | size) % MOCK_PAGE_SIZE) ||
	    WARN_ON(iova < domain->aperture_start ||
		    iova + size - 1 > domain->aperture_last))
		return -EINVAL;
	for (i = 0; i < size; i += MOCK_PAGE_SIZE) {
		rc = iommufd_should_fail() ? -ENOMEM : xa_insert(&mock->pfns, (iova + i) / MOCK_PAGE_SIZE,
			       xa_mk_value((paddr + i) / MOCK_PAGE_SIZE),
			       GFP_KERNEL_ACCOUNT);
		if (rc) {
			/* EBUSY: mapped twice, a bug in the caller */
			WARN_ON(rc == -EBUSY);
			if (i)
				mock_unmap(domain, iova, i, NULL);
			return rc;
		}
	}
	return 0;
}

static void mock_free(struct iommufd_domain *domain)
{
	struct mock_domain *mock = to_mock(domain);

	WARN_ON(!xa_empty(&mock->pfns));
	xa_destroy(&mock->pfns);
	kfree(mock);
	iommufd_stats_object(-1);
}

/* The mock has no IOTLB. */
static void mock_flush(struct iommufd_domain *domain,
		       struct iommu_iotlb_gather *gather)
{
}

/*
 * The mock's "DMA" is the CPU's own loads and stores: always coherent, so
 * any mock domain can enforce it (the device's flags say who asks).
 */
static bool mock_enforce_cache_coherency(struct iommufd_domain *domain)
{
	return true;
}

static const struct iommufd_domain_ops mock_domain_ops = {
	.map = mock_map,
	.unmap = mock_unmap,
	.flush = mock_flush,
	.free = mock_free,
	.enforce_cache_coherency = mock_enforce_cache_coherency,
};

/* The IOVA width of the mock's page table format, as upstream's. */
#define MOCK_VA_BITS 56

/**
 * iommufd_mock_domain_alloc() - a new, empty mock domain
 * @pagetable_type: MOCK_IOMMUPT_DEFAULT: 2 KiB pages and the mock aperture;
 *	MOCK_IOMMUPT_HUGE: MOCK_HUGE_PAGE_SIZE and PAGE_SIZE pages only, the
 *	whole 56-bit IOVA space
 *
 * Return: the domain, ERR_PTR(-EOPNOTSUPP) for another type, or
 * ERR_PTR(-ENOMEM).
 */
struct iommufd_domain *iommufd_mock_domain_alloc(u32 pagetable_type)
{
	struct mock_domain *mock;

	if (pagetable_type != MOCK_IOMMUPT_DEFAULT &&
	    pagetable_type != MOCK_IOMMUPT_HUGE)
		return ERR_PTR(-EOPNOTSUPP);
	mock = iommufd_should_fail() ? NULL :
	       kzalloc(sizeof(*mock), GFP_KERNEL_ACCOUNT);
	if (!mock)
		return ERR_PTR(-ENOMEM);
	xa_init(&mock->pfns);
	mock->domain.ops = &mock_domain_ops;
	if (pagetable_type == MOCK_IOMMUPT_HUGE) {
		/* PAGE_SIZE too: an IOAS needs domains that map CPU pages. */
		mock->domain.pgsize_bitmap = MOCK_HUGE_PAGE_SIZE | PAGE_SIZE;
		mock->domain.aperture_start = 0;
		mock->domain.aperture_last =
			min_t(u64, GENMASK_ULL(MOCK_VA_BITS - 1, 0), ULONG_MAX);
	} else {
		mock->domain.pgsize_bitmap = MOCK_PAGE_SIZE;
		mock->domain.aperture_start = MOCK_APERTURE_START;
		mock->domain.aperture_last = MOCK_APERTURE_LAST;
	}
	iommufd_stats_object(1);
	return &mock->domain;
}

bool iommufd_is_mock_domain(struct iommufd_domain *domain)
{
	return domain->ops == &mock_domain_ops;
}

/* The physical address @iova translates to, or -ENOENT. */
int iommufd_mock_domain_lookup(struct iommufd_domain *domain,
			       unsigned long iova, phys_addr_t *paddr)
{
	void *ent = xa_load(&to_mock(domain)->pfns, iova / MOCK_PAGE_SIZE);

	if (!ent)
		return -ENOENT;
	*paddr = (phys_addr_t)xa_to_value(ent) * MOCK_PAGE_SIZE +
		 iova % MOCK_PAGE_SIZE;
	return 0;
}
