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

/*
 * One fd with IOAS A and B, each with the variant's domains (dom_env in
 * util.h): none (an access on each reads it back), one or two.
 */
struct env {
	struct dom_env a, b;
	int fd;
	char *buf;
};

static void env_setup(struct env *e)
{
	e->buf = buf_alloc(LEN);
	CHECK(e->buf);
	CHECK_SUB(dom_env_setup(&e->a));
	CHECK_SUB(dom_env_setup_fd(&e->b, e->a.fd));
	e->fd = e->a.fd;
}

static void env_teardown(struct env *e)
{
	CHECK_SUB(dom_env_teardown(&e->b));
	CHECK_SUB(dom_env_teardown(&e->a));
	buf_free(e->buf, LEN);
}

TEST_VARIANTS(copy_whole_area_shares_pins, domain_variants)
{
	__u64 dst = DST_IOVA, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e));
	CHECK_OK(ioas_map_fixed(e.fd, e.a.ioas, e.buf, LEN, SRC_IOVA));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, dom_env_refs(&e.a, 1)));

	CHECK_OK(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA, LEN,
			   COPY_FIXED));
	CHECK(dst == DST_IOVA);
	CHECK_OK(dom_env_check_map(&e.b, DST_IOVA, e.buf, LEN));
	CHECK_OK(dom_env_check_map(&e.a, SRC_IOVA, e.buf, LEN));
	/* One pin (none without domains), shared by both IOAS. */
	CHECK_OK(check_refs(e.fd, e.buf, LEN, dom_env_refs(&e.a, 1)));

	/* The copy outlives the source mapping. */
	unmapped = 0;
	CHECK_OK(ioas_unmap(e.fd, e.a.ioas, SRC_IOVA, LEN, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_ERRNO(dom_env_check_map(&e.a, SRC_IOVA, e.buf, LEN), EINVAL);
	CHECK_OK(dom_env_check_map(&e.b, DST_IOVA, e.buf, LEN));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, dom_env_refs(&e.b, 1)));

	unmapped = 0;
	CHECK_OK(ioas_unmap(e.fd, e.b.ioas, DST_IOVA, LEN, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_ERRNO(dom_env_check_map(&e.b, DST_IOVA, e.buf, LEN), EINVAL);
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST_VARIANTS(copy_sub_range, domain_variants)
{
	__u64 dst = DST_IOVA, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e));
	CHECK_OK(ioas_map_fixed(e.fd, e.a.ioas, e.buf, LEN, SRC_IOVA));

	/* Pages 2..4 of the area. */
	CHECK_OK(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas,
			   SRC_IOVA + 2 * PAGE_SIZE, 3 * PAGE_SIZE,
			   COPY_FIXED));
	CHECK_OK(dom_env_check_map(&e.b, DST_IOVA, e.buf + 2 * PAGE_SIZE,
				   3 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, dom_env_refs(&e.a, 1)));

	/* The new area is exactly 3 pages long. */
	CHECK_ERRNO(dom_env_check_map(&e.b, DST_IOVA + 3 * PAGE_SIZE,
				      e.buf + 5 * PAGE_SIZE, PAGE_SIZE),
		    EINVAL);
	CHECK_ERRNO(dom_env_check_map(&e.b, DST_IOVA - PAGE_SIZE,
				      e.buf + PAGE_SIZE, PAGE_SIZE), EINVAL);
	CHECK_ERRNO(ioas_unmap(e.fd, e.b.ioas, DST_IOVA, PAGE_SIZE, NULL),
		    ENOENT);

	CHECK_OK(ioas_unmap_all(e.fd, e.a.ioas, NULL));
	/* Only the copied pages stay pinned (with domains). */
	CHECK_OK(check_refs(e.fd, e.buf, 2 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(e.fd, e.buf + 2 * PAGE_SIZE, 3 * PAGE_SIZE,
			    dom_env_refs(&e.b, 1)));
	CHECK_OK(check_refs(e.fd, e.buf + 5 * PAGE_SIZE, 3 * PAGE_SIZE, 0));
	CHECK_OK(dom_env_check_map(&e.b, DST_IOVA, e.buf + 2 * PAGE_SIZE,
				   3 * PAGE_SIZE));

	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b.ioas, &unmapped));
	CHECK(unmapped == 3 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

/* Inherently about a source IOAS with no domain: a plain TEST. */
TEST(copy_from_unpinned_source)
{
	__u32 a, b, stdev, hwpt;
	__u64 dst = DST_IOVA;
	char *buf;
	int fd;

	/* A has no domain, so its mapping pins nothing until the copy
	 * lands in B's domain. */
	buf = buf_alloc(LEN);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &a));
	CHECK_OK(ioas_alloc(fd, &b));
	CHECK_OK(mock_domain(fd, b, &stdev, &hwpt, NULL));
	CHECK_OK(ioas_map_fixed(fd, a, buf, LEN, SRC_IOVA));
	CHECK_OK(check_refs(fd, buf, LEN, 0));
	CHECK_OK(ioas_copy(fd, b, &dst, a, SRC_IOVA, LEN, COPY_FIXED));
	CHECK_OK(check_map(fd, hwpt, DST_IOVA, buf, LEN));
	CHECK_OK(check_refs(fd, buf, LEN, 1));
	CHECK_OK(ioas_unmap_all(fd, b, NULL));
	CHECK_OK(check_refs(fd, buf, LEN, 0));
	CHECK_OK(ioas_unmap_all(fd, a, NULL));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, a));
	CHECK_OK(iommu_destroy(fd, b));
	CHECK_OK(close(fd));
	buf_free(buf, LEN);
}

