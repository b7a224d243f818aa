// SPDX-License-Identifier: GPL-2.0
/*
 * libiommufd: the library's example and its test.
 *
 * The first test is the short complete example of the README: open
 * /dev/iommu, allocate an I/O address space, map a buffer at a fixed
 * IOVA, look at the usable IOVA ranges, unmap, destroy.  The others go
 * through the rest of the /dev/iommu part of the API, its error returns
 * (a negative errno, explained by iommufd_strerror()) and, with the mock
 * IOMMU of the module's selftest=1, the device calls.
 *
 * Every library call returns 0 (or an fd) on success and -errno on
 * failure, so CHECK_OK() fits the successes and CHECK(rc == -EXXX) the
 * failures.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libiommufd.h>
#include <linux/iommufd_test.h>

#include "tap.h"

#define NO_SUCH_ID 0xfffff0u

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Anonymous read-write memory, populated; NULL on failure. */
static void *buf_get(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Is [iova, iova + len) inside one of the @n ranges? */
static int in_ranges(const struct iommu_iova_range *r, uint32_t n,
		     uint64_t iova, uint64_t len)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (iova >= r[i].start && iova + len - 1 <= r[i].last)
			return 1;
	return 0;
}

/* The module's test command (selftest=1), which the library leaves out. */
static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/* ------------------------------------------------------- the example */

TEST(example)
{
	size_t len = 4 * page_size();
	struct iommu_iova_range *ranges;
	uint64_t iova = 1ULL << 24, unmapped = 0, align;
	uint32_t ioas, count;
	char *buf = buf_get(len);
	int fd, rc;

	CHECK(buf);
	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &ioas));

	/* Map the buffer for device reads and writes at IOVA 16 MiB. */
	rc = iommufd_ioas_map(fd, ioas, buf, len, &iova,
			      IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
	if (rc)
		tap_diag("map: %s", iommufd_strerror(rc));
	CHECK(rc == 0 && iova == 1ULL << 24);

	/* Where mappings may go: the array is malloc()ed, free() it. */
	CHECK_OK(iommufd_ioas_iova_ranges(fd, ioas, &ranges, &count, &align));
	CHECK(count >= 1 && align >= 1 && iova % align == 0);
	CHECK(in_ranges(ranges, count, iova, len));
	free(ranges);

	CHECK_OK(iommufd_ioas_unmap(fd, ioas, iova, len, &unmapped));
	CHECK(unmapped == len);
	CHECK_OK(iommufd_destroy(fd, ioas));
	iommufd_close(fd);
	munmap(buf, len);
}

/* ------------------------------------------------------------- IOAS */

TEST(map_auto_iova_and_unmap_all)
{
	size_t len = 2 * page_size();
	uint64_t iova1 = 0, iova2 = 0, unmapped = 1;
	char *buf = buf_get(len);
	uint32_t ioas;
	int fd;

	CHECK(buf);
	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &ioas));
	CHECK_OK(iommufd_ioas_map(fd, ioas, buf, len, &iova1, IOMMUFD_MAP_RW));
	CHECK_OK(iommufd_ioas_map(fd, ioas, buf, len, &iova2,
				  IOMMU_IOAS_MAP_READABLE));
	CHECK(iova1 != iova2);
	CHECK(iova1 % page_size() == 0 && iova2 % page_size() == 0);
	/* A NULL *iova is fine when the kernel picks the IOVA. */
	CHECK_OK(iommufd_ioas_map(fd, ioas, buf, len, NULL, IOMMUFD_MAP_RW));
	CHECK_OK(iommufd_ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == 3 * len);
	/* Unmapping all of an empty IOAS succeeds and removes nothing. */
	CHECK_OK(iommufd_ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == 0);
	iommufd_close(fd);
	munmap(buf, len);
}

