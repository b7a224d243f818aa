// SPDX-License-Identifier: GPL-2.0
/*
 * A pin that waits for ever on a user's page fault (userfaultfd here, a
 * FUSE-backed buffer in the wild) holds no lock that unmap, HWPT destroy,
 * a device's detach or its removal need: each of those finishes at once
 * while the fault is left unresolved.  Then the fault is resolved and the
 * stalled call finishes with its proper result, leaving nothing behind.
 *
 * A check that would hang runs under a watchdog: past WATCHDOG_MS the
 * watchdog resolves the fault itself (which unblocks everything) and the
 * test fails, naming what was held up.
 *
 * 6.1's long-term GUP does not wait in userfaultfd (it faults without
 * FAULT_FLAG_ALLOW_RETRY, so the missing page is an immediate EFAULT):
 * there the stall cannot be made this way and the stalling tests skip.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <libiommufd.h>

#include "util.h"
#include "pci_util.h"

#define WATCHDOG_MS 3000
/* What "at once" means: well under the watchdog, well over a VM's jitter. */
#define PROMPT_MS 1000

#define IOVA_STALL (MOCK_APERTURE_START + 0x100000UL)
#define IOVA_OTHER (MOCK_APERTURE_START + 0x200000UL)
#define IOVA_RACE (MOCK_APERTURE_START + 0x300000UL)

enum stall_op {
	STALL_MAP, STALL_HWPT_ALLOC, STALL_COPY, STALL_PCI_ATTACH,
	STALL_MOCK_ATTACH,
};

/* One call stuck in a userfaultfd page fault, in a thread of its own. */
struct stall {
	int fd;
	struct uffd_stuck stuck;	/* the thread of the call */
	void *page;		/* the userfaultfd page (@stuck's) */
	char *buf;		/* a page of ordinary memory */
	enum stall_op op;
	__u32 ioas;
	__u64 iova;
	__u32 dev_id;		/* STALL_HWPT_ALLOC */
	__u32 src_ioas;		/* STALL_COPY: from @iova there to @iova */
	__u32 hwpt_id;		/* out of HWPT_ALLOC, PCI_/MOCK_ATTACH */
	__u32 stdev_id;		/* out of STALL_MOCK_ATTACH */
	struct edu *edu;	/* STALL_PCI_ATTACH: to @ioas */
	volatile bool done;
	int rc, err;		/* the call's result */
	/* The watchdog of the check under way. */
	pthread_t wd;
	volatile bool wd_stop;
	volatile bool wd_fired;
};

