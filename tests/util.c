// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the /dev/iommu test programs; see util.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>

#include <libiommufd.h>

#include "util.h"

/* The layout every test command relies on (uapi-facts §3.3). */
_Static_assert(sizeof(struct iommu_test_cmd) == 72,
	       "struct iommu_test_cmd must be 72 bytes");
_Static_assert(offsetof(struct iommu_test_cmd, last) == 64,
	       "iommu_test_cmd.last must be at offset 64");

/*
 * Transparent huge pages would make anonymous buffers compound pages,
 * which the mock's MD_CHECK_REFS skips: turn them off for the whole
 * program (children inherit it) so reference checks mean something.
 * hugetlb mappings are not affected.
 */
__attribute__((constructor)) static void util_no_thp(void)
{
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
}

int from_lib(int rc)
{
	if (rc >= 0)
		return rc;
	errno = -rc;
	return -1;
}

int dev_iommu_open(void)
{
	return from_lib(iommufd_open());
}

int ioas_alloc(int fd, __u32 *ioas_id)
{
	__u32 id;
	int rc;

	/* The library wants somewhere to put the id; the wrapper does not. */
	rc = from_lib(iommufd_ioas_alloc(fd, &id));
	if (!rc && ioas_id)
		*ioas_id = id;
	return rc;
}

int iommu_destroy(int fd, __u32 id)
{
	return from_lib(iommufd_destroy(fd, id));
}

int ioas_map_flags(int fd, __u32 ioas_id, void *buf, __u64 length,
		   __u64 *iova, __u32 flags)
{
	/* A NULL *iova with FIXED_IOVA means IOVA 0, as the uAPI would. */
	uint64_t tmp = iova ? *iova : 0;
	int rc;

	rc = from_lib(iommufd_ioas_map(fd, ioas_id, buf, length, &tmp, flags));
	if (!rc && iova)
		*iova = tmp;
	return rc;
}

int ioas_map_fixed(int fd, __u32 ioas_id, void *buf, __u64 length, __u64 iova)
{
	return ioas_map_flags(fd, ioas_id, buf, length, &iova,
			      MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
}

int ioas_map_auto(int fd, __u32 ioas_id, void *buf, __u64 length, __u64 *iova)
{
	return ioas_map_flags(fd, ioas_id, buf, length, iova, MAP_RW);
}

/* __u64 is unsigned long long, the library's uint64_t unsigned long. */

int ioas_unmap(int fd, __u32 ioas_id, __u64 iova, __u64 length,
	       __u64 *unmapped)
{
	uint64_t n;
	int rc;

	rc = from_lib(iommufd_ioas_unmap(fd, ioas_id, iova, length, &n));
	if (!rc && unmapped)
		*unmapped = n;
	return rc;
}

int ioas_unmap_all(int fd, __u32 ioas_id, __u64 *unmapped)
{
	uint64_t n;
	int rc;

	rc = from_lib(iommufd_ioas_unmap_all(fd, ioas_id, &n));
	if (!rc && unmapped)
		*unmapped = n;
	return rc;
}

int ioas_copy(int fd, __u32 dst_ioas, __u64 *dst_iova, __u32 src_ioas,
	      __u64 src_iova, __u64 length, __u32 flags)
{
	uint64_t dst = *dst_iova;
	int rc;

	rc = from_lib(iommufd_ioas_copy(fd, dst_ioas, &dst, src_ioas,
					src_iova, length, flags));
	if (!rc)
		*dst_iova = dst;
	return rc;
}

/*
 * IOMMU_IOAS_IOVA_RANGES into the caller's array, exactly as the kernel
 * fills it: room for *num ranges, EMSGSIZE with the real count when that
 * is too little.
 */
static int ioas_iova_ranges_raw(int fd, __u32 ioas_id,
				struct iommu_iova_range *ranges, __u32 *num,
				__u64 *alignment)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = *num,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int rc;

	rc = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
	/* The count is reported on success and with EMSGSIZE. */
	if (!rc || errno == EMSGSIZE)
		*num = cmd.num_iovas;
	if (!rc && alignment)
		*alignment = cmd.out_iova_alignment;
	return rc;
}

