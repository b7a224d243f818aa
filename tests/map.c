// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS_MAP and IOAS_UNMAP, checked against the mock IOMMU's page table
 * with MD_CHECK_MAP, including every documented error and the rule that
 * a failed call leaves nothing behind.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "util.h"

#define APERTURE_SIZE (MOCK_APERTURE_LAST - MOCK_APERTURE_START + 1)

/*
 * The tests that hold whatever mirrors the IOAS run once per domain
 * variant (no domain, one, two: dom_env in util.h).
 */

/*
 * Map @buf at @iova, check the mock page table (and the pin count when
 * @refs), unmap, and check the translation and pins are gone.
 */
static void map_check_unmap(struct dom_env *e, void *buf, size_t len,
			    __u64 iova, bool refs)
{
	__u64 unmapped = 0;

	CHECK_OK(ioas_map_fixed(e->fd, e->ioas, buf, len, iova));
	CHECK_OK(dom_env_check_map(e, iova, buf, len));
	if (refs)
		CHECK_OK(check_refs(e->fd, buf, len, dom_env_refs(e, 1)));
	CHECK_OK(ioas_unmap(e->fd, e->ioas, iova, len, &unmapped));
	CHECK(unmapped == len);
	CHECK_ERRNO(dom_env_check_map(e, iova, buf, len), EINVAL);
	if (refs)
		CHECK_OK(check_refs(e->fd, buf, len, 0));
}

TEST_VARIANTS(map_fixed_sizes_and_iovas, domain_variants)
{
	static const unsigned int npages[] = { 1, 2, 16 };
	struct dom_env e;
	unsigned int i, j;
	void *buf;

	buf = buf_alloc(16 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	for (i = 0; i < ARRAY_SIZE(npages); i++) {
		size_t len = npages[i] * PAGE_SIZE;
		const __u64 iovas[] = {
			MOCK_APERTURE_START,
			MOCK_APERTURE_START + 3 * PAGE_SIZE,
			MOCK_APERTURE_START + (1UL << 20) + 5 * PAGE_SIZE,
			0x40000000,
			/* Ends on the last byte of the aperture. */
			MOCK_APERTURE_LAST + 1 - len,
		};

		for (j = 0; j < ARRAY_SIZE(iovas); j++) {
			CHECK_SUB(map_check_unmap(&e, buf, len, iovas[j],
						  true));
		}
	}
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 16 * PAGE_SIZE);
}

TEST(map_permissions)
{
	struct dom_env e;
	__u64 iova;
	void *buf;

	buf = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));

	iova = MOCK_APERTURE_START;
	CHECK_OK(ioas_map_flags(e.fd, e.ioas, buf, 2 * PAGE_SIZE, &iova,
				IOMMU_IOAS_MAP_FIXED_IOVA |
				IOMMU_IOAS_MAP_READABLE));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, buf, 2 * PAGE_SIZE));
	iova = MOCK_APERTURE_START + 2 * PAGE_SIZE;
	CHECK_OK(ioas_map_flags(e.fd, e.ioas, buf, 2 * PAGE_SIZE, &iova,
				IOMMU_IOAS_MAP_FIXED_IOVA |
				IOMMU_IOAS_MAP_WRITEABLE));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, buf, 2 * PAGE_SIZE));
	/* The same pages mapped twice are pinned once per mapping. */
	CHECK_OK(check_refs(e.fd, buf, 2 * PAGE_SIZE, 2));

	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 4 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, buf, 2 * PAGE_SIZE, 0));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 2 * PAGE_SIZE);
}

