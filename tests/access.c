// SPDX-License-Identifier: GPL-2.0
/*
 * Software-device accesses (the test command's access object): pinning
 * pages through an IOAS, reading and writing through IOVAs, and the rule
 * that an unmap over pinned pages notifies the access and completes.
 */
#include <pthread.h>
#include <stdlib.h>

#include "util.h"

#define IOVA (MOCK_APERTURE_START + (1UL << 20))
#define PIN MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES

static __u64 ioas_alignment(int fd, __u32 ioas)
{
	struct iommu_iova_range r[4];
	__u32 num = 4;
	__u64 align = 0;

	if (ioas_iova_ranges(fd, ioas, r, &num, &align))
		return 0;
	return align;
}

/*
 * The start of most tests here: *@buf (@len bytes) mapped at IOVA in a
 * new IOAS (*@ioas) of a new fd (*@fd).
 */
static void open_mapped(int *fd, __u32 *ioas, char **buf, size_t len)
{
	*buf = buf_alloc(len);
	CHECK(*buf);
	*fd = dev_iommu_open();
	CHECK(*fd >= 0);
	CHECK_OK(ioas_alloc(*fd, ioas));
	CHECK_OK(ioas_map_fixed(*fd, *ioas, *buf, len, IOVA));
}

/* Their end: the access @afd closed, the IOAS emptied and destroyed. */
static void close_mapped(int fd, __u32 ioas, int afd, char *buf, size_t len)
{
	CHECK_OK(close(afd));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, len);
}

TEST(create_access)
{
	int fd, afd_pin, afd_plain, afd;
	__u32 ioas;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK(ioas_alignment(fd, ioas) == 1);

	CHECK_OK(create_access(fd, ioas, PIN, &afd_pin));
	CHECK(afd_pin >= 0 && afd_pin != fd);
	/* Pinning accesses work in whole pages. */
	CHECK(ioas_alignment(fd, ioas) == PAGE_SIZE);
	CHECK_OK(create_access(fd, ioas, 0, &afd_plain));
	CHECK(afd_plain >= 0 && afd_plain != afd_pin);

	CHECK_ERRNO(create_access(fd, ioas, 1u << 1, &afd), EOPNOTSUPP);
	CHECK_ERRNO(create_access(fd, ioas, PIN | (1u << 31), &afd),
		    EOPNOTSUPP);
	CHECK_ERRNO(create_access(fd, BAD_ID, PIN, &afd), ENOENT);

	/* An IOAS with an access attached is busy. */
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);
	CHECK_OK(close(afd_pin));
	CHECK(ioas_alignment(fd, ioas) == 1);
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);
	CHECK_OK(close(afd_plain));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(access_pages_pin_and_unpin)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, id, id2;
	int fd, afd;
	char *buf;

	CHECK_SUB(open_mapped(&fd, &ioas, &buf, len));
	CHECK_OK(create_access(fd, ioas, PIN, &afd));
	CHECK_OK(check_refs(fd, buf, len, 0));

	/* No domain: the access's pin is the only one. */
	CHECK_OK(access_pages(fd, afd, IOVA, buf, len, 0, &id));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(destroy_access_pages(fd, afd, id));
	CHECK_OK(check_refs(fd, buf, len, 0));
	CHECK_ERRNO(destroy_access_pages(fd, afd, id), ENOENT);
	CHECK_ERRNO(destroy_access_pages(fd, afd, 12345), ENOENT);

	/* Two overlapping items pin the pages once, and each releases
	 * only its own share. */
	CHECK_OK(access_pages(fd, afd, IOVA, buf, 2 * PAGE_SIZE, 0, &id));
	CHECK_OK(access_pages(fd, afd, IOVA + PAGE_SIZE, buf + PAGE_SIZE,
			      2 * PAGE_SIZE, MOCK_FLAGS_ACCESS_WRITE, &id2));
	CHECK(id != id2);
	CHECK_OK(check_refs(fd, buf, 3 * PAGE_SIZE, 1));
	CHECK_OK(check_refs(fd, buf + 3 * PAGE_SIZE, PAGE_SIZE, 0));
	CHECK_OK(destroy_access_pages(fd, afd, id));
	CHECK_OK(check_refs(fd, buf, PAGE_SIZE, 0));
	CHECK_OK(check_refs(fd, buf + PAGE_SIZE, 2 * PAGE_SIZE, 1));
	CHECK_OK(destroy_access_pages(fd, afd, id2));
	CHECK_OK(check_refs(fd, buf, len, 0));

	/* A range that is not page aligned pins the pages it touches. */
	CHECK_OK(access_pages(fd, afd, IOVA + 100, buf + 100, PAGE_SIZE, 0,
			      &id));
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 1));
	CHECK_OK(check_refs(fd, buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE, 0));
	CHECK_OK(destroy_access_pages(fd, afd, id));
	CHECK_OK(check_refs(fd, buf, len, 0));

	CHECK_SUB(close_mapped(fd, ioas, afd, buf, len));
}

