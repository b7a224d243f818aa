// SPDX-License-Identifier: GPL-2.0
/*
 * Map/unmap benchmarks: /dev/iommu ("ours") against VFIO's type1 backend
 * and against a floor (pin + map with no bookkeeping, in the kernel), all
 * in one VM boot on the same kernel and the same emulated VT-d.  Prints
 * tables of medians and ratios.
 *
 * Devices (found by sysfs): edus alone in their IOMMU groups -- the first
 * for ours, the second for the floor and for ours' second domain, the
 * third for type1's second group -- and an edu sharing a group (with a
 * driverless e1000 and a bridge) for type1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/iommufd_test.h>
#include <linux/vfio.h>
#include <libiommufd.h>

#define MiB (1ULL << 20)
#define PAGE 4096ULL
#define HUGE (2 * MiB)
#define IOVA_BASE (1ULL << 32)
#define MAX_EDUS 8

/* ------------------------------------------------------------ helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/*
 * Memory in 4 KiB pages (transparent huge pages kept out, or they would
 * make it physically contiguous) or in 2 MiB hugetlb pages, populated.
 */
static bool fault_in_reverse;

static void *alloc_mem(uint64_t len, bool huge)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS |
		       (huge ? MAP_HUGETLB | MAP_POPULATE : 0), -1, 0);
	uint64_t i;

	if (p == MAP_FAILED)
		return NULL;
	if (!huge) {
		madvise(p, len, MADV_NOHUGEPAGE);
		/* In reverse, neighbours are (mostly) not physically adjacent. */
		for (i = 0; i < len; i += PAGE)
			p[fault_in_reverse ? len - PAGE - i : i] = 1;
	}
	return p;
}

