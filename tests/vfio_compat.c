// SPDX-License-Identifier: GPL-2.0
/*
 * The VFIO type1 container on /dev/iommu: IOMMU_VFIO_IOAS, then the
 * container ioctls of <linux/vfio.h> used the way a type1 user does
 * (CHECK_EXTENSION, SET_IOMMU, GET_INFO and its capability chain,
 * MAP_DMA, UNMAP_DMA), each mapping checked through a mock domain or an
 * access, and every error.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include "util.h"

/* The IOVA where the tests map: inside the mock aperture. */
#define IOVA ((__u64)MOCK_APERTURE_START + (1UL << 20))

static int vfio_ioas(int fd, __u16 op, __u32 *ioas_id)
{
	struct iommu_vfio_ioas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id ? *ioas_id : 0,
		.op = op,
	};
	int rc = ioctl(fd, IOMMU_VFIO_IOAS, &cmd);

	if (!rc && ioas_id)
		*ioas_id = cmd.ioas_id;
	return rc;
}

/* A fresh /dev/iommu with a fresh IOAS as its compat IOAS. */
static int compat_open(__u32 *ioas_id)
{
	__u32 id;
	int fd = dev_iommu_open();

	if (fd < 0)
		return -1;
	if (ioas_alloc(fd, &id) || vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &id)) {
		close(fd);
		return -1;
	}
	if (ioas_id)
		*ioas_id = id;
	return fd;
}

/*
 * A container as a type1 user has one: a compat IOAS, optionally a mock
 * device attached to it, SET_IOMMU done, and a buffer of @len bytes.
 */
struct container {
	int fd;
	__u32 ioas, stdev, hwpt;
	unsigned char *buf;
	size_t len;
};

static void container_open(struct container *c, unsigned long type,
			   size_t len, bool with_device)
{
	memset(c, 0, sizeof(*c));
	c->len = len;
	c->buf = buf_alloc(len);
	CHECK(c->buf);
	c->fd = compat_open(&c->ioas);
	CHECK(c->fd >= 0);
	if (with_device)
		CHECK_OK(mock_domain(c->fd, c->ioas, &c->stdev, &c->hwpt,
				     NULL));
	CHECK_OK(ioctl(c->fd, VFIO_SET_IOMMU, type));
}

static void container_close(struct container *c)
{
	close(c->fd);
	buf_free(c->buf, c->len);
}

static int map_dma(int fd, void *buf, __u64 size, __u64 iova, __u32 flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)buf,
		.iova = iova,
		.size = size,
	};

	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &map);
}

#define MAP_DMA_RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* UNMAP_DMA; *unmapped (may be NULL) gets the size the kernel returned. */
static int unmap_dma(int fd, __u64 iova, __u64 size, __u32 flags,
		     __u64 *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int rc = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

	if (!rc && unmapped)
		*unmapped = unmap.size;
	return rc;
}

TEST(api_version_and_unknown_requests)
{
	char arg[64] = { 0 };
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	CHECK(ioctl(fd, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
	/* Dirty tracking has its own interface; group ioctls are no container's. */
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_DIRTY_PAGES, arg), ENOTTY);
	CHECK_ERRNO(ioctl(fd, VFIO_GROUP_GET_STATUS, arg), ENOTTY);
	CHECK_ERRNO(ioctl(fd, _IO(VFIO_TYPE, VFIO_BASE + 18), arg), ENOTTY);
	/* Only the exact request values: no size or direction bits. */
	CHECK_ERRNO(ioctl(fd, _IOR(VFIO_TYPE, VFIO_BASE + 0, int), arg),
		    ENOTTY);
	close(fd);
}

TEST(vfio_ioas_get_set_clear)
{
	struct iommu_vfio_ioas cmd;
	__u32 ioas, ioas2, got;
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got), ENODEV);
	got = BAD_ID;
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &got), ENOENT);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas));
	got = 0;
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got));
	CHECK(got == ioas);
	/* A failed SET leaves the compat IOAS as it was. */
	got = BAD_ID;
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &got), ENOENT);
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got));
	CHECK(got == ioas);
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas2));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got));
	CHECK(got == ioas2);
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got), ENODEV);
	/* Clearing twice is fine. */
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_CLEAR, NULL));

	/* Unknown op, __reserved, short size. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.op = 3;
	CHECK_ERRNO(ioctl(fd, IOMMU_VFIO_IOAS, &cmd), EOPNOTSUPP);
	cmd.op = IOMMU_VFIO_IOAS_SET;
	cmd.ioas_id = ioas;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_VFIO_IOAS, &cmd), EOPNOTSUPP);
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got), ENODEV);
	cmd.__reserved = 0;
	cmd.size = offsetof(struct iommu_vfio_ioas, __reserved);
	CHECK_ERRNO(ioctl(fd, IOMMU_VFIO_IOAS, &cmd), EINVAL);
	CHECK_ERRNO(ioctl(fd, IOMMU_VFIO_IOAS, NULL), EFAULT);
	close(fd);
}

TEST(vfio_ioas_destroyed_is_forgotten)
{
	__u32 ioas, ioas2, got;
	int fd = compat_open(&ioas);

	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas2));
	/* Destroying another IOAS changes nothing. */
	CHECK_OK(iommu_destroy(fd, ioas2));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got));
	CHECK(got == ioas);
	CHECK_OK(iommu_destroy(fd, ioas));
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got), ENODEV);
	CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), ENODEV);
	close(fd);
}

