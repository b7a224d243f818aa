// SPDX-License-Identifier: GPL-2.0
/*
 * I/O address spaces: IOAS_ALLOC, IOVA_RANGES, ALLOW_IOVAS, automatic
 * IOVA allocation and IOMMU_OPTION.
 */
#include <sys/ioctl.h>

#include "util.h"

#define MAX_RANGES 8

/* IOVA_RANGES of @ioas must be exactly @want (and @align when non-zero). */
static void expect_ranges(int fd, __u32 ioas,
			  const struct iommu_iova_range *want, unsigned int n,
			  __u64 align)
{
	struct iommu_iova_range got[MAX_RANGES];
	__u32 num = MAX_RANGES;
	__u64 got_align = 0;
	unsigned int i;

	memset(got, 0, sizeof(got));
	CHECK_OK(ioas_iova_ranges(fd, ioas, got, &num, &got_align));
	if (num != n) {
		tap_diag("%u ranges, expected %u", num, n);
		for (i = 0; i < num && i < MAX_RANGES; i++)
			tap_diag("  [0x%llx, 0x%llx]",
				 (unsigned long long)got[i].start,
				 (unsigned long long)got[i].last);
	}
	CHECK(num == n);
	for (i = 0; i < n; i++) {
		if (got[i].start != want[i].start ||
		    got[i].last != want[i].last)
			tap_diag("range %u is [0x%llx, 0x%llx], expected "
				 "[0x%llx, 0x%llx]", i,
				 (unsigned long long)got[i].start,
				 (unsigned long long)got[i].last,
				 (unsigned long long)want[i].start,
				 (unsigned long long)want[i].last);
		CHECK(got[i].start == want[i].start);
		CHECK(got[i].last == want[i].last);
	}
	if (align) {
		if (got_align != align)
			tap_diag("alignment %llu, expected %llu",
				 (unsigned long long)got_align,
				 (unsigned long long)align);
		CHECK(got_align == align);
	}
}

static const struct iommu_iova_range full_range[] = { { 0, UINT64_MAX } };
static const struct iommu_iova_range mock_range[] = {
	{ MOCK_APERTURE_START, MOCK_APERTURE_LAST },
};

TEST(ioas_alloc_and_destroy)
{
	__u32 ids[4];
	unsigned int i;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		CHECK_OK(ioas_alloc(fd, &ids[i]));
		CHECK(ids[i] != 0);
		if (i)
			CHECK(ids[i] != ids[i - 1]);
	}
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		CHECK_OK(iommu_destroy(fd, ids[i]));
	close(fd);
}

