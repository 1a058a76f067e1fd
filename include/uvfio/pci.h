/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uvfio — PCI facts shared by device models, drivers and the library:
 * vfio-pci region and IRQ index conventions, configuration-space offsets,
 * register bits and capability IDs (values from the PCI specifications,
 * named with a UVFIO_ prefix so this header can sit beside <linux/pci_regs.h>).
 *
 * Configuration space is little-endian.
 */
#ifndef UVFIO_PCI_H
#define UVFIO_PCI_H

#include "uvfio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* vfio-pci region indexes. */
enum {
	UVFIO_PCI_BAR0_REGION_INDEX = 0,
	UVFIO_PCI_BAR1_REGION_INDEX,
	UVFIO_PCI_BAR2_REGION_INDEX,
	UVFIO_PCI_BAR3_REGION_INDEX,
	UVFIO_PCI_BAR4_REGION_INDEX,
	UVFIO_PCI_BAR5_REGION_INDEX,
	UVFIO_PCI_ROM_REGION_INDEX,
	UVFIO_PCI_CONFIG_REGION_INDEX,
	UVFIO_PCI_VGA_REGION_INDEX,
	UVFIO_PCI_NUM_REGIONS,
};

/* vfio-pci IRQ indexes. */
enum {
	UVFIO_PCI_INTX_IRQ_INDEX = 0,
	UVFIO_PCI_MSI_IRQ_INDEX,
	UVFIO_PCI_MSIX_IRQ_INDEX,
	UVFIO_PCI_ERR_IRQ_INDEX,
	UVFIO_PCI_REQ_IRQ_INDEX,
	UVFIO_PCI_NUM_IRQS,
};

#define UVFIO_PCI_CFG_SIZE      256  /* conventional PCI */
#define UVFIO_PCI_CFG_SIZE_PCIE 4096 /* PCI Express */

/* Type 0 header. */
#define UVFIO_PCI_VENDOR_ID        0x00
#define UVFIO_PCI_DEVICE_ID        0x02
#define UVFIO_PCI_COMMAND          0x04
#define UVFIO_PCI_STATUS           0x06
#define UVFIO_PCI_REVISION_ID      0x08
#define UVFIO_PCI_CLASS_PROG       0x09
#define UVFIO_PCI_CLASS_DEVICE     0x0a
#define UVFIO_PCI_CACHE_LINE_SIZE  0x0c
#define UVFIO_PCI_LATENCY_TIMER    0x0d
#define UVFIO_PCI_HEADER_TYPE      0x0e
#define UVFIO_PCI_BIST             0x0f
#define UVFIO_PCI_BASE_ADDRESS_0   0x10
#define UVFIO_PCI_CARDBUS_CIS      0x28
#define UVFIO_PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define UVFIO_PCI_SUBSYSTEM_ID     0x2e
#define UVFIO_PCI_ROM_ADDRESS      0x30
#define UVFIO_PCI_CAPABILITY_LIST  0x34
#define UVFIO_PCI_INTERRUPT_LINE   0x3c
#define UVFIO_PCI_INTERRUPT_PIN    0x3d
#define UVFIO_PCI_MIN_GNT          0x3e
#define UVFIO_PCI_MAX_LAT          0x3f
#define UVFIO_PCI_STD_HEADER_SIZE  0x40

/* Command register. */
#define UVFIO_PCI_COMMAND_IO            0x0001
#define UVFIO_PCI_COMMAND_MEMORY        0x0002
#define UVFIO_PCI_COMMAND_MASTER        0x0004
#define UVFIO_PCI_COMMAND_PARITY        0x0040
#define UVFIO_PCI_COMMAND_SERR          0x0100
#define UVFIO_PCI_COMMAND_INTX_DISABLE  0x0400

/* Status register. */
#define UVFIO_PCI_STATUS_INTERRUPT      0x0008
#define UVFIO_PCI_STATUS_CAP_LIST       0x0010
#define UVFIO_PCI_STATUS_PARITY         0x0100 /* RW1C: master data parity error */
#define UVFIO_PCI_STATUS_SIG_TARGET_ABORT 0x0800
#define UVFIO_PCI_STATUS_REC_TARGET_ABORT 0x1000
#define UVFIO_PCI_STATUS_REC_MASTER_ABORT 0x2000
#define UVFIO_PCI_STATUS_SIG_SYSTEM_ERROR 0x4000
#define UVFIO_PCI_STATUS_DETECTED_PARITY  0x8000
#define UVFIO_PCI_STATUS_RW1C           0xf900