TEST(vfio_ioas_held_ioas_stays)
{
	__u32 ioas, stdev, hwpt, got;
	int fd = compat_open(&ioas);

	CHECK(fd >= 0);
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got));
	CHECK(got == ioas);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	CHECK_ERRNO(vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &got), ENODEV);
	close(fd);
}

TEST(check_extension)
{
	static const struct {
		unsigned long ext;
		int want;
	} exts[] = {
		{ VFIO_TYPE1_IOMMU, 1 },
		{ VFIO_TYPE1v2_IOMMU, 1 },
		{ VFIO_UNMAP_ALL, 1 },
		{ VFIO_SPAPR_TCE_IOMMU, 0 },
		{ VFIO_EEH, 0 },
		{ VFIO_TYPE1_NESTING_IOMMU, 0 },
		{ VFIO_SPAPR_TCE_v2_IOMMU, 0 },
		{ VFIO_NOIOMMU_IOMMU, 0 },
		{ VFIO_UPDATE_VADDR, 0 },
		{ 0, 0 },
		{ 1000, 0 },
	};
	__u32 ioas, stdev, stdev2;
	unsigned int i;
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	/* The same answers with and without a compat IOAS. */
	for (i = 0; i < ARRAY_SIZE(exts); i++) {
		int r = ioctl(fd, VFIO_CHECK_EXTENSION, exts[i].ext);

		if (r != exts[i].want)
			tap_diag("extension %lu: %d, want %d", exts[i].ext, r,
				 exts[i].want);
		CHECK(r == exts[i].want);
	}
	CHECK_ERRNO(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU), ENODEV);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas));
	for (i = 0; i < ARRAY_SIZE(exts); i++)
		CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, exts[i].ext) ==
		      exts[i].want);
	/* No domain: nothing fails to enforce coherency. */
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) == 1);
	/* The mock domain does not enforce it. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) == 0);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) == 1);
	/* A domain made for a device that can enforce it does. */
	CHECK_OK(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_ENFORCE_CC,
				   &stdev, NULL, NULL));
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) == 1);
	/* One that does not, beside it, makes the answer 0. */
	CHECK_OK(mock_domain(fd, ioas, &stdev2, NULL, NULL));
	CHECK(ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) == 0);
	CHECK_OK(iommu_destroy(fd, stdev2));
	CHECK_OK(iommu_destroy(fd, stdev));
	close(fd);
}

TEST(set_iommu)
{
	static const unsigned long bad[] = {
		0, VFIO_SPAPR_TCE_IOMMU, VFIO_DMA_CC_IOMMU,
		VFIO_TYPE1_NESTING_IOMMU, VFIO_NOIOMMU_IOMMU, 1000,
	};
	__u32 ioas, ioas2;
	__u64 val;
	unsigned int i;
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	/* The type is checked first, then the compat IOAS. */
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, bad[i]), EINVAL);
	CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), ENODEV);
	CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), ENODEV);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, bad[i]), EINVAL);

	/* v2 keeps large pages ... */
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 1);
	/* ... type1 turns them off, on the compat IOAS only. */
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 0);
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas2, &val));
	CHECK(val == 1);
	/* Again: nothing to do. */
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	close(fd);
}

TEST(set_iommu_type1_refused_with_domain_and_mappings)
{
	size_t len = 4 * PAGE_SIZE;
	void *buf = buf_alloc(len);
	__u32 ioas, stdev;
	__u64 val;
	int fd = compat_open(&ioas);

	CHECK(buf && fd >= 0);
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_OK(map_dma(fd, buf, len, IOVA, MAP_DMA_RW));
	/* The domain may hold large IOPTEs already. */
	CHECK_ERRNO(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), EINVAL);
	CHECK_OK(option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 1);
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	/* With the domain gone, type1 is fine. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	close(fd);
	buf_free(buf, len);
}

/* The GET_INFO buffer: the info, DMA_AVAIL, IOVA_RANGE with room for 8. */
#define INFO_BUF 512
#define SENTINEL 0xa5

struct info_view {
	struct vfio_iommu_type1_info *info;
	struct vfio_iommu_type1_info_dma_avail *dma;
	struct vfio_iommu_type1_info_cap_iova_range *iova;
};

/*
 * GET_INFO with @argsz into @buf (prefilled with SENTINEL): walk the
 * capability chain from cap_offset the way a VFIO user does, checking
 * each capability lies inside argsz, and find the two the kernel gives.
 */
static void get_info_walk(int fd, unsigned char *buf, __u32 argsz,
			  struct info_view *v)
{
	struct vfio_info_cap_header *hdr;
	__u32 off;
	int n = 0;