/* The "@key: N kB" line of /proc file @path; -1 when absent. */
static long proc_kb(const char *path, const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

/*
 * What a backend holds while a workload's memory is mapped: the kernel
 * memory it grew by (unreclaimable slab + vmalloc, the same measure for
 * both backends; IOMMU page tables are counted nowhere in 6.1, and are
 * the same for both) and the locked memory charged to the process.
 */
struct held {
	long kmem_kb, lck_kb, pin_kb;
	uint64_t len;			/* 0: not measured */
};

struct snap {
	long kmem_kb, lck_kb, pin_kb;
};

static void snap_take(struct snap *s)
{
	s->kmem_kb = proc_kb("/proc/meminfo", "SUnreclaim:") +
		     proc_kb("/proc/meminfo", "VmallocUsed:");
	s->lck_kb = proc_kb("/proc/self/status", "VmLck:");
	s->pin_kb = proc_kb("/proc/self/status", "VmPin:");
}

/* Call with @len bytes mapped since @s0 was taken. */
static void held_since(struct held *h, const struct snap *s0, uint64_t len)
{
	struct snap now;

	snap_take(&now);
	h->kmem_kb = now.kmem_kb - s0->kmem_kb;
	h->lck_kb = now.lck_kb - s0->lck_kb;
	h->pin_kb = now.pin_kb - s0->pin_kb;
	h->len = len;
}

/* The module's per-page bookkeeping, from its debugfs counters. */
static long pin_state_bytes(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/sys/kernel/debug/iommufd/stats", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "pin_state_bytes ", 16))
			v = atol(line + 16);
	if (f)
		fclose(f);
	return v;
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static int group_of(const char *bdf)
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	return atoi(strrchr(link, '/') + 1);
}

static int group_size(int group)
{
	char path[128];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", group);
	d = opendir(path);
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static char lone[MAX_EDUS][32], shared_edu[32];
static int nlone;

static void find_edus(void)
{
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/devices");
	char path[300], buf[16];

	while (d && (de = readdir(d))) {
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (strncmp(buf, "0x11e8", 6))
			continue;
		if (group_size(group_of(de->d_name)) == 1 && nlone < MAX_EDUS)
			snprintf(lone[nlone++], 32, "%.31s", de->d_name);
		else if (!shared_edu[0])
			snprintf(shared_edu, 32, "%.31s", de->d_name);
	}
	if (d)
		closedir(d);
	/* readdir order is not sorted: make the roles stable */
	qsort(lone, nlone, sizeof(lone[0]), (int (*)(const void *, const void *))strcmp);
}

/* Keep CAP_IPC_LOCK out so that both backends charge locked memory. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (syscall(SYS_capget, &h, c))
		die("capget", errno);
	c[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	c[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &h, c))
		die("capset", errno);
	setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* -------------------------------------------------------------- ours */

struct ours {
	int fd;
	uint32_t ioas, dev_a, dev_b;
	struct iommufd_pci_dev *a, *b;
};

static struct ours ours;

static void ours_setup(void)
{
	uint32_t pt;
	int rc;

	ours.fd = iommufd_open();
	if (ours.fd < 0)
		die("open /dev/iommu", ours.fd);
	/* Per-process accounting: the charge shows in VmLck like type1's. */
	rc = iommufd_option_set(ours.fd, IOMMU_OPTION_RLIMIT_MODE, 0, 1);
	if (rc)
		die("RLIMIT_MODE", rc);
	if ((rc = iommufd_pci_driver_bind(lone[0])) ||
	    (rc = iommufd_pci_open(lone[0], &ours.a)) ||
	    (rc = iommufd_pci_bind(ours.a, ours.fd, &ours.dev_a)))
		die("bind the first edu", rc);
	if ((rc = iommufd_pci_driver_bind(lone[1])) ||
	    (rc = iommufd_pci_open(lone[1], &ours.b)) ||
	    (rc = iommufd_pci_bind(ours.b, ours.fd, &ours.dev_b)))
		die("bind the second edu", rc);
	if ((rc = iommufd_ioas_alloc(ours.fd, &ours.ioas)))
		die("IOAS alloc", rc);
	pt = ours.ioas;
	if ((rc = iommufd_pci_attach(ours.a, &pt)))
		die("attach", rc);
}

static int ours_map(uint32_t ioas, void *va, uint64_t iova, uint64_t len)
{
	return iommufd_ioas_map(ours.fd, ioas, va, len, &iova,
				IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
}

static int ours_unmap(uint32_t ioas, uint64_t iova, uint64_t len)
{
	return iommufd_ioas_unmap(ours.fd, ioas, iova, len, NULL);
}

/* ------------------------------------------------------------- type1 */

static int t1_container = -1;

static int vfio_bind(const char *bdf)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (sysfs_write(path, "vfio-pci"))
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	sysfs_write(path, bdf);
	return sysfs_write("/sys/bus/pci/drivers_probe", bdf);
}

/* A container holding @bdf's group, type1v2. */
static int t1_container_for(const char *bdf, int container)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int group;

	if (vfio_bind(bdf)) {
		fprintf(stderr, "bench: %s: cannot bind to vfio-pci\n", bdf);
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_of(bdf));
	group = open(path, O_RDWR);
	if (group < 0) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fprintf(stderr, "bench: %s: group not viable\n", path);
		return -1;
	}
	if (container < 0) {
		container = open("/dev/vfio/vfio", O_RDWR);
		if (container < 0)
			return -1;
		if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
		    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
			return -1;
	} else if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)) {
		return -1;
	}
	return container;
}

static int t1_map(int container, void *va, uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va, .iova = iova, .size = len,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

static int t1_unmap(int container, uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = len,
	};

	return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : 0;
}

static void t1_unmap_all(int container)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = VFIO_DMA_UNMAP_FLAG_ALL,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u))
		die("type1 unmap all", errno);
}

/* ------------------------------------------------------------- floor */

static uint64_t floor_last_map_ns;

static int floor_run_flags(void *va, uint64_t iova, uint64_t len,
			   uint32_t flags, uint64_t *ns)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd), .op = IOMMU_TEST_OP_BENCH_FLOOR,
		.id = ours.dev_b,
		.bench_floor = { .uptr = (uintptr_t)va, .length = len,
				 .iova = iova, .flags = flags },
	};

	if (ioctl(ours.fd, IOMMU_TEST_CMD, &cmd))
		return -errno;
	*ns = cmd.bench_floor.out_map_ns + cmd.bench_floor.out_unmap_ns;
	floor_last_map_ns = cmd.bench_floor.out_map_ns;
	return 0;
}

static int floor_run(void *va, uint64_t iova, uint64_t len, uint64_t *ns)
{
	return floor_run_flags(va, iova, len, 0, ns);
}

/* ------------------------------------------------------------ tables */

#define ROW_FMT "| %-44s | %9s | %9s | %9s | %10s | %10s | %9s | %9s | %10s | %10s |\n"

