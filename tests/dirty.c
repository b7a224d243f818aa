// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking on the mock IOMMU: HWPT_ALLOC_DIRTY_TRACKING, the
 * capability in GET_HW_INFO, SET_DIRTY_TRACKING, GET_DIRTY_BITMAP (page
 * sizes, bitmap alignment, NO_CLEAR, huge ranges, every errno) and the
 * test command's DIRTY op that plays the DMA writes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "util.h"

/* The mock domain's leaves: one IOMMU page each. */
#define LEAF MOCK_PAGE_SIZE
#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define BUF_LEN (1UL << 20)
#define NLEAVES (BUF_LEN / LEAF)

static bool bit_test(const unsigned char *map, __u64 n)
{
	return map[n / 8] & (1u << (n % 8));
}

static void bit_set(unsigned char *map, __u64 n)
{
	map[n / 8] |= 1u << (n % 8);
}

/*
 * What GET_DIRTY_BITMAP must set for the dirty leaves @leaves (bit i:
 * leaf at IOVA + i * LEAF) over [iova, iova + nbits * page_size).
 */
static void expect_bits(unsigned char *want, const unsigned char *leaves,
			__u64 iova, __u64 page_size, __u64 nbits)
{
	__u64 last = iova + nbits * page_size - 1, i;

	memset(want, 0, (nbits + 7) / 8);
	for (i = 0; i < NLEAVES; i++) {
		__u64 a = IOVA + i * LEAF, b = a + LEAF - 1, n;

		if (!bit_test(leaves, i) || b < iova || a > last)
			continue;
		if (a < iova)
			a = iova;
		if (b > last)
			b = last;
		for (n = (a - iova) / page_size; n <= (b - iova) / page_size;
		     n++)
			bit_set(want, n);
	}
}

/* One fd: an IOAS with BUF_LEN mapped at IOVA, a mock device, a HWPT. */
struct env {
	int fd;
	__u32 ioas, stdev, auto_hwpt, idev, hwpt;
	void *buf;
};

static void env_open(struct env *e, __u32 hwpt_flags)
{
	memset(e, 0, sizeof(*e));
	e->fd = dev_iommu_open();
	CHECK(e->fd >= 0);
	CHECK_OK(ioas_alloc(e->fd, &e->ioas));
	e->buf = buf_alloc(BUF_LEN);
	CHECK(e->buf);
	CHECK_OK(ioas_map_fixed(e->fd, e->ioas, e->buf, BUF_LEN, IOVA));
	CHECK_OK(mock_domain(e->fd, e->ioas, &e->stdev, &e->auto_hwpt,
			     &e->idev));
	CHECK_OK(hwpt_alloc(e->fd, e->idev, e->ioas, hwpt_flags, &e->hwpt));
}

static void env_close(struct env *e)
{
	close(e->fd);
	buf_free(e->buf, BUF_LEN);
}

TEST(hw_info_capability)
{
	__u32 ioas, stdev, hwpt, idev, len;
	__u64 data, caps;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));
	len = sizeof(data);
	CHECK_OK(get_hw_info(fd, idev, &data, &len, NULL, &caps));
	CHECK(caps & IOMMU_HW_CAP_DIRTY_TRACKING);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &stdev, &hwpt, &idev));
	len = sizeof(data);
	CHECK_OK(get_hw_info(fd, idev, &data, &len, NULL, &caps));
	CHECK(!(caps & IOMMU_HW_CAP_DIRTY_TRACKING));
	close(fd);
}

