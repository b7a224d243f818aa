// SPDX-License-Identifier: GPL-2.0
/*
 * dma-bufs: the test exporter (IOMMU_TEST_OP_DMABUF_GET, _REVOKE) and
 * IOAS_MAP_FILE of its dma-bufs: the errnos, the exporter's memory seen
 * through mock domains (checked against an mmap of the dma-buf), no
 * charge, revocation out of every domain and what works after it, the
 * refusals (accesses, the VFIO type1 cut, other exporters), the module's
 * fault points and a race of revoke with map, unmap and attach.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/dma-heap.h>
#include <linux/vfio.h>

#include "util.h"

#define NPAGES 8
#define LEN (NPAGES * PAGE_SIZE)
#define IOVA ((__u64)MOCK_APERTURE_START + (1UL << 20))

/* A dma-buf of the test exporter, mmapped and filled with a pattern. */
struct dbuf {
	int dfd;
	unsigned char *va;
	size_t len;
};

static void dbuf_new(struct dbuf *d, int fd, size_t len)
{
	d->len = len;
	d->dfd = dmabuf_get(fd, len, O_RDWR | O_CLOEXEC);
	CHECK(d->dfd >= 0);
	d->va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->dfd, 0);
	CHECK(d->va != MAP_FAILED);
	buf_fill(d->va, len, 7);
}

static void dbuf_free(struct dbuf *d)
{
	munmap(d->va, d->len);
	close(d->dfd);
}

/*
 * A dma-buf of another exporter, or -1: the system dma-heap (6.12 has
 * it; Debian's 6.1 has no exporter user space can reach).
 */
static int foreign_dmabuf(void)
{
	struct dma_heap_allocation_data alloc = {
		.len = PAGE_SIZE,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int hfd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

	if (hfd < 0)
		return -1;
	if (ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, &alloc)) {
		close(hfd);
		return -1;
	}
	close(hfd);
	return (int)alloc.fd;
}

TEST(dmabuf_get_returns_the_fd)
{
	int fd = dev_iommu_open(), d1, d2;
	unsigned char *va;
	size_t i;

	CHECK(fd >= 0);
	/* The ioctl's return value is the new fd, a new one each time. */
	d1 = dmabuf_get(fd, LEN, O_RDWR | O_CLOEXEC);
	CHECK(d1 > fd);
	d2 = dmabuf_get(fd, LEN, O_RDWR);
	CHECK(d2 > d1);
	/* O_CLOEXEC reaches the fd, and only when asked for. */
	CHECK(fcntl(d1, F_GETFD) == FD_CLOEXEC);
	CHECK(fcntl(d2, F_GETFD) == 0);
	CHECK((fcntl(d1, F_GETFL) & O_ACCMODE) == O_RDWR);
	/* Its size, and its memory is zeroed. */
	CHECK(lseek(d1, 0, SEEK_END) == (off_t)LEN);
	va = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, d1, 0);
	CHECK(va != MAP_FAILED);
	for (i = 0; i < LEN && !va[i]; i++)
		;
	CHECK(i == LEN);
	munmap(va, LEN);
	close(d1);
	close(d2);
	close(fd);
	CHECK(module_all_released());
}

TEST(dmabuf_get_open_flags_and_sizes)
{
	int fd = dev_iommu_open(), d;
	void *va;

	CHECK(fd >= 0);
	/* Read-only export: no writable shared mapping of it. */
	d = dmabuf_get(fd, PAGE_SIZE, O_RDONLY);
	CHECK(d >= 0);
	CHECK((fcntl(d, F_GETFL) & O_ACCMODE) == O_RDONLY);
	CHECK(mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d, 0) ==
	      MAP_FAILED && errno == EACCES);
	va = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, d, 0);
	CHECK(va != MAP_FAILED);
	munmap(va, PAGE_SIZE);
	close(d);
	/* Rounded up to pages. */
	d = dmabuf_get(fd, 1, O_RDWR);
	CHECK(d >= 0);
	CHECK(lseek(d, 0, SEEK_END) == (off_t)PAGE_SIZE);
	close(d);
	d = dmabuf_get(fd, 512 * PAGE_SIZE, O_RDWR);
	CHECK(d >= 0);
	CHECK(lseek(d, 0, SEEK_END) == (off_t)(512 * PAGE_SIZE));
	close(d);
	CHECK_ERRNO(dmabuf_get(fd, 0, O_RDWR), EINVAL);
	CHECK_ERRNO(dmabuf_get(fd, 512 * PAGE_SIZE + 1, O_RDWR), EINVAL);
	CHECK_ERRNO(dmabuf_get(fd, UINT32_MAX, O_RDWR), EINVAL);
	close(fd);
	CHECK(module_all_released());
}

