/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The devices the device-side fuzz targets serve: the real dma model
 * (devices/dma), and "fzdev", a model written for fuzzing that uses every
 * kind of region and capability the library offers and turns register
 * writes into calls of the model-side API (DMA read/write/translate/check,
 * interrupts) with fuzz-chosen arguments.
 *
 * fzdev also checks what the library promises a model: accesses arrive
 * inside the region, hook accesses inside the hooked capability and never
 * across a dword, every dma_unmap names an earlier dma_map, all mappings
 * are unmapped (and the model told) before detach, attach and detach pair
 * up, translated pointers are usable for the length reported.
 */
#ifndef UVFIO_FUZZ_MODEL_H
#define UVFIO_FUZZ_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/emu.h>

enum fz_dev_kind {
	FZ_DEV_DMA = 0, /* devices/dma */
	FZ_DEV_FZ = 1,  /* fzdev */
};

/* fz_dev_create() flags */
/* fzdev never writes its own config space, and its config hooks never fail */
#define FZ_DEV_TAME (1u << 0)

/* A BAR (or the ROM) as the device describes it. */
struct fz_bar {
	uint64_t size;  /* bytes; 0 = absent (or the upper half of a 64-bit BAR) */
	uint32_t flags; /* UVFIO_EMU_BAR_* */
};

struct fz_dev {
	enum fz_dev_kind kind;
	struct uvfio_emu *emu;
	struct fz_bar bars[7]; /* BAR0-5, ROM */
	bool intx;             /* offers INTx */
	void *impl;
};

/*
 * Create and realize a device of @kind serving the connection @o describes
 * (the caller sets socket/fd, limits and logging; ops and priv are the
 * model's). Return: 0 or -errno.
 */
int fz_dev_create(enum fz_dev_kind kind, const struct uvfio_emu_opts *o, unsigned flags,
		  struct fz_dev **out);

/* Destroy the device; its checks run one last time. Accepts NULL. */
void fz_dev_destroy(struct fz_dev *d);

/* fzdev's register block (BAR0, the I/O BAR and region 10 alias it). */
#define FZ_REG_IOVA     0x00 /* u64 */
#define FZ_REG_LEN      0x08 /* u32, taken modulo 64 KiB */
#define FZ_REG_PROT     0x0c /* u8: UVFIO_EMU_DMA_* (unchecked: invalid bits reach the library) */
#define FZ_REG_VECTOR   0x0d /* u8 */
#define FZ_REG_INDEX    0x0e /* u8: IRQ index for SIGNAL */
#define FZ_REG_STRIDE   0x0f /* u8: scatter-gather stride in 512-byte units */
#define FZ_REG_CFG_OFF  0x10 /* u16: config offset for CFG_READ/CFG_WRITE */
#define FZ_REG_CFG_LEN  0x12 /* u8 */
#define FZ_REG_DOORBELL 0x20 /* u8: writing it runs one FZ_OP_* */
#define FZ_REG_FAIL     0x21 /* u8: non-zero makes register accesses fail with -EIO */
#define FZ_REGS_SIZE    0x40

enum {
	FZ_OP_NONE = 0,
	FZ_OP_DMA_READ,
	FZ_OP_DMA_WRITE,
	FZ_OP_DMA_PTR,
	FZ_OP_DMA_PTRV,
	FZ_OP_DMA_CHECK,
	FZ_OP_IRQ_RAISE,
	FZ_OP_IRQ_SIGNAL,
	FZ_OP_CFG_READ,
	FZ_OP_CFG_WRITE,
	FZ_OP_MAX,
};

#endif /* UVFIO_FUZZ_MODEL_H */
