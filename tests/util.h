/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the /dev/iommu test programs.
 *
 * Every ioctl wrapper returns what ioctl() returned (0, or -1 with errno
 * set), so each one can be used directly inside CHECK_OK() and
 * CHECK_ERRNO().  Output values are written through pointer arguments,
 * which may be NULL when the caller does not need them.  Every structure
 * handed to the kernel carries .size = sizeof(the structure).
 *
 * The wrappers of the core commands go through libiommufd (the library
 * the project ships); those of IOMMU_TEST_CMD, which the library does not
 * cover, issue the ioctl themselves.
 */
#ifndef TESTS_UTIL_H
#define TESTS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/iommufd_test.h>

#include "tap.h"

#ifndef PAGE_SIZE
#define PAGE_SIZE 4096UL
#endif
/* MOCK_PAGE_SIZE (2 KiB on every CPU page size) is iommufd_test.h's. */
#define HUGEPAGE_SIZE (2UL << 20)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The id used for "no such object" in error-path tests. */
#define BAD_ID 0xfffff0u

/* The read/write permission almost every map uses. */
#define MAP_RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

/* Default of the module's global temporary memory limit. */
#define TEST_MEMORY_LIMIT_DEFAULT 65536

/*
 * Run a helper that uses CHECK*() itself (a void function), and stop the
 * calling test too when it failed.
 */
#define CHECK_SUB(call)                                                 \
	do {                                                            \
		call;                                                   \
		if (tap_failed_here)                                    \
			return;                                         \
	} while (0)

/*
 * Checks for code running in a forked child process: on failure print a
 * TAP diagnostic line and _exit(1); the parent checks the exit status
 * with wait_child().
 */
#define CHILD_CHECK(cond)                                               \
	do {                                                            \
		if (!(cond)) {                                          \
			printf("# child %d %s:%d: CHECK(%s) failed "    \
			       "(errno %d %s)\n", (int)getpid(),        \
			       __FILE__, __LINE__, #cond, errno,        \
			       strerror(errno));                        \
			fflush(stdout);                                 \
			_exit(1);                                       \
		}                                                       \
	} while (0)

#define CHILD_OK(expr)                                                  \
	do {                                                            \
		errno = 0;                                              \
		long __r = (long)(expr);                                \
		if (__r != 0) {                                         \
			printf("# child %d %s:%d: %s returned %ld, "    \
			       "errno %d (%s)\n", (int)getpid(),        \
			       __FILE__, __LINE__, #expr, __r, errno,   \
			       strerror(errno));                        \
			fflush(stdout);                                 \
			_exit(1);                                       \
		}                                                       \
	} while (0)

#define CHILD_ERRNO(expr, err)                                          \
	do {                                                            \
		errno = 0;                                              \
		long __r = (long)(expr);                                \
		if (__r != -1 || errno != (err)) {                      \
			printf("# child %d %s:%d: %s returned %ld "     \
			       "errno %d (%s), expected -1 errno %d "   \
			       "(%s)\n", (int)getpid(), __FILE__,       \
			       __LINE__, #expr, __r, errno,             \
			       strerror(errno), (err), strerror(err));  \
			fflush(stdout);                                 \
			_exit(1);                                       \
		}                                                       \
	} while (0)

/*
 * A libiommufd result in ioctl()'s convention: @rc when it is not
 * negative (0, or a file descriptor), else -1 with errno = -@rc.  Wrap a
 * library call in it to test its error inside CHECK_ERRNO().
 */
int from_lib(int rc);

/* ---- /dev/iommu core commands ---- */

/* iommufd_open(): /dev/iommu read-write, close-on-exec; the fd, or -1. */
int dev_iommu_open(void);

int ioas_alloc(int fd, __u32 *ioas_id);
int iommu_destroy(int fd, __u32 id);

/* IOMMU_IOAS_MAP with caller-chosen flags; *iova is in (FIXED_IOVA) and out. */
int ioas_map_flags(int fd, __u32 ioas_id, void *buf, __u64 length,
		   __u64 *iova, __u32 flags);