	memset(buf, SENTINEL, INFO_BUF);
	memset(v, 0, sizeof(*v));
	v->info = (void *)buf;
	v->info->argsz = argsz;
	CHECK_OK(ioctl(fd, VFIO_IOMMU_GET_INFO, buf));
	CHECK(v->info->flags ==
	      (VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS));
	/* cap_offset is only there when argsz covers it. */
	off = argsz >= sizeof(*v->info) ? v->info->cap_offset : 0;
	for (; off; off = hdr->next) {
		CHECK(off >= sizeof(*v->info) && off % 8 == 0);
		CHECK(off + sizeof(*hdr) <= argsz);
		CHECK(++n <= 2);
		hdr = (void *)(buf + off);
		CHECK(hdr->version == 1);
		if (hdr->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			v->dma = (void *)hdr;
			CHECK(off + sizeof(*v->dma) <= argsz);
		} else {
			CHECK(hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
			v->iova = (void *)hdr;
			CHECK(off + sizeof(*v->iova) +
			      v->iova->nr_iovas *
			      sizeof(v->iova->iova_ranges[0]) <= argsz);
		}
	}
}

/* Nothing at or after @from in @buf was written. */
static bool untouched_from(const unsigned char *buf, size_t from)
{
	size_t i;

	for (i = from; i < INFO_BUF; i++)
		if (buf[i] != SENTINEL)
			return false;
	return true;
}

TEST(get_info_cap_chain)
{
	unsigned char *buf = malloc(INFO_BUF);
	struct info_view v;
	__u32 ioas;
	int fd = compat_open(&ioas);

	CHECK(buf && fd >= 0);
	CHECK_SUB(get_info_walk(fd, buf, INFO_BUF, &v));
	/* Info 24 bytes, DMA_AVAIL 16 (padded), IOVA_RANGE 16 + 16 * 1. */
	CHECK(v.info->argsz == 72);
	CHECK(v.info->cap_offset == sizeof(*v.info));
	CHECK(v.info->iova_pgsizes == (__u64)~(PAGE_SIZE - 1));
	CHECK(v.dma && v.iova);
	CHECK((unsigned char *)v.dma - buf == 24);
	CHECK(v.dma->header.next == 40);
	CHECK(v.dma->avail == UINT32_MAX);
	CHECK((unsigned char *)v.iova - buf == 40);
	CHECK(v.iova->header.next == 0);
	CHECK(v.iova->nr_iovas == 1);
	CHECK(v.iova->iova_ranges[0].start == 0);
	CHECK(v.iova->iova_ranges[0].end == UINT64_MAX);
	CHECK(untouched_from(buf, 72));

	/* A reservation splits the range in two. */
	CHECK_OK(add_reserved(fd, ioas, 1UL << 30, 1UL << 20));
	CHECK_SUB(get_info_walk(fd, buf, INFO_BUF, &v));
	CHECK(v.info->argsz == 88 && v.iova);
	CHECK(v.iova->nr_iovas == 2);
	CHECK(v.iova->iova_ranges[0].start == 0);
	CHECK(v.iova->iova_ranges[0].end == (1UL << 30) - 1);
	CHECK(v.iova->iova_ranges[1].start == (1UL << 30) + (1UL << 20));
	CHECK(v.iova->iova_ranges[1].end == UINT64_MAX);
	CHECK(untouched_from(buf, 88));
	close(fd);
	free(buf);
}

TEST(get_info_short_buffers)
{
	unsigned char *buf = malloc(INFO_BUF);
	struct vfio_iommu_type1_info *info = (void *)buf;
	struct vfio_iommu_type1_info_dma_avail *dma = (void *)(buf + 24);
	struct info_view v;
	int fd = compat_open(NULL);

	CHECK(buf && fd >= 0);
	/* Only argsz bytes are written; argsz returns the full size. */
	CHECK_SUB(get_info_walk(fd, buf, 16, &v));
	CHECK(info->argsz == 72);
	CHECK(info->iova_pgsizes == (__u64)~(PAGE_SIZE - 1));
	CHECK(untouched_from(buf, 16));
	CHECK_SUB(get_info_walk(fd, buf, 24, &v));
	CHECK(info->argsz == 72 && info->cap_offset == 0);
	CHECK(untouched_from(buf, 24));
	/* Room for DMA_AVAIL alone: written, but no chain to it. */
	CHECK_SUB(get_info_walk(fd, buf, 40, &v));
	CHECK(info->argsz == 72 && info->cap_offset == 0);
	CHECK(dma->header.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	CHECK(dma->avail == UINT32_MAX);
	CHECK(untouched_from(buf, 40));
	/* One byte short of everything: IOVA_RANGE is not written. */
	CHECK_SUB(get_info_walk(fd, buf, 71, &v));
	CHECK(info->argsz == 72 && info->cap_offset == 0);
	CHECK(dma->header.next == 40);
	CHECK(untouched_from(buf, 40));
	CHECK_SUB(get_info_walk(fd, buf, 72, &v));
	CHECK(info->argsz == 72 && info->cap_offset == 24 && v.iova);
	CHECK(untouched_from(buf, 72));
	close(fd);
	free(buf);
}

TEST(get_info_errors)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_type1_info *edge;
	unsigned char *two;
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_GET_INFO, &info), ENODEV);
	close(fd);
	fd = compat_open(NULL);
	CHECK(fd >= 0);
	info.argsz = 15;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_GET_INFO, &info), EINVAL);
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_GET_INFO, NULL), EFAULT);
	/* An argsz past the end of the memory: the capabilities fault. */
	two = mmap(NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(two != MAP_FAILED);
	CHECK_OK(munmap(two + PAGE_SIZE, PAGE_SIZE));
	edge = (void *)(two + PAGE_SIZE - sizeof(*edge));
	edge->argsz = 4096;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_GET_INFO, edge), EFAULT);
	munmap(two, PAGE_SIZE);
	close(fd);
}

TEST(get_info_with_mock_domain)
{
	unsigned char *buf = malloc(INFO_BUF);
	struct info_view v;
	__u32 ioas, stdev;
	int fd = compat_open(&ioas);

	CHECK(buf && fd >= 0);
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_SUB(get_info_walk(fd, buf, INFO_BUF, &v));
	/* The mock's half pages count as CPU pages. */
	CHECK(v.info->iova_pgsizes == PAGE_SIZE);
	CHECK(v.iova && v.iova->nr_iovas == 1);
	CHECK(v.iova->iova_ranges[0].start == MOCK_APERTURE_START);
	CHECK(v.iova->iova_ranges[0].end == MOCK_APERTURE_LAST);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_SUB(get_info_walk(fd, buf, INFO_BUF, &v));
	CHECK(v.iova && v.iova->nr_iovas == 1);
	CHECK(v.iova->iova_ranges[0].end == UINT64_MAX);
	close(fd);
	free(buf);
}