TEST_VARIANTS(copy_auto_iova_and_same_ioas, domain_variants)
{
	__u64 dst, unmapped;
	struct env e;

	CHECK_SUB(env_setup(&e));
	CHECK_OK(ioas_map_fixed(e.fd, e.a.ioas, e.buf, LEN, SRC_IOVA));

	/* Without FIXED_IOVA the kernel picks the destination: never 0,
	 * inside B's domains' aperture when it has domains. */
	dst = 0;
	CHECK_OK(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA, LEN,
			   MAP_RW));
	CHECK(dst != 0);
	CHECK(dst >= dom_env_first(&e.b));
	CHECK(dst + LEN - 1 <= dom_env_last(&e.b));
	CHECK(dst % MOCK_PAGE_SIZE == 0);
	CHECK_OK(dom_env_check_map(&e.b, dst, e.buf, LEN));

	/* Within one IOAS, to a second IOVA. */
	dst = DST_IOVA;
	CHECK_OK(ioas_copy(e.fd, e.a.ioas, &dst, e.a.ioas, SRC_IOVA, LEN,
			   COPY_FIXED));
	CHECK_OK(dom_env_check_map(&e.a, DST_IOVA, e.buf, LEN));
	CHECK_OK(dom_env_check_map(&e.a, SRC_IOVA, e.buf, LEN));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, dom_env_refs(&e.a, 1)));

	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.a.ioas, &unmapped));
	CHECK(unmapped == 2 * LEN);
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b.ioas, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST_VARIANTS(copy_errors, domain_variants)
{
	const __u64 resv = DST_IOVA + (8UL << 20);
	__u64 dst, unmapped, copied = PAGE_SIZE;
	struct env e;

	CHECK_SUB(env_setup(&e));
	CHECK_OK(ioas_map_fixed(e.fd, e.a.ioas, e.buf, LEN, SRC_IOVA));
	dst = DST_IOVA;
	CHECK_OK(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
			   PAGE_SIZE, COPY_FIXED));

	/* Source not mapped, or only partly. */
	dst = DST_IOVA + (1UL << 20);
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA + LEN,
			      PAGE_SIZE, COPY_FIXED), ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas,
			      SRC_IOVA - PAGE_SIZE, 2 * PAGE_SIZE, COPY_FIXED),
		    ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas,
			      SRC_IOVA + PAGE_SIZE, LEN, COPY_FIXED), ENOENT);
	/* Unknown flags. */
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
			      PAGE_SIZE, COPY_FIXED | (1u << 3)), EOPNOTSUPP);
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
			      PAGE_SIZE, COPY_FIXED | (1u << 31)), EOPNOTSUPP);
	/* Length 0. */
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA, 0,
			      COPY_FIXED), EINVAL);
	/* Destination overlapping the earlier copy. */
	dst = DST_IOVA;
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
			      PAGE_SIZE, COPY_FIXED), EEXIST);
	dst = DST_IOVA - PAGE_SIZE;
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
			      2 * PAGE_SIZE, COPY_FIXED), EEXIST);
	/* Destination on a range reserved in B. */
	CHECK_OK(add_reserved(e.fd, e.b.ioas, resv, PAGE_SIZE));
	dst = resv - PAGE_SIZE;
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
			      2 * PAGE_SIZE, COPY_FIXED), EINVAL);
	/*
	 * Below the mock aperture: B's domains reserve it; with no domain
	 * the IOVA is as good as any other.
	 */
	dst = MOCK_APERTURE_START - PAGE_SIZE;
	if (e.b.ndomains) {
		CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
				      PAGE_SIZE, COPY_FIXED), EINVAL);
	} else {
		CHECK_OK(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA,
				   PAGE_SIZE, COPY_FIXED));
		CHECK_OK(dom_env_check_map(&e.b, dst, e.buf, PAGE_SIZE));
		copied += PAGE_SIZE;
	}
	/* Unknown IOAS on either side, or not an IOAS. */
	dst = DST_IOVA + (1UL << 20);
	CHECK_ERRNO(ioas_copy(e.fd, BAD_ID, &dst, e.a.ioas, SRC_IOVA,
			      PAGE_SIZE, COPY_FIXED), ENOENT);
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, BAD_ID, SRC_IOVA,
			      PAGE_SIZE, COPY_FIXED), ENOENT);
	if (e.a.ndomains) {
		CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.hwpt, SRC_IOVA,
				      PAGE_SIZE, COPY_FIXED), ENOENT);
		CHECK_ERRNO(ioas_copy(e.fd, e.b.hwpt, &dst, e.a.ioas, SRC_IOVA,
				      PAGE_SIZE, COPY_FIXED), ENOENT);
	}

	/* The first copy is intact, and nothing but the good copies
	 * reached B. */
	CHECK_OK(dom_env_check_map(&e.b, DST_IOVA, e.buf, PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, e.buf, PAGE_SIZE, dom_env_refs(&e.b, 1)));
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(e.fd, e.b.ioas, &unmapped));
	CHECK(unmapped == copied);
	CHECK_OK(ioas_unmap_all(e.fd, e.a.ioas, NULL));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, 0));
	CHECK_SUB(env_teardown(&e));
}