TEST(access_pages_share_domain_pins)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, stdev, id;
	int fd, afd;
	char *buf;

	buf = buf_alloc(len);
	CHECK(buf);
	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, NULL, NULL));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(create_access(fd, ioas, PIN, &afd));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(access_pages(fd, afd, IOVA, buf, len, 0, &id));
	CHECK_OK(check_refs(fd, buf, len, 1));

	/* The domain leaves; the access still holds the pages. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(destroy_access_pages(fd, afd, id));
	CHECK_OK(check_refs(fd, buf, len, 0));

	CHECK_SUB(close_mapped(fd, ioas, afd, buf, len));
}

TEST(access_pages_errors)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, id;
	int fd, afd, plain;
	__u64 ro_iova = IOVA + (1UL << 20);
	char *buf;

	CHECK_SUB(open_mapped(&fd, &ioas, &buf, len));
	CHECK_OK(ioas_map_flags(fd, ioas, buf, len, &ro_iova,
				IOMMU_IOAS_MAP_FIXED_IOVA |
				IOMMU_IOAS_MAP_READABLE));
	CHECK_OK(create_access(fd, ioas, PIN, &afd));
	CHECK_OK(create_access(fd, ioas, 0, &plain));

	/* Nothing mapped there, or only part of the range. */
	CHECK_ERRNO(access_pages(fd, afd, IOVA + (4UL << 20), buf, PAGE_SIZE,
				 0, &id), ENOENT);
	CHECK_ERRNO(access_pages(fd, afd, IOVA - PAGE_SIZE, buf - PAGE_SIZE,
				 2 * PAGE_SIZE, 0, &id), ENOENT);
	CHECK_ERRNO(access_pages(fd, afd, IOVA + 2 * PAGE_SIZE,
				 buf + 2 * PAGE_SIZE, len, 0, &id), ENOENT);
	/* Write access to a read-only mapping. */
	CHECK_ERRNO(access_pages(fd, afd, ro_iova, buf, len,
				 MOCK_FLAGS_ACCESS_WRITE, &id), EPERM);
	/* Too long for the test command. */
	CHECK_ERRNO(access_pages(fd, afd, IOVA, buf, (16UL << 20) + PAGE_SIZE,
				 0, &id), ENOMEM);
	CHECK_ERRNO(access_pages(fd, afd, IOVA, buf, 0, 0, &id), EINVAL);
	/* Unknown flags. */
	CHECK_ERRNO(access_pages(fd, afd, IOVA, buf, len, 1u << 5, &id),
		    EOPNOTSUPP);
	/* The pages found are not the ones at uptr. */
	CHECK_ERRNO(access_pages(fd, afd, IOVA, buf + PAGE_SIZE, PAGE_SIZE, 0,
				 &id), EBADE);
	/* An access created without NEEDS_PIN_PAGES cannot pin. */
	CHECK_ERRNO(access_pages(fd, plain, IOVA, buf, len, 0, &id),
		    EOPNOTSUPP);

	/* No refused call left a pin behind. */
	CHECK_OK(check_refs(fd, buf, len, 0));
	/* Read-only pin of the read-only mapping is fine. */
	CHECK_OK(access_pages(fd, afd, ro_iova, buf, len, 0, &id));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(destroy_access_pages(fd, afd, id));

	CHECK_OK(close(plain));
	CHECK_SUB(close_mapped(fd, ioas, afd, buf, len));
}