static void *stall_thread(void *arg)
{
	struct stall *s = arg;
	__u64 iova = s->iova;

	errno = 0;
	if (s->op == STALL_MAP)
		s->rc = ioas_map_fixed(s->fd, s->ioas, s->page, PAGE_SIZE,
				       s->iova);
	else if (s->op == STALL_COPY)
		s->rc = ioas_copy(s->fd, s->ioas, &iova, s->src_ioas, s->iova,
				  PAGE_SIZE,
				  MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
	else if (s->op == STALL_MOCK_ATTACH)
		s->rc = mock_domain(s->fd, s->ioas, &s->stdev_id, &s->hwpt_id,
				    NULL);
	else if (s->op == STALL_PCI_ATTACH) {
		s->hwpt_id = s->ioas;
		s->rc = from_lib(iommufd_pci_attach(s->edu->dev, &s->hwpt_id));
	} else
		s->rc = hwpt_alloc(s->fd, s->dev_id, s->ioas, 0, &s->hwpt_id);
	s->err = errno;
	s->done = true;
	return NULL;
}

/*
 * Start the stalling call; 0 once it is stuck in the fault, 1 when this
 * kernel's pin fails at once instead (6.1), -1 on other failures.
 */
static int stall_start(struct stall *s)
{
	if (!uffd_stuck_start(&s->stuck, stall_thread, s))
		return 0;
	if (s->done && s->rc == -1 && s->err == EFAULT)
		return 1;
	tap_diag("the call neither stalled nor failed with EFAULT: rc %d, %s",
		 s->rc, strerror(s->err));
	return -1;
}

static void *watchdog(void *arg)
{
	struct stall *s = arg;
	int ms;

	for (ms = 0; ms < WATCHDOG_MS && !s->wd_stop; ms += 10)
		usleep(10000);
	if (!s->wd_stop) {
		s->wd_fired = true;
		uffd_stuck_resolve(&s->stuck);
	}
	return NULL;
}

/*
 * @expr (0 on success) must finish within PROMPT_MS while the call of @s
 * is stalled; the test fails if the watchdog had to unblock it.
 */
#define CHECK_PROMPT(s, expr, what)                                      \
	do {                                                            \
		struct timespec __t0;                                   \
		long __ms;                                              \
		int __r, __e;                                           \
		(s)->wd_stop = false;                                   \
		CHECK(!pthread_create(&(s)->wd, NULL, watchdog, (s)));  \
		clock_gettime(CLOCK_MONOTONIC, &__t0);                  \
		errno = 0;                                              \
		__r = (expr);                                           \
		__e = errno;                                            \
		__ms = ms_since(&__t0);                                 \
		(s)->wd_stop = true;                                    \
		pthread_join((s)->wd, NULL);                            \
		if ((s)->wd_fired)                                      \
			tap_diag("%s was still blocked after %d ms by "  \
				 "the stalled pin (the watchdog resolved " \
				 "the fault)", what, WATCHDOG_MS);      \
		else                                                    \
			tap_diag("%s took %ld ms", what, __ms);         \
		CHECK(!(s)->wd_fired && __ms < PROMPT_MS);              \
		if (__r)                                                \
			tap_diag("%s: %s", what, strerror(__e));        \
		CHECK(__r == 0);                                        \
		CHECK(!(s)->done);	/* still stalled meanwhile */   \
	} while (0)

/* 6.1, whose long-term GUP cannot wait in userfaultfd. */
static bool kernel_6_1(void)
{
	struct utsname u;

	return !uname(&u) && !strncmp(u.release, "6.1.", 4);
}

#define SKIP_NO_STALL(r)                                                \
	do {                                                            \
		if ((r) == 1 && kernel_6_1())                           \
			SKIP("6.1's long-term GUP fails at once on a "     \
			     "userfaultfd page (EFAULT) instead of "    \
			     "waiting: no stall to test");              \
		if ((r) == 1)                                           \
			tap_diag("the call failed with EFAULT instead "  \
				 "of waiting in the fault");            \
		CHECK((r) == 0);                                        \
	} while (0)

/* Start the stalling call of @s; skip the test where it cannot stall. */
#define STALL_START(s)                                                  \
	do {                                                            \
		int __r = stall_start(s);                               \
		SKIP_NO_STALL(__r);                                     \
	} while (0)

/*
 * A stall test's set-up: the fd, the userfaultfd page, @s->buf and an
 * IOAS (@s->ioas).
 */
static void stall_setup(struct stall *s)
{
	s->fd = dev_iommu_open();
	CHECK(s->fd >= 0);
	s->buf = buf_alloc(PAGE_SIZE);
	CHECK(s->buf);
	CHECK_OK(uffd_stuck_page(&s->stuck));
	s->page = s->stuck.page;
	CHECK_OK(ioas_alloc(s->fd, &s->ioas));
}

/*
 * The stall set up with a second IOAS (*@ioas2) holding a mock device
 * (*@stdev), whose HWPT_ALLOC on @s->ioas is to stall.
 */
static void stall_setup_hwpt_alloc(struct stall *s, __u32 *ioas2,
				   __u32 *stdev)
{
	CHECK_SUB(stall_setup(s));
	CHECK_OK(ioas_alloc(s->fd, ioas2));
	CHECK_OK(mock_domain(s->fd, *ioas2, stdev, NULL, &s->dev_id));
	s->op = STALL_HWPT_ALLOC;
}

/* The end of a stall test: the IOAS and fd gone, nothing left behind. */
static void stall_teardown(struct stall *s)
{
	CHECK_OK(iommu_destroy(s->fd, s->ioas));
	CHECK_OK(close(s->fd));
	CHECK(module_all_released());
	buf_free(s->buf, PAGE_SIZE);
}

/*
 * The stall set up for an IOAS_MAP of the userfaultfd page at IOVA_STALL
 * into an IOAS with two domains: a mock device's (*@stdev, its automatic
 * HWPT *@hwpt1, its id *@idev) and HWPT *@hwpt2.
 */
static void stall_setup_map(struct stall *s, __u32 *stdev, __u32 *hwpt1,
			    __u32 *hwpt2, __u32 *idev)
{
	CHECK_SUB(stall_setup(s));
	CHECK_OK(mock_domain(s->fd, s->ioas, stdev, hwpt1, idev));
	CHECK_OK(hwpt_alloc(s->fd, *idev, s->ioas, 0, hwpt2));
	s->op = STALL_MAP;
	s->iova = IOVA_STALL;
}

/* The stall set up with the lone edu opened (@e) and bound (*@dev_id). */
static void stall_setup_pci(struct stall *s, struct edu *e, __u32 *dev_id)
{
	CHECK_SUB(stall_setup(s));
	CHECK_OK(edu_open(e, lone_edu));
	s->edu = e;
	CHECK_OK(from_lib(iommufd_pci_bind(e->dev, s->fd, dev_id)));
}

/*
 * The same for iommufd-pci's ATTACH to the IOAS, where the userfaultfd
 * page is mapped lazily (at IOVA_B).
 */
static void stall_setup_pci_attach(struct stall *s, struct edu *e,
				   __u32 *dev_id)
{
	CHECK_SUB(stall_setup_pci(s, e, dev_id));
	CHECK_OK(ioas_map_fixed(s->fd, s->ioas, s->page, PAGE_SIZE, IOVA_B));
	s->op = STALL_PCI_ATTACH;
}

/* The end of a PCI stall test: everything unmapped, the edu closed. */
static void stall_teardown_pci(struct stall *s, struct edu *e)
{
	CHECK_OK(ioas_unmap_all(s->fd, s->ioas, NULL));
	edu_close(e);
	CHECK_SUB(stall_teardown(s));
}

/*
 * IOAS_MAP stuck pinning a userfaultfd page with mock domains attached:
 * the unmap of another range, a new HWPT on the IOAS, a HWPT's destroy
 * and the mock device's removal (its automatic HWPT's domain goes) all
 * finish at once.  Resolved, the map lands in the one domain left.
 */
TEST(map_stalled_in_pin_blocks_nothing)
{
	struct stall s = { 0 };
	__u32 stdev, hwpt2, hwpt3, idev;
	__u64 unmapped;

	CHECK_SUB(stall_setup_map(&s, &stdev, NULL, &hwpt2, &idev));
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.buf, PAGE_SIZE, IOVA_OTHER));
	STALL_START(&s);

	CHECK_PROMPT(&s, ioas_unmap(s.fd, s.ioas, IOVA_OTHER, PAGE_SIZE, NULL),
		     "IOAS_UNMAP of another range");
	CHECK_PROMPT(&s, hwpt_alloc(s.fd, idev, s.ioas, 0, &hwpt3),
		     "HWPT_ALLOC on the IOAS");
	CHECK_PROMPT(&s, iommu_destroy(s.fd, hwpt2), "HWPT destroy");
	CHECK_PROMPT(&s, iommu_destroy(s.fd, stdev),
		     "the mock device's removal (automatic HWPT)");

	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_OK(check_map(s.fd, hwpt3, IOVA_STALL, s.page, PAGE_SIZE));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 1));
	CHECK_OK(iommu_destroy(s.fd, hwpt3));
	CHECK_OK(ioas_unmap(s.fd, s.ioas, IOVA_STALL, PAGE_SIZE, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_SUB(stall_teardown(&s));
}

/*
 * The same stall with the domain kept: resolved, the map is in both
 * domains, pinned once; and a page that cannot be pinned still fails the
 * map, leaving nothing.
 */
TEST(map_stalled_then_resolved)
{
	struct stall s = { 0 };
	__u32 stdev, hwpt1, hwpt2, idev;

	CHECK_SUB(stall_setup_map(&s, &stdev, &hwpt1, &hwpt2, &idev));
	STALL_START(&s);
	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_OK(check_map(s.fd, hwpt1, IOVA_STALL, s.page, PAGE_SIZE));
	CHECK_OK(check_map(s.fd, hwpt2, IOVA_STALL, s.page, PAGE_SIZE));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 1));
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(iommu_destroy(s.fd, stdev));
	CHECK_OK(iommu_destroy(s.fd, hwpt2));
	CHECK_SUB(stall_teardown(&s));
}