static void held_cols(const struct held *h, char *kmem, char *lck, size_t n)
{
	if (!h || !h->len) {
		snprintf(kmem, n, "-");
		snprintf(lck, n, "-");
		return;
	}
	/* Slab growth is counted in pages: below a few KiB is noise. */
	snprintf(kmem, n, "%ld", h->kmem_kb > 0 ?
		 (long)(h->kmem_kb * (double)(1ULL << 30) / h->len) : 0L);
	snprintf(lck, n, "%ld", h->lck_kb);
}

static void table_head(void)
{
	printf(ROW_FMT, "workload", "ours", "type1", "floor", "ours/type1",
	       "ours/floor", "ours KiB", "type1 KiB", "ours VmLck", "type1 VmLck");
	printf(ROW_FMT, "", "", "", "", "", "", "per GiB", "per GiB", "KiB", "KiB");
	printf("|%s|\n", "----------------------------------------------|-----------|-----------|-----------|------------|------------|-----------|-----------|------------|------------");
}

/* Times in ns (0: none); @ho/@ht: what each backend held while mapped. */
static void row(const char *name, uint64_t o, uint64_t t, uint64_t f,
		const struct held *ho, const struct held *ht)
{
	char os[16], ts[16], fs[16] = "-", of[16] = "-", ot[16] = "-";
	char ok[16], ol[16], tk[16], tl[16];

	snprintf(os, sizeof(os), "%.2f", o / 1e6);
	snprintf(ts, sizeof(ts), "%.2f", t / 1e6);
	if (f) {
		snprintf(fs, sizeof(fs), "%.2f", f / 1e6);
		snprintf(of, sizeof(of), "%.2fx", (double)o / f);
	}
	if (t)
		snprintf(ot, sizeof(ot), "%.2fx", (double)o / t);
	held_cols(ho, ok, ol, sizeof(ok));
	held_cols(ht, tk, tl, sizeof(tk));
	printf(ROW_FMT, name, os, ts, fs, ot, of, ok, tk, ol, tl);
}

/* Map+unmap @len in one call, each backend, @reps times; medians. */
static void one_call(const char *name, uint64_t len, bool huge, int reps,
		     long *kmem_ours)
{
	uint64_t to[9], tt[9], tf[9], om[9], fm[9], t0;
	struct held ho = { 0 }, ht = { 0 };
	struct snap s0;
	long kmem0;
	void *buf = alloc_mem(len, huge);
	int i, rc;

	if (!buf) {
		printf("| %-44s | (could not allocate %llu MiB%s)\n", name,
		       (unsigned long long)(len / MiB), huge ? " of hugetlb" : "");
		return;
	}
	/* First, untimed: what each holds while mapped. */
	snap_take(&s0);
	kmem0 = pin_state_bytes();
	if ((rc = ours_map(ours.ioas, buf, IOVA_BASE, len)))
		die("ours map", rc);
	held_since(&ho, &s0, len);
	if (kmem_ours)
		*kmem_ours = pin_state_bytes() - kmem0;
	if ((rc = ours_unmap(ours.ioas, IOVA_BASE, len)))
		die("ours unmap", rc);
	snap_take(&s0);
	if ((rc = t1_map(t1_container, buf, IOVA_BASE, len)))
		die("type1 map", rc);
	held_since(&ht, &s0, len);
	if ((rc = t1_unmap(t1_container, IOVA_BASE, len)))
		die("type1 unmap", rc);

	for (i = 0; i < reps; i++) {
		t0 = now_ns();
		if ((rc = ours_map(ours.ioas, buf, IOVA_BASE, len)))
			die("ours map", rc);
		om[i] = now_ns() - t0;
		if ((rc = ours_unmap(ours.ioas, IOVA_BASE, len)))
			die("ours unmap", rc);
		to[i] = now_ns() - t0;

		t0 = now_ns();
		if ((rc = t1_map(t1_container, buf, IOVA_BASE, len)))
			die("type1 map", rc);
		if ((rc = t1_unmap(t1_container, IOVA_BASE, len)))
			die("type1 unmap", rc);
		tt[i] = now_ns() - t0;

		if ((rc = floor_run(buf, IOVA_BASE, len, &tf[i])))
			die("floor", rc);
		fm[i] = floor_last_map_ns;
	}
	row(name, median(to, reps), median(tt, reps), median(tf, reps), &ho,
	    &ht);
	printf("|   %-42s | map %.2f, unmap %.2f (ours); map %.2f, unmap %.2f (floor)\n",
	       "", median(om, reps) / 1e6, (median(to, reps) - median(om, reps)) / 1e6,
	       median(fm, reps) / 1e6, (median(tf, reps) - median(fm, reps)) / 1e6);
	munmap(buf, len);
}