TEST(copy_between_ioas)
{
	size_t len = 4 * page_size();
	uint64_t src_iova = 1ULL << 24, dst_iova = 1ULL << 28, auto_iova = 0;
	uint64_t unmapped = 0;
	char *buf = buf_get(len);
	uint32_t src, dst;
	int fd;

	CHECK(buf);
	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &src));
	CHECK_OK(iommufd_ioas_alloc(fd, &dst));
	CHECK(src != dst);
	CHECK_OK(iommufd_ioas_map(fd, src, buf, len, &src_iova,
				  IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	CHECK_OK(iommufd_ioas_copy(fd, dst, &dst_iova, src, src_iova, len,
				   IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	CHECK(dst_iova == 1ULL << 28);
	/* Part of the source, at an IOVA the kernel picks. */
	CHECK_OK(iommufd_ioas_copy(fd, dst, &auto_iova, src,
				   src_iova + page_size(), page_size(),
				   IOMMU_IOAS_MAP_READABLE));
	CHECK(auto_iova != dst_iova);
	CHECK_OK(iommufd_ioas_unmap(fd, dst, dst_iova, len, &unmapped));
	CHECK(unmapped == len);
	CHECK_OK(iommufd_ioas_unmap(fd, dst, auto_iova, page_size(),
				    &unmapped));
	CHECK(unmapped == page_size());
	/* The source keeps its mapping. */
	CHECK_OK(iommufd_ioas_unmap(fd, src, src_iova, len, &unmapped));
	CHECK(unmapped == len);
	iommufd_close(fd);
	munmap(buf, len);
}

TEST(options)
{
	uint64_t val = 7;
	uint32_t ioas;
	int fd;

	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &ioas));
	CHECK_OK(iommufd_option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 1);
	CHECK_OK(iommufd_option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 0));
	CHECK_OK(iommufd_option_get(fd, IOMMU_OPTION_HUGE_PAGES, ioas, &val));
	CHECK(val == 0);
	CHECK_OK(iommufd_option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 1));
	/* A per-fd option: object 0. */
	CHECK_OK(iommufd_option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &val));
	CHECK(val <= 1);
	CHECK(iommufd_option_set(fd, IOMMU_OPTION_HUGE_PAGES, ioas, 2) ==
	      -EINVAL);
	CHECK(iommufd_option_get(fd, 0x1234, 0, &val) == -EOPNOTSUPP);
	iommufd_close(fd);
}

/* ------------------------------------------------------------ errors */

TEST(errors_are_negative_errno)
{
	size_t len = page_size();
	uint64_t iova = 1ULL << 24, unmapped = 99;
	char *buf = buf_get(len);
	uint32_t ioas, id = 0;
	int fd, rc;

	CHECK(buf);
	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &ioas));
	CHECK_OK(iommufd_ioas_map(fd, ioas, buf, len, &iova,
				  IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));

	/* The same IOVA again: -EEXIST, errno EEXIST too, and a message. */
	errno = 0;
	rc = iommufd_ioas_map(fd, ioas, buf, len, &iova,
			      IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
	CHECK(rc == -EEXIST && errno == EEXIST);
	tap_diag("mapping twice: %d, %s", rc, iommufd_strerror(rc));
	CHECK(strstr(iommufd_strerror(rc), "already mapped"));

	/* Nothing mapped there: -ENOENT; the output is left alone. */
	rc = iommufd_ioas_unmap(fd, ioas, 1ULL << 30, len, &unmapped);
	CHECK(rc == -ENOENT && unmapped == 99);
	/* No such object. */
	CHECK(iommufd_destroy(fd, NO_SUCH_ID) == -ENOENT);
	CHECK(iommufd_ioas_map(fd, NO_SUCH_ID, buf, len, &iova,
			       IOMMUFD_MAP_RW) == -ENOENT);
	/* Neither READABLE nor WRITEABLE. */
	CHECK(iommufd_ioas_map(fd, ioas, buf, len, &iova, 0) == -EINVAL);
	/* A range that wraps. */
	CHECK(iommufd_ioas_unmap(fd, ioas, 1ULL << 24, UINT64_MAX - 1,
				 NULL) == -EOVERFLOW);
	/* Required pointers, checked by the library itself. */
	CHECK(iommufd_ioas_alloc(fd, NULL) == -EINVAL);
	CHECK(iommufd_ioas_map(fd, ioas, buf, len, NULL,
			       IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA) ==
	      -EINVAL);
	CHECK(iommufd_ioas_iova_ranges(fd, ioas, NULL, &id, NULL) == -EINVAL);
	/* Not an iommufd at all. */
	CHECK(iommufd_ioas_alloc(-1, &id) == -EBADF && id == 0);

	/* errno is left alone by a success (CHECK_OK would clear it). */
	errno = 4321;
	rc = iommufd_ioas_unmap_all(fd, ioas, NULL);
	CHECK(rc == 0 && errno == 4321);
	iommufd_close(fd);
	CHECK(errno == 4321);
	munmap(buf, len);
}