/*
 * IOAS_COPY of lazily mapped userfaultfd memory into an IOAS with a
 * domain pins it there, stuck in the fault: the destination's unmap of
 * another range and its device's removal finish at once.
 */
TEST(copy_stalled_in_pin_blocks_nothing)
{
	struct stall s = { 0 };
	__u32 stdev, hwpt, idev;
	__u64 unmapped;

	CHECK_SUB(stall_setup(&s));
	CHECK_OK(ioas_alloc(s.fd, &s.src_ioas));
	CHECK_OK(ioas_map_fixed(s.fd, s.src_ioas, s.page, PAGE_SIZE,
				IOVA_STALL));
	CHECK_OK(mock_domain(s.fd, s.ioas, &stdev, &hwpt, &idev));
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.buf, PAGE_SIZE, IOVA_OTHER));
	s.op = STALL_COPY;
	s.iova = IOVA_STALL;
	STALL_START(&s);

	CHECK_PROMPT(&s, ioas_unmap(s.fd, s.ioas, IOVA_OTHER, PAGE_SIZE, NULL),
		     "IOAS_UNMAP of another range of the destination");
	CHECK_PROMPT(&s, iommu_destroy(s.fd, stdev),
		     "the destination's mock device's removal");

	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);	/* no domain left: copied lazily */
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(ioas_unmap(s.fd, s.ioas, IOVA_STALL, PAGE_SIZE, &unmapped));
	CHECK(unmapped == PAGE_SIZE);
	CHECK_OK(ioas_unmap_all(s.fd, s.src_ioas, NULL));
	CHECK_OK(iommu_destroy(s.fd, s.src_ioas));
	CHECK_SUB(stall_teardown(&s));
}

/*
 * With a domain, the pages are pinned before the IOVA is checked, but
 * the errors keep their order: a bad IOVA is reported before memory
 * that cannot be pinned, and that memory fails the map (EFAULT) only
 * when a domain needs it.
 */
TEST(map_errors_keep_their_order)
{
	__u32 ioas, stdev, hwpt, idev;
	char *buf, *none;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	buf = buf_alloc(PAGE_SIZE);
	none = mmap(NULL, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	CHECK(buf && none != MAP_FAILED);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, none, PAGE_SIZE, IOVA_RACE));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, &idev));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE, IOVA_OTHER));
	CHECK_ERRNO(ioas_map_fixed(fd, ioas, none, PAGE_SIZE, IOVA_OTHER),
		    EEXIST);
	CHECK_ERRNO(ioas_map_fixed(fd, ioas, none, PAGE_SIZE, 1), EINVAL);
	CHECK_ERRNO(ioas_map_fixed(fd, ioas, none, PAGE_SIZE, IOVA_RACE),
		    EFAULT);
	CHECK_ERRNO(ioas_unmap(fd, ioas, IOVA_RACE, PAGE_SIZE, NULL), ENOENT);
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	CHECK_OK(close(fd));
	CHECK(module_all_released());
	munmap(none, PAGE_SIZE);
	buf_free(buf, PAGE_SIZE);
}

