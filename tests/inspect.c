// SPDX-License-Identifier: GPL-2.0
/*
 * The inspection interface and tool: build a known state, run
 * iommufd-inspect on it, and compare what it reports.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <libiommufd.h>

#include "util.h"

#define TOOL "/bin/iommufd-inspect"

/* Run the tool and return its whole output (malloc'ed), or NULL. */
static char *run_tool(const char *args)
{
	char cmd[256], *out;
	size_t len = 0, cap = 1 << 16;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", TOOL, args);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	out = calloc(1, cap);
	while (out && len < cap - 1) {
		size_t n = fread(out + len, 1, cap - 1 - len, p);

		if (!n)
			break;
		len += n;
	}
	if (pclose(p) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static bool has(const char *out, const char *needle)
{
	if (strstr(out, needle))
		return true;
	tap_diag("missing \"%s\" in:\n%s", needle, out);
	return false;
}

TEST(tool_shows_known_state)
{
	__u32 ioas, stdev, hwpt, idev;
	char want[128], *out;
	void *buf;
	int fd;

	if (access(TOOL, X_OK))
		SKIP("iommufd-inspect is not in this image");
	buf = buf_alloc(4 * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, buf, 4 * PAGE_SIZE, MOCK_APERTURE_START));
	CHECK_OK(mock_domain(fd, ioas, &stdev, &hwpt, &idev));

	out = run_tool("--json");
	CHECK(out);
	snprintf(want, sizeof(want), "\"pid\": %d", getpid());
	CHECK(has(out, want));
	snprintf(want, sizeof(want), "\"iova\": %lu, \"last\": %lu, \"length\": %lu",
		 MOCK_APERTURE_START, MOCK_APERTURE_START + 4 * PAGE_SIZE - 1,
		 4 * PAGE_SIZE);
	CHECK(has(out, want));
	CHECK(has(out, "\"prot\": \"rw\", \"pinned\": 4"));
	snprintf(want, sizeof(want), "\"id\": %u, \"ioas\": %u, \"backend\": \"mock\", \"auto\": 1, \"devices\": 1",
		 hwpt, ioas);
	CHECK(has(out, want));
	snprintf(want, sizeof(want), "\"id\": %u, \"name\": \"mock\"", idev);
	CHECK(has(out, want));
	free(out);

	out = run_tool("");
	CHECK(out);
	snprintf(want, sizeof(want), "IOAS %u: 1 mapping(s), 1 domain(s)", ioas);
	CHECK(has(out, want));
	snprintf(want, sizeof(want), "HWPT %u: on IOAS %u, mock page table", hwpt, ioas);
	CHECK(has(out, want));
	free(out);

	/* Unmapping shows up, and closing removes the context. */
	CHECK_OK(ioas_unmap_all(fd, ioas, NULL));
	out = run_tool("--json");
	CHECK(out && has(out, "\"areas\": 0"));
	free(out);
	close(fd);
	out = run_tool("--json");
	CHECK(out);
	snprintf(want, sizeof(want), "\"pid\": %d", getpid());
	CHECK(!strstr(out, want));
	CHECK(has(out, "\"module\": {\"objects\": 0, \"pinned_pages\": 0}"));
	free(out);
	buf_free(buf, 4 * PAGE_SIZE);
}

/* Run the tool and count the lines of its output that start with @prefix. */
static long count_tool_lines(const char *args, const char *prefix)
{
	char cmd[256], *line = NULL;
	size_t cap = 0;
	long n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", TOOL, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (getline(&line, &cap, p) > 0)
		n += !strncmp(line, prefix, strlen(prefix));
	free(line);
	return pclose(p) ? -1 : n;
}

/* The tool shows every record, however many (once it stopped at 4096). */
TEST(tool_shows_every_record)
{
	const int nmaps = 3000;
	__u32 ioas;
	void *buf;
	long shown;
	int fd, i;

	if (access(TOOL, X_OK))
		SKIP("iommufd-inspect is not in this image");
	buf = buf_alloc(PAGE_SIZE);
	fd = dev_iommu_open();
	CHECK(buf && fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	/* Each map is an area and a pages record: 6000 in all. */
	for (i = 0; i < nmaps; i++)
		CHECK_OK(ioas_map_fixed(fd, ioas, buf, PAGE_SIZE,
					MOCK_APERTURE_START + i * PAGE_SIZE));
	/* The table lists each mapping as a line "    0x<iova> ...". */
	shown = count_tool_lines("", "    0x");
	tap_diag("%ld mapping lines shown for %d maps", shown, nmaps);
	CHECK(shown == nmaps);
	close(fd);
	buf_free(buf, PAGE_SIZE);
}

/* Shared pages (IOAS_COPY) are counted once in the per-process totals. */
TEST(tool_counts_shared_pages_once)
{
	__u32 a, b, s1, h1, s2, h2;
	__u64 dst = MOCK_APERTURE_START + (1UL << 20);
	char want[128], *out;
	void *buf;
	int fd;

	if (access(TOOL, X_OK))
		SKIP("iommufd-inspect is not in this image");
	buf = buf_alloc(2 * PAGE_SIZE);
	CHECK(buf);
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &a));
	CHECK_OK(ioas_alloc(fd, &b));
	CHECK_OK(mock_domain(fd, a, &s1, &h1, NULL));
	CHECK_OK(mock_domain(fd, b, &s2, &h2, NULL));
	CHECK_OK(ioas_map_fixed(fd, a, buf, 2 * PAGE_SIZE, MOCK_APERTURE_START));
	CHECK_OK(ioas_copy(fd, b, &dst, a, MOCK_APERTURE_START, 2 * PAGE_SIZE,
			   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	out = run_tool("--json");
	CHECK(out);
	snprintf(want, sizeof(want), "{\"pid\": %d, \"account\": \"none\", \"pinned_pages\": 2}",
		 getpid());
	CHECK(has(out, want));
	free(out);
	close(fd);
	buf_free(buf, 2 * PAGE_SIZE);
}

/* A HWPT that enforces cache coherency says so. */
TEST(tool_shows_enforced_coherency)
{
	__u32 ioas, stdev, hwpt, idev;
	char want[128], *out;
	int fd;

	if (access(TOOL, X_OK))
		SKIP("iommufd-inspect is not in this image");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(mock_domain_flags(fd, ioas, MOCK_FLAGS_DEVICE_ENFORCE_CC,
				   &stdev, &hwpt, &idev));
	out = run_tool("");
	CHECK(out);
	snprintf(want, sizeof(want), "HWPT %u: on IOAS %u, mock page table", hwpt, ioas);
	CHECK(has(out, want) && has(out, ", enforces cache coherency\n"));
	free(out);
	out = run_tool("--json");
	CHECK(out && has(out, "\"enforce_cc\": 1"));
	free(out);
	close(fd);
}

/* A real device shows with its PCI address, IOMMU group and HWPT. */
TEST(tool_shows_real_device)
{
	struct iommufd_pci_dev *dev;
	__u32 ioas, dev_id, pt;
	char want[160], *out;
	const char *bdf;
	int fd, group;

	if (access(TOOL, X_OK))
		SKIP("iommufd-inspect is not in this image");
	bdf = lone_edu_bdf(&group);
	if (!bdf)
		SKIP("no edu device alone in an IOMMU group");
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	CHECK_OK(from_lib(iommufd_pci_driver_bind(bdf)));
	CHECK_OK(from_lib(iommufd_pci_open(bdf, &dev)));
	CHECK_OK(from_lib(iommufd_pci_bind(dev, fd, &dev_id)));
	CHECK_OK(ioas_alloc(fd, &ioas));

	out = run_tool("");
	CHECK(out);
	snprintf(want, sizeof(want), "DEVICE %u: %s, IOMMU group %d, not attached (DMA blocked)",
		 dev_id, bdf, group);
	CHECK(has(out, want));
	free(out);

	pt = ioas;
	CHECK_OK(from_lib(iommufd_pci_attach(dev, &pt)));
	out = run_tool("--json");
	CHECK(out);
	snprintf(want, sizeof(want), "\"id\": %u, \"name\": \"%s\", \"group\": %d, \"hwpt\": %u",
		 dev_id, bdf, group, pt);
	CHECK(has(out, want));
	snprintf(want, sizeof(want), "\"id\": %u, \"ioas\": %u, \"backend\": \"iommu\"",
		 pt, ioas);
	CHECK(has(out, want));
	free(out);
	iommufd_pci_close(dev);
	close(fd);
}

#define STATE "/sys/kernel/debug/iommufd/state"

/* The state file, read in a child: its text, or NULL after 3 s. */
static char *read_state_within_3s(void)
{
	int pipefd[2], status, i;
	size_t len = 0, cap = 1 << 16;
	char *out = calloc(1, cap);
	pid_t pid;
	ssize_t n;

	if (!out || pipe(pipefd))
		return NULL;
	pid = fork_flushed();
	if (!pid) {
		int fd = open(STATE, O_RDONLY);
		char buf[4096];

		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			if (write(pipefd[1], buf, n) != n)
				break;
		_exit(fd < 0);
	}
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	for (i = 0; i < 300; i++) {
		while (len < cap - 1 &&
		       (n = read(pipefd[0], out + len, cap - 1 - len)) > 0)
			len += n;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	while (len < cap - 1 &&
	       (n = read(pipefd[0], out + len, cap - 1 - len)) > 0)
		len += n;
	close(pipefd[0]);
	if (i == 300) {
		tap_diag("reading the state file did not finish in 3 s");
		free(out);
		return NULL;	/* the child is reaped by the caller's wait */
	}
	return out;
}

/* A process names itself: its name stays one token of the state file. */
TEST(state_keeps_process_name_one_token)
{
	char *state;
	int fd;

	CHECK_OK(prctl(PR_SET_NAME, "a b=c\nd", 0, 0, 0));
	fd = dev_iommu_open();
	CHECK(fd >= 0);
	state = read_state_within_3s();
	CHECK(state && has(state, "comm=a_b_c_d "));
	free(state);
	close(fd);
	CHECK_OK(prctl(PR_SET_NAME, "t_inspect", 0, 0, 0));
}

static void *read_state_once(void *arg)
{
	char buf[4096];
	int fd = open(STATE, O_RDONLY);

	(void)arg;
	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
	if (fd >= 0)
		close(fd);
	return NULL;
}

/*
 * Reading the state of a huge lazy mapping copied many times takes long
 * (every 2 MiB chunk of every area is looked at), but it holds up no
 * open of /dev/iommu meanwhile, and yields the CPU (no soft lockup).
 */
TEST(state_read_does_not_hold_up_opens)
{
	const __u64 len = 1ULL << 40;
	struct timespec t0, t1;
	long worst = 0, ms;
	__u32 ioas;
	pthread_t th;
	void *va;
	int fd, i;

	fd = dev_iommu_open();
	CHECK(fd >= 0);
	/* A terabyte of address space, never touched: nothing is pinned. */
	va = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		  MAP_NORESERVE, -1, 0);
	CHECK(va != MAP_FAILED);
	CHECK_OK(ioas_alloc(fd, &ioas));
	CHECK_OK(ioas_map_fixed(fd, ioas, va, len, len));
	for (i = 2; i < 60; i++) {
		__u64 dst = i * len;

		CHECK_OK(ioas_copy(fd, ioas, &dst, ioas, len, len,
				   MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA));
	}
	CHECK(!pthread_create(&th, NULL, read_state_once, NULL));
	for (i = 0; i < 20; i++) {
		int other;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		other = dev_iommu_open();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		CHECK(other >= 0);
		close(other);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > worst)
			worst = ms;
		usleep(50000);
	}
	pthread_join(th, NULL);
	tap_diag("slowest open while the state was read: %ld ms", worst);
	CHECK(worst < 100);
	close(fd);
	munmap(va, len);
}

int main(void)
{
	return tap_run();
}