TEST(dmabuf_revoke_errors)
{
	int fd = dev_iommu_open(), d, mfd, other;

	CHECK(fd >= 0);
	d = dmabuf_get(fd, PAGE_SIZE, O_RDWR);
	CHECK(d >= 0);
	CHECK_ERRNO(dmabuf_revoke(fd, -1, true), EBADF);
	CHECK_ERRNO(dmabuf_revoke(fd, 1000, true), EBADF);
	mfd = memfd_create("not-a-dmabuf", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	CHECK_ERRNO(dmabuf_revoke(fd, mfd, true), EINVAL);
	CHECK_ERRNO(dmabuf_revoke(fd, fd, true), EINVAL);
	other = foreign_dmabuf();
	if (other >= 0) {
		CHECK_ERRNO(dmabuf_revoke(fd, other, true), EOPNOTSUPP);
		close(other);
	} else {
		tap_diag("no other dma-buf exporter here: its case not run");
	}
	CHECK_OK(dmabuf_revoke(fd, d, true));
	CHECK_OK(dmabuf_revoke(fd, d, true));
	CHECK_OK(dmabuf_revoke(fd, d, false));
	close(mfd);
	close(d);
	close(fd);
}

TEST(map_file_dmabuf_errors)
{
	__u64 iova = 0;
	struct dbuf d;
	struct ioas_env e;
	int other;

	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_SUB(dbuf_new(&d, e.fd, LEN));
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, 0, 0, &iova, MAP_RW),
		    EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN + PAGE_SIZE,
				  &iova, MAP_RW), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, PAGE_SIZE, LEN, &iova,
				  MAP_RW), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, LEN, PAGE_SIZE, &iova,
				  MAP_RW), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, ~0ULL - PAGE_SIZE,
				  2 * PAGE_SIZE, &iova, MAP_RW), EINVAL);
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, -1, 0, LEN, &iova, MAP_RW),
		    EBADF);
	CHECK_ERRNO(ioas_map_file(e.fd, BAD_ID, d.dfd, 0, LEN, &iova, MAP_RW),
		    ENOENT);
	/* The MAP rules of the IOAS: 2 KiB offsets (mock), free IOVA. */
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, 512, PAGE_SIZE, &iova,
				  MAP_RW), EINVAL);
	CHECK_OK(map_file_fixed(e.fd, e.ioas, d.dfd, 0, LEN, IOVA));
	CHECK_ERRNO(map_file_fixed(e.fd, e.ioas, d.dfd, 0, PAGE_SIZE, IOVA),
		    EEXIST);
	/* Whole areas only, as for any mapping. */
	CHECK_ERRNO(ioas_unmap(e.fd, e.ioas, IOVA, PAGE_SIZE, NULL), ENOENT);
	other = foreign_dmabuf();
	if (other >= 0) {
		CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, other, 0, PAGE_SIZE,
					  &iova, MAP_RW), EOPNOTSUPP);
		close(other);
	} else {
		tap_diag("no other dma-buf exporter here: its case not run");
	}
	CHECK(module_stat("pinned_pages") == 0);
	dbuf_free(&d);
	close(e.fd);
	CHECK(module_all_released());
}