struct racing_map {
	int fd;
	__u32 ioas;
	void *buf;
	int rc;
};

static void *racing_map(void *arg)
{
	struct racing_map *m = arg;

	m->rc = ioas_map_fixed(m->fd, m->ioas, m->buf, PAGE_SIZE, IOVA_RACE);
	return NULL;
}

/*
 * HWPT_ALLOC making the IOAS's first domain pins every area that was
 * mapped lazily; stuck on a userfaultfd page there, it holds no lock of
 * the IOAS: the unmap of another range and an access's detach (an
 * emulated device on the same IOAS) finish at once.  A map started
 * meanwhile waits for the new domain and lands in it.
 */
TEST(hwpt_alloc_stalled_in_pin_blocks_nothing)
{
	struct racing_map m = { 0 };
	struct stall s = { 0 };
	__u32 ioas2, stdev;
	pthread_t th;
	int afd;

	CHECK_SUB(stall_setup_hwpt_alloc(&s, &ioas2, &stdev));
	m.buf = buf_alloc(PAGE_SIZE);
	CHECK(m.buf);
	/* Lazy: no domain and no pinned access yet, so nothing is pinned. */
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.buf, PAGE_SIZE, IOVA_OTHER));
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.page, PAGE_SIZE, IOVA_STALL));
	CHECK_OK(create_access(s.fd, s.ioas,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, &afd));
	STALL_START(&s);

	CHECK_PROMPT(&s, ioas_unmap(s.fd, s.ioas, IOVA_OTHER, PAGE_SIZE, NULL),
		     "IOAS_UNMAP of another range");
	CHECK_PROMPT(&s, close(afd), "the access's detach and destroy");
	m.fd = s.fd;
	m.ioas = s.ioas;
	CHECK(!pthread_create(&th, NULL, racing_map, &m));
	usleep(100000);

	CHECK_OK(uffd_stuck_release(&s.stuck));
	pthread_join(th, NULL);
	CHECK(s.rc == 0);
	CHECK(m.rc == 0);
	CHECK_OK(check_map(s.fd, s.hwpt_id, IOVA_STALL, s.page, PAGE_SIZE));
	CHECK_OK(check_map(s.fd, s.hwpt_id, IOVA_RACE, m.buf, PAGE_SIZE));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 1));
	CHECK_OK(iommu_destroy(s.fd, s.hwpt_id));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_OK(iommu_destroy(s.fd, stdev));
	CHECK_OK(iommu_destroy(s.fd, ioas2));
	CHECK_SUB(stall_teardown(&s));
	buf_free(m.buf, PAGE_SIZE);
}

/*
 * A mock device's attach to an IOAS with no domain, stuck pinning its
 * lazily mapped userfaultfd page before the attach's locks: maps into
 * the IOAS go on at once; IOAS_CHANGE_PROCESS sees pins moving (EBUSY,
 * before its EINVAL for process memory).  Resolved, the attach succeeds:
 * both areas mapped, each page pinned once, none once the device goes.
 */
TEST(mock_attach_stalled_in_pin_blocks_nothing)
{
	struct stall s = { 0 };

	CHECK_SUB(stall_setup(&s));
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.page, PAGE_SIZE, IOVA_STALL));
	s.op = STALL_MOCK_ATTACH;
	STALL_START(&s);
	CHECK_PROMPT(&s, ioas_map_fixed(s.fd, s.ioas, s.buf, PAGE_SIZE,
					IOVA_OTHER),
		     "IOAS_MAP into the IOAS being attached");
	CHECK_ERRNO(change_process(s.fd), EBUSY);
	CHECK(!s.done);
	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_ERRNO(change_process(s.fd), EINVAL);
	CHECK_OK(check_map(s.fd, s.hwpt_id, IOVA_STALL, s.page, PAGE_SIZE));
	CHECK_OK(check_map(s.fd, s.hwpt_id, IOVA_OTHER, s.buf, PAGE_SIZE));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 1));
	CHECK_OK(check_refs(s.fd, s.buf, PAGE_SIZE, 1));
	CHECK_OK(iommu_destroy(s.fd, s.stdev_id));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(check_refs(s.fd, s.buf, PAGE_SIZE, 0));
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_SUB(stall_teardown(&s));
}

/*
 * HWPT_ALLOC pins the areas before it takes the IOAS's locks: one that
 * cannot be pinned fails it only if it is still mapped when the domain
 * is filled.  Here the first area's pin fails (PROT_NONE), the second's
 * stalls; the first is unmapped meanwhile, and the HWPT then comes.
 */
TEST(hwpt_alloc_forgets_failed_pin_of_unmapped_area)
{
	struct stall s = { 0 };
	__u32 ioas2, stdev;
	char *none;

	CHECK_SUB(stall_setup_hwpt_alloc(&s, &ioas2, &stdev));
	none = mmap(NULL, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	CHECK(none != MAP_FAILED);
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, none, PAGE_SIZE, IOVA_OTHER));
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.page, PAGE_SIZE, IOVA_RACE));
	STALL_START(&s);
	CHECK_PROMPT(&s, ioas_unmap(s.fd, s.ioas, IOVA_OTHER, PAGE_SIZE, NULL),
		     "IOAS_UNMAP of the area that cannot be pinned");
	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_OK(check_map(s.fd, s.hwpt_id, IOVA_RACE, s.page, PAGE_SIZE));
	CHECK_OK(iommu_destroy(s.fd, s.hwpt_id));
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(iommu_destroy(s.fd, stdev));
	CHECK_OK(iommu_destroy(s.fd, ioas2));
	CHECK_SUB(stall_teardown(&s));
	munmap(none, PAGE_SIZE);
}

