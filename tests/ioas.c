// SPDX-License-Identifier: GPL-2.0
/*
 * I/O address spaces: IOAS_ALLOC, IOVA_RANGES, ALLOW_IOVAS, automatic
 * IOVA allocation and IOMMU_OPTION.  The tests whose rules hold whatever
 * mirrors the IOAS run once per domain variant (no domain, one, two:
 * dom_env in util.h); those about attaching a first domain are plain.
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

/* [first, last] of the variant's IOAS (the mock aperture with domains). */
static void expect_span(struct dom_env *e, __u64 align)
{
	const struct iommu_iova_range span[] = {
		{ dom_env_first(e), dom_env_last(e) },
	};

	CHECK_SUB(expect_ranges(e->fd, e->ioas, span, 1, align));
}

TEST_VARIANTS(ioas_alloc_and_destroy, domain_variants)
{
	struct dom_env e;
	__u32 ids[4];
	unsigned int i;

	CHECK_SUB(dom_env_setup(&e));
	CHECK(e.ioas != 0);
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		CHECK_OK(ioas_alloc(e.fd, &ids[i]));
		CHECK(ids[i] != 0 && ids[i] != e.ioas);
		CHECK(!e.ndomains || (ids[i] != e.hwpt && ids[i] != e.stdev));
		CHECK(e.ndomains < 2 ||
		      (ids[i] != e.hwpt2 && ids[i] != e.stdev2));
		if (i)
			CHECK(ids[i] != ids[i - 1]);
	}
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		CHECK_OK(iommu_destroy(e.fd, ids[i]));
	CHECK_ERRNO(iommu_destroy(e.fd, ids[0]), ENOENT);

	/* Held by the domains' devices or by the access: EBUSY. */
	CHECK_ERRNO(iommu_destroy(e.fd, e.ioas), EBUSY);
	if (e.stdev2)
		CHECK_OK(iommu_destroy(e.fd, e.stdev2));
	if (e.stdev) {
		CHECK_OK(iommu_destroy(e.fd, e.stdev));
		/* The automatic domain went with its only device. */
		CHECK_ERRNO(iommu_destroy(e.fd, e.hwpt), ENOENT);
	}
	if (e.hwpt2) {
		/* A HWPT allocated on the IOAS holds it by itself. */
		CHECK_ERRNO(iommu_destroy(e.fd, e.ioas), EBUSY);
		CHECK_OK(iommu_destroy(e.fd, e.hwpt2));
	}
	if (e.afd >= 0) {
		CHECK_ERRNO(iommu_destroy(e.fd, e.ioas), EBUSY);
		CHECK_OK(close(e.afd));
	}
	CHECK_OK(iommu_destroy(e.fd, e.ioas));
	CHECK_ERRNO(iommu_destroy(e.fd, e.ioas), ENOENT);
	CHECK_OK(close(e.fd));
}

TEST_VARIANTS(iova_ranges_fresh_ioas, domain_variants)
{
	struct dom_env e;

	CHECK_SUB(dom_env_setup(&e));
	/* All of it, or the domains' aperture and page size. */
	CHECK_SUB(expect_span(&e, dom_env_align(&e)));
	CHECK_SUB(dom_env_teardown(&e));
}

TEST_VARIANTS(iova_ranges_too_small_emsgsize, domain_variants)
{
	const __u64 hole = MOCK_APERTURE_START + (1UL << 20);
	struct iommu_iova_range r[2];
	struct dom_env e;
	__u64 align = 0;
	__u32 num;

	CHECK_SUB(dom_env_setup(&e));

	num = 0;
	CHECK_ERRNO(ioas_iova_ranges(e.fd, e.ioas, NULL, &num, NULL),
		    EMSGSIZE);
	CHECK(num == 1);

	/* Two ranges once a hole is reserved; room for one is too little,
	 * and only that one is filled. */
	CHECK_OK(add_reserved(e.fd, e.ioas, hole, 1UL << 20));
	memset(r, 0xa5, sizeof(r));
	num = 1;
	CHECK_ERRNO(ioas_iova_ranges(e.fd, e.ioas, r, &num, NULL), EMSGSIZE);
	CHECK(num == 2);
	CHECK(r[0].start == dom_env_first(&e) && r[0].last == hole - 1);
	CHECK(r[1].start == 0xa5a5a5a5a5a5a5a5ULL &&
	      r[1].last == 0xa5a5a5a5a5a5a5a5ULL);
	num = 2;
	CHECK_OK(ioas_iova_ranges(e.fd, e.ioas, r, &num, &align));
	CHECK(num == 2);
	CHECK(align == dom_env_align(&e));
	CHECK(r[0].start == dom_env_first(&e) && r[0].last == hole - 1);
	CHECK(r[1].start == hole + (1UL << 20) &&
	      r[1].last == dom_env_last(&e));

	CHECK_SUB(dom_env_teardown(&e));
}