/* @n one-page maps of ours at IOVA_BASE, then their unmaps; the time. */
static uint64_t small_loop(uint32_t ioas, char *buf, int n)
{
	uint64_t t0 = now_ns();
	int i, rc;

	for (i = 0; i < n; i++)
		if ((rc = ours_map(ioas, buf + i * PAGE, IOVA_BASE + i * PAGE, PAGE)))
			die("ours map", rc);
	for (i = 0; i < n; i++)
		if ((rc = ours_unmap(ioas, IOVA_BASE + i * PAGE, PAGE)))
			die("ours unmap", rc);
	return now_ns() - t0;
}

/* type1's version of small_loop(). */
static uint64_t t1_small_loop(char *buf, int n)
{
	uint64_t t0 = now_ns();
	int i;

	for (i = 0; i < n; i++)
		if (t1_map(t1_container, buf + i * PAGE, IOVA_BASE + i * PAGE, PAGE))
			die("type1 map", errno);
	for (i = 0; i < n; i++)
		if (t1_unmap(t1_container, IOVA_BASE + i * PAGE, PAGE))
			die("type1 unmap", errno);
	return now_ns() - t0;
}

/* What @n one-page maps hold, mapped then unmapped untimed. */
static void small_held(bool type1, char *buf, int n, struct held *h)
{
	struct snap s0;
	int i, rc;

	snap_take(&s0);
	for (i = 0; i < n; i++) {
		rc = type1 ? t1_map(t1_container, buf + i * PAGE,
				    IOVA_BASE + i * PAGE, PAGE) :
			     ours_map(ours.ioas, buf + i * PAGE,
				      IOVA_BASE + i * PAGE, PAGE);
		if (rc)
			die("small map", rc);
	}
	held_since(h, &s0, (uint64_t)n * PAGE);
	rc = type1 ? t1_unmap(t1_container, IOVA_BASE, (uint64_t)n * PAGE) :
		     ours_unmap(ours.ioas, IOVA_BASE, (uint64_t)n * PAGE);
	if (rc)
		die("small unmap", rc);
}

/*
 * @n separate one-page maps, then their unmaps.  The floor does the same
 * page by page in the kernel, so it has no system calls to pay.
 */
static void many_pages(const char *name, int n, int reps)
{
	uint64_t to[9], tt[9], tf[9], te[9], t0;
	char *buf = alloc_mem(n * PAGE, false);
	struct held ho, ht;
	int i, r;

	small_held(false, buf, n, &ho);
	small_held(true, buf, n, &ht);
	for (r = 0; r < reps; r++) {
		to[r] = small_loop(ours.ioas, buf, n);
		t0 = now_ns();
		tt[r] = t1_small_loop(buf, n);
		if (floor_run_flags(buf, IOVA_BASE, n * PAGE,
				    IOMMU_TEST_BENCH_FLOOR_PER_PAGE, &tf[r]))
			die("floor", errno);
	}
	row(name, median(to, reps), median(tt, reps), median(tf, reps), &ho,
	    &ht);
	for (r = 0; r < reps; r++) {
		struct iommu_destroy d = { .size = sizeof(d), .id = 0 };

		t0 = now_ns();
		for (i = 0; i < 2 * n; i++)
			ioctl(ours.fd, IOMMU_DESTROY, &d);	/* ENOENT */
		te[r] = now_ns() - t0;
	}
	printf("|   the floor makes no system calls; %d empty /dev/iommu ioctls take %.2f ms:\n"
	       "|   ours / (floor + those calls) = %.2fx\n", 2 * n,
	       median(te, reps) / 1e6,
	       (double)median(to, reps) / (median(tf, reps) + median(te, reps)));
	munmap(buf, n * PAGE);
}