/* Read and write through @afd and compare with the memory behind. */
static void rw_checks(int fd, int afd, char *buf, size_t len, __u32 extra)
{
	char *tmp, *want;

	tmp = malloc(len);
	want = malloc(len);
	CHECK(tmp && want);

	/* Whole range. */
	memset(tmp, 0, len);
	CHECK_OK(access_rw(fd, afd, IOVA, tmp, len, extra));
	CHECK(!memcmp(tmp, buf, len));

	/* 3 bytes at offset 5. */
	memset(tmp, 0, len);
	CHECK_OK(access_rw(fd, afd, IOVA + 5, tmp, 3, extra));
	CHECK(!memcmp(tmp, buf + 5, 3));

	/* Across a page boundary, odd length and offset. */
	CHECK_OK(access_rw(fd, afd, IOVA + PAGE_SIZE - 7, tmp, 23, extra));
	CHECK(!memcmp(tmp, buf + PAGE_SIZE - 7, 23));

	/* Writes land in the user memory, and only where asked. */
	memcpy(want, buf, len);
	buf_fill(tmp, len, 0x3c + extra);
	CHECK_OK(access_rw(fd, afd, IOVA + PAGE_SIZE, tmp, 2 * PAGE_SIZE,
			   MOCK_ACCESS_RW_WRITE | extra));
	memcpy(want + PAGE_SIZE, tmp, 2 * PAGE_SIZE);
	CHECK(!memcmp(buf, want, len));

	char xyz[] = "xyz", digits[] = "0123";

	CHECK_OK(access_rw(fd, afd, IOVA + 5, xyz, 3,
			   MOCK_ACCESS_RW_WRITE | extra));
	memcpy(want + 5, "xyz", 3);
	CHECK(!memcmp(buf, want, len));

	CHECK_OK(access_rw(fd, afd, IOVA + 3 * PAGE_SIZE - 2, digits, 4,
			   MOCK_ACCESS_RW_WRITE | extra));
	memcpy(want + 3 * PAGE_SIZE - 2, "0123", 4);
	CHECK(!memcmp(buf, want, len));

	free(tmp);
	free(want);
}