TEST(iova_ranges_fresh_ioas)
{
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(iova_ranges_too_small_emsgsize)
{
	struct iommu_iova_range r[2];
	__u32 ioas, num;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));

	num = 0;
	CHECK_ERRNO(ioas_iova_ranges(fd, ioas, NULL, &num, NULL), EMSGSIZE);
	CHECK(num == 1);

	/* Two ranges once a hole is reserved; room for one is too little. */
	CHECK_OK(add_reserved(fd, ioas, 1UL << 20, 1UL << 20));
	num = 1;
	CHECK_ERRNO(ioas_iova_ranges(fd, ioas, r, &num, NULL), EMSGSIZE);
	CHECK(num == 2);
	num = 2;
	CHECK_OK(ioas_iova_ranges(fd, ioas, r, &num, NULL));
	CHECK(num == 2);

	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(iova_ranges_reserved_hole)
{
	const struct iommu_iova_range one_hole[] = {
		{ 0, (1UL << 20) - 1 },
		{ 2UL << 20, UINT64_MAX },
	};
	const struct iommu_iova_range two_holes[] = {
		{ 0, (1UL << 20) - 1 },
		{ 2UL << 20, (8UL << 20) - 1 },
		{ (8UL << 20) + PAGE_SIZE, UINT64_MAX },
	};
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(add_reserved(fd, ioas, 1UL << 20, 1UL << 20));
	CHECK_SUB(expect_ranges(fd, ioas, one_hole, 2, 1));
	CHECK_OK(add_reserved(fd, ioas, 8UL << 20, PAGE_SIZE));
	CHECK_SUB(expect_ranges(fd, ioas, two_holes, 3, 1));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(iova_ranges_clipped_by_mock_domain)
{
	__u32 ioas, stdev, hwpt;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_SUB(expect_ranges(fd, ioas, mock_range, 1, MOCK_PAGE_SIZE));

	/* Detaching the only device gives the whole space back. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(iova_ranges_errors)
{
	struct iommu_iova_range r[2];
	struct iommu_ioas_iova_ranges cmd;
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.ioas_id = ioas;
	cmd.num_iovas = 2;
	cmd.allowed_iovas = (uintptr_t)r;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd), EOPNOTSUPP);

	__u32 num = 2;
	CHECK_ERRNO(ioas_iova_ranges(fd, BAD_ID, r, &num, NULL), ENOENT);
	num = 2;
	CHECK_ERRNO(ioas_iova_ranges(fd, 0, r, &num, NULL), ENOENT);

	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

/*
 * The allowed list is a promise, not a filter: IOVA_RANGES never gets
 * narrower than it, and automatic IOVA allocation stays inside it.
 */
TEST(allow_iovas_guide_allocation_not_ranges)
{
	const struct iommu_iova_range allow[] = {
		{ 16UL << 20, (32UL << 20) - 1 },
		{ 64UL << 20, (64UL << 20) + 16 * PAGE_SIZE - 1 },
	};
	__u64 iova;
	void *buf;
	__u32 ioas;
	int fd, i;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_allow_iovas(fd, ioas, allow, 2));
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));
	for (i = 0; i < 8; i++) {
		CHECK_OK(ioas_map_auto(fd, ioas, buf, PAGE_SIZE, &iova));
		CHECK((iova >= allow[0].start && iova + PAGE_SIZE - 1 <= allow[0].last) ||
		      (iova >= allow[1].start && iova + PAGE_SIZE - 1 <= allow[1].last));
	}
	/* An empty list removes the restriction. */
	CHECK_OK(ioas_allow_iovas(fd, ioas, NULL, 0));
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, PAGE_SIZE);
}