TEST_VARIANTS(map_auto_iova, domain_variants)
{
	static const unsigned int npages[] = { 1, 4, 16 };
	__u64 iovas[ARRAY_SIZE(npages)];
	struct dom_env e;
	unsigned int i, j;
	void *buf;

	buf = buf_alloc(16 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	for (i = 0; i < ARRAY_SIZE(npages); i++) {
		size_t len = npages[i] * PAGE_SIZE;

		CHECK_OK(ioas_map_auto(e.fd, e.ioas, buf, len, &iovas[i]));
		/* A domain's aperture bounds the choice. */
		CHECK(!e.ndomains || iovas[i] >= MOCK_APERTURE_START);
		CHECK(!e.ndomains || iovas[i] + len - 1 <= MOCK_APERTURE_LAST);
		CHECK(iovas[i] % MOCK_PAGE_SIZE == 0);
		CHECK_OK(dom_env_check_map(&e, iovas[i], buf, len));
		/* No overlap with the earlier automatic IOVAs. */
		for (j = 0; j < i; j++) {
			size_t jlen = npages[j] * PAGE_SIZE;

			CHECK(iovas[i] + len <= iovas[j] ||
			      iovas[j] + jlen <= iovas[i]);
		}
	}
	for (i = 0; i < ARRAY_SIZE(npages); i++) {
		__u64 unmapped = 0;

		CHECK_OK(ioas_unmap(e.fd, e.ioas, iovas[i],
				    npages[i] * PAGE_SIZE, &unmapped));
		CHECK(unmapped == npages[i] * PAGE_SIZE);
	}
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 16 * PAGE_SIZE);
}

TEST_VARIANTS(unmap_lengths_and_unmap_all, domain_variants)
{
	const __u64 base = MOCK_APERTURE_START;
	__u64 unmapped;
	struct dom_env e;
	void *buf;

	buf = buf_alloc(8 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));

	/* Areas of 1, 2 and 4 pages, with gaps between them. */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE, base));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				base + 4 * PAGE_SIZE));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 4 * PAGE_SIZE,
				base + 16 * PAGE_SIZE));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 8 * PAGE_SIZE,
				base + 64 * PAGE_SIZE));

	/* A range holding the first two whole areas and the gaps around. */
	unmapped = 0;
	CHECK_OK(ioas_unmap(e.fd, e.ioas, base, 16 * PAGE_SIZE, &unmapped));
	CHECK(unmapped == 3 * PAGE_SIZE);
	CHECK_ERRNO(dom_env_check_map(&e, base, buf, PAGE_SIZE), EINVAL);
	CHECK_OK(dom_env_check_map(&e, base + 16 * PAGE_SIZE, buf,
				   4 * PAGE_SIZE));

	/* Everything that is left. */
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 12 * PAGE_SIZE);
	CHECK_ERRNO(dom_env_check_map(&e, base + 16 * PAGE_SIZE, buf,
				      4 * PAGE_SIZE), EINVAL);
	CHECK_ERRNO(dom_env_check_map(&e, base + 64 * PAGE_SIZE, buf,
				      8 * PAGE_SIZE), EINVAL);
	CHECK_OK(check_refs(e.fd, buf, 8 * PAGE_SIZE, 0));

	/* Unmap-all of nothing succeeds and reports 0 bytes. */
	unmapped = 12345;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 0);

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 8 * PAGE_SIZE);
}

TEST(maps_before_attach_reach_new_domains)
{
	__u32 ioas, stdev1, hwpt1, stdev2, hwpt2;
	void *buf;
	int fd;

	buf = buf_alloc(8 * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE,
				MOCK_APERTURE_START));
	CHECK_OK(ioas_map_fixed(fd, ioas, (char *)buf + 2 * PAGE_SIZE,
				6 * PAGE_SIZE, MOCK_APERTURE_START + (1UL << 20)));

	CHECK_OK(mock_domain(fd, ioas, &stdev1, &hwpt1, NULL));
	CHECK_OK(check_map(fd, hwpt1, MOCK_APERTURE_START, buf,
			   2 * PAGE_SIZE));
	CHECK_OK(check_map(fd, hwpt1, MOCK_APERTURE_START + (1UL << 20),
			   (char *)buf + 2 * PAGE_SIZE, 6 * PAGE_SIZE));

	/* A second device on the same IOAS sees the same mappings. */
	CHECK_OK(mock_domain(fd, ioas, &stdev2, &hwpt2, NULL));
	CHECK(stdev2 != stdev1);
	CHECK_OK(check_map(fd, hwpt2, MOCK_APERTURE_START, buf,
			   2 * PAGE_SIZE));
	CHECK_OK(check_map(fd, hwpt2, MOCK_APERTURE_START + (1UL << 20),
			   (char *)buf + 2 * PAGE_SIZE, 6 * PAGE_SIZE));
	/* Shared by every domain: one pin per page. */
	CHECK_OK(check_refs(fd, buf, 8 * PAGE_SIZE, 1));

	/* A map made now reaches both. */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE,
				MOCK_APERTURE_START + (2UL << 20)));
	CHECK_OK(check_map(fd, hwpt1, MOCK_APERTURE_START + (2UL << 20), buf,
			   PAGE_SIZE));
	CHECK_OK(check_map(fd, hwpt2, MOCK_APERTURE_START + (2UL << 20), buf,
			   PAGE_SIZE));

	CHECK_OK(iommu_destroy(fd, stdev1));
	/* The other domain keeps working. */
	CHECK_OK(check_map(fd, hwpt2, MOCK_APERTURE_START, buf,
			   2 * PAGE_SIZE));
	CHECK_OK(iommu_destroy(fd, stdev2));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 8 * PAGE_SIZE);
}

