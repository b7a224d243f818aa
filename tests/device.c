// SPDX-License-Identifier: GPL-2.0
/*
 * Devices and hardware page tables, with the mock device of the test
 * command: MOCK_DOMAIN, HWPT_ALLOC, attach/replace/detach rules, cache
 * coherency, GET_HW_INFO and the mock device's cache check.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <sys/ioctl.h>

#include "util.h"

#define IOVA (MOCK_APERTURE_START + (1UL << 20))

TEST(mock_domain_returns_ids)
{
	__u32 ioas, stdev = 0, hwpt = 0, idev = 0;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));
	CHECK(stdev && hwpt && idev);
	CHECK(stdev != hwpt && stdev != idev && hwpt != idev);
	CHECK(stdev != ioas && hwpt != ioas && idev != ioas);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(mock_domain_flags)
{
	__u32 ioas, stdev, hwpt, idev;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_ERRNO(mock_domain_flags(fd, ioas, 1u << 3, &stdev, &hwpt, &idev),
		    EINVAL);
	/* Bit 1 was MOCK_FLAGS_DEVICE_HUGE_IOVA: no longer a flag. */
	CHECK_ERRNO(mock_domain_flags(fd, ioas, 1u << 1, &stdev, &hwpt, &idev),
		    EINVAL);
	CHECK_ERRNO(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_PASID | 2,
				      &stdev, &hwpt, &idev), EINVAL);
	CHECK_ERRNO(mock_domain_flags(fd, ioas, 1u << 31, &stdev, &hwpt,
				      &idev), EINVAL);
	CHECK_ERRNO(mock_domain_flags(fd, BAD_ID, 0, &stdev, &hwpt, &idev),
		    ENOENT);
	CHECK_ERRNO(mock_domain(fd, BAD_ID, &stdev, &hwpt, &idev), ENOENT);
	/* No half-made device was left attached to the IOAS. */
	CHECK_OK(iommu_destroy(fd, ioas));

	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(mock_domain_flags(fd, ioas, 0, &stdev, &hwpt, &idev));
	CHECK(stdev && hwpt && idev);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &stdev, &hwpt, &idev));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_NO_DIRTY |
				   MOCK_FLAGS_DEVICE_PASID, &stdev, &hwpt,
				   &idev));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(device_object_not_destroyable)
{
	__u32 ioas, stdev, hwpt, idev;
	int fd;

	/* The device belongs to its (mock) driver until it unbinds. */
	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));
	CHECK_ERRNO(iommu_destroy(fd, idev), EBUSY);
	CHECK_OK(iommu_destroy(fd, stdev));
	/* Unbinding took the device object with it. */
	CHECK_ERRNO(iommu_destroy(fd, idev), ENOENT);
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(auto_hwpt_lifetime)
{
	__u32 ioas, stdev, hwpt, idev;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));
	/* In use by the device. */
	CHECK_ERRNO(iommu_destroy(fd, hwpt), EBUSY);
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);
	/* The automatic HWPT goes away with its last device. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_ERRNO(iommu_destroy(fd, hwpt), ENOENT);
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

struct destroyer {
	int fd;
	volatile __u32 idev, hwpt;
	volatile bool stop;
	int destroyed;		/* DESTROYs that succeeded: must stay 0 */
};

/* Keep trying to destroy the newest device and HWPT by id. */
static void *destroy_loop(void *arg)
{
	struct destroyer *d = arg;

	while (!d->stop) {
		/* EBUSY while bound, ENOENT after: never the user's. */
		d->destroyed += !iommu_destroy(d->fd, d->idev);
		d->destroyed += !iommu_destroy(d->fd, d->hwpt);
	}
	return NULL;
}

/* Keep the newest device busy with short ioctls, so unbind must wait. */
static void *hw_info_loop(void *arg)
{
	struct destroyer *d = arg;
	char data[64];
	__u32 len;

	while (!d->stop) {
		len = sizeof(data);
		get_hw_info(d->fd, d->idev, data, &len, NULL, NULL);
	}
	return NULL;
}

/*
 * A device's unbind (and its automatic HWPT's removal) racing a user's
 * IOMMU_DESTROY of the same ids, while short ioctls keep the device busy:
 * the objects go with their owner, never to the user's DESTROY (which
 * the old two-step removal let in, then used the freed object).
 */
TEST(unbind_races_destroy)
{
	struct destroyer d = { 0 };
	__u32 ioas, stdev, hwpt, idev;
	pthread_t th, th2;
	int i;

	d.fd = dev_iommu_open();
	CHECK(d.fd >= 0);
	CHECK_OK(ioas_alloc(d.fd, &ioas));
	CHECK(!pthread_create(&th, NULL, destroy_loop, &d));
	CHECK(!pthread_create(&th2, NULL, hw_info_loop, &d));
	for (i = 0; i < 3000; i++) {
		CHECK_OK(mock_domain(d.fd, ioas, &stdev, &hwpt, &idev));
		d.idev = idev;
		d.hwpt = hwpt;
		CHECK_OK(iommu_destroy(d.fd, stdev));
	}
	d.stop = true;
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	if (d.destroyed)
		tap_diag("IOMMU_DESTROY took %d objects from under unbind",
			 d.destroyed);
	CHECK(d.destroyed == 0);
	CHECK_OK(iommu_destroy(d.fd, ioas));
	close(d.fd);
}

struct hwpt_poker {
	int fd;
	volatile __u32 idev, hwpt;
	volatile bool stop;
};

/* Name the HWPT in ioctls, which hold it for a moment each (EINVAL). */
static void *poke_hwpt(void *arg)
{
	struct hwpt_poker *p = arg;
	__u32 out;

	while (!p->stop)
		hwpt_alloc(p->fd, p->idev, p->hwpt, 0, &out);
	return NULL;
}

/*
 * An automatic HWPT goes with its last device even while ioctls briefly
 * hold it: the IOAS it used is free again right after.
 */
TEST(auto_hwpt_goes_despite_short_users)
{
	struct hwpt_poker p = { 0 };
	__u32 ioas, stdev, hwpt, idev;
	pthread_t th;
	int i, lingered = 0;

	p.fd = dev_iommu_open();
	CHECK(p.fd >= 0);
	CHECK(!pthread_create(&th, NULL, poke_hwpt, &p));
	for (i = 0; i < 1000; i++) {
		CHECK_OK(ioas_alloc(p.fd, &ioas));
		CHECK_OK(mock_domain(p.fd, ioas, &stdev, &hwpt, &idev));
		p.idev = idev;
		p.hwpt = hwpt;
		CHECK_OK(iommu_destroy(p.fd, stdev));
		if (iommu_destroy(p.fd, ioas)) {
			lingered++;
			iommu_destroy(p.fd, hwpt);
			iommu_destroy(p.fd, ioas);
		}
	}
	p.stop = true;
	pthread_join(th, NULL);
	if (lingered)
		tap_diag("%d automatic HWPTs outlived their device", lingered);
	CHECK(lingered == 0);
	close(p.fd);
}