TEST(allow_iovas_errors)
{
	const struct iommu_iova_range good[] = {
		{ 16UL << 20, (32UL << 20) - 1 },
	};
	const struct iommu_iova_range overlap[] = {
		{ 1UL << 20, (3UL << 20) - 1 },
		{ 2UL << 20, (4UL << 20) - 1 },
	};
	const struct iommu_iova_range backwards[] = {
		{ 2UL << 20, (1UL << 20) },
	};
	const struct iommu_iova_range empty[] = {
		{ 2UL << 20, 2UL << 20 },
	};
	const struct iommu_iova_range on_reserved[] = {
		{ (64UL << 20) - PAGE_SIZE, (64UL << 20) + PAGE_SIZE - 1 },
	};
	struct iommu_ioas_allow_iovas cmd;
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(add_reserved(fd, ioas, 64UL << 20, PAGE_SIZE));
	CHECK_OK(ioas_allow_iovas(fd, ioas, good, 1));

	CHECK_ERRNO(ioas_allow_iovas(fd, ioas, overlap, 2), EINVAL);
	CHECK_ERRNO(ioas_allow_iovas(fd, ioas, backwards, 1), EINVAL);
	CHECK_ERRNO(ioas_allow_iovas(fd, ioas, empty, 1), EINVAL);
	CHECK_ERRNO(ioas_allow_iovas(fd, ioas, on_reserved, 1), EADDRINUSE);
	CHECK_ERRNO(ioas_allow_iovas(fd, BAD_ID, good, 1), ENOENT);

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.ioas_id = ioas;
	cmd.num_iovas = 1;
	cmd.allowed_iovas = (uintptr_t)good;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd), EOPNOTSUPP);

	/* Every refused call left the earlier list in place. */
	{
		void *buf = buf_alloc(PAGE_SIZE);
		__u64 iova;

		CHECK(buf);
		CHECK_OK(ioas_map_auto(fd, ioas, buf, PAGE_SIZE, &iova));
		CHECK(iova >= good[0].start && iova < good[0].last);
		CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
		buf_free(buf, PAGE_SIZE);
	}

	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(allow_iovas_blocks_narrowing_attach)
{
	const struct iommu_iova_range straddle[] = {
		{ MOCK_APERTURE_START - PAGE_SIZE,
		  MOCK_APERTURE_START + PAGE_SIZE - 1 },
	};
	const struct iommu_iova_range inside[] = {
		{ MOCK_APERTURE_START, MOCK_APERTURE_START + 64 * PAGE_SIZE - 1 },
	};
	__u32 ioas, stdev, hwpt;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_allow_iovas(fd, ioas, straddle, 1));
	/* The mock aperture would cut the allowed range: refused. */
	CHECK_ERRNO(mock_domain(fd, ioas, &stdev, &hwpt, NULL), EADDRINUSE);
	/* Nothing of the failed attach remains. */
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));

	/* Inside the aperture the same attach works. */
	CHECK_OK(ioas_allow_iovas(fd, ioas, inside, 1));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_SUB(expect_ranges(fd, ioas, mock_range, 1, MOCK_PAGE_SIZE));
	/* And the allowed list may not be widened past the aperture now. */
	CHECK_ERRNO(ioas_allow_iovas(fd, ioas, straddle, 1), EADDRINUSE);

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(attach_refused_when_area_outside_aperture)
{
	__u32 ioas, stdev, hwpt;
	__u64 unmapped;
	void *buf;
	int fd;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE, 1UL << 20));
	CHECK_ERRNO(mock_domain(fd, ioas, &stdev, &hwpt, NULL), EADDRINUSE);
	/* The refused attach left no domain: the ranges are unclipped. */
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));
	CHECK_OK(ioas_unmap(fd, ioas, 1UL << 20, PAGE_SIZE, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, PAGE_SIZE);
}

TEST(auto_iova_stays_in_allowed_ranges)
{
	const struct iommu_iova_range allow[] = {
		{ 32UL << 20, (32UL << 20) + 4 * PAGE_SIZE - 1 },
		{ 48UL << 20, (48UL << 20) + 4 * PAGE_SIZE - 1 },
	};
	__u64 iovas[8], iova;
	unsigned int i, j;
	__u32 ioas;
	void *buf;
	int fd;

	buf = buf_alloc(8 * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_allow_iovas(fd, ioas, allow, 2));

	for (i = 0; i < 8; i++) {
		CHECK_OK(ioas_map_auto(fd, ioas, (char *)buf + i * PAGE_SIZE,
				       PAGE_SIZE, &iovas[i]));
		bool inside = false;
		for (j = 0; j < ARRAY_SIZE(allow); j++)
			if (iovas[i] >= allow[j].start &&
			    iovas[i] + PAGE_SIZE - 1 <= allow[j].last)
				inside = true;
		if (!inside)
			tap_diag("auto IOVA 0x%llx is outside the allowed "
				 "ranges", (unsigned long long)iovas[i]);
		CHECK(inside);
		CHECK(iovas[i] % PAGE_SIZE == 0);
		for (j = 0; j < i; j++)
			CHECK(iovas[j] != iovas[i]);
	}
	/* Both ranges are full. */
	CHECK_ERRNO(ioas_map_auto(fd, ioas, buf, PAGE_SIZE, &iova), ENOSPC);

	/* Freeing one page makes room for exactly one page again. */
	CHECK_OK(ioas_unmap(fd, ioas, iovas[5], PAGE_SIZE, NULL));
	CHECK_ERRNO(ioas_map_auto(fd, ioas, buf, 2 * PAGE_SIZE, &iova),
		    ENOSPC);
	CHECK_OK(ioas_map_auto(fd, ioas, buf, PAGE_SIZE, &iova));
	CHECK(iova == iovas[5]);

	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == 8 * PAGE_SIZE);
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 8 * PAGE_SIZE);
}