/* Read/write map at a fixed IOVA. */
int ioas_map_fixed(int fd, __u32 ioas_id, void *buf, __u64 length, __u64 iova);
/* Read/write map at an IOVA the kernel picks, returned in *iova. */
int ioas_map_auto(int fd, __u32 ioas_id, void *buf, __u64 length, __u64 *iova);
/* IOMMU_IOAS_UNMAP; *unmapped (may be NULL) gets the bytes removed. */
int ioas_unmap(int fd, __u32 ioas_id, __u64 iova, __u64 length,
	       __u64 *unmapped);
int ioas_unmap_all(int fd, __u32 ioas_id, __u64 *unmapped);
/* IOMMU_IOAS_COPY; *dst_iova is in (FIXED_IOVA) and out. */
int ioas_copy(int fd, __u32 dst_ioas, __u64 *dst_iova, __u32 src_ioas,
	      __u64 src_iova, __u64 length, __u32 flags);
/*
 * IOMMU_IOAS_IOVA_RANGES.  *num is the capacity of @ranges on input and
 * the number of ranges on output; *alignment may be NULL.
 */
int ioas_iova_ranges(int fd, __u32 ioas_id, struct iommu_iova_range *ranges,
		     __u32 *num, __u64 *alignment);
int ioas_allow_iovas(int fd, __u32 ioas_id,
		     const struct iommu_iova_range *ranges, __u32 num);
int option_get(int fd, __u32 option_id, __u32 object_id, __u64 *val);
int option_set(int fd, __u32 option_id, __u32 object_id, __u64 val);
/* IOMMU_HWPT_ALLOC of a paging table with no driver data. */
int hwpt_alloc(int fd, __u32 dev_id, __u32 pt_id, __u32 flags,
	       __u32 *out_hwpt_id);
/*
 * IOMMU_HWPT_ALLOC with driver data: @data_type, @len bytes at @data.
 * The ioctl's result; *out_hwpt_id (may be NULL) gets the new HWPT.
 */
int hwpt_alloc_data(int fd, __u32 dev_id, __u32 pt_id, __u32 flags,
		    __u32 data_type, const void *data, __u32 len,
		    __u32 *out_hwpt_id);
/* A paging mock HWPT of MOCK_IOMMUPT_@pagetable_type (selftest data). */
int hwpt_alloc_mock(int fd, __u32 dev_id, __u32 pt_id, __u32 pagetable_type,
		    __u32 *out_hwpt_id);
/* IOMMU_GET_HW_INFO; *data_len is in (buffer size) and out. */
int get_hw_info(int fd, __u32 dev_id, void *data, __u32 *data_len,
		__u32 *out_data_type, __u64 *out_caps);

/* ---- IOMMU_TEST_CMD ---- */

/* Fill in .size and issue IOMMU_TEST_CMD. */
int test_cmd(int fd, struct iommu_test_cmd *cmd);
/* A new mock device attached to @pt_id (IOAS or HWPT). */
int mock_domain(int fd, __u32 pt_id, __u32 *stdev_id, __u32 *hwpt_id,
		__u32 *idev_id);
int mock_domain_flags(int fd, __u32 pt_id, __u32 dev_flags, __u32 *stdev_id,
		      __u32 *hwpt_id, __u32 *idev_id);
/* Move mock device @stdev_id to *pt_id; *pt_id returns the HWPT used. */
int mock_domain_replace(int fd, __u32 stdev_id, __u32 *pt_id);
int add_reserved(int fd, __u32 ioas_id, __u64 start, __u64 length);
/* The mock page table of @hwpt_id maps [iova, iova+length) to @uptr. */
int check_map(int fd, __u32 hwpt_id, __u64 iova, const void *uptr,
	      __u64 length);
/* Every page of [uptr, uptr+length) is pinned exactly @refs times. */
int check_refs(int fd, const void *uptr, __u64 length, __u32 refs);
/* A software-device access on @ioas_id; *access_fd is its new fd. */
int create_access(int fd, __u32 ioas_id, __u32 flags, int *access_fd);
int access_pages(int fd, int access_fd, __u64 iova, const void *uptr,
		 __u64 length, __u32 flags, __u32 *pages_id);
int destroy_access_pages(int fd, int access_fd, __u32 pages_id);
int access_rw(int fd, int access_fd, __u64 iova, void *buf, __u64 length,
	      __u32 flags);