struct stuck_hw_info {
	int fd;
	__u32 idev;
	void *page;
};

static void *hw_info_into(void *arg)
{
	struct stuck_hw_info *h = arg;
	__u32 len = 64;

	get_hw_info(h->fd, h->idev, h->page, &len, NULL, NULL);
	return NULL;
}

/*
 * GET_HW_INFO whose output buffer is stuck in a page fault does not
 * hold the device: its unbind (here, destroying the mock device) goes
 * through at once instead of waiting for the fault.
 */
TEST(unbind_not_held_by_stuck_hw_info)
{
	struct stuck_hw_info h;
	struct uffd_stuck u;
	__u32 ioas, stdev, hwpt;
	struct timespec t0;

	h.fd = dev_iommu_open();
	CHECK(h.fd >= 0);
	CHECK_OK(uffd_stuck_page(&u));
	h.page = u.page;
	CHECK_OK(ioas_alloc(h.fd, &ioas));
	CHECK_OK(mock_domain(h.fd, ioas, &stdev, &hwpt, &h.idev));
	CHECK_OK(uffd_stuck_start(&u, hw_info_into, &h));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK(iommu_destroy(h.fd, stdev));
	tap_diag("unbind took %ld ms", ms_since(&t0));
	CHECK(ms_since(&t0) < 2000);

	CHECK_OK(uffd_stuck_release(&u));
	CHECK_OK(iommu_destroy(h.fd, ioas));
	close(h.fd);
}

struct stuck_call {
	int fd;
	__u32 id;
	void *page;
};

static void *iova_ranges_into(void *arg)
{
	struct stuck_call *c = arg;
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = c->id,
		.num_iovas = 4,
		.allowed_iovas = (uintptr_t)c->page,
	};

	ioctl(c->fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
	return NULL;
}

/*
 * IOAS_IOVA_RANGES whose output is stuck in a page fault holds no lock
 * of the IOAS: maps, unmaps and a device's attach and removal go on.
 */
TEST(iova_ranges_stuck_in_fault_blocks_nothing)
{
	__u32 stdev, hwpt, idev;
	struct uffd_stuck u;
	struct stuck_call c;
	struct timespec t0;
	char *buf;

	c.fd = dev_iommu_open();
	CHECK(c.fd >= 0);
	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	CHECK_OK(uffd_stuck_page(&u));
	c.page = u.page;
	CHECK_OK(ioas_alloc(c.fd, &c.id));
	CHECK_OK(uffd_stuck_start(&u, iova_ranges_into, &c));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK(mock_domain(c.fd, c.id, &stdev, &hwpt, &idev));
	CHECK_OK(ioas_map_fixed(c.fd, c.id, buf, PAGE_SIZE, 1UL << 24));
	CHECK_OK(ioas_unmap(c.fd, c.id, 1UL << 24, PAGE_SIZE, NULL));
	CHECK_OK(iommu_destroy(c.fd, stdev));
	tap_diag("attach, map, unmap, removal took %ld ms", ms_since(&t0));
	CHECK(ms_since(&t0) < 2000);

	CHECK_OK(uffd_stuck_release(&u));
	CHECK_OK(iommu_destroy(c.fd, c.id));
	close(c.fd);
	buf_free(buf, PAGE_SIZE);
}

static void *check_map_from(void *arg)
{
	struct stuck_call *c = arg;

	check_map(c->fd, c->id, 1UL << 24, c->page, PAGE_SIZE);
	return NULL;
}

/*
 * MD_CHECK_MAP stuck looking up its user page does not hold the HWPT:
 * the removal of the HWPT's last device goes through at once.
 */
TEST(check_map_stuck_in_fault_holds_no_hwpt)
{
	__u32 ioas, stdev, idev;
	struct uffd_stuck u;
	struct stuck_call c;
	struct timespec t0;

	c.fd = dev_iommu_open();
	CHECK(c.fd >= 0);
	CHECK_OK(uffd_stuck_page(&u));
	c.page = u.page;
	CHECK_OK(ioas_alloc(c.fd, &ioas));
	CHECK_OK(mock_domain(c.fd, ioas, &stdev, &c.id, &idev));
	CHECK_OK(uffd_stuck_start(&u, check_map_from, &c));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK(iommu_destroy(c.fd, stdev));
	tap_diag("removal took %ld ms", ms_since(&t0));
	CHECK(ms_since(&t0) < 2000);
	/* Its automatic HWPT went with it. */
	CHECK_OK(iommu_destroy(c.fd, ioas));

	CHECK_OK(uffd_stuck_release(&u));
	close(c.fd);
}

