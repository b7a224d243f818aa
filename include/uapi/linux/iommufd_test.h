/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * IOMMU_TEST_CMD: the test-only command of /dev/iommu.  It exists only when
 * the module is loaded with selftest=1.  Compatible with the upstream test
 * command for the operations listed below; the others give EOPNOTSUPP.
 */
#ifndef _UAPI_IOMMUFD_TEST_H
#define _UAPI_IOMMUFD_TEST_H

#include <linux/types.h>
#include "iommufd.h"

enum {
	IOMMU_TEST_OP_ADD_RESERVED = 1,
	IOMMU_TEST_OP_MOCK_DOMAIN,
	IOMMU_TEST_OP_MD_CHECK_MAP,
	IOMMU_TEST_OP_MD_CHECK_REFS,
	IOMMU_TEST_OP_CREATE_ACCESS,
	IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
	IOMMU_TEST_OP_ACCESS_PAGES,
	IOMMU_TEST_OP_ACCESS_RW,
	IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
	IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
	IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
	IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
	IOMMU_TEST_OP_DIRTY,
	IOMMU_TEST_OP_MD_CHECK_IOTLB,
	IOMMU_TEST_OP_TRIGGER_IOPF,
	IOMMU_TEST_OP_DEV_CHECK_CACHE,
	/* A dma-buf of the test exporter: the new fd is the return value. */
	IOMMU_TEST_OP_DMABUF_GET = 22,
	IOMMU_TEST_OP_DMABUF_REVOKE = 23,
	/* Not upstream: this project's benchmark floor (bench/). */
	IOMMU_TEST_OP_BENCH_FLOOR = 100,
};

/* bench_floor.flags: pin, map, unmap and unpin one page at a time. */
#define IOMMU_TEST_BENCH_FLOOR_PER_PAGE (1 << 0)

/*
 * The mock IOMMU's page table has 2 KiB pages whatever the CPU page size;
 * its huge pages are 512 of them.
 */
#define MOCK_PAGE_SIZE 2048
#define MOCK_HUGE_PAGE_SIZE (512 * MOCK_PAGE_SIZE)

/* A default mock domain translates only this window ... */
#define MOCK_APERTURE_START (1UL << 24)
#define MOCK_APERTURE_LAST ((1UL << 31) - 1)
/* ... and reports this data from IOMMU_GET_HW_INFO. */
#define IOMMU_HW_INFO_TYPE_SELFTEST 0xfeedbeef
#define IOMMU_HW_INFO_SELFTEST_REGVAL 0xdeadbeef
#define IOMMU_TEST_DEV_CACHE_DEFAULT 0xbaddad
#define MOCK_DEV_CACHE_ID_MAX 3
#define MOCK_DEV_CACHE_NUM 4

struct iommu_test_hw_info {
	__u32 flags;
	__u32 test_reg;
};

/* mock_domain_flags.dev_flags (bit 1 is not a flag any more) */
enum {
	MOCK_FLAGS_DEVICE_NO_DIRTY = 1 << 0,
	MOCK_FLAGS_DEVICE_PASID = 1 << 2,
	/*
	 * This project's, not upstream's (whose mock is always coherent and
	 * never enforces): a mock IOMMU that can enforce cache coherency
	 * (IOMMU_CAP_ENFORCE_CACHE_COHERENCY), or that cannot even honour
	 * IOMMU_CACHE (IOMMU_CAP_CACHE_COHERENCY: the bind fails, EINVAL).
	 * High bits, clear of upstream's.
	 */
	MOCK_FLAGS_DEVICE_ENFORCE_CC = 1 << 29,
	MOCK_FLAGS_DEVICE_NO_CC = 1 << 30,
};

/* The PASID width of a mock device made with MOCK_FLAGS_DEVICE_PASID. */
#define MOCK_PASID_WIDTH 20

/*
 * IOMMU_HWPT_ALLOC data of this type shapes a paging mock domain: DEFAULT
 * has 2 KiB pages and the aperture above; HUGE takes only MOCK_HUGE_PAGE_SIZE
 * and CPU-page mappings and translates the whole 56-bit space.  @iotlb is
 * not used by a paging domain.  At least @iotlb must be given.
 */
#define IOMMU_HWPT_DATA_SELFTEST 0xdead
#define IOMMU_TEST_IOTLB_DEFAULT 0xbadbeef

enum {
	MOCK_IOMMUPT_DEFAULT = 0,
	MOCK_IOMMUPT_HUGE = 1,
};

struct iommu_hwpt_selftest {
	__u32 iotlb;
	__u32 pagetable_type;
};

enum {
	MOCK_FLAGS_ACCESS_WRITE = 1 << 0,
	MOCK_FLAGS_ACCESS_SYZ = 1 << 16,
};

enum {
	MOCK_ACCESS_RW_WRITE = 1 << 0,
	MOCK_ACCESS_RW_SLOW_PATH = 1 << 2,
};

enum {
	MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1 << 0,
};

struct iommu_test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		struct {
			__aligned_u64 start;
			__aligned_u64 length;
		} add_reserved;
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
		} mock_domain;
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
			__u32 dev_flags;
		} mock_domain_flags;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} check_map;
		struct {
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 refs;
		} check_refs;
		struct {
			__u32 out_access_fd;
			__u32 flags;
		} create_access;
		struct {
			__u32 access_pages_id;
		} destroy_access_pages;
		struct {
			__u32 flags;
			__u32 out_access_pages_id;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} access_pages;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 flags;
		} access_rw;
		struct {
			__u32 limit;
		} memory_limit;
		struct {
			__u32 ioas_id;
		} access_replace_ioas;
		struct {
			__u32 flags;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 page_size;
			__aligned_u64 uptr;
			__aligned_u64 out_nr_dirty;
		} dirty;
		struct {
			__u32 id;
			__u32 cache;
		} check_dev_cache;
		/* @length is rounded up to pages; 512 pages at most. */
		struct {
			__u32 length;
			__u32 open_flags;
		} dmabuf_get;
		struct {
			__s32 dmabuf_fd;
			__u32 revoked;
		} dmabuf_revoke;
		/*
		 * Pin and map @length bytes at @uptr into a fresh domain of
		 * the bound, detached device @id at @iova, then unmap and
		 * unpin; the time each half took.
		 */
		struct {
			__aligned_u64 uptr;
			__aligned_u64 length;
			__aligned_u64 iova;
			__aligned_u64 out_map_ns;
			__aligned_u64 out_unmap_ns;
			__u32 flags;	/* BENCH_FLOOR_PER_PAGE */
		} bench_floor;
		/* Sizes the union as upstream's largest member does. */
		__u8 __union_size[48];
	};
	__u32 last;
};
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)

#endif
