// SPDX-License-Identifier: GPL-2.0
/*
 * A guided walk through /dev/iommu with a real (emulated) DMA device.
 *
 * Runs inside the project VM: QEMU's "edu" PCI device behind an emulated
 * Intel VT-d.  It gives the device to userspace the way the "/dev/iommu"
 * RFC describes -- bind (the IOMMU group is made safe), map memory into an
 * I/O address space, attach, DMA -- and shows at each step what the
 * kernel holds, with the iommufd-inspect tool.  Uses libiommufd.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libiommufd.h>

#define EDU_ID 0x00
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_IRQ 0x4		/* interrupt when done */
#define EDU_IRQ_ACK 0x64
#define EDU_IRQ_DONE 0x100
#define EDU_BUFFER 0x40000
#define PCI_COMMAND 0x04

#define IOVA_TX 0x100000UL	/* the edu only sees 28 address bits */
#define IOVA_RX 0x200000UL
#define PAGE 4096UL

static int step_no;
static const char *bdf;

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

static void check(int rc, const char *what)
{
	if (rc >= 0)
		return;
	printf("    FAILED: %s: %s\n", what, iommufd_strerror(rc));
	exit(1);
}

static void inspect(void)
{
	fflush(stdout);
	if (system("iommufd-inspect | sed 's/^/    | /'"))
		say("(iommufd-inspect failed)");
}

/* The edu alone in its IOMMU group. */
static const char *find_edu(void)
{
	static char found[64];
	char path[300], buf[16];
	struct dirent *de;
	DIR *d = opendir("/sys/bus/pci/devices");

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
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/iommu_group/devices",
			 de->d_name);
		{
			DIR *g = opendir(path);
			struct dirent *ge;
			int members = 0;

			while (g && (ge = readdir(g)))
				members += ge->d_name[0] != '.';
			if (g)
				closedir(g);
			if (members == 1) {
				snprintf(found, sizeof(found), "%.60s",
					 de->d_name);
				break;
			}
		}
	}
	if (d)
		closedir(d);
	return found[0] ? found : NULL;
}

static void reg64(volatile uint8_t *regs, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(regs + off) = v;
}

/*
 * Start one DMA and wait for the device to finish it: by polling its
 * command register, or (@irq_fd >= 0) by waiting for its completion
 * interrupt on that eventfd.  Returns whether the interrupt came.
 */
static int edu_dma(volatile uint8_t *regs, uint64_t src, uint64_t dst,
		   uint64_t len, int to_ram, int irq_fd)
{
	volatile uint32_t *cmd = (volatile uint32_t *)(regs + EDU_DMA_CMD);
	struct pollfd p = { .fd = irq_fd, .events = POLLIN };
	uint64_t n = 0;
	int i;

	reg64(regs, EDU_DMA_SRC, src);
	reg64(regs, EDU_DMA_DST, dst);
	reg64(regs, EDU_DMA_CNT, len);
	*cmd = 1 | (to_ram ? 2 : 0) | (irq_fd >= 0 ? EDU_DMA_IRQ : 0);
	if (irq_fd >= 0) {
		if (poll(&p, 1, 5000) == 1 && read(irq_fd, &n, sizeof(n)) > 0)
			*(volatile uint32_t *)(regs + EDU_IRQ_ACK) = EDU_IRQ_DONE;
		return n > 0;
	}
	for (i = 0; i < 500 && (*cmd & 1); i++)
		usleep(10000);
	return 0;
}

/* Print the IOMMU fault lines the kernel logged since @fd was opened. */
static void show_dmar_faults(int fd)
{
	char rec[512];
	ssize_t n;

	if (fd < 0)
		return;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0) {
		char *msg;

		rec[n] = 0;
		msg = strchr(rec, ';');
		if (msg && strstr(msg, "DMAR") && strstr(msg, "fault addr"))
			printf("    kernel: %s", msg + 1);
	}
	close(fd);
}