TEST(hwpt_alloc_paging)
{
	__u32 ioas, stdev, hwpt, idev, uhwpt, stdev2, hwpt2;
	void *buf;
	int fd;

	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE, IOVA));

	/* The mock's domains may be nesting parents, as upstream's. */
	CHECK_OK(hwpt_alloc(fd, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			    &uhwpt));
	CHECK_OK(iommu_destroy(fd, uhwpt));
	CHECK_OK(hwpt_alloc(fd, idev, ioas, 0, &uhwpt));
	CHECK(uhwpt && uhwpt != hwpt);
	/* A paging HWPT mirrors its IOAS, earlier maps included ... */
	CHECK_OK(check_map(fd, uhwpt, IOVA, buf, 2 * PAGE_SIZE));
	/* ... and later ones. */
	CHECK_OK(ioas_map_fixed(fd, ioas, (char *)buf + 2 * PAGE_SIZE,
				2 * PAGE_SIZE, IOVA + 8 * PAGE_SIZE));
	CHECK_OK(check_map(fd, uhwpt, IOVA + 8 * PAGE_SIZE,
			   (char *)buf + 2 * PAGE_SIZE, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(fd, buf, 4 * PAGE_SIZE, 1));

	/* A second device attached to that HWPT uses it as is. */
	CHECK_OK(mock_domain(fd, uhwpt, &stdev2, &hwpt2, NULL));
	CHECK(hwpt2 == uhwpt);
	CHECK_ERRNO(iommu_destroy(fd, uhwpt), EBUSY);
	CHECK_OK(iommu_destroy(fd, stdev2));
	/* Device gone: the HWPT stays until destroyed by the user. */
	CHECK_OK(check_map(fd, uhwpt, IOVA, buf, 2 * PAGE_SIZE));
	/* The HWPT keeps its IOAS busy. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);
	CHECK_OK(check_refs(fd, buf, 4 * PAGE_SIZE, 1));
	CHECK_OK(iommu_destroy(fd, uhwpt));
	CHECK_OK(check_refs(fd, buf, 4 * PAGE_SIZE, 0));
	CHECK_ERRNO(iommu_destroy(fd, uhwpt), ENOENT);

	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 4 * PAGE_SIZE);
}

TEST(hwpt_alloc_errors)
{
	__u32 ioas, stdev, hwpt, idev, out;
	struct iommu_hwpt_alloc cmd;
	__u32 data = 0;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));

	CHECK_ERRNO(hwpt_alloc(fd, idev, ioas, 1u << 30, &out), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc(fd, BAD_ID, ioas, 0, &out), ENOENT);
	CHECK_ERRNO(hwpt_alloc(fd, ioas, ioas, 0, &out), ENOENT);
	/* An unknown parent is EINVAL, as one of the wrong kind. */
	CHECK_ERRNO(hwpt_alloc(fd, idev, BAD_ID, 0, &out), EINVAL);
	/* Device and parent are judged before the flags. */
	CHECK_ERRNO(hwpt_alloc(fd, BAD_ID, ioas, 1U << 31, &out), ENOENT);
	CHECK_ERRNO(hwpt_alloc(fd, idev, BAD_ID, 1U << 31, &out), EINVAL);
	CHECK_ERRNO(hwpt_alloc(fd, idev, ioas, 1U << 31, &out), EOPNOTSUPP);
	/*
	 * A paging HWPT as the parent asks for a nested HWPT, which needs
	 * data: none is EOPNOTSUPP before the parent is judged.
	 */
	CHECK_ERRNO(hwpt_alloc(fd, idev, hwpt, 0, &out), EOPNOTSUPP);

	/* Data type NONE carries no data. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.dev_id = idev;
	cmd.pt_id = ioas;
	cmd.data_type = IOMMU_HWPT_DATA_NONE;
	cmd.data_len = sizeof(data);
	cmd.data_uptr = (uintptr_t)&data;
	CHECK_ERRNO(ioctl(fd, IOMMU_HWPT_ALLOC, &cmd), EINVAL);

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.dev_id = idev;
	cmd.pt_id = ioas;
	cmd.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_HWPT_ALLOC, &cmd), EOPNOTSUPP);

	/* None of them created anything: the IOAS has one user left. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(mock_domain_replace)
{
	__u32 ioas1, ioas2, stdev, hwpt1, idev, pt, hwpt2, uhwpt;
	char *buf1, *buf2;
	int fd;

	buf1 = buf_alloc(2 * PAGE_SIZE);
	buf2 = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf1 && buf2);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas1));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioas_map_fixed(fd, ioas1, buf1, 2 * PAGE_SIZE, IOVA));
	CHECK_OK(ioas_map_fixed(fd, ioas2, buf2, 2 * PAGE_SIZE, IOVA));
	CHECK_OK(mock_domain(fd, ioas1, &stdev, &hwpt1, &idev));
	CHECK_OK(check_map(fd, hwpt1, IOVA, buf1, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(fd, buf1, 2 * PAGE_SIZE, 1));
	CHECK_OK(check_refs(fd, buf2, 2 * PAGE_SIZE, 0));

	/* To IOAS 2: a new automatic HWPT showing IOAS 2's mappings. */
	pt = ioas2;
	CHECK_OK(mock_domain_replace(fd, stdev, &pt));
	hwpt2 = pt;
	CHECK(hwpt2 != 0 && hwpt2 != hwpt1 && hwpt2 != ioas2);
	CHECK_OK(check_map(fd, hwpt2, IOVA, buf2, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(fd, buf1, 2 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(fd, buf2, 2 * PAGE_SIZE, 1));
	/* The old automatic HWPT left with the device; IOAS 1 is free. */
	CHECK_ERRNO(iommu_destroy(fd, hwpt1), ENOENT);
	CHECK_ERRNO(iommu_destroy(fd, hwpt2), EBUSY);

	/* To the IOAS it is already on: nothing changes. */
	pt = ioas2;
	CHECK_OK(mock_domain_replace(fd, stdev, &pt));
	CHECK(pt == hwpt2);
	CHECK_OK(check_map(fd, hwpt2, IOVA, buf2, 2 * PAGE_SIZE));

	/* To a HWPT the user allocated. */
	CHECK_OK(hwpt_alloc(fd, idev, ioas2, 0, &uhwpt));
	pt = uhwpt;
	CHECK_OK(mock_domain_replace(fd, stdev, &pt));
	CHECK(pt == uhwpt);
	CHECK_ERRNO(iommu_destroy(fd, hwpt2), ENOENT);
	CHECK_ERRNO(iommu_destroy(fd, uhwpt), EBUSY);
	CHECK_OK(check_map(fd, uhwpt, IOVA, buf2, 2 * PAGE_SIZE));

	/* Errors leave the device where it is. */
	pt = BAD_ID;
	CHECK_ERRNO(mock_domain_replace(fd, stdev, &pt), ENOENT);
	pt = ioas1;
	CHECK_ERRNO(mock_domain_replace(fd, BAD_ID, &pt), ENOENT);
	CHECK_ERRNO(iommu_destroy(fd, uhwpt), EBUSY);

	/* Back to IOAS 1 through an automatic HWPT again. */
	pt = ioas1;
	CHECK_OK(mock_domain_replace(fd, stdev, &pt));
	CHECK(pt != uhwpt);
	CHECK_OK(check_map(fd, pt, IOVA, buf1, 2 * PAGE_SIZE));
	CHECK_OK(iommu_destroy(fd, uhwpt));
	CHECK_OK(check_refs(fd, buf2, 2 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(fd, buf1, 2 * PAGE_SIZE, 1));

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(check_refs(fd, buf1, 2 * PAGE_SIZE, 0));
	CHECK_OK(iommu_destroy(fd, ioas2));
	CHECK_OK(iommu_destroy(fd, ioas1));
	close(fd);
	buf_free(buf1, 2 * PAGE_SIZE);
	buf_free(buf2, 2 * PAGE_SIZE);
}

TEST(get_hw_info)
{
	__u32 ioas, stdev, idev, len, type;
	struct iommu_test_hw_info *info;
	struct iommu_hw_info cmd;
	unsigned char data[16];
	unsigned int i;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, NULL, &idev));

	/* Exactly the mock's 8 bytes. */
	memset(data, 0xff, sizeof(data));
	len = 8;
	type = 0;
	CHECK_OK(get_hw_info(fd, idev, data, &len, &type, NULL));
	CHECK(len == sizeof(struct iommu_test_hw_info));
	CHECK(type == IOMMU_HW_INFO_TYPE_SELFTEST);
	info = (struct iommu_test_hw_info *)data;
	CHECK(info->flags == 0);
	CHECK(info->test_reg == IOMMU_HW_INFO_SELFTEST_REGVAL);
	for (i = 8; i < sizeof(data); i++)
		CHECK(data[i] == 0xff);

	/* A longer buffer: the tail is zero-filled. */
	memset(data, 0xff, sizeof(data));
	len = sizeof(data);
	CHECK_OK(get_hw_info(fd, idev, data, &len, &type, NULL));
	CHECK(len == 8);
	CHECK(info->flags == 0);
	CHECK(info->test_reg == IOMMU_HW_INFO_SELFTEST_REGVAL);
	for (i = 8; i < sizeof(data); i++)
		CHECK(data[i] == 0);

	/* A shorter buffer gets the beginning only. */
	memset(data, 0xff, sizeof(data));
	len = 4;
	CHECK_OK(get_hw_info(fd, idev, data, &len, &type, NULL));
	CHECK(len == 8);
	CHECK(info->flags == 0);
	for (i = 4; i < sizeof(data); i++)
		CHECK(data[i] == 0xff);

	/* No buffer: only the length and type are reported. */
	memset(data, 0xff, sizeof(data));
	len = 0;
	type = 0;
	CHECK_OK(get_hw_info(fd, idev, data, &len, &type, NULL));
	CHECK(len == 8);
	CHECK(type == IOMMU_HW_INFO_TYPE_SELFTEST);
	for (i = 0; i < sizeof(data); i++)
		CHECK(data[i] == 0xff);

	/* A device without PASID support reports no PASID width. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.dev_id = idev;
	cmd.out_max_pasid_log2 = 0x5a;
	CHECK_OK(ioctl(fd, IOMMU_GET_HW_INFO, &cmd));
	CHECK(cmd.out_max_pasid_log2 == 0);
	CHECK(cmd.data_len == 8);

	/* Errors. */
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.dev_id = idev;
	cmd.flags = 1u << 31;
	CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &cmd), EOPNOTSUPP);
	cmd.flags = 1u << 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &cmd), EOPNOTSUPP);
	cmd.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE | (1u << 1);
	CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &cmd), EOPNOTSUPP);
	cmd.flags = 0;
	cmd.__reserved[1] = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &cmd), EOPNOTSUPP);
	cmd.__reserved[1] = 0;
	cmd.__reserved[0] = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &cmd), EOPNOTSUPP);
	cmd.__reserved[0] = 0;
	cmd.__reserved[2] = 0x80;
	CHECK_ERRNO(ioctl(fd, IOMMU_GET_HW_INFO, &cmd), EOPNOTSUPP);
	len = sizeof(data);
	CHECK_ERRNO(get_hw_info(fd, BAD_ID, data, &len, NULL, NULL), ENOENT);
	CHECK_ERRNO(get_hw_info(fd, ioas, data, &len, NULL, NULL), ENOENT);
	CHECK_ERRNO(get_hw_info(fd, 0, data, &len, NULL, NULL), ENOENT);

	CHECK_OK(iommu_destroy(fd, stdev));
	/* The device is gone with its stdev. */
	CHECK_ERRNO(get_hw_info(fd, idev, data, &len, NULL, NULL), ENOENT);
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(dev_check_cache)
{
	__u32 ioas, stdev, idev, i;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, NULL, &idev));
	for (i = 0; i < MOCK_DEV_CACHE_NUM; i++)
		CHECK_OK(dev_check_cache(fd, idev, i,
					 IOMMU_TEST_DEV_CACHE_DEFAULT));
	CHECK_ERRNO(dev_check_cache(fd, idev, MOCK_DEV_CACHE_ID_MAX + 1,
				    IOMMU_TEST_DEV_CACHE_DEFAULT), EINVAL);
	CHECK_ERRNO(dev_check_cache(fd, idev, 0,
				    IOMMU_TEST_DEV_CACHE_DEFAULT + 1), EINVAL);
	CHECK_ERRNO(dev_check_cache(fd, idev, 3, 0), EINVAL);
	CHECK_ERRNO(dev_check_cache(fd, BAD_ID, 0,
				    IOMMU_TEST_DEV_CACHE_DEFAULT), ENOENT);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(two_devices_on_one_ioas)
{
	__u32 ioas, stdev1, hwpt1, idev1, stdev2, hwpt2, idev2;
	void *buf;
	int fd;

	/* Whether the second device shares the first one's HWPT is the
	 * kernel's choice; both must see the IOAS either way. */
	buf = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev1, &hwpt1, &idev1));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE, IOVA));
	CHECK_OK(mock_domain(fd, ioas, &stdev2, &hwpt2, &idev2));
	CHECK(idev1 != idev2 && stdev1 != stdev2);
	CHECK_OK(check_map(fd, hwpt1, IOVA, buf, 2 * PAGE_SIZE));
	CHECK_OK(check_map(fd, hwpt2, IOVA, buf, 2 * PAGE_SIZE));
	CHECK_OK(iommu_destroy(fd, stdev1));
	CHECK_OK(check_map(fd, hwpt2, IOVA, buf, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 1));
	CHECK_OK(iommu_destroy(fd, stdev2));
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 0));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 2 * PAGE_SIZE);
}