TEST_VARIANTS(copy_write_from_read_only_source_eperm, domain_variants)
{
	__u64 iova = SRC_IOVA, dst = DST_IOVA, unmapped = 0;
	struct env e;

	CHECK_SUB(env_setup(&e));
	CHECK_OK(ioas_map_flags(e.fd, e.a.ioas, e.buf, LEN, &iova,
				IOMMU_IOAS_MAP_FIXED_IOVA |
				IOMMU_IOAS_MAP_READABLE));
	CHECK_ERRNO(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA, LEN,
			      COPY_FIXED), EPERM);
	CHECK_ERRNO(dom_env_check_map(&e.b, DST_IOVA, e.buf, LEN), EINVAL);
	/* A read-only copy is fine. */
	CHECK_OK(ioas_copy(e.fd, e.b.ioas, &dst, e.a.ioas, SRC_IOVA, LEN,
			   IOMMU_IOAS_MAP_FIXED_IOVA |
			   IOMMU_IOAS_MAP_READABLE));
	CHECK_OK(dom_env_check_map(&e.b, DST_IOVA, e.buf, LEN));
	CHECK_OK(check_refs(e.fd, e.buf, LEN, dom_env_refs(&e.b, 1)));
	CHECK_OK(ioas_unmap_all(e.fd, e.b.ioas, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_OK(ioas_unmap_all(e.fd, e.a.ioas, NULL));
	CHECK_SUB(env_teardown(&e));
}

int main(void)
{
	return tap_run();
}