TEST(access_rw_read_write)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, stdev;
	int fd, afd;
	char *buf;

	CHECK_SUB(open_mapped(&fd, &ioas, &buf, len));
	CHECK_OK(create_access(fd, ioas, 0, &afd));

	/* Unpinned pages, then the slow path. */
	CHECK_SUB(rw_checks(fd, afd, buf, len, 0));
	CHECK_SUB(rw_checks(fd, afd, buf, len, MOCK_ACCESS_RW_SLOW_PATH));
	/* Reading and writing pins nothing for long. */
	CHECK_OK(check_refs(fd, buf, len, 0));

	/* Pages pinned by a domain. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_SUB(rw_checks(fd, afd, buf, len, 0));
	CHECK_SUB(rw_checks(fd, afd, buf, len, MOCK_ACCESS_RW_SLOW_PATH));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(iommu_destroy(fd, stdev));

	CHECK_SUB(close_mapped(fd, ioas, afd, buf, len));
}

TEST(access_rw_across_areas)
{
	char *a, *b, tmp[4 * PAGE_SIZE], want[4 * PAGE_SIZE];
	__u32 ioas;
	int fd, afd;

	a = buf_alloc(2 * PAGE_SIZE);
	b = buf_alloc(2 * PAGE_SIZE);
	CHECK(a && b);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	/* Two areas back to back in IOVA, from unrelated memory. */
	CHECK_OK(ioas_map_fixed(fd, ioas, a, 2 * PAGE_SIZE, IOVA));
	CHECK_OK(ioas_map_fixed(fd, ioas, b, 2 * PAGE_SIZE,
				IOVA + 2 * PAGE_SIZE));
	CHECK_OK(create_access(fd, ioas, 0, &afd));

	memcpy(want, a, 2 * PAGE_SIZE);
	memcpy(want + 2 * PAGE_SIZE, b, 2 * PAGE_SIZE);
	memset(tmp, 0, sizeof(tmp));
	CHECK_OK(access_rw(fd, afd, IOVA, tmp, sizeof(tmp), 0));
	CHECK(!memcmp(tmp, want, sizeof(tmp)));
	CHECK_OK(access_rw(fd, afd, IOVA + 2 * PAGE_SIZE - 3, tmp, 6, 0));
	CHECK(!memcmp(tmp, want + 2 * PAGE_SIZE - 3, 6));

	char letters[] = "abcdef";
	CHECK_OK(access_rw(fd, afd, IOVA + 2 * PAGE_SIZE - 3, letters, 6,
			   MOCK_ACCESS_RW_WRITE));
	CHECK(!memcmp(a + 2 * PAGE_SIZE - 3, "abc", 3));
	CHECK(!memcmp(b, "def", 3));

	CHECK_OK(close(afd));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(a, 2 * PAGE_SIZE);
	buf_free(b, 2 * PAGE_SIZE);
}

TEST(access_rw_errors)
{
	const size_t len = 4 * PAGE_SIZE;
	__u64 ro_iova = IOVA + (1UL << 20);
	char tmp[64], *buf;
	__u32 ioas;
	int fd, afd;

	CHECK_SUB(open_mapped(&fd, &ioas, &buf, len));
	CHECK_OK(ioas_map_flags(fd, ioas, buf, len, &ro_iova,
				IOMMU_IOAS_MAP_FIXED_IOVA |
				IOMMU_IOAS_MAP_READABLE));
	CHECK_OK(create_access(fd, ioas, 0, &afd));

	/* Unmapped, or running off the end of an area. */
	CHECK_ERRNO(access_rw(fd, afd, IOVA + (4UL << 20), tmp, 8, 0),
		    ENOENT);
	CHECK_ERRNO(access_rw(fd, afd, IOVA + len - 4, tmp, 8, 0), ENOENT);
	CHECK_ERRNO(access_rw(fd, afd, IOVA - 4, tmp, 8, 0), ENOENT);
	/* Writing a read-only area; reading it is fine. */
	CHECK_ERRNO(access_rw(fd, afd, ro_iova, tmp, 8, MOCK_ACCESS_RW_WRITE),
		    EPERM);
	CHECK_OK(access_rw(fd, afd, ro_iova, tmp, 8, 0));
	CHECK(!memcmp(tmp, buf, 8));
	CHECK_ERRNO(access_rw(fd, afd, IOVA, tmp, 0, 0), EINVAL);
	CHECK_ERRNO(access_rw(fd, afd, IOVA, tmp, (16UL << 20) + 1, 0),
		    ENOMEM);
	CHECK_ERRNO(access_rw(fd, afd, IOVA, tmp, 8, 1u << 5), EOPNOTSUPP);

	CHECK_SUB(close_mapped(fd, ioas, afd, buf, len));
}

