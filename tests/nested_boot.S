/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boot sector of the KVM guest of tests/qemu.c: SeaBIOS loads it at
 * 0x7c00 and jumps to it in real mode.  It switches to 32-bit protected
 * mode (flat segments, no paging), places the passed-through edu's BAR0 at
 * 0xe0000000 (slot 4 of bus 0, as the test puts it), turns on memory
 * decode and bus mastering, and has the edu copy 1 KiB of guest RAM into
 * its buffer and back to other guest RAM by DMA -- through QEMU's VFIO,
 * our /dev/iommu and the VM's IOMMU.  It reports on the debug console
 * (port 0xe9): "edu id ok", then "DMA ok" when the copy matches, or a
 * line starting "FAIL"; then it halts.
 *
 * Built into a 512-byte disk image (tests/Makefile: build/nested-boot.img).
 */
	.set BAR0, 0xe0000000
	.set CFG_ADDR, 0x80000000 | (4 << 11)	/* 00:04.0 */
	.set SRC, 0x100000
	.set DST, 0x200000
	.set EDU_BUF, 0x40000
	.set LEN, 1024
	.set CON, 0xe9

	.code16
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %ss
	movw $0x7c00, %sp
	/* A20 on (the fast gate), so that 0x100000 is not 0. */
	inb $0x92, %al
	orb $2, %al
	andb $0xfe, %al
	outb %al, $0x92
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $pm

	.code32
pm:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $0x7c00, %esp

	/* BAR0, then command: memory decode and bus mastering. */
	movl $(CFG_ADDR | 0x10), %eax
	movw $0xcf8, %dx
	outl %eax, %dx
	movl $BAR0, %eax
	movw $0xcfc, %dx
	outl %eax, %dx
	movl $(CFG_ADDR | 0x04), %eax
	movw $0xcf8, %dx
	outl %eax, %dx
	movl $0x6, %eax
	movw $0xcfc, %dx
	outl %eax, %dx

	movl $msg_noid, %esi
	cmpl $0x010000ed, BAR0
	jne fail
	movl $msg_id, %esi
	call puts

	/* A pattern at SRC, zeros at DST. */
	movl $SRC, %edi
	movl $(LEN / 4), %ecx
	movl $0x12345678, %eax
1:	stosl
	addl $0x9e3779b9, %eax
	loop 1b
	movl $DST, %edi
	movl $(LEN / 4), %ecx
	xorl %eax, %eax
	rep stosl

	/* RAM to the edu's buffer, then back to other RAM. */
	movl $SRC, %eax
	movl $EDU_BUF, %ebx
	movl $1, %ecx
	call dma
	movl $EDU_BUF, %eax
	movl $DST, %ebx
	movl $3, %ecx
	call dma

	movl $SRC, %esi
	movl $DST, %edi
	movl $(LEN / 4), %ecx
	repe cmpsl
	movl $msg_bad, %esi
	jne fail
	movl $msg_ok, %esi
	call puts
halt:
	hlt
	jmp halt

fail:
	call puts
	jmp halt

/* One edu DMA of LEN bytes from %eax to %ebx, command %ecx; waits for it. */
dma:
	movl %eax, BAR0 + 0x80
	movl $0, BAR0 + 0x84
	movl %ebx, BAR0 + 0x88
	movl $0, BAR0 + 0x8c
	movl $LEN, BAR0 + 0x90
	movl $0, BAR0 + 0x94
	movl %ecx, BAR0 + 0x98
2:	testl $1, BAR0 + 0x98
	jnz 2b
	ret

/* The NUL-terminated string at %esi to the debug console. */
puts:
	lodsb
	testb %al, %al
	jz 3f
	outb %al, $CON
	jmp puts
3:	ret

msg_id:	.asciz "edu id ok\n"
msg_ok:	.asciz "DMA ok\n"
msg_noid: .asciz "FAIL: BAR0 is not the edu\n"
msg_bad: .asciz "FAIL: DMA copy differs\n"

	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: code, flat 4 GiB */
	.quad 0x00cf92000000ffff	/* 0x10: data, flat 4 GiB */
gdtr:
	.word gdtr - gdt - 1
	.long gdt

	.org 510
	.byte 0x55, 0xaa