/* GET_HW_INFO with flags and in_data_type as given; the ioctl's result. */
static int hw_info_typed(int fd, __u32 idev, __u32 flags, __u32 in_type,
			 void *data, __u32 len, struct iommu_hw_info *out)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev,
		.data_len = len,
		.data_uptr = (uintptr_t)data,
		.in_data_type = in_type,
	};
	int rc;

	rc = ioctl(fd, IOMMU_GET_HW_INFO, &cmd);
	if (out)
		*out = cmd;
	return rc;
}

TEST(get_hw_info_input_type)
{
	struct iommu_test_hw_info *info;
	struct iommu_hw_info out;
	unsigned char data[16];
	__u32 ioas, stdev, idev;
	unsigned int i;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, NULL, &idev));
	info = (struct iommu_test_hw_info *)data;

	/* Asking for the mock's own type, or for the default one. */
	memset(data, 0xff, sizeof(data));
	CHECK_OK(hw_info_typed(fd, idev, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
			       IOMMU_HW_INFO_TYPE_SELFTEST, data, 8, &out));
	CHECK(out.out_data_type == IOMMU_HW_INFO_TYPE_SELFTEST);
	CHECK(out.data_len == 8);
	CHECK(info->test_reg == IOMMU_HW_INFO_SELFTEST_REGVAL);
	CHECK_OK(hw_info_typed(fd, idev, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
			       IOMMU_HW_INFO_TYPE_DEFAULT, NULL, 0, &out));
	CHECK(out.out_data_type == IOMMU_HW_INFO_TYPE_SELFTEST);
	CHECK(out.data_len == 8);

	/* Without the flag the field is only an output: anything goes. */
	CHECK_OK(hw_info_typed(fd, idev, 0, 0x12345678, NULL, 0, &out));
	CHECK(out.out_data_type == IOMMU_HW_INFO_TYPE_SELFTEST);
	CHECK_OK(hw_info_typed(fd, idev, 0, IOMMU_HW_INFO_TYPE_INTEL_VTD, NULL,
			       0, &out));
	CHECK(out.out_data_type == IOMMU_HW_INFO_TYPE_SELFTEST);

	/* A type the mock cannot report: nothing is written. */
	memset(data, 0xff, sizeof(data));
	CHECK_ERRNO(hw_info_typed(fd, idev, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				  IOMMU_HW_INFO_TYPE_SELFTEST + 1, data,
				  sizeof(data), NULL), EOPNOTSUPP);
	CHECK_ERRNO(hw_info_typed(fd, idev, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				  IOMMU_HW_INFO_TYPE_INTEL_VTD, data,
				  sizeof(data), NULL), EOPNOTSUPP);
	CHECK_ERRNO(hw_info_typed(fd, idev, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				  IOMMU_HW_INFO_TYPE_ARM_SMMUV3, NULL, 0,
				  NULL), EOPNOTSUPP);
	for (i = 0; i < sizeof(data); i++)
		CHECK(data[i] == 0xff);

	/* The device is looked up first. */
	CHECK_ERRNO(hw_info_typed(fd, BAD_ID, IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				  IOMMU_HW_INFO_TYPE_SELFTEST + 1, NULL, 0,
				  NULL), ENOENT);
	/* An unknown flag beats everything. */
	CHECK_ERRNO(hw_info_typed(fd, BAD_ID, 1u << 2, 0, NULL, 0, NULL),
		    EOPNOTSUPP);

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