int ioas_iova_ranges(int fd, __u32 ioas_id, struct iommu_iova_range *ranges,
		     __u32 *num, __u64 *alignment)
{
	struct iommu_iova_range *all;
	uint32_t count;
	uint64_t align;
	int rc;

	/*
	 * The library sizes its own array, so it never sees EMSGSIZE.  When
	 * the caller's array is too small, ask the kernel with that array
	 * instead: the tests of EMSGSIZE must get the kernel's answer (the
	 * count, and what it did to the array), not an imitation of it.
	 */
	rc = from_lib(iommufd_ioas_iova_ranges(fd, ioas_id, &all, &count,
					       &align));
	if (rc)
		return rc;
	if (count > *num) {
		free(all);
		return ioas_iova_ranges_raw(fd, ioas_id, ranges, num,
					    alignment);
	}
	if (count)
		memcpy(ranges, all, count * sizeof(*all));
	free(all);
	*num = count;
	if (alignment)
		*alignment = align;
	return 0;
}

int ioas_allow_iovas(int fd, __u32 ioas_id,
		     const struct iommu_iova_range *ranges, __u32 num)
{
	return from_lib(iommufd_ioas_allow_iovas(fd, ioas_id, ranges, num));
}

int option_get(int fd, __u32 option_id, __u32 object_id, __u64 *val)
{
	uint64_t v;
	int rc;

	rc = from_lib(iommufd_option_get(fd, option_id, object_id, &v));
	if (!rc && val)
		*val = v;
	return rc;
}

int option_set(int fd, __u32 option_id, __u32 object_id, __u64 val)
{
	return from_lib(iommufd_option_set(fd, option_id, object_id, val));
}

int hwpt_alloc(int fd, __u32 dev_id, __u32 pt_id, __u32 flags,
	       __u32 *out_hwpt_id)
{
	__u32 id;
	int rc;

	rc = from_lib(iommufd_hwpt_alloc(fd, dev_id, pt_id, flags, &id));
	if (!rc && out_hwpt_id)
		*out_hwpt_id = id;
	return rc;
}

int hwpt_alloc_data(int fd, __u32 dev_id, __u32 pt_id, __u32 flags,
		    __u32 data_type, const void *data, __u32 len,
		    __u32 *out_hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = len,
		.data_uptr = (uintptr_t)data,
	};
	int rc;

	rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!rc && out_hwpt_id)
		*out_hwpt_id = cmd.out_hwpt_id;
	return rc;
}

int hwpt_alloc_mock(int fd, __u32 dev_id, __u32 pt_id, __u32 pagetable_type,
		    __u32 *out_hwpt_id)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
		.pagetable_type = pagetable_type,
	};

	return hwpt_alloc_data(fd, dev_id, pt_id, 0, IOMMU_HWPT_DATA_SELFTEST,
			       &data, sizeof(data), out_hwpt_id);
}

int get_hw_info(int fd, __u32 dev_id, void *data, __u32 *data_len,
		__u32 *out_data_type, __u64 *out_caps)
{
	uint64_t caps;
	int rc;

	rc = from_lib(iommufd_get_hw_info(fd, dev_id, data, data_len,
					  out_data_type, &caps));
	if (!rc && out_caps)
		*out_caps = caps;
	return rc;
}

int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd);
}

int mock_domain_flags(int fd, __u32 pt_id, __u32 dev_flags, __u32 *stdev_id,
		      __u32 *hwpt_id, __u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = pt_id,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};
	int rc;

	rc = test_cmd(fd, &cmd);
	if (rc)
		return rc;
	if (stdev_id)
		*stdev_id = cmd.mock_domain_flags.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain_flags.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain_flags.out_idev_id;
	return 0;
}

int mock_domain(int fd, __u32 pt_id, __u32 *stdev_id, __u32 *hwpt_id,
		__u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = pt_id,
	};
	int rc;

	rc = test_cmd(fd, &cmd);
	if (rc)
		return rc;
	if (stdev_id)
		*stdev_id = cmd.mock_domain.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

int mock_domain_replace(int fd, __u32 stdev_id, __u32 *pt_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev_id,
		.mock_domain_replace = { .pt_id = *pt_id },
	};
	int rc;

	rc = test_cmd(fd, &cmd);
	if (!rc)
		*pt_id = cmd.mock_domain_replace.pt_id;
	return rc;
}

