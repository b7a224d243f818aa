// SPDX-License-Identifier: GPL-2.0
/*
 * IOAS_MAP_FILE of memfd (shmem) and hugetlbfs files: the argument
 * checks and their errnos, the pages seen through mock domains, an access
 * and COPY, their pins (once per page, released at unmap and close), a
 * file truncated or closed after the map, the charge to RLIMIT_MEMLOCK,
 * and the module's fault points on the way.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "util.h"

#define NPAGES 8
#define LEN (NPAGES * PAGE_SIZE)

/* The memfd's pages, as the process sees them through its mapping. */
struct mfile {
	int mfd;
	char *va;
	size_t len;
};

static void mfile_new(struct mfile *m, size_t len)
{
	m->len = len;
	m->va = buf_alloc_memfd(len, &m->mfd);
	CHECK(m->va);
	buf_fill(m->va, len, 3);
}

static void mfile_free(struct mfile *m)
{
	munmap(m->va, m->len);
	if (m->mfd >= 0)
		close(m->mfd);
}

TEST(map_file_argument_errors)
{
	__u64 iova = MOCK_APERTURE_START;
	struct mfile m;
	struct ioas_env e;
	int pfd[2];

	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 0, LEN, &iova,
			     MAP_RW | (1U << 5)), EOPNOTSUPP);
	iova = ~0ULL;
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 0, LEN, &iova,
			     MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA), EOVERFLOW);
	iova = MOCK_APERTURE_START;
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 0, ~0ULL, &iova, MAP_RW),
		    EOVERFLOW);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 0, LEN, &iova,
			     IOMMU_IOAS_MAP_FIXED_IOVA), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, BAD_ID, m.mfd, 0, LEN, &iova, MAP_RW),
		    ENOENT);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, -1, 0, LEN,
				  &iova, MAP_RW), EBADF);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, 1000, 0, LEN, &iova, MAP_RW),
		    EBADF);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 0, 0,
				  &iova, MAP_RW), EINVAL);
	/* start + length wraps. */
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, ~0ULL - PAGE_SIZE, LEN,
			     &iova, MAP_RW), EOVERFLOW);
	/* The page offset of start must be a multiple of 2 KiB (mock). */
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 512, LEN / 2,
				  &iova, MAP_RW), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, 0, LEN / 2 + 512, &iova,
			     MAP_RW), EINVAL);
	/* Not a shmem or hugetlbfs file: refused when pinned (a domain). */
	CHECK_OK(pipe(pfd));
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, pfd[1], 0, PAGE_SIZE,
				  &iova, MAP_RW), EINVAL);
	int nfd = open("/dev/null", O_RDWR);

	CHECK(nfd >= 0);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, nfd, 0, PAGE_SIZE,
				  &iova, MAP_RW), EINVAL);
	/* Past the end of the file, wholly or in part. */
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, LEN, PAGE_SIZE, &iova,
			     MAP_RW), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, m.mfd, PAGE_SIZE, LEN, &iova,
			     MAP_RW), EINVAL);
	/* Nothing was left behind by any of them. */
	CHECK(module_stat("pinned_pages") == 0);
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, 0, LEN,
				MOCK_APERTURE_START));
	/* FIXED over a mapping, or over a reserved range. */
	CHECK_ERRNO(map_file_fixed(e.fd, e.ioas, m.mfd, 0, PAGE_SIZE,
				   MOCK_APERTURE_START + PAGE_SIZE), EEXIST);
	CHECK_OK(add_reserved(e.fd, e.ioas, MOCK_APERTURE_START + 4 * LEN,
			      PAGE_SIZE));
	CHECK_ERRNO(map_file_fixed(e.fd, e.ioas, m.mfd, 0, PAGE_SIZE,
				   MOCK_APERTURE_START + 4 * LEN), EINVAL);
	close(nfd);
	close(pfd[0]);
	close(pfd[1]);
	close(e.fd);
	mfile_free(&m);
}