TEST(unmap_notifies_pinning_access)
{
	const size_t len = 4 * PAGE_SIZE;
	const __u64 iova_b = IOVA + (1UL << 20);
	__u32 ioas, stdev, ida, idb, idc;
	__u64 unmapped;
	int fd, afd;
	char *buf;

	buf = buf_alloc(2 * len);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf + len, len, iova_b));
	CHECK_OK(create_access(fd, ioas, PIN, &afd));

	CHECK_OK(access_pages(fd, afd, IOVA, buf, len, 0, &ida));
	CHECK_OK(access_pages(fd, afd, IOVA + PAGE_SIZE, buf + PAGE_SIZE,
			      PAGE_SIZE, 0, &idc));
	CHECK_OK(access_pages(fd, afd, iova_b + PAGE_SIZE,
			      buf + len + PAGE_SIZE, 2 * PAGE_SIZE, 0, &idb));
	CHECK_OK(check_refs(fd, buf, len, 1));

	/* The unmap completes; the access lets go of what it pinned. */
	unmapped = 0;
	CHECK_OK(ioas_unmap(fd, ioas, IOVA, len, &unmapped));
	CHECK(unmapped == len);
	CHECK_ERRNO(destroy_access_pages(fd, afd, ida), ENOENT);
	CHECK_ERRNO(destroy_access_pages(fd, afd, idc), ENOENT);
	CHECK_OK(check_refs(fd, buf, len, 0));
	/* Items in other areas are untouched. */
	CHECK_OK(check_refs(fd, buf + len + PAGE_SIZE, 2 * PAGE_SIZE, 1));

	/* The same with a domain attached, through unmap-all. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_OK(check_refs(fd, buf + len, len, 1));
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == len);
	CHECK_ERRNO(destroy_access_pages(fd, afd, idb), ENOENT);
	CHECK_OK(check_refs(fd, buf, 2 * len, 0));

	/* The access still works on new mappings. */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(access_pages(fd, afd, IOVA, buf, len, 0, &ida));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(destroy_access_pages(fd, afd, ida));

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_SUB(close_mapped(fd, ioas, afd, buf, 2 * len));
}

struct stuck_pin {
	int fd, afd;
	void *uptr;
	int rc, err;
};

static void *access_pages_checking(void *arg)
{
	struct stuck_pin *p = arg;
	__u32 id;

	p->rc = access_pages(p->fd, p->afd, IOVA, p->uptr, PAGE_SIZE, 0, &id);
	p->err = errno;
	return NULL;
}

/*
 * An access pin whose page check is stuck in a user fault holds nothing
 * an unmap of its area needs: the unmap completes at once (no WARN, no
 * EDEADLK after retries), and the pin then fails cleanly.
 */
TEST(unmap_not_held_by_stuck_access_pin)
{
	struct uffd_stuck u;
	struct stuck_pin p;
	__u32 ioas;
	char *buf;

	buf = buf_alloc(PAGE_SIZE);
	p.fd = dev_iommu_open();
	CHECK(buf && p.fd >= 0);
	CHECK_OK(uffd_stuck_page(&u));
	p.uptr = u.page;
	CHECK_OK(ioas_alloc(p.fd, &ioas));
	CHECK_OK(ioas_map_fixed(p.fd, ioas, buf, PAGE_SIZE, IOVA));
	CHECK_OK(create_access(p.fd, ioas, PIN, &p.afd));
	CHECK_OK(uffd_stuck_start(&u, access_pages_checking, &p));

	CHECK_OK(ioas_unmap(p.fd, ioas, IOVA, PAGE_SIZE, NULL));
	CHECK_OK(uffd_stuck_release(&u));
	/* The area it meant to pin is gone. */
	CHECK(p.rc != 0);
	CHECK_OK(check_refs(p.fd, buf, PAGE_SIZE, 0));
	CHECK_OK(close(p.afd));
	CHECK_OK(iommu_destroy(p.fd, ioas));
	close(p.fd);
	buf_free(buf, PAGE_SIZE);
}

