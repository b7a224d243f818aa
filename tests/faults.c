// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection (design rule 5: no partial state after any failure).
 * The module's test build can fail the N-th allocation, pin, domain map
 * or copy-out that this process reaches (debugfs fail_nth).  For N = 1,
 * 2, ... the same operation sequence runs until no point fails any more;
 * after each failure the fd is closed and the module must be back to zero
 * objects and zero pinned pages, with no kernel warning (checked by the
 * harness after the program).
 *
 * On a kernel with fault injection (the suite's debug kernel: failslab,
 * fail_page_alloc, fail_usercopy and the per-task /proc fail-nth) the same
 * sequence is walked once more, one ioctl at a time: every allocation,
 * page allocation and user copy the kernel reaches inside that ioctl --
 * the module's, the IOMMU core's, GUP's, the slab's -- fails in turn.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "util.h"

/* The kernel's own injection (util.h's kfault_*), one step at a time. */
static struct kfault_walk kfault = { .step = -1 };

#define STEP(expr) KFAULT_STEP(&kfault, expr)

/*
 * Everything a user does, end to end, on the 16 pages at @arg.  Returns
 * 0 when all of it worked, or the line of the step that failed.  *@afd
 * gets the access fd.
 */
static int scenario(int fd, void *arg, int *afd)
{
	__u32 a, b, stdev, hwpt, idev, stdev2, hwpt2, explicit, pid, dirty;
	__u64 iova = MOCK_APERTURE_START + 16 * PAGE_SIZE, at;
	__u64 bits = 0x5555;
	char *buf = arg;
	char tmp[32];

	STEP(ioas_alloc(fd, &a));
	STEP(ioas_alloc(fd, &b));
	/* Nothing mapped yet: the caller takes over nothing. */
	STEP(change_process(fd));
	STEP(ioas_map_fixed(fd, a, buf, 8 * PAGE_SIZE, MOCK_APERTURE_START));
	STEP(mock_domain(fd, a, &stdev, &hwpt, &idev));
	STEP(ioas_map_fixed(fd, a, buf + 8 * PAGE_SIZE, 8 * PAGE_SIZE, iova));
	at = MOCK_APERTURE_START;
	STEP(ioas_copy(fd, b, &at, a, MOCK_APERTURE_START + 2 * PAGE_SIZE,
		       4 * PAGE_SIZE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	STEP(mock_domain(fd, b, &stdev2, &hwpt2, NULL));
	STEP(ioas_map_auto(fd, b, buf, 4 * PAGE_SIZE, &at));
	STEP(create_access(fd, a, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES, afd));
	STEP(access_pages(fd, *afd, iova, buf + 8 * PAGE_SIZE, 2 * PAGE_SIZE,
			  MOCK_FLAGS_ACCESS_WRITE, &pid));
	STEP(access_rw(fd, *afd, MOCK_APERTURE_START + 5, tmp, sizeof(tmp), 0));
	STEP(hwpt_alloc(fd, idev, a, 0, &explicit));
	STEP(hwpt_alloc(fd, idev, a, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty));
	STEP(set_dirty(fd, dirty, IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	STEP(mock_dirty(fd, dirty, MOCK_APERTURE_START, 8 * PAGE_SIZE,
			MOCK_PAGE_SIZE, &bits, NULL));
	STEP(get_dirty(fd, dirty, MOCK_APERTURE_START, 8 * PAGE_SIZE,
		       MOCK_PAGE_SIZE, &bits, 0));
	STEP(mock_domain_replace(fd, stdev, &explicit));
	/* An unmap over the access's pins goes through its callback. */
	STEP(ioas_unmap(fd, a, iova, 8 * PAGE_SIZE, NULL));
	STEP(ioas_unmap_all(fd, b, NULL));
	STEP(iommu_destroy(fd, stdev2));
	return 0;
}

/* The scenario on 16 pages of @buf, its leftovers checked through @chk. */
static struct fault_scenario scenario_on(char *buf, int chk)
{
	struct fault_scenario sc = {
		.run = scenario, .arg = buf, .kw = &kfault, .chk = chk,
		.buf = buf, .len = 16 * PAGE_SIZE,
	};

	return sc;
}

TEST(every_failure_unwinds)
{
	struct fault_scenario sc;
	int chk, failures;
	char *buf;

	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	buf = buf_alloc(16 * PAGE_SIZE);
	CHECK(buf);
	chk = dev_iommu_open();
	CHECK(chk >= 0);
	sc = scenario_on(buf, chk);
	failures = fault_walk_module(&sc);
	CHECK(failures >= 0);
	tap_diag("%d injected failures, each unwound", failures);
	CHECK(failures > 20);
	close(chk);
	buf_free(buf, 16 * PAGE_SIZE);
}

/*
 * Every allocation (slab and page, sleeping ones included), and every
 * user copy, that the kernel reaches inside each ioctl of the scenario
 * fails in turn; quietly (no stack dump per injected failure).
 */
TEST(every_kernel_failure_unwinds)
{
	int step, points, total = 0, steps, chk;
	struct fault_scenario sc;
	char *buf;

	if (kfault_setup())
		SKIP("the kernel has no fault injection (/proc/thread-self/fail-nth; Debian's kernels are built without it): the suite's debug-kernel VM runs this");
	buf = buf_alloc(16 * PAGE_SIZE);
	CHECK(buf);
	/* The pages exist before the walk: GUP finds them, as a VMM's. */
	buf_fill(buf, 16 * PAGE_SIZE, 7);
	chk = dev_iommu_open();
	CHECK(chk >= 0);
	sc = scenario_on(buf, chk);
	/* How many steps (ioctls) the scenario has: once, unarmed. */
	steps = fault_scenario_steps(&sc);
	CHECK(steps >= 0);
	for (step = 0; step < steps; step++) {
		points = fault_walk_kernel_step(&sc, step);
		CHECK(points >= 0);
		/* Each ioctl copies its argument in, at least. */
		if (!points)
			tap_diag("step %d reached no fault point", step);
		CHECK(points > 0);
		total += points;
	}
	tap_diag("%d kernel fault points over %d ioctls, each unwound", total,
		 steps);
	/* Every ioctl of the scenario allocates or copies something. */
	CHECK(total > 100);
	close(chk);
	buf_free(buf, 16 * PAGE_SIZE);
	kfault_teardown();
}

#define NEVER 1000000

/*
 * How many fault points (allocations, pins, domain maps) a map passes on
 * its way to ENOMEM; -1 if it did not fail so.
 */
static int points_to_enomem(int fd, __u32 ioas, char *buf, size_t len,
			    __u64 iova)
{
	int rc, left;

	if (modfault_arm(NEVER))
		return -1;
	errno = 0;
	rc = ioas_map_fixed(fd, ioas, buf, len, iova);
	rc = rc == -1 && errno == ENOMEM;
	left = modfault_left();
	modfault_arm(0);
	return rc ? NEVER - left : -1;
}

/* In a child: the line of the check that failed, 0 if all held. */
static int charge_before_pin_child(int unused)
{
	const size_t limit = 600 * PAGE_SIZE;
	char *buf = buf_alloc(1024 * PAGE_SIZE);
	int fd = dev_iommu_open(), small, big;
	__u32 ioas, stdev;

	(void)unused;
	STEP(!buf || fd < 0);
	STEP(drop_cap_ipc_lock());
	STEP(set_memlock_rlimit(limit));
	STEP(ioas_alloc(fd, &ioas));
	STEP(mock_domain(fd, ioas, &stdev, NULL, NULL));
	/* 599 pages fit; 2 more fail at the charge, before any pin. */
	STEP(ioas_map_fixed(fd, ioas, buf, 599 * PAGE_SIZE,
			    MOCK_APERTURE_START));
	small = points_to_enomem(fd, ioas, buf + 600 * PAGE_SIZE,
				 2 * PAGE_SIZE, MOCK_APERTURE_START + (4 << 20));
	STEP(small <= 0);
	STEP(ioas_unmap_all(fd, ioas, NULL));
	/* 601 pages span two 2 MiB chunks and the first would fit alone. */
	big = points_to_enomem(fd, ioas, buf, 601 * PAGE_SIZE,
			       MOCK_APERTURE_START);
	if (big != small)
		printf("# over-limit map of 601 pages passed %d fault points, of 2 pages %d\n",
		       big, small);
	STEP(big != small);
	STEP(check_refs(fd, buf, 1024 * PAGE_SIZE, 0));
	return 0;
}

/*
 * Locked memory is charged once per call, for every page it will pin,
 * before pinning: a map over RLIMIT_MEMLOCK pins nothing, however many
 * chunks it spans, so it reaches no more fault points than a small one.
 */
TEST(over_limit_map_pins_nothing)
{
	if (access(MODFAULT_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	CHECK_OK(run_child(charge_before_pin_child, 0));
}

int main(void)
{
	return tap_run();
}