/*
 * All or nothing: an area that cannot be pinned and is still mapped
 * fails HWPT_ALLOC with the pin's error, after the areas before it were
 * pinned, and leaves none of them pinned.  An alignment error comes
 * first.
 */
TEST(hwpt_alloc_failed_pin_leaves_nothing)
{
	__u32 ioas, ioas2, stdev, hwpt, idev, out;
	char *buf, *none;
	int fd;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	buf = buf_alloc(2 * PAGE_SIZE);
	none = mmap(NULL, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	CHECK(buf && none != MAP_FAILED);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_alloc(fd, &ioas2));
	CHECK_OK(mock_domain(fd, ioas2, &stdev, &hwpt, &idev));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 2 * PAGE_SIZE, IOVA_STALL));
	CHECK_OK(ioas_map_fixed(fd, ioas, none, PAGE_SIZE, IOVA_OTHER));
	CHECK_ERRNO(hwpt_alloc(fd, idev, ioas, 0, &out), EFAULT);
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 0));
	CHECK_ERRNO(mock_domain(fd, ioas, NULL, NULL, NULL), EFAULT);
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 0));
	/* Outside the mock's aperture: reported before the pin. */
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE, PAGE_SIZE));
	CHECK_ERRNO(hwpt_alloc(fd, idev, ioas, 0, &out), EADDRINUSE);
	CHECK_OK(ioas_unmap(fd, ioas, PAGE_SIZE, PAGE_SIZE, NULL));
	CHECK_OK(ioas_unmap(fd, ioas, IOVA_OTHER, PAGE_SIZE, NULL));
	CHECK_OK(hwpt_alloc(fd, idev, ioas, 0, &out));
	CHECK_OK(check_map(fd, out, IOVA_STALL, buf, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 1));
	CHECK_OK(iommu_destroy(fd, out));
	CHECK_OK(check_refs(fd, buf, 2 * PAGE_SIZE, 0));
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	CHECK_OK(iommu_destroy(fd, stdev));
	CHECK_OK(iommu_destroy(fd, ioas));
	CHECK_OK(iommu_destroy(fd, ioas2));
	CHECK_OK(close(fd));
	CHECK(module_all_released());
	munmap(none, PAGE_SIZE);
	buf_free(buf, 2 * PAGE_SIZE);
}

/*
 * The real device: IOAS_MAP stuck pinning with the edu attached through
 * iommufd-pci does not hold up the driver's unbind in sysfs (its remove
 * detaches the device and destroys the automatic HWPT).
 */
TEST(pci_unbind_not_held_by_stalled_map)
{
	struct stall s = { 0 };
	__u32 dev_id, pt;
	struct edu e;
	int r;

	if (!lone_edu[0])
		SKIP("no edu device alone in an IOMMU group");
	CHECK_SUB(stall_setup_pci(&s, &e, &dev_id));
	CHECK_OK(ioas_map_fixed(s.fd, s.ioas, s.buf, PAGE_SIZE, IOVA_A));
	pt = s.ioas;
	CHECK_OK(from_lib(iommufd_pci_attach(e.dev, &pt)));
	s.op = STALL_MAP;
	s.iova = IOVA_B;
	r = stall_start(&s);
	if (r == 1)
		edu_close(&e);
	SKIP_NO_STALL(r);

	CHECK_PROMPT(&s, from_lib(iommufd_pci_driver_unbind(lone_edu)),
		     "iommufd-pci's unbind in sysfs");
	CHECK_ERRNO(iommu_destroy(s.fd, dev_id), ENOENT);

	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);	/* no domain left: mapped lazily */
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_SUB(stall_teardown_pci(&s, &e));
	/* Back to the driver for the tests that follow. */
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));
}

/*
 * iommufd-pci's ATTACH to an IOAS whose lazily mapped userfaultfd page
 * its first domain must pin: stuck in that pin, it holds no lock, so the
 * driver's unbind in sysfs (its remove) finishes at once.  Resolved, the
 * ATTACH fails with ENODEV (the device went away meanwhile) and leaves
 * no pin and no object behind.
 */
TEST(pci_attach_stalled_in_pin_blocks_unbind)
{
	struct stall s = { 0 };
	__u32 dev_id;
	struct edu e;
	int r;

	if (!lone_edu[0])
		SKIP("no edu device alone in an IOMMU group");
	CHECK_SUB(stall_setup_pci_attach(&s, &e, &dev_id));
	r = stall_start(&s);
	if (r == 1) {
		/* 6.1: the pin failed at once; nothing is left pinned. */
		CHECK(s.err == EFAULT);
		/* Filled first: reading the missing page would wait. */
		CHECK_OK(uffd_stuck_resolve(&s.stuck));
		CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
		edu_close(&e);
	}
	SKIP_NO_STALL(r);

	CHECK_PROMPT(&s, from_lib(iommufd_pci_driver_unbind(lone_edu)),
		     "iommufd-pci's unbind in sysfs during a stalled ATTACH");
	CHECK_ERRNO(iommu_destroy(s.fd, dev_id), ENOENT);

	CHECK_OK(uffd_stuck_release(&s.stuck));
	if (s.rc)
		tap_diag("ATTACH: %s", strerror(s.err));
	CHECK(s.rc == -1 && s.err == ENODEV);
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_SUB(stall_teardown_pci(&s, &e));
	/* Back to the driver for the tests that follow. */
	CHECK_OK(from_lib(iommufd_pci_driver_bind(lone_edu)));
}