/* @n one-page mappings removed by one unmap call covering them all. */
static void unmap_many_at_once(const char *name, int n, int reps)
{
	uint64_t to[9], tt[9], t0;
	char *buf = alloc_mem(n * PAGE, false);
	int i, r, rc;

	for (r = 0; r < reps; r++) {
		for (i = 0; i < n; i++)
			if ((rc = ours_map(ours.ioas, buf + i * PAGE,
					   IOVA_BASE + i * PAGE, PAGE)))
				die("ours map", rc);
		t0 = now_ns();
		if ((rc = ours_unmap(ours.ioas, IOVA_BASE, n * PAGE)))
			die("ours unmap", rc);
		to[r] = now_ns() - t0;
		for (i = 0; i < n; i++)
			if ((rc = t1_map(t1_container, buf + i * PAGE,
					 IOVA_BASE + i * PAGE, PAGE)))
				die("type1 map", rc);
		t0 = now_ns();
		if ((rc = t1_unmap(t1_container, IOVA_BASE, n * PAGE)))
			die("type1 unmap", rc);
		tt[r] = now_ns() - t0;
	}
	row(name, median(to, reps), median(tt, reps), 0, NULL, NULL);
	munmap(buf, n * PAGE);
}

/* 200,000 separate maps of 4 KiB: type1 stops at its entry limit. */
static void mapping_limit(int n)
{
	char *buf = alloc_mem(64 * PAGE, false);
	uint64_t t0, t_ours;
	int i, rc = 0, t1_ok = 0;

	t0 = now_ns();
	for (i = 0; i < n; i++)
		if ((rc = ours_map(ours.ioas, buf + (i % 64) * PAGE,
				   IOVA_BASE + (uint64_t)i * PAGE, PAGE)))
			break;
	t_ours = now_ns() - t0;
	printf("\n%d separate 4 KiB maps: ours mapped %d in %.0f ms (%s)", n, i,
	       t_ours / 1e6, rc ? iommufd_strerror(rc) : "all");
	if ((rc = iommufd_ioas_unmap_all(ours.fd, ours.ioas, NULL)))
		die("unmap all", rc);
	for (i = 0; i < n; i++) {
		rc = t1_map(t1_container, buf + (i % 64) * PAGE,
			    IOVA_BASE + (uint64_t)i * PAGE, PAGE);
		if (rc)
			break;
		t1_ok++;
	}
	printf("; type1 mapped %d, then refused map #%d with %s\n", t1_ok,
	       t1_ok + 1, rc ? strerror(-rc) : "nothing");
	t1_unmap_all(t1_container);
	munmap(buf, 64 * PAGE);
}

/* One IOAS with two domains vs one container with two groups. */
static void two_devices(uint64_t len)
{
	struct held ho, ht;
	struct snap s0;
	uint32_t hwpt, pt;
	uint64_t t0, to, tt;
	void *buf = alloc_mem(len, false);
	int rc;

	if ((rc = iommufd_hwpt_alloc(ours.fd, ours.dev_b, ours.ioas, 0, &hwpt)))
		die("HWPT alloc", rc);
	pt = hwpt;
	if ((rc = iommufd_pci_attach(ours.b, &pt)))
		die("attach the second device", rc);
	snap_take(&s0);
	t0 = now_ns();
	if ((rc = ours_map(ours.ioas, buf, IOVA_BASE, len)))
		die("ours map", rc);
	to = now_ns() - t0;
	held_since(&ho, &s0, len);
	ours_unmap(ours.ioas, IOVA_BASE, len);
	iommufd_pci_detach(ours.b);
	iommufd_destroy(ours.fd, hwpt);

	snap_take(&s0);
	t0 = now_ns();
	if ((rc = t1_map(t1_container, buf, IOVA_BASE, len)))
		die("type1 map", rc);
	tt = now_ns() - t0;
	held_since(&ht, &s0, len);
	t1_unmap(t1_container, IOVA_BASE, len);

	row("map 64 MiB for two devices in two groups", to, tt, 0, &ho, &ht);
	printf("|   (ours: one IOAS, two domains; type1: one container)  charged once each:\n"
	       "|   ours VmLck +%ld KiB, VmPin +%ld KiB; type1 VmLck +%ld KiB, VmPin +%ld KiB\n",
	       ho.lck_kb, ho.pin_kb, ht.lck_kb, ht.pin_kb);
	munmap(buf, len);
}