TEST_VARIANTS(iova_ranges_reserved_hole, domain_variants)
{
	const __u64 h1 = MOCK_APERTURE_START + (1UL << 20);
	const __u64 h2 = MOCK_APERTURE_START + (8UL << 20);
	struct iommu_iova_range want[4];
	struct dom_env e;

	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(add_reserved(e.fd, e.ioas, h1, 1UL << 20));
	want[0] = (struct iommu_iova_range){ dom_env_first(&e), h1 - 1 };
	want[1] = (struct iommu_iova_range){ h1 + (1UL << 20),
					     dom_env_last(&e) };
	CHECK_SUB(expect_ranges(e.fd, e.ioas, want, 2, dom_env_align(&e)));
	CHECK_OK(add_reserved(e.fd, e.ioas, h2, PAGE_SIZE));
	want[1].last = h2 - 1;
	want[2] = (struct iommu_iova_range){ h2 + PAGE_SIZE,
					     dom_env_last(&e) };
	CHECK_SUB(expect_ranges(e.fd, e.ioas, want, 3, dom_env_align(&e)));

	/*
	 * A hole below the mock aperture: the domains reserve that space
	 * already, so only an IOAS without domains gets a range more.
	 */
	CHECK_OK(add_reserved(e.fd, e.ioas, 1UL << 20, 1UL << 20));
	if (e.ndomains) {
		CHECK_SUB(expect_ranges(e.fd, e.ioas, want, 3,
					dom_env_align(&e)));
	} else {
		const struct iommu_iova_range four[] = {
			{ 0, (1UL << 20) - 1 },
			{ 2UL << 20, h1 - 1 },
			want[1], want[2],
		};

		CHECK_SUB(expect_ranges(e.fd, e.ioas, four, 4, 1));
	}
	CHECK_SUB(dom_env_teardown(&e));
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

TEST_VARIANTS(iova_ranges_errors, domain_variants)
{
	struct iommu_iova_range r[2];
	struct iommu_ioas_iova_ranges cmd;
	struct dom_env e;
	__u32 num;

	CHECK_SUB(dom_env_setup(&e));

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.ioas_id = e.ioas;
	cmd.num_iovas = 2;
	cmd.allowed_iovas = (uintptr_t)r;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_IOAS_IOVA_RANGES, &cmd), EOPNOTSUPP);

	num = 2;
	CHECK_ERRNO(ioas_iova_ranges(e.fd, BAD_ID, r, &num, NULL), ENOENT);
	num = 2;
	CHECK_ERRNO(ioas_iova_ranges(e.fd, 0, r, &num, NULL), ENOENT);
	if (e.ndomains) {
		/* A HWPT or a device is not an IOAS. */
		num = 2;
		CHECK_ERRNO(ioas_iova_ranges(e.fd, e.hwpt, r, &num, NULL),
			    ENOENT);
		num = 2;
		CHECK_ERRNO(ioas_iova_ranges(e.fd, e.stdev, r, &num, NULL),
			    ENOENT);
	}
	CHECK_SUB(expect_span(&e, dom_env_align(&e)));
	CHECK_SUB(dom_env_teardown(&e));
}

/*
 * The allowed list is a promise, not a filter: IOVA_RANGES never gets
 * narrower than it, and automatic IOVA allocation stays inside it.
 */
