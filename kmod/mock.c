// SPDX-License-Identifier: GPL-2.0
/*
 * The mock IOMMU backend: a software page table with 2 KiB IOMMU pages
 * (MOCK_PAGE_SIZE, on every CPU page size), for tests that read the table
 * back.  Each IOMMU page is one xarray entry holding its physical address.
 *
 * Leaves -- what one dirty bit of the table covers -- are the 2 KiB pages
 * in the default format.  The HUGE format has MOCK_HUGE_PAGE_SIZE and
 * PAGE_SIZE pages: a map makes a 1 MiB leaf wherever IOVA and physical
 * address are both 1 MiB aligned with 1 MiB to go (its first entry
 * carries MOCK_HUGE_LEAF), and PAGE_SIZE leaves elsewhere.
 */
#include <linux/slab.h>
#include <linux/xarray.h>

#include "iommufd_private.h"
#include "uapi/linux/iommufd_test.h"

struct mock_domain {
	struct iommufd_domain domain;
	struct xarray pfns;	/* iova / MOCK_PAGE_SIZE -> paddr / same */
	/* The leaf outside 1 MiB leaves: MOCK_PAGE_SIZE, or PAGE_SIZE (HUGE) */
	unsigned long small_leaf;
	bool dirty_tracking;
};

/* On the first entry of a MOCK_HUGE_PAGE_SIZE leaf. */
#define MOCK_HUGE_LEAF XA_MARK_1
#define MOCK_PER_HUGE (MOCK_HUGE_PAGE_SIZE / MOCK_PAGE_SIZE)

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
		rc = iommufd_should_fail() ? -ENOMEM :
		     xa_insert(&mock->pfns, (iova + i) / MOCK_PAGE_SIZE,
			       xa_mk_value((paddr + i) / MOCK_PAGE_SIZE),
			       GFP_KERNEL_ACCOUNT);
		if (rc) {
			/* EBUSY: mapped twice, a bug in the caller */
			WARN_ON(rc == -EBUSY);
			if (i)
				mock_unmap(domain, iova, i, NULL);
			return rc;
		}
		if (mock->small_leaf != MOCK_PAGE_SIZE &&
		    !((iova + i) % MOCK_HUGE_PAGE_SIZE) &&
		    !((paddr + i) % MOCK_HUGE_PAGE_SIZE) &&
		    size - i >= MOCK_HUGE_PAGE_SIZE)
			xa_set_mark(&mock->pfns, (iova + i) / MOCK_PAGE_SIZE,
				    MOCK_HUGE_LEAF);
	}
	return 0;
}

