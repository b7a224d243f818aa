// SPDX-License-Identifier: GPL-2.0
/*
 * Random ioctl sequences, checked against a model.
 *
 * Maps, unmaps and copies with random ranges over two IOASes (mock
 * devices coming and going) are predicted by a simple model of the areas
 * each IOAS holds: every result -- success, EEXIST, ENOENT, the number of
 * bytes unmapped -- must match the prediction.  Interleaved are random
 * garbage requests (random command numbers, sizes and bytes), which must
 * only ever fail cleanly.  Fixed seeds, so a failure reproduces.
 */
#include <stdlib.h>
#include <sys/ioctl.h>

#include "util.h"

#define WINDOW_PAGES 256
#define MAX_AREAS 512
#define STEPS 20000

struct area {
	__u64 iova, len;
};

struct model {
	__u32 ioas;
	struct area a[MAX_AREAS];
	int n;
};

static __u64 base(void)
{
	return MOCK_APERTURE_START;
}

static bool overlaps(const struct model *m, __u64 iova, __u64 len)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (iova < m->a[i].iova + m->a[i].len &&
		    m->a[i].iova < iova + len)
			return true;
	return false;
}

/* Bytes an unmap of [iova, iova + len) removes, or -1 for ENOENT. */
static long long predict_unmap(const struct model *m, __u64 iova, __u64 len)
{
	long long total = 0;
	int i;

	for (i = 0; i < m->n; i++) {
		const struct area *a = &m->a[i];

		if (a->iova + a->len <= iova || a->iova >= iova + len)
			continue;
		if (a->iova < iova || a->iova + a->len > iova + len)
			return -1;	/* only partly inside */
		total += a->len;
	}
	return total ? total : -1;
}

static void model_remove(struct model *m, __u64 iova, __u64 len)
{
	int i = 0;

	while (i < m->n) {
		if (m->a[i].iova >= iova && m->a[i].iova + m->a[i].len <= iova + len)
			m->a[i] = m->a[--m->n];
		else
			i++;
	}
}

/* Is [iova, iova + len) mapped without holes? */
static bool covered(const struct model *m, __u64 iova, __u64 len)
{
	__u64 pos = iova;
	bool progress = true;
	int i;

	while (pos < iova + len && progress) {
		progress = false;
		for (i = 0; i < m->n; i++) {
			if (m->a[i].iova <= pos && pos < m->a[i].iova + m->a[i].len) {
				pos = m->a[i].iova + m->a[i].len;
				progress = true;
			}
		}
	}
	return pos >= iova + len;
}

/*
 * A copy makes one area in @d for each source area it takes from: the
 * part of it inside [iova, iova + len), at the same offset from @dst.
 */
static void add_copied(const struct model *s, struct model *d, __u64 iova,
		       __u64 len, __u64 dst)
{
	int i;

	for (i = 0; i < s->n; i++) {
		__u64 start = s->a[i].iova > iova ? s->a[i].iova : iova;
		__u64 end = s->a[i].iova + s->a[i].len < iova + len ?
			    s->a[i].iova + s->a[i].len : iova + len;

		if (start >= end)
			continue;
		CHECK(d->n < MAX_AREAS);
		d->a[d->n++] = (struct area){ dst + (start - iova), end - start };
	}
}

/* One random garbage request: it must fail cleanly (or do no harm). */
static int garbage(int fd, unsigned int *seed)
{
	unsigned char arg[128];
	unsigned int nr = 0x78 + rand_r(seed) % 0x30, i;

	for (i = 0; i < sizeof(arg); i++)
		arg[i] = rand_r(seed) % 4 ? 0 : rand_r(seed);
	*(__u32 *)arg = rand_r(seed) % 96;	/* size */
	/* Leave alone what would change the model's IOASes behind its back. */
	if (nr == 0x80 || nr == 0x83 || nr == 0x85 || nr == 0x86 || nr == 0xa0)
		return 0;
	if (ioctl(fd, _IO(';', nr), arg) == 0)
		return 0;
	switch (errno) {
	case ENOTTY: case EINVAL: case E2BIG: case EOPNOTSUPP: case ENOENT:
	case EFAULT: case EOVERFLOW: case EEXIST: case EBUSY: case ENOSPC:
	case EADDRINUSE: case EPERM: case EMSGSIZE: case ENOMEM:
	case ENODEV:	/* VFIO_IOAS GET without a compat IOAS */
		return 0;
	default:
		tap_diag("garbage request 0x%x: errno %d (%s)", nr, errno,
			 strerror(errno));
		return -1;
	}
}