/* BAR bits. */
#define UVFIO_PCI_BAR_SPACE_IO        0x01
#define UVFIO_PCI_BAR_MEM_TYPE_64     0x04
#define UVFIO_PCI_BAR_MEM_PREFETCH    0x08
#define UVFIO_PCI_BAR_MEM_MASK        (~0x0fu)
#define UVFIO_PCI_BAR_IO_MASK         (~0x03u)
#define UVFIO_PCI_ROM_ENABLE          0x01
#define UVFIO_PCI_ROM_ADDRESS_MASK    (~0x7ffu)

/* Standard capability IDs. */
#define UVFIO_PCI_CAP_ID_PM      0x01
#define UVFIO_PCI_CAP_ID_VPD     0x03
#define UVFIO_PCI_CAP_ID_MSI     0x05
#define UVFIO_PCI_CAP_ID_VNDR    0x09
#define UVFIO_PCI_CAP_ID_EXP     0x10
#define UVFIO_PCI_CAP_ID_MSIX    0x11
#define UVFIO_PCI_CAP_ID_AF      0x13

/* Extended capability IDs. */
#define UVFIO_PCI_EXT_CAP_ID_ERR  0x0001
#define UVFIO_PCI_EXT_CAP_ID_DSN  0x0003
#define UVFIO_PCI_EXT_CAP_ID_VNDR 0x000b
#define UVFIO_PCI_EXT_CAP_START   0x100

/* Power management capability. */
#define UVFIO_PCI_PM_PMC          2
#define UVFIO_PCI_PM_CTRL         4
#define UVFIO_PCI_PM_CTRL_STATE_MASK   0x0003
#define UVFIO_PCI_PM_CTRL_NO_SOFT_RESET 0x0008
#define UVFIO_PCI_PM_CTRL_PME_ENABLE   0x0100
#define UVFIO_PCI_PM_CTRL_PME_STATUS   0x8000
#define UVFIO_PCI_PM_SIZEOF       8

/* MSI capability. */
#define UVFIO_PCI_MSI_FLAGS          2
#define UVFIO_PCI_MSI_FLAGS_ENABLE   0x0001
#define UVFIO_PCI_MSI_FLAGS_QMASK    0x000e /* multiple message capable */
#define UVFIO_PCI_MSI_FLAGS_QSIZE    0x0070 /* multiple message enable */
#define UVFIO_PCI_MSI_FLAGS_64BIT    0x0080
#define UVFIO_PCI_MSI_FLAGS_MASKBIT  0x0100
#define UVFIO_PCI_MSI_ADDRESS_LO     4

/* MSI-X capability. */
#define UVFIO_PCI_MSIX_FLAGS         2
#define UVFIO_PCI_MSIX_FLAGS_QSIZE   0x07ff
#define UVFIO_PCI_MSIX_FLAGS_MASKALL 0x4000
#define UVFIO_PCI_MSIX_FLAGS_ENABLE  0x8000
#define UVFIO_PCI_MSIX_TABLE         4
#define UVFIO_PCI_MSIX_PBA           8
#define UVFIO_PCI_MSIX_BIR           0x7
#define UVFIO_PCI_MSIX_SIZEOF        12
#define UVFIO_PCI_MSIX_ENTRY_SIZE    16
#define UVFIO_PCI_MSIX_ENTRY_LOWER_ADDR  0
#define UVFIO_PCI_MSIX_ENTRY_UPPER_ADDR  4
#define UVFIO_PCI_MSIX_ENTRY_DATA        8
#define UVFIO_PCI_MSIX_ENTRY_VECTOR_CTRL 12
#define UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1

/* PCI Express capability. */
#define UVFIO_PCI_EXP_FLAGS        2
#define UVFIO_PCI_EXP_FLAGS_VERS   0x000f
#define UVFIO_PCI_EXP_FLAGS_TYPE   0x00f0
#define UVFIO_PCI_EXP_TYPE_ENDPOINT     0x0
#define UVFIO_PCI_EXP_TYPE_RC_END       0x9
#define UVFIO_PCI_EXP_DEVCAP       4
#define UVFIO_PCI_EXP_DEVCAP_FLR   0x10000000
#define UVFIO_PCI_EXP_DEVCTL       8
#define UVFIO_PCI_EXP_DEVCTL_BCR_FLR 0x8000
#define UVFIO_PCI_EXP_DEVCTL_PAYLOAD 0x00e0
#define UVFIO_PCI_EXP_DEVCTL_READRQ  0x7000
#define UVFIO_PCI_EXP_DEVSTA       10
#define UVFIO_PCI_EXP_LNKCAP       12
#define UVFIO_PCI_EXP_LNKCTL       16
#define UVFIO_PCI_EXP_LNKSTA       18
#define UVFIO_PCI_EXP_DEVCAP2      36
#define UVFIO_PCI_EXP_DEVCTL2      40
#define UVFIO_PCI_EXP_SIZEOF       60

/* Vendor-specific capability: ID, next, length byte, then data. */
#define UVFIO_PCI_VNDR_LEN 2

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_PCI_H */