TEST(map_half_page_offsets)
{
	struct dom_env e;
	char *buf;

	/*
	 * The mock IOMMU page is half a CPU page, so an IOVA or a user
	 * address that is only MOCK_PAGE_SIZE-aligned is acceptable.
	 */
	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				MOCK_APERTURE_START + MOCK_PAGE_SIZE));
	CHECK_OK(check_map(e.fd, e.hwpt, MOCK_APERTURE_START + MOCK_PAGE_SIZE,
			   buf, 2 * PAGE_SIZE));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf + MOCK_PAGE_SIZE, PAGE_SIZE,
				MOCK_APERTURE_START + 8 * PAGE_SIZE));
	CHECK_OK(check_map(e.fd, e.hwpt, MOCK_APERTURE_START + 8 * PAGE_SIZE,
			   buf + MOCK_PAGE_SIZE, PAGE_SIZE));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf + MOCK_PAGE_SIZE,
				3 * MOCK_PAGE_SIZE,
				MOCK_APERTURE_START + 16 * PAGE_SIZE +
				MOCK_PAGE_SIZE));
	CHECK_OK(check_map(e.fd, e.hwpt,
			   MOCK_APERTURE_START + 16 * PAGE_SIZE + MOCK_PAGE_SIZE,
			   buf + MOCK_PAGE_SIZE, 3 * MOCK_PAGE_SIZE));

	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 3 * PAGE_SIZE + 3 * MOCK_PAGE_SIZE);
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 4 * PAGE_SIZE);
}

TEST(map_errors)
{
	const __u64 iova = MOCK_APERTURE_START;
	struct iommu_ioas_map cmd;
	__u64 v;
	struct dom_env e;
	char *buf;

	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));

	/* Unknown flags and reserved field. */
	v = iova;
	CHECK_ERRNO(ioas_map_flags(e.fd, e.ioas, buf, PAGE_SIZE, &v,
				   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA |
				   (1u << 3)), EOPNOTSUPP);
	v = iova;
	CHECK_ERRNO(ioas_map_flags(e.fd, e.ioas, buf, PAGE_SIZE, &v,
				   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA |
				   (1u << 31)), EOPNOTSUPP);
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
	cmd.ioas_id = e.ioas;
	cmd.__reserved = 1;
	cmd.user_va = (uintptr_t)buf;
	cmd.length = PAGE_SIZE;
	cmd.iova = iova;
	CHECK_ERRNO(ioctl(e.fd, IOMMU_IOAS_MAP, &cmd), EOPNOTSUPP);

	/* Neither readable nor writeable. */
	v = iova;
	CHECK_ERRNO(ioas_map_flags(e.fd, e.ioas, buf, PAGE_SIZE, &v,
				   IOMMU_IOAS_MAP_FIXED_IOVA), EINVAL);
	v = 0;
	CHECK_ERRNO(ioas_map_flags(e.fd, e.ioas, buf, PAGE_SIZE, &v, 0),
		    EINVAL);

	/* Length 0, fixed and automatic. */
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 0, iova), EINVAL);
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, buf, 0, &v), EINVAL);

	/* Alignment to the mock page size (2048). */
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE, iova + 1024),
		    EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE + 1024, iova),
		    EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 1, iova), EINVAL);
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, buf, PAGE_SIZE + 1024, &v),
		    EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf + 1024, PAGE_SIZE, iova),
		    EINVAL);

	/* Address arithmetic that wraps. */
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				   UINT64_MAX - 4095), EOVERFLOW);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, (void *)(uintptr_t)(UINT64_MAX -
								    4095),
				   2 * PAGE_SIZE, iova), EOVERFLOW);

	/* Outside the mock aperture: reserved by the domain. */
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE, 0x1000),
		    EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				   MOCK_APERTURE_START - PAGE_SIZE), EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				   MOCK_APERTURE_LAST + 1), EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				   MOCK_APERTURE_LAST + 1 - PAGE_SIZE), EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				   MOCK_APERTURE_START - PAGE_SIZE), EINVAL);

	/* Over a reserved range. */
	CHECK_OK(add_reserved(e.fd, e.ioas, iova + (1UL << 20), PAGE_SIZE));
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				   iova + (1UL << 20)), EINVAL);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 4 * PAGE_SIZE,
				   iova + (1UL << 20) - 2 * PAGE_SIZE), EINVAL);

	/* Unknown IOAS. */
	CHECK_ERRNO(ioas_map_fixed(e.fd, BAD_ID, buf, PAGE_SIZE, iova), ENOENT);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.stdev, buf, PAGE_SIZE, iova),
		    ENOENT);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.hwpt, buf, PAGE_SIZE, iova),
		    ENOENT);

	/* Overlapping an existing area, at each of its edges. */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				iova + 8 * PAGE_SIZE));
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				   iova + 8 * PAGE_SIZE), EEXIST);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				   iova + 7 * PAGE_SIZE), EEXIST);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE,
				   iova + 9 * PAGE_SIZE), EEXIST);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, MOCK_PAGE_SIZE,
				   iova + 10 * PAGE_SIZE - MOCK_PAGE_SIZE),
		    EEXIST);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 4 * PAGE_SIZE,
				   iova + 7 * PAGE_SIZE), EEXIST);
	/* Right next to it is fine. */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				iova + 10 * PAGE_SIZE));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				iova + 7 * PAGE_SIZE));

	/* None of the refused calls left anything behind. */
	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 4 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, buf, 4 * PAGE_SIZE, 0));

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 4 * PAGE_SIZE);
}