/*
 * IOAS_COPY of a mapped range into a second IOAS vs mapping it again;
 * type1, which has no copy, maps the same memory again at another IOVA.
 */
static void copy_vs_map(uint64_t len, int reps)
{
	uint64_t tc[9], tm[9], tt[9], t0, iova;
	struct held hc, hm, ht;
	uint32_t ioas2, pt;
	struct snap s0;
	void *buf = alloc_mem(len, false);
	int r, rc;

	if ((rc = iommufd_ioas_alloc(ours.fd, &ioas2)))
		die("IOAS alloc", rc);
	pt = ioas2;
	if ((rc = iommufd_pci_attach(ours.b, &pt)))
		die("attach the second device", rc);
	if ((rc = ours_map(ours.ioas, buf, IOVA_BASE, len)))
		die("ours map", rc);
	if ((rc = t1_map(t1_container, buf, IOVA_BASE, len)))
		die("type1 map", rc);
	/* Untimed: what the second mapping holds, in each way. */
	snap_take(&s0);
	iova = IOVA_BASE;
	if ((rc = iommufd_ioas_copy(ours.fd, ioas2, &iova, ours.ioas, IOVA_BASE,
				    len, IOMMUFD_MAP_RW |
					 IOMMU_IOAS_MAP_FIXED_IOVA)))
		die("copy", rc);
	held_since(&hc, &s0, len);
	ours_unmap(ioas2, IOVA_BASE, len);
	snap_take(&s0);
	if ((rc = ours_map(ioas2, buf, IOVA_BASE, len)))
		die("map again", rc);
	held_since(&hm, &s0, len);
	ours_unmap(ioas2, IOVA_BASE, len);
	snap_take(&s0);
	if ((rc = t1_map(t1_container, buf, IOVA_BASE + (1ULL << 30), len)))
		die("type1 map again", rc);
	held_since(&ht, &s0, len);
	t1_unmap(t1_container, IOVA_BASE + (1ULL << 30), len);
	for (r = 0; r < reps; r++) {
		iova = IOVA_BASE;
		t0 = now_ns();
		rc = iommufd_ioas_copy(ours.fd, ioas2, &iova, ours.ioas,
				       IOVA_BASE, len,
				       IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
		if (rc)
			die("copy", rc);
		ours_unmap(ioas2, IOVA_BASE, len);
		tc[r] = now_ns() - t0;
		t0 = now_ns();
		if ((rc = ours_map(ioas2, buf, IOVA_BASE, len)))
			die("map again", rc);
		ours_unmap(ioas2, IOVA_BASE, len);
		tm[r] = now_ns() - t0;
		t0 = now_ns();
		if ((rc = t1_map(t1_container, buf, IOVA_BASE + (1ULL << 30), len)))
			die("type1 map again", rc);
		t1_unmap(t1_container, IOVA_BASE + (1ULL << 30), len);
		tt[r] = now_ns() - t0;
	}
	row("64 MiB already mapped: ours IOAS_COPY", median(tc, reps),
	    median(tt, reps), 0, &hc, &ht);
	row("64 MiB already mapped: ours map again", median(tm, reps),
	    median(tt, reps), 0, &hm, &ht);
	ours_unmap(ours.ioas, IOVA_BASE, len);
	t1_unmap(t1_container, IOVA_BASE, len);
	iommufd_pci_detach(ours.b);
	iommufd_destroy(ours.fd, ioas2);
	munmap(buf, len);
}

struct worker {
	bool type1;
	char *buf;
	uint64_t iova;
	int iters;
};

#define CHUNK MiB

static void *work(void *arg)
{
	struct worker *w = arg;
	int i, rc;

	for (i = 0; i < w->iters; i++) {
		uint64_t iova = w->iova + (i % 16) * CHUNK;
		char *va = w->buf + (i % 16) * CHUNK;

		rc = w->type1 ? t1_map(t1_container, va, iova, CHUNK) :
				ours_map(ours.ioas, va, iova, CHUNK);
		if (rc)
			die("threaded map", rc);
		rc = w->type1 ? t1_unmap(t1_container, iova, CHUNK) :
				ours_unmap(ours.ioas, iova, CHUNK);
		if (rc)
			die("threaded unmap", rc);
	}
	return NULL;
}

static uint64_t run_threads(bool type1, int nthreads, int total, char *buf)
{
	struct worker w[2];
	pthread_t th[2];
	uint64_t t0 = now_ns();
	int i;

	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ type1, buf + i * 16 * CHUNK,
					IOVA_BASE + i * (1ULL << 30),
					total / nthreads };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return now_ns() - t0;
}

