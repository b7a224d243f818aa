// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl dispatcher of /dev/iommu: request numbers, the size-prefixed
 * structure rules, object ids and their per-fd name space.
 */
#include <stdlib.h>
#include <sys/ioctl.h>

#include "util.h"

/* Command numbers and the minimum structure size the kernel accepts. */
static const struct {
	unsigned int nr;
	unsigned int min_size;
} cmd_min_sizes[] = {
	{ IOMMUFD_CMD_DESTROY, 8 },
	{ IOMMUFD_CMD_IOAS_ALLOC, 12 },
	{ IOMMUFD_CMD_IOAS_ALLOW_IOVAS, 24 },
	{ IOMMUFD_CMD_IOAS_COPY, 40 },
	{ IOMMUFD_CMD_IOAS_IOVA_RANGES, 32 },
	{ IOMMUFD_CMD_IOAS_MAP, 40 },
	{ IOMMUFD_CMD_IOAS_UNMAP, 24 },
	{ IOMMUFD_CMD_OPTION, 24 },
	{ IOMMUFD_CMD_VFIO_IOAS, 12 },
	{ IOMMUFD_CMD_HWPT_ALLOC, 24 },
	{ IOMMUFD_CMD_GET_HW_INFO, 32 },
	{ IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING, 16 },
	{ IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP, 48 },
	{ IOMMUFD_CMD_HWPT_INVALIDATE, 32 },
	{ IOMMUFD_CMD_FAULT_QUEUE_ALLOC, 16 },
	{ IOMMUFD_CMD_IOAS_MAP_FILE, 40 },
	{ IOMMUFD_CMD_VIOMMU_ALLOC, 24 },
	{ IOMMUFD_CMD_VDEVICE_ALLOC, 24 },
	{ IOMMUFD_CMD_IOAS_CHANGE_PROCESS, 8 },
	{ IOMMUFD_CMD_VEVENTQ_ALLOC, 28 },
	{ IOMMUFD_CMD_HW_QUEUE_ALLOC, 40 },
	{ IOMMUFD_CMD_BASE + 32, 68 },	/* IOMMU_TEST_CMD */
};

/*
 * Commands the module does not implement yet, with their full size and
 * the errno of a zeroed argument: the object id 0 that HWPT_INVALIDATE
 * and VDEVICE_ALLOC name is unknown, the other commands refuse type 0.
 */
static const struct {
	unsigned long request;
	unsigned int size;
	const char *name;
	int err;
} unimplemented[] = {
	{ IOMMU_HWPT_INVALIDATE, sizeof(struct iommu_hwpt_invalidate),
	  "HWPT_INVALIDATE", ENOENT },
	{ IOMMU_FAULT_QUEUE_ALLOC, sizeof(struct iommu_fault_alloc),
	  "FAULT_QUEUE_ALLOC", EOPNOTSUPP },
	{ IOMMU_VIOMMU_ALLOC, sizeof(struct iommu_viommu_alloc),
	  "VIOMMU_ALLOC", EOPNOTSUPP },
	{ IOMMU_VDEVICE_ALLOC, sizeof(struct iommu_vdevice_alloc),
	  "VDEVICE_ALLOC", ENOENT },
	{ IOMMU_VEVENTQ_ALLOC, sizeof(struct iommu_veventq_alloc),
	  "VEVENTQ_ALLOC", EOPNOTSUPP },
	{ IOMMU_HW_QUEUE_ALLOC, sizeof(struct iommu_hw_queue_alloc),
	  "HW_QUEUE_ALLOC", EOPNOTSUPP },
};

/* CHECK_ERRNO() that also names the command number on failure. */
#define CHECK_ERRNO_NR(expr, err, nr)                                   \
	do {                                                            \
		errno = 0;                                              \
		long __r = (long)(expr);                                \
		if (__r != -1 || errno != (err)) {                      \
			tap_diag("nr 0x%x: %s returned %ld errno %d "   \
				 "(%s), expected errno %d (%s)", (nr),   \
				 #expr, __r, errno, strerror(errno),     \
				 (err), strerror(err));                  \
			tap_failed_here = 1;                            \
			return;                                         \
		}                                                       \
	} while (0)

/* A zeroed argument buffer, big enough for any command, 8-byte aligned. */
union argbuf {
	__u32 size;
	__u64 align;
	unsigned char bytes[256];
};