TEST(map_unmapped_user_memory_efault)
{
	const __u64 iova = MOCK_APERTURE_START + (1UL << 20);
	struct dom_env e;
	char *hole, *buf;

	CHECK_SUB(dom_env_setup(&e));

	/* Entirely unmapped. */
	hole = unmapped_va(4 * PAGE_SIZE);
	CHECK(hole);
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, hole, 4 * PAGE_SIZE, iova),
		    EFAULT);
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova, 4 * PAGE_SIZE, NULL),
		    ENOENT);
	CHECK_ERRNO(ioas_map_auto(e.fd, e.ioas, hole, 4 * PAGE_SIZE, NULL),
		    EFAULT);

	/* Mapped at the start, unmapped at the end: the pins taken for
	 * the good part are given back. */
	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	CHECK_OK(munmap(buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE));
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, 4 * PAGE_SIZE, iova),
		    EFAULT);
	CHECK_OK(check_refs(e.fd, buf, 2 * PAGE_SIZE, 0));
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova, 4 * PAGE_SIZE, NULL),
		    ENOENT);
	CHECK_ERRNO(check_map(e.fd, e.hwpt, iova, buf, 2 * PAGE_SIZE), EINVAL);
	__u64 unmapped = 1;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 0);

	/* The IOVA is free for a good mapping. */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 2 * PAGE_SIZE, iova));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, buf, 2 * PAGE_SIZE));
	CHECK_OK(ioas_unmap(e.fd, e.ioas, iova, 2 * PAGE_SIZE, NULL));

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 2 * PAGE_SIZE);
}

