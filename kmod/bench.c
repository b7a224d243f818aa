// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmarks' floor: pin user memory and map it into a fresh
 * iommu_domain of a bound physical device with no bookkeeping at all --
 * no areas, no pin sharing, no accounting while timed -- and report how
 * long the map and the unmap took.  What /dev/iommu and VFIO type1 add
 * on top of this is their overhead.  Test command only (selftest=1), for
 * bench/; the pins are still charged to RLIMIT_MEMLOCK, untimed.
 */
#include <linux/iommu.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "iommufd_private.h"
#include "uapi/linux/iommufd_test.h"
#include "compat.h"

/* Map each physically contiguous run with one call. */
static int floor_map(struct iommu_domain *domain, unsigned long iova,
		     struct page **pages, unsigned long npages)
{
	unsigned long i = 0, mapped = 0;
	int rc;

	while (i < npages) {
		unsigned long run = 1;

		while (i + run < npages &&
		       page_to_pfn(pages[i + run]) == page_to_pfn(pages[i]) + run)
			run++;
		rc = compat_iommu_map(domain, iova + (i << PAGE_SHIFT),
				      page_to_phys(pages[i]), run << PAGE_SHIFT,
				      IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE,
				      GFP_KERNEL);
		if (rc) {
			if (mapped)
				iommu_unmap(domain, iova, mapped << PAGE_SHIFT);
			return rc;
		}
		mapped += run;
		i += run;
	}
	return 0;
}

/*
 * The floor of many small maps: each page pinned and mapped alone, then
 * each unmapped (with its IOTLB flush) and unpinned alone.
 */
static int floor_run_per_page(struct iommu_domain *domain,
			      struct iommu_test_cmd *cmd, struct page **pages)
{
	unsigned long npages = cmd->bench_floor.length >> PAGE_SHIFT;
	unsigned long uptr = cmd->bench_floor.uptr;
	unsigned long iova = cmd->bench_floor.iova;
	unsigned long i, done;
	ktime_t t0 = ktime_get();
	int rc = 0;

	for (done = 0; done < npages; done++) {
		if (pin_user_pages_fast(uptr + (done << PAGE_SHIFT), 1,
					FOLL_WRITE | FOLL_LONGTERM,
					&pages[done]) != 1) {
			rc = -EFAULT;
			break;
		}
		rc = compat_iommu_map(domain, iova + (done << PAGE_SHIFT),
				      page_to_phys(pages[done]), PAGE_SIZE,
				      IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE,
				      GFP_KERNEL);
		if (rc) {
			unpin_user_page(pages[done]);
			break;
		}
	}
	cmd->bench_floor.out_map_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	t0 = ktime_get();
	for (i = 0; i < done; i++) {
		iommu_unmap(domain, iova + (i << PAGE_SHIFT), PAGE_SIZE);
		unpin_user_pages_dirty_lock(&pages[i], 1, true);
	}
	cmd->bench_floor.out_unmap_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	return rc;
}

static int floor_run(struct device *dev, struct iommu_test_cmd *cmd)
{
	unsigned long npages = cmd->bench_floor.length >> PAGE_SHIFT;
	unsigned long uptr = cmd->bench_floor.uptr;
	unsigned long iova = cmd->bench_floor.iova;
	struct iommu_domain *domain;
	struct iommu_group *group;
	struct page **pages;
	unsigned long pinned = 0;
	ktime_t t0;
	int rc;

	/*
	 * Outside the timed part: the pins are charged like any other, so
	 * the test command cannot pin past RLIMIT_MEMLOCK.
	 */
	rc = account_locked_vm(current->mm, npages, true);
	if (rc)
		return rc;
	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	domain = compat_paging_domain_alloc(dev);
	if (IS_ERR(domain))
		domain = NULL;
	group = iommu_group_get(dev);
	rc = -ENOMEM;
	if (!pages || !domain || !group)
		goto out;
	rc = iommu_attach_group(domain, group);
	if (rc)
		goto out;
	if (cmd->bench_floor.flags & IOMMU_TEST_BENCH_FLOOR_PER_PAGE) {
		rc = floor_run_per_page(domain, cmd, pages);
		goto out_detach;
	}

	t0 = ktime_get();
	while (pinned < npages) {
		long n = pin_user_pages_fast(uptr + (pinned << PAGE_SHIFT),
					     npages - pinned,
					     FOLL_WRITE | FOLL_LONGTERM,
					     pages + pinned);
		if (n <= 0) {
			rc = n ? n : -EFAULT;
			goto out_unpin;
		}
		pinned += n;
	}
	rc = floor_map(domain, iova, pages, npages);
	cmd->bench_floor.out_map_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	if (rc)
		goto out_unpin;

	t0 = ktime_get();
	iommu_unmap(domain, iova, npages << PAGE_SHIFT);
	/* The device may have written: as every correct user must, dirty. */
	unpin_user_pages_dirty_lock(pages, npages, true);
	cmd->bench_floor.out_unmap_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	pinned = 0;
out_unpin:
	unpin_user_pages(pages, pinned);
out_detach:
	iommu_detach_group(domain, group);
out:
	if (group)
		iommu_group_put(group);
	if (domain)
		iommu_domain_free(domain);
	kvfree(pages);
	account_locked_vm(current->mm, npages, false);
	return rc;
}

/**
 * iommufd_test_bench_floor() - IOMMU_TEST_OP_BENCH_FLOOR (test build)
 * @ucmd: the command
 * @cmd: the test command; @cmd->id a bound, detached physical device
 *
 * Context: process; no lock held.  Holds idev->lock while it pins and
 * maps, so the device's detach and unbind wait for it.
 *
 * Return: 0; -EINVAL for bad arguments, a mock or an attached device;
 * -EOPNOTSUPP for unknown flags; or a negative errno.
 */
int iommufd_test_bench_floor(struct iommufd_ucmd *ucmd,
			     struct iommu_test_cmd *cmd)
{
	struct iommufd_device *idev;
	int rc;

	/* Its page array is one allocation: at most 4 GiB (8 MiB of it). */
	if ((cmd->bench_floor.uptr | cmd->bench_floor.length |
	     cmd->bench_floor.iova) % PAGE_SIZE || !cmd->bench_floor.length ||
	    cmd->bench_floor.length > SZ_4G)
		return -EINVAL;
	if (cmd->bench_floor.flags & ~IOMMU_TEST_BENCH_FLOOR_PER_PAGE)
		return -EOPNOTSUPP;
	idev = iommufd_get_device(ucmd, cmd->id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	mutex_lock(&idev->lock);
	if (!idev->dev || idev->hwpt)
		rc = -EINVAL;	/* mock, or attached: the group is in use */
	else
		rc = floor_run(idev->dev, cmd);
	mutex_unlock(&idev->lock);
	iommufd_put_object(&idev->obj);
	if (!rc)
		rc = iommufd_ucmd_respond(ucmd, sizeof(*cmd));
	return rc;
}