/* Read @len bytes at @iova of @ioas through an access; compare with @want. */
static void expect_iova_holds(int fd, __u32 ioas, __u64 iova,
			      const void *want, size_t len)
{
	void *got = malloc(len);
	int access;

	CHECK(got);
	CHECK_OK(create_access(fd, ioas, 0, &access));
	memset(got, 0, len);
	CHECK_OK(access_rw(fd, access, iova, got, len, 0));
	close(access);
	CHECK(!memcmp(got, want, len));
	free(got);
}

TEST(map_dma_reaches_domain_and_accesses)
{
	struct container c;
	__u64 unmapped;

	CHECK_SUB(container_open(&c, VFIO_TYPE1v2_IOMMU, 8 * PAGE_SIZE,
				 true));
	CHECK(ioctl(c.fd, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
	CHECK(ioctl(c.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);
	CHECK_OK(map_dma(c.fd, c.buf, c.len, IOVA, MAP_DMA_RW));
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA, c.buf, c.len));
	CHECK_OK(check_refs(c.fd, c.buf, c.len, 1));
	CHECK_SUB(expect_iova_holds(c.fd, c.ioas, IOVA, c.buf, c.len));
	/* A second device gets the mapping too. */
	__u32 stdev2, hwpt2;
	CHECK_OK(mock_domain(c.fd, c.ioas, &stdev2, &hwpt2, NULL));
	CHECK_OK(check_map(c.fd, hwpt2, IOVA, c.buf, c.len));
	CHECK_OK(unmap_dma(c.fd, IOVA, c.len, 0, &unmapped));
	CHECK(unmapped == c.len);
	CHECK_OK(check_refs(c.fd, c.buf, c.len, 0));
	CHECK_ERRNO(check_map(c.fd, c.hwpt, IOVA, c.buf, PAGE_SIZE), EINVAL);
	CHECK_OK(iommu_destroy(c.fd, stdev2));
	CHECK_OK(iommu_destroy(c.fd, c.stdev));
	container_close(&c);
}

TEST(map_dma_read_only_and_no_device)
{
	size_t len = 2 * PAGE_SIZE;
	unsigned char *buf = buf_alloc(len);
	__u32 ioas;
	__u64 unmapped;
	int fd = compat_open(&ioas);

	CHECK(buf && fd >= 0);
	/* No domain: the mapping is there for accesses. */
	CHECK_OK(map_dma(fd, buf, PAGE_SIZE, 0x100000, VFIO_DMA_MAP_FLAG_READ));
	CHECK_SUB(expect_iova_holds(fd, ioas, 0x100000, buf, PAGE_SIZE));
	/* As upstream: neither READ nor WRITE maps, for nothing to use. */
	CHECK_OK(map_dma(fd, buf + PAGE_SIZE, PAGE_SIZE, 0x200000, 0));
	CHECK_OK(unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	CHECK(unmapped == len);
	close(fd);
	buf_free(buf, len);
}

TEST(map_dma_errors)
{
	struct vfio_iommu_type1_dma_map map;
	size_t len = 4 * PAGE_SIZE;
	unsigned char *buf = buf_alloc(len);
	void *hole = unmapped_va(len);
	__u32 ioas, stdev;
	int fd = dev_iommu_open();

	CHECK(buf && hole && fd >= 0);
	/* argsz and flags are checked before the compat IOAS. */
	memset(&map, 0, sizeof(map));
	map.argsz = sizeof(map) - 1;
	map.flags = MAP_DMA_RW;
	map.vaddr = (uintptr_t)buf;
	map.iova = IOVA;
	map.size = PAGE_SIZE;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, &map), EINVAL);
	map.argsz = sizeof(map);
	map.flags = VFIO_DMA_MAP_FLAG_VADDR | MAP_DMA_RW;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, &map), EINVAL);
	map.flags = 1U << 31 | MAP_DMA_RW;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, &map), EINVAL);
	map.flags = MAP_DMA_RW;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, &map), ENODEV);
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_MAP_DMA, NULL), EFAULT);

	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas));
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_ERRNO(map_dma(fd, buf, 0, IOVA, MAP_DMA_RW), EINVAL);
	/* Not aligned to the mock's pages: IOVA, size, VA. */
	CHECK_ERRNO(map_dma(fd, buf, PAGE_SIZE, IOVA + 512, MAP_DMA_RW),
		    EINVAL);
	CHECK_ERRNO(map_dma(fd, buf, 512, IOVA, MAP_DMA_RW), EINVAL);
	CHECK_ERRNO(map_dma(fd, buf + 512, PAGE_SIZE, IOVA, MAP_DMA_RW),
		    EINVAL);
	/* Outside the aperture: reserved. */
	CHECK_ERRNO(map_dma(fd, buf, PAGE_SIZE, MOCK_APERTURE_START - PAGE_SIZE,
			    MAP_DMA_RW), EINVAL);
	CHECK_ERRNO(map_dma(fd, buf, PAGE_SIZE, UINT64_MAX, MAP_DMA_RW),
		    EOVERFLOW);
	CHECK_ERRNO(map_dma(fd, buf, UINT64_MAX, IOVA, MAP_DMA_RW), EOVERFLOW);
	/* Memory that is not there, with a domain to pin it for. */
	CHECK_ERRNO(map_dma(fd, hole, len, IOVA, MAP_DMA_RW), EFAULT);
	/* Fixed IOVA: an overlap is refused, whatever the VA. */
	CHECK_OK(map_dma(fd, buf, 2 * PAGE_SIZE, IOVA, MAP_DMA_RW));
	CHECK_ERRNO(map_dma(fd, buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE,
			    IOVA + PAGE_SIZE, MAP_DMA_RW), EEXIST);
	CHECK_OK(map_dma(fd, buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE,
			 IOVA + 2 * PAGE_SIZE, MAP_DMA_RW));
	CHECK_OK(check_refs(fd, buf, len, 1));
	close(fd);
	buf_free(buf, len);
}