int main(void)
{
	const char message[] = "Hello through the IOMMU!";
	struct iommu_iova_range *ranges;
	struct iommufd_pci_dev *dev;
	uint32_t ioas, dev_id, pt, count, i;
	uint64_t align, iova, unmapped;
	volatile uint8_t *regs;
	uint16_t command;
	char *tx, *rx, cdev[64];
	void *bar;
	size_t bar_len;
	int fd, kmsg, irq_fd, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("A walk through /dev/iommu with a real DMA device.\n"
	       "An IOMMU fd holds I/O address spaces (IOAS); memory is mapped into\n"
	       "them at chosen IO virtual addresses (IOVA); a device bound to the fd\n"
	       "and attached to an IOAS can DMA to what is mapped there, and only that.\n");

	bdf = find_edu();
	if (!bdf) {
		printf("no edu device alone in an IOMMU group: run me in the project VM\n");
		return 1;
	}

	step("The device: QEMU's edu DMA engine at %s, alone in its IOMMU group.\n"
	     "    Hand it to the iommufd-pci driver (driver_override + drivers_probe).", bdf);
	check(iommufd_pci_driver_bind(bdf), "bind to iommufd-pci");
	check(iommufd_pci_open(bdf, &dev), "open the device");
	check(iommufd_pci_cdev_path(bdf, cdev, sizeof(cdev)), "find its cdev");
	say("%s (the VFIO device cdev of %s) is open. Until it is", cdev, bdf);
	say("bound to an iommufd the file only answers questions. Mapping its");
	say("registers now:");
	rc = iommufd_pci_mmap_bar(dev, 0, &bar, &bar_len);
	say("mmap BAR0 -> %s (refused: the group is not safe yet)",
	    rc ? iommufd_strerror(rc) : "ALLOWED?!");

	step("Open /dev/iommu and bind the device to it. The first bind in a group\n"
	     "    creates the group's security context: no kernel driver may use any\n"
	     "    device of the group, and the group's DMA is blocked until an attach.");
	fd = iommufd_open();
	check(fd, "open /dev/iommu");
	check(iommufd_pci_bind(dev, fd, &dev_id), "bind");
	say("bound: the device is object %u in this iommufd", dev_id);
	inspect();

	step("Allocate an I/O address space and see which IOVAs are usable.");
	check(iommufd_ioas_alloc(fd, &ioas), "IOAS alloc");
	say("IOAS %u", ioas);
	tx = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	rx = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (tx == MAP_FAILED || rx == MAP_FAILED)
		check(-errno, "mmap");
	strcpy(tx, message);

	step("Attach the device to the IOAS. The kernel makes an IOMMU page table\n"
	     "    (a HWPT, here a VT-d domain) that mirrors the IOAS.");
	pt = ioas;
	check(iommufd_pci_attach(dev, &pt), "attach");
	say("attached through HWPT %u", pt);
	check(iommufd_ioas_iova_ranges(fd, ioas, &ranges, &count, &align),
	      "IOVA ranges");
	for (i = 0; i < count; i++)
		say("usable IOVA [%#llx, %#llx]", (unsigned long long)ranges[i].start,
		    (unsigned long long)ranges[i].last);
	say("(the hole at 0xfee00000 is the MSI window; alignment %llu)",
	    (unsigned long long)align);
	free(ranges);

	step("Map a message buffer at IOVA %#lx and a receive buffer at %#lx.\n"
	     "    The pages are pinned and written into the IOMMU page table.",
	     IOVA_TX, IOVA_RX);
	iova = IOVA_TX;
	check(iommufd_ioas_map(fd, ioas, tx, PAGE, &iova,
			       IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA), "map tx");
	iova = IOVA_RX;
	check(iommufd_ioas_map(fd, ioas, rx, PAGE, &iova,
			       IOMMUFD_MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA), "map rx");
	inspect();

	step("Now the registers can be mapped and bus mastering turned on.");
	check(iommufd_pci_mmap_bar(dev, 0, &bar, &bar_len), "mmap BAR0");
	regs = bar;
	check(iommufd_pci_config_read(dev, PCI_COMMAND, &command, 2), "config read");
	command |= 0x6;	/* memory space, bus master */
	check(iommufd_pci_config_write(dev, PCI_COMMAND, &command, 2), "config write");
	say("edu identification register: %#x", *(volatile uint32_t *)(regs + EDU_ID));

	step("Ask for the device's interrupt: its MSI, through interrupt remapping,\n"
	     "    signals an eventfd.");
	irq_fd = eventfd(0, EFD_CLOEXEC);
	if (irq_fd < 0)
		check(-errno, "eventfd");
	check(iommufd_pci_irq_set_eventfds(dev, IOMMUFD_PCI_MSI_IRQ_INDEX, 0, 1,
					   &irq_fd), "MSI eventfd");
	say("MSI vector 0 -> eventfd %d", irq_fd);

	step("DMA: the device reads the message at IOVA %#lx into its own buffer,\n"
	     "    then writes it back to memory at IOVA %#lx and interrupts.",
	     IOVA_TX, IOVA_RX);
	edu_dma(regs, IOVA_TX, EDU_BUFFER, sizeof(message), 0, -1);
	rc = edu_dma(regs, EDU_BUFFER, IOVA_RX, sizeof(message), 1, irq_fd);
	say("%s; receive buffer: \"%s\"",
	    rc ? "completion interrupt received" : "NO completion interrupt", rx);

	step("Unmap the receive buffer and let the device try again.");
	check(iommufd_ioas_unmap(fd, ioas, IOVA_RX, PAGE, &unmapped), "unmap");
	say("unmapped %llu bytes", (unsigned long long)unmapped);
	strcpy(rx, "(untouched)");
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	edu_dma(regs, EDU_BUFFER, IOVA_RX, sizeof(message), 1, -1);
	say("receive buffer: \"%s\" -- the IOMMU stopped the write:", rx);
	show_dmar_faults(kmsg);

	step("Unbind and close. The interrupt is freed, bus mastering goes off, the\n"
	     "    register mapping is revoked, the group returns to the kernel, every\n"
	     "    page is unpinned.");
	iommufd_pci_munmap_bar(dev, bar, bar_len);
	check(iommufd_pci_unbind(dev), "unbind");
	iommufd_pci_close(dev);
	iommufd_close(fd);
	close(irq_fd);
	inspect();
	printf("\ndemo complete\n");
	return 0;
}