TEST(map_file_dmabuf_contents_in_domains)
{
	__u32 ioas2, hwpt2, stdev2, stdev3, hwpt3;
	__u64 iova = 0, iova2 = 0;
	struct dbuf d;
	struct ioas_env e;

	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_SUB(dbuf_new(&d, e.fd, LEN));
	/* The whole dma-buf at an IOVA the kernel picks. */
	CHECK_OK(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN, &iova, MAP_RW));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, d.va, LEN));
	/* Part of it, from an offset, at a fixed IOVA. */
	CHECK_OK(map_file_fixed(e.fd, e.ioas, d.dfd, 2 * PAGE_SIZE,
				3 * PAGE_SIZE, IOVA));
	CHECK_OK(check_map(e.fd, e.hwpt, IOVA, d.va + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE));
	/* Half pages (the mock's 2 KiB granule). */
	CHECK_OK(map_file_fixed(e.fd, e.ioas, d.dfd, PAGE_SIZE / 2, PAGE_SIZE,
				IOVA + LEN));
	CHECK_OK(check_map(e.fd, e.hwpt, IOVA + LEN, d.va + PAGE_SIZE / 2,
			   PAGE_SIZE));
	/* A domain attached later gets them all too. */
	CHECK_OK(mock_domain(e.fd, e.ioas, &stdev2, &hwpt2, NULL));
	CHECK_OK(check_map(e.fd, hwpt2, iova, d.va, LEN));
	CHECK_OK(check_map(e.fd, hwpt2, IOVA, d.va + 2 * PAGE_SIZE,
			   3 * PAGE_SIZE));
	/* COPY into another IOAS with its own domain. */
	CHECK_OK(ioas_alloc(e.fd, &ioas2));
	CHECK_OK(mock_domain(e.fd, ioas2, &stdev3, &hwpt3, NULL));
	CHECK_OK(ioas_copy(e.fd, ioas2, &iova2, e.ioas, iova, LEN, MAP_RW));
	CHECK_OK(check_map(e.fd, hwpt3, iova2, d.va, LEN));
	/* Nothing pinned or charged anywhere. */
	CHECK(module_stat("pinned_pages") == 0);
	/* Unmap clears the domains. */
	CHECK_OK(ioas_unmap(e.fd, e.ioas, IOVA, 3 * PAGE_SIZE, NULL));
	CHECK_ERRNO(check_map(e.fd, e.hwpt, IOVA, d.va + 2 * PAGE_SIZE,
			      PAGE_SIZE), EINVAL);
	CHECK_ERRNO(check_map(e.fd, hwpt2, IOVA, d.va + 2 * PAGE_SIZE,
			      PAGE_SIZE), EINVAL);
	/* A domain removed with the mapping in place. */
	CHECK_OK(iommu_destroy(e.fd, stdev2));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, d.va, LEN));
	dbuf_free(&d);
	close(e.fd);
	CHECK(module_all_released());
}

TEST(map_file_dmabuf_not_charged)
{
	long pin0, lck0;
	__u64 iova = 0;
	struct dbuf d;
	struct ioas_env e;

	/* Charged per process (set before any object): VmLck would show. */
	e.fd = dev_iommu_open();
	CHECK(e.fd >= 0);
	CHECK_OK(option_set(e.fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1));
	CHECK_OK(ioas_alloc(e.fd, &e.ioas));
	CHECK_OK(mock_domain(e.fd, e.ioas, &e.stdev, &e.hwpt, NULL));
	CHECK_SUB(dbuf_new(&d, e.fd, LEN));
	pin0 = proc_status_kb("VmPin");
	lck0 = proc_status_kb("VmLck");
	CHECK(pin0 >= 0 && lck0 >= 0);
	CHECK_OK(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN, &iova, MAP_RW));
	CHECK_OK(check_map(e.fd, e.hwpt, iova, d.va, LEN));
	CHECK(proc_status_kb("VmPin") == pin0);
	CHECK(proc_status_kb("VmLck") == lck0);
	CHECK(module_stat("pinned_pages") == 0);
	/* Even with no locked memory allowed at all. */
	CHECK_OK(ioas_unmap_all(e.fd, e.ioas, NULL));
	pid_t pid = fork_flushed();

	CHECK(pid >= 0);
	if (!pid) {
		CHILD_OK(drop_cap_ipc_lock());
		CHILD_OK(set_memlock_rlimit(0));
		CHILD_OK(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN, NULL,
				       MAP_RW));
		_exit(0);
	}
	CHECK_OK(wait_child(pid));
	CHECK(proc_status_kb("VmPin") == pin0);
	dbuf_free(&d);
	close(e.fd);
	CHECK(module_all_released());
}