TEST(unmap_dma_errors)
{
	struct vfio_iommu_type1_dma_unmap unmap;
	size_t len = 2 * PAGE_SIZE;
	unsigned char *buf = buf_alloc(len);
	__u64 unmapped = 1;
	__u32 ioas;
	int fd = dev_iommu_open();

	CHECK(buf && fd >= 0);
	memset(&unmap, 0, sizeof(unmap));
	unmap.argsz = sizeof(unmap) - 1;
	unmap.iova = IOVA;
	unmap.size = PAGE_SIZE;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap), EINVAL);
	unmap.argsz = sizeof(unmap);
	unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap), EINVAL);
	unmap.flags = VFIO_DMA_UNMAP_FLAG_VADDR;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap), EINVAL);
	unmap.flags = 1U << 3;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap), EINVAL);
	unmap.flags = 0;
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap), ENODEV);
	CHECK_ERRNO(unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL), ENODEV);
	CHECK_ERRNO(ioctl(fd, VFIO_IOMMU_UNMAP_DMA, NULL), EFAULT);

	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas));
	CHECK_OK(map_dma(fd, buf, len, IOVA, MAP_DMA_RW));
	CHECK_ERRNO(unmap_dma(fd, IOVA, len, VFIO_DMA_UNMAP_FLAG_ALL, NULL),
		    EINVAL);
	CHECK_ERRNO(unmap_dma(fd, 0, len, VFIO_DMA_UNMAP_FLAG_ALL, NULL),
		    EINVAL);
	CHECK_ERRNO(unmap_dma(fd, IOVA, 0, 0, NULL), EINVAL);
	CHECK_ERRNO(unmap_dma(fd, IOVA, UINT64_MAX, 0, NULL), EOVERFLOW);
	/* Nothing was unmapped by the failures. */
	CHECK_OK(check_refs(fd, buf, len, 0));
	CHECK_SUB(expect_iova_holds(fd, ioas, IOVA, buf, len));
	/* An empty range: success, 0 bytes. */
	CHECK_OK(unmap_dma(fd, IOVA + len, PAGE_SIZE, 0, &unmapped));
	CHECK(unmapped == 0);
	CHECK_OK(unmap_dma(fd, IOVA, len, 0, &unmapped));
	CHECK(unmapped == len);
	unmapped = 1;
	CHECK_OK(unmap_dma(fd, IOVA, len, 0, &unmapped));
	CHECK(unmapped == 0);
	unmapped = 1;
	CHECK_OK(unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	CHECK(unmapped == 0);
	close(fd);
	buf_free(buf, len);
}

