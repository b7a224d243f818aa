/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the PCI test programs (pci.c, vfio_cdev.c, ...): the test
 * VM's devices, found by find_devices() -- an edu alone in its IOMMU
 * group, two edus sharing a group behind a bridge with an e1000 driven by
 * the kernel, an e1000e (MSI-X) alone -- and helpers to drive them
 * through libiommufd.
 */
#ifndef TESTS_PCI_UTIL_H
#define TESTS_PCI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libiommufd.h>

#include "util.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID 0x00
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_CMD_IRQ 0x4		/* raise interrupt 0x100 when done */
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_IRQ_DMA 0x100
#define EDU_BUFFER 0x40000
#define EDU_BUFFER_SIZE 4096
#define EDU_DMA_MAX 2048
#define IOVA_A 0x100000UL
#define IOVA_B 0x200000UL
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_CAP_LIST 0x34
#define PCI_CAP_ID_MSI 0x05
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_ROM_ADDRESS 0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_CACHE_LINE_SIZE 0x0c

/* PCI addresses of the test VM's devices ("" when absent). */
extern char lone_edu[32], pair_edu[2][32], e1000[32], e1000e[32];

/* An edu opened through libiommufd, and its BAR0 once mapped. */
struct edu {
	struct iommufd_pci_dev *dev;
	volatile uint32_t *regs;
	size_t regs_len;
};

int sysfs_read(const char *bdf, const char *attr, char *buf, size_t n);
int sysfs_write(const char *path, const char *val);
unsigned long sysfs_hex(const char *bdf, const char *attr);
int group_of(const char *bdf);
void driver_of(const char *bdf, char *out, size_t n);
int rebind(const char *bdf, const char *driver);
void find_devices(void);
int edu_open(struct edu *e, const char *bdf);
void edu_close(struct edu *e);
int edu_bind_new(struct edu *e, int *fd, __u32 *dev_id);
int edu_enable(struct edu *e);
void reg64(struct edu *e, unsigned int off, uint64_t val);
int edu_dma(struct edu *e, uint64_t src, uint64_t dst, uint64_t len,
	    bool to_ram);
/* The device's own config space (sysfs), bypassing the driver's view. */
int hw_config_read(const char *bdf, int pos, void *buf, size_t n);
int edu_load(struct edu *e, uint64_t iova, uint64_t len);
int edu_store(struct edu *e, uint64_t iova, uint64_t len);
int kmsg_open(void);
bool kmsg_saw(int fd, const char *a, const char *b);
bool fault_logged(int kmsg, const char *bdf);
void *dma_buffer(void);
uint64_t eventfd_wait(int efd, int ms);
bool irq_listed(const char *bdf);
int find_cap(struct edu *e, uint8_t id);
int irq_setup(struct edu *e, int *fd, __u32 *ioas);
int irq_listen(struct edu *e, int *fd, uint32_t index, int *efd);

#endif