TEST(unmap_errors)
{
	const __u64 iova = MOCK_APERTURE_START + 16 * PAGE_SIZE;
	struct dom_env e;
	void *buf;

	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));

	/* Nothing mapped at all. */
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova, PAGE_SIZE, NULL), ENOENT);

	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, 4 * PAGE_SIZE, iova));

	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova, 0, NULL), EINVAL);
	/* Only part of the area: refused, the area stays whole. */
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova, PAGE_SIZE, NULL), ENOENT);
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova + PAGE_SIZE, 3 * PAGE_SIZE,
			       NULL), ENOENT);
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova - PAGE_SIZE, 2 * PAGE_SIZE,
			       NULL), ENOENT);
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova + 3 * PAGE_SIZE,
			       4 * PAGE_SIZE, NULL), ENOENT);
	CHECK_OK(check_map(e.fd, e.hwpt, iova, buf, 4 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, buf, 4 * PAGE_SIZE, 1));
	/* Beside the area. */
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova + 4 * PAGE_SIZE, PAGE_SIZE,
			       NULL), ENOENT);
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, iova - PAGE_SIZE, PAGE_SIZE,
			       NULL), ENOENT);
	/* Wrapping ranges. */
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, UINT64_MAX - 4095, 2 * PAGE_SIZE,
			       NULL), EOVERFLOW);
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, PAGE_SIZE, UINT64_MAX, NULL),
		    EOVERFLOW);
	/* Unknown IOAS. */
	CHECK_ERRNO(ioas_unmap(e.fd, BAD_ID, iova, 4 * PAGE_SIZE, NULL),
		    ENOENT);
	CHECK_ERRNO(ioas_unmap_all(e.fd, BAD_ID, NULL), ENOENT);

	CHECK_OK(check_map(e.fd, e.hwpt, iova, buf, 4 * PAGE_SIZE));
	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap(e.fd, e.ioas, iova, 4 * PAGE_SIZE, &unmapped));
	CHECK(unmapped == 4 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, buf, 4 * PAGE_SIZE, 0));

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, 4 * PAGE_SIZE);
}

#define RAND_MAPS 64
#define RAND_BUF_PAGES 64
#define RAND_SLOT_PAGES 16

struct rand_map {
	__u64 iova;
	size_t len;
	char *uptr;
	bool live;
};

static void rand_check_all(struct dom_env *e, const struct rand_map *m)
{
	unsigned int i;

	for (i = 0; i < RAND_MAPS; i++) {
		if (m[i].live)
			CHECK_OK(dom_env_check_map(e, m[i].iova, m[i].uptr,
						   m[i].len));
		else
			CHECK_ERRNO(dom_env_check_map(e, m[i].iova,
						      m[i].uptr, m[i].len),
				    EINVAL);
	}
}

static void shuffle(unsigned int *order, unsigned int n, uint64_t *rng)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		unsigned int j = (unsigned int)(rng_next(rng) % (i + 1));
		unsigned int t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

TEST_VARIANTS(random_map_unmap_sequence, domain_variants)
{
	struct rand_map m[RAND_MAPS];
	unsigned int order[RAND_MAPS];
	uint64_t rng = 0x10bad5eedULL;
	unsigned int i, step;
	struct dom_env e;
	char *buf;

	buf = buf_alloc(RAND_BUF_PAGES * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));

	/* Each map lives in its own slot of the IOVA space: no overlap. */
	for (i = 0; i < RAND_MAPS; i++) {
		unsigned int npages = 1 + (unsigned int)(rng_next(&rng) % 4);
		unsigned int at = (unsigned int)(rng_next(&rng) %
						 (RAND_SLOT_PAGES - npages + 1));
		unsigned int up = (unsigned int)(rng_next(&rng) %
						 (RAND_BUF_PAGES - npages + 1));

		m[i].iova = MOCK_APERTURE_START +
			    (__u64)i * RAND_SLOT_PAGES * PAGE_SIZE +
			    (__u64)at * PAGE_SIZE;
		m[i].len = npages * PAGE_SIZE;
		m[i].uptr = buf + (size_t)up * PAGE_SIZE;
		m[i].live = false;
	}

	shuffle(order, RAND_MAPS, &rng);
	for (step = 0; step < RAND_MAPS; step++) {
		struct rand_map *r = &m[order[step]];

		CHECK_OK(ioas_map_fixed(e.fd, e.ioas, r->uptr, r->len,
					r->iova));
		r->live = true;
		CHECK_SUB(rand_check_all(&e, m));
	}

	shuffle(order, RAND_MAPS, &rng);
	for (step = 0; step < RAND_MAPS; step++) {
		struct rand_map *r = &m[order[step]];
		__u64 unmapped = 0;

		CHECK_OK(ioas_unmap(e.fd, e.ioas, r->iova, r->len, &unmapped));
		CHECK(unmapped == r->len);
		r->live = false;
		CHECK_SUB(rand_check_all(&e, m));
	}
	CHECK_OK(check_refs(e.fd, buf, RAND_BUF_PAGES * PAGE_SIZE, 0));
	__u64 unmapped = 1;
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 0);

	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, RAND_BUF_PAGES * PAGE_SIZE);
}