TEST(unmap_dma_type1v2_whole_mappings_only)
{
	struct container c;
	__u64 unmapped;

	CHECK_SUB(container_open(&c, VFIO_TYPE1v2_IOMMU, 4 * PAGE_SIZE,
				 true));
	CHECK_OK(map_dma(c.fd, c.buf, 2 * PAGE_SIZE, IOVA, MAP_DMA_RW));
	CHECK_OK(map_dma(c.fd, c.buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE,
			 IOVA + 2 * PAGE_SIZE, MAP_DMA_RW));
	/* Part of a mapping, or a range that ends inside one. */
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = IOVA + PAGE_SIZE,
		.size = PAGE_SIZE,
	};
	CHECK_ERRNO(ioctl(c.fd, VFIO_IOMMU_UNMAP_DMA, &unmap), ENOENT);
	CHECK(unmap.size == 0);		/* as upstream: written back */
	CHECK_ERRNO(unmap_dma(c.fd, IOVA, 3 * PAGE_SIZE, 0, NULL), ENOENT);
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA, c.buf, c.len));
	CHECK_OK(check_refs(c.fd, c.buf, c.len, 1));
	/* Whole mappings, with room around them. */
	CHECK_OK(unmap_dma(c.fd, IOVA - PAGE_SIZE, 3 * PAGE_SIZE, 0,
			   &unmapped));
	CHECK(unmapped == 2 * PAGE_SIZE);
	CHECK_OK(check_refs(c.fd, c.buf, 2 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(c.fd, c.buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE, 1));
	CHECK_OK(unmap_dma(c.fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	CHECK(unmapped == 2 * PAGE_SIZE);
	CHECK_OK(check_refs(c.fd, c.buf, c.len, 0));
	container_close(&c);
}

TEST(unmap_dma_type1_cuts_mappings)
{
	struct container c;
	__u64 unmapped;

	CHECK_SUB(container_open(&c, VFIO_TYPE1_IOMMU, 8 * PAGE_SIZE, true));
	CHECK_OK(map_dma(c.fd, c.buf, c.len, IOVA, MAP_DMA_RW));
	/* A page out of the middle. */
	CHECK_OK(unmap_dma(c.fd, IOVA + 2 * PAGE_SIZE, PAGE_SIZE, 0,
			   &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(check_refs(c.fd, c.buf, 2 * PAGE_SIZE, 1));
	CHECK_OK(check_refs(c.fd, c.buf + 2 * PAGE_SIZE, PAGE_SIZE, 0));
	CHECK_OK(check_refs(c.fd, c.buf + 3 * PAGE_SIZE, 5 * PAGE_SIZE, 1));
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA, c.buf, 2 * PAGE_SIZE));
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA + 3 * PAGE_SIZE,
			   c.buf + 3 * PAGE_SIZE, 5 * PAGE_SIZE));
	CHECK_ERRNO(check_map(c.fd, c.hwpt, IOVA + 2 * PAGE_SIZE,
			      c.buf + 2 * PAGE_SIZE, PAGE_SIZE), EINVAL);
	CHECK_SUB(expect_iova_holds(c.fd, c.ioas, IOVA + 3 * PAGE_SIZE,
				    c.buf + 3 * PAGE_SIZE, 5 * PAGE_SIZE));
	/* The hole takes a new mapping. */
	CHECK_OK(map_dma(c.fd, c.buf + 2 * PAGE_SIZE, PAGE_SIZE,
			 IOVA + 2 * PAGE_SIZE, MAP_DMA_RW));
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA, c.buf, c.len));

	/* Edges not on a CPU page: refused, nothing unmapped. */
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = IOVA + PAGE_SIZE / 2,
		.size = PAGE_SIZE,
	};
	CHECK_ERRNO(ioctl(c.fd, VFIO_IOMMU_UNMAP_DMA, &unmap), EINVAL);
	CHECK(unmap.size == PAGE_SIZE);	/* a failed cut writes nothing */
	CHECK_ERRNO(unmap_dma(c.fd, IOVA, PAGE_SIZE / 2, 0, NULL), EINVAL);
	CHECK_OK(check_refs(c.fd, c.buf, c.len, 1));

	/* A range over two mappings, cut at both ends. */
	CHECK_OK(unmap_dma(c.fd, IOVA + PAGE_SIZE, 5 * PAGE_SIZE, 0,
			   &unmapped));
	CHECK(unmapped == 5 * PAGE_SIZE);
	CHECK_OK(check_refs(c.fd, c.buf, PAGE_SIZE, 1));
	CHECK_OK(check_refs(c.fd, c.buf + PAGE_SIZE, 5 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(c.fd, c.buf + 6 * PAGE_SIZE, 2 * PAGE_SIZE, 1));
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA, c.buf, PAGE_SIZE));
	CHECK_OK(check_map(c.fd, c.hwpt, IOVA + 6 * PAGE_SIZE,
			   c.buf + 6 * PAGE_SIZE, 2 * PAGE_SIZE));
	/* From IOVA 0: only the range's end needs a cut (none here). */
	CHECK_OK(unmap_dma(c.fd, 0, IOVA + PAGE_SIZE, 0, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(unmap_dma(c.fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	CHECK(unmapped == 2 * PAGE_SIZE);
	CHECK_OK(check_refs(c.fd, c.buf, c.len, 0));
	CHECK_OK(iommu_destroy(c.fd, c.stdev));
	container_close(&c);
}

TEST(unmap_dma_type1_refuses_cut_under_access)
{
	struct container c;
	__u32 pages_id;
	__u64 unmapped;
	int access;

	CHECK_SUB(container_open(&c, VFIO_TYPE1_IOMMU, 4 * PAGE_SIZE,
				 false));
	CHECK_OK(map_dma(c.fd, c.buf, c.len, IOVA, MAP_DMA_RW));
	CHECK_OK(create_access(c.fd, c.ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &access));
	CHECK_OK(access_pages(c.fd, access, IOVA + 3 * PAGE_SIZE,
			      c.buf + 3 * PAGE_SIZE, PAGE_SIZE, 0, &pages_id));
	/* The mapping holds pinned pages of an access: no cut. */
	CHECK_ERRNO(unmap_dma(c.fd, IOVA, PAGE_SIZE, 0, NULL), EINVAL);
	CHECK_SUB(expect_iova_holds(c.fd, c.ioas, IOVA, c.buf, c.len));
	CHECK_OK(destroy_access_pages(c.fd, access, pages_id));
	CHECK_OK(unmap_dma(c.fd, IOVA, PAGE_SIZE, 0, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	/* Pinned again: the whole remaining mapping still unmaps. */
	CHECK_OK(access_pages(c.fd, access, IOVA + 3 * PAGE_SIZE,
			      c.buf + 3 * PAGE_SIZE, PAGE_SIZE, 0, &pages_id));
	CHECK_OK(unmap_dma(c.fd, IOVA + PAGE_SIZE, 3 * PAGE_SIZE, 0,
			   &unmapped));
	CHECK(unmapped == 3 * PAGE_SIZE);
	CHECK_ERRNO(destroy_access_pages(c.fd, access, pages_id), ENOENT);
	close(access);
	container_close(&c);
}

TEST(huge_pages_off_gives_type1_unmap)
{
	struct container c;
	__u64 unmapped;

	CHECK_SUB(container_open(&c, VFIO_TYPE1v2_IOMMU, 4 * PAGE_SIZE,
				 false));
	CHECK_OK(map_dma(c.fd, c.buf, c.len, IOVA, MAP_DMA_RW));
	CHECK_ERRNO(unmap_dma(c.fd, IOVA, PAGE_SIZE, 0, NULL), ENOENT);
	/* Cutting follows the IOAS's large-page setting, as upstream. */
	CHECK_OK(option_set(c.fd, IOMMU_OPTION_HUGE_PAGES, c.ioas, 0));
	CHECK_OK(unmap_dma(c.fd, IOVA, PAGE_SIZE, 0, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(option_set(c.fd, IOMMU_OPTION_HUGE_PAGES, c.ioas, 1));
	CHECK_ERRNO(unmap_dma(c.fd, IOVA + PAGE_SIZE, PAGE_SIZE, 0, NULL),
		    ENOENT);
	container_close(&c);
}

TEST(ioas_unmap_still_enoent_when_empty)
{
	__u32 ioas;
	int fd = compat_open(&ioas);

	CHECK(fd >= 0);
	/* The IOAS command keeps its own rule. */
	CHECK_ERRNO(ioas_unmap(fd, ioas, IOVA, PAGE_SIZE, NULL), ENOENT);
	close(fd);
}

#define STEP(expr)                                                      \
	do {                                                            \
		if ((expr) != 0)                                        \
			return __LINE__;                                \
	} while (0)

/* A type1 user's session; 0 when all of it worked, else the step's line. */
static int type1_session(int fd, unsigned char *buf, size_t len)
{
	unsigned char info[INFO_BUF];
	__u64 unmapped;
	__u32 ioas, stdev;

	STEP(ioas_alloc(fd, &ioas));
	STEP(vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas));
	STEP(mock_domain(fd, ioas, &stdev, NULL, NULL));
	STEP(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	memset(info, 0, sizeof(info));
	((struct vfio_iommu_type1_info *)info)->argsz = sizeof(info);
	STEP(ioctl(fd, VFIO_IOMMU_GET_INFO, info));
	STEP(map_dma(fd, buf, len, IOVA, MAP_DMA_RW));
	STEP(unmap_dma(fd, IOVA + PAGE_SIZE, PAGE_SIZE, 0, &unmapped));
	STEP(unmap_dma(fd, IOVA + 3 * PAGE_SIZE, PAGE_SIZE, 0, &unmapped));
	STEP(map_dma(fd, buf + PAGE_SIZE, PAGE_SIZE, IOVA + PAGE_SIZE,
		     MAP_DMA_RW));
	STEP(unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	STEP(unmapped != len - PAGE_SIZE);
	return 0;
}

/*
 * A 2 MiB hugetlb page is one run of pages, pinned as one whole chunk
 * with a single count: a cut inside it must give the chunk per-page
 * counts, or the two parts cannot each let go of their pages.
 */
TEST(unmap_dma_type1_cuts_inside_huge_page)
{
	size_t len = HUGEPAGE_SIZE;
	unsigned char *buf = buf_alloc_huge(len);
	__u32 ioas, stdev, hwpt;
	__u64 unmapped;
	int fd;

	if (!buf)
		SKIP("no hugetlb page");
	fd = compat_open(&ioas);
	CHECK(fd >= 0);
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	CHECK_OK(map_dma(fd, buf, len, IOVA, MAP_DMA_RW));
	CHECK_OK(unmap_dma(fd, IOVA + 5 * PAGE_SIZE, 3 * PAGE_SIZE, 0,
			   &unmapped));
	CHECK(unmapped == 3 * PAGE_SIZE);
	CHECK_OK(check_map(fd, hwpt, IOVA, buf, 5 * PAGE_SIZE));
	CHECK_OK(check_map(fd, hwpt, IOVA + 8 * PAGE_SIZE, buf + 8 * PAGE_SIZE,
			   len - 8 * PAGE_SIZE));
	CHECK_OK(unmap_dma(fd, IOVA, 5 * PAGE_SIZE, 0, &unmapped));
	CHECK(unmapped == 5 * PAGE_SIZE);
	CHECK_OK(unmap_dma(fd, IOVA + len - PAGE_SIZE, PAGE_SIZE, 0,
			   &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	CHECK(unmapped == len - 9 * PAGE_SIZE);
	CHECK_OK(iommu_destroy(fd, stdev));
	close(fd);
	CHECK(module_stat("pinned_pages") == 0);
	buf_free(buf, len);
}

TEST(every_failure_unwinds)
{
	size_t len = 8 * PAGE_SIZE;
	unsigned char *buf;
	int n, line, fd, chk, failures = 0;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	buf = buf_alloc(len);
	chk = dev_iommu_open();
	CHECK(buf && chk >= 0);
	for (n = 1; n < 1000; n++) {
		fd = dev_iommu_open();
		CHECK(fd >= 0);
		CHECK_OK(modfault_arm(n));
		line = type1_session(fd, buf, len);
		bool hit = modfault_fired();

		CHECK_OK(modfault_arm(0));
		close(fd);
		if (module_stat("objects") != 0 ||
		    module_stat("pinned_pages") != 0)
			tap_diag("failure point %d (line %d): not unwound", n,
				 line);
		CHECK(module_stat("objects") == 0);
		CHECK(module_stat("pinned_pages") == 0);
		CHECK_OK(check_refs(chk, buf, len, 0));
		if (!hit) {
			if (line)
				tap_diag("nothing injected, line %d failed",
					 line);
			CHECK(line == 0);
			break;
		}
		failures++;
	}
	tap_diag("%d injected failures, each unwound", failures);
	CHECK(failures > 5);
	close(chk);
	buf_free(buf, len);
}

/* ---- concurrency ---- */

#define RACE_SECONDS 2

struct race {
	int fd;
	__u32 ioas;
	unsigned char *buf;
	volatile bool stop;
	int errors;		/* unexpected results */
};

struct race_worker {
	struct race *r;
	unsigned int slot;
};

/* Map 8 pages of a slot, unmap them a page at a time from the middle out. */
static void *type1_worker(void *arg)
{
	struct race_worker *w = arg;
	struct race *r = w->r;
	__u64 base = IOVA + w->slot * 16 * PAGE_SIZE, unmapped;
	unsigned char *buf = r->buf + w->slot * 8 * PAGE_SIZE;
	static const unsigned int order[] = { 3, 4, 0, 7, 1, 6, 2, 5 };
	unsigned int i;

	while (!r->stop) {
		if (map_dma(r->fd, buf, 8 * PAGE_SIZE, base, MAP_DMA_RW)) {
			__atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
			break;
		}
		for (i = 0; i < ARRAY_SIZE(order); i++) {
			if (unmap_dma(r->fd, base + order[i] * PAGE_SIZE,
				      PAGE_SIZE, 0, &unmapped) ||
			    unmapped != PAGE_SIZE)
				__atomic_add_fetch(&r->errors, 1,
						   __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* Read-only users of the compat IOAS meanwhile. */
static void *info_worker(void *arg)
{
	struct race *r = arg;
	unsigned char info[INFO_BUF];
	__u32 got;

	while (!r->stop) {
		memset(info, 0, sizeof(info));
		((struct vfio_iommu_type1_info *)info)->argsz = sizeof(info);
		if (ioctl(r->fd, VFIO_IOMMU_GET_INFO, info) ||
		    ioctl(r->fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU) != 0 ||
		    vfio_ioas(r->fd, IOMMU_VFIO_IOAS_GET, &got) ||
		    got != r->ioas)
			__atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(type1_cuts_race_maps_and_info)
{
	pthread_t threads[3];
	struct race_worker w[2];
	struct race r = { 0 };
	__u32 stdev, hwpt;
	unsigned int i;

	r.buf = buf_alloc(16 * PAGE_SIZE);
	r.fd = compat_open(&r.ioas);
	CHECK(r.buf && r.fd >= 0);
	CHECK_OK(mock_domain(r.fd, r.ioas, &stdev, &hwpt, NULL));
	CHECK_OK(ioctl(r.fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	for (i = 0; i < 2; i++) {
		w[i].r = &r;
		w[i].slot = i;
		CHECK_OK(pthread_create(&threads[i], NULL, type1_worker, &w[i]));
	}
	CHECK_OK(pthread_create(&threads[2], NULL, info_worker, &r));
	sleep(RACE_SECONDS);
	r.stop = true;
	for (i = 0; i < 3; i++)
		CHECK_OK(pthread_join(threads[i], NULL));
	if (r.errors)
		tap_diag("%d unexpected results", r.errors);
	CHECK(r.errors == 0);
	CHECK_OK(check_refs(r.fd, r.buf, 16 * PAGE_SIZE, 0));
	CHECK_OK(iommu_destroy(r.fd, stdev));
	close(r.fd);
	buf_free(r.buf, 16 * PAGE_SIZE);
}

/* Make, set and destroy compat IOASes over and over. */
static void *compat_flipper(void *arg)
{
	struct race *r = arg;
	__u32 ioas;

	while (!r->stop) {
		if (ioas_alloc(r->fd, &ioas) ||
		    vfio_ioas(r->fd, IOMMU_VFIO_IOAS_SET, &ioas)) {
			__atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
			break;
		}
		/* EBUSY while a compat ioctl holds it: try again. */
		while (iommu_destroy(r->fd, ioas) && !r->stop)
			if (errno != EBUSY) {
				__atomic_add_fetch(&r->errors, 1,
						   __ATOMIC_RELAXED);
				return NULL;
			}
	}
	return NULL;
}

TEST(compat_ioas_destroyed_under_users)
{
	struct race r = { 0 };
	unsigned char info[INFO_BUF];
	pthread_t flipper;
	__u64 unmapped;
	int rc, ok = 0;

	r.buf = buf_alloc(PAGE_SIZE);
	r.fd = dev_iommu_open();
	CHECK(r.buf && r.fd >= 0);
	CHECK_OK(pthread_create(&flipper, NULL, compat_flipper, &r));
	for (time_t end = time(NULL) + RACE_SECONDS; time(NULL) < end;) {
		/* Each finds a live compat IOAS or none, never a dead one. */
		rc = map_dma(r.fd, r.buf, PAGE_SIZE, IOVA, MAP_DMA_RW);
		if (rc && errno != ENODEV && errno != EEXIST)
			r.errors++;
		rc = unmap_dma(r.fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped);
		if (rc && errno != ENODEV)
			r.errors++;
		memset(info, 0, sizeof(info));
		((struct vfio_iommu_type1_info *)info)->argsz = sizeof(info);
		rc = ioctl(r.fd, VFIO_IOMMU_GET_INFO, info);
		if (rc && errno != ENODEV)
			r.errors++;
		ok += !rc;
		rc = ioctl(r.fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
		if (rc && errno != ENODEV)
			r.errors++;
	}
	r.stop = true;
	CHECK_OK(pthread_join(flipper, NULL));
	if (r.errors)
		tap_diag("%d unexpected results", r.errors);
	CHECK(r.errors == 0);
	tap_diag("%d GET_INFO found a compat IOAS", ok);
	close(r.fd);
	CHECK(module_stat("objects") == 0);
	buf_free(r.buf, PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}