/* A file open read-only maps readable only (this module's rule). */
TEST(map_file_open_mode)
{
	__u64 iova = 0;
	struct mfile m;
	struct ioas_env e;
	char path[64];
	int ro;

	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, true));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m.mfd);
	ro = open(path, O_RDONLY);
	CHECK(ro >= 0);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, ro, 0, LEN,
				  &iova, MAP_RW), EACCES);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, ro, 0, LEN, &iova,
			     IOMMU_IOAS_MAP_WRITEABLE), EACCES);
	CHECK_OK(ioas_map_file(e.fd, e.ioas, ro, 0, LEN, &iova,
			  IOMMU_IOAS_MAP_READABLE));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, m.va, LEN));
	/* A copy of a read-only area cannot be writable. */
	__u64 dst = 0;

	CHECK_ERRNO(ioas_copy(e.fd, e.ioas, &dst, e.ioas, iova, LEN, MAP_RW),
		    EPERM);
	close(ro);
	close(e.fd);
	mfile_free(&m);
}

/* The mock page tables translate to the file's pages; one pin each. */
TEST(map_file_contents_and_pins)
{
	__u32 stdev2, hwpt2;
	__u64 iova = 0, unmapped = 0;
	struct mfile m;
	struct ioas_env e;

	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, PAGE_SIZE, 4 * PAGE_SIZE,
				MOCK_APERTURE_START));
	CHECK_OK(check_map(e.fd, e.hwpt, MOCK_APERTURE_START,
			   m.va + PAGE_SIZE, 4 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, m.va + PAGE_SIZE, 4 * PAGE_SIZE, 1));
	CHECK_OK(check_refs(e.fd, m.va, PAGE_SIZE, 0));
	CHECK_OK(check_refs(e.fd, m.va + 5 * PAGE_SIZE, 3 * PAGE_SIZE, 0));
	/* A second domain maps the same pages without pinning them again. */
	CHECK_OK(mock_domain(e.fd, e.ioas, &stdev2, &hwpt2, NULL));
	CHECK_OK(check_map(e.fd, hwpt2, MOCK_APERTURE_START,
			   m.va + PAGE_SIZE, 4 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, m.va + PAGE_SIZE, 4 * PAGE_SIZE, 1));
	CHECK(module_stat("pinned_pages") == 4);
	/* An unaligned start: the kernel's IOVA keeps its page offset. */
	CHECK_OK(ioas_map_file(e.fd, e.ioas, m.mfd, 5 * PAGE_SIZE + 2048,
			  2 * PAGE_SIZE, &iova, MAP_RW));
	CHECK(iova % PAGE_SIZE == 2048);
	CHECK_OK(check_map(e.fd, e.hwpt, iova, m.va + 5 * PAGE_SIZE + 2048,
			   2 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, m.va + 5 * PAGE_SIZE, 3 * PAGE_SIZE, 1));
	/* The same pages mapped twice: pinned twice. */
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, PAGE_SIZE, PAGE_SIZE,
				MOCK_APERTURE_START + LEN));
	CHECK_OK(check_refs(e.fd, m.va + PAGE_SIZE, PAGE_SIZE, 2));
	CHECK_OK(ioas_unmap(e.fd, e.ioas, MOCK_APERTURE_START + LEN, PAGE_SIZE,
			    &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, m.va + PAGE_SIZE, PAGE_SIZE, 1));
	/* A write by the CPU is what the domain's pages hold. */
	m.va[PAGE_SIZE + 7] ^= 0x5a;
	CHECK_OK(check_map(e.fd, e.hwpt, MOCK_APERTURE_START,
			   m.va + PAGE_SIZE, 4 * PAGE_SIZE));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, &unmapped));
	CHECK(unmapped == 6 * PAGE_SIZE);
	CHECK_OK(check_refs(e.fd, m.va, LEN, 0));
	CHECK(module_stat("pinned_pages") == 0);
	CHECK_ERRNO(check_map(e.fd, e.hwpt, MOCK_APERTURE_START,
			      m.va + PAGE_SIZE, PAGE_SIZE), EINVAL);
	close(e.fd);
	mfile_free(&m);
}

/* Closing the iommufd releases every pin of a file map. */
TEST(map_file_close_releases)
{
	struct mfile m;
	struct ioas_env e;
	int chk;

	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, 0, LEN,
				MOCK_APERTURE_START));
	CHECK_OK(check_refs(e.fd, m.va, LEN, 1));
	CHECK_OK(close(e.fd));
	chk = dev_iommu_open();
	CHECK(chk >= 0);
	CHECK_OK(check_refs(chk, m.va, LEN, 0));
	CHECK(module_all_released());
	close(chk);
	mfile_free(&m);
}