TEST_VARIANTS(map_private_anonymous_memory, domain_variants)
{
	const size_t len = 8 * PAGE_SIZE;
	struct dom_env e;
	void *buf;

	buf = buf_alloc(len);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_SUB(map_check_unmap(&e, buf, len, MOCK_APERTURE_START, true));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, len);
}

TEST_VARIANTS(map_shared_anonymous_memory, domain_variants)
{
	const size_t len = 8 * PAGE_SIZE;
	struct dom_env e;
	void *buf;

	buf = buf_alloc_shared(len);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_SUB(map_check_unmap(&e, buf, len, MOCK_APERTURE_START, true));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, len);
}

TEST_VARIANTS(map_shared_memfd_memory, domain_variants)
{
	const size_t len = 8 * PAGE_SIZE;
	struct dom_env e;
	int memfd = -1;
	void *buf;

	buf = buf_alloc_memfd(len, &memfd);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	CHECK_SUB(map_check_unmap(&e, buf, len, MOCK_APERTURE_START, true));
	/* A window in the middle of the file mapping. */
	CHECK_SUB(map_check_unmap(&e, (char *)buf + 3 * PAGE_SIZE,
				  2 * PAGE_SIZE,
				  MOCK_APERTURE_START + (1UL << 20), true));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, len);
	close(memfd);
}

TEST_VARIANTS(map_hugetlb_memory, domain_variants)
{
	struct dom_env e;
	void *buf;

	buf = buf_alloc_huge(HUGEPAGE_SIZE);
	if (!buf)
		SKIP("no 2 MiB hugetlb page (vm.nr_hugepages = 0?)");
	CHECK_SUB(dom_env_setup(&e));
	/* Compound pages: MD_CHECK_REFS skips them, so only the map. */
	CHECK_SUB(map_check_unmap(&e, buf, HUGEPAGE_SIZE,
				  MOCK_APERTURE_START + HUGEPAGE_SIZE, false));
	/* Part of the huge page, at an IOVA that is not 2 MiB aligned. */
	CHECK_SUB(map_check_unmap(&e, (char *)buf + 3 * PAGE_SIZE,
				  5 * PAGE_SIZE,
				  MOCK_APERTURE_START + 7 * PAGE_SIZE, false));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, HUGEPAGE_SIZE);
}

/*
 * VFIO type1 refuses a container's 65,536th mapping (dma_entry_limit);
 * an IOAS takes 200,000 one-page mappings, and unmap-all removes them.
 */
TEST(two_hundred_thousand_maps)
{
	const unsigned int n = 200000, pages = 64;
	__u64 unmapped = 0;
	struct dom_env e;
	unsigned int i;
	char *buf;

	buf = buf_alloc(pages * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(dom_env_setup(&e));
	for (i = 0; i < n; i++)
		if (ioas_map_fixed(e.fd, e.ioas, buf + (i % pages) * PAGE_SIZE,
				   PAGE_SIZE, MOCK_APERTURE_START +
				   (__u64)i * PAGE_SIZE))
			break;
	if (i < n)
		tap_diag("map #%u failed: %s", i + 1, strerror(errno));
	CHECK(i == n);
	CHECK_OK(check_map(e.fd, e.hwpt, MOCK_APERTURE_START +
			   (__u64)(n - 1) * PAGE_SIZE,
			   buf + ((n - 1) % pages) * PAGE_SIZE, PAGE_SIZE));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == (__u64)n * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, buf, pages * PAGE_SIZE, 0));
	CHECK_SUB(dom_env_teardown(&e));
	buf_free(buf, pages * PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}

/*
 * Pin state is kept per 2 MiB chunk when the chunk's pages are one
 * physical run and per page otherwise.  Fault a buffer in so that its
 * first pages are likely in order and the rest in reverse (physically
 * out of line): the chunks pinned whole must split where the run breaks,
 * partial uses must go per page, and every translation and pin count
 * must stay right through all of it.
 */
