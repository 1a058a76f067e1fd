/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe, the little of it a userspace driver needs: controller registers in
 * BAR0, the 64-byte submission and 16-byte completion queue entries, the
 * admin and NVM opcodes and the identify data offsets (NVM Express Base
 * Specification 1.4). Everything on the wire is little-endian.
 */
#ifndef UVFIO_DRIVERS_NVME_REGS_H
#define UVFIO_DRIVERS_NVME_REGS_H

#include <stdint.h>

#define NVME_CLASS 0x010802 /* mass storage, non-volatile memory, NVM Express */

/* Controller registers (BAR0). */
#define NVME_REG_CAP   0x00 /* 64-bit capabilities */
#define NVME_REG_VS    0x08
#define NVME_REG_INTMS 0x0c
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC    0x14
#define NVME_REG_CSTS  0x1c
#define NVME_REG_AQA   0x24
#define NVME_REG_ASQ   0x28 /* 64-bit */
#define NVME_REG_ACQ   0x30 /* 64-bit */
#define NVME_REG_DBS   0x1000 /* doorbells: SQ y tail at DBS + 2y * stride, CQ y head next */

#define NVME_CAP_MQES(cap)   ((uint32_t)((cap) & 0xffff))        /* entries per queue, 0-based */
#define NVME_CAP_TO(cap)     ((uint32_t)(((cap) >> 24) & 0xff))  /* ready timeout, 500 ms units */
#define NVME_CAP_DSTRD(cap)  ((uint32_t)(((cap) >> 32) & 0xf))   /* doorbell stride: 4 << DSTRD */
#define NVME_CAP_CSS_NVM(cap) (((cap) >> 37) & 0x1)
#define NVME_CAP_MPSMIN(cap) ((uint32_t)(((cap) >> 48) & 0xf))   /* 4 KiB << MPSMIN */

#define NVME_CC_EN          (1u << 0)
#define NVME_CC_CSS_NVM     (0u << 4)
#define NVME_CC_MPS(shift)  ((uint32_t)((shift) - 12) << 7)
#define NVME_CC_AMS_RR      (0u << 11)
#define NVME_CC_IOSQES(log) ((uint32_t)(log) << 16)
#define NVME_CC_IOCQES(log) ((uint32_t)(log) << 20)

#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1) /* controller fatal status */

/* Submission queue entry. */
struct nvme_sqe {
	uint8_t opc;
	uint8_t flags;   /* FUSE, PSDT: 0 (PRPs, not fused) */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	uint64_t prp1;
	uint64_t prp2;
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe submission queue entry");

/* Completion queue entry. */
struct nvme_cqe {
	uint32_t dw0;     /* command specific */
	uint32_t dw1;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status;  /* bit 0: phase tag; bits 15:1: status field */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe completion queue entry");

#define NVME_SQE_LOG 6 /* 64 bytes */
#define NVME_CQE_LOG 4 /* 16 bytes */

/* Status field (status >> 1): SC in bits 7:0, SCT in bits 10:8. */
#define NVME_STATUS_SC(sf)  ((sf) & 0xff)
#define NVME_STATUS_SCT(sf) (((sf) >> 8) & 0x7)
#define NVME_SC_INVALID_FIELD 0x02
#define NVME_SC_LBA_RANGE     0x80 /* generic: LBA out of range */

/* Admin opcodes. */
#define NVME_ADM_DELETE_SQ   0x00
#define NVME_ADM_CREATE_SQ   0x01
#define NVME_ADM_DELETE_CQ   0x04
#define NVME_ADM_CREATE_CQ   0x05
#define NVME_ADM_IDENTIFY    0x06
#define NVME_ADM_SET_FEATURES 0x09

#define NVME_FEAT_NUM_QUEUES 0x07

#define NVME_QUEUE_PC  (1u << 0) /* physically contiguous */
#define NVME_CQ_IEN    (1u << 1) /* interrupts enabled */

/* NVM opcodes. */
#define NVME_CMD_READ 0x02

/* Identify: CNS values, and offsets in the 4 KiB data structures. */
#define NVME_ID_CNS_NS   0x00
#define NVME_ID_CNS_CTRL 0x01
#define NVME_ID_SIZE     4096

#define NVME_IDC_VID   0   /* u16 */
#define NVME_IDC_SSVID 2   /* u16 */
#define NVME_IDC_SN    4   /* 20 ASCII bytes, space padded */
#define NVME_IDC_MN    24  /* 40 */
#define NVME_IDC_FR    64  /* 8 */
#define NVME_IDC_MDTS  77  /* u8: max transfer, 2^n minimum pages; 0 = no limit */
#define NVME_IDC_NN    516 /* u32: namespaces */

#define NVME_IDN_NSZE   0   /* u64: size in blocks */
#define NVME_IDN_NCAP   8   /* u64 */
#define NVME_IDN_NLBAF  25  /* u8: LBA formats, 0-based */
#define NVME_IDN_FLBAS  26  /* u8: bits 3:0 the format in use */
#define NVME_IDN_LBAF   128 /* u32 each: bits 23:16 LBADS (log2 of the block size) */

#endif /* UVFIO_DRIVERS_NVME_REGS_H */