/* GET_HW_INFO's capabilities and PASID width of a device with @flags. */
static void expect_hw_caps(int fd, __u32 ioas, __u32 flags, __u64 caps,
			   __u8 pasid_log2)
{
	struct iommu_hw_info out;
	__u32 stdev, idev;

	CHECK_OK(mock_domain_flags(fd, ioas, flags, &stdev, NULL, &idev));
	memset(&out, 0x5a, sizeof(out));
	CHECK_OK(hw_info_typed(fd, idev, 0, 0, NULL, 0, &out));
	if (out.out_capabilities != caps ||
	    out.out_max_pasid_log2 != pasid_log2)
		tap_diag("flags %#x: caps %#llx pasid %u", flags,
			 (unsigned long long)out.out_capabilities,
			 out.out_max_pasid_log2);
	CHECK(out.out_capabilities == caps);
	CHECK(out.out_max_pasid_log2 == pasid_log2);
	CHECK(!out.__reserved[0] && !out.__reserved[1] && !out.__reserved[2]);
	CHECK_OK(iommu_destroy(fd, stdev));
}

TEST(get_hw_info_caps_and_pasid)
{
	const __u64 ats = IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
	const __u64 dirty = IOMMU_HW_CAP_DIRTY_TRACKING;
	__u32 ioas;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK(ats == 0x8);
	CHECK_SUB(expect_hw_caps(fd, ioas, 0, dirty | ats, 0));
	CHECK_SUB(expect_hw_caps(fd, ioas, MOCK_FLAGS_DEVICE_NO_DIRTY, ats, 0));
	CHECK_SUB(expect_hw_caps(fd, ioas, MOCK_FLAGS_DEVICE_PASID,
				 dirty | ats, MOCK_PASID_WIDTH));
	CHECK_SUB(expect_hw_caps(fd, ioas, MOCK_FLAGS_DEVICE_PASID |
				 MOCK_FLAGS_DEVICE_NO_DIRTY, ats,
				 MOCK_PASID_WIDTH));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(hwpt_alloc_selftest_data)
{
	struct iommu_hwpt_selftest cfg = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
		.pagetable_type = MOCK_IOMMUPT_DEFAULT,
	};
	__u32 ioas, stdev, idev, hwpt, nhwpt;
	unsigned char big[80];
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, NULL, &idev));

	/* Both page table types, with the whole struct or just iotlb. */
	CHECK_OK(hwpt_alloc_data(fd, idev, ioas, 0, IOMMU_HWPT_DATA_SELFTEST,
				 &cfg, sizeof(cfg), &hwpt));
	CHECK_OK(iommu_destroy(fd, hwpt));
	cfg.pagetable_type = MOCK_IOMMUPT_HUGE;
	CHECK_OK(hwpt_alloc_data(fd, idev, ioas, 0, IOMMU_HWPT_DATA_SELFTEST,
				 &cfg, sizeof(cfg), &hwpt));
	CHECK_OK(iommu_destroy(fd, hwpt));
	/* 4 bytes: pagetable_type is taken as 0, whatever follows. */
	CHECK_OK(hwpt_alloc_data(fd, idev, ioas, 0, IOMMU_HWPT_DATA_SELFTEST,
				 &cfg, 4, &hwpt));
	CHECK_OK(iommu_destroy(fd, hwpt));
	CHECK_OK(hwpt_alloc_data(fd, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
				 IOMMU_HWPT_DATA_SELFTEST, &cfg, sizeof(cfg),
				 &hwpt));
	CHECK_OK(iommu_destroy(fd, hwpt));
	/* NONE with no data: a pointer alone is ignored. */
	CHECK_OK(hwpt_alloc_data(fd, idev, ioas, 0, IOMMU_HWPT_DATA_NONE,
				 (void *)8, 0, &hwpt));
	CHECK_OK(iommu_destroy(fd, hwpt));

	/* No type 2 (AMDv1) or any other. */
	cfg.pagetable_type = 2;
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, &cfg,
				    sizeof(cfg), NULL), EOPNOTSUPP);
	cfg.pagetable_type = 0xffffffff;
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, &cfg,
				    sizeof(cfg), NULL), EOPNOTSUPP);
	cfg.pagetable_type = MOCK_IOMMUPT_DEFAULT;
	/* Other data types. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0, IOMMU_HWPT_DATA_VTD_S1,
				    &cfg, sizeof(cfg), NULL), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0, 0xbeef, &cfg,
				    sizeof(cfg), NULL), EOPNOTSUPP);
	/* Lengths outside [4, 8], whatever the pointer. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, &cfg, 3, NULL),
		    EINVAL);
	memset(big, 0, sizeof(big));
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, big, 9, NULL),
		    EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, big,
				    sizeof(big), NULL), EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, NULL, 0x10000,
				    NULL), EINVAL);
	/* A type with no data, or data with no type. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, &cfg, 0, NULL),
		    EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0, IOMMU_HWPT_DATA_NONE,
				    &cfg, sizeof(cfg), NULL), EINVAL);
	/* Unreadable data, found once the type and length are right. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, NULL,
				    sizeof(cfg), NULL), EFAULT);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST,
				    unmapped_va(PAGE_SIZE), sizeof(cfg), NULL),
		    EFAULT);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, ioas, 0, 0xbeef, NULL,
				    sizeof(cfg), NULL), EOPNOTSUPP);
	/* Objects are looked up before the data is judged. */
	CHECK_ERRNO(hwpt_alloc_data(fd, BAD_ID, ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, NULL,
				    sizeof(cfg), NULL), ENOENT);
	CHECK_ERRNO(hwpt_alloc_data(fd, BAD_ID, ioas, 0, 0xbeef, &cfg,
				    sizeof(cfg), NULL), ENOENT);
	/* No nesting: a paging HWPT is no parent, with data or without. */
	CHECK_OK(hwpt_alloc_mock(fd, idev, ioas, MOCK_IOMMUPT_DEFAULT, &hwpt));
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, hwpt, 0,
				    IOMMU_HWPT_DATA_SELFTEST, &cfg,
				    sizeof(cfg), &nhwpt), EINVAL);
	CHECK_OK(iommu_destroy(fd, hwpt));

	/* None of the failures left anything behind. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

/*
 * A nested HWPT (pt_id a paging HWPT) is not implemented, but a request
 * for one is judged in upstream's order: the flags and the presence of
 * data (EOPNOTSUPP), the parent (EINVAL), then the mock's data (type:
 * EOPNOTSUPP, length: EINVAL, copy: EFAULT); a valid one is EOPNOTSUPP.
 */
