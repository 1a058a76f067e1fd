// SPDX-License-Identifier: BSD-3-Clause
/*
 * The make-demo client: drives the "dma" device served by `uvfio serve`
 * through one copy, speaking vfio-user with lib/proto and lib/transport
 * only, and printing what happens at each step. (Once the driver side
 * exists, drivers use <uvfio/vfio.h> instead of raw messages.)
 *
 * usage: dma_client SOCKET [BYTES]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dma/dma_regs.h"
#include "transport/transport.h"
#include "uvfio/pci.h"
#include "util/util.h"

#define TIMEOUT_MS 5000
#define GUEST_RAM  (64u << 20)
#define IOVA_BASE  0x40000000ull

struct client {
	struct uvfio__conn *conn;
	uint16_t id;
	uint8_t reply[4096];
	size_t reply_len;
	int reply_fd;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "dma_client: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Send a command and wait for its reply; payload copied to c->reply. */
static int call(struct client *c, uint16_t cmd, const void *p, size_t len, const int *fds,
		unsigned nfds)
{
	struct uvfio_hdr h = { .id = ++c->id, .cmd = cmd };
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct uvfio__msg m;
	int ret = uvfio__conn_send(c->conn, &h, &iov, len ? 1 : 0, fds, nfds);

	if (!ret)
		ret = uvfio__conn_flush(c->conn, TIMEOUT_MS);
	if (!ret)
		ret = uvfio__conn_recv(c->conn, &m, TIMEOUT_MS);
	if (ret)
		die(uvfio_proto_cmd_name(cmd), ret);
	if (m.hdr.id != h.id || m.hdr.cmd != cmd || m.len > sizeof(c->reply))
		die("the server's reply doesn't match the request", EPROTO);
	c->reply_fd = m.nfds ? m.fds[0] : -1;
	for (unsigned i = 1; i < m.nfds; i++)
		close(m.fds[i]);
	memcpy(c->reply, m.payload, m.len);
	c->reply_len = m.len;
	if (m.hdr.flags & UVFIO_F_ERROR)
		return -(int)m.hdr.error;
	return 0;
}

static void region_rw(struct client *c, uint32_t region, uint64_t off, void *buf, uint32_t len,
		      bool write)
{
	uint8_t b[16 + 64];
	struct uvfio_region_access a = { .offset = off, .region = region, .count = len, .data = buf };
	ssize_t n = uvfio_proto_region_access_encode(b, sizeof(b), write, &a);
	int ret = call(c, write ? UVFIO_CMD_REGION_WRITE : UVFIO_CMD_REGION_READ, b, (size_t)n,
		       NULL, 0);

	if (ret)
		die(write ? "REGION_WRITE" : "REGION_READ", ret);
	if (!write)
		memcpy(buf, c->reply + 16, len);
}

static uint32_t rd32(struct client *c, uint32_t region, uint64_t off)
{
	uint32_t v;

	region_rw(c, region, off, &v, 4, false);
	return v;
}

static void wr32(struct client *c, uint32_t region, uint64_t off, uint32_t v)
{
	region_rw(c, region, off, &v, 4, true);
}

static void negotiate(struct client *c)
{
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":8,"
				   "\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
				   "\"max_dma_maps\":65535}}";
	uint8_t b[4 + sizeof(json)];
	struct uvfio_caps caps;
	uint16_t ma, mi;
	int ret;

	put_le16(b, UVFIO_PROTO_MAJOR);
	put_le16(b + 2, UVFIO_PROTO_MINOR);
	memcpy(b + 4, json, sizeof(json));
	ret = call(c, UVFIO_CMD_VERSION, b, sizeof(b), NULL, 0);
	if (ret)
		die("VERSION", ret);
	ret = uvfio_proto_version_decode(c->reply, c->reply_len, &ma, &mi, &caps);
	if (ret)
		die("decoding the VERSION reply", ret);
	printf("  negotiated vfio-user %u.%u; server takes %u fds and %llu-byte transfers per "
	       "message, up to %llu DMA mappings\n",
	       ma, mi, caps.max_msg_fds, (unsigned long long)caps.max_data_xfer_size,
	       (unsigned long long)caps.max_dma_maps);
	uvfio__conn_set_limits(c->conn, 16 + 32 + caps.max_data_xfer_size, 8);
}

