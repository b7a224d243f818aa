// SPDX-License-Identifier: GPL-2.0
/*
 * Page pinning and its accounting: lazy pins, VmPin / VmLck,
 * RLIMIT_MEMLOCK in both accounting modes and CAP_IPC_LOCK, release of
 * every pin when the fd is closed or its process dies, the temporary
 * memory limit of the pin batches, and mappings made by another process.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "util.h"

#define IOVA MOCK_APERTURE_START

/* A /proc/self/status value in kB must be @want. */
#define CHECK_STATUS(field, want)                                       \
	do {                                                            \
		long __v = proc_status_kb(field);                       \
		if (__v != (long)(want))                                \
			tap_diag("%s is %ld kB, expected %ld kB", field, \
				 __v, (long)(want));                     \
		CHECK(__v == (long)(want));                             \
	} while (0)

#define CHILD_STATUS(field, want)                                       \
	do {                                                            \
		long __v = proc_status_kb(field);                       \
		if (__v != (long)(want))                                \
			printf("# child: %s is %ld kB, expected %ld "   \
			       "kB\n", field, __v, (long)(want));       \
		CHILD_CHECK(__v == (long)(want));                       \
	} while (0)

TEST(pins_are_lazy)
{
	const size_t len = 8 * PAGE_SIZE;
	__u32 ioas, stdev, hwpt;
	void *buf;
	int fd;

	buf = buf_alloc(len);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));

	/* No domain, no access: the map pins nothing. */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(check_refs(fd, buf, len, 0));

	/* A domain needs the pages: pinned once. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(check_map(fd, hwpt, IOVA, buf, len));

	/* Its device gone, nothing needs them any more. */
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(check_refs(fd, buf, len, 0));

	/* Again, and this time the unmap drops the pins. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(check_refs(fd, buf, len, 1));
	CHECK_OK(ioas_unmap(fd, ioas, IOVA, len, NULL));
	CHECK_OK(check_refs(fd, buf, len, 0));

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, len);
}

TEST(vmpin_follows_pins)
{
	const size_t len = 16 * PAGE_SIZE;
	const long kb = (long)(len / 1024);
	__u32 ioas, stdev, stdev2;
	long base;
	void *buf;
	int fd;

	base = proc_status_kb("VmPin");
	if (base < 0)
		SKIP("no VmPin in /proc/self/status");
	buf = buf_alloc(len);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_STATUS("VmPin", base);

	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_STATUS("VmPin", base + kb);
	/* A second domain shares the pin: no second charge. */
	CHECK_OK(mock_domain(fd, ioas, &stdev2, NULL, NULL));
	CHECK_STATUS("VmPin", base + kb);

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_STATUS("VmPin", base + kb);
	CHECK_OK(iommu_destroy(fd, stdev2));
	CHECK_STATUS("VmPin", base);

	/* Unmapping a pinned area gives the charge back too. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_STATUS("VmPin", base + kb);
	/* A refused partial unmap changes nothing. */
	CHECK_ERRNO(ioas_unmap(fd, ioas, IOVA, len / 2, NULL), ENOENT);
	CHECK_STATUS("VmPin", base + kb);
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_STATUS("VmPin", base);

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, len);
}

/*
 * In a child: RLIMIT_MEMLOCK of 16 pages, CAP_IPC_LOCK dropped, the
 * given accounting mode.  8 pages fit, 16 more do not, and a refused map
 * leaves nothing behind.
 */