TEST(struct_sizes_match_abi)
{
	/* The layouts the module expects (uapi-facts §5.3, §3.3). */
	CHECK(sizeof(struct iommu_destroy) == 8);
	CHECK(sizeof(struct iommu_ioas_alloc) == 12);
	CHECK(sizeof(struct iommu_ioas_allow_iovas) == 24);
	CHECK(sizeof(struct iommu_ioas_copy) == 40);
	CHECK(sizeof(struct iommu_ioas_iova_ranges) == 32);
	CHECK(sizeof(struct iommu_ioas_map) == 40);
	CHECK(sizeof(struct iommu_ioas_unmap) == 24);
	CHECK(sizeof(struct iommu_option) == 24);
	CHECK(sizeof(struct iommu_hwpt_alloc) == 48);
	CHECK(sizeof(struct iommu_hw_info) == 40);
	CHECK(sizeof(struct iommu_test_cmd) == 72);
	CHECK(offsetof(struct iommu_test_cmd, dirty.iova) == 24);
	CHECK(offsetof(struct iommu_test_cmd, dirty.uptr) == 48);
	CHECK(offsetof(struct iommu_test_cmd, dirty.out_nr_dirty) == 56);
	CHECK(sizeof(struct iommu_hwpt_set_dirty_tracking) == 16);
	CHECK(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48);
	CHECK(IOMMU_TEST_CMD == 0x3ba0);
	CHECK(IOMMU_IOAS_MAP == 0x3b85);
}

TEST(hw_info_and_mock_constants_match_abi)
{
	/* in_data_type and out_data_type share bytes 24..27. */
	CHECK(offsetof(struct iommu_hw_info, in_data_type) == 24);
	CHECK(offsetof(struct iommu_hw_info, out_data_type) == 24);
	CHECK(offsetof(struct iommu_hw_info, out_max_pasid_log2) == 28);
	CHECK(offsetof(struct iommu_hw_info, __reserved) == 29);
	CHECK(offsetof(struct iommu_hw_info, out_capabilities) == 32);
	CHECK(IOMMU_HW_INFO_FLAG_INPUT_TYPE == 1);
	CHECK(IOMMU_HW_INFO_TYPE_DEFAULT == 0);
	CHECK(IOMMU_HW_CAP_DIRTY_TRACKING == 1);
	CHECK(IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED == 8);
	/* The test command's mock (uapi-facts 3.4, 7.3). */
	CHECK(MOCK_PAGE_SIZE == 2048);
	CHECK(MOCK_HUGE_PAGE_SIZE == 1 << 20);
	CHECK(MOCK_FLAGS_DEVICE_NO_DIRTY == 1 && MOCK_FLAGS_DEVICE_PASID == 4);
	CHECK(MOCK_PASID_WIDTH == 20);
	CHECK(IOMMU_HWPT_DATA_SELFTEST == 0xdead);
	CHECK(IOMMU_TEST_IOTLB_DEFAULT == 0xbadbeef);
	CHECK(sizeof(struct iommu_hwpt_selftest) == 8);
	CHECK(offsetof(struct iommu_hwpt_selftest, pagetable_type) == 4);
	CHECK(MOCK_IOMMUPT_DEFAULT == 0 && MOCK_IOMMUPT_HUGE == 1);
}

TEST(unknown_request_enotty)
{
	union argbuf arg = { .size = sizeof(arg) };
	unsigned int nr;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_ERRNO(ioctl(fd, _IO(IOMMUFD_TYPE, 0x7f), &arg), ENOTTY);
	for (nr = 0x95; nr <= 0x9f; nr++) {
		memset(&arg, 0, sizeof(arg));
		arg.size = sizeof(arg);
		CHECK_ERRNO(ioctl(fd, _IO(IOMMUFD_TYPE, nr), &arg), ENOTTY);
	}
	CHECK_ERRNO(ioctl(fd, _IO(IOMMUFD_TYPE, 0xa1), &arg), ENOTTY);
	CHECK_ERRNO(ioctl(fd, _IO(IOMMUFD_TYPE, 0xff), &arg), ENOTTY);
	close(fd);
}

TEST(request_value_must_match_exactly)
{
	union argbuf arg = { .size = sizeof(struct iommu_ioas_alloc) };
	int fd;

	/*
	 * Right number, wrong type or with direction/size bits: not the
	 * IOAS_ALLOC request, so nothing is allocated.
	 */
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_ERRNO(ioctl(fd, _IO('x', IOMMUFD_CMD_IOAS_ALLOC), &arg), ENOTTY);
	CHECK_ERRNO(ioctl(fd, _IOWR(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC,
				    struct iommu_ioas_alloc), &arg), ENOTTY);
	/* The first real allocation still gets id 1. */
	__u32 id = 0;
	CHECK_OK(ioas_alloc(fd, &id));
	CHECK(id == 1);
	close(fd);
}

TEST(null_argument_efault)
{
	unsigned int i;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	for (i = 0; i < ARRAY_SIZE(cmd_min_sizes); i++) {
		unsigned long req = _IO(IOMMUFD_TYPE, cmd_min_sizes[i].nr);

		CHECK_ERRNO_NR(ioctl(fd, req, NULL), EFAULT,
			       cmd_min_sizes[i].nr);
	}
	close(fd);
}