TEST(alloc_and_attach)
{
	__u32 nd_stdev, nd_hwpt, nd_idev, stdev, hwpt, idev, out, pt;
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	/* A device that can track joins the tracking HWPT. */
	CHECK_OK(mock_domain(e.fd, e.hwpt, &stdev, &hwpt, &idev));
	CHECK(hwpt == e.hwpt);
	pt = e.hwpt;
	CHECK_OK(mock_domain_replace(e.fd, e.stdev, &pt));

	/* One that cannot: no such HWPT, no attach, no replace. */
	CHECK_OK(mock_domain_flags(e.fd, e.ioas, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &nd_stdev, &nd_hwpt, &nd_idev));
	CHECK_ERRNO(hwpt_alloc(e.fd, nd_idev, e.ioas,
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &out),
		    EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc(e.fd, nd_idev, e.ioas,
			       IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			       IOMMU_HWPT_ALLOC_NEST_PARENT, &out),
		    EOPNOTSUPP);
	CHECK_ERRNO(mock_domain_flags(e.fd, e.hwpt, MOCK_FLAGS_DEVICE_NO_DIRTY,
				      &out, &out, &out), EINVAL);
	pt = e.hwpt;
	CHECK_ERRNO(mock_domain_replace(e.fd, nd_stdev, &pt), EINVAL);
	/* Still where it was, and a HWPT without tracking takes it. */
	CHECK_OK(hwpt_alloc(e.fd, nd_idev, e.ioas, 0, &out));
	pt = out;
	CHECK_OK(mock_domain_replace(e.fd, nd_stdev, &pt));
	CHECK(pt == out);
	/* NEST_PARENT and DIRTY_TRACKING together. */
	CHECK_OK(hwpt_alloc(e.fd, e.idev, e.ioas,
			    IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			    IOMMU_HWPT_ALLOC_NEST_PARENT, &out));
	CHECK_OK(set_dirty(e.fd, out, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_OK(iommu_destroy(e.fd, out));
	/* With its devices gone the tracking HWPT is destroyable. */
	CHECK_OK(iommu_destroy(e.fd, stdev));
	CHECK_OK(iommu_destroy(e.fd, e.stdev));
	CHECK_OK(iommu_destroy(e.fd, e.hwpt));
	env_close(&e);
}

TEST(set_dirty_tracking_errors)
{
	struct iommu_hwpt_set_dirty_tracking cmd;
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_ERRNO(set_dirty(e.fd, e.hwpt, 2), EOPNOTSUPP);
	CHECK_ERRNO(set_dirty(e.fd, e.hwpt, 1u << 31), EOPNOTSUPP);
	CHECK_ERRNO(set_dirty(e.fd, BAD_ID, 1), ENOENT);
	CHECK_ERRNO(set_dirty(e.fd, 0, 1), ENOENT);
	CHECK_ERRNO(set_dirty(e.fd, e.ioas, 1), ENOENT);
	CHECK_ERRNO(set_dirty(e.fd, e.idev, 1), ENOENT);
	/* A HWPT allocated without DIRTY_TRACKING. */
	CHECK_ERRNO(set_dirty(e.fd, e.auto_hwpt, 1), EOPNOTSUPP);
	CHECK_ERRNO(set_dirty(e.fd, e.auto_hwpt, 0), EOPNOTSUPP);
	/* Flags are checked before the id. */
	CHECK_ERRNO(set_dirty(e.fd, BAD_ID, 2), EOPNOTSUPP);
	/* Enable and disable, twice each. */
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_OK(set_dirty(e.fd, e.hwpt, 0));
	CHECK_OK(set_dirty(e.fd, e.hwpt, 0));
	/* __reserved is not checked, as upstream. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.hwpt_id = e.hwpt;
	cmd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	cmd.__reserved = 1;
	CHECK_OK(ioctl(e.fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));
	env_close(&e);
}

TEST(get_dirty_bitmap_errors)
{
	struct iommu_hwpt_get_dirty_bitmap cmd;
	unsigned char map[64] = { 0 };
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_OK(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, LEAF, map, 0));

	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, LEAF, map, 2),
		    EOPNOTSUPP);
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.hwpt_id = e.hwpt;
	cmd.iova = IOVA;
	cmd.length = 64 * LEAF;
	cmd.page_size = LEAF;
	cmd.data = (uintptr_t)map;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd), EOPNOTSUPP);
	CHECK_ERRNO(get_dirty(e.fd, BAD_ID, IOVA, 64 * LEAF, LEAF, map, 0),
		    ENOENT);
	CHECK_ERRNO(get_dirty(e.fd, e.ioas, IOVA, 64 * LEAF, LEAF, map, 0),
		    ENOENT);
	/* Flags before the id, the id before the range. */
	CHECK_ERRNO(get_dirty(e.fd, BAD_ID, IOVA, 64 * LEAF, 0, map, 2),
		    EOPNOTSUPP);
	CHECK_ERRNO(get_dirty(e.fd, BAD_ID, IOVA, 64 * LEAF, 0, map, 0),
		    ENOENT);
	/* The range: overflow first, then the alignments. */
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, ~0ULL - LEAF + 1, 2 * LEAF, LEAF,
			      map, 0), EOVERFLOW);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 0, LEAF, map, 0), EOVERFLOW);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, 0, 0, LEAF, map, 0), EINVAL);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA + LEAF / 2, 64 * LEAF, LEAF,
			      map, 0), EINVAL);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF + LEAF / 2, LEAF,
			      map, 0), EINVAL);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, 0, map, 0),
		    EINVAL);
	/* iova and end must be multiples of the page size too. */
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA + LEAF, 64 * LEAF, 4 * LEAF,
			      map, 0), EINVAL);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 65 * LEAF, 4 * LEAF, map, 0),
		    EINVAL);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, 3 * LEAF, map, 0),
		    EINVAL);
	/* The bitmap must be writable user memory. */
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, LEAF, NULL, 0),
		    EFAULT);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, LEAF,
			      unmapped_va(PAGE_SIZE), 0), EFAULT);
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, LEAF,
			      (void *)(~0UL - 3), 0), EFAULT);
	/* A HWPT without DIRTY_TRACKING: after the range checks. */
	CHECK_ERRNO(get_dirty(e.fd, e.auto_hwpt, IOVA, 64 * LEAF, LEAF, map,
			      0), EOPNOTSUPP);
	CHECK_ERRNO(get_dirty(e.fd, e.auto_hwpt, IOVA, 64 * LEAF, 0, map, 0),
		    EINVAL);
	/* Tracking off. */
	CHECK_OK(set_dirty(e.fd, e.hwpt, 0));
	CHECK_ERRNO(get_dirty(e.fd, e.hwpt, IOVA, 64 * LEAF, LEAF, map, 0),
		    EINVAL);
	env_close(&e);
}