static void threads(int total, int reps)
{
	char *buf = alloc_mem(32 * CHUNK, false);
	uint64_t o1[9], o2[9], t1[9], t2[9];
	int r;

	/* Warm up both backends (page tables, caches) before measuring. */
	run_threads(false, 1, total / 4, buf);
	run_threads(true, 1, total / 4, buf);
	/* Interleaved, so that a slow moment of the host hits all four. */
	for (r = 0; r < reps; r++) {
		o1[r] = run_threads(false, 1, total, buf);
		o2[r] = run_threads(false, 2, total, buf);
		t1[r] = run_threads(true, 1, total, buf);
		t2[r] = run_threads(true, 2, total, buf);
	}
	printf("\n%d map+unmap of 1 MiB (4 KiB pages), one thread vs two threads on disjoint ranges\n"
	       "(medians of %d):\n", total, reps);
	printf("| %-8s | %12s | %12s | %8s |\n", "backend", "1 thread ms",
	       "2 threads ms", "speedup");
	printf("| %-8s | %12.1f | %12.1f | %7.2fx |\n", "ours",
	       median(o1, reps) / 1e6, median(o2, reps) / 1e6,
	       (double)median(o1, reps) / median(o2, reps));
	printf("| %-8s | %12.1f | %12.1f | %7.2fx |\n", "type1",
	       median(t1, reps) / 1e6, median(t2, reps) / 1e6,
	       (double)median(t1, reps) / median(t2, reps));
	munmap(buf, 32 * CHUNK);
}

/*
 * For profiling (perf, or counting instructions under the emulator): one
 * small-map loop alone, @reps times -- ours with a domain ("ours"),
 * ours on an IOAS without domains ("bare"), type1's, the floor's (in the
 * kernel, no system call per page) or 2 x @n empty ioctls ("empty").
 * The loops sit
 * between two sched_rr_get_interval() calls, a system call nothing else
 * here makes: scripts/profile-tcg counts between them.  Not in the table.
 */
static void profile_small(const char *which, int n, int reps)
{
	char *buf = alloc_mem(n * PAGE, false);
	uint32_t ioas = ours.ioas;
	struct timespec mark;
	uint64_t t[32];
	int r, rc;

	if (!strcmp(which, "bare") && (rc = iommufd_ioas_alloc(ours.fd, &ioas)))
		die("IOAS alloc", rc);
	syscall(SYS_sched_rr_get_interval, 0, &mark);
	for (r = 0; r < reps && r < 32; r++) {
		if (!strcmp(which, "empty")) {
			struct iommu_destroy d = { .size = sizeof(d) };
			uint64_t t0 = now_ns();
			int i;

			for (i = 0; i < 2 * n; i++)
				ioctl(ours.fd, IOMMU_DESTROY, &d); /* ENOENT */
			t[r] = now_ns() - t0;
		} else if (!strcmp(which, "floor")) {
			if (floor_run_flags(buf, IOVA_BASE, n * PAGE,
					    IOMMU_TEST_BENCH_FLOOR_PER_PAGE,
					    &t[r]))
				die("floor", errno);
		} else {
			t[r] = !strcmp(which, "type1") ?
				       t1_small_loop(buf, n) :
				       small_loop(ioas, buf, n);
		}
	}
	syscall(SYS_sched_rr_get_interval, 0, &mark);
	printf("profile-small-%s: %d x %d one-page map+unmap: median %.2f ms\n",
	       which, r, n, median(t, r) / 1e6);
	if (ioas != ours.ioas)
		iommufd_destroy(ours.fd, ioas);
	munmap(buf, n * PAGE);
}

