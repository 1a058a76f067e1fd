// SPDX-License-Identifier: BSD-3-Clause
/*
 * The device side's DMA access API, white-box: a context served in-process
 * through uvfio_emu_dispatch() (the non-blocking path a caller's event loop
 * uses), a raw client on the other end of a socketpair. Checks that
 * uvfio_emu_dma_ptrv() agrees with uvfio_emu_dma_ptr() element by element,
 * and the Bus Master and permission rules of both.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "test.h"
#include "uvfio/emu.h"
#include "util/util.h"

#define P 4096ull

struct rig {
	struct uvfio_emu *emu;
	struct peer p;
	int memfd;
};

/* Send a command and dispatch until its reply arrives. */
static int call(struct rig *r, uint16_t cmd, const void *payload, size_t len, const int *fds,
		unsigned nfds)
{
	struct uvfio_hdr h = { .id = r->p.next_id++, .cmd = cmd };
	struct pollfd pf = { .fd = r->p.fd, .events = POLLIN };
	struct peer_msg m;
	int ret;

	assert_ret(peer_send(&r->p, &h, payload, len, fds, nfds), 0);
	for (int i = 0; i < 1000 && poll(&pf, 1, 0) == 0; i++) {
		assert_true(uvfio_emu_dispatch(r->emu) >= 0);
		poll(&pf, 1, 1);
	}
	assert_ret(peer_recv(&r->p, &m), 0);
	assert_int_equal(m.hdr.id, h.id);
	assert_int_equal(m.hdr.cmd, cmd);
	ret = (m.hdr.flags & UVFIO_F_ERROR) ? -(int)m.hdr.error : 0;
	peer_msg_free(&m);
	return ret;
}

static void set_command(struct rig *r, uint16_t cmd)
{
	uint8_t b[18];
	struct uvfio_region_access a = { .offset = UVFIO_PCI_COMMAND,
					 .region = UVFIO_PCI_CONFIG_REGION_INDEX, .count = 2,
					 .data = &cmd };

	uvfio_proto_region_access_encode(b, sizeof(b), true, &a);
	assert_ret(call(r, UVFIO_CMD_REGION_WRITE, b, sizeof(b), NULL, 0), 0);
}

static void map(struct rig *r, uint64_t iova, uint64_t size, uint32_t flags, bool with_fd,
		uint64_t off)
{
	struct uvfio_dma_map m = { .argsz = 32, .flags = flags, .offset = with_fd ? off : 0,
				   .addr = iova, .size = size };
	uint8_t b[32];

	uvfio_proto_dma_map_encode(b, sizeof(b), &m);
	assert_ret(call(r, UVFIO_CMD_DMA_MAP, b, sizeof(b), with_fd ? &r->memfd : NULL, with_fd),
		   0);
}

static void rig_up(struct rig *r)
{
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 0x1234, .device_id = 1 };
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED };
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":4}}";
	uint8_t v[4 + sizeof(json)];
	int sv[2];

	assert_ret(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	o.fd = sv[1];
	assert_ret(uvfio_emu_create(&o, &r->emu), 0);
	assert_ret(uvfio_emu_setup_pci(r->emu, &id), 0);
	assert_ret(uvfio_emu_realize(r->emu), 0);
	memset(&r->p, 0, sizeof(r->p));
	r->p.fd = sv[0];
	r->p.timeout_ms = 2000;
	put_le16(v, 0);
	put_le16(v + 2, 2);
	memcpy(v + 4, json, sizeof(json));
	assert_ret(call(r, UVFIO_CMD_VERSION, v, sizeof(v), NULL, 0), 0);
	r->memfd = memfd_create("emu-dma", MFD_CLOEXEC);
	assert_true(r->memfd >= 0);
	assert_ret(ftruncate(r->memfd, 1 << 20), 0);
}

static void rig_down(struct rig *r)
{
	close(r->p.fd);
	close(r->memfd);
	uvfio_emu_destroy(r->emu);
}

static uint64_t rng = 99;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