static void rlimit_child(bool per_process)
{
	const size_t limit = 16 * PAGE_SIZE;
	__u64 unmapped, mode = 99;
	long vmlck0, vmlck, vmpin0;
	__u32 ioas, stdev;
	char *buf;
	int fd;

	buf = buf_alloc(32 * PAGE_SIZE);
	CHILD_CHECK(buf);
	fd = dev_iommu_open();
	CHILD_CHECK(fd >= 0);
	if (per_process)
		CHILD_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	CHILD_OK(option_get(fd, IOMMU_OPTION_RLIMIT_MODE, 0, &mode));
	CHILD_CHECK(mode == (per_process ? 1 : 0));

	CHILD_OK(drop_cap_ipc_lock());
	CHILD_OK(set_memlock_rlimit(limit));

	CHILD_OK(ioas_alloc(fd, &ioas));
	CHILD_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	vmlck0 = proc_status_kb("VmLck");
	vmpin0 = proc_status_kb("VmPin");
	CHILD_CHECK(vmlck0 >= 0 && vmpin0 >= 0);

	CHILD_OK(ioas_map_fixed(fd, ioas, buf, 8 * PAGE_SIZE, IOVA));
	CHILD_OK(check_refs(fd, buf, 8 * PAGE_SIZE, 1));
	CHILD_STATUS("VmPin", vmpin0 + 32);
	/* Only the per-process mode charges the mm's locked_vm. */
	vmlck = per_process ? vmlck0 + 32 : vmlck0;
	CHILD_STATUS("VmLck", vmlck);

	/* 8 + 16 pages is over the 16-page limit. */
	CHILD_ERRNO(ioas_map_fixed(fd, ioas, buf + 8 * PAGE_SIZE,
				   16 * PAGE_SIZE, IOVA + (1UL << 20)), ENOMEM);
	CHILD_ERRNO(ioas_unmap(fd, ioas, IOVA + (1UL << 20), 16 * PAGE_SIZE,
			       NULL), ENOENT);
	CHILD_OK(check_refs(fd, buf + 8 * PAGE_SIZE, 16 * PAGE_SIZE, 0));
	CHILD_STATUS("VmPin", vmpin0 + 32);
	CHILD_STATUS("VmLck", vmlck);

	/* The same with the kernel choosing the IOVA. */
	CHILD_ERRNO(ioas_map_auto(fd, ioas, buf + 8 * PAGE_SIZE,
				  16 * PAGE_SIZE, NULL), ENOMEM);
	unmapped = 0;
	CHILD_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHILD_CHECK(unmapped == 8 * PAGE_SIZE);
	CHILD_STATUS("VmPin", vmpin0);
	CHILD_STATUS("VmLck", vmlck0);

	/* With the charge given back, 12 pages fit. */
	CHILD_OK(ioas_map_fixed(fd, ioas, buf + 8 * PAGE_SIZE, 12 * PAGE_SIZE,
				IOVA + (1UL << 20)));
	CHILD_OK(check_refs(fd, buf + 8 * PAGE_SIZE, 12 * PAGE_SIZE, 1));
	CHILD_STATUS("VmPin", vmpin0 + 48);

	/* The charge applies to pins, not to maps: attaching a domain to
	 * a bigger lazy mapping is refused too. */
	__u32 ioas2;
	CHILD_OK(ioas_alloc(fd, &ioas2));
	CHILD_OK(ioas_map_fixed(fd, ioas2, buf, 8 * PAGE_SIZE, IOVA));
	CHILD_ERRNO(mock_domain(fd, ioas2, NULL, NULL, NULL), ENOMEM);
	CHILD_OK(check_refs(fd, buf, 8 * PAGE_SIZE, 0));
	CHILD_OK(iommu_destroy(fd, ioas2));

	CHILD_OK(iommu_destroy(fd, stdev));
	CHILD_OK(check_refs(fd, buf, 32 * PAGE_SIZE, 0));
	CHILD_STATUS("VmPin", vmpin0);
	CHILD_STATUS("VmLck", vmlck0);
	CHILD_OK(iommu_destroy(fd, ioas));
	CHILD_OK(close(fd));
	_exit(0);
}

TEST(rlimit_memlock_per_user)
{
	CHECK_IN_CHILD(rlimit_child(false));
}

TEST(rlimit_memlock_per_process)
{
	CHECK_IN_CHILD(rlimit_child(true));
}

/*
 * In a child: a map spanning several 2 MiB chunks is charged for all its
 * new pins at once, so a map over the limit fails before pinning anything,
 * and pages already pinned (shared by IOAS_COPY) are not charged again.
 */