static void show_regions(struct client *c, uint32_t nregions, uint8_t **bar2)
{
	static const char *const names[] = { "BAR0", "BAR1", "BAR2", "BAR3", "BAR4",
					     "BAR5", "ROM",  "config", "VGA" };

	for (uint32_t i = 0; i < nregions; i++) {
		struct uvfio_region_info ri = { .argsz = 256, .index = i };
		struct uvfio_sparse_area areas[8];
		struct uvfio_region_caps caps;
		uint8_t b[32];
		bool complete;
		int ret;

		uvfio_proto_region_info_encode(b, sizeof(b), &ri, NULL, &complete);
		put_le32(b, 256);
		ret = call(c, UVFIO_CMD_DEVICE_GET_REGION_INFO, b, sizeof(b), NULL, 0);
		if (ret)
			die("GET_REGION_INFO", ret);
		uvfio_proto_region_info_decode(c->reply, c->reply_len, &ri);
		if (uvfio_proto_region_caps_decode(c->reply, c->reply_len, areas, 8, &caps))
			die("the region info capability chain is malformed", EPROTO);
		if (ri.size)
			printf("  region %u %-6s %8llu bytes  %s%s%s", i, i < 9 ? names[i] : "",
			       (unsigned long long)ri.size,
			       ri.flags & UVFIO_REGION_INFO_FLAG_READ ? "read " : "",
			       ri.flags & UVFIO_REGION_INFO_FLAG_WRITE ? "write " : "",
			       ri.flags & UVFIO_REGION_INFO_FLAG_MMAP ? "mmap" : "");
		for (uint32_t a = 0; a < caps.nr_areas && a < 8; a++)
			printf("%s[0x%llx, +0x%llx)", a ? " " : " sparse ",
			       (unsigned long long)areas[a].offset, (unsigned long long)areas[a].size);
		if (ri.size)
			printf("\n");
		if (i == DMA_BAR_MEM && c->reply_fd >= 0 && caps.nr_areas) {
			void *p = mmap(NULL, areas[0].size, PROT_READ | PROT_WRITE, MAP_SHARED,
				       c->reply_fd, (off_t)(ri.offset + areas[0].offset));

			*bar2 = p == MAP_FAILED ? NULL : p;
		}
		close_fd(&c->reply_fd);
	}
}