TEST(access_replace_ioas)
{
	const size_t len = 2 * PAGE_SIZE;
	__u32 ioas1, ioas2, id;
	char *buf1, *buf2, tmp[2 * PAGE_SIZE];
	int fd, afd;

	buf1 = buf_alloc(len);
	buf2 = buf_alloc(len);
	CHECK(buf1 && buf2);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas1));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioas_map_fixed(fd, ioas1, buf1, len, IOVA));
	CHECK_OK(ioas_map_fixed(fd, ioas2, buf2, len, IOVA));
	CHECK_OK(create_access(fd, ioas1, PIN, &afd));

	CHECK_OK(access_pages(fd, afd, IOVA, buf1, len, 0, &id));
	CHECK_OK(check_refs(fd, buf1, len, 1));
	CHECK_OK(access_rw(fd, afd, IOVA, tmp, len, 0));
	CHECK(!memcmp(tmp, buf1, len));

	CHECK_OK(access_replace_ioas(fd, afd, ioas2));
	/* The move dropped what was pinned in the old IOAS. */
	CHECK_ERRNO(destroy_access_pages(fd, afd, id), ENOENT);
	CHECK_OK(check_refs(fd, buf1, len, 0));
	/* The same IOVA now reads the new IOAS's memory. */
	CHECK_OK(access_rw(fd, afd, IOVA, tmp, len, 0));
	CHECK(!memcmp(tmp, buf2, len));
	CHECK_OK(access_pages(fd, afd, IOVA, buf2, len, 0, &id));
	CHECK_OK(check_refs(fd, buf2, len, 1));

	/* A bad target leaves the access where it is. */
	CHECK_ERRNO(access_replace_ioas(fd, afd, BAD_ID), ENOENT);
	CHECK_OK(check_refs(fd, buf2, len, 1));
	CHECK_OK(access_rw(fd, afd, IOVA, tmp, len, 0));
	CHECK(!memcmp(tmp, buf2, len));

	/* IOAS 1 has no user left; IOAS 2 has the access. */
	CHECK_OK(iommu_destroy(fd, ioas1));
	CHECK_ERRNO(iommu_destroy(fd, ioas2), EBUSY);

	CHECK_OK(destroy_access_pages(fd, afd, id));
	CHECK_OK(close(afd));
	CHECK_OK(ioas_unmap_all(fd, ioas2, NULL));
	CHECK_OK(iommu_destroy(fd, ioas2));
	close(fd);
	buf_free(buf1, len);
	buf_free(buf2, len);
}

/*
 * An unmap over many areas, each pinned by the access, completes in one
 * call: the access is asked to let go of the whole range at once, not one
 * area per retry (which ran out of retries past 2000 areas).
 */
TEST(unmap_all_over_many_pinned_areas)
{
	const unsigned int n = 2100;
	__u64 unmapped = 0;
	__u32 ioas, id;
	unsigned int i;
	int fd, afd;
	char *buf;

	buf = buf_alloc(n * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(create_access(fd, ioas, PIN, &afd));
	for (i = 0; i < n; i++) {
		CHECK_OK(ioas_map_fixed(fd, ioas, buf + i * PAGE_SIZE,
					PAGE_SIZE, IOVA + i * PAGE_SIZE));
		CHECK_OK(access_pages(fd, afd, IOVA + i * PAGE_SIZE,
				      buf + i * PAGE_SIZE, PAGE_SIZE, 0, &id));
	}
	CHECK_OK(check_refs(fd, buf, n * PAGE_SIZE, 1));
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == n * PAGE_SIZE);
	CHECK_OK(check_refs(fd, buf, n * PAGE_SIZE, 0));
	CHECK_ERRNO(destroy_access_pages(fd, afd, id), ENOENT);
	CHECK_OK(close(afd));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, n * PAGE_SIZE);
}

/*
 * A replace the new IOAS refuses (an area not page aligned, which a
 * pinning access cannot use) leaves the access on the old IOAS.
 */