TEST(revoke_clears_every_domain)
{
	__u32 ioas2, stdev2, hwpt2, stdev3, hwpt3, stdev4, hwpt4;
	__u64 iova2 = 0, unmapped = 0, iova3 = 0;
	void *buf = buf_alloc(PAGE_SIZE);
	int fd2;
	struct dbuf d;
	struct ioas_env e;

	CHECK(buf);
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_SUB(dbuf_new(&d, e.fd, LEN));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, d.dfd, 0, LEN, IOVA));
	CHECK_OK(mock_domain(e.fd, e.ioas, &stdev2, &hwpt2, NULL));
	/* A copy in another IOAS, and a map on another iommufd. */
	CHECK_OK(ioas_alloc(e.fd, &ioas2));
	CHECK_OK(mock_domain(e.fd, ioas2, &stdev3, &hwpt3, NULL));
	CHECK_OK(ioas_copy(e.fd, ioas2, &iova2, e.ioas, IOVA, LEN, MAP_RW));
	fd2 = dev_iommu_open();
	CHECK(fd2 >= 0);
	__u32 ioas_b, stdev_b, hwpt_b;

	CHECK_OK(ioas_alloc(fd2, &ioas_b));
	CHECK_OK(mock_domain(fd2, ioas_b, &stdev_b, &hwpt_b, NULL));
	CHECK_OK(map_file_fixed(fd2, ioas_b, d.dfd, PAGE_SIZE, PAGE_SIZE,
				IOVA));
	CHECK_OK(check_map(e.fd, e.hwpt, IOVA, d.va, LEN));
	CHECK_OK(check_map(e.fd, hwpt2, IOVA, d.va, LEN));
	CHECK_OK(check_map(e.fd, hwpt3, iova2, d.va, LEN));
	CHECK_OK(check_map(fd2, hwpt_b, IOVA, d.va + PAGE_SIZE, PAGE_SIZE));

	/* Revoked through another fd even: gone from every domain. */
	CHECK_OK(dmabuf_revoke(fd2, d.dfd, true));
	for (unsigned int i = 0; i < NPAGES; i++) {
		CHECK_ERRNO(check_map(e.fd, e.hwpt, IOVA + i * PAGE_SIZE,
				      d.va + i * PAGE_SIZE, PAGE_SIZE), EINVAL);
		CHECK_ERRNO(check_map(e.fd, hwpt2, IOVA + i * PAGE_SIZE,
				      d.va + i * PAGE_SIZE, PAGE_SIZE), EINVAL);
		CHECK_ERRNO(check_map(e.fd, hwpt3, iova2 + i * PAGE_SIZE,
				      d.va + i * PAGE_SIZE, PAGE_SIZE), EINVAL);
	}
	CHECK_ERRNO(check_map(fd2, hwpt_b, IOVA, d.va + PAGE_SIZE, PAGE_SIZE),
		    EINVAL);
	/* The areas stay: their IOVA is taken. */
	CHECK_ERRNO(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE,
				   IOVA + LEN - PAGE_SIZE), EEXIST);
	/* New maps of it: ENODEV, through any iommufd. */
	CHECK_ERRNO(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN, &iova3, MAP_RW),
		    ENODEV);
	CHECK_ERRNO(map_file_fixed(fd2, ioas_b, d.dfd, 0, LEN, IOVA + LEN),
		    ENODEV);
	/* A new domain still attaches, with nothing at the dead area. */
	CHECK_OK(mock_domain(e.fd, e.ioas, &stdev4, &hwpt4, NULL));
	CHECK_ERRNO(check_map(e.fd, hwpt4, IOVA, d.va, PAGE_SIZE), EINVAL);
	CHECK_ERRNO(check_map(e.fd, hwpt4, IOVA + LEN - PAGE_SIZE,
			      d.va + LEN - PAGE_SIZE, PAGE_SIZE), EINVAL);
	CHECK(module_stat("pinned_pages") == 0);

	/* Un-revoked: new maps work, old areas stay dead. */
	CHECK_OK(dmabuf_revoke(e.fd, d.dfd, false));
	iova3 = 0;
	CHECK_OK(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN, &iova3, MAP_RW));
	CHECK_OK(check_map(e.fd, e.hwpt, iova3, d.va, LEN));
	CHECK_OK(check_map(e.fd, hwpt4, iova3, d.va, LEN));
	CHECK_ERRNO(check_map(e.fd, e.hwpt, IOVA, d.va, PAGE_SIZE), EINVAL);
	/* UNMAP of the dead area succeeds, and FIXED takes its IOVA again. */
	CHECK_OK(ioas_unmap(e.fd, e.ioas, IOVA, LEN, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_OK(map_file_fixed(e.fd, e.ioas, d.dfd, 0, LEN, IOVA));
	CHECK_OK(check_map(e.fd, e.hwpt, IOVA, d.va, LEN));
	CHECK_OK(check_map(e.fd, hwpt2, IOVA, d.va, LEN));
	CHECK_OK(check_map(e.fd, hwpt4, IOVA, d.va, LEN));
	/* The copy and the other fd's area stay dead until unmapped. */
	CHECK_ERRNO(check_map(e.fd, hwpt3, iova2, d.va, PAGE_SIZE), EINVAL);
	CHECK_OK(ioas_unmap(e.fd, ioas2, iova2, LEN, NULL));
	CHECK_OK(ioas_unmap(fd2, ioas_b, IOVA, PAGE_SIZE, NULL));
	CHECK_OK(map_file_fixed(fd2, ioas_b, d.dfd, PAGE_SIZE, PAGE_SIZE,
				IOVA));
	CHECK_OK(check_map(fd2, hwpt_b, IOVA, d.va + PAGE_SIZE, PAGE_SIZE));
	/* A domain going away after a revoke has nothing to clear. */
	CHECK_OK(dmabuf_revoke(e.fd, d.dfd, true));
	CHECK_OK(iommu_destroy(e.fd, stdev2));
	CHECK_OK(iommu_destroy(e.fd, stdev4));
	close(fd2);
	dbuf_free(&d);
	close(e.fd);
	CHECK(module_all_released());
	buf_free(buf, PAGE_SIZE);
}

TEST(revoke_before_any_domain)
{
	__u32 stdev, hwpt;
	__u64 unmapped;
	struct dbuf d;
	int fd = dev_iommu_open();
	__u32 ioas;

	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_SUB(dbuf_new(&d, fd, LEN));
	CHECK_OK(map_file_fixed(fd, ioas, d.dfd, 0, LEN, IOVA));
	CHECK_OK(dmabuf_revoke(fd, d.dfd, true));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_ERRNO(check_map(fd, hwpt, IOVA, d.va, PAGE_SIZE), EINVAL);
	CHECK_OK(ioas_unmap_all(fd, ioas, &unmapped));
	CHECK(unmapped == LEN);
	dbuf_free(&d);
	close(fd);
	CHECK(module_all_released());
}

TEST(mapping_outlives_the_dmabuf_fd)
{
	__u64 iova = 0;
	struct dbuf d;
	struct ioas_env e;

	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_SUB(dbuf_new(&d, e.fd, LEN));
	CHECK_OK(ioas_map_file(e.fd, e.ioas, d.dfd, 0, LEN, &iova, MAP_RW));
	/* The mapping holds the dma-buf: its memory stays. */
	dbuf_free(&d);
	CHECK(module_stat("objects") > 0);
	CHECK_OK(ioas_unmap(e.fd, e.ioas, iova, LEN, NULL));
	CHECK_OK(iommu_destroy(e.fd, e.stdev));
	close(e.fd);
	CHECK(module_all_released());
}

TEST(accesses_refused)
{
	void *buf = buf_alloc(PAGE_SIZE);
	unsigned char tmp[64];
	int afd, afd2;
	__u32 pid;
	struct dbuf d;
	struct ioas_env e;

	CHECK(buf);
	CHECK_SUB(ioas_env_setup(&e, true));
	CHECK_SUB(dbuf_new(&d, e.fd, LEN));
	CHECK_OK(map_file_fixed(e.fd, e.ioas, d.dfd, 0, LEN, IOVA));
	CHECK_OK(ioas_map_fixed(e.fd, e.ioas, buf, PAGE_SIZE, IOVA + LEN));
	CHECK_OK(create_access(e.fd, e.ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, &afd));
	CHECK_OK(create_access(e.fd, e.ioas, 0, &afd2));
	CHECK_ERRNO(access_pages(e.fd, afd, IOVA, d.va, PAGE_SIZE, 0, &pid),
		    EINVAL);
	CHECK_ERRNO(access_rw(e.fd, afd2, IOVA, tmp, sizeof(tmp), 0), EINVAL);
	CHECK_ERRNO(access_rw(e.fd, afd2, IOVA + 8, tmp, sizeof(tmp),
			      MOCK_ACCESS_RW_WRITE), EINVAL);
	/* The user memory next to it is fine. */
	CHECK_OK(access_rw(e.fd, afd2, IOVA + LEN, tmp, sizeof(tmp), 0));
	CHECK_OK(access_pages(e.fd, afd, IOVA + LEN, buf, PAGE_SIZE, 0, &pid));
	CHECK_OK(destroy_access_pages(e.fd, afd, pid));
	/* The domain is untouched by the refusals. */
	CHECK_OK(check_map(e.fd, e.hwpt, IOVA, d.va, LEN));
	close(afd);
	close(afd2);
	dbuf_free(&d);
	close(e.fd);
	CHECK(module_all_released());
	buf_free(buf, PAGE_SIZE);
}

static int vfio_compat_set(int fd, __u32 ioas)
{
	struct iommu_vfio_ioas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.op = IOMMU_VFIO_IOAS_SET,
	};

	return ioctl(fd, IOMMU_VFIO_IOAS, &cmd);
}