/*
 * The same ATTACH stalled, then resolved with the device still there: it
 * succeeds on the IOAS's automatic HWPT, the page pinned once (the
 * pre-pin's use given back), and DETACH unpins it.
 */
TEST(pci_attach_stalled_then_resolved)
{
	struct stall s = { 0 };
	__u32 dev_id;
	struct edu e;
	int r;

	if (!lone_edu[0])
		SKIP("no edu device alone in an IOMMU group");
	CHECK_SUB(stall_setup_pci_attach(&s, &e, &dev_id));
	r = stall_start(&s);
	if (r == 1)
		edu_close(&e);
	SKIP_NO_STALL(r);
	/* The IOAS's other users are not held up either. */
	CHECK_PROMPT(&s, ioas_map_fixed(s.fd, s.ioas, s.buf, PAGE_SIZE, IOVA_A),
		     "IOAS_MAP into the IOAS being attached");
	CHECK_OK(uffd_stuck_release(&s.stuck));
	if (s.rc)
		tap_diag("ATTACH: %s", strerror(s.err));
	CHECK(s.rc == 0 && s.hwpt_id != s.ioas);
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 1));
	/* Mapped after the pre-pin: pinned by the attach itself. */
	CHECK_OK(check_refs(s.fd, s.buf, PAGE_SIZE, 1));
	CHECK_OK(from_lib(iommufd_pci_detach(e.dev)));
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(check_refs(s.fd, s.buf, PAGE_SIZE, 0));
	CHECK_SUB(stall_teardown_pci(&s, &e));
}

int main(void)
{
	find_devices();
	return tap_run();
}

/*
 * A page of ordinary (populated) memory right beside @page, so that the
 * two are one two-page span: returns it and sets *@span to the span's
 * start, or NULL when neither neighbour is free.
 */