static void rlimit_multi_chunk_child(void)
{
	const size_t chunk = 512 * PAGE_SIZE, limit = 600 * PAGE_SIZE;
	__u32 ioas, ioas2, stdev, stdev2;
	__u64 dst;
	long vmpin0, vmlck0;
	char *buf;
	int fd;

	buf = buf_alloc(3 * chunk);
	CHILD_CHECK(buf);
	fd = dev_iommu_open();
	CHILD_CHECK(fd >= 0);
	CHILD_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	CHILD_OK(drop_cap_ipc_lock());
	CHILD_OK(set_memlock_rlimit(limit));
	CHILD_OK(ioas_alloc(fd, &ioas));
	CHILD_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	vmpin0 = proc_status_kb("VmPin");
	vmlck0 = proc_status_kb("VmLck");
	CHILD_CHECK(vmpin0 >= 0 && vmlck0 >= 0);

	/* Three chunks: the first would fit, the whole does not. */
	CHILD_ERRNO(ioas_map_fixed(fd, ioas, buf, 3 * chunk, IOVA), ENOMEM);
	CHILD_OK(check_refs(fd, buf, 3 * chunk, 0));
	CHILD_STATUS("VmPin", vmpin0);
	CHILD_STATUS("VmLck", vmlck0);

	/* One chunk fits; copied to a second IOAS and domain, it stays
	 * charged once, so 80 more pages still fit. */
	CHILD_OK(ioas_map_fixed(fd, ioas, buf, chunk, IOVA));
	CHILD_OK(ioas_alloc(fd, &ioas2));
	CHILD_OK(mock_domain(fd, ioas2, &stdev2, NULL, NULL));
	dst = IOVA;
	CHILD_OK(ioas_copy(fd, ioas2, &dst, ioas, IOVA, chunk,
			   IOMMU_IOAS_MAP_FIXED_IOVA | MAP_RW));
	CHILD_STATUS("VmPin", vmpin0 + 2048);
	CHILD_STATUS("VmLck", vmlck0 + 2048);
	CHILD_OK(ioas_map_fixed(fd, ioas, buf + chunk, 80 * PAGE_SIZE,
				IOVA + chunk));
	CHILD_STATUS("VmLck", vmlck0 + 2048 + 320);
	CHILD_ERRNO(ioas_map_fixed(fd, ioas, buf + 2 * chunk, 16 * PAGE_SIZE,
				   IOVA + 2 * chunk), ENOMEM);

	CHILD_OK(iommu_destroy(fd, stdev2));
	CHILD_OK(iommu_destroy(fd, ioas2));
	CHILD_OK(iommu_destroy(fd, stdev));
	CHILD_OK(check_refs(fd, buf, 3 * chunk, 0));
	CHILD_STATUS("VmPin", vmpin0);
	CHILD_STATUS("VmLck", vmlck0);
	CHILD_OK(close(fd));
	_exit(0);
}

TEST(rlimit_memlock_charged_once_per_call)
{
	CHECK_IN_CHILD(rlimit_multi_chunk_child());
}