static int unmap_dma(int fd, __u64 iova, __u64 size, __u64 *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};
	int rc = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

	if (!rc && unmapped)
		*unmapped = unmap.size;
	return rc;
}

TEST(vfio_type1_cut_refused)
{
	__u64 unmapped = 0;
	__u32 ioas, stdev, hwpt;
	struct dbuf d;
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(vfio_compat_set(fd, ioas));
	CHECK_OK(ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	CHECK_SUB(dbuf_new(&d, fd, LEN));
	CHECK_OK(map_file_fixed(fd, ioas, d.dfd, 0, LEN, IOVA));
	/* Part of it, at either end or inside: not cut. */
	CHECK_ERRNO(unmap_dma(fd, IOVA, PAGE_SIZE, NULL), EOPNOTSUPP);
	CHECK_ERRNO(unmap_dma(fd, IOVA + PAGE_SIZE, PAGE_SIZE, NULL),
		    EOPNOTSUPP);
	CHECK_ERRNO(unmap_dma(fd, IOVA + LEN - PAGE_SIZE, 2 * PAGE_SIZE, NULL),
		    EOPNOTSUPP);
	CHECK_OK(check_map(fd, hwpt, IOVA, d.va, LEN));
	/* The whole mapping goes. */
	CHECK_OK(unmap_dma(fd, IOVA, LEN, &unmapped));
	CHECK(unmapped == LEN);
	CHECK_ERRNO(check_map(fd, hwpt, IOVA, d.va, PAGE_SIZE), EINVAL);
	dbuf_free(&d);
	close(fd);
	CHECK(module_all_released());
}

/*
 * IOAS_CHANGE_PROCESS moves the pins of file maps; a dma-buf map has no
 * pins of a process to move: EINVAL, as upstream, in any IOAS of the fd,
 * and it works again once the dma-buf map is gone.
 */
TEST(change_process_refused)
{
	struct iommu_ioas_change_process cmd = { .size = sizeof(cmd) };
	__u32 ioas, ioas2;
	struct dbuf d;
	int fd = dev_iommu_open();

	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	CHECK_SUB(dbuf_new(&d, fd, LEN));
	CHECK_OK(map_file_fixed(fd, ioas2, d.dfd, 0, LEN, IOVA));
	CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd), EINVAL);
	CHECK_OK(ioas_unmap(fd, ioas2, IOVA, LEN, NULL));
	CHECK_OK(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &cmd));
	dbuf_free(&d);
	close(fd);
	CHECK(module_all_released());
}