/*
 * With no domain nothing is pinned at map time; an access pins, reads
 * and writes the file's pages; a domain attached later maps them.
 */
TEST(map_file_lazy_access_and_attach)
{
	__u32 pages_id, stdev, hwpt;
	char tmp[64], want[64];
	struct mfile m;
	struct ioas_env e;
	int afd;

	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, false));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, 0, LEN,
				MOCK_APERTURE_START));
	CHECK(module_stat("pinned_pages") == 0);
	CHECK_OK(create_access(e.fd, e.ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, &afd));
	CHECK_OK(access_pages(e.fd, afd, MOCK_APERTURE_START + PAGE_SIZE,
			      m.va + PAGE_SIZE, 2 * PAGE_SIZE,
			      MOCK_FLAGS_ACCESS_WRITE, &pages_id));
	CHECK_OK(check_refs(e.fd, m.va + PAGE_SIZE, 2 * PAGE_SIZE, 1));
	CHECK(module_stat("pinned_pages") == 2);
	/* Read and write through the access, seen through the mapping. */
	CHECK_OK(access_rw(e.fd, afd, MOCK_APERTURE_START + 3 * PAGE_SIZE + 9,
			   tmp, sizeof(tmp), 0));
	CHECK(!memcmp(tmp, m.va + 3 * PAGE_SIZE + 9, sizeof(tmp)));
	memset(want, 0xa5, sizeof(want));
	CHECK_OK(access_rw(e.fd, afd, MOCK_APERTURE_START + 6 * PAGE_SIZE - 5,
			   want, sizeof(want), MOCK_ACCESS_RW_WRITE));
	CHECK(!memcmp(want, m.va + 6 * PAGE_SIZE - 5, sizeof(want)));
	/* A domain now: all pages pinned, the access's not again. */
	CHECK_OK(mock_domain(e.fd, e.ioas, &stdev, &hwpt, NULL));
	CHECK_OK(check_map(e.fd, hwpt, MOCK_APERTURE_START, m.va, LEN));
	CHECK_OK(check_refs(e.fd, m.va, LEN, 1));
	CHECK(module_stat("pinned_pages") == NPAGES);
	CHECK_OK(destroy_access_pages(e.fd, afd, pages_id));
	CHECK_OK(iommu_destroy(e.fd, stdev));
	CHECK_OK(check_refs(e.fd, m.va, LEN, 0));
	CHECK(module_stat("pinned_pages") == 0);
	close(afd);
	close(e.fd);
	mfile_free(&m);
}

/* COPY shares the file's pinned pages with another IOAS. */
TEST(map_file_copy)
{
	__u32 ioas2, stdev2, hwpt2;
	__u64 dst = 0;
	struct mfile m;
	struct ioas_env e;

	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_OK(ioas_alloc(e.fd, &ioas2));
	CHECK_OK(mock_domain(e.fd, ioas2, &stdev2, &hwpt2, NULL));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, 0, LEN,
				MOCK_APERTURE_START));
	CHECK_OK(ioas_copy(e.fd, ioas2, &dst, e.ioas,
			   MOCK_APERTURE_START + 2 * PAGE_SIZE, 3 * PAGE_SIZE,
			   MAP_RW));
	CHECK_OK(check_map(e.fd, hwpt2, dst, m.va + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE));
	CHECK_OK(check_refs(e.fd, m.va, LEN, 1));
	CHECK(module_stat("pinned_pages") == NPAGES);
	/* The source goes; the copy keeps its pages pinned. */
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK_OK(check_refs(e.fd, m.va, 2 * PAGE_SIZE, 0));
	CHECK_OK(check_refs(e.fd, m.va + 2 * PAGE_SIZE, 3 * PAGE_SIZE, 1));
	CHECK_OK(check_map(e.fd, hwpt2, dst, m.va + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE));
	CHECK_OK(ioas_unmap_all(e.fd, ioas2, NULL));
	CHECK_OK(check_refs(e.fd, m.va, LEN, 0));
	close(e.fd);
	mfile_free(&m);
}