int add_reserved(int fd, __u32 ioas_id, __u64 start, __u64 length)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = ioas_id,
		.add_reserved = { .start = start, .length = length },
	};

	return test_cmd(fd, &cmd);
}

int check_map(int fd, __u32 hwpt_id, __u64 iova, const void *uptr,
	      __u64 length)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt_id,
		.check_map = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)uptr,
		},
	};

	return test_cmd(fd, &cmd);
}

int check_refs(int fd, const void *uptr, __u64 length, __u32 refs)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = {
			.length = length,
			.uptr = (uintptr_t)uptr,
			.refs = refs,
		},
	};

	return test_cmd(fd, &cmd);
}

int create_access(int fd, __u32 ioas_id, __u32 flags, int *access_fd)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas_id,
		.create_access = { .flags = flags },
	};
	int rc;

	rc = test_cmd(fd, &cmd);
	if (!rc && access_fd)
		*access_fd = (int)cmd.create_access.out_access_fd;
	return rc;
}

int access_pages(int fd, int access_fd, __u64 iova, const void *uptr,
		 __u64 length, __u32 flags, __u32 *pages_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = (__u32)access_fd,
		.access_pages = {
			.flags = flags,
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)uptr,
		},
	};
	int rc;

	rc = test_cmd(fd, &cmd);
	if (!rc && pages_id)
		*pages_id = cmd.access_pages.out_access_pages_id;
	return rc;
}

int destroy_access_pages(int fd, int access_fd, __u32 pages_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		.id = (__u32)access_fd,
		.destroy_access_pages = { .access_pages_id = pages_id },
	};

	return test_cmd(fd, &cmd);
}

int access_rw(int fd, int access_fd, __u64 iova, void *buf, __u64 length,
	      __u32 flags)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.id = (__u32)access_fd,
		.access_rw = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)buf,
			.flags = flags,
		},
	};

	return test_cmd(fd, &cmd);
}

int set_temp_memory_limit(int fd, __u32 limit)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
		.memory_limit = { .limit = limit },
	};

	return test_cmd(fd, &cmd);
}

int access_replace_ioas(int fd, int access_fd, __u32 ioas_id)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
		.id = (__u32)access_fd,
		.access_replace_ioas = { .ioas_id = ioas_id },
	};

	return test_cmd(fd, &cmd);
}

int dev_check_cache(int fd, __u32 idev_id, __u32 cache_id, __u32 value)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_DEV_CHECK_CACHE,
		.id = idev_id,
		.check_dev_cache = { .id = cache_id, .cache = value },
	};

	return test_cmd(fd, &cmd);
}

int dmabuf_get(int fd, __u32 length, __u32 open_flags)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_DMABUF_GET,
		.dmabuf_get = { .length = length, .open_flags = open_flags },
	};

	/* The new fd is the ioctl's return value. */
	return test_cmd(fd, &cmd);
}

int dmabuf_revoke(int fd, int dmabuf_fd, bool revoked)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_DMABUF_REVOKE,
		.dmabuf_revoke = { .dmabuf_fd = dmabuf_fd, .revoked = revoked },
	};

	return test_cmd(fd, &cmd);
}

int ioas_map_file(int fd, __u32 ioas_id, int file_fd, __u64 start,
		  __u64 length, __u64 *iova, __u32 flags)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.fd = file_fd,
		.start = start,
		.length = length,
		.iova = iova ? *iova : 0,
	};
	int rc = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);

	if (!rc && iova)
		*iova = cmd.iova;
	return rc;
}

int set_dirty(int fd, __u32 hwpt_id, __u32 flags)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.hwpt_id = hwpt_id,
	};

	return ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

int get_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
	      __u64 page_size, void *data, __u32 flags)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)data,
	};

	return ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

int mock_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
	       __u64 page_size, const void *bitmap, __u64 *nr)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_DIRTY,
		.id = hwpt_id,
		.dirty = {
			.iova = iova,
			.length = length,
			.page_size = page_size,
			.uptr = (uintptr_t)bitmap,
		},
	};
	int rc = test_cmd(fd, &cmd);

	if (!rc && nr)
		*nr = cmd.dirty.out_nr_dirty;
	return rc;
}