/*
 * The calls of one go over dma-bufs; returns the line of the first that
 * failed, 0 when all succeeded.
 */
#define STEP(expr)                                                      \
	do {                                                            \
		if ((expr) < 0)                                         \
			return __LINE__;                                \
	} while (0)

static int fault_scenario(int fd, void *unused, int *dfd)
{
	__u32 ioas, ioas2, stdev, hwpt, stdev2;
	__u64 iova = 0, iova2 = IOVA;

	(void)unused;

	STEP(*dfd = dmabuf_get(fd, 4 * PAGE_SIZE, O_RDWR | O_CLOEXEC));
	STEP(ioas_alloc(fd, &ioas));
	STEP(mock_domain(fd, ioas, &stdev, &hwpt, NULL));
	STEP(ioas_map_file(fd, ioas, *dfd, 0, 4 * PAGE_SIZE, &iova, MAP_RW));
	STEP(ioas_alloc(fd, &ioas2));
	/* Inside the mock aperture, for the domain attached after it. */
	STEP(ioas_copy(fd, ioas2, &iova2, ioas, iova, 4 * PAGE_SIZE,
		       MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	STEP(mock_domain(fd, ioas2, &stdev2, NULL, NULL));
	STEP(dmabuf_revoke(fd, *dfd, true));
	STEP(mock_domain(fd, ioas, NULL, NULL, NULL));
	STEP(dmabuf_revoke(fd, *dfd, false));
	STEP(ioas_unmap(fd, ioas, iova, 4 * PAGE_SIZE, NULL));
	STEP(ioas_map_file(fd, ioas, *dfd, PAGE_SIZE, PAGE_SIZE, &iova,
			   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	STEP(iommu_destroy(fd, stdev));
	return 0;
}

TEST(every_failure_unwinds)
{
	struct fault_scenario sc = { .run = fault_scenario };
	int failures;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	failures = fault_walk_module(&sc);
	CHECK(failures >= 0);
	tap_diag("%d injected failures, each unwound", failures);
	CHECK(failures > 10);
}

/* Revoke and un-revoke in a loop while others map, unmap and attach. */
struct race {
	int fd, dfd;
	__u32 ioas;
	volatile bool stop;
	int errors;
};

static void *race_revoker(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		if (dmabuf_revoke(r->fd, r->dfd, true) ||
		    dmabuf_revoke(r->fd, r->dfd, false))
			r->errors++;
	}
	return NULL;
}

static void *race_attacher(void *arg)
{
	struct race *r = arg;
	__u32 stdev;

	while (!r->stop) {
		if (mock_domain(r->fd, r->ioas, &stdev, NULL, NULL) ||
		    iommu_destroy(r->fd, stdev))
			r->errors++;
	}
	return NULL;
}

TEST(revoke_races_map_unmap_attach)
{
	struct race r = { 0 };
	pthread_t rev, att;
	__u32 stdev, hwpt;
	int i, maps = 0, nodev = 0;

	CHECK_SUB(open_mock_domain(&r.fd, &r.ioas, &stdev, &hwpt, NULL));
	r.dfd = dmabuf_get(r.fd, LEN, O_RDWR | O_CLOEXEC);
	CHECK(r.dfd >= 0);
	CHECK(!pthread_create(&rev, NULL, race_revoker, &r));
	CHECK(!pthread_create(&att, NULL, race_attacher, &r));
	for (i = 0; i < 3000; i++) {
		int rc = map_file_fixed(r.fd, r.ioas, r.dfd, 0, LEN, IOVA);

		if (rc && errno != ENODEV) {
			tap_diag("map: errno %d", errno);
			r.errors++;
		}
		if (rc) {
			nodev++;
			continue;
		}
		maps++;
		if (ioas_unmap(r.fd, r.ioas, IOVA, LEN, NULL))
			r.errors++;
	}
	r.stop = true;
	pthread_join(rev, NULL);
	pthread_join(att, NULL);
	tap_diag("%d maps, %d refused while revoked", maps, nodev);
	CHECK(r.errors == 0);
	CHECK(maps > 0);
	/* Settled: a map now is live in the domain. */
	CHECK_OK(dmabuf_revoke(r.fd, r.dfd, false));
	CHECK_OK(map_file_fixed(r.fd, r.ioas, r.dfd, 0, LEN, IOVA));
	unsigned char *va = mmap(NULL, LEN, PROT_READ, MAP_SHARED, r.dfd, 0);

	CHECK(va != MAP_FAILED);
	CHECK_OK(check_map(r.fd, hwpt, IOVA, va, LEN));
	munmap(va, LEN);
	close(r.dfd);
	close(r.fd);
	CHECK(module_all_released());
}

int main(void)
{
	return tap_run();
}