TEST(hwpt_alloc_nested_checks)
{
	struct iommu_hwpt_selftest cfg = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	const __u32 st = IOMMU_HWPT_DATA_SELFTEST;
	__u32 ioas, stdev, idev, auto_hwpt, parent, plain, out = 0;
	unsigned char big[16] = { 0 };
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &auto_hwpt, &idev));
	CHECK_OK(hwpt_alloc(fd, idev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			    &parent));
	CHECK_OK(hwpt_alloc(fd, idev, ioas, 0, &plain));

	/* Flags other than FAULT_ID_VALID and PASID, before the parent. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, st, &cfg,
				    sizeof(cfg), &out), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent,
				    IOMMU_HWPT_ALLOC_DIRTY_TRACKING, st, &cfg,
				    sizeof(cfg), &out), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, plain,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, st, &cfg,
				    sizeof(cfg), &out), EOPNOTSUPP);
	/* No data, whatever the parent. */
	CHECK_ERRNO(hwpt_alloc(fd, idev, parent, 0, &out), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc(fd, idev, plain, 0, &out), EOPNOTSUPP);

	/* Parents: an automatic domain, one made without NEST_PARENT. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, auto_hwpt, 0, st, &cfg,
				    sizeof(cfg), &out), EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, plain, 0, st, &cfg,
				    sizeof(cfg), &out), EINVAL);
	/* ... judged before the data. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, plain, 0, st + 1, &cfg,
				    sizeof(cfg), &out), EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, plain, 0, st, NULL,
				    sizeof(cfg), &out), EINVAL);

	/* The mock's data on a good parent. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st + 1, &cfg,
				    sizeof(cfg), &out), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st, &cfg, 3, &out),
		    EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st, big, 9, &out),
		    EINVAL);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st, NULL,
				    sizeof(cfg), &out), EFAULT);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st,
				    unmapped_va(PAGE_SIZE), sizeof(cfg), &out),
		    EFAULT);
	/* FAULT_ID_VALID and PASID pass the core: the length still counts. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent,
				    IOMMU_HWPT_FAULT_ID_VALID |
				    IOMMU_HWPT_ALLOC_PASID, st, &cfg, 3, &out),
		    EINVAL);
	/* Valid requests: nesting is not implemented. */
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st, &cfg,
				    sizeof(cfg), &out), EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent, 0, st, &cfg, 4, &out),
		    EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_data(fd, idev, parent,
				    IOMMU_HWPT_FAULT_ID_VALID, st, &cfg,
				    sizeof(cfg), &out), EOPNOTSUPP);
	CHECK(out == 0);

	/* Nothing was made on the parent: it goes at once. */
	CHECK_OK(iommu_destroy(fd, parent));
	CHECK_OK(iommu_destroy(fd, plain));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

static int hwpt_alloc_fault(int fd, __u32 idev, __u32 pt_id, __u32 flags,
			    __u32 fault_id, __u32 data_len)
{
	struct iommu_hwpt_selftest cfg = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev,
		.pt_id = pt_id,
		.fault_id = fault_id,
	};

	if (data_len) {
		cmd.data_type = IOMMU_HWPT_DATA_SELFTEST;
		cmd.data_len = data_len;
		cmd.data_uptr = (uintptr_t)&cfg;
	}
	return ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
}

/*
 * FAULT_ID_VALID on a paging HWPT passes the flag checks (not with
 * NEST_PARENT); the device's and the data's errors come first, then the
 * fault queue is looked up: none can exist here, so ENOENT, and the HWPT
 * made on the way is gone.
 */
TEST(hwpt_alloc_fault_id)
{
	const __u32 fv = IOMMU_HWPT_FAULT_ID_VALID;
	__u32 ioas, stdev, idev, nd_stdev, nd_idev;
	__u64 iova;
	void *buf;
	int fd;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, &idev));
	CHECK_OK(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_NO_DIRTY,
				   &nd_stdev, NULL, &nd_idev));
	CHECK_OK(ioas_map_auto(fd, ioas, buf, PAGE_SIZE, &iova));

	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, ioas, fv, 0, 0), ENOENT);
	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, ioas, fv, UINT32_MAX, 0),
		    ENOENT);
	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, ioas,
				     fv | IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 1,
				     sizeof(struct iommu_hwpt_selftest)),
		    ENOENT);
	/* Not with NEST_PARENT, nor with an unknown flag. */
	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, ioas,
				     fv | IOMMU_HWPT_ALLOC_NEST_PARENT, 1, 0),
		    EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, ioas, fv | 1u << 30, 1, 0),
		    EOPNOTSUPP);
	/* The device and the data are judged before the fault queue. */
	CHECK_ERRNO(hwpt_alloc_fault(fd, nd_idev, ioas,
				     fv | IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 1, 0),
		    EOPNOTSUPP);
	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, ioas, fv, 1, 3), EINVAL);
	CHECK_ERRNO(hwpt_alloc_fault(fd, BAD_ID, ioas, fv, 1, 0), ENOENT);
	CHECK_ERRNO(hwpt_alloc_fault(fd, idev, BAD_ID, fv, 1, 0), EINVAL);

	/* No HWPT is left holding the IOAS. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, nd_stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, PAGE_SIZE);
}

static int hwpt_invalidate(int fd, __u32 id, const void *data, __u32 len,
			   __u32 *num, __u32 reserved)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = id,
		.data_uptr = (uintptr_t)data,
		.data_type = 0xdeadbeef,
		.entry_len = len,
		.entry_num = *num,
		.__reserved = reserved,
	};
	int rc = ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);

	*num = cmd.entry_num;
	return rc;
}

/*
 * The nesting commands are not implemented, but their arguments are
 * judged in upstream's order up to the object they name, which cannot
 * exist here: HWPT_INVALIDATE (entry_num always written back, 0),
 * VIOMMU_ALLOC, VDEVICE_ALLOC, VEVENTQ_ALLOC and HW_QUEUE_ALLOC.
 */