TEST(pin_state_runs_and_breaks)
{
	const size_t npages = 1100, len = npages * PAGE_SIZE;
	const __u64 iova = MOCK_APERTURE_START;
	struct dom_env e;
	int afd, i;
	__u32 id;
	char *buf;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(buf != MAP_FAILED);
	madvise(buf, len, MADV_NOHUGEPAGE);
	for (i = 0; i < 300; i++)
		buf[(size_t)i * PAGE_SIZE] = 1;
	for (i = npages - 1; i >= 300; i--)
		buf[(size_t)i * PAGE_SIZE] = 1;

	CHECK_SUB(dom_env_setup(&e));
	/* Whole chunks, first use: runs or splits. */
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, len, iova));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, buf, len));
	CHECK_OK(check_refs(e.fd, buf, len, 1));

	/* A partial use of a chunk in use: it goes per page, pins once. */
	CHECK_OK(create_access(e.fd, e.ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, &afd));
	CHECK_OK(access_pages(e.fd, afd, iova + 100 * PAGE_SIZE,
			      buf + 100 * PAGE_SIZE, 8 * PAGE_SIZE, 0, &id));
	CHECK_OK(check_refs(e.fd, buf, len, 1));
	/* A second domain maps the same pages without pinning again. */
	{
		__u32 hwpt2;

		CHECK_OK(hwpt_alloc_mock(e.fd, e.idev, e.ioas,
					 MOCK_IOMMUPT_HUGE, &hwpt2));
		CHECK_OK(check_map(e.fd, hwpt2, iova, buf, len));
		CHECK_OK(check_refs(e.fd, buf, len, 1));
		CHECK_OK(iommu_destroy(e.fd, hwpt2));
	}
	CHECK_OK(destroy_access_pages(e.fd, afd, id));
	close(afd);
	CHECK_OK(check_refs(e.fd, buf, len, 1));

	/* Copied whole into an IOAS limited to PAGE_SIZE IOMMU pages. */
	{
		__u32 ioas4, hwpt4;
		__u64 dst = iova;

		CHECK_OK(ioas_alloc(e.fd, &ioas4));
		CHECK_OK(option_set(e.fd, IOMMU_OPTION_HUGE_PAGES, ioas4, 0));
		CHECK_OK(hwpt_alloc_mock(e.fd, e.idev, ioas4,
					 MOCK_IOMMUPT_HUGE, &hwpt4));
		CHECK_OK(ioas_copy(e.fd, ioas4, &dst, e.ioas, iova, len,
				   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
		CHECK_OK(check_map(e.fd, hwpt4, iova, buf, len));
		CHECK_OK(check_refs(e.fd, buf, len, 1));
		CHECK_OK(iommu_destroy(e.fd, hwpt4));
		CHECK_OK(iommu_destroy(e.fd, ioas4));
	}

	/* Sub-range copies use parts of chunks: still one pin. */
	{
		__u32 ioas2, stdev3, hwpt3;
		__u64 dst = iova + (64UL << 20);

		CHECK_OK(ioas_alloc(e.fd, &ioas2));
		CHECK_OK(mock_domain(e.fd, ioas2, &stdev3, &hwpt3, NULL));
		CHECK_OK(ioas_copy(e.fd, ioas2, &dst, e.ioas,
				   iova + 290 * PAGE_SIZE, 20 * PAGE_SIZE,
				   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
		CHECK_OK(check_map(e.fd, hwpt3, dst, buf + 290 * PAGE_SIZE,
				   20 * PAGE_SIZE));
		CHECK_OK(check_refs(e.fd, buf, len, 1));
		CHECK_OK(ioas_unmap(e.fd, e.ioas, iova, len, NULL));
		/* Only the copied pages stay pinned. */
		CHECK_OK(check_refs(e.fd, buf + 290 * PAGE_SIZE,
				    20 * PAGE_SIZE, 1));
		CHECK_OK(check_refs(e.fd, buf, 290 * PAGE_SIZE, 0));
		CHECK_OK(check_refs(e.fd, buf + 310 * PAGE_SIZE,
				    len - 310 * PAGE_SIZE, 0));
		CHECK_OK(iommu_destroy(e.fd, stdev3));
		CHECK_OK(iommu_destroy(e.fd, ioas2));
	}
	CHECK_OK(check_refs(e.fd, buf, len, 0));
	CHECK_SUB(dom_env_teardown(&e));
	munmap(buf, len);
}
