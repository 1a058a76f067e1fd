/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Register map of the uvfio "dma" device, a DMA engine that copies between
 * two bus addresses and raises an interrupt when done. This is the
 * hardware contract shared by the model (devices/dma) and its drivers;
 * docs/dma-device.md describes it in prose.
 *
 * BAR0: 4 KiB, 32-bit memory, registers below (not mmap-able: writes act).
 * BAR2: 64 KiB, 64-bit prefetchable memory: 56 KiB of device memory the
 *       driver may mmap, then the MSI-X table (0xe000) and PBA (0xf000).
 * BAR4: 32 bytes of I/O space aliasing registers 0x00-0x1f.
 * ROM:  2 KiB with a 0x55 0xaa signature.
 * IRQs: INTx, MSI (1 vector), MSI-X (4 vectors), ERR, REQ.
 * All registers are little-endian; 64-bit ones are two 32-bit halves.
 */
#ifndef UVFIO_DEVICES_DMA_REGS_H
#define UVFIO_DEVICES_DMA_REGS_H

#define DMA_PCI_VENDOR_ID  0x1234 /* QEMU's test-device vendor space */
#define DMA_PCI_DEVICE_ID  0x4d41
#define DMA_PCI_CLASS      0x088000 /* system peripheral, other */
#define DMA_PCI_REVISION   0x01

#define DMA_BAR_REGS   0
#define DMA_BAR_MEM    2
#define DMA_BAR_IO     4
#define DMA_REGS_SIZE  0x1000
#define DMA_MEM_SIZE   0x10000
#define DMA_MEM_MMAP   0xe000   /* mmap-able bytes at the start of BAR2 */
#define DMA_MSIX_TABLE 0xe000
#define DMA_MSIX_PBA   0xf000
#define DMA_MSIX_VECS  4
#define DMA_IO_SIZE    32
#define DMA_ROM_SIZE   0x800

#define DMA_REG_ID         0x00 /* RO: DMA_ID_MAGIC */
#define DMA_REG_VERSION    0x04 /* RO: major << 16 | minor */
#define DMA_REG_CTRL       0x08 /* RW: DMA_CTRL_* */
#define DMA_REG_STATUS     0x0c /* RO BUSY, W1C DONE and ERROR; error code in 15:8 */
#define DMA_REG_SRC_LO     0x10 /* RW: source bus address */
#define DMA_REG_SRC_HI     0x14
#define DMA_REG_DST_LO     0x18 /* RW: destination bus address */
#define DMA_REG_DST_HI     0x1c
#define DMA_REG_LEN_LO     0x20 /* RW: bytes to copy */
#define DMA_REG_LEN_HI     0x24
#define DMA_REG_ERR_LO     0x28 /* RO: bus address of the access that failed */
#define DMA_REG_ERR_HI     0x2c
#define DMA_REG_IRQ_VECTOR 0x30 /* RW: vector raised on completion */
#define DMA_REG_XFERS      0x34 /* RO: transfers completed (with or without error) */
#define DMA_REG_BYTES_LO   0x38 /* RO: bytes copied since reset */
#define DMA_REG_BYTES_HI   0x3c
#define DMA_REG_SCRATCH    0x40 /* RW: no effect; for tests */
#define DMA_REG_CMPL_LO    0x44 /* RW: bus address of the completion record, 0 = none */
#define DMA_REG_CMPL_HI    0x48
#define DMA_REGS_USED      0x4c

/*
 * The completion record the engine writes (if CMPL is set) at the end of
 * every transfer, before it raises the interrupt: 16 bytes, little-endian.
 */
#define DMA_CMPL_STATUS 0 /* u32: STATUS as it is after the transfer */
#define DMA_CMPL_XFERS  4 /* u32: XFERS after the transfer (a sequence number) */
#define DMA_CMPL_ERR    8 /* u64: ERR (faulting bus address), 0 without error */
#define DMA_CMPL_SIZE   16

#define DMA_ID_MAGIC    0x4d445655u /* "UVDM" */
#define DMA_VERSION     0x00010000u

/*
 * START acts once the whole register write that sets it has been applied,
 * so one burst write of CTRL..LEN (0x08-0x27) can acknowledge STATUS,
 * program the transfer and start it.
 */
#define DMA_CTRL_START  (1u << 0)  /* write 1: copy LEN bytes from SRC to DST; reads 0 */
#define DMA_CTRL_IRQ    (1u << 1)  /* raise IRQ_VECTOR when a transfer ends */
#define DMA_CTRL_RESET  (1u << 31) /* write 1: reset the engine's registers; reads 0 */

#define DMA_STATUS_BUSY  (1u << 0)
#define DMA_STATUS_DONE  (1u << 1)
#define DMA_STATUS_ERROR (1u << 2)
#define DMA_STATUS_CODE_SHIFT 8
#define DMA_STATUS_CODE_MASK  (0xffu << DMA_STATUS_CODE_SHIFT)

/* Error codes in STATUS[15:8]. */
#define DMA_ERR_NONE      0
#define DMA_ERR_SRC_FAULT 1 /* the source isn't mapped for device reads */
#define DMA_ERR_DST_FAULT 2 /* the destination isn't mapped for device writes */
#define DMA_ERR_NO_MASTER 3 /* Bus Master is disabled in the command register */
#define DMA_ERR_WRAP      4 /* SRC + LEN or DST + LEN passes the end of the bus */
#define DMA_ERR_TRANSFER  5 /* the client failed a message-based transfer */
#define DMA_ERR_BUSY      6 /* START while a transfer was running */

#endif /* UVFIO_DEVICES_DMA_REGS_H */
