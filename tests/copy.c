// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS_COPY: mapping in one IOAS the memory already mapped in another,
 * sharing the pinned pages instead of pinning them again.
 */
#include "util.h"

#define COPY_FIXED (IOMMU_IOAS_MAP_FIXED_IOVA | MAP_RW)

#define SRC_IOVA (MOCK_APERTURE_START + (1UL << 20))
#define DST_IOVA (MOCK_APERTURE_START + (4UL << 20))
#define NPAGES 8
#define LEN (NPAGES * PAGE_SIZE)

/* One fd, IOAS A and B, each with its own mock domain. */
struct env {
	int fd;
	__u32 a, b;
	__u32 a_stdev, a_hwpt;
	__u32 b_stdev, b_hwpt;
	char *buf;
};

static void env_setup(struct env *e, bool domains)
{
	e->buf = buf_alloc(LEN);
	CHECK(e->buf);
	e->fd = dev_iommu_open();
	CHECK(e->fd >= 0);
	CHECK_OK(ioas_alloc(e->fd, &e->a));
	CHECK_OK(ioas_alloc(e->fd, &e->b));
	e->a_stdev = e->b_stdev = 0;
	if (!domains)
		return;
	CHECK_OK(mock_domain(e->fd, e->a, &e->a_stdev, &e->a_hwpt, NULL));
	CHECK_OK(mock_domain(e->fd, e->b, &e->b_stdev, &e->b_hwpt, NULL));
}

static void env_teardown(struct env *e)
{
	if (e->a_stdev)
		CHECK_OK(iommu_destroy(e->fd, e->a_stdev));
	if (e->b_stdev)
		CHECK_OK(iommu_destroy(e->fd, e->b_stdev));
	CHECK_OK(iommu_destroy(e->fd, e->a));
	CHECK_OK(iommu_destroy(e->fd, e->b));
	CHECK_OK(close(e->fd));
	buf_free(e->buf, LEN);
}

TEST(copy_whole_area_shares_pins)
{
	__u64 dst = DST_IOVA, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e, true));
	CHECK_OK(ioas_map_fixed(e.fd, e.a, e.buf, LEN, SRC_IOVA));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 1));

	CHECK_OK(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, LEN, COPY_FIXED));
	CHECK(dst == DST_IOVA);
	CHECK_OK(check_map(e.fd, e.b_hwpt, DST_IOVA, e.buf, LEN));
	CHECK_OK(check_map(e.fd, e.a_hwpt, SRC_IOVA, e.buf, LEN));
	/* One pin, shared by both IOAS. */
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 1));

	/* The copy outlives the source mapping. */
	unmapped = 0;
	CHECK_OK(ioas_unmap(e.fd, e.a, SRC_IOVA, LEN, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_ERRNO(check_map(e.fd, e.a_hwpt, SRC_IOVA, e.buf, LEN), EINVAL);
	CHECK_OK(check_map(e.fd, e.b_hwpt, DST_IOVA, e.buf, LEN));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 1));

	unmapped = 0;
	CHECK_OK(ioas_unmap(e.fd, e.b, DST_IOVA, LEN, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST(copy_sub_range)
{
	__u64 dst = DST_IOVA, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e, true));
	CHECK_OK(ioas_map_fixed(e.fd, e.a, e.buf, LEN, SRC_IOVA));

	/* Pages 2..4 of the area. */
	CHECK_OK(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE, COPY_FIXED));
	CHECK_OK(check_map(e.fd, e.b_hwpt, DST_IOVA, e.buf + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 1));

	/* The new area is exactly 3 pages long. */
	CHECK_ERRNO(check_map(e.fd, e.b_hwpt, DST_IOVA + 3 * PAGE_SIZE,
			      e.buf + 5 * PAGE_SIZE, PAGE_SIZE), EINVAL);
	CHECK_ERRNO(ioas_unmap(e.fd, e.b, DST_IOVA, PAGE_SIZE, NULL), ENOENT);

	CHECK_OK(ioas_unmap_all(e.fd, e.a, NULL));
	/* Only the copied pages stay pinned. */
	CHECK_OK(check_refs(e.fd, e.buf, 2 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(e.fd, e.buf + 2 * PAGE_SIZE, 3 * PAGE_SIZE, 1));
	CHECK_OK(check_refs(e.fd, e.buf + 5 * PAGE_SIZE, 3 * PAGE_SIZE, 0));
	CHECK_OK(check_map(e.fd, e.b_hwpt, DST_IOVA, e.buf + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE));

	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b, &unmapped));
	CHECK(unmapped == 3 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST(copy_from_unpinned_source)
{
	__u64 dst = DST_IOVA;
	struct env e;

	/* A has no domain, so its mapping pins nothing until the copy
	 * lands in B's domain. */
	CHECK_SUB(env_setup(&e, false));
	CHECK_OK(mock_domain(e.fd, e.b, &e.b_stdev, &e.b_hwpt, NULL));
	CHECK_OK(ioas_map_fixed(e.fd, e.a, e.buf, LEN, SRC_IOVA));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_OK(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, LEN, COPY_FIXED));
	CHECK_OK(check_map(e.fd, e.b_hwpt, DST_IOVA, e.buf, LEN));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 1));
	CHECK_OK(ioas_unmap_all(e.fd, e.b, NULL));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_OK(ioas_unmap_all(e.fd, e.a, NULL));
	CHECK_SUB(env_teardown(&e));
}