/* For profiling: ours' 512 MiB map+unmap of 4 KiB pages alone. */
static void profile_big(int reps)
{
	uint64_t len = 512 * MiB, t[16], m[16], t0;
	void *buf = alloc_mem(len, false);
	int r, rc;

	for (r = 0; r < reps && r < 16; r++) {
		t0 = now_ns();
		if ((rc = ours_map(ours.ioas, buf, IOVA_BASE, len)))
			die("ours map", rc);
		m[r] = now_ns() - t0;
		if ((rc = ours_unmap(ours.ioas, IOVA_BASE, len)))
			die("ours unmap", rc);
		t[r] = now_ns() - t0;
	}
	printf("profile-big: %d x 512 MiB map+unmap: median %.2f ms (map %.2f ms)\n",
	       r, median(t, r) / 1e6, median(m, r) / 1e6);
	munmap(buf, len);
}

/* Is workload @key selected?  No arguments: all of them. */
static int nsel;
static char **sel;
static bool want(const char *key)
{
	int i;

	if (!nsel)
		return true;
	for (i = 0; i < nsel; i++)
		if (!strcmp(sel[i], key))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	long ko = 0, kr = 0;

	nsel = argc - 1;
	sel = argv + 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	find_edus();
	if (nlone < 3 || !shared_edu[0]) {
		fprintf(stderr, "bench: needs three edus alone in their groups and one sharing a group (the bench VM)\n");
		return 1;
	}
	ours_setup();
	t1_container = t1_container_for(shared_edu, -1);
	if (t1_container < 0)
		die("VFIO type1 container", errno);
	if (t1_container_for(lone[2], t1_container) < 0)
		die("VFIO second group", errno);
	drop_ipc_lock();

	printf("All times: median, milliseconds, map + unmap. ours = /dev/iommu; type1 = VFIO type1;\n"
	       "floor = pin + iommu_map with no bookkeeping (in the kernel). One VM boot, same kernel,\n"
	       "same emulated VT-d, under QEMU TCG emulation: compare ratios, not absolute times.\n"
	       "While the workload's memory is mapped (measured once, untimed): KiB per GiB = kernel\n"
	       "memory the backend grew by (unreclaimable slab + vmalloc; IOMMU page tables aside, the\n"
	       "same for both) per GiB mapped; VmLck = locked memory charged to the process.\n\n");
	table_head();
	if (want("4k")) {
		one_call("map+unmap 64 MiB, 4 KiB pages, one call", 64 * MiB, false, 5, NULL);
		one_call("map+unmap 512 MiB, 4 KiB pages, one call", 512 * MiB, false, 3, &ko);
		fault_in_reverse = true;
		one_call("same, 4 KiB pages out of physical order", 512 * MiB, false, 3, &kr);
		fault_in_reverse = false;
	}
	if (want("huge")) {
		one_call("map+unmap 64 MiB, 2 MiB hugetlb, one call", 64 * MiB, true, 5, NULL);
		one_call("map+unmap 512 MiB, 2 MiB hugetlb, one call", 512 * MiB, true, 3, NULL);
	}
	if (want("small")) {
		many_pages("4096 separate 4 KiB maps, then unmaps", 4096, 5);
		unmap_many_at_once("unmap 4096 one-page mappings in one call", 4096, 3);
	}
	if (want("two"))
		two_devices(64 * MiB);
	if (want("copy"))
		copy_vs_map(64 * MiB, 3);
	if (want("4k"))
		printf("\nKernel memory per GiB mapped, besides the IOMMU page tables (the same for both):\n"
		       "ours %ld KiB/GiB of pin state (one entry per 2 MiB chunk whose pages are one\n"
		       "physical run, else a page pointer and a use count per 4 KiB page; counted by\n"
		       "the module); type1 keeps no per-page state for IOMMU-backed containers (it\n"
		       "reads the IOMMU page table back on unmap).  Memory faulted in out of\n"
		       "physical order: ours %ld KiB/GiB.\n", ko * 2 / 1024, kr * 2 / 1024);
	if (want("threads"))
		threads(1024, 5);
	if (want("limit"))
		mapping_limit(200000);
	if (nsel && want("profile-small-ours"))
		profile_small("ours", 4096, 20);
	if (nsel && want("profile-small-bare"))
		profile_small("bare", 4096, 20);
	if (nsel && want("profile-small-type1"))
		profile_small("type1", 4096, 20);
	if (nsel && want("profile-small-floor"))
		profile_small("floor", 4096, 20);
	if (nsel && want("profile-small-empty"))
		profile_small("empty", 4096, 20);
	if (nsel && want("profile-big"))
		profile_big(10);
	printf("\nbench complete\n");
	return 0;
}