TEST(strerror_messages)
{
	CHECK(strstr(iommufd_strerror(-EOPNOTSUPP), "not supported"));
	CHECK(strstr(iommufd_strerror(-EADDRINUSE), "reserved"));
	CHECK(strstr(iommufd_strerror(-ENOSPC), "no free IOVA"));
	CHECK(strstr(iommufd_strerror(-EBUSY), "in use"));
	CHECK(strstr(iommufd_strerror(-EMSGSIZE), "EMSGSIZE"));
	CHECK(strstr(iommufd_strerror(-E2BIG), "E2BIG"));
	/* The sign does not matter. */
	CHECK(!strcmp(iommufd_strerror(EEXIST), iommufd_strerror(-EEXIST)));
	CHECK(!strcmp(iommufd_strerror(0), "success"));
	/* Others fall back to strerror(). */
	CHECK(!strcmp(iommufd_strerror(-EROFS), strerror(EROFS)));
	CHECK(iommufd_strerror(-100000)[0] != '\0');
}

/* ------------------------------------------------------- IOVA ranges */

TEST(iova_ranges_many_and_allow)
{
	const uint64_t base = 1ULL << 30, step = 2 * page_size();
	struct iommu_iova_range *r, allow;
	uint64_t iova = 0;
	uint32_t ioas, n, i;
	size_t len = page_size();
	char *buf = buf_get(len);
	int fd, rc;

	CHECK(buf);
	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &ioas));
	CHECK_OK(iommufd_ioas_iova_ranges(fd, ioas, &r, &n, NULL));
	CHECK(n >= 1);
	free(r);

	/*
	 * 20 reserved pages with gaps in between make 21 usable ranges:
	 * more than the library first asks for, so it has to grow its
	 * array after EMSGSIZE.
	 */
	for (i = 0; i < 20; i++) {
		struct iommu_test_cmd cmd = {
			.op = IOMMU_TEST_OP_ADD_RESERVED,
			.id = ioas,
			.add_reserved = { .start = base + i * step,
					  .length = page_size() },
		};

		rc = test_cmd(fd, &cmd);
		if (rc == -ENOTTY || rc == -EOPNOTSUPP) {
			iommufd_close(fd);
			SKIP("IOMMU_TEST_CMD needs the module's selftest=1");
		}
		CHECK_OK(rc);
	}
	CHECK_OK(iommufd_ioas_iova_ranges(fd, ioas, &r, &n, NULL));
	if (n != 21)
		tap_diag("%u ranges", n);
	CHECK(n == 21);
	for (i = 1; i < n; i++)
		CHECK(r[i].start > r[i - 1].last);
	CHECK(r[1].start == base + page_size());
	free(r);

	/* Allowing a reserved IOVA is refused... */
	allow.start = base;
	allow.last = base + step - 1;
	rc = iommufd_ioas_allow_iovas(fd, ioas, &allow, 1);
	tap_diag("allowing a reserved range: %s", iommufd_strerror(rc));
	CHECK(rc == -EADDRINUSE);
	/* ... a free one is not, and then the automatic IOVA goes there. */
	allow.start = 1ULL << 20;
	allow.last = (1ULL << 21) - 1;
	CHECK_OK(iommufd_ioas_allow_iovas(fd, ioas, &allow, 1));
	CHECK_OK(iommufd_ioas_map(fd, ioas, buf, len, &iova, IOMMUFD_MAP_RW));
	CHECK(iova >= allow.start && iova + len - 1 <= allow.last);
	CHECK_OK(iommufd_ioas_allow_iovas(fd, ioas, NULL, 0));
	iommufd_close(fd);
	munmap(buf, len);
}