TEST(access_replace_refused_keeps_old_ioas)
{
	const size_t len = 2 * PAGE_SIZE;
	__u32 ioas1, ioas2, id;
	char *buf, tmp[16];
	int fd, afd;

	buf = buf_alloc(2 * len);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas1));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioas_map_fixed(fd, ioas1, buf, len, IOVA));
	CHECK_OK(ioas_map_fixed(fd, ioas2, buf + len + 8, 64, IOVA + 8));
	CHECK_OK(create_access(fd, ioas1, PIN, &afd));
	CHECK_OK(access_pages(fd, afd, IOVA, buf, len, 0, &id));

	CHECK_ERRNO(access_replace_ioas(fd, afd, ioas2), EADDRINUSE);
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(access_rw(fd, afd, IOVA, tmp, sizeof(tmp), 0));
	CHECK(!memcmp(tmp, buf, sizeof(tmp)));
	CHECK(ioas_alignment(fd, ioas1) == PAGE_SIZE);
	CHECK(ioas_alignment(fd, ioas2) == 1);
	CHECK_ERRNO(iommu_destroy(fd, ioas1), EBUSY);
	CHECK_OK(iommu_destroy(fd, ioas2));

	CHECK_OK(destroy_access_pages(fd, afd, id));
	CHECK_OK(close(afd));
	CHECK_OK(ioas_unmap_all(fd, ioas1, NULL));
	CHECK_OK(iommu_destroy(fd, ioas1));
	close(fd);
	buf_free(buf, 2 * len);
}

struct replacer {
	int fd, afd;
	__u32 ioas[2];
	int failures;
};

static void *replace_loop(void *arg)
{
	struct replacer *r = arg;
	int i;

	for (i = 0; i < 20000; i++)
		if (access_replace_ioas(r->fd, r->afd, r->ioas[(i / 2) % 2]))
			__atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * Two threads moving one access between two IOASes at once: attach,
 * replace and detach of an access are serialized, so it ends on exactly
 * one IOAS's list with one reference (the harness checks the kernel log
 * for list corruption and reference warnings).
 */
TEST(access_replace_concurrent)
{
	struct replacer r = { 0 };
	pthread_t th[2];
	__u32 id, on;
	char *buf;
	int i;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	r.fd = dev_iommu_open();
	CHECK(r.fd >= 0);
	CHECK_OK(ioas_alloc(r.fd, &r.ioas[0]));
	CHECK_OK(ioas_alloc(r.fd, &r.ioas[1]));
	CHECK_OK(ioas_map_fixed(r.fd, r.ioas[0], buf, PAGE_SIZE, IOVA));
	CHECK_OK(ioas_map_fixed(r.fd, r.ioas[1], buf, PAGE_SIZE, IOVA));
	CHECK_OK(create_access(r.fd, r.ioas[0], PIN, &r.afd));
	for (i = 0; i < 2; i++)
		CHECK(!pthread_create(&th[i], NULL, replace_loop, &r));
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(r.failures == 0);

	/* Wherever it ended, it works there, and only there. */
	CHECK_OK(access_pages(r.fd, r.afd, IOVA, buf, PAGE_SIZE, 0, &id));
	CHECK_OK(check_refs(r.fd, buf, PAGE_SIZE, 1));
	CHECK_OK(destroy_access_pages(r.fd, r.afd, id));
	/* The IOAS it left has no user; the one it is on has it. */
	on = iommu_destroy(r.fd, r.ioas[0]) ? r.ioas[0] : r.ioas[1];
	CHECK_ERRNO(iommu_destroy(r.fd, on), EBUSY);
	if (on == r.ioas[0])
		CHECK_OK(iommu_destroy(r.fd, r.ioas[1]));
	CHECK_OK(close(r.afd));
	CHECK_OK(iommu_destroy(r.fd, on));
	close(r.fd);
	buf_free(buf, PAGE_SIZE);
}

TEST(close_access_fd_releases_pins)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, id;
	int fd, afd;
	char *buf;

	CHECK_SUB(open_mapped(&fd, &ioas, &buf, len));
	CHECK_OK(create_access(fd, ioas, PIN, &afd));
	CHECK_OK(access_pages(fd, afd, IOVA, buf, len, 0, &id));
	CHECK_OK(access_pages(fd, afd, IOVA, buf, PAGE_SIZE, 0, &id));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);

	CHECK_OK(close(afd));
	CHECK_OK(check_refs(fd, buf, len, 0));
	/* The IOAS is free again, and its mapping intact. */
	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == len);
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, len);
}

int main(void)
{
	return tap_run();
}