static void test_ptrv_matches_ptr(void **state)
{
	struct uvfio_emu_sg sg[40];
	struct rig r;

	rig_up(&r);
	/* Blocks of 4 pages at 16-page steps: fd-backed RW, fd-backed R, no fd. */
	for (uint64_t b = 0; b < 48; b++)
		map(&r, 0x100000 + b * 16 * P, 4 * P, b % 3 == 1 ? 1 : 3, b % 3 != 2, b * 4 * P % (1 << 20));
	set_command(&r, UVFIO_PCI_COMMAND_MASTER);

	for (unsigned round = 0; round < 3000; round++) {
		unsigned n = 1 + (unsigned)rnd(40), want = n;
		uint32_t prot = 1 + (uint32_t)rnd(3);
		int got;

		for (unsigned i = 0; i < n; i++) {
			sg[i].iova = 0x100000 + rnd(48 * 16 * P);
			/* Mostly inside a block's first page, so most elements translate. */
			if (rnd(4))
				sg[i].iova = 0x100000 + rnd(48) * 16 * P + rnd(P);
			sg[i].len = 1 + rnd(3 * P);
			sg[i].ptr = NULL;
		}
		got = uvfio_emu_dma_ptrv(r.emu, sg, n, prot);
		for (unsigned i = 0; i < n && want == n; i++) {
			void *ptr;
			uint64_t contig;

			if (uvfio_emu_dma_ptr(r.emu, sg[i].iova, sg[i].len, prot, &ptr, &contig)) {
				want = i;
				break;
			}
			assert_ptr_equal(sg[i].ptr, ptr);
			assert_int_equal(sg[i].len, contig);
		}
		assert_int_equal(got, want);
	}
	rig_down(&r);
}

static void test_ptr_rules(void **state)
{
	struct uvfio_emu_sg sg = { .iova = 0x200000, .len = 8 };
	uint8_t *host;
	uint64_t contig;
	struct rig r;
	void *ptr;

	rig_up(&r);
	map(&r, 0x200000, 2 * P, 3, true, P);
	map(&r, 0x300000, P, 1, true, 0);
	map(&r, 0x400000, P, 3, false, 0);
	/* Bus Master off: no DMA at all. */
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x200000, 8, UVFIO_EMU_DMA_READ, &ptr, &contig), -EPERM);
	assert_ret(uvfio_emu_dma_ptrv(r.emu, &sg, 1, UVFIO_EMU_DMA_READ), -EPERM);
	set_command(&r, UVFIO_PCI_COMMAND_MASTER);
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x200000 + P - 4, 100, UVFIO_EMU_DMA_READ |
				     UVFIO_EMU_DMA_WRITE, &ptr, &contig), 0);
	assert_int_equal(contig, 100);
	/* The pointer aliases the client's memory at the mapped offset. */
	host = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, r.memfd, 0);
	assert_true(host != MAP_FAILED);
	memcpy(ptr, "abcd", 4);
	assert_memory_equal(host + P + P - 4, "abcd", 4);
	munmap(host, 1 << 20);
	/* A piece that runs past the mapping's end comes back shorter. */
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x200000 + 2 * P - 8, 100, UVFIO_EMU_DMA_READ, &ptr,
				     &contig), 0);
	assert_int_equal(contig, 8);
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x300000, 8, UVFIO_EMU_DMA_WRITE, &ptr, &contig), -EACCES);
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x400000, 8, UVFIO_EMU_DMA_READ, &ptr, &contig), -EREMOTE);
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x500000, 8, UVFIO_EMU_DMA_READ, &ptr, &contig), -EFAULT);
	assert_ret(uvfio_emu_dma_ptr(r.emu, 0x200000, 0, UVFIO_EMU_DMA_READ, &ptr, &contig), -EINVAL);
	assert_ret(uvfio_emu_dma_ptrv(r.emu, &sg, 1, 4), -EINVAL);
	/* dma_check walks the whole range and names the first bad address. */
	{
		uvfio_iova_t fault = 0;

		assert_ret(uvfio_emu_dma_check(r.emu, 0x200000, 2 * P, UVFIO_EMU_DMA_WRITE, &fault), 0);
		assert_ret(uvfio_emu_dma_check(r.emu, 0x200000, 2 * P + 1, UVFIO_EMU_DMA_READ, &fault),
			   -EFAULT);
		assert_int_equal(fault, 0x200000 + 2 * P);
		assert_ret(uvfio_emu_dma_check(r.emu, 0x300000, P, UVFIO_EMU_DMA_WRITE, &fault), -EACCES);
		assert_int_equal(fault, 0x300000);
		assert_ret(uvfio_emu_dma_check(r.emu, UINT64_MAX - 4, 8, UVFIO_EMU_DMA_READ, &fault),
			   -EFAULT);
	}
	rig_down(&r);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_ptrv_matches_ptr), UVFIO_TEST(test_ptr_rules))