/* In a child that keeps CAP_IPC_LOCK: the 16-page limit is not applied. */
static void cap_ipc_lock_child(bool per_process)
{
	const size_t len = 32 * PAGE_SIZE;
	__u32 ioas, stdev;
	long vmpin0;
	char *buf;
	int fd;

	buf = buf_alloc(len);
	CHILD_CHECK(buf);
	fd = dev_iommu_open();
	CHILD_CHECK(fd >= 0);
	if (per_process)
		CHILD_OK(option_set(fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	CHILD_OK(set_memlock_rlimit(16 * PAGE_SIZE));
	CHILD_OK(ioas_alloc(fd, &ioas));
	CHILD_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	vmpin0 = proc_status_kb("VmPin");
	CHILD_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHILD_OK(check_refs(fd, buf, len, 1));
	CHILD_STATUS("VmPin", vmpin0 + (long)(len / 1024));
	CHILD_OK(ioas_unmap_all(fd, ioas, NULL));
	CHILD_STATUS("VmPin", vmpin0);
	CHILD_OK(iommu_destroy(fd, stdev));
	CHILD_OK(iommu_destroy(fd, ioas));
	CHILD_OK(close(fd));
	_exit(0);
}

TEST(cap_ipc_lock_bypasses_rlimit)
{
	CHECK_IN_CHILD(cap_ipc_lock_child(false));
	CHECK_IN_CHILD(cap_ipc_lock_child(true));
}

/*
 * A child maps the shared @buf with a mock domain attached, tells the
 * parent through @wfd, and then either waits to be killed or, once the
 * parent closes @go, exits without closing anything.
 */
static void pinning_child(void *buf, size_t len, int wfd, int go,
			  bool wait_kill)
{
	__u32 ioas, stdev, hwpt;
	char c = 'x';
	int fd;

	fd = dev_iommu_open();
	CHILD_CHECK(fd >= 0);
	CHILD_OK(ioas_alloc(fd, &ioas));
	CHILD_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHILD_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	/* A second IOAS, an access with pins: more to clean up. */
	int access_fd;
	__u32 ioas2, pages_id;
	CHILD_OK(ioas_alloc(fd, &ioas2));
	CHILD_OK(ioas_map_fixed(fd, ioas2, buf, len, IOVA));
	CHILD_OK(create_access(fd, ioas2,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &access_fd));
	CHILD_OK(access_pages(fd, access_fd, IOVA, buf, len, 0, &pages_id));
	CHILD_CHECK(write(wfd, &c, 1) == 1);
	if (wait_kill)
		for (;;)
			pause();
	/* Stay until the parent has looked at the pins. */
	CHILD_CHECK(read(go, &c, 1) == 0);
	_exit(0);
}

static void exit_releases(bool killed)
{
	const size_t len = 8 * PAGE_SIZE;
	int pfd[2], gofd[2], fd;
	void *buf;
	pid_t pid;
	char c;

	buf = buf_alloc_shared(len);
	CHECK(buf);
	CHECK_OK(pipe(pfd));
	CHECK_OK(pipe(gofd));
	pid = fork_flushed();
	CHECK(pid >= 0);
	if (!pid) {
		close(pfd[0]);
		close(gofd[1]);
		pinning_child(buf, len, pfd[1], gofd[0], killed);
	}
	close(pfd[1]);
	close(gofd[0]);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	if (read(pfd[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		wait_child(pid);
		CHECK(!"child did not get to map its memory");
	}
	close(pfd[0]);
	/* Two IOAS map the pages, one with a domain, one with an access:
	 * each of them holds its own pin. */
	CHECK_OK(check_refs(fd, buf, len, 2));
	if (killed) {
		CHECK_OK(kill(pid, SIGKILL));
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		close(gofd[1]);
	} else {
		close(gofd[1]);
		CHECK_OK(wait_child(pid));
	}
	/* Gone as soon as the parent learns of the exit. */
	CHECK_OK(check_refs(fd, buf, len, 0));
	close(fd);
	buf_free(buf, len);
}

TEST(process_exit_releases_pins)
{
	CHECK_SUB(exit_releases(false));
}

TEST(process_kill_releases_pins)
{
	CHECK_SUB(exit_releases(true));
}

TEST(close_releases_pins_synchronously)
{
	const size_t len = 8 * PAGE_SIZE;
	__u32 ioas, ioas2;
	void *buf;
	int fd;

	buf = buf_alloc(len);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(mock_domain(fd, ioas, NULL, NULL, NULL));
	CHECK_OK(mock_domain(fd, ioas, NULL, NULL, NULL));
	CHECK_OK(mock_domain(fd, ioas2, NULL, NULL, NULL));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len / 2, IOVA + (1UL << 20)));
	__u64 dst = IOVA;
	CHECK_OK(ioas_copy(fd, ioas2, &dst, ioas, IOVA, len,
			   IOMMU_IOAS_MAP_FIXED_IOVA | MAP_RW));
	CHECK_OK(check_refs(fd, buf, len / 2, 2));
	CHECK_OK(close(fd));

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(check_refs(fd, buf, len, 0));
	close(fd);
	buf_free(buf, len);
}

TEST(close_with_access_releases_pins)
{
	const size_t len = 8 * PAGE_SIZE;
	__u32 ioas, pages_id;
	int fd, access_fd;
	void *buf;

	buf = buf_alloc(len);
	CHECK(buf);
	CHECK_SUB(open_mock_domain(&fd, &ioas, NULL, NULL, NULL));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(create_access(fd, ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &access_fd));
	CHECK_OK(access_pages(fd, access_fd, IOVA, buf, len, 0, &pages_id));
	CHECK_OK(access_pages(fd, access_fd, IOVA + PAGE_SIZE,
			      (char *)buf + PAGE_SIZE, PAGE_SIZE, 0,
			      &pages_id));
	CHECK_OK(check_refs(fd, buf, len, 1));

	/* The /dev/iommu fd first, then the access fd that kept the
	 * context alive: no pin may survive the last close. */
	CHECK_OK(close(fd));
	CHECK_OK(close(access_fd));
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(check_refs(fd, buf, len, 0));
	close(fd);
	buf_free(buf, len);
}

static void restore_memory_limit(void)
{
	int fd = dev_iommu_open();

	if (fd >= 0) {
		set_temp_memory_limit(fd, TEST_MEMORY_LIMIT_DEFAULT);
		close(fd);
	}
}

TEST(temp_memory_limit)
{
	const size_t len = 64 * PAGE_SIZE;
	__u32 ioas, stdev, hwpt, stdev2, hwpt2;
	void *buf;
	int fd;

	buf = buf_alloc(len);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_ERRNO(set_temp_memory_limit(fd, 0), EINVAL);
	CHECK_ERRNO(set_temp_memory_limit(fd, 11), EINVAL);

	/* The limit is global: put it back even if this test fails. */
	atexit(restore_memory_limit);
	CHECK_OK(set_temp_memory_limit(fd, 12));

	CHECK_OK(ioas_alloc(fd, &ioas));
	/* Pinned at map time, one page per batch. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, len, IOVA));
	CHECK_OK(check_map(fd, hwpt, IOVA, buf, len));
	CHECK_OK(check_refs(fd, buf, len, 1));
	/* Copied into a new domain at attach time. */
	CHECK_OK(mock_domain(fd, ioas, &stdev2, &hwpt2, NULL));
	CHECK_OK(check_map(fd, hwpt2, IOVA, buf, len));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, stdev2));
	CHECK_OK(check_refs(fd, buf, len, 0));
	/* Pinned at attach time. */
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_OK(check_map(fd, hwpt, IOVA, buf, len));
	CHECK_OK(check_refs(fd, buf, len, 1));
	__u64 unmapped = 0;
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == len);
	CHECK_OK(check_refs(fd, buf, len, 0));

	CHECK_OK(set_temp_memory_limit(fd, TEST_MEMORY_LIMIT_DEFAULT));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(buf, len);
}