/*
 * Truncated and closed after the map, the file's pages stay pinned and
 * hold their data until the unmap; a lazy map of the truncated range
 * fails when pinned: at attach, or by an access.
 */
TEST(map_file_truncate_and_close)
{
	__u32 stdev, hwpt, pages_id;
	char tmp[64], want[64];
	struct mfile m;
	struct ioas_env e;
	int afd;

	CHECK_SUB(mfile_new(&m, LEN));
	memcpy(want, m.va + 2 * PAGE_SIZE, sizeof(want));
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, 0, LEN,
				MOCK_APERTURE_START));
	CHECK_OK(create_access(e.fd, e.ioas, 0, &afd));
	CHECK_OK(ftruncate(m.mfd, 0));
	CHECK_OK(close(m.mfd));
	m.mfd = -1;
	CHECK(module_stat("pinned_pages") == NPAGES);
	CHECK_OK(access_rw(e.fd, afd, MOCK_APERTURE_START + 2 * PAGE_SIZE, tmp,
			   sizeof(tmp), 0));
	CHECK(!memcmp(tmp, want, sizeof(tmp)));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK(module_stat("pinned_pages") == 0);
	close(afd);
	close(e.fd);
	mfile_free(&m);

	/* Lazy: truncated before anything pinned it. */
	CHECK_SUB(mfile_new(&m, LEN));
	CHECK_SUB(ioas_env_setup(&e, false));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, 0, LEN,
				MOCK_APERTURE_START));
	/* Past EOF from the start: the map is taken, the pin fails. */
	CHECK_OK(map_file_fixed(e.fd, e.ioas, m.mfd, LEN, PAGE_SIZE,
				MOCK_APERTURE_START + 2 * LEN));
	CHECK_OK(create_access(e.fd, e.ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, &afd));
	CHECK_ERRNO(access_pages(e.fd, afd, MOCK_APERTURE_START + 2 * LEN,
				 m.va, PAGE_SIZE, 0, &pages_id), EINVAL);
	CHECK_OK(ioas_unmap(e.fd, e.ioas, MOCK_APERTURE_START + 2 * LEN,
			    PAGE_SIZE, NULL));
	CHECK_OK(ftruncate(m.mfd, 2 * PAGE_SIZE));
	CHECK_ERRNO(access_pages(e.fd, afd, MOCK_APERTURE_START + 2 * PAGE_SIZE,
				 m.va, PAGE_SIZE, 0, &pages_id), EINVAL);
	CHECK_ERRNO(mock_domain(e.fd, e.ioas, &stdev, &hwpt, NULL), EINVAL);
	CHECK(module_stat("pinned_pages") == 0);
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK_OK(mock_domain(e.fd, e.ioas, &stdev, &hwpt, NULL));
	close(afd);
	close(e.fd);
	mfile_free(&m);
	CHECK(module_all_released());
}

/*
 * The start of the accounting children: a 32-page memfd in @m, no
 * CAP_IPC_LOCK and a 16-page RLIMIT_MEMLOCK, an fd (per-process mode if
 * @mm_mode) with an IOAS and a mock domain.  0, or the failed line.
 */
static int accounting_setup(struct mfile *m, int *fd, __u32 *ioas,
			    bool mm_mode)
{
	__u32 stdev;

	m->len = 32 * PAGE_SIZE;
	m->va = buf_alloc_memfd(m->len, &m->mfd);
	*fd = dev_iommu_open();
	if (!m->va || *fd < 0)
		return __LINE__;
	if (mm_mode && option_set(*fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1))
		return __LINE__;
	if (drop_cap_ipc_lock() || set_memlock_rlimit(16 * PAGE_SIZE))
		return __LINE__;
	if (ioas_alloc(*fd, ioas) ||
	    mock_domain(*fd, *ioas, &stdev, NULL, NULL))
		return __LINE__;
	return 0;
}