static void run(unsigned int seed)
{
	struct model m[2] = { 0 };
	char *buf = buf_alloc(16 * PAGE_SIZE);
	__u32 stdev = 0;
	int fd, step, k;

	tap_diag("seed %u", seed);

	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &m[0].ioas));
	CHECK_OK(ioas_alloc(fd, &m[1].ioas));

	for (step = 0; step < STEPS; step++) {
		struct model *s = &m[rand_r(&seed) % 2], *d;
		__u64 iova = base() + (rand_r(&seed) % WINDOW_PAGES) * PAGE_SIZE;
		__u64 len = (1 + rand_r(&seed) % 8) * PAGE_SIZE, got;
		long long want;
		int rc;

		switch (rand_r(&seed) % 8) {
		case 0: case 1: case 2:	/* map */
			if (iova + len > base() + WINDOW_PAGES * PAGE_SIZE)
				break;
			rc = ioas_map_fixed(fd, s->ioas,
					    buf + (rand_r(&seed) % 8) * PAGE_SIZE,
					    len, iova);
			if (overlaps(s, iova, len)) {
				CHECK(rc == -1 && errno == EEXIST);
			} else {
				CHECK(rc == 0 && s->n < MAX_AREAS);
				s->a[s->n++] = (struct area){ iova, len };
			}
			break;
		case 3: case 4:	/* unmap */
			want = predict_unmap(s, iova, len);
			rc = ioas_unmap(fd, s->ioas, iova, len, &got);
			if (want < 0) {
				CHECK(rc == -1 && errno == ENOENT);
			} else {
				CHECK(rc == 0 && got == (__u64)want);
				model_remove(s, iova, len);
			}
			break;
		case 5: {	/* copy to the other IOAS */
			__u64 dst = base() + (rand_r(&seed) % WINDOW_PAGES) * PAGE_SIZE;

			d = s == &m[0] ? &m[1] : &m[0];
			if (dst + len > base() + WINDOW_PAGES * PAGE_SIZE)
				break;
			rc = ioas_copy(fd, d->ioas, &dst, s->ioas, iova, len,
				       MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
			if (!covered(s, iova, len)) {
				CHECK(rc == -1 && errno == ENOENT);
			} else if (overlaps(d, dst, len)) {
				CHECK(rc == -1 && errno == EEXIST);
			} else {
				CHECK(rc == 0);
				CHECK_SUB(add_copied(s, d, iova, len, dst));
			}
			break;
		}
		case 6:	/* a mock device comes or goes */
			if (stdev) {
				CHECK_OK(iommu_destroy(fd, stdev));
				stdev = 0;
			} else {
				CHECK_OK(mock_domain(fd, s->ioas, &stdev, NULL,
						     NULL));
			}
			break;
		default:
			CHECK_OK(garbage(fd, &seed));
		}
	}

	for (k = 0; k < 2; k++) {
		__u64 total = 0, got = 0;
		int i;

		for (i = 0; i < m[k].n; i++)
			total += m[k].a[i].len;
		CHECK_OK(ioas_unmap_all(fd, m[k].ioas, &got));
		CHECK(got == total);
	}
	close(fd);
	buf_free(buf, 16 * PAGE_SIZE);
}

TEST(random_sequences_match_the_model)
{
	unsigned int seed;

	for (seed = 1; seed <= 3; seed++) {
		CHECK_SUB(run(seed));
	}
}

int main(void)
{
	return tap_run();
}