TEST(size_below_minimum_einval)
{
	union argbuf arg;
	unsigned int i;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	for (i = 0; i < ARRAY_SIZE(cmd_min_sizes); i++) {
		unsigned long req = _IO(IOMMUFD_TYPE, cmd_min_sizes[i].nr);

		memset(&arg, 0, sizeof(arg));
		arg.size = cmd_min_sizes[i].min_size - 1;
		CHECK_ERRNO_NR(ioctl(fd, req, &arg), EINVAL,
			       cmd_min_sizes[i].nr);

		/* Size 0 is below every minimum. */
		memset(&arg, 0, sizeof(arg));
		CHECK_ERRNO_NR(ioctl(fd, req, &arg), EINVAL,
			       cmd_min_sizes[i].nr);
	}
	close(fd);
}

TEST(longer_struct_nonzero_tail_e2big)
{
	struct {
		struct iommu_ioas_alloc cmd;
		__u32 tail;
	} arg;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	memset(&arg, 0, sizeof(arg));
	arg.cmd.size = 16;
	arg.tail = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &arg), E2BIG);
	arg.tail = 0x80000000u;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &arg), E2BIG);

	/* Nothing was created: the first IOAS is still id 1. */
	memset(&arg, 0, sizeof(arg));
	arg.cmd.size = 16;
	CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOC, &arg));
	CHECK(arg.cmd.out_ioas_id == 1);
	CHECK(arg.tail == 0);
	CHECK_OK(iommu_destroy(fd, 1));
	close(fd);
}

TEST(longer_struct_zero_tail_accepted)
{
	static union {
		struct iommu_ioas_alloc cmd;
		unsigned char bytes[PAGE_SIZE];
	} big;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);

	/* 16 bytes, 4 of them zero past the kernel's structure. */
	struct {
		struct iommu_ioas_alloc cmd;
		__u32 tail;
	} arg;
	memset(&arg, 0, sizeof(arg));
	arg.cmd.size = 16;
	CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOC, &arg));
	CHECK(arg.cmd.out_ioas_id != 0);
	CHECK_OK(iommu_destroy(fd, arg.cmd.out_ioas_id));

	/* A page-sized structure: all-zero tail accepted ... */
	memset(&big, 0, sizeof(big));
	big.cmd.size = sizeof(big);
	CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOC, &big));
	CHECK(big.cmd.out_ioas_id != 0);
	CHECK_OK(iommu_destroy(fd, big.cmd.out_ioas_id));

	/* ... and one non-zero byte at the very end refused. */
	memset(&big, 0, sizeof(big));
	big.cmd.size = sizeof(big);
	big.bytes[sizeof(big) - 1] = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &big), E2BIG);
	close(fd);
}

TEST(short_struct_accepted_and_output_limited)
{
	__u32 ioas, stdev, hwpt, idev;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));

	/*
	 * HWPT_ALLOC with only the 24 bytes up to __reserved: the fields
	 * behind hold garbage that must not be read (data_len != 0 with
	 * data type NONE would be EINVAL).
	 */
	struct iommu_hwpt_alloc halloc;
	memset(&halloc, 0xa5, sizeof(halloc));
	halloc.size = 24;
	halloc.flags = 0;
	halloc.dev_id = idev;
	halloc.pt_id = ioas;
	halloc.__reserved = 0;
	CHECK_OK(ioctl(fd, IOMMU_HWPT_ALLOC, &halloc));
	CHECK(halloc.out_hwpt_id != 0);
	CHECK(halloc.data_len == 0xa5a5a5a5u);
	CHECK_OK(iommu_destroy(fd, halloc.out_hwpt_id));

	/*
	 * GET_HW_INFO with 32 bytes: out_capabilities lies past the end
	 * and must not be written.
	 */
	struct iommu_test_hw_info info;
	struct iommu_hw_info hi;
	memset(&hi, 0, sizeof(hi));
	hi.size = 32;
	hi.dev_id = idev;
	hi.data_len = sizeof(info);
	hi.data_uptr = (uintptr_t)&info;
	hi.out_capabilities = 0x5a5a5a5a5a5a5a5aULL;
	CHECK_OK(ioctl(fd, IOMMU_GET_HW_INFO, &hi));
	CHECK(hi.out_data_type == IOMMU_HW_INFO_TYPE_SELFTEST);
	CHECK(hi.out_capabilities == 0x5a5a5a5a5a5a5a5aULL);

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(unimplemented_commands_zeroed_args)
{
	union argbuf arg;
	unsigned int i;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	for (i = 0; i < ARRAY_SIZE(unimplemented); i++) {
		memset(&arg, 0, sizeof(arg));
		arg.size = unimplemented[i].size;
		errno = 0;
		long r = ioctl(fd, unimplemented[i].request, &arg);
		if (r != -1 || errno != unimplemented[i].err)
			tap_diag("%s: returned %ld errno %d (%s), want %s",
				 unimplemented[i].name, r, errno,
				 strerror(errno),
				 strerror(unimplemented[i].err));
		CHECK(r == -1 && errno == unimplemented[i].err);
	}
	close(fd);
}