int set_temp_memory_limit(int fd, __u32 limit);
int access_replace_ioas(int fd, int access_fd, __u32 ioas_id);
int dev_check_cache(int fd, __u32 idev_id, __u32 cache_id, __u32 value);
/*
 * IOMMU_TEST_OP_DMABUF_GET: a zeroed dma-buf of @length bytes (rounded up
 * to pages) from the test exporter, opened with @open_flags: the new fd,
 * or -1.
 */
int dmabuf_get(int fd, __u32 length, __u32 open_flags);
/* IOMMU_TEST_OP_DMABUF_REVOKE of the test exporter's @dmabuf_fd. */
int dmabuf_revoke(int fd, int dmabuf_fd, bool revoked);
/* IOMMU_IOAS_MAP_FILE; *iova is in (FIXED_IOVA) and out (may be NULL). */
int ioas_map_file(int fd, __u32 ioas_id, int file_fd, __u64 start,
		  __u64 length, __u64 *iova, __u32 flags);
/* IOMMU_HWPT_SET_DIRTY_TRACKING with @flags (ENABLE, or 0 to stop). */
int set_dirty(int fd, __u32 hwpt_id, __u32 flags);
/* IOMMU_HWPT_GET_DIRTY_BITMAP into @data. */
int get_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
	      __u64 page_size, void *data, __u32 flags);
/* IOMMU_TEST_OP_DIRTY: mark the leaf of each bit set in @bitmap. */
int mock_dirty(int fd, __u32 hwpt_id, __u64 iova, __u64 length,
	       __u64 page_size, const void *bitmap, __u64 *nr);

/* ---- memory, processes, limits ---- */

/* Private anonymous, page-aligned, populated, filled with a pattern. */
void *buf_alloc(size_t length);
/* Shared anonymous (shmem), page-aligned, populated, patterned. */
void *buf_alloc_shared(size_t length);
/* A shared memfd mapping of @length bytes; *memfd gets the fd. */
void *buf_alloc_memfd(size_t length, int *memfd);
/* 2 MiB hugetlb pages; NULL (errno set) when none can be had. */
void *buf_alloc_huge(size_t length);
void buf_free(void *buf, size_t length);
/* Fill @buf with bytes derived from @seed and the offset. */
void buf_fill(void *buf, size_t length, unsigned int seed);
/* An address range that is not mapped in this process. */
void *unmapped_va(size_t length);

/* Remove CAP_IPC_LOCK from the effective and permitted sets. */
int drop_cap_ipc_lock(void);
/* Set both RLIMIT_MEMLOCK limits to @bytes. */
int set_memlock_rlimit(size_t bytes);
/* A "Field:   N kB" value of /proc/self/status in kB, or -1. */
long proc_status_kb(const char *field);

/* fflush(stdout) and fork(), so buffered output is not duplicated. */
pid_t fork_flushed(void);

/*
 * A page whose first touch blocks in a userfaultfd: returns the uffd
 * (non-blocking) and *@page, or -1.  uffd_wait_fault() waits up to
 * @ms for a thread to be stuck there; uffd_resolve() fills the page with
 * @fill (PAGE_SIZE bytes) and lets it go on.
 */
int uffd_page(void **page);
int uffd_wait_fault(int uffd, int ms);
int uffd_resolve(int uffd, void *page, const void *fill);
/* Wait for @pid; 0 when it exited with status 0, else -1. */
int wait_child(pid_t pid);

/* A counter of /sys/kernel/debug/iommufd/stats ("objects", ...), or -1. */
long module_stat(const char *key);
/* No objects, pinned pages or pin state left in the module. */
bool module_all_released(void);
/* Load this kernel's /lib/modules/RELEASE/@name.ko: 0, or -1 (errno). */
int kmod_load(const char *name);
/* Unload module @name without waiting: 0, or -1 (errno). */
int kmod_unload(const char *name);

/*
 * The test build's own fault injection (debugfs iommufd/fail_nth, the
 * module's allocation, pin, domain-map and copy-out points): after
 * modfault_arm(n) the n-th point this process reaches fails, once;
 * modfault_arm(0) disarms.  modfault_left() is how many points the count
 * still has to pass (0 or less: it fired).
 */
#define MODFAULT_NTH "/sys/kernel/debug/iommufd/fail_nth"
int modfault_arm(int nth);
int modfault_left(void);
bool modfault_fired(void);