/* ------------------------------------------ devices (mock IOMMU) */

TEST(mock_device_hw_info_and_hwpt)
{
	struct iommu_test_cmd dev = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_test_hw_info info;
	struct iommu_iova_range *r;
	uint32_t ioas, hwpt, type = 0, len, n;
	uint64_t caps = 1;
	int fd, rc;

	fd = iommufd_open();
	CHECK(fd >= 0);
	CHECK_OK(iommufd_ioas_alloc(fd, &ioas));

	/* A mock device attached to the IOAS gives us a device id. */
	dev.id = ioas;
	rc = test_cmd(fd, &dev);
	if (rc == -ENOTTY || rc == -EOPNOTSUPP) {
		iommufd_close(fd);
		SKIP("IOMMU_TEST_CMD needs the module's selftest=1");
	}
	CHECK_OK(rc);

	memset(&info, 0xa5, sizeof(info));
	len = sizeof(info);
	CHECK_OK(iommufd_get_hw_info(fd, dev.mock_domain.out_idev_id, &info,
				     &len, &type, &caps));
	CHECK(type == IOMMU_HW_INFO_TYPE_SELFTEST);
	CHECK(len == sizeof(info));
	CHECK(info.test_reg == IOMMU_HW_INFO_SELFTEST_REGVAL);
	/* As upstream's mock: never ATS, dirty tracking unless NO_DIRTY. */
	CHECK(caps == (IOMMU_HW_CAP_DIRTY_TRACKING |
		       IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED));
	/* Without a buffer: only the type and the kernel's length. */
	len = 0;
	CHECK_OK(iommufd_get_hw_info(fd, dev.mock_domain.out_idev_id, NULL,
				     &len, &type, NULL));
	CHECK(len == sizeof(info));
	/* A device id that is not a device. */
	CHECK(iommufd_get_hw_info(fd, ioas, NULL, NULL, NULL, NULL) < 0);

	/* The mock IOMMU only translates its aperture. */
	CHECK_OK(iommufd_ioas_iova_ranges(fd, ioas, &r, &n, NULL));
	CHECK(n == 1 && r[0].start == MOCK_APERTURE_START &&
	      r[0].last == MOCK_APERTURE_LAST);
	free(r);

	/* A second page table for the same device, from the same IOAS. */
	CHECK_OK(iommufd_hwpt_alloc(fd, dev.mock_domain.out_idev_id, ioas, 0,
				    &hwpt));
	CHECK(hwpt != dev.mock_domain.out_hwpt_id);
	CHECK_OK(iommufd_destroy(fd, hwpt));
	CHECK(iommufd_hwpt_alloc(fd, NO_SUCH_ID, ioas, 0, &hwpt) == -ENOENT);

	/* The IOAS is in use while the device is attached to it. */
	rc = iommufd_destroy(fd, ioas);
	tap_diag("destroying an IOAS in use: %s", iommufd_strerror(rc));
	CHECK(rc == -EBUSY);
	CHECK_OK(iommufd_destroy(fd, dev.mock_domain.out_stdev_id));
	CHECK_OK(iommufd_destroy(fd, ioas));
	iommufd_close(fd);
}

int main(void)
{
	return tap_run();
}
