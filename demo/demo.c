// SPDX-License-Identifier: GPL-2.0
/*
 * A guided walk through /dev/iommu, printed for a newcomer.
 *
 * It runs inside the test VM on the mock IOMMU of the module's test
 * command: a software page table the demo can read back, standing in for
 * a device's IOMMU.  Each step says what it does, does it with the real
 * ioctl, and shows the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/iommufd_test.h>

#define PAGE 4096UL
#define BUF_PAGES 4

static int step_no;

static void step(const char *fmt, ...)
{
	va_list ap;

	printf("\n[%d] ", ++step_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void die(const char *what)
{
	printf("    FAILED: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void show_stats(void)
{
	char line[128];
	FILE *f = fopen("/sys/kernel/debug/iommufd/stats", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("    module: %s", line);
	fclose(f);
}

static int test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(fd, IOMMU_TEST_CMD, cmd);
}

static int pin_refs(int fd, void *buf, size_t len, unsigned int refs)
{
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = { .length = len, .uptr = (uintptr_t)buf,
				.refs = refs },
	};

	return test_cmd(fd, &cmd);
}

static void show_ranges(int fd, uint32_t ioas)
{
	struct iommu_iova_range r[8];
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q), .ioas_id = ioas, .num_iovas = 8,
		.allowed_iovas = (uintptr_t)r,
	};
	unsigned int i;

	if (ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q))
		die("IOMMU_IOAS_IOVA_RANGES");
	for (i = 0; i < q.num_iovas; i++)
		say("usable IOVA: [%#llx, %#llx]", (unsigned long long)r[i].start,
		    (unsigned long long)r[i].last);
	say("IOVA alignment: %llu bytes",
	    (unsigned long long)q.out_iova_alignment);
}

int main(void)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_test_cmd dev = { .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_test_cmd chk = { .op = IOMMU_TEST_OP_MD_CHECK_MAP };
	struct iommu_test_cmd acc = { .op = IOMMU_TEST_OP_CREATE_ACCESS };
	struct iommu_test_cmd rw = { .op = IOMMU_TEST_OP_ACCESS_RW };
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap) };
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct iommu_ioas_map map = { .size = sizeof(map) };
	char *buf, readback[32] = "";
	const uint64_t iova = 1UL << 24;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("/dev/iommu walk-through: an IOMMU file descriptor owns I/O address\n"
	       "spaces (IOAS); user memory is mapped into them at chosen IOVAs; devices\n"
	       "attach to them and then DMA only to what is mapped.\n");

	step("Open /dev/iommu. Every object we create lives inside this fd.");
	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		die("open /dev/iommu");
	say("fd %d", fd);
	show_stats();

	step("IOMMU_IOAS_ALLOC: a new, empty I/O address space.");
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc))
		die("IOMMU_IOAS_ALLOC");
	say("IOAS id %u (ids are small integers local to this fd)",
	    alloc.out_ioas_id);
	show_ranges(fd, alloc.out_ioas_id);

	step("IOMMU_IOAS_MAP: map %lu pages of our memory at IOVA %#llx.",
	     BUF_PAGES, (unsigned long long)iova);
	buf = mmap(NULL, BUF_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	strcpy(buf, "hello from the CPU");
	map.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
		    IOMMU_IOAS_MAP_WRITEABLE;
	map.ioas_id = alloc.out_ioas_id;
	map.user_va = (uintptr_t)buf;
	map.length = BUF_PAGES * PAGE;
	map.iova = iova;
	if (ioctl(fd, IOMMU_IOAS_MAP, &map))
		die("IOMMU_IOAS_MAP");
	say("mapped. No device uses the IOAS yet, so nothing is pinned:");
	say("pin count per page is 0: %s",
	    pin_refs(fd, buf, BUF_PAGES * PAGE, 0) ? "NO" : "yes");

	step("Bind a device and attach it to the IOAS (here a mock device on the\n"
	     "    module's mock IOMMU). The kernel creates a hardware page table\n"
	     "    (HWPT) for it, pins the mapped pages and programs them in.");
	dev.id = alloc.out_ioas_id;
	if (test_cmd(fd, &dev))
		die("attach a mock device");
	say("device id %u, attached to HWPT %u", dev.mock_domain.out_idev_id,
	    dev.mock_domain.out_hwpt_id);
	say("pin count per page is now 1: %s",
	    pin_refs(fd, buf, BUF_PAGES * PAGE, 1) ? "NO" : "yes");
	chk.id = dev.mock_domain.out_hwpt_id;
	chk.check_map.iova = iova;
	chk.check_map.length = BUF_PAGES * PAGE;
	chk.check_map.uptr = (uintptr_t)buf;
	say("the IOMMU page table sends IOVA %#llx.. to our pages: %s",
	    (unsigned long long)iova, test_cmd(fd, &chk) ? "NO" : "yes");
	show_ranges(fd, alloc.out_ioas_id);
	say("(the device's IOMMU narrowed the usable IOVA and its page size)");
	show_stats();

	step("A software device (no IOMMU of its own) reads the buffer through\n"
	     "    the IOAS: it uses IOVAs, the kernel finds the pages.");
	acc.id = alloc.out_ioas_id;
	if (test_cmd(fd, &acc))
		die("create an access");
	rw.id = acc.create_access.out_access_fd;
	rw.access_rw.iova = iova;
	rw.access_rw.length = strlen(buf);
	rw.access_rw.uptr = (uintptr_t)readback;
	if (test_cmd(fd, &rw))
		die("read through the IOAS");
	say("read at IOVA %#llx: \"%s\"", (unsigned long long)iova, readback);
	close(acc.create_access.out_access_fd);

	step("IOMMU_IOAS_UNMAP: take the mapping away.");
	unmap.ioas_id = alloc.out_ioas_id;
	unmap.iova = iova;
	unmap.length = BUF_PAGES * PAGE;
	if (ioctl(fd, IOMMU_IOAS_UNMAP, &unmap))
		die("IOMMU_IOAS_UNMAP");
	say("unmapped %llu bytes", (unsigned long long)unmap.length);
	say("the IOMMU no longer translates IOVA %#llx: %s",
	    (unsigned long long)iova, test_cmd(fd, &chk) ? "yes" : "NO");
	say("pin count per page back to 0: %s",
	    pin_refs(fd, buf, BUF_PAGES * PAGE, 0) ? "NO" : "yes");

	step("IOMMU_DESTROY of the IOAS while a device uses it is refused:");
	destroy.id = alloc.out_ioas_id;
	if (ioctl(fd, IOMMU_DESTROY, &destroy) == 0 || errno != EBUSY)
		die("IOMMU_DESTROY should fail with EBUSY");
	say("EBUSY (%s)", strerror(EBUSY));

	step("Close the fd: the device is detached and unbound, every object\n"
	     "    freed, every page unpinned.");
	close(fd);
	show_stats();
	printf("\ndemo complete\n");
	return 0;
}