/* In a child without CAP_IPC_LOCK: the line of a failed check, or 0. */
static int accounting_child(int unused)
{
	long pin0, pin1;
	struct mfile m;
	__u32 ioas;
	int fd, line = accounting_setup(&m, &fd, &ioas, false);

	(void)unused;
	if (line)
		return line;
	pin0 = proc_status_kb("VmPin");
	if (map_file_fixed(fd, ioas, m.mfd, 0, 12 * PAGE_SIZE,
			   MOCK_APERTURE_START))
		return __LINE__;
	pin1 = proc_status_kb("VmPin");
	if (pin1 - pin0 != 12 * PAGE_SIZE / 1024)
		return __LINE__;
	/* 12 + 8 > 16 pages: refused, nothing pinned. */
	errno = 0;
	if (map_file_fixed(fd, ioas, m.mfd, 16 * PAGE_SIZE, 8 * PAGE_SIZE,
			   MOCK_APERTURE_START + (1 << 20)) != -1 ||
	    errno != ENOMEM)
		return __LINE__;
	if (proc_status_kb("VmPin") != pin1 ||
	    module_stat("pinned_pages") != 12)
		return __LINE__;
	if (map_file_fixed(fd, ioas, m.mfd, 16 * PAGE_SIZE, 4 * PAGE_SIZE,
			   MOCK_APERTURE_START + (1 << 20)))
		return __LINE__;
	if (ioas_unmap_all(fd, ioas, NULL) || proc_status_kb("VmPin") != pin0)
		return __LINE__;
	/* Refunded: the limit's worth fits again. */
	if (map_file_fixed(fd, ioas, m.mfd, 0, 16 * PAGE_SIZE,
			   MOCK_APERTURE_START))
		return __LINE__;
	close(fd);
	return 0;
}

/* The same in per-process mode: VmLck is charged too. */
static int accounting_mm_child(int unused)
{
	long lck0, pin0;
	struct mfile m;
	__u32 ioas;
	int fd, line = accounting_setup(&m, &fd, &ioas, true);

	(void)unused;
	if (line)
		return line;
	lck0 = proc_status_kb("VmLck");
	pin0 = proc_status_kb("VmPin");
	if (map_file_fixed(fd, ioas, m.mfd, 0, 12 * PAGE_SIZE,
			   MOCK_APERTURE_START))
		return __LINE__;
	if (proc_status_kb("VmLck") - lck0 != 12 * PAGE_SIZE / 1024 ||
	    proc_status_kb("VmPin") - pin0 != 12 * PAGE_SIZE / 1024)
		return __LINE__;
	errno = 0;
	if (map_file_fixed(fd, ioas, m.mfd, 16 * PAGE_SIZE, 8 * PAGE_SIZE,
			   MOCK_APERTURE_START + (1 << 20)) != -1 ||
	    errno != ENOMEM)
		return __LINE__;
	if (ioas_unmap_all(fd, ioas, NULL) ||
	    proc_status_kb("VmLck") != lck0 || proc_status_kb("VmPin") != pin0)
		return __LINE__;
	close(fd);
	return 0;
}

static const char *const account_variants[] = { "user", "mm", NULL };

TEST_VARIANTS(map_file_accounting, account_variants)
{
	CHECK_OK(run_child(tap_variant ? accounting_mm_child : accounting_child,
			   0));
	CHECK(module_all_released());
}

/* A hugetlbfs memfd: 2 MiB pages, pinned per 4 KiB page like shmem. */
TEST(map_file_hugetlbfs)
{
	const size_t len = 2 * HUGEPAGE_SIZE;
	__u64 iova = 0;
	struct ioas_env e;
	char *va;
	int mfd;

	mfd = memfd_create("map-file-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (mfd < 0)
		SKIP("no hugetlbfs memfd");
	CHECK_OK(ftruncate(mfd, len));
	va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (va == MAP_FAILED)
		SKIP("no 2 MiB pages to map");
	/* Only the first huge page exists; the second is made by the pin. */
	memset(va, 0x3c, HUGEPAGE_SIZE / 2);
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_OK(ioas_map_file(e.fd, e.ioas, mfd, PAGE_SIZE, len - PAGE_SIZE,
			       &iova, MAP_RW));
	CHECK(module_stat("pinned_pages") == (long)((len - PAGE_SIZE) /
						    PAGE_SIZE));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, va + PAGE_SIZE,
			   len - PAGE_SIZE));
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	CHECK(module_stat("pinned_pages") == 0);
	/* Past the end of a hugetlbfs file. */
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, mfd, len, PAGE_SIZE,
				  &iova, MAP_RW), EINVAL);
	close(e.fd);
	munmap(va, len);
	close(mfd);
}