TEST_VARIANTS(allow_iovas_guide_allocation_not_ranges, domain_variants)
{
	const struct iommu_iova_range allow[] = {
		{ MOCK_APERTURE_START + (16UL << 20),
		  MOCK_APERTURE_START + (32UL << 20) - 1 },
		{ MOCK_APERTURE_START + (64UL << 20),
		  MOCK_APERTURE_START + (64UL << 20) + 16 * PAGE_SIZE - 1 },
	};
	struct dom_env e;
	__u64 iova;
	void *buf;
	int i;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(ioas_allow_iovas(e.fd, e.ioas, allow, 2));
	CHECK_SUB(expect_span(&e, dom_env_align(&e)));
	for (i = 0; i < 8; i++) {
		CHECK_OK(ioas_map_auto(e.fd, e.ioas, buf, PAGE_SIZE, &iova));
		CHECK((iova >= allow[0].start &&
		       iova + PAGE_SIZE - 1 <= allow[0].last) ||
		      (iova >= allow[1].start &&
		       iova + PAGE_SIZE - 1 <= allow[1].last));
		CHECK_OK(dom_env_check_map(&e, iova, buf, PAGE_SIZE));
	}
	/* The domains pin each mapping of the page once. */
	CHECK_OK(check_refs(e.fd, buf, PAGE_SIZE, dom_env_refs(&e, 8)));
	/* An empty list removes the restriction. */
	CHECK_OK(ioas_allow_iovas(e.fd, e.ioas, NULL, 0));
	CHECK_SUB(expect_span(&e, dom_env_align(&e)));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK_OK(check_refs(e.fd, buf, PAGE_SIZE, 0));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, PAGE_SIZE);
}

TEST_VARIANTS(allow_iovas_errors, domain_variants)
{
	const __u64 base = MOCK_APERTURE_START;
	const struct iommu_iova_range good[] = {
		{ base + (16UL << 20), base + (32UL << 20) - 1 },
	};
	const struct iommu_iova_range overlap[] = {
		{ base + (1UL << 20), base + (3UL << 20) - 1 },
		{ base + (2UL << 20), base + (4UL << 20) - 1 },
	};
	const struct iommu_iova_range backwards[] = {
		{ base + (2UL << 20), base + (1UL << 20) },
	};
	const struct iommu_iova_range empty[] = {
		{ base + (2UL << 20), base + (2UL << 20) },
	};
	const struct iommu_iova_range on_reserved[] = {
		{ base + (64UL << 20) - PAGE_SIZE,
		  base + (64UL << 20) + PAGE_SIZE - 1 },
	};
	const struct iommu_iova_range below_aperture[] = {
		{ 1UL << 20, (2UL << 20) - 1 },
	};
	struct iommu_ioas_allow_iovas cmd;
	struct dom_env e;
	__u64 iova;
	void *buf;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(add_reserved(e.fd, e.ioas, base + (64UL << 20), PAGE_SIZE));
	/* Outside the aperture: reserved by the domains, if any. */
	if (e.ndomains)
		CHECK_ERRNO(ioas_allow_iovas(e.fd, e.ioas, below_aperture, 1),
			    EADDRINUSE);
	else
		CHECK_OK(ioas_allow_iovas(e.fd, e.ioas, below_aperture, 1));
	CHECK_OK(ioas_allow_iovas(e.fd, e.ioas, good, 1));
	/* Nothing may be reserved on an allowed range. */
	CHECK_ERRNO(add_reserved(e.fd, e.ioas, good[0].start + (1UL << 20),
				 PAGE_SIZE), EADDRINUSE);

	CHECK_ERRNO(ioas_allow_iovas(e.fd, e.ioas, overlap, 2), EINVAL);
	CHECK_ERRNO(ioas_allow_iovas(e.fd, e.ioas, backwards, 1), EINVAL);
	CHECK_ERRNO(ioas_allow_iovas(e.fd, e.ioas, empty, 1), EINVAL);
	CHECK_ERRNO(ioas_allow_iovas(e.fd, e.ioas, on_reserved, 1),
		    EADDRINUSE);
	CHECK_ERRNO(ioas_allow_iovas(e.fd, BAD_ID, good, 1), ENOENT);
	if (e.ndomains)
		CHECK_ERRNO(ioas_allow_iovas(e.fd, e.ioas, below_aperture, 1),
			    EADDRINUSE);

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.ioas_id = e.ioas;
	cmd.num_iovas = 1;
	cmd.allowed_iovas = (uintptr_t)good;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd), EOPNOTSUPP);

	/* Every refused call left the earlier list in place. */
	CHECK_OK(ioas_map_auto(e.fd, e.ioas, buf, PAGE_SIZE, &iova));
	CHECK(iova >= good[0].start && iova < good[0].last);
	CHECK_OK(dom_env_check_map(&e, iova, buf, PAGE_SIZE));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, PAGE_SIZE);
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

