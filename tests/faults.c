// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection (design rule 5: no partial state after any failure).
 * The module can fail the N-th allocation, pin, domain map or copy-out
 * that this process reaches (debugfs fail_nth).  For N = 1, 2, ... the
 * same operation sequence runs until no point fails any more; after each
 * failure the fd is closed and the module must be back to zero objects
 * and zero pinned pages, with no kernel warning (checked by the harness
 * after the program).
 */
#include <fcntl.h>
#include <stdlib.h>

#include "util.h"

#define FAIL_NTH "/sys/kernel/debug/iommufd/fail_nth"

static int arm(int n)
{
	char buf[16];
	int fd = open(FAIL_NTH, O_WRONLY);
	int len = snprintf(buf, sizeof(buf), "%d", n);
	int rc = (fd >= 0 && write(fd, buf, len) == len) ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return rc;
}

/* Did the armed point fire (countdown reached zero)? */
static bool fired(void)
{
	char buf[16] = "";
	int fd = open(FAIL_NTH, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	if (fd >= 0)
		close(fd);
	return atoi(buf) <= 0;
}

#define STEP(expr)                                                      \
	do {                                                            \
		if ((expr) != 0)                                        \
			return __LINE__;                                \
	} while (0)

/*
 * Everything a user does, end to end.  Returns 0 when all of it worked,
 * or the line of the step that failed.  *@afd gets the access fd.
 */
static int scenario(int fd, char *buf, int *afd)
{
	__u32 a, b, stdev, hwpt, idev, stdev2, hwpt2, explicit, pid;
	__u64 iova = MOCK_APERTURE_START + 16 * PAGE_SIZE, at;
	char tmp[32];

	STEP(ioas_alloc(fd, &a));
	STEP(ioas_alloc(fd, &b));
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
	STEP(mock_domain_replace(fd, stdev, &explicit));
	/* An unmap over the access's pins goes through its callback. */
	STEP(ioas_unmap(fd, a, iova, 8 * PAGE_SIZE, NULL));
	STEP(ioas_unmap_all(fd, b, NULL));
	STEP(iommu_destroy(fd, stdev2));
	return 0;
}

TEST(every_failure_unwinds)
{
	int n, line, fd, afd, chk, failures = 0;
	char *buf;

	if (access(FAIL_NTH, W_OK))
		SKIP("no fail_nth (module loaded without selftest=1)");
	buf = buf_alloc(16 * PAGE_SIZE);
	CHECK(buf);
	chk = dev_iommu_open();
	CHECK(chk >= 0);
	for (n = 1; n < 1000; n++) {
		fd = dev_iommu_open();
		CHECK(fd >= 0);
		afd = -1;
		CHECK_OK(arm(n));
		line = scenario(fd, buf, &afd);
		bool hit = fired();

		CHECK_OK(arm(0));
		if (afd >= 0)
			close(afd);
		close(fd);
		if (module_stat("objects") != 0 || module_stat("pinned_pages") != 0 ||
		    module_stat("pin_state_bytes") != 0) {
			tap_diag("failure point %d (step at line %d): %ld objects, %ld pinned pages left",
				 n, line, module_stat("objects"),
				 module_stat("pinned_pages"));
			CHECK(!"everything unwound");
		}
		CHECK_OK(check_refs(chk, buf, 16 * PAGE_SIZE, 0));
		if (!hit) {
			/* Nothing failed: the whole sequence must have worked. */
			if (line)
				tap_diag("no injected failure, yet line %d failed", line);
			CHECK(line == 0);
			break;
		}
		failures++;
	}
	tap_diag("%d injected failures, each unwound", failures);
	CHECK(failures > 20);
	close(chk);
	buf_free(buf, 16 * PAGE_SIZE);
}

int main(void)
{
	return tap_run();
}