/* The kernel's own injection (util.h's kfault_*), one step at a time. */
static struct kfault_walk kfault = { .step = -1 };

#define STEP(expr) KFAULT_STEP(&kfault, expr)

/*
 * The fault walks' scenario on the memfd @arg (a struct mfile): a file
 * map, an attach, an access pin and a COPY.  0, or the failed line.
 */
static int fault_scenario(int fd, void *arg, int *afd)
{
	__u32 a, b, stdev, stdev2, pages_id;
	__u64 at = MOCK_APERTURE_START;
	struct mfile *m = arg;

	STEP(ioas_alloc(fd, &a));
	STEP(ioas_alloc(fd, &b));
	STEP(map_file_fixed(fd, a, m->mfd, 0, 4 * PAGE_SIZE,
			    MOCK_APERTURE_START));
	STEP(mock_domain(fd, a, &stdev, NULL, NULL));
	STEP(map_file_fixed(fd, a, m->mfd, 4 * PAGE_SIZE, 4 * PAGE_SIZE,
			    MOCK_APERTURE_START + LEN));
	STEP(ioas_copy(fd, b, &at, a, MOCK_APERTURE_START + PAGE_SIZE,
		       2 * PAGE_SIZE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	STEP(mock_domain(fd, b, &stdev2, NULL, NULL));
	STEP(create_access(fd, a, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			   afd));
	STEP(access_pages(fd, *afd, MOCK_APERTURE_START + LEN,
			  m->va + 4 * PAGE_SIZE, 2 * PAGE_SIZE,
			  MOCK_FLAGS_ACCESS_WRITE, &pages_id));
	/* File maps only (one a COPY): the caller owns them already. */
	STEP(change_process(fd));
	STEP(ioas_unmap(fd, a, MOCK_APERTURE_START + LEN, 4 * PAGE_SIZE,
			NULL));
	STEP(ioas_unmap_all(fd, b, NULL));
	return 0;
}

/* The scenario on @m, its leftovers checked through @chk. */
static struct fault_scenario fault_scenario_on(struct mfile *m, int chk)
{
	struct fault_scenario sc = {
		.run = fault_scenario, .arg = m, .kw = &kfault, .chk = chk,
		.buf = m->va, .len = LEN,
	};

	return sc;
}

/*
 * The module's fault points (allocations, pins, domain maps) on the
 * scenario: each failure unwinds.
 */
TEST(map_file_every_failure_unwinds)
{
	struct fault_scenario sc;
	int chk, failures;
	struct mfile m;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	CHECK_SUB(mfile_new(&m, LEN));
	chk = dev_iommu_open();
	CHECK(chk >= 0);
	sc = fault_scenario_on(&m, chk);
	failures = fault_walk_module(&sc);
	CHECK(failures >= 0);
	tap_diag("%d injected failures, each unwound", failures);
	CHECK(failures > 10);
	close(chk);
	mfile_free(&m);
}

/*
 * Every allocation and user copy the kernel reaches inside each ioctl of
 * the scenario -- the page cache's and shmem's on the file pin included
 * -- fails in turn, and each failure unwinds.
 */
TEST(map_file_every_kernel_failure_unwinds)
{
	int step, points, total = 0, steps, chk;
	struct fault_scenario sc;
	struct mfile m;

	if (kfault_setup())
		SKIP("the kernel has no fault injection (Debian's kernels are built without it): the suite's debug-kernel VM runs this");
	CHECK_SUB(mfile_new(&m, LEN));
	chk = dev_iommu_open();
	CHECK(chk >= 0);
	sc = fault_scenario_on(&m, chk);
	steps = fault_scenario_steps(&sc);
	CHECK(steps >= 0);
	for (step = 0; step < steps; step++) {
		points = fault_walk_kernel_step(&sc, step);
		CHECK(points >= 0);
		total += points;
	}
	tap_diag("%d kernel fault points over %d ioctls, each unwound", total,
		 steps);
	CHECK(total > 0);
	close(chk);
	mfile_free(&m);
	kfault_teardown();
}

int main(void)
{
	return tap_run();
}