TEST_VARIANTS(auto_iova_stays_in_allowed_ranges, domain_variants)
{
	const struct iommu_iova_range allow[] = {
		{ MOCK_APERTURE_START + (32UL << 20),
		  MOCK_APERTURE_START + (32UL << 20) + 4 * PAGE_SIZE - 1 },
		{ MOCK_APERTURE_START + (48UL << 20),
		  MOCK_APERTURE_START + (48UL << 20) + 4 * PAGE_SIZE - 1 },
	};
	__u64 iovas[8], iova, unmapped = 0;
	unsigned int i, j;
	struct dom_env e;
	char *buf;

	buf = buf_alloc(8 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(ioas_allow_iovas(e.fd, e.ioas, allow, 2));

	for (i = 0; i < 8; i++) {
		bool inside = false;

		CHECK_OK(ioas_map_auto(e.fd, e.ioas, buf + i * PAGE_SIZE,
				       PAGE_SIZE, &iovas[i]));
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
		CHECK_OK(dom_env_check_map(&e, iovas[i], buf + i * PAGE_SIZE,
					   PAGE_SIZE));
	}
	CHECK_OK(check_refs(e.fd, buf, 8 * PAGE_SIZE, dom_env_refs(&e, 1)));
	/* Both ranges are full. */
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, buf, PAGE_SIZE, &iova),
		    ENOSPC);

	/* Freeing one page makes room for exactly one page again. */
	CHECK_OK(ioas_unmap(e.fd, e.ioas, iovas[5], PAGE_SIZE, NULL));
	CHECK_ERRNO(dom_env_check_map(&e, iovas[5], buf + 5 * PAGE_SIZE,
				      PAGE_SIZE), EINVAL);
	CHECK_OK(check_refs(e.fd, buf + 5 * PAGE_SIZE, PAGE_SIZE, 0));
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, buf, 2 * PAGE_SIZE, &iova),
		    ENOSPC);
	CHECK_OK(ioas_map_auto(e.fd, e.ioas, buf, PAGE_SIZE, &iova));
	CHECK(iova == iovas[5]);
	CHECK_OK(dom_env_check_map(&e, iova, buf, PAGE_SIZE));

	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 8 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, buf, 8 * PAGE_SIZE, 0));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 8 * PAGE_SIZE);
}

TEST_VARIANTS(auto_iova_no_space_enospc, domain_variants)
{
	const struct iommu_iova_range allow[] = {
		{ 1UL << 30, (1UL << 30) + 2 * PAGE_SIZE - 1 },
	};
	struct dom_env e;
	__u64 iova;
	void *buf;

	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(ioas_allow_iovas(e.fd, e.ioas, allow, 1));
	/* Bigger than the only range. */
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, buf, 4 * PAGE_SIZE, &iova),
		    ENOSPC);
	CHECK_OK(check_refs(e.fd, buf, 4 * PAGE_SIZE, 0));
	CHECK_OK(ioas_map_auto(e.fd, e.ioas, buf, 2 * PAGE_SIZE, &iova));
	CHECK(iova == allow[0].start);
	CHECK_OK(dom_env_check_map(&e, iova, buf, 2 * PAGE_SIZE));
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, buf, PAGE_SIZE, &iova),
		    ENOSPC);
	CHECK_OK(check_refs(e.fd, buf, 2 * PAGE_SIZE, dom_env_refs(&e, 1)));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 4 * PAGE_SIZE);
}