TEST(ids_start_at_one)
{
	__u32 a, b;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &a));
	CHECK(a == 1);
	CHECK_OK(ioas_alloc(fd, &b));
	CHECK(b != 0 && b != a);
	CHECK_OK(iommu_destroy(fd, a));
	CHECK_OK(iommu_destroy(fd, b));
	close(fd);
}

TEST(destroy_unknown_id_enoent)
{
	__u32 id;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_ERRNO(iommu_destroy(fd, 0), ENOENT);
	CHECK_ERRNO(iommu_destroy(fd, 1), ENOENT);
	CHECK_ERRNO(iommu_destroy(fd, BAD_ID), ENOENT);
	CHECK_ERRNO(iommu_destroy(fd, UINT32_MAX), ENOENT);
	CHECK_OK(ioas_alloc(fd, &id));
	CHECK_ERRNO(iommu_destroy(fd, id + 1), ENOENT);
	CHECK_OK(iommu_destroy(fd, id));
	/* Destroyed twice: the second time it is gone. */
	CHECK_ERRNO(iommu_destroy(fd, id), ENOENT);
	close(fd);
}

TEST(destroy_ioas_in_use_ebusy)
{
	__u32 ioas, stdev, hwpt, idev;
	int fd;

	CHECK_SUB(open_mock_domain(&fd, &ioas, &stdev, &hwpt, &idev));
	CHECK_ERRNO(iommu_destroy(fd, ioas), EBUSY);
	/* Still there and usable after the refused destroy. */
	__u32 num = 0;
	CHECK_ERRNO(ioas_iova_ranges(fd, ioas, NULL, &num, NULL), EMSGSIZE);
	CHECK(num >= 1);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

TEST(fd_isolation)
{
	__u32 a_ioas, b_ioas;
	__u64 iova = MOCK_APERTURE_START;
	void *buf;
	int fda, fdb;

	buf = buf_alloc(PAGE_SIZE);
	CHECK(buf);
	fda = dev_iommu_open();
	CHECK(fda >= 0);
	fdb = dev_iommu_open();
	CHECK(fdb >= 0);

	CHECK_OK(ioas_alloc(fda, &a_ioas));
	CHECK_OK(ioas_map_fixed(fda, a_ioas, buf, PAGE_SIZE, iova));

	/* fd B has no objects: A's id means nothing there. */
	CHECK_ERRNO(iommu_destroy(fdb, a_ioas), ENOENT);
	CHECK_ERRNO(ioas_map_fixed(fdb, a_ioas, buf, PAGE_SIZE, iova), ENOENT);
	CHECK_ERRNO(ioas_unmap(fdb, a_ioas, iova, PAGE_SIZE, NULL), ENOENT);
	CHECK_ERRNO(option_get(fdb, IOMMU_OPTION_HUGE_PAGES, a_ioas, NULL),
		    ENOENT);
	CHECK_ERRNO(mock_domain(fdb, a_ioas, NULL, NULL, NULL), ENOENT);

	/* Each fd numbers its own objects from 1. */
	CHECK_OK(ioas_alloc(fdb, &b_ioas));
	CHECK(b_ioas == 1 && a_ioas == 1);
	CHECK_OK(iommu_destroy(fdb, b_ioas));
	/* Destroying B's object did not touch A's. */
	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap(fda, a_ioas, iova, PAGE_SIZE, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(iommu_destroy(fda, a_ioas));

	close(fdb);
	close(fda);
	buf_free(buf, PAGE_SIZE);
}

TEST(ioas_alloc_flags_eopnotsupp)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	cmd.flags = 1;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &cmd), EOPNOTSUPP);
	cmd.flags = 1u << 31;
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &cmd), EOPNOTSUPP);
	/* No object was left behind. */
	CHECK_ERRNO(iommu_destroy(fd, 1), ENOENT);
	close(fd);
}

TEST(test_cmd_unknown_op_eopnotsupp)
{
	struct iommu_test_cmd cmd;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = 99;
	CHECK_ERRNO(test_cmd(fd, &cmd), EOPNOTSUPP);
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = 0;
	CHECK_ERRNO(test_cmd(fd, &cmd), EOPNOTSUPP);
	close(fd);
}

int main(void)
{
	return tap_run();
}