static char *page_beside(void *page, char **span)
{
	char *p = page, *q;
	int i;

	for (i = 0; i < 2; i++) {
		char *want = i ? p + PAGE_SIZE : p - PAGE_SIZE;

		q = mmap(want, PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
		if (q == want) {
			memset(q, 0x33, PAGE_SIZE);
			*span = i ? p : q;
			return q;
		}
		if (q != MAP_FAILED)
			munmap(q, PAGE_SIZE);
	}
	return NULL;
}

/*
 * The set-up of the shared-pages COPY tests: the userfaultfd page and an
 * ordinary page beside it (*@normal), the two-page *@span they make
 * mapped at *@span_iova into @s->src_ioas so that the userfaultfd page
 * sits at IOVA_STALL, and an empty @s->ioas.
 */
static void stall_setup_span(struct stall *s, char **span, char **normal,
			     __u64 *span_iova)
{
	s->fd = dev_iommu_open();
	CHECK(s->fd >= 0);
	CHECK_OK(uffd_stuck_page(&s->stuck));
	s->page = s->stuck.page;
	*normal = page_beside(s->page, span);
	CHECK(*normal);
	*span_iova = IOVA_STALL - ((char *)s->page - *span);
	CHECK_OK(ioas_alloc(s->fd, &s->src_ioas));
	CHECK_OK(ioas_alloc(s->fd, &s->ioas));
	CHECK_OK(ioas_map_fixed(s->fd, s->src_ioas, *span, 2 * PAGE_SIZE,
				*span_iova));
}

/*
 * One IOAS_MAP shared by two IOASes through IOAS_COPY: its ordinary page
 * is copied first into an IOAS with two domains (and so pinned there),
 * then its userfaultfd page, and that COPY stalls pinning it.  The pins
 * of the two pages are the same pin state; taking the ordinary page out
 * of the domains (a HWPT's destroy, an unmap, the device's removal) must
 * not wait for the stalled pin of its neighbour.  Resolved, the COPY
 * lands with no domain left (lazily), and nothing stays pinned.
 */
TEST(copy_stalled_on_shared_pages_blocks_nothing)
{
	__u32 stdev, hwpt, hwpt2, idev;
	struct stall s = { 0 };
	__u64 iova, span_iova;
	char *span, *normal;
	int r;

	CHECK_SUB(stall_setup_span(&s, &span, &normal, &span_iova));
	iova = span_iova + (normal - span);
	CHECK_OK(mock_domain(s.fd, s.ioas, &stdev, &hwpt, &idev));
	CHECK_OK(hwpt_alloc(s.fd, idev, s.ioas, 0, &hwpt2));
	CHECK_OK(ioas_copy(s.fd, s.ioas, &iova, s.src_ioas, iova, PAGE_SIZE,
			   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	CHECK_OK(check_refs(s.fd, normal, PAGE_SIZE, 1));
	s.op = STALL_COPY;
	s.iova = IOVA_STALL;
	r = stall_start(&s);
	SKIP_NO_STALL(r);

	CHECK_PROMPT(&s, iommu_destroy(s.fd, hwpt2),
		     "HWPT destroy (its domain maps the shared pages)");
	CHECK_PROMPT(&s, ioas_unmap(s.fd, s.ioas, iova, PAGE_SIZE, NULL),
		     "IOAS_UNMAP of the copied neighbour");
	CHECK_OK(check_refs(s.fd, normal, PAGE_SIZE, 0));
	CHECK_PROMPT(&s, iommu_destroy(s.fd, stdev),
		     "the destination's mock device's removal");

	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_OK(check_refs(s.fd, s.page, PAGE_SIZE, 0));
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_OK(ioas_unmap_all(s.fd, s.src_ioas, NULL));
	CHECK_OK(iommu_destroy(s.fd, s.ioas));
	CHECK_OK(iommu_destroy(s.fd, s.src_ioas));
	CHECK_OK(close(s.fd));
	CHECK(module_all_released());
	munmap(normal, PAGE_SIZE);
}

/* Pages of the span that copy_span_thread() copies. */
static size_t span_pages;

/* STALL_COPY of the span (span_pages) that holds the stall page. */
static void *copy_span_thread(void *arg)
{
	struct stall *s = arg;
	__u64 iova = s->iova;

	errno = 0;
	s->rc = ioas_copy(s->fd, s->ioas, &iova, s->src_ioas, s->iova,
			  span_pages * PAGE_SIZE,
			  MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA);
	s->err = errno;
	s->done = true;
	return NULL;
}

/*
 * A COPY of a whole two-page map, one page pinned by another IOAS's
 * domain and one a userfaultfd page, stalls pinning the second while it
 * keeps the first pinned for itself: that domain's removal unpins
 * nothing, and another COPY of the pinned page only adds a user, without
 * waiting for the stalled pin.  Resolved, both pages are pinned once and
 * charged once; on 6.1 (no stall) the failed COPY gives back its user of
 * the first page and its charge.
 */
TEST(copy_stalled_keeps_pinned_neighbour)
{
	__u32 ioas_c, stdev_c, hwpt_c, stdev, hwpt, idev;
	__u64 iova, span_iova, other;
	struct stall s = { 0 };
	char *span, *normal;
	const long page_kb = PAGE_SIZE / 1024;	/* VmPin of a page */
	long pin0;
	int r;

	CHECK_SUB(stall_setup_span(&s, &span, &normal, &span_iova));
	iova = span_iova + (normal - span);
	other = IOVA_RACE + (normal - span);
	CHECK_OK(ioas_alloc(s.fd, &ioas_c));
	CHECK_OK(mock_domain(s.fd, ioas_c, &stdev_c, &hwpt_c, NULL));
	CHECK_OK(mock_domain(s.fd, s.ioas, &stdev, &hwpt, &idev));
	pin0 = proc_status_kb("VmPin");
	CHECK_OK(ioas_copy(s.fd, ioas_c, &iova, s.src_ioas, iova, PAGE_SIZE,
			   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	CHECK_OK(check_refs(s.fd, normal, PAGE_SIZE, 1));
	CHECK(proc_status_kb("VmPin") == pin0 + page_kb);

	s.op = STALL_COPY;
	s.iova = span_iova;
	span_pages = 2;
	r = 0;
	if (uffd_stuck_start(&s.stuck, copy_span_thread, &s))
		r = s.done && s.rc == -1 && s.err == EFAULT ? 1 : -1;
	if (r == 1) {
		/* All or nothing: C's domain's pin alone is left. */
		CHECK_OK(check_refs(s.fd, normal, PAGE_SIZE, 1));
		CHECK(proc_status_kb("VmPin") == pin0 + page_kb);
	}
	SKIP_NO_STALL(r);

	CHECK_PROMPT(&s, iommu_destroy(s.fd, stdev_c),
		     "the other IOAS's mock device's removal");
	/* Still pinned, by the stalled COPY's own user. */
	CHECK_OK(check_refs(s.fd, normal, PAGE_SIZE, 1));
	CHECK_PROMPT(&s, ioas_copy(s.fd, s.ioas, &other, s.src_ioas, iova,
				   PAGE_SIZE,
				   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA),
		     "IOAS_COPY of the pinned page into the same IOAS");
	CHECK_OK(check_refs(s.fd, normal, PAGE_SIZE, 1));

	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_OK(check_map(s.fd, hwpt, span_iova, span, 2 * PAGE_SIZE));
	CHECK_OK(check_refs(s.fd, span, 2 * PAGE_SIZE, 1));
	CHECK(proc_status_kb("VmPin") == pin0 + 2 * page_kb);
	CHECK_OK(iommu_destroy(s.fd, stdev));
	CHECK_OK(check_refs(s.fd, span, 2 * PAGE_SIZE, 0));
	CHECK(proc_status_kb("VmPin") == pin0);
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_OK(ioas_unmap_all(s.fd, ioas_c, NULL));
	CHECK_OK(ioas_unmap_all(s.fd, s.src_ioas, NULL));
	CHECK_OK(iommu_destroy(s.fd, s.ioas));
	CHECK_OK(iommu_destroy(s.fd, ioas_c));
	CHECK_OK(iommu_destroy(s.fd, s.src_ioas));
	CHECK_OK(close(s.fd));
	CHECK(module_all_released());
	munmap(normal, PAGE_SIZE);
}

#include <linux/userfaultfd.h>	/* for stall_page_in_span() */

/*
 * Make page @at of a fresh @npages mapping the stall page of @s (which
 * uffd_stuck_page() set up) and populate the others: *@span is the mapping.
 */
static int stall_page_in_span(struct stall *s, size_t npages, size_t at,
			      char **span)
{
	struct uffdio_register reg = { 0 };
	char *p;

	p = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* No huge page may fill the stall page in with its neighbours. */
	madvise(p, npages * PAGE_SIZE, MADV_NOHUGEPAGE);
	reg.range.start = (unsigned long)(p + at * PAGE_SIZE);
	reg.range.len = PAGE_SIZE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(s->stuck.uffd, UFFDIO_REGISTER, &reg)) {
		munmap(p, npages * PAGE_SIZE);
		return -1;
	}
	memset(p, 0x44, at * PAGE_SIZE);
	memset(p + (at + 1) * PAGE_SIZE, 0x44, (npages - at - 1) * PAGE_SIZE);
	munmap(s->page, PAGE_SIZE);
	s->page = p + at * PAGE_SIZE;
	s->stuck.page = s->page;
	*span = p;
	return 0;
}

/*
 * A COPY across two 2 MiB chunks of pin state stalls in the first; a
 * page of the second, pinned by another IOAS's domain when the COPY
 * counted what to charge, is unpinned meanwhile (that domain's device
 * removed, at once).  Resolved, the COPY pins it again and charges it
 * then: every page is pinned and charged (VmPin) exactly once, and none
 * after the COPY's domain goes.
 */
TEST(copy_stalled_charges_pages_unpinned_meanwhile)
{
	const size_t npages = 513;	/* one chunk and one page */
	const long page_kb = PAGE_SIZE / 1024;
	__u32 ioas_c, stdev_c, hwpt_c, stdev, hwpt;
	__u64 last_iova, span_iova = IOVA_STALL;
	struct stall s = { 0 };
	char *span;
	long pin0;
	int r;

	s.fd = dev_iommu_open();
	CHECK(s.fd >= 0);
	CHECK_OK(uffd_stuck_page(&s.stuck));
	s.page = s.stuck.page;
	CHECK_OK(stall_page_in_span(&s, npages, 0, &span));
	last_iova = span_iova + (npages - 1) * PAGE_SIZE;
	CHECK_OK(ioas_alloc(s.fd, &s.src_ioas));
	CHECK_OK(ioas_alloc(s.fd, &ioas_c));
	CHECK_OK(ioas_alloc(s.fd, &s.ioas));
	CHECK_OK(ioas_map_fixed(s.fd, s.src_ioas, span, npages * PAGE_SIZE,
				span_iova));
	CHECK_OK(mock_domain(s.fd, ioas_c, &stdev_c, &hwpt_c, NULL));
	CHECK_OK(mock_domain(s.fd, s.ioas, &stdev, &hwpt, NULL));
	pin0 = proc_status_kb("VmPin");
	CHECK_OK(ioas_copy(s.fd, ioas_c, &last_iova, s.src_ioas, last_iova,
			   PAGE_SIZE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	CHECK(proc_status_kb("VmPin") == pin0 + page_kb);

	s.op = STALL_COPY;
	s.iova = span_iova;
	span_pages = npages;
	r = 0;
	if (uffd_stuck_start(&s.stuck, copy_span_thread, &s))
		r = s.done && s.rc == -1 && s.err == EFAULT ? 1 : -1;
	if (r == 1)
		CHECK(proc_status_kb("VmPin") == pin0 + page_kb);
	SKIP_NO_STALL(r);
	CHECK_PROMPT(&s, iommu_destroy(s.fd, stdev_c),
		     "the other IOAS's mock device's removal");
	CHECK_OK(check_refs(s.fd, span + (npages - 1) * PAGE_SIZE,
			    PAGE_SIZE, 0));

	CHECK_OK(uffd_stuck_release(&s.stuck));
	CHECK(s.rc == 0);
	CHECK_OK(check_map(s.fd, hwpt, span_iova, span, npages * PAGE_SIZE));
	CHECK_OK(check_refs(s.fd, span, npages * PAGE_SIZE, 1));
	CHECK(proc_status_kb("VmPin") == pin0 + (long)npages * page_kb);
	CHECK_OK(iommu_destroy(s.fd, stdev));
	CHECK_OK(check_refs(s.fd, span, npages * PAGE_SIZE, 0));
	CHECK(proc_status_kb("VmPin") == pin0);
	CHECK_OK(ioas_unmap_all(s.fd, s.ioas, NULL));
	CHECK_OK(ioas_unmap_all(s.fd, ioas_c, NULL));
	CHECK_OK(ioas_unmap_all(s.fd, s.src_ioas, NULL));
	CHECK_OK(iommu_destroy(s.fd, s.ioas));
	CHECK_OK(iommu_destroy(s.fd, ioas_c));
	CHECK_OK(iommu_destroy(s.fd, s.src_ioas));
	CHECK_OK(close(s.fd));
	CHECK(module_all_released());
	munmap(span, npages * PAGE_SIZE);
}