static void show_config(struct client *c)
{
	uint8_t cfg[256];
	unsigned pos;

	for (unsigned off = 0; off < sizeof(cfg); off += 64)
		region_rw(c, UVFIO_PCI_CONFIG_REGION_INDEX, off, cfg + off, 64, false);
	printf("  config: %04x:%04x class %06x, capabilities:", get_le16(cfg), get_le16(cfg + 2),
	       get_le32(cfg + 8) >> 8);
	for (pos = cfg[UVFIO_PCI_CAPABILITY_LIST]; pos && pos < 256; pos = cfg[pos + 1])
		printf(" 0x%02x@0x%02x", cfg[pos], pos);
	printf("\n");
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t copy(struct client *c, int efd, uint64_t src, uint64_t dst, uint64_t len)
{
	struct pollfd pf = { .fd = efd, .events = POLLIN };
	uint64_t cnt;

	wr32(c, DMA_BAR_REGS, DMA_REG_SRC_LO, (uint32_t)src);
	wr32(c, DMA_BAR_REGS, DMA_REG_SRC_HI, (uint32_t)(src >> 32));
	wr32(c, DMA_BAR_REGS, DMA_REG_DST_LO, (uint32_t)dst);
	wr32(c, DMA_BAR_REGS, DMA_REG_DST_HI, (uint32_t)(dst >> 32));
	wr32(c, DMA_BAR_REGS, DMA_REG_LEN_LO, (uint32_t)len);
	wr32(c, DMA_BAR_REGS, DMA_REG_LEN_HI, (uint32_t)(len >> 32));
	wr32(c, DMA_BAR_REGS, DMA_REG_CTRL, DMA_CTRL_START | DMA_CTRL_IRQ);
	if (poll(&pf, 1, TIMEOUT_MS) != 1 || read(efd, &cnt, sizeof(cnt)) != sizeof(cnt))
		die("waiting for the completion interrupt", ETIMEDOUT);
	return rd32(c, DMA_BAR_REGS, DMA_REG_STATUS);
}

int main(int argc, char **argv)
{
	struct uvfio__conn_opts co = { .max_msg_size = 1 << 16, .max_fds = 8 };
	uint64_t len = argc > 2 ? strtoull(argv[2], NULL, 0) : 16u << 20;
	struct client c = { .reply_fd = -1 };
	uint8_t b[64], *ram, *bar2 = NULL;
	int fd, mfd, efd, ret;
	uint32_t st, nregions;
	double t;

	if (argc < 2) {
		fprintf(stderr, "usage: dma_client SOCKET [BYTES]\n");
		return 2;
	}
	if (!len || len > GUEST_RAM / 2)
		len = 16u << 20;
	fd = uvfio__sock_connect(argv[1]);
	if (fd < 0)
		die(argv[1], fd);
	ret = uvfio__conn_create(fd, &co, &c.conn);
	if (ret)
		die("connection", ret);
	printf("client: connected to %s\n", argv[1]);
	negotiate(&c);

	memset(b, 0, 16);
	put_le32(b, 16);
	if ((ret = call(&c, UVFIO_CMD_DEVICE_GET_INFO, b, 16, NULL, 0)))
		die("GET_INFO", ret);
	nregions = get_le32(c.reply + 8);
	printf("  device: flags 0x%x (PCI, reset), %u regions, %u IRQ types\n", get_le32(c.reply + 4),
	       nregions, get_le32(c.reply + 12));
	show_regions(&c, nregions, &bar2);
	show_config(&c);

	put_le16(b, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	region_rw(&c, UVFIO_PCI_CONFIG_REGION_INDEX, UVFIO_PCI_COMMAND, b, 2, true);
	printf("client: enabled memory space and bus mastering\n");
	printf("  BAR0: id 0x%08x version 0x%08x\n", rd32(&c, DMA_BAR_REGS, DMA_REG_ID),
	       rd32(&c, DMA_BAR_REGS, DMA_REG_VERSION));
	if (bar2) {
		memcpy(bar2, "hello through mmap", 19);
		region_rw(&c, DMA_BAR_MEM, 0, b, 19, false);
		printf("  BAR2 mmap'd: wrote through the mapping, read back by message: \"%s\"\n", b);
		munmap(bar2, DMA_MEM_MMAP);
	}

	mfd = memfd_create("demo-guest-ram", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, GUEST_RAM))
		die("memfd", errno);
	ram = mmap(NULL, GUEST_RAM, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (ram == MAP_FAILED)
		die("mmap", errno);
	for (uint64_t i = 0; i < len; i++)
		ram[i] = (uint8_t)(i * 7 + (i >> 12));
	{
		struct uvfio_dma_map m = { .argsz = 32, .flags = UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE,
					   .addr = IOVA_BASE, .size = GUEST_RAM };

		uvfio_proto_dma_map_encode(b, 32, &m);
		if ((ret = call(&c, UVFIO_CMD_DMA_MAP, b, 32, &mfd, 1)))
			die("DMA_MAP", ret);
	}
	printf("client: mapped %u MiB of memfd-backed memory at bus address 0x%llx\n",
	       GUEST_RAM >> 20, (unsigned long long)IOVA_BASE);

	efd = eventfd(0, EFD_CLOEXEC);
	{
		struct uvfio_irq_set s = { .argsz = 20, .index = UVFIO_PCI_MSIX_IRQ_INDEX, .count = 1,
					   .flags = UVFIO_IRQ_SET_DATA_EVENTFD |
						    UVFIO_IRQ_SET_ACTION_TRIGGER };

		uvfio_proto_irq_set_encode(b, 20, &s);
		if ((ret = call(&c, UVFIO_CMD_DEVICE_SET_IRQS, b, 20, &efd, 1)))
			die("SET_IRQS", ret);
	}
	printf("client: MSI-X vector 0 -> eventfd %d\n", efd);

	t = now();
	st = copy(&c, efd, IOVA_BASE, IOVA_BASE + GUEST_RAM / 2, len);
	t = now() - t;
	printf("device: copied %llu bytes, status 0x%x, completion interrupt received (%.2f ms, %.1f GB/s)\n",
	       (unsigned long long)len, st, t * 1e3, (double)len / t / 1e9);
	if (st != DMA_STATUS_DONE || memcmp(ram, ram + GUEST_RAM / 2, len))
		die("the copy is wrong", EIO);
	printf("client: destination verified byte for byte\n");
	wr32(&c, DMA_BAR_REGS, DMA_REG_STATUS, DMA_STATUS_DONE);

	st = copy(&c, efd, 0x1000, IOVA_BASE, 4096);
	printf("device: copy from unmapped bus address 0x1000 -> status 0x%x (error code %u, "
	       "fault at 0x%x); the server is unharmed\n",
	       st, (st & DMA_STATUS_CODE_MASK) >> DMA_STATUS_CODE_SHIFT,
	       rd32(&c, DMA_BAR_REGS, DMA_REG_ERR_LO));
	if (!(st & DMA_STATUS_ERROR))
		die("the device accepted an unmapped address", EIO);

	if ((ret = call(&c, UVFIO_CMD_DEVICE_RESET, NULL, 0, NULL, 0)))
		die("DEVICE_RESET", ret);
	printf("client: reset the device; status now 0x%x\n", rd32(&c, DMA_BAR_REGS, DMA_REG_STATUS));
	{
		struct uvfio_dma_unmap u = { .argsz = 24, .addr = IOVA_BASE, .size = GUEST_RAM };

		uvfio_proto_dma_unmap_encode(b, 24, &u);
		if ((ret = call(&c, UVFIO_CMD_DMA_UNMAP, b, 24, NULL, 0)))
			die("DMA_UNMAP", ret);
	}
	printf("client: unmapped; disconnecting\n");
	munmap(ram, GUEST_RAM);
	close(mfd);
	close(efd);
	uvfio__conn_destroy(c.conn);
	return 0;
}