TEST(nesting_commands_argument_checks)
{
	struct iommu_viommu_alloc va;
	struct iommu_vdevice_alloc vd;
	struct iommu_veventq_alloc vq;
	struct iommu_hw_queue_alloc hq;
	__u32 ioas, stdev, idev, hwpt, num;
	__u64 entries[4] = { 0 };
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, &idev));

	/* HWPT_INVALIDATE: __reserved, then the array, then the object. */
	num = 2;
	CHECK_ERRNO(hwpt_invalidate(fd, BAD_ID, NULL, 0, &num, 1), EOPNOTSUPP);
	CHECK(num == 0);
	num = 1;
	CHECK_ERRNO(hwpt_invalidate(fd, BAD_ID, NULL, 8, &num, 0), EINVAL);
	CHECK(num == 0);
	num = 1;
	CHECK_ERRNO(hwpt_invalidate(fd, hwpt, entries, 0, &num, 0), EINVAL);
	num = 1;
	CHECK_ERRNO(hwpt_invalidate(fd, hwpt, entries, PAGE_SIZE + 1, &num, 0),
		    EINVAL);
	num = (1U << 19) + 1;
	CHECK_ERRNO(hwpt_invalidate(fd, hwpt, entries, 8, &num, 0), EINVAL);
	CHECK(num == 0);
	num = 0;
	CHECK_ERRNO(hwpt_invalidate(fd, BAD_ID, NULL, 0, &num, 0), ENOENT);
	num = 2;
	CHECK_ERRNO(hwpt_invalidate(fd, BAD_ID, entries, 8, &num, 0), ENOENT);
	CHECK(num == 0);
	/* A paging HWPT, an IOAS, a device: not nested, EINVAL. */
	num = 2;
	CHECK_ERRNO(hwpt_invalidate(fd, hwpt, entries, 8, &num, 0), EINVAL);
	CHECK(num == 0);
	num = 0;
	CHECK_ERRNO(hwpt_invalidate(fd, hwpt, NULL, 0, &num, 0), EINVAL);
	CHECK_ERRNO(hwpt_invalidate(fd, ioas, NULL, 0, &num, 0), EINVAL);
	CHECK_ERRNO(hwpt_invalidate(fd, idev, NULL, 0, &num, 0), EINVAL);

	/* VIOMMU_ALLOC: flags and type DEFAULT, then the device. */
	memset(&va, 0, sizeof(va));
	va.size = sizeof(va);
	va.dev_id = BAD_ID;
	va.hwpt_id = hwpt;
	va.flags = 1;
	va.type = 0xdeadbeef;
	CHECK_ERRNO(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), EOPNOTSUPP);
	va.flags = 0;
	va.type = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), EOPNOTSUPP);
	va.type = 0xdeadbeef;
	CHECK_ERRNO(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), ENOENT);
	va.dev_id = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), ENOENT);
	va.dev_id = idev;
	CHECK_ERRNO(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), EOPNOTSUPP);

	/* VDEVICE_ALLOC: whatever it names is no vIOMMU. */
	memset(&vd, 0, sizeof(vd));
	vd.size = sizeof(vd);
	vd.dev_id = idev;
	vd.virt_id = 0x99;
	CHECK_ERRNO(ioctl(fd, IOMMU_VDEVICE_ALLOC, &vd), ENOENT);
	vd.viommu_id = hwpt;
	CHECK_ERRNO(ioctl(fd, IOMMU_VDEVICE_ALLOC, &vd), ENOENT);

	/* VEVENTQ_ALLOC: flags, __reserved, type, depth, then the vIOMMU. */
	memset(&vq, 0, sizeof(vq));
	vq.size = sizeof(vq);
	vq.viommu_id = BAD_ID;
	vq.type = 0xbeefbeef;
	vq.veventq_depth = 2;
	vq.flags = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_VEVENTQ_ALLOC, &vq), EOPNOTSUPP);
	vq.flags = 0;
	vq.__reserved = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_VEVENTQ_ALLOC, &vq), EOPNOTSUPP);
	vq.__reserved = 0;
	vq.type = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_VEVENTQ_ALLOC, &vq), EOPNOTSUPP);
	vq.type = 0xbeefbeef;
	vq.veventq_depth = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_VEVENTQ_ALLOC, &vq), EINVAL);
	vq.veventq_depth = (1U << 19) + 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_VEVENTQ_ALLOC, &vq), EINVAL);
	vq.veventq_depth = 1U << 19;
	CHECK_ERRNO(ioctl(fd, IOMMU_VEVENTQ_ALLOC, &vq), ENOENT);

	/* HW_QUEUE_ALLOC: flags, type, length, overflow, then the vIOMMU. */
	memset(&hq, 0, sizeof(hq));
	hq.size = sizeof(hq);
	hq.viommu_id = BAD_ID;
	hq.type = 0xdeadbeef;
	hq.nesting_parent_iova = MOCK_APERTURE_START;
	hq.length = PAGE_SIZE;
	hq.flags = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &hq), EOPNOTSUPP);
	hq.flags = 0;
	hq.type = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &hq), EOPNOTSUPP);
	hq.type = 0xdeadbeef;
	hq.length = 0;
	CHECK_ERRNO(ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &hq), EINVAL);
	hq.nesting_parent_iova = ~0ULL;
	hq.length = PAGE_SIZE;
	CHECK_ERRNO(ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &hq), EOVERFLOW);
	hq.length = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &hq), ENOENT);
	hq.nesting_parent_iova = MOCK_APERTURE_START;
	hq.length = PAGE_SIZE;
	CHECK_ERRNO(ioctl(fd, IOMMU_HW_QUEUE_ALLOC, &hq), ENOENT);

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

/*
 * A HUGE mock page table: 1 MiB and CPU pages, the whole 56-bit IOVA
 * space, so alone on an IOAS it leaves the IOVA ranges open.
 */
TEST(hwpt_huge_pagetable)
{
	const struct iommu_iova_range *r;
	struct iommu_iova_range ranges[4];
	const size_t big = MOCK_HUGE_PAGE_SIZE;
	__u32 ioas, ioas2, stdev, idev, hwpt, num;
	__u64 align, unmapped;
	void *buf;
	int fd;

	CHECK(MOCK_PAGE_SIZE == 2048 && MOCK_HUGE_PAGE_SIZE == 1u << 20);
	buf = buf_alloc(big);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(mock_domain(fd, ioas2, &stdev, NULL, &idev));
	CHECK_OK(hwpt_alloc_mock(fd, idev, ioas, MOCK_IOMMUPT_HUGE, &hwpt));
	num = 4;
	CHECK_OK(ioas_iova_ranges(fd, ioas, ranges, &num, &align));
	CHECK(num == 1);
	r = &ranges[0];
	CHECK(r->start == 0 && r->last == (1ULL << 56) - 1);
	CHECK(align == PAGE_SIZE);

	/* Below the default aperture, and CPU pages. */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 4 * PAGE_SIZE, 1UL << 20));
	CHECK_OK(check_map(fd, hwpt, 1UL << 20, buf, 4 * PAGE_SIZE));
	/* MD_CHECK_MAP wants the domain's smallest page: PAGE_SIZE here. */
	CHECK_ERRNO(check_map(fd, hwpt, (1UL << 20) + MOCK_PAGE_SIZE,
			      (char *)buf + MOCK_PAGE_SIZE, MOCK_PAGE_SIZE),
		    EINVAL);
	/* A 2 KiB-aligned IOVA is no longer good enough. */
	CHECK_ERRNO(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE,
				   (1UL << 32) + MOCK_PAGE_SIZE), EINVAL);
	/* A whole, aligned huge page, above the default aperture. */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, big, 1UL << 40));
	CHECK_OK(check_map(fd, hwpt, 1UL << 40, buf, big));
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == big + 4 * PAGE_SIZE);
	CHECK_OK(check_refs(fd, buf, big, 0));

	CHECK_OK(iommu_destroy(fd, hwpt));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas2));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, big);
}