TEST_VARIANTS(option_rlimit_mode, domain_variants)
{
	struct dom_env e;
	__u64 val = 99;
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

	/* Fixed once the fd holds an object: the IOAS, its domains'
	 * devices and HWPTs. */
	CHECK_SUB(dom_env_setup_fd(&e, fd));
	CHECK_ERRNO(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1), EBUSY);
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 0);
	CHECK_SUB(dom_env_teardown(&e));
	/* Empty again: allowed again. */
	CHECK_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	CHECK_OK(close(fd));

	/* A new fd starts in the default mode. */
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val == 0);
	close(fd);
}

TEST_VARIANTS(option_errors, domain_variants)
{
	struct iommu_option cmd;
	struct dom_env e;
	__u64 val;

	CHECK_SUB(dom_env_setup(&e));

	/* Unknown option. */
	CHECK_ERRNO(option_get(e.fd, 7, 0, NULL), EOPNOTSUPP);
	CHECK_ERRNO(option_set(e.fd, 7, e.ioas, 1), EOPNOTSUPP);

	/* Unknown op, for both options. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd.op = 2;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);
	cmd.option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd.object_id = e.ioas;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);

	/* Non-zero reserved field. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd.op = IOMMU_OPTION_OP_GET;
	cmd.object_id = e.ioas;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);
	cmd.option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd.object_id = 0;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_OPTION, &cmd), EOPNOTSUPP);

	/* HUGE_PAGES is an IOAS's: a HWPT or a device is not one. */
	if (e.ndomains) {
		CHECK_ERRNO(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, e.hwpt,
				       &val), ENOENT);
		CHECK_ERRNO(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.stdev,
				       0), ENOENT);
	}
	CHECK_SUB(dom_env_teardown(&e));
}

TEST_VARIANTS(option_huge_pages, domain_variants)
{
	const __u64 iova = MOCK_APERTURE_START;
	struct dom_env e;
	__u64 val = 99;
	char *buf;

	buf = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, &val));
	CHECK(val == 1);

	/* Without mappings: always, and the alignment becomes PAGE_SIZE. */
	CHECK_OK(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, 0));
	CHECK_OK(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, &val));
	CHECK(val == 0);
	CHECK_SUB(expect_span(&e, PAGE_SIZE));
	CHECK_OK(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, 1));
	CHECK_SUB(expect_span(&e, dom_env_align(&e)));

	CHECK_ERRNO(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, 2),
		    EINVAL);
	CHECK_ERRNO(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, BAD_ID, &val),
		    ENOENT);
	CHECK_ERRNO(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, BAD_ID, 0),
		    ENOENT);
	CHECK_ERRNO(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, 0, &val),
		    ENOENT);

	/*
	 * With a mapping: domains holding it cannot switch page sizes; with
	 * none, a PAGE_SIZE-aligned mapping is no obstacle.
	 */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE, iova));
	if (e.ndomains) {
		CHECK_ERRNO(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas,
				       0), EINVAL);
		CHECK_OK(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas,
				    &val));
		CHECK(val == 1);
		CHECK_SUB(expect_span(&e, MOCK_PAGE_SIZE));
	} else {
		CHECK_OK(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas,
				    0));
		CHECK_SUB(expect_span(&e, PAGE_SIZE));
		CHECK_OK(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas,
				    1));
	}
	/* A mapping at half a page: EINVAL (domains), EADDRINUSE (none). */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				iova + 16 * PAGE_SIZE + MOCK_PAGE_SIZE));
	CHECK_ERRNO(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, 0),
		    e.ndomains ? EINVAL : EADDRINUSE);
	CHECK_OK(option_get(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, &val));
	CHECK(val == 1);

	/* Without mappings it can, and the alignment becomes PAGE_SIZE. */
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK_OK(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, e.ioas, 0));
	CHECK_SUB(expect_span(&e, PAGE_SIZE));
	/* A MOCK_PAGE_SIZE-aligned IOVA is no longer good enough. */
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				   iova + MOCK_PAGE_SIZE), EINVAL);
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE, iova));
	CHECK_OK(dom_env_check_map(&e, iova, buf, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, buf, 2 * PAGE_SIZE, dom_env_refs(&e, 1)));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 2 * PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}