/*
 * The kernel's own fault injection, one system call at a time (the
 * suite's debug kernel; Debian's kernels have none).  kfault_setup()
 * opens this thread's /proc fail-nth and lets failslab and
 * fail_page_alloc fail sleeping allocations too, quietly; -1 when the
 * kernel has no fault injection.  kfault_arm(n): the n-th injection point
 * (allocation, page allocation, user copy) this thread reaches next
 * fails.  kfault_disarm() right after the call under test: whether it
 * fired.
 */
int kfault_setup(void);
int kfault_arm(int nth);
bool kfault_disarm(void);
void kfault_teardown(void);

/*
 * A walk over a sequence of calls (a scenario): KFAULT_STEP(w, call)
 * wraps each call; while w->step is the number of the call being made
 * (w->cur), its w->nth-th injection point fails.  The scenario returns
 * the line of the first call that failed, or 0.
 */
struct kfault_walk {
	int step;	/* the call to arm, -1: none */
	int nth;
	int cur;	/* the call being made */
	bool fired;	/* the armed point was reached */
	bool broken;	/* arming failed */
};

#define KFAULT_STEP(w, expr)                                            \
	do {                                                            \
		int _rc;                                                \
									\
		if ((w)->cur == (w)->step && kfault_arm((w)->nth))      \
			(w)->broken = true;                             \
		_rc = (expr);                                           \
		if ((w)->cur++ == (w)->step)                            \
			(w)->fired = kfault_disarm();                   \
		if (_rc != 0)                                           \
			return __LINE__;                                \
	} while (0)
/*
 * Whether HWPT @hwpt_id of this process's one open iommufd enforces cache
 * coherency (debugfs state, enforce_cc=): 1 or 0; -1 when not found once.
 */
int hwpt_enforce_cc(__u32 hwpt_id);
/*
 * The PCI address of an edu device alone in its IOMMU group (and the
 * group in *@group when not NULL), or NULL when the VM has none.
 */
const char *lone_edu_bdf(int *group);

/* A small deterministic PRNG (xorshift64*). */
uint64_t rng_next(uint64_t *state);

/*
 * ---- the domain variants of the IOAS tests (map.c, copy.c, ioas.c) ----
 *
 * TEST_VARIANTS(name, domain_variants) runs a test three times, as
 * name.no_domain, name.one_domain and name.two_domains, and
 * dom_env_setup() gives it an IOAS with that many domains: none (a
 * software access then reads the IOAS back), one mock domain, or two
 * distinct ones (the second a HWPT allocated on the IOAS, with a mock
 * device of its own).  In a plain TEST the IOAS has one domain.
 */
extern const char *const domain_variants[];

struct dom_env {
	int fd;
	__u32 ioas;
	int ndomains;			/* 0, 1 or 2 */
	__u32 stdev, hwpt, idev;	/* the first domain and its device */
	__u32 stdev2, hwpt2;		/* the second domain and its device */
	int afd;			/* no domain: the access that reads */
	bool own_fd;			/* teardown closes fd */
};

/* A new fd with the variant's IOAS. */
void dom_env_setup(struct dom_env *e);
/* The variant's IOAS on the open @fd (a second IOAS of that fd). */
void dom_env_setup_fd(struct dom_env *e, int fd);
/* Destroys what setup made (closes the fd if setup opened it). */
void dom_env_teardown(struct dom_env *e);
/* Pins per mapping of a page: the domains pin what they map, once. */
unsigned int dom_env_refs(const struct dom_env *e, unsigned int mappings);
/*
 * [iova, iova+len) translates to @buf in every domain (MD_CHECK_MAP), or,
 * with none, reads back as @buf's bytes through the access.  -1 with
 * errno EINVAL when some of it is not mapped, EIO when the bytes differ.
 */
int dom_env_check_map(struct dom_env *e, __u64 iova, const void *buf,
		      size_t len);
/* What IOVA_RANGES reports for the IOAS when nothing is reserved. */
__u64 dom_env_first(const struct dom_env *e);	/* 0, or the aperture's */
__u64 dom_env_last(const struct dom_env *e);
__u64 dom_env_align(const struct dom_env *e);	/* 1, or MOCK_PAGE_SIZE */