/*
 * Mock devices attach to mock domains of other page sizes, as upstream's:
 * attach and replace check no page size.  The page sizes count when a
 * domain joins an IOAS: its smallest page raises the IOAS alignment, and
 * mappings it cannot take keep it out (EADDRINUSE).
 */
TEST(attach_other_page_sizes)
{
	__u32 ioas, stdev, stdev2, idev, dflt, huge, pt, num = 4;
	struct iommu_iova_range ranges[4];
	__u64 align;
	void *buf;
	int fd;

	buf = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf);
	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &dflt, &idev));
	CHECK_OK(ioas_iova_ranges(fd, ioas, ranges, &num, &align));
	CHECK(align == MOCK_PAGE_SIZE);
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE, IOVA));
	CHECK_OK(hwpt_alloc_mock(fd, idev, ioas, MOCK_IOMMUPT_HUGE, &huge));
	/* Now the IOAS takes CPU pages only. */
	num = 4;
	CHECK_OK(ioas_iova_ranges(fd, ioas, ranges, &num, &align));
	CHECK(align == PAGE_SIZE);

	/* A new device straight onto the huge table ... */
	CHECK_OK(mock_domain(fd, huge, &stdev2, &pt, NULL));
	CHECK(pt == huge);
	/* ... and one moved from the default table and back. */
	pt = huge;
	CHECK_OK(mock_domain_replace(fd, stdev, &pt));
	CHECK(pt == huge);
	CHECK_OK(check_map(fd, huge, IOVA, buf, 2 * PAGE_SIZE));
	pt = ioas;
	CHECK_OK(mock_domain_replace(fd, stdev, &pt));
	CHECK(pt != huge);
	CHECK_OK(check_map(fd, pt, IOVA, buf, 2 * PAGE_SIZE));
	pt = huge;
	CHECK_OK(mock_domain_replace(fd, stdev2, &pt));
	CHECK(pt == huge);
	CHECK_OK(iommu_destroy(fd, stdev2));
	CHECK_OK(iommu_destroy(fd, huge));

	/*
	 * A mapping only 2 KiB-aligned keeps a table of CPU pages out of
	 * the IOAS.
	 */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, MOCK_PAGE_SIZE,
				IOVA + 64 * PAGE_SIZE + MOCK_PAGE_SIZE));
	CHECK_ERRNO(hwpt_alloc_mock(fd, idev, ioas, MOCK_IOMMUPT_HUGE, &huge),
		    EADDRINUSE);
	CHECK_OK(hwpt_alloc_mock(fd, idev, ioas, MOCK_IOMMUPT_DEFAULT, &pt));
	CHECK_OK(iommu_destroy(fd, pt));

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, 2 * PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}

#define CC MOCK_FLAGS_DEVICE_ENFORCE_CC

/* An IOMMU that cannot honour IOMMU_CACHE is refused at bind, as VFIO does. */
TEST(cache_coherency_required)
{
	__u32 ioas, stdev, hwpt, idev;
	long objects;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	objects = module_stat("objects");
	CHECK_ERRNO(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_NO_CC,
				      &stdev, &hwpt, &idev), EINVAL);
	CHECK_ERRNO(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_NO_CC | CC,
				      &stdev, &hwpt, &idev), EINVAL);
	CHECK(module_stat("objects") == objects);
	/* The same device, coherent, binds (the flag itself is valid). */
	CHECK_OK(mock_domain_flags(fd, ioas, CC, &stdev, &hwpt, &idev));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

/*
 * A table made for a device that can enforce coherency enforces it, for
 * good; devices that cannot never share it (EINVAL; an automatic domain
 * is made for them); a device that can may share a table that does not.
 */
TEST(cache_coherency_enforced)
{
	__u32 ioas, ioas2, s_cc, s_plain, s2, h_cc, h_plain, h, hx, hp, idev_cc,
	      idev_plain, idev;
	char *buf;
	int fd;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE, IOVA));
	/* Automatic: enforcing first; a plain device gets its own. */
	CHECK_OK(mock_domain_flags(fd, ioas, CC, &s_cc, &h_cc, &idev_cc));
	CHECK(hwpt_enforce_cc(h_cc) == 1);
	CHECK_OK(check_map(fd, h_cc, IOVA, buf, PAGE_SIZE));
	CHECK_OK(mock_domain_flags(fd, ioas, 0, &s_plain, &h_plain,
				   &idev_plain));
	CHECK(h_plain != h_cc && hwpt_enforce_cc(h_plain) == 0);
	/* Both automatic domains exist: each kind reuses its own. */
	CHECK_OK(mock_domain_flags(fd, ioas, 0, &s2, &h, &idev));
	CHECK(h == h_plain);
	CHECK_OK(iommu_destroy(fd, s2));
	CHECK_OK(mock_domain_flags(fd, ioas, CC, &s2, &h, &idev));
	CHECK(h == h_cc);
	CHECK_OK(iommu_destroy(fd, s2));

	/* Allocated tables follow the device they are allocated for. */
	CHECK_OK(hwpt_alloc(fd, idev_cc, ioas, 0, &hx));
	CHECK_OK(hwpt_alloc(fd, idev_plain, ioas, 0, &hp));
	CHECK(hwpt_enforce_cc(hx) == 1 && hwpt_enforce_cc(hp) == 0);
	CHECK_OK(check_map(fd, hx, IOVA, buf, PAGE_SIZE));
	h = hx;
	CHECK_ERRNO(mock_domain_replace(fd, s_plain, &h), EINVAL);
	CHECK_ERRNO(mock_domain(fd, hx, &s2, &h, &idev), EINVAL);
	/* The device stayed where it was. */
	CHECK_OK(mock_domain_replace(fd, s_plain, &h_plain));
	h = hp;
	CHECK_OK(mock_domain_replace(fd, s_cc, &h));
	CHECK(h == hp && hwpt_enforce_cc(hp) == 0);
	h = hx;
	CHECK_OK(mock_domain_replace(fd, s_cc, &h));
	CHECK(hwpt_enforce_cc(hx) == 1);
	CHECK_OK(iommu_destroy(fd, s_cc));
	CHECK_OK(iommu_destroy(fd, s_plain));
	CHECK_OK(iommu_destroy(fd, hx));
	CHECK_OK(iommu_destroy(fd, hp));

	/* Automatic, plain first: an enforcing device shares it. */
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(mock_domain_flags(fd, ioas2, 0, &s_plain, &h_plain, &idev));
	CHECK_OK(mock_domain_flags(fd, ioas2, CC, &s_cc, &h, &idev));
	CHECK(h == h_plain && hwpt_enforce_cc(h) == 0);
	CHECK_OK(iommu_destroy(fd, s_cc));
	CHECK_OK(iommu_destroy(fd, s_plain));
	CHECK_OK(iommu_destroy(fd, ioas2));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, PAGE_SIZE);
}
