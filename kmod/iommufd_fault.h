/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fault points of iommufd.ko and iommufd_pci.ko: each allocation of
 * either module, and a few other calls that fail when memory runs out, ask
 * iommufd_should_fail() first.  In the test build (IOMMUFD_TEST_BUILD)
 * the answer comes from iommufd.ko's fault.c (debugfs fail_nth: the N-th
 * point the writing process reaches fails, once), exported to
 * iommufd_pci.ko in the IOMMUFD namespace; in the build users install it
 * is a constant false and the wrappers below are the plain allocators.
 */
#ifndef IOMMUFD_FAULT_H
#define IOMMUFD_FAULT_H

#include <linux/bitmap.h>
#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>

#ifdef IOMMUFD_TEST_BUILD
/*
 * True when the test's fault injection wants this point to fail.  Inline
 * so that the map/unmap/pin paths pay one unlikely branch when disarmed.
 */
extern bool iommufd_fail_armed;
bool __iommufd_should_fail(void);
static inline bool iommufd_should_fail(void)
{
	return unlikely(READ_ONCE(iommufd_fail_armed)) &&
	       __iommufd_should_fail();
}
#else
/* The modules users install: no injected faults. */
static inline bool iommufd_should_fail(void)
{
	return false;
}
#endif

/*
 * The modules' own allocations: each is a point the test build's fault
 * injection can fail, so every error path after an allocation is walked;
 * the production build just allocates.
 */
static inline void *iommufd_kzalloc(size_t size, gfp_t gfp)
{
	return iommufd_should_fail() ? NULL : kzalloc(size, gfp);
}

static inline void *iommufd_kmalloc(size_t size, gfp_t gfp)
{
	return iommufd_should_fail() ? NULL : kmalloc(size, gfp);
}

static inline void *iommufd_kcalloc(size_t n, size_t size, gfp_t gfp)
{
	return iommufd_should_fail() ? NULL : kcalloc(n, size, gfp);
}

static inline void *iommufd_kmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	return iommufd_should_fail() ? NULL : kmalloc_array(n, size, gfp);
}

static inline void *iommufd_kvcalloc(size_t n, size_t size, gfp_t gfp)
{
	return iommufd_should_fail() ? NULL : kvcalloc(n, size, gfp);
}

static inline unsigned long *iommufd_bitmap_zalloc(unsigned int nbits,
						   gfp_t gfp)
{
	return iommufd_should_fail() ? NULL : bitmap_zalloc(nbits, gfp);
}

/* memdup_user(): ERR_PTR(-ENOMEM) when the point fails. */
static inline void *iommufd_memdup_user(const void __user *src, size_t len)
{
	return iommufd_should_fail() ? ERR_PTR(-ENOMEM) :
				       memdup_user(src, len);
}

#endif