TEST(copy_auto_iova_and_same_ioas)
{
	__u64 dst, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e, true));
	CHECK_OK(ioas_map_fixed(e.fd, e.a, e.buf, LEN, SRC_IOVA));

	/* Without FIXED_IOVA the kernel picks the destination. */
	dst = 0;
	CHECK_OK(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, LEN, MAP_RW));
	CHECK(dst >= MOCK_APERTURE_START);
	CHECK(dst + LEN - 1 <= MOCK_APERTURE_LAST);
	CHECK(dst % MOCK_PAGE_SIZE == 0);
	CHECK_OK(check_map(e.fd, e.b_hwpt, dst, e.buf, LEN));

	/* Within one IOAS, to a second IOVA. */
	dst = DST_IOVA;
	CHECK_OK(ioas_copy(e.fd, e.a, &dst, e.a, SRC_IOVA, LEN, COPY_FIXED));
	CHECK_OK(check_map(e.fd, e.a_hwpt, DST_IOVA, e.buf, LEN));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 1));

	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.a, &unmapped));
	CHECK(unmapped == 2 * LEN);
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST(copy_errors)
{
	__u64 dst, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e, true));
	CHECK_OK(ioas_map_fixed(e.fd, e.a, e.buf, LEN, SRC_IOVA));
	dst = DST_IOVA;
	CHECK_OK(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, PAGE_SIZE,
			   COPY_FIXED));

	/* Source not mapped, or only partly. */
	dst = DST_IOVA + (1UL << 20);
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA + LEN, PAGE_SIZE,
			      COPY_FIXED), ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA - PAGE_SIZE,
			      2 * PAGE_SIZE, COPY_FIXED), ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA + PAGE_SIZE, LEN,
			      COPY_FIXED), ENOENT);
	/* Unknown flags. */
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED | (1u << 3)), EOPNOTSUPP);
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED | (1u << 31)), EOPNOTSUPP);
	/* Length 0. */
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, 0, COPY_FIXED),
		    EINVAL);
	/* Destination overlapping the earlier copy. */
	dst = DST_IOVA;
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED), EEXIST);
	dst = DST_IOVA - PAGE_SIZE;
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, 2 * PAGE_SIZE,
			      COPY_FIXED), EEXIST);
	/* Destination outside B's mock aperture. */
	dst = MOCK_APERTURE_START - PAGE_SIZE;
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED), EINVAL);
	/* Unknown IOAS on either side. */
	dst = DST_IOVA + (1UL << 20);
	CHECK_ERRNO(ioas_copy(e.fd, BAD_ID, &dst, e.a, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED), ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, BAD_ID, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED), ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a_hwpt, SRC_IOVA, PAGE_SIZE,
			      COPY_FIXED), ENOENT);

	/* Nothing but the first copy reached B. */
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(ioas_unmap_all(e.fd, e.a, NULL));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST(copy_write_from_read_only_source_eperm)
{
	__u64 iova = SRC_IOVA, dst = DST_IOVA;
	struct env e;

	CHECK_SUB(env_setup(&e, true));
	CHECK_OK(ioas_map_flags(e.fd, e.a, e.buf, LEN, &iova,
				IOMMU_IOAS_MAP_FIXED_IOVA |
				IOMMU_IOAS_MAP_READABLE));
	CHECK_ERRNO(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, LEN,
			      COPY_FIXED), EPERM);
	/* A read-only copy is fine. */
	CHECK_OK(ioas_copy(e.fd, e.b, &dst, e.a, SRC_IOVA, LEN,
			   IOMMU_IOAS_MAP_FIXED_IOVA |
			   IOMMU_IOAS_MAP_READABLE));
	CHECK_OK(check_map(e.fd, e.b_hwpt, DST_IOVA, e.buf, LEN));
	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_OK(ioas_unmap_all(e.fd, e.a, NULL));
	CHECK_SUB(env_teardown(&e));
}

int main(void)
{
	return tap_run();
}