/*
 * A child maps its own memory through the inherited fd and exits.  The
 * pages belong to a process that no longer exists, so a domain attached
 * later cannot pin them.
 */
TEST(fork_mapping_owner_gone_efault)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, stdev;
	__u64 unmapped;
	pid_t pid;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	pid = fork_flushed();
	CHECK(pid >= 0);
	if (!pid) {
		void *cbuf = buf_alloc(len);

		CHILD_CHECK(cbuf);
		CHILD_OK(ioas_map_fixed(fd, ioas, cbuf, len, IOVA));
		_exit(0);
	}
	CHECK_OK(wait_child(pid));

	CHECK_ERRNO(mock_domain(fd, ioas, &stdev, NULL, NULL), EFAULT);
	/* The refused attach left no domain behind; the area can go. */
	unmapped = 0;
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == len);
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
}

/*
 * A child maps its own memory through the inherited fd and stays alive:
 * the parent's domain pins the child's pages, and reading the IOVA shows
 * the child's data, not the parent's.
 */
TEST(fork_mapping_owner_alive)
{
	const size_t len = 4 * PAGE_SIZE;
	int to_parent[2], to_child[2], fd, access_fd;
	unsigned char *want, *got;
	__u32 ioas, stdev;
	pid_t pid;
	char c;

	want = buf_alloc(len);
	got = buf_alloc(len);
	CHECK(want && got);
	buf_fill(want, len, 0x77);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(pipe(to_parent));
	CHECK_OK(pipe(to_child));
	pid = fork_flushed();
	CHECK(pid >= 0);
	if (!pid) {
		unsigned char *cbuf = buf_alloc(len);

		CHILD_CHECK(cbuf);
		buf_fill(cbuf, len, 0x77);
		CHILD_OK(ioas_map_fixed(fd, ioas, cbuf, len, IOVA));
		CHILD_CHECK(write(to_parent[1], "m", 1) == 1);
		CHILD_CHECK(read(to_child[0], &c, 1) == 1);
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	if (read(to_parent[0], &c, 1) != 1) {
		wait_child(pid);
		CHECK(!"child did not map its memory");
	}

	/*
	 * The child's buffer is not mapped in the parent (or something
	 * else is at that address here): the domain must pin the child's
	 * pages, and the IOVA must read the child's data.
	 */
	CHECK_OK(mock_domain(fd, ioas, &stdev, NULL, NULL));
	CHECK_OK(create_access(fd, ioas, 0, &access_fd));
	memset(got, 0, len);
	CHECK_OK(access_rw(fd, access_fd, IOVA, got, len, 0));
	CHECK(!memcmp(got, want, len));
	CHECK_OK(close(access_fd));

	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK(write(to_child[1], "q", 1) == 1);
	close(to_child[1]);
	close(to_parent[0]);
	CHECK_OK(wait_child(pid));
	CHECK_OK(iommu_destroy(fd, ioas));
	close(fd);
	buf_free(want, len);
	buf_free(got, len);
}

/*
 * A map's kernel memory follows what it pins, not its length: maps of
 * terabytes of address space nobody touches cost next to nothing (the
 * user is charged for nothing), up to the largest the address space
 * allows, and pinning part of one costs that part only.
 */
TEST(lazy_huge_maps_cost_no_kernel_memory)
{
	const __u64 tib = 1ULL << 40;
	long before, after;
	__u32 ioas, stdev, hwpt;
	__u64 iova;
	char *va;
	int fd, i;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	/* 2^47 bytes from address 0: as large as a user range gets. */
	iova = 1ULL << 48;
	CHECK_OK(ioas_map_flags(fd, ioas, NULL, 1ULL << 47, &iova,
				MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	va = mmap(NULL, 8 * tib, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(va != MAP_FAILED);
	before = module_stat("pin_state_bytes");
	for (i = 0; i < 6; i++)
		CHECK_OK(ioas_map_fixed(fd, ioas, va + i * tib, tib,
					(i + 1) * tib));
	after = module_stat("pin_state_bytes");
	tap_diag("six lazy 1 TiB maps: %ld bytes of pin state", after - before);
	CHECK(after - before < 4096);

	/* Touch 2 MiB of one and attach a domain: that much state, no more. */
	CHECK_OK(mprotect(va, 2 << 20, PROT_READ | PROT_WRITE));
	memset(va, 1, 2 << 20);
	CHECK_OK(iommu_destroy(fd, ioas));
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, va, 2 << 20, 1ULL << 24));
	before = module_stat("pin_state_bytes");
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	after = module_stat("pin_state_bytes");
	tap_diag("2 MiB pinned: %ld bytes of pin state", after - before);
	CHECK(after - before < 8192);
	CHECK_OK(iommu_destroy(fd, stdev));
	close(fd);
	munmap(va, 8 * tib);
}

/*
 * A read-only map of a private file mapping the process has not written
 * yet: the pin breaks the sharing, so that when the process then writes
 * its copy the device reads that copy, not the file's old page.
 */
TEST(readonly_pin_of_private_file_page_follows_writes)
{
	const size_t len = 4 * PAGE_SIZE;
	__u32 ioas, stdev, hwpt;
	__u64 iova = MOCK_APERTURE_START;
	char *buf;
	int fd, mfd;

	mfd = memfd_create("private-file", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	CHECK_OK(ftruncate(mfd, len));
	CHECK(pwrite(mfd, "file", 4, 0) == 4);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	CHECK(buf != MAP_FAILED);
	CHECK(buf[0] == 'f');		/* read: still the file's page */
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_flags(fd, ioas, buf, len, &iova,
				IOMMU_IOAS_MAP_READABLE |
				IOMMU_IOAS_MAP_FIXED_IOVA));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	memcpy(buf, "mine", 4);		/* the process writes its copy */
	/* The domain maps the page the process sees now. */
	CHECK_OK(check_map(fd, hwpt, iova, buf, len));
	CHECK_OK(iommu_destroy(fd, stdev));
	close(fd);
	munmap(buf, len);
	close(mfd);
}

int main(void)
{
	return tap_run();
}