/* ---- shared by several programs (issue 13) ---- */

/* IOMMU_IOAS_CHANGE_PROCESS: this process takes over the fd's file maps. */
int change_process(int fd);
/* Read/write IOAS_MAP_FILE of [@start, @start+@length) at a fixed IOVA. */
int map_file_fixed(int fd, __u32 ioas_id, int file_fd, __u64 start,
		   __u64 length, __u64 iova);

/*
 * The fault walks of a scenario (faults.c, map_file.c).  @run makes its
 * calls on a new iommufd @fd, each wrapped in KFAULT_STEP(@kw, ...), and
 * returns 0 or the line of the call that failed; an access fd it opens
 * goes in *@afd (any fd to close after the run).  After each run both
 * fds are closed and nothing may be left: no object, pin or pin state in
 * the module, no page of [@buf, @buf + @len) pinned (asked through @chk,
 * an iommufd of its own; nothing asked when @len is 0).  @kw is needed
 * by the kernel's walks only.  A defect is described in a diagnostic line.
 */
struct fault_scenario {
	int (*run)(int fd, void *arg, int *afd);
	void *arg;
	struct kfault_walk *kw;
	int chk;
	const void *buf;
	size_t len;
};

/* One run with nothing armed: its number of steps, or -1 if one failed. */
int fault_scenario_steps(struct fault_scenario *sc);
/*
 * The module's fault points (modfault_arm()): N = 1, 2, ... until a run
 * no longer reaches the N-th.  How many failed runs, or -1 on a defect.
 */
int fault_walk_module(struct fault_scenario *sc);
/* The kernel's fault points inside step @step: how many, or -1. */
int fault_walk_kernel_step(struct fault_scenario *sc, int step);

/*
 * Run @fn(@arg) in a forked child, SIGPIPE ignored (a pipe whose reader
 * died is seen by the write): @fn returns 0, or the line of its failed
 * check, which the child reports.  0 when the child exited with 0.
 */
int run_child(int (*fn)(int), int arg);

/*
 * Run @call, which ends in _exit() (its CHILD_*() checks report a
 * failure), in a forked child; stop the test as failed unless the child
 * exited with 0.
 */
#define CHECK_IN_CHILD(call)                                            \
	do {                                                            \
		pid_t __pid = fork_flushed();                           \
		CHECK(__pid >= 0);                                      \
		if (!__pid)                                             \
			call;                                           \
		CHECK_OK(wait_child(__pid));                            \
	} while (0)

/* One iommufd, one IOAS, and a mock device on it (its HWPT) if asked. */
struct ioas_env {
	int fd;
	__u32 ioas, stdev, hwpt;
};

/* Open @e: a mock domain on the IOAS unless @domain is false. */
void ioas_env_setup(struct ioas_env *e, bool domain);

#include <pthread.h>
#include <time.h>

/*
 * A thread stuck in a userfaultfd fault, then released.
 * uffd_stuck_page() makes @u->page (its first touch blocks);
 * uffd_stuck_start() runs @fn(@arg) in a new thread and waits up to 5 s
 * for it to be stuck touching the page: 0, or -1 when it is not (then the
 * thread has been joined, unless it could not be created);
 * uffd_stuck_resolve() fills the page (0x5a bytes) and lets the thread
 * go on, the first time it is called; uffd_stuck_release() resolves,
 * joins the thread and closes the userfaultfd.  Each returns 0 or -1.
 */
struct uffd_stuck {
	int uffd;
	void *page;
	pthread_t th;
	volatile bool resolved;
};

int uffd_stuck_page(struct uffd_stuck *u);
int uffd_stuck_start(struct uffd_stuck *u, void *(*fn)(void *), void *arg);
int uffd_stuck_resolve(struct uffd_stuck *u);
int uffd_stuck_release(struct uffd_stuck *u);

/* Milliseconds since @t0 (CLOCK_MONOTONIC). */
long ms_since(const struct timespec *t0);

/*
 * A new iommufd (*@fd) with an IOAS (*@ioas) and a mock device attached
 * to it (*@stdev, *@hwpt, *@idev as from mock_domain(); each may be NULL).
 */
void open_mock_domain(int *fd, __u32 *ioas, __u32 *stdev, __u32 *hwpt,
		      __u32 *idev);

#endif