void buf_fill(void *buf, size_t length, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < length; i++)
		p[i] = (unsigned char)((i * 31 + (i >> 12) * 7 + seed) ^
				       (seed >> 8));
}

static void *buf_mmap(size_t length, int flags, int fd)
{
	void *p;

	p = mmap(NULL, length, PROT_READ | PROT_WRITE, flags | MAP_POPULATE,
		 fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Writing every page also breaks any copy-on-write sharing. */
	buf_fill(p, length, (unsigned int)((uintptr_t)p >> 12));
	return p;
}

void *buf_alloc(size_t length)
{
	return buf_mmap(length, MAP_PRIVATE | MAP_ANONYMOUS, -1);
}

void *buf_alloc_shared(size_t length)
{
	return buf_mmap(length, MAP_SHARED | MAP_ANONYMOUS, -1);
}

void *buf_alloc_memfd(size_t length, int *memfd)
{
	void *p;
	int mfd;

	mfd = memfd_create("iommufd-test", MFD_CLOEXEC);
	if (mfd < 0)
		return NULL;
	if (ftruncate(mfd, (off_t)length)) {
		close(mfd);
		return NULL;
	}
	p = buf_mmap(length, MAP_SHARED, mfd);
	if (!p) {
		close(mfd);
		return NULL;
	}
	*memfd = mfd;
	return p;
}

void *buf_alloc_huge(size_t length)
{
	return buf_mmap(length, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
}

void buf_free(void *buf, size_t length)
{
	if (buf)
		munmap(buf, length);
}

void *unmapped_va(size_t length)
{
	void *p;

	p = mmap(NULL, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	munmap(p, length);
	return p;
}

int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	unsigned int idx = CAP_TO_INDEX(CAP_IPC_LOCK);
	__u32 mask = CAP_TO_MASK(CAP_IPC_LOCK);

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[idx].effective &= ~mask;
	data[idx].permitted &= ~mask;
	data[idx].inheritable &= ~mask;
	return (int)syscall(SYS_capset, &hdr, data);
}

int set_memlock_rlimit(size_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

long proc_status_kb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long val = -1;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			val = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

pid_t fork_flushed(void)
{
	fflush(stdout);
	fflush(stderr);
	return fork();
}

int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		tap_diag("child %d killed by signal %d", (int)pid,
			 WTERMSIG(status));
	else if (WIFEXITED(status))
		tap_diag("child %d exited with %d", (int)pid,
			 WEXITSTATUS(status));
	errno = ECHILD;
	return -1;
}

uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

long module_stat(const char *key)
{
	size_t n = strlen(key);
	char line[128];
	long v = -1;
	FILE *f = fopen("/sys/kernel/debug/iommufd/stats", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

bool module_all_released(void)
{
	return module_stat("objects") == 0 &&
	       module_stat("pinned_pages") == 0 &&
	       module_stat("pin_state_bytes") == 0;
}

int modfault_arm(int nth)
{
	char buf[16];
	int fd = open(MODFAULT_NTH, O_WRONLY);
	int len = snprintf(buf, sizeof(buf), "%d", nth);
	int rc = (fd >= 0 && write(fd, buf, len) == len) ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

int modfault_left(void)
{
	char buf[16] = "";
	int fd = open(MODFAULT_NTH, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	if (fd >= 0)
		close(fd);
	return atoi(buf);
}

bool modfault_fired(void)
{
	return modfault_left() <= 0;
}

static int kfault_fd = -1;

static int fault_attr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n = fd >= 0 ? write(fd, val, strlen(val)) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

int kfault_setup(void)
{
	static const char *const attrs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
		{ "fail_usercopy/verbose", "0" },
	};
	char path[128];
	size_t i;

	kfault_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (kfault_fd < 0)
		return -1;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s", attrs[i][0]);
		if (fault_attr(path, attrs[i][1])) {
			kfault_teardown();
			return -1;
		}
	}
	return 0;
}

int kfault_arm(int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", nth);

	return pwrite(kfault_fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * Reading gives what was left of the count (0: it fired).  The read's own
 * copy-out is an injection point too: when that one fails, the count
 * reached it, so the call under test did not fire.  The write of 0 may
 * itself be failed by a count that had 1 left; it is retried.
 */
bool kfault_disarm(void)
{
	char buf[16] = "";
	bool fired = pread(kfault_fd, buf, sizeof(buf) - 1, 0) > 0 &&
		     atoi(buf) == 0;

	while (pwrite(kfault_fd, "0", 1, 0) != 1 && errno == EFAULT)
		;
	return fired;
}

void kfault_teardown(void)
{
	if (kfault_fd >= 0)
		close(kfault_fd);
	kfault_fd = -1;
}

int hwpt_enforce_cc(__u32 hwpt_id)
{
	FILE *f = fopen("/sys/kernel/debug/iommufd/state", "r");
	int pid, found = 0, v = -1, cc;
	unsigned int id;
	bool mine = false;
	char line[512];
	const char *p;

	while (f && fgets(line, sizeof(line), f)) {
		/* Each context's objects follow its line. */
		if (sscanf(line, "ctx id=%*u pid=%d", &pid) == 1)
			mine = pid == getpid();
		else if (mine &&
			 sscanf(line, "hwpt ctx=%*u id=%u", &id) == 1 &&
			 id == hwpt_id && (p = strstr(line, " enforce_cc=")) &&
			 sscanf(p, " enforce_cc=%d", &cc) == 1) {
			v = cc;
			found++;
		}
	}
	if (f)
		fclose(f);
	return found == 1 ? v : -1;
}

const char *lone_edu_bdf(int *group)
{
	static char bdf[64];
	int g = -1;
	FILE *p = popen("for d in /sys/bus/pci/devices/*; do "
			"grep -q 0x11e8 $d/device 2>/dev/null || continue; "
			"[ $(ls $d/iommu_group/devices | wc -l) = 1 ] || continue; "
			"echo $(basename $d) $(basename $(readlink $d/iommu_group)); "
			"break; done", "r");

	bdf[0] = 0;
	if (!p)
		return NULL;
	if (fscanf(p, "%63s %d", bdf, &g) != 2)
		bdf[0] = 0;
	pclose(p);
	if (group)
		*group = g;
	return bdf[0] ? bdf : NULL;
}

int uffd_page(void **page)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	void *p;

	if (uffd < 0)
		return -1;
	p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (unsigned long)p;
	reg.range.len = PAGE_SIZE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (p == MAP_FAILED || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		close(uffd);
		return -1;
	}
	*page = p;
	return uffd;
}

int uffd_wait_fault(int uffd, int ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1 || read(uffd, &msg, sizeof(msg)) < 0)
		return -1;
	return 0;
}

int uffd_resolve(int uffd, void *page, const void *fill)
{
	struct uffdio_copy copy = {
		.dst = (unsigned long)page,
		.src = (unsigned long)fill,
		.len = PAGE_SIZE,
	};

	return ioctl(uffd, UFFDIO_COPY, &copy);
}

int kmod_load(const char *name)
{
	char path[256];
	struct utsname u;
	int fd, rc;

	uname(&u);
	snprintf(path, sizeof(path), "/lib/modules/%s/%s.ko", u.release, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return rc;
}

int kmod_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

const char *const domain_variants[] = {
	"no_domain", "one_domain", "two_domains", NULL
};

void dom_env_setup_fd(struct dom_env *e, int fd)
{
	__u32 hwpt;

	memset(e, 0, sizeof(*e));
	e->afd = -1;
	e->ndomains = tap_variant < 0 ? 1 : tap_variant;
	e->own_fd = fd < 0;
	e->fd = e->own_fd ? dev_iommu_open() : fd;
	CHECK(e->fd >= 0);
	CHECK_OK(ioas_alloc(e->fd, &e->ioas));
	if (!e->ndomains) {
		CHECK_OK(create_access(e->fd, e->ioas, 0, &e->afd));
		return;
	}
	CHECK_OK(mock_domain(e->fd, e->ioas, &e->stdev, &e->hwpt, &e->idev));
	CHECK(e->stdev && e->hwpt && e->idev);
	if (e->ndomains < 2)
		return;
	/*
	 * A second mock device attached to the IOAS would share the first
	 * one's automatic domain: allocate the second domain explicitly.
	 */
	CHECK_OK(hwpt_alloc(e->fd, e->idev, e->ioas, 0, &e->hwpt2));
	CHECK(e->hwpt2 != e->hwpt);
	CHECK_OK(mock_domain(e->fd, e->hwpt2, &e->stdev2, &hwpt, NULL));
	CHECK(hwpt == e->hwpt2 && e->stdev2 != e->stdev);
}

void dom_env_setup(struct dom_env *e)
{
	dom_env_setup_fd(e, -1);
}

void dom_env_teardown(struct dom_env *e)
{
	if (e->stdev2)
		CHECK_OK(iommu_destroy(e->fd, e->stdev2));
	if (e->hwpt2)
		CHECK_OK(iommu_destroy(e->fd, e->hwpt2));
	if (e->stdev)
		CHECK_OK(iommu_destroy(e->fd, e->stdev));
	if (e->afd >= 0)
		CHECK_OK(close(e->afd));
	CHECK_OK(iommu_destroy(e->fd, e->ioas));
	if (e->own_fd)
		CHECK_OK(close(e->fd));
}

unsigned int dom_env_refs(const struct dom_env *e, unsigned int mappings)
{
	return e->ndomains ? mappings : 0;
}

int dom_env_check_map(struct dom_env *e, __u64 iova, const void *buf,
		      size_t len)
{
	char *tmp;
	int rc;

	if (e->ndomains) {
		if (check_map(e->fd, e->hwpt, iova, buf, len))
			return -1;
		return e->ndomains < 2 ? 0 :
			check_map(e->fd, e->hwpt2, iova, buf, len);
	}
	tmp = malloc(len);
	if (!tmp)
		return -1;
	rc = access_rw(e->fd, e->afd, iova, tmp, len, 0);
	if (rc && errno == ENOENT)
		errno = EINVAL;
	if (!rc && memcmp(tmp, buf, len)) {
		errno = EIO;
		rc = -1;
	}
	free(tmp);
	return rc;
}

__u64 dom_env_first(const struct dom_env *e)
{
	return e->ndomains ? MOCK_APERTURE_START : 0;
}

__u64 dom_env_last(const struct dom_env *e)
{
	return e->ndomains ? MOCK_APERTURE_LAST : UINT64_MAX;
}

__u64 dom_env_align(const struct dom_env *e)
{
	return e->ndomains ? MOCK_PAGE_SIZE : 1;
}

int change_process(int fd)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd) };

	return ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd);
}

int map_file_fixed(int fd, __u32 ioas_id, int file_fd, __u64 start,
		   __u64 length, __u64 iova)
{
	return ioas_map_file(fd, ioas_id, file_fd, start, length, &iova,
			     MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
}

/* The most fault points a walk tries: one that reaches more is a defect. */
#define FAULT_WALK_MODULE_MAX 1000
#define FAULT_WALK_KERNEL_MAX 2000

static void fault_close(int fd, int afd)
{
	if (afd >= 0)
		close(afd);
	close(fd);
}

/* One run of @sc on a new fd: 0 with the result in *@line, or -1. */
static int fault_run(struct fault_scenario *sc, int *line)
{
	int fd = dev_iommu_open(), afd = -1;

	if (fd < 0)
		return -1;
	*line = sc->run(fd, sc->arg, &afd);
	fault_close(fd, afd);
	return 0;
}

/* After a run: nothing left in the module, none of the pages pinned. */
static bool fault_left_nothing(struct fault_scenario *sc)
{
	return module_all_released() &&
	       (!sc->len || !check_refs(sc->chk, sc->buf, sc->len, 0));
}

int fault_scenario_steps(struct fault_scenario *sc)
{
	int line;

	sc->kw->step = -1;
	sc->kw->cur = 0;
	if (fault_run(sc, &line))
		return -1;
	if (line)
		tap_diag("the scenario failed at line %d with nothing armed",
			 line);
	return line ? -1 : sc->kw->cur;
}

int fault_walk_module(struct fault_scenario *sc)
{
	int n, line, fd, afd, failures = 0;
	bool hit;

	for (n = 1; n < FAULT_WALK_MODULE_MAX; n++) {
		/* Opened before arming: only the scenario's points count. */
		fd = dev_iommu_open();
		if (fd < 0 || modfault_arm(n))
			return -1;
		afd = -1;
		line = sc->run(fd, sc->arg, &afd);
		hit = modfault_fired();
		if (modfault_arm(0))
			return -1;
		fault_close(fd, afd);
		if (!fault_left_nothing(sc)) {
			tap_diag("failure point %d (step at line %d): %ld objects, %ld pinned pages, %ld bytes of pin state left",
				 n, line, module_stat("objects"),
				 module_stat("pinned_pages"),
				 module_stat("pin_state_bytes"));
			return -1;
		}
		if (!hit) {
			/* Nothing failed: the whole scenario must work. */
			if (line) {
				tap_diag("no injected failure, yet line %d failed",
					 line);
				return -1;
			}
			break;
		}
		failures++;
	}
	return failures;
}

int fault_walk_kernel_step(struct fault_scenario *sc, int step)
{
	struct kfault_walk *kw = sc->kw;
	int n, line;

	for (n = 1; n < FAULT_WALK_KERNEL_MAX; n++) {
		kw->step = step;
		kw->nth = n;
		kw->cur = 0;
		kw->fired = false;
		if (fault_run(sc, &line))
			return -1;
		kw->step = -1;
		if (!fault_left_nothing(sc)) {
			tap_diag("step %d, kernel fault point %d (step at line %d): %ld objects, %ld pinned pages, %ld bytes of pin state left",
				 step, n, line, module_stat("objects"),
				 module_stat("pinned_pages"),
				 module_stat("pin_state_bytes"));
			return -1;
		}
		if (kw->broken) {
			tap_diag("cannot arm /proc/thread-self/fail-nth: %s",
				 strerror(errno));
			return -1;
		}
		if (!kw->fired) {
			if (line) {
				tap_diag("step %d: no injected failure, yet line %d failed",
					 step, line);
				return -1;
			}
			return n - 1;
		}
	}
	tap_diag("step %d: more than %d fault points", step,
		 FAULT_WALK_KERNEL_MAX);
	return -1;
}

int run_child(int (*fn)(int), int arg)
{
	pid_t pid = fork_flushed();
	int line;

	if (pid < 0)
		return -1;
	if (!pid) {
		signal(SIGPIPE, SIG_IGN);
		line = fn(arg);
		if (line)
			printf("# pid %d: the check at line %d failed (errno %d %s)\n",
			       (int)getpid(), line, errno, strerror(errno));
		fflush(stdout);
		_exit(line != 0);
	}
	return wait_child(pid);
}

void ioas_env_setup(struct ioas_env *e, bool domain)
{
	memset(e, 0, sizeof(*e));
	e->fd = dev_iommu_open();
	CHECK(e->fd >= 0);
	CHECK_OK(ioas_alloc(e->fd, &e->ioas));
	if (domain)
		CHECK_OK(mock_domain(e->fd, e->ioas, &e->stdev, &e->hwpt,
				     NULL));
}

int uffd_stuck_page(struct uffd_stuck *u)
{
	u->resolved = false;
	u->uffd = uffd_page(&u->page);
	return u->uffd < 0 ? -1 : 0;
}

int uffd_stuck_start(struct uffd_stuck *u, void *(*fn)(void *), void *arg)
{
	if (pthread_create(&u->th, NULL, fn, arg))
		return -1;
	if (!uffd_wait_fault(u->uffd, 5000))
		return 0;
	pthread_join(u->th, NULL);
	return -1;
}

int uffd_stuck_resolve(struct uffd_stuck *u)
{
	static char fill[PAGE_SIZE];

	if (u->resolved)
		return 0;
	u->resolved = true;
	memset(fill, 0x5a, sizeof(fill));
	return uffd_resolve(u->uffd, u->page, fill);
}

int uffd_stuck_release(struct uffd_stuck *u)
{
	int rc = uffd_stuck_resolve(u);

	pthread_join(u->th, NULL);
	close(u->uffd);
	return rc;
}

long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

void open_mock_domain(int *fd, __u32 *ioas, __u32 *stdev, __u32 *hwpt,
		      __u32 *idev)
{
	*fd = dev_iommu_open();
	CHECK(*fd >= 0);
	CHECK_OK(ioas_alloc(*fd, ioas));
	CHECK_OK(mock_domain(*fd, *ioas, stdev, hwpt, idev));
}