/* The first entry and the size of the leaf entry @index is part of. */
static unsigned long mock_leaf(struct mock_domain *mock, unsigned long index,
			       unsigned long *size)
{
	unsigned long head = round_down(index, MOCK_PER_HUGE);

	lockdep_assert_held(&mock->pfns.xa_lock);
	if (mock->small_leaf != MOCK_PAGE_SIZE &&
	    xa_get_mark(&mock->pfns, head, MOCK_HUGE_LEAF)) {
		*size = MOCK_HUGE_PAGE_SIZE;
		return head;
	}
	*size = mock->small_leaf;
	return round_down(index, mock->small_leaf / MOCK_PAGE_SIZE);
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
	mock->small_leaf = MOCK_PAGE_SIZE;
	if (pagetable_type == MOCK_IOMMUPT_HUGE) {
		mock->small_leaf = PAGE_SIZE;
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

/**
 * iommufd_is_mock_domain() - was @domain made by the mock IOMMU?
 * @domain: a domain
 *
 * Context: any; no lock.
 *
 * Return: true for a mock domain.
 */
bool iommufd_is_mock_domain(struct iommufd_domain *domain)
{
	return domain->ops == &mock_domain_ops;
}

/**
 * iommufd_mock_domain_lookup() - translate an IOVA through a mock domain
 * @domain: a mock domain
 * @iova: the IOVA
 * @paddr: set to the physical address on success
 *
 * Context: no lock (an RCU lookup); the caller keeps @domain alive by
 * holding its HWPT.
 *
 * Return: 0, or -ENOENT when nothing is mapped at @iova.
 */
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

/*
 * Dirty tracking: the first entry of a leaf DMA wrote to carries this mark
 * in @pfns; an unmap erases the entry and its mark with it.
 */
#define MOCK_DIRTY XA_MARK_0
/* Leaves looked at with the xarray lock held before letting others in. */
#define MOCK_DIRTY_BATCH 1024

static int mock_set_tracking(struct iommufd_domain *domain, bool enable)
{
	WRITE_ONCE(to_mock(domain)->dirty_tracking, enable);
	return 0;
}

static int mock_read_and_clear(struct iommufd_domain *domain,
			       unsigned long iova, unsigned long last,
			       bool no_clear,
			       struct iommufd_dirty_bitmap *bitmap)
{
	struct mock_domain *mock = to_mock(domain);
	/* From the first entry of a leaf that may reach @iova. */
	unsigned long first = iova / MOCK_PAGE_SIZE, size;
	XA_STATE(xas, &mock->pfns, round_down(first, MOCK_PER_HUGE));
	unsigned int batch = 0;
	void *entry;

	if (bitmap && !READ_ONCE(mock->dirty_tracking))
		return -EINVAL;
	xas_lock(&xas);
	xas_for_each_marked(&xas, entry, last / MOCK_PAGE_SIZE, MOCK_DIRTY) {
		mock_leaf(mock, xas.xa_index, &size);
		if (xas.xa_index + size / MOCK_PAGE_SIZE <= first)
			continue;	/* ends before @iova */
		if (bitmap)
			iommufd_dirty_record(bitmap,
					     xas.xa_index * MOCK_PAGE_SIZE,
					     size);
		if (!no_clear)
			xas_clear_mark(&xas, MOCK_DIRTY);
		if (++batch % MOCK_DIRTY_BATCH == 0) {
			xas_pause(&xas);
			xas_unlock(&xas);
			cond_resched();
			xas_lock(&xas);
		}
	}
	xas_unlock(&xas);
	return 0;
}

static const struct iommufd_dirty_ops mock_dirty_ops = {
	.set_tracking = mock_set_tracking,
	.read_and_clear = mock_read_and_clear,
};

/**
 * iommufd_mock_domain_enable_dirty() - give a mock domain dirty tracking
 * @domain: a mock domain just allocated, not yet in any HWPT
 *
 * As HWPT_ALLOC_DIRTY_TRACKING asks; tracking itself starts off.
 */
void iommufd_mock_domain_enable_dirty(struct iommufd_domain *domain)
{
	domain->dirty_ops = &mock_dirty_ops;
}

/**
 * iommufd_mock_domain_tracking() - is dirty tracking on?
 * @domain: a mock domain
 *
 * Return: true between SET_DIRTY_TRACKING enable and disable.
 */
bool iommufd_mock_domain_tracking(struct iommufd_domain *domain)
{
	return READ_ONCE(to_mock(domain)->dirty_tracking);
}

/**
 * iommufd_mock_domain_set_dirty() - play a DMA write
 * @domain: a mock domain
 * @iova: any IOVA of the leaf to mark dirty
 *
 * Marks the whole leaf @iova is in (1 MiB or a CPU page in the HUGE
 * format, 2 KiB otherwise).  An unmapped @iova marks nothing.
 */
void iommufd_mock_domain_set_dirty(struct iommufd_domain *domain,
				   unsigned long iova)
{
	struct mock_domain *mock = to_mock(domain);
	unsigned long size, head;

	xa_lock(&mock->pfns);
	head = mock_leaf(mock, iova / MOCK_PAGE_SIZE, &size);
	/* __xa_set_mark() on an empty index marks nothing. */
	__xa_set_mark(&mock->pfns, head, MOCK_DIRTY);
	xa_unlock(&mock->pfns);
}
