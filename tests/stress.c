// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: threads map, unmap, copy, pin through accesses and attach
 * and detach mock devices on the same IOASes at once, in a small IOVA
 * window so that they collide.  Every call must either work or fail with
 * an errno that the collision explains; afterwards everything must unwind
 * to nothing (the harness checks for leaks and kernel warnings).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

#define WINDOW_PAGES 64
#define BUF_PAGES 16
#define RUN_SECONDS 3

struct shared {
	int fd;
	__u32 ioas[2];
	char *buf;
	atomic_int bad;
	atomic_long ops;
	time_t until;
};

static __u64 window_iova(unsigned int page)
{
	return MOCK_APERTURE_START + (__u64)page * PAGE_SIZE;
}

/* Record an unexpected result. */
static void bad(struct shared *s, const char *what, int err)
{
	if (atomic_fetch_add(&s->bad, 1) < 10)
		tap_diag("%s: unexpected errno %d (%s)", what, err,
			 strerror(err));
}

static bool one_of(int err, const int *ok, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (err == ok[i])
			return true;
	return false;
}

static void op_map(struct shared *s, unsigned int *seed)
{
	static const int ok[] = { EEXIST, EBUSY };
	unsigned int page = rand_r(seed) % (WINDOW_PAGES - 4);
	unsigned int n = 1 + rand_r(seed) % 4;
	unsigned int off = rand_r(seed) % (BUF_PAGES - n);
	__u32 ioas = s->ioas[rand_r(seed) % 2];

	if (ioas_map_fixed(s->fd, ioas, s->buf + off * PAGE_SIZE,
			   n * PAGE_SIZE, window_iova(page)) &&
	    !one_of(errno, ok, 2))
		bad(s, "map", errno);
}

static void op_unmap(struct shared *s, unsigned int *seed)
{
	static const int ok[] = { ENOENT, EBUSY };
	unsigned int page = rand_r(seed) % WINDOW_PAGES;
	unsigned int n = 1 + rand_r(seed) % 8;
	__u32 ioas = s->ioas[rand_r(seed) % 2];

	if (page + n > WINDOW_PAGES)
		n = WINDOW_PAGES - page;
	if (ioas_unmap(s->fd, ioas, window_iova(page), n * PAGE_SIZE, NULL) &&
	    !one_of(errno, ok, 2))
		bad(s, "unmap", errno);
}

static void op_copy(struct shared *s, unsigned int *seed)
{
	static const int ok[] = { ENOENT, EEXIST, EBUSY };
	unsigned int src = rand_r(seed) % WINDOW_PAGES;
	unsigned int dst = rand_r(seed) % WINDOW_PAGES;
	unsigned int from = rand_r(seed) % 2;
	__u64 iova = window_iova(dst);

	if (dst + 1 > WINDOW_PAGES)
		return;
	if (ioas_copy(s->fd, s->ioas[!from], &iova, s->ioas[from],
		      window_iova(src), PAGE_SIZE,
		      MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA) &&
	    !one_of(errno, ok, 3))
		bad(s, "copy", errno);
}

static void *mapper(void *arg)
{
	struct shared *s = arg;
	unsigned int seed = (unsigned int)(uintptr_t)pthread_self();

	while (time(NULL) < s->until) {
		switch (rand_r(&seed) % 3) {
		case 0:
			op_map(s, &seed);
			break;
		case 1:
			op_unmap(s, &seed);
			break;
		default:
			op_copy(s, &seed);
		}
		atomic_fetch_add(&s->ops, 1);
	}
	return NULL;
}

/* Mock devices come and go and move between the IOASes. */
static void *attacher(void *arg)
{
	struct shared *s = arg;
	unsigned int seed = 7;
	__u32 stdev, hwpt, pt;

	while (time(NULL) < s->until) {
		if (mock_domain(s->fd, s->ioas[0], &stdev, &hwpt, NULL)) {
			bad(s, "mock domain", errno);
			continue;
		}
		pt = s->ioas[rand_r(&seed) % 2];
		/* EINVAL: an area outside the mock aperture cannot exist here */
		if (mock_domain_replace(s->fd, stdev, &pt))
			bad(s, "replace", errno);
		if (iommu_destroy(s->fd, stdev))
			bad(s, "destroy device", errno);
		atomic_fetch_add(&s->ops, 1);
	}
	return NULL;
}

/* An access pins and unpins whatever is mapped at the moment. */
static void *pinner(void *arg)
{
	static const int ok[] = { ENOENT, EINVAL };
	struct shared *s = arg;
	unsigned int seed = 11;
	__u32 id;
	int afd;

	if (create_access(s->fd, s->ioas[1],
			  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, &afd)) {
		bad(s, "create access", errno);
		return NULL;
	}
	while (time(NULL) < s->until) {
		unsigned int page = rand_r(&seed) % WINDOW_PAGES;
		char tmp[64];

		/* Copy through the IOVA, then pin and unpin it. */
		if (access_rw(s->fd, afd, window_iova(page) + 8, tmp,
			      sizeof(tmp), 0) && !one_of(errno, ok, 2))
			bad(s, "access rw", errno);
		/*
		 * Which user page backs the IOVA changes under us, so the
		 * mock's check against a user address cannot pass: it pins,
		 * finds a mismatch (EBADE, or EFAULT for no address) and
		 * unpins -- which is the path under test.
		 */
		if (!access_pages(s->fd, afd, window_iova(page),
				  NULL, PAGE_SIZE, 0, &id)) {
			if (destroy_access_pages(s->fd, afd, id) &&
			    errno != ENOENT)
				bad(s, "access unpin", errno);
		} else if (!one_of(errno, ok, 2) && errno != EBADE &&
			   errno != EFAULT) {
			bad(s, "access pin", errno);
		}
		atomic_fetch_add(&s->ops, 1);
	}
	close(afd);
	return NULL;
}

TEST(concurrent_map_unmap_copy_attach_access)
{
	struct shared s = { 0 };
	pthread_t th[4];
	__u32 stdev, hwpt;
	int i;

	s.buf = buf_alloc(BUF_PAGES * PAGE_SIZE);
	CHECK(s.buf);
	s.fd = dev_iommu_open();
	CHECK(s.fd >= 0);
	CHECK_OK(ioas_alloc(s.fd, &s.ioas[0]));
	CHECK_OK(ioas_alloc(s.fd, &s.ioas[1]));
	/* A domain on the first IOAS for the whole run: maps pin. */
	CHECK_OK(mock_domain(s.fd, s.ioas[0], &stdev, &hwpt, NULL));
	s.until = time(NULL) + RUN_SECONDS;

	pthread_create(&th[0], NULL, mapper, &s);
	pthread_create(&th[1], NULL, mapper, &s);
	pthread_create(&th[2], NULL, attacher, &s);
	pthread_create(&th[3], NULL, pinner, &s);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	tap_diag("%ld operations in %d s", atomic_load(&s.ops), RUN_SECONDS);
	CHECK(atomic_load(&s.bad) == 0);

	/* Whatever is left is consistent: the domain maps the IOAS exactly. */
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas[0], NULL));
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas[1], NULL));
	CHECK_OK(check_refs(s.fd, s.buf, BUF_PAGES * PAGE_SIZE, 0));
	CHECK_OK(iommu_destroy(s.fd, stdev));
	CHECK_OK(iommu_destroy(s.fd, s.ioas[0]));
	CHECK_OK(iommu_destroy(s.fd, s.ioas[1]));
	close(s.fd);
	buf_free(s.buf, BUF_PAGES * PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}