TEST(auto_iova_no_space_enospc)
{
	const struct iommu_iova_range allow[] = {
		{ 1UL << 30, (1UL << 30) + 2 * PAGE_SIZE - 1 },
	};
	__u64 iova;
	__u32 ioas;
	void *buf;
	int fd;

	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_allow_iovas(fd, ioas, allow, 1));
	/* Bigger than the only range. */
	CHECK_ERRNO(ioas_map_auto(fd, ioas, buf, 4 * PAGE_SIZE, &iova), ENOSPC);
	CHECK_OK(ioas_map_auto(fd, ioas, buf, 2 * PAGE_SIZE, &iova));
	CHECK(iova == allow[0].start);
	CHECK_ERRNO(ioas_map_auto(fd, ioas, buf, PAGE_SIZE, &iova), ENOSPC);
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 4 * PAGE_SIZE);
}

TEST(option_rlimit_mode)
{
	__u64 val = 99;
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 0);

	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 2), EINVAL);
	CHECK_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 1);
	CHECK_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 0));
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 0);

	/* The option applies to the fd, not to one object. */
	CHECK_ERRNO(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 1, &val),
		    EOPNOTSUPP);
	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 1, 1),
		    EOPNOTSUPP);

	/* Fixed once the fd holds an object. */
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1), EBUSY);
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 0);
	CHECK_OK(iommu_destroy(fd, ioas));
	/* Empty again: allowed again. */
	CHECK_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	close(fd);

	/* A new fd starts in the default mode. */
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 0);
	close(fd);
}

TEST(option_errors)
{
	struct iommu_option cmd;
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));

	/* Unknown option. */
	CHECK_ERRNO(option_get(fd, 7, 0, NULL), EOPNOTSUPP);
	CHECK_ERRNO(option_set(fd, 7, ioas, 1), EOPNOTSUPP);

	/* Unknown op, for both options. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd.op = 2;
	CHECK_ERRNO(ioctl(fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);
	cmd.option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd.object_id = ioas;
	CHECK_ERRNO(ioctl(fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);

	/* Non-zero reserved field. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd.op = IOMMU_OPTION_OP_GET;
	cmd.object_id = ioas;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);
	cmd.option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd.object_id = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);

	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(option_huge_pages)
{
	__u32 ioas, stdev, hwpt;
	__u64 val = 99;
	void *buf;
	int fd;

	buf = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 1);

	CHECK_OK(option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 0));
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 0);
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, PAGE_SIZE));
	CHECK_OK(option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 1));
	CHECK_SUB(expect_ranges(fd, ioas, full_range, 1, 1));

	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 2), EINVAL);
	CHECK_ERRNO(option_get(fd, IOMMU_OPTION_HUGE_PAGES, BAD_ID, &val),
		    ENOENT);
	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_HUGE_PAGES, BAD_ID, 0),
		    ENOENT);
	CHECK_ERRNO(option_get(fd, IOMMU_OPTION_HUGE_PAGES, 0, &val), ENOENT);

	/* A domain holding mappings cannot switch page sizes. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE,
				MOCK_APERTURE_START));
	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 0), EINVAL);
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 1);
	CHECK_SUB(expect_ranges(fd, ioas, mock_range, 1, MOCK_PAGE_SIZE));

	/* Without mappings it can, and the alignment becomes PAGE_SIZE. */
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 0));
	CHECK_SUB(expect_ranges(fd, ioas, mock_range, 1, PAGE_SIZE));
	/* A MOCK_PAGE_SIZE-aligned IOVA is no longer good enough. */
	CHECK_ERRNO(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE,
				   MOCK_APERTURE_START + MOCK_PAGE_SIZE),
		    EINVAL);
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE,
				MOCK_APERTURE_START));
	CHECK_OK(check_map(fd, hwpt, MOCK_APERTURE_START, buf, 2 * PAGE_SIZE));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 2 * PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}