TEST(mock_dirty_op_errors)
{
	unsigned char map[8] = { 0xff }, *big;
	struct iommu_test_cmd cmd;
	struct env e;
	__u64 nr;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	/* Argument checks come before the HWPT's. */
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, IOVA, 8 * LEAF, 0, map, &nr),
		    EINVAL);
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, IOVA, 0, LEAF, map, &nr), EINVAL);
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, IOVA + 1, 8 * LEAF, LEAF, map,
			       &nr), EINVAL);
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, IOVA, 8 * LEAF + 1, LEAF, map,
			       &nr), EINVAL);
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, IOVA, 8 * LEAF, LEAF, NULL, &nr),
		    EINVAL);
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, 0, (1ULL << 27) * 2 + 2, 2, map,
			       &nr), EOVERFLOW);
	CHECK_ERRNO(mock_dirty(e.fd, BAD_ID, IOVA, 8 * LEAF, LEAF, map, &nr),
		    ENOENT);
	CHECK_ERRNO(mock_dirty(e.fd, e.ioas, IOVA, 8 * LEAF, LEAF, map, &nr),
		    ENOENT);
	/* Tracking off. */
	CHECK_ERRNO(mock_dirty(e.fd, e.hwpt, IOVA, 8 * LEAF, LEAF, map, &nr),
		    EINVAL);
	CHECK_ERRNO(mock_dirty(e.fd, e.auto_hwpt, IOVA, 8 * LEAF, LEAF, map,
			       &nr), EINVAL);
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_ERRNO(mock_dirty(e.fd, e.hwpt, IOVA, 8 * LEAF, LEAF,
			       unmapped_va(PAGE_SIZE), &nr), EFAULT);
	/* Exactly 2^27 bits is allowed: a 16 MiB bitmap, read in pieces. */
	big = mmap(NULL, 1UL << 24, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(big != MAP_FAILED);
	big[0] = 1;
	big[(1UL << 24) - 1] = 0x80;
	CHECK_OK(mock_dirty(e.fd, e.hwpt, 0, (1ULL << 27) * 2, 2, big, &nr));
	CHECK(nr == 2);
	munmap(big, 1UL << 24);
	/* flags are not looked at. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = IOMMU_TEST_OP_DIRTY;
	cmd.id = e.hwpt;
	cmd.dirty.flags = 0xffffffff;
	cmd.dirty.iova = IOVA;
	cmd.dirty.length = 8 * LEAF;
	cmd.dirty.page_size = LEAF;
	cmd.dirty.uptr = (uintptr_t)map;
	CHECK_OK(test_cmd(e.fd, &cmd));
	CHECK(cmd.dirty.out_nr_dirty == 8);
	env_close(&e);
}

/* Mark @leaves (one bit per leaf from IOVA) through the DIRTY op. */
static void mark_leaves(struct env *e, const unsigned char *leaves)
{
	__u64 nr, want = 0, i;

	for (i = 0; i < NLEAVES; i++)
		want += bit_test(leaves, i);
	CHECK_OK(mock_dirty(e->fd, e->hwpt, IOVA, BUF_LEN, LEAF, leaves, &nr));
	CHECK(nr == want);
}

/* GET over [iova, +nbits * page_size) must give exactly what is expected. */
static void check_get(struct env *e, const unsigned char *leaves, __u64 iova,
		      __u64 page_size, __u64 nbits, __u32 flags)
{
	size_t bytes = (nbits + 7) / 8;
	unsigned char *want = calloc(1, bytes), *have = calloc(1, bytes);

	CHECK(want && have);
	expect_bits(want, leaves, iova, page_size, nbits);
	CHECK_OK(get_dirty(e->fd, e->hwpt, iova, nbits * page_size, page_size,
			   have, flags));
	if (memcmp(want, have, bytes)) {
		tap_diag("page_size %llu iova %#llx nbits %llu: bitmaps differ",
			 (unsigned long long)page_size,
			 (unsigned long long)iova, (unsigned long long)nbits);
		tap_failed_here = 1;
	}
	free(want);
	free(have);
}

static void pattern(unsigned char *leaves, unsigned int seed)
{
	__u64 i;

	memset(leaves, 0, NLEAVES / 8);
	for (i = 0; i < NLEAVES; i++)
		if ((i * 7 + seed) % 5 == 0 || i == 0 || i == NLEAVES - 1)
			bit_set(leaves, i);
}

TEST(read_clear_and_no_clear)
{
	unsigned char leaves[NLEAVES / 8], zero[NLEAVES / 8] = { 0 };
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	/* Nothing written yet. */
	CHECK_SUB(check_get(&e, zero, IOVA, LEAF, NLEAVES, 0));
	pattern(leaves, 1);
	CHECK_SUB(mark_leaves(&e, leaves));
	/* NO_CLEAR leaves the bits: the same twice. */
	CHECK_SUB(check_get(&e, leaves, IOVA, LEAF, NLEAVES,
			    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	CHECK_SUB(check_get(&e, leaves, IOVA, LEAF, NLEAVES,
			    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	/* A read clears what it read, and only that. */
	CHECK_SUB(check_get(&e, leaves, IOVA, LEAF, NLEAVES / 2, 0));
	memset(leaves, 0, NLEAVES / 16);
	CHECK_SUB(check_get(&e, leaves, IOVA, LEAF, NLEAVES,
			    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	CHECK_SUB(check_get(&e, leaves, IOVA, LEAF, NLEAVES, 0));
	CHECK_SUB(check_get(&e, zero, IOVA, LEAF, NLEAVES, 0));
	env_close(&e);
}

TEST(page_sizes)
{
	/* page_size, and IOVA's offset from the mapping (leaves). */
	static const struct {
		__u64 page_size;
		__u64 skip;
	} cases[] = {
		{ 1, 0 }, { 3, 1 }, { 512, 0 }, { 1024, 3 }, { LEAF, 0 },
		{ LEAF, 5 }, { 2 * LEAF, 0 }, { 3 * LEAF, 1 }, { 4 * LEAF, 2 },
		{ 4096 * 3, 1 }, { 1UL << 20, 0 }, { 1UL << 24, 0 },
	};
	unsigned char leaves[NLEAVES / 8];
	struct env e;
	unsigned int i;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	pattern(leaves, 3);
	CHECK_SUB(mark_leaves(&e, leaves));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		__u64 ps = cases[i].page_size;
		__u64 iova = IOVA + cases[i].skip * LEAF, nbits;

		/* Up to the next multiple of page_size and of LEAF. */
		while (iova % ps)
			iova += LEAF;
		if (ps > BUF_LEN)
			iova = IOVA / ps * ps;
		/* Cover the mapping and a little beyond it. */
		nbits = (IOVA + BUF_LEN + 8 * LEAF - iova + ps - 1) / ps;
		while ((nbits * ps) % LEAF)
			nbits++;
		if (ps == 1)
			nbits = 40 * LEAF;	/* 80 KiB of IOVA, 10 KiB map */
		CHECK_SUB(check_get(&e, leaves, iova, ps, nbits,
				    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	}
	/* A range starting before the mapping. */
	CHECK_SUB(check_get(&e, leaves, IOVA - 64 * LEAF, LEAF, NLEAVES + 64,
			    IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	env_close(&e);
}

/*
 * The bitmap at every alignment, across user pages, with leaves whose bits
 * straddle two pages of it: only the bits are set, nothing else written.
 */
TEST(bitmap_alignment)
{
	static const size_t offsets[] = {
		0, 1, 3, 7, 8, 4000, 4095, 4096 - 37,
	};
	const __u64 nbits = 64 * LEAF;	/* page_size 1: 2048 bits a leaf */
	const size_t bytes = nbits / 8, area = 3 * PAGE_SIZE + bytes;
	unsigned char leaves[NLEAVES / 8], *want, *mem;
	struct env e;
	unsigned int i;
	size_t j;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	memset(leaves, 0, sizeof(leaves));
	for (i = 0; i < 64; i += 3)
		bit_set(leaves, i);
	bit_set(leaves, 1);
	CHECK_SUB(mark_leaves(&e, leaves));
	want = malloc(bytes);
	mem = mmap(NULL, area, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(want && mem != MAP_FAILED);
	expect_bits(want, leaves, IOVA, 1, nbits);
	for (i = 0; i < 2 * ARRAY_SIZE(offsets); i++) {
		unsigned char *map = mem + PAGE_SIZE + offsets[i / 2];
		/* Read and cleared: bits on the next page still come. */
		__u32 flags = i % 2 ? 0 : IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;

		CHECK_SUB(mark_leaves(&e, leaves));
		/* Bits set already stay set; bytes around stay as they were. */
		memset(mem, 0x5a, area);
		memset(map, 0, bytes);
		map[0] |= 0x80;
		CHECK_OK(get_dirty(e.fd, e.hwpt, IOVA, nbits, 1, map, flags));
		CHECK(map[0] == (want[0] | 0x80));
		CHECK(!memcmp(map + 1, want + 1, bytes - 1));
		for (j = 0; j < PAGE_SIZE + offsets[i / 2]; j++)
			CHECK(mem[j] == 0x5a);
		for (j = PAGE_SIZE + offsets[i / 2] + bytes; j < area; j++)
			CHECK(mem[j] == 0x5a);
		if (!flags) {
			/* And all of them were cleared. */
			memset(mem, 0, bytes);
			CHECK_OK(get_dirty(e.fd, e.hwpt, IOVA, nbits, 1, mem,
					   0));
			for (j = 0; j < bytes; j++)
				CHECK(!mem[j]);
		}
	}
	munmap(mem, area);
	free(want);
	env_close(&e);
}

/*
 * A range of 128 TiB, 2^27 bits (a 16 MiB bitmap): walked a page of the
 * bitmap at a time, with no kernel buffer of that size.
 */
TEST(huge_range)
{
	const __u64 ps = 1UL << 20, nbits = 1UL << 27, bytes = nbits / 8;
	unsigned char leaves[NLEAVES / 8], *map;
	__u64 i, set = 0;
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	memset(leaves, 0, sizeof(leaves));
	bit_set(leaves, 0);
	bit_set(leaves, NLEAVES - 1);
	CHECK_SUB(mark_leaves(&e, leaves));
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(map != MAP_FAILED);
	CHECK_OK(get_dirty(e.fd, e.hwpt, 0, nbits * ps, ps, map, 0));
	/* IOVA is 1 MiB aligned: both leaves in bit IOVA >> 20. */
	for (i = 0; i < bytes; i++)
		set += __builtin_popcount(map[i]);
	CHECK(set == 1 && bit_test(map, IOVA / ps));
	/* Cleared. */
	map[IOVA / ps / 8] = 0;
	CHECK_OK(get_dirty(e.fd, e.hwpt, 0, nbits * ps, ps, map, 0));
	CHECK(!bit_test(map, IOVA / ps));
	/* All but the last 2^40 of the 64-bit space: 2^24 - 1 bits. */
	CHECK_SUB(mark_leaves(&e, leaves));
	memset(map, 0, bytes);
	CHECK_OK(get_dirty(e.fd, e.hwpt, 0, 0 - (1ULL << 40), 1ULL << 40, map,
			   0));
	CHECK(map[0] == 1);
	munmap(map, bytes);
	env_close(&e);
}

/* How many bits of @map (@nbits long) are set: all of [first, last] only? */
static bool bits_exactly(const unsigned char *map, __u64 nbits, __u64 first,
			 __u64 last)
{
	__u64 i;

	for (i = 0; i < nbits; i++)
		if (bit_test(map, i) != (i >= first && i <= last))
			return false;
	return true;
}

/*
 * The HUGE mock page table over 2 MiB hugetlb memory at a 2 MiB-aligned
 * IOVA has 1 MiB leaves: one DMA write dirties 512 bits of 2 KiB, and a
 * read of part of the leaf reports (and clears) the whole of it.  Over
 * CPU pages its leaves are CPU pages.  The mock device's own default
 * table keeps its 2 KiB leaves.
 */
TEST(huge_pagetable_leaves)
{
	const __u64 hiova = 1ULL << 40, ps = MOCK_PAGE_SIZE;
	const __u64 nbits = (2UL << 20) / ps, per_huge = (1UL << 20) / ps;
	const __u64 siova = hiova + (8UL << 20);
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
		.pagetable_type = MOCK_IOMMUPT_HUGE,
	};
	unsigned char one[1] = { 1 }, map[(2UL << 20) / MOCK_PAGE_SIZE / 8];
	__u32 ioas, ioas2, stdev, idev, hwpt;
	void *huge, *small;
	__u64 nr;
	int fd;

	huge = buf_alloc_huge(2UL << 20);
	if (!huge) {
		tap_skip("no 2 MiB hugetlb page to be had (vm.nr_hugepages)");
		return;
	}
	small = buf_alloc(4 * PAGE_SIZE);
	CHECK(small);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(mock_domain(fd, ioas2, &stdev, NULL, &idev));
	CHECK_OK(hwpt_alloc_data(fd, idev, ioas,
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
				 IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
				 &hwpt));
	CHECK_OK(ioas_map_fixed(fd, ioas, huge, 2UL << 20, hiova));
	CHECK_OK(ioas_map_fixed(fd, ioas, small, 4 * PAGE_SIZE, siova));
	CHECK_OK(set_dirty(fd, hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));

	/* One write 12 KiB into the second 1 MiB: its whole leaf. */
	CHECK_OK(mock_dirty(fd, hwpt, hiova + (1UL << 20) + 6 * ps, ps, ps,
			    one, &nr));
	CHECK(nr == 1);
	memset(map, 0, sizeof(map));
	CHECK_OK(get_dirty(fd, hwpt, hiova, nbits * ps, ps, map,
			   IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	CHECK(bits_exactly(map, nbits, per_huge, nbits - 1));
	/* A read of its last page (the IOAS's alignment) clears it all. */
	memset(map, 0, sizeof(map));
	CHECK_OK(get_dirty(fd, hwpt, hiova + (2UL << 20) - PAGE_SIZE,
			   PAGE_SIZE, ps, map, 0));
	CHECK(bits_exactly(map, PAGE_SIZE / ps, 0, PAGE_SIZE / ps - 1));
	memset(map, 0, sizeof(map));
	CHECK_OK(get_dirty(fd, hwpt, hiova, nbits * ps, ps, map, 0));
	CHECK(bits_exactly(map, nbits, 1, 0));

	/* Over CPU pages: a write in the second page dirties that page. */
	CHECK_OK(mock_dirty(fd, hwpt, siova + PAGE_SIZE + ps, ps, ps, one,
			    &nr));
	memset(map, 0, sizeof(map));
	CHECK_OK(get_dirty(fd, hwpt, siova, 4 * PAGE_SIZE, ps, map,
			   IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	CHECK(bits_exactly(map, 4 * PAGE_SIZE / ps, PAGE_SIZE / ps,
			   2 * PAGE_SIZE / ps - 1));
	/* A read that starts after the dirty page neither sees nor clears it. */
	memset(map, 0, sizeof(map));
	CHECK_OK(get_dirty(fd, hwpt, siova + 2 * PAGE_SIZE, 2 * PAGE_SIZE, ps,
			   map, 0));
	CHECK(bits_exactly(map, 2 * PAGE_SIZE / ps, 1, 0));
	memset(map, 0, sizeof(map));
	CHECK_OK(get_dirty(fd, hwpt, siova, 4 * PAGE_SIZE, ps, map, 0));
	CHECK(bits_exactly(map, 4 * PAGE_SIZE / ps, PAGE_SIZE / ps,
			   2 * PAGE_SIZE / ps - 1));

	CHECK_OK(iommu_destroy(fd, hwpt));
	close(fd);
	buf_free(small, 4 * PAGE_SIZE);
	buf_free(huge, 2UL << 20);
}

TEST(enable_clears_and_unmap_forgets)
{
	unsigned char leaves[NLEAVES / 8], zero[NLEAVES / 8] = { 0 };
	__u64 unmapped, nr;
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	pattern(leaves, 2);
	CHECK_SUB(mark_leaves(&e, leaves));
	/* Off and on again: a clean snapshot. */
	CHECK_OK(set_dirty(e.fd, e.hwpt, 0));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_SUB(check_get(&e, zero, IOVA, LEAF, NLEAVES, 0));
	/* Enabling while on clears too. */
	CHECK_SUB(mark_leaves(&e, leaves));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	CHECK_SUB(check_get(&e, zero, IOVA, LEAF, NLEAVES, 0));
	/* Unmapped leaves take their dirty bits with them. */
	CHECK_SUB(mark_leaves(&e, leaves));
	CHECK_OK(ioas_unmap(e.fd, e.ioas, IOVA, BUF_LEN, &unmapped));
	CHECK(unmapped == BUF_LEN);
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, e.buf, BUF_LEN, IOVA));
	CHECK_SUB(check_get(&e, zero, IOVA, LEAF, NLEAVES, 0));
	/* Marks of unmapped IOVA count but dirty nothing. */
	CHECK_OK(mock_dirty(e.fd, e.hwpt, IOVA + BUF_LEN, 8 * LEAF, LEAF,
			    leaves, &nr));
	CHECK(nr == (__u64)__builtin_popcount(leaves[0]));
	CHECK_SUB(check_get(&e, zero, IOVA, LEAF, NLEAVES + 8, 0));
	env_close(&e);
}

struct stalled_get {
	int fd;
	__u32 hwpt;
	void *map;
	int rc, err;
};

static void *stalled_get_thread(void *arg)
{
	struct stalled_get *s = arg;

	s->rc = get_dirty(s->fd, s->hwpt, IOVA, BUF_LEN, LEAF, s->map, 0);
	s->err = errno;
	return NULL;
}

/*
 * A GET whose bitmap faults (userfaultfd) holds nothing: the HWPT can
 * be destroyed meanwhile, and the GET then ends with ENOENT.
 */
TEST(bitmap_fault_holds_nothing)
{
	unsigned char leaves[NLEAVES / 8];
	struct stalled_get s = { 0 };
	struct uffd_stuck u;
	struct env e;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	pattern(leaves, 4);
	CHECK_SUB(mark_leaves(&e, leaves));
	if (uffd_stuck_page(&u))
		SKIP("no userfaultfd");
	s.fd = e.fd;
	s.hwpt = e.hwpt;
	s.map = u.page;
	CHECK_OK(uffd_stuck_start(&u, stalled_get_thread, &s));
	/* The GET waits in the fault: the HWPT is not held. */
	CHECK_OK(iommu_destroy(e.fd, e.hwpt));
	CHECK_OK(uffd_stuck_release(&u));
	CHECK(s.rc == -1 && s.err == ENOENT);
	munmap(u.page, PAGE_SIZE);
	env_close(&e);
}

struct racer {
	int fd;
	__u32 ioas;
	void *buf;
	volatile bool stop;
	int failed;
};

static void *remap_thread(void *arg)
{
	struct racer *r = arg;

	while (!r->stop) {
		if (ioas_unmap(r->fd, r->ioas, IOVA, BUF_LEN, NULL) ||
		    ioas_map_fixed(r->fd, r->ioas, r->buf, BUF_LEN, IOVA)) {
			r->failed = errno;
			break;
		}
	}
	return NULL;
}

/*
 * Marks and reads race unmaps and maps of the same IOVA: every call
 * works, and a bit read is always one of a leaf that was marked.
 */
TEST(race_with_unmap)
{
	unsigned char leaves[NLEAVES / 8], have[NLEAVES / 8];
	struct racer r = { 0 };
	pthread_t thread;
	struct env e;
	unsigned int i, j;

	CHECK_SUB(env_open(&e, IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
	CHECK_OK(set_dirty(e.fd, e.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	pattern(leaves, 5);
	r.fd = e.fd;
	r.ioas = e.ioas;
	r.buf = e.buf;
	CHECK_OK(pthread_create(&thread, NULL, remap_thread, &r));
	for (i = 0; i < 300; i++) {
		CHECK_OK(mock_dirty(e.fd, e.hwpt, IOVA, BUF_LEN, LEAF, leaves,
				    NULL));
		memset(have, 0, sizeof(have));
		CHECK_OK(get_dirty(e.fd, e.hwpt, IOVA, BUF_LEN, LEAF, have,
				   i % 2 ? IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR :
				   0));
		for (j = 0; j < sizeof(have); j++)
			CHECK(!(have[j] & ~leaves[j]));
	}
	r.stop = true;
	CHECK_OK(pthread_join(thread, NULL));
	CHECK(!r.failed);
	env_close(&e);
}

int main(void)
{
	return tap_run();
}
