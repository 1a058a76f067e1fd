// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA_MAP / DMA_UNMAP: every argument rule and errno of docs/protocol.md,
 * proved with the dma model's copies (which only reach what is mapped, with
 * the permissions mapped), and message-based memory: the server's
 * DMA_READ/DMA_WRITE requests over the main socket or a twin socket, with
 * the peer answering, failing, or never answering.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define RW (UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE)
#define RD UVFIO_DMA_MAP_READ
#define WR UVFIO_DMA_MAP_WRITE

#define GUEST   0x100000ull /* where the memfd is mapped */
#define MSGMEM  0x800000ull /* message-based memory */
#define MB      (1u << 20)

static void start(struct peer *p, const struct peer_server_opts *o, const char *json)
{
	assert_ret(peer_start(p, o), 0);
	if (json)
		assert_ret(peer_version(p, 0, 0, json), 0);
	else
		assert_ret(peer_hello(p), 0);
	peer_command(p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
}

static void stop(struct peer *p)
{
	assert_true(peer_in_sync(p));
	assert_int_equal(peer_stop(p), 0);
}

static void guest_new(struct peer_memfd *g, size_t size)
{
	assert_ret(peer_memfd_new(g, size), 0);
	for (size_t i = 0; i < size; i++)
		g->mem[i] = (uint8_t)(i * 7 + 1);
}

static uint64_t err_addr(struct peer *p)
{
	return peer_reg_rd(p, DMA_REG_ERR_LO) | (uint64_t)peer_reg_rd(p, DMA_REG_ERR_HI) << 32;
}

/* Raw DMA_MAP with every field given. */
static int map_raw(struct peer *p, uint32_t argsz, uint32_t flags, uint64_t off, uint64_t addr,
		   uint64_t size, const int *fds, unsigned nfds)
{
	uint8_t b[32];
	struct peer_msg m;
	int ret;

	put_le32(b, argsz);
	put_le32(b + 4, flags);
	put_le64(b + 8, off);
	put_le64(b + 16, addr);
	put_le64(b + 24, size);
	ret = peer_call_rc(p, UVFIO_CMD_DMA_MAP, b, sizeof(b), fds, nfds, &m);
	if (!ret && m.len)
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

/* Raw DMA_UNMAP; on success the reply must echo the request. */
static int unmap_raw(struct peer *p, uint32_t argsz, uint32_t flags, uint64_t addr, uint64_t size)
{
	uint8_t b[24];
	struct peer_msg m;
	int ret;

	put_le32(b, argsz);
	put_le32(b + 4, flags);
	put_le64(b + 8, addr);
	put_le64(b + 16, size);
	ret = peer_call_rc(p, UVFIO_CMD_DMA_UNMAP, b, sizeof(b), NULL, 0, &m);
	if (!ret && (m.len != sizeof(b) || memcmp(m.payload, b, sizeof(b))))
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

static void test_map_and_copy(void **state)
{
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x80000, 8192, 0), DMA_STATUS_DONE);
	assert_memory_equal(g.mem, g.mem + 0x80000, 8192);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_XFERS), 1);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_BYTES_LO), 8192);
	/* A mapping at an fd offset, and one without an fd. */
	assert_ret(peer_dma_map(&p, 0x40000000, 0x10000, RW, g.fd, 0x20000), 0);
	assert_ret(peer_dma_map(&p, MSGMEM, 0x10000, RW, -1, 0), 0);
	memset(g.mem + 0x20000, 0xa5, 4096);
	assert_int_equal(peer_copy(&p, NULL, 0x40000000, GUEST + 0x40000, 4096, 0),
			 DMA_STATUS_DONE);
	assert_memory_equal(g.mem + 0x20000, g.mem + 0x40000, 4096);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_map_arguments(void **state)
{
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	/* Alignment of address, size and offset. */
	assert_ret(peer_dma_map(&p, GUEST + 0x800, 0x1000, RW, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0x1800, RW, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW, g.fd, 0x800), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST + 1, 0x1000, RW, -1, 0), -EINVAL);
	/* Size 0. */
	assert_ret(peer_dma_map(&p, GUEST, 0, RW, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0, RW, -1, 0), -EINVAL);
	/* Wrap-around of address + size and of offset + size. */
	assert_ret(peer_dma_map(&p, 0xfffffffffffff000ull, 0x2000, RW, -1, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, 0xffffffffffff0000ull, 0x20000, RW, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0x2000, RW, g.fd, 0xfffffffffffff000ull), -EINVAL);
	/* An offset without an fd. */
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW, -1, 0x1000), -EINVAL);
	/* Flags: none, unknown bits. */
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, 0, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, 4, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW | 4, -1, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, 0x80000000u | RD, -1, 0), -EINVAL);
	/* argsz below 32; above is fine. */
	assert_ret(map_raw(&p, 31, RW, 0, GUEST, 0x1000, NULL, 0), -EINVAL);
	assert_ret(map_raw(&p, 0, RW, 0, GUEST, 0x1000, NULL, 0), -EINVAL);
	assert_ret(map_raw(&p, 64, RW, 0, GUEST, 0x1000, NULL, 0), 0);
	/* Nothing refused above was mapped: the whole range is still free. */
	assert_ret(peer_dma_unmap(&p, GUEST, 0x1000, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	/* Each permission alone. */
	assert_ret(peer_dma_map(&p, 0x10000000, 0x1000, RD, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, 0x20000000, 0x1000, WR, g.fd, 0), 0);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_map_overlap(void **state)
{
	static const struct { uint64_t addr, size; } shapes[] = {
		{ 0x10000, 0x4000 }, /* identical */
		{ 0x11000, 0x1000 }, /* inside */
		{ 0xf000, 0x6000 },  /* covering */
		{ 0xf000, 0x2000 },  /* over the start */
		{ 0x13000, 0x2000 }, /* over the end */
		{ 0x10000, 0x1000 }, /* same start, shorter */
		{ 0x13000, 0x1000 }, /* same end, shorter */
		{ 0x0, 0x100000 },   /* far larger */
	};
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, 0x10000, 0x4000, RW, g.fd, 0), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(shapes); i++) {
		assert_ret(peer_dma_map(&p, shapes[i].addr, shapes[i].size, RW, g.fd, 0), -EEXIST);
		assert_ret(peer_dma_map(&p, shapes[i].addr, shapes[i].size, RD, -1, 0), -EEXIST);
	}
	/* Adjacent on both sides. */
	assert_ret(peer_dma_map(&p, 0xc000, 0x4000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, 0x14000, 0x1000, RW, -1, 0), 0);
	/* A message-based mapping is overlapped like any other. */
	assert_ret(peer_dma_map(&p, 0x14000, 0x1000, RW, g.fd, 0), -EEXIST);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_map_readonly_fd(void **state)
{
	struct peer_memfd g;
	char path[64];
	struct peer p;
	int ro;

	guest_new(&g, MB);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", g.fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RW, ro, 0), -EACCES);
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, WR, ro, 0), -EACCES);
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RD, ro, 0), 0);
	assert_ret(peer_dma_map(&p, 0x200000, 0x10000, RW, g.fd, 0x10000), 0);
	/* The read-only mapping is a source, never a destination. */
	assert_int_equal(peer_copy(&p, NULL, GUEST, 0x200000, 4096, 0), DMA_STATUS_DONE);
	assert_memory_equal(g.mem, g.mem + 0x10000, 4096);
	memset(g.mem + 0x10000, 0, 4096);
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, 0x200000, GUEST, 4096, 0)),
			 DMA_ERR_DST_FAULT);
	assert_int_equal(err_addr(&p), GUEST);
	/* Nothing was copied. */
	assert_int_equal(g.mem[0], 1);
	stop(&p);
	close(ro);
	peer_memfd_free(&g);
}

static void test_map_past_eof(void **state)
{
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, 0x10000);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, GUEST, 0x20000, RW, g.fd, 0), -ERANGE);
	assert_ret(peer_dma_map(&p, GUEST, 0x2000, RW, g.fd, 0xf000), -ERANGE);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW, g.fd, 0x10000), -ERANGE);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW, g.fd, 0xf000), 0);
	assert_ret(peer_dma_map(&p, GUEST + 0x1000, 0xf000, RW, g.fd, 0), 0);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_map_unmappable_fd(void **state)
{
	int pfd[2], sv[2], dir;
	struct peer p;

	assert_ret(pipe2(pfd, O_CLOEXEC), 0);
	assert_ret(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RD, pfd[0], 0), -ENODEV);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW, sv[0], 0), -ENODEV);
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RD, dir, 0), -ENODEV);
	stop(&p);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
	close(dir);
}

static void test_map_two_fds(void **state)
{
	struct peer_memfd g;
	struct peer p;
	int fds[2];

	guest_new(&g, MB);
	fds[0] = g.fd;
	fds[1] = dup(g.fd);
	start(&p, NULL, NULL);
	assert_ret(map_raw(&p, 32, RW, 0, GUEST, 0x1000, fds, 2), -EINVAL);
	/* Not mapped. */
	assert_ret(peer_dma_unmap(&p, GUEST, 0x1000, 0), -ENOENT);
	stop(&p); /* fails if the server kept either fd */
	close(fds[1]);
	peer_memfd_free(&g);
}

/*
 * The server closes every fd it is sent, at once: mapped ones (a memfd is
 * mmap'ed once for all its mappings) and refused ones alike.
 */
static void test_map_fd_accounting(void **state)
{
	struct peer_memfd g, h;
	int base, maps, pfd[2], two[2];
	struct peer p;

	guest_new(&g, MB);
	assert_ret(peer_memfd_new(&h, 0x10000), 0);
	assert_ret(pipe2(pfd, O_CLOEXEC), 0);
	start(&p, NULL, NULL);
	base = peer_server_fds(&p);
	assert_true(base > 0);
	/* The server inherited our mappings of g and h at fork: count from there. */
	maps = peer_server_maps(&p, "memfd:guest");
	assert_true(maps >= 0);
	for (uint64_t i = 0; i < 64; i++)
		assert_ret(peer_dma_map(&p, GUEST + i * 0x2000, 0x1000, i & 1 ? RD : RW, g.fd,
					i * 0x1000),
			   0);
	assert_int_equal(peer_server_fds(&p), base);
	assert_int_equal(peer_server_maps(&p, "memfd:guest"), maps + 1);
	/* Refused for every reason: closed too. */
	assert_ret(peer_dma_map(&p, GUEST, 0x1000, RW, g.fd, 0), -EEXIST);
	assert_ret(peer_dma_map(&p, 0x7000000, 0x1800, RW, g.fd, 0), -EINVAL);
	assert_ret(peer_dma_map(&p, 0x7000000, 0x1000, RW, g.fd, MB), -ERANGE);
	assert_ret(peer_dma_map(&p, 0x7000000, 0x1000, RD, pfd[0], 0), -ENODEV);
	two[0] = g.fd;
	two[1] = h.fd;
	assert_ret(map_raw(&p, 32, RW, 0, 0x7000000, 0x1000, two, 2), -EINVAL);
	/* Refused fds are closed right after the reply: one more round trip. */
	assert_true(peer_in_sync(&p));
	assert_int_equal(peer_server_fds(&p), base);
	/* Another file is another mapping; unmapping the last user unmaps the file. */
	assert_ret(peer_dma_map(&p, 0x8000000, 0x10000, RW, h.fd, 0), 0);
	assert_int_equal(peer_server_maps(&p, "memfd:guest"), maps + 2);
	assert_ret(peer_dma_unmap(&p, 0x8000000, 0x10000, 0), 0);
	assert_int_equal(peer_server_maps(&p, "memfd:guest"), maps + 1);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_ALL, 0, 0), 0);
	assert_int_equal(peer_server_maps(&p, "memfd:guest"), maps);
	assert_int_equal(peer_server_fds(&p), base);
	stop(&p);
	close(pfd[0]);
	close(pfd[1]);
	peer_memfd_free(&h);
	peer_memfd_free(&g);
}

static void test_unmap(void **state)
{
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, 0x10000, 0x4000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, 0x20000, 0x4000, RW, -1, 0), 0);
	/* Partial, shifted, larger, elsewhere: no exact match. */
	assert_ret(peer_dma_unmap(&p, 0x10000, 0x2000, 0), -ENOENT);
	assert_ret(peer_dma_unmap(&p, 0x12000, 0x2000, 0), -ENOENT);
	assert_ret(peer_dma_unmap(&p, 0x11000, 0x4000, 0), -ENOENT);
	assert_ret(peer_dma_unmap(&p, 0x10000, 0x8000, 0), -ENOENT);
	assert_ret(peer_dma_unmap(&p, 0xf000, 0x5000, 0), -ENOENT);
	assert_ret(peer_dma_unmap(&p, 0x30000, 0x4000, 0), -ENOENT);
	/* Covering both mappings is not one of them either. */
	assert_ret(peer_dma_unmap(&p, 0x10000, 0x14000, 0), -ENOENT);
	assert_ret(peer_dma_unmap(&p, 0x10000, 0, 0), -EINVAL);
	/* Exact: fine, once. The reply echoes the 24 bytes (unmap_raw checks). */
	assert_ret(unmap_raw(&p, 24, 0, 0x10000, 0x4000), 0);
	assert_ret(peer_dma_unmap(&p, 0x10000, 0x4000, 0), -ENOENT);
	assert_ret(unmap_raw(&p, 24, 0, 0x20000, 0x4000), 0);
	/* The device can't reach unmapped memory any more. */
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, 0x10000, 0x10000, 16, 0)),
			 DMA_ERR_SRC_FAULT);
	/* And the range can be mapped again. */
	assert_ret(peer_dma_map(&p, 0x10000, 0x4000, RW, g.fd, 0), 0);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_unmap_flags(void **state)
{
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, 0x10000, 0x4000, RW, g.fd, 0), 0);
	assert_ret(unmap_raw(&p, 23, 0, 0x10000, 0x4000), -EINVAL);
	assert_ret(unmap_raw(&p, 0, 0, 0x10000, 0x4000), -EINVAL);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_ALL, 0x10000, 0), -EINVAL);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_ALL, 0, 0x4000), -EINVAL);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_GET_DIRTY_BITMAP, 0x10000, 0x4000), -ENOTSUP);
	assert_ret(unmap_raw(&p, 24, 4, 0x10000, 0x4000), -EINVAL);
	assert_ret(unmap_raw(&p, 24, 0x80000000u, 0x10000, 0x4000), -EINVAL);
	/* Still mapped after all that. */
	assert_int_equal(peer_copy(&p, NULL, 0x10000, 0x12000, 16, 0), DMA_STATUS_DONE);
	/* argsz above 24 is fine and echoed. */
	assert_ret(unmap_raw(&p, 32, 0, 0x10000, 0x4000), 0);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_unmap_all(void **state)
{
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_ALL, 0, 0), 0); /* nothing mapped: fine */
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST + 0x10000, 0x10000, RW, g.fd, 0x10000), 0);
	assert_ret(peer_dma_map(&p, MSGMEM, 0x10000, RW, -1, 0), 0);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x10000, 4096, 0), DMA_STATUS_DONE);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_ALL, 0, 0), 0);
	/* Every mapping is gone: a copy faults on its source, nothing moves... */
	memset(g.mem + 0x10000, 0, 4096);
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, GUEST, GUEST + 0x10000, 4096, 0)),
			 DMA_ERR_SRC_FAULT);
	assert_int_equal(err_addr(&p), GUEST);
	assert_int_equal(g.mem[0x10000], 0);
	/* ...and each range maps again without EEXIST. */
	assert_ret(peer_dma_map(&p, GUEST, 0x20000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, MSGMEM, 0x10000, RW, -1, 0), 0);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_max_dma_maps(void **state)
{
	struct peer_server_opts o = { .max_dma_maps = 3 };
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	/* The client's smaller limit. */
	start(&p, NULL, "{\"capabilities\":{\"max_dma_maps\":4}}");
	for (uint64_t i = 0; i < 4; i++)
		assert_ret(peer_dma_map(&p, GUEST + i * 0x1000, 0x1000, RW, i & 1 ? -1 : g.fd,
					i & 1 ? 0 : i * 0x1000),
			   0);
	assert_ret(peer_dma_map(&p, GUEST + 0x10000, 0x1000, RW, g.fd, 0), -ENOSPC);
	assert_ret(peer_dma_map(&p, GUEST + 0x10000, 0x1000, RW, -1, 0), -ENOSPC);
	assert_ret(peer_dma_unmap(&p, GUEST + 0x2000, 0x1000, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST + 0x10000, 0x1000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST + 0x11000, 0x1000, RW, g.fd, 0), -ENOSPC);
	stop(&p);
	/* The server's smaller limit. */
	start(&p, &o, NULL);
	for (uint64_t i = 0; i < 3; i++)
		assert_ret(peer_dma_map(&p, GUEST + i * 0x1000, 0x1000, RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST + 0x3000, 0x1000, RW, -1, 0), -ENOSPC);
	assert_ret(unmap_raw(&p, 24, UVFIO_DMA_UNMAP_ALL, 0, 0), 0);
	for (uint64_t i = 0; i < 3; i++)
		assert_ret(peer_dma_map(&p, GUEST + i * 0x1000, 0x1000, RW, -1, 0), 0);
	stop(&p);
	peer_memfd_free(&g);
}

static void test_copy_faults(void **state)
{
	struct peer_memfd g;
	struct peer p;
	uint32_t st;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, 0x200000, 0x1000, RD, g.fd, 0x20000), 0);
	assert_ret(peer_dma_map(&p, 0x300000, 0x1000, WR, g.fd, 0x30000), 0);
	memset(g.mem + 0x8000, 0, 0x4000);

	/* Source running off the end of its mapping: the first unmapped byte. */
	st = peer_copy(&p, NULL, GUEST + 0xf000, GUEST + 0x8000, 0x2000, 0);
	assert_true(st & DMA_STATUS_DONE);
	assert_true(st & DMA_STATUS_ERROR);
	assert_int_equal(peer_dma_code(st), DMA_ERR_SRC_FAULT);
	assert_int_equal(err_addr(&p), GUEST + 0x10000);
	assert_int_equal(g.mem[0x8000], 0); /* nothing copied */
	/* STATUS: DONE and ERROR are write-1-to-clear, the code goes with ERROR. */
	peer_reg_wr(&p, DMA_REG_STATUS, DMA_STATUS_DONE | DMA_STATUS_ERROR);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_STATUS), 0);

	/* Unmapped destination; read-only destination; write-only source. */
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, GUEST, 0x5000000, 16, 0)),
			 DMA_ERR_DST_FAULT);
	assert_int_equal(err_addr(&p), 0x5000000);
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, GUEST, 0x200000, 16, 0)),
			 DMA_ERR_DST_FAULT);
	assert_int_equal(err_addr(&p), 0x200000);
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, 0x300000, GUEST, 16, 0)),
			 DMA_ERR_SRC_FAULT);
	assert_int_equal(err_addr(&p), 0x300000);
	/* The permitted directions work. */
	assert_int_equal(peer_copy(&p, NULL, 0x200000, 0x300000, 16, 0), DMA_STATUS_DONE);
	assert_memory_equal(g.mem + 0x20000, g.mem + 0x30000, 16);

	/* Bus Master off: no DMA at all. */
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, GUEST, GUEST + 0x8000, 16, 0)),
			 DMA_ERR_NO_MASTER);
	assert_int_equal(g.mem[0x8000], 0);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x8000, 16, 0), DMA_STATUS_DONE);
	assert_memory_equal(g.mem, g.mem + 0x8000, 16);
	stop(&p);
	peer_memfd_free(&g);
}

/* --- message-based memory ---------------------------------------------------- */

struct msgmem {
	struct peer_dma_mem m;
	uint8_t buf[0x10000];
};

static void msgmem_init(struct msgmem *mm, enum peer_dma_reply mode)
{
	memset(&mm->m, 0, sizeof(mm->m));
	for (size_t i = 0; i < sizeof(mm->buf); i++)
		mm->buf[i] = (uint8_t)(i * 13 + 5);
	mm->m.iova = MSGMEM;
	mm->m.buf = mm->buf;
	mm->m.size = sizeof(mm->buf);
	mm->m.mode = mode;
	mm->m.fd = -1;
}

static struct msgmem *msgmem_new(enum peer_dma_reply mode)
{
	struct msgmem *mm = malloc(sizeof(*mm));

	assert_non_null(mm);
	msgmem_init(mm, mode);
	return mm;
}

/*
 * The completion record lands in memory with STATUS, XFERS and ERR; one
 * burst write of CTRL..LEN_HI programs and starts a transfer (START acts
 * after the whole write); an unwritable record leaves the transfer's
 * outcome alone.
 */
static void test_completion_record(void **state)
{
	const uint64_t rec = GUEST + 0xf0000;
	struct uvfio_region_access a = { .offset = DMA_REG_CTRL, .region = DMA_BAR_REGS,
					 .count = 0x20 };
	uint8_t req[16 + 0x20], *r;
	struct peer_memfd g;
	struct peer_msg m;
	struct peer p;

	guest_new(&g, MB);
	r = g.mem + (rec - GUEST);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	peer_reg_wr(&p, DMA_REG_CMPL_LO, (uint32_t)rec);
	peer_reg_wr(&p, DMA_REG_CMPL_HI, (uint32_t)(rec >> 32));
	assert_int_equal(peer_reg_rd(&p, DMA_REG_CMPL_LO), (uint32_t)rec);
	memset(r, 0xee, DMA_CMPL_SIZE);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x1000, 64, 0), DMA_STATUS_DONE);
	assert_int_equal(get_le32(r + DMA_CMPL_STATUS), DMA_STATUS_DONE);
	assert_int_equal(get_le32(r + DMA_CMPL_XFERS), 1);
	assert_int_equal(get_le64(r + DMA_CMPL_ERR), 0);
	/* A fault: code and address in the record too. */
	peer_reg_wr(&p, DMA_REG_STATUS, DMA_STATUS_DONE);
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, 0x40000000, GUEST, 64, 0)),
			 DMA_ERR_SRC_FAULT);
	assert_int_equal(peer_dma_code(get_le32(r + DMA_CMPL_STATUS)), DMA_ERR_SRC_FAULT);
	assert_int_equal(get_le32(r + DMA_CMPL_XFERS), 2);
	assert_int_equal(get_le64(r + DMA_CMPL_ERR), 0x40000000);
	/* One write: CTRL = START, STATUS W1C, SRC, DST, LEN (START goes last). */
	memset(req + 16, 0, 0x20);
	put_le32(req + 16 + 0x00, DMA_CTRL_START);
	put_le32(req + 16 + 0x04, DMA_STATUS_DONE | DMA_STATUS_ERROR);
	put_le64(req + 16 + 0x08, GUEST + 0x2000);
	put_le64(req + 16 + 0x10, GUEST + 0x3000);
	put_le64(req + 16 + 0x18, 0x800);
	a.data = req + 16;
	uvfio_proto_region_access_encode(req, sizeof(req), true, &a);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_REGION_WRITE, req, sizeof(req), NULL, 0, &m), 0);
	peer_msg_free(&m);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_STATUS), DMA_STATUS_DONE);
	assert_memory_equal(g.mem + 0x2000, g.mem + 0x3000, 0x800);
	assert_int_equal(get_le32(r + DMA_CMPL_STATUS), DMA_STATUS_DONE);
	assert_int_equal(get_le32(r + DMA_CMPL_XFERS), 3);
	/* A record address that isn't mapped: dropped, the copy still succeeds. */
	peer_reg_wr(&p, DMA_REG_CMPL_LO, 0x50000000);
	peer_reg_wr(&p, DMA_REG_STATUS, DMA_STATUS_DONE);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x4000, 64, 0), DMA_STATUS_DONE);
	assert_int_equal(get_le32(r + DMA_CMPL_XFERS), 3);
	stop(&p);
	peer_memfd_free(&g);
}


/* Device reads client memory through DMA_READ requests. */
static void test_msg_dma_read(void **state)
{
	struct msgmem *mm = msgmem_new(PEER_DMA_ECHO);
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RD, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_copy(&p, &mm->m, MSGMEM + 0x100, GUEST, 0x4000, 0), DMA_STATUS_DONE);
	assert_memory_equal(g.mem, mm->buf + 0x100, 0x4000);
	assert_true(mm->m.reads >= 1);
	assert_int_equal(mm->m.writes, 0);
	assert_int_equal(mm->m.on_main, mm->m.reads);
	assert_int_equal(mm->m.bad, 0);
	stop(&p);
	peer_memfd_free(&g);
	free(mm);
}

static void msg_dma_write(enum peer_dma_reply mode)
{
	struct msgmem *mm = msgmem_new(mode);
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), WR, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_copy(&p, &mm->m, GUEST + 0x40, MSGMEM + 0x1000, 0x3000, 0),
			 DMA_STATUS_DONE);
	assert_memory_equal(mm->buf + 0x1000, g.mem + 0x40, 0x3000);
	assert_true(mm->m.writes >= 1);
	assert_int_equal(mm->m.reads, 0);
	assert_int_equal(mm->m.bad, 0);
	/* A second transfer after the first answer style: still fine. */
	assert_int_equal(peer_copy(&p, &mm->m, GUEST, MSGMEM, 16, 0), DMA_STATUS_DONE);
	assert_memory_equal(mm->buf, g.mem, 16);
	stop(&p);
	peer_memfd_free(&g);
	free(mm);
}

static void test_msg_dma_write_header_only(void **state)
{
	msg_dma_write(PEER_DMA_HDR_ONLY);
}

static void test_msg_dma_write_echo(void **state)
{
	msg_dma_write(PEER_DMA_ECHO);
}

/* Both ends message-based: DMA_READ, then DMA_WRITE of the same bytes. */
static void test_msg_dma_both(void **state)
{
	struct msgmem *mm = msgmem_new(PEER_DMA_ECHO);
	uint8_t want[0x800];
	struct peer p;

	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	memcpy(want, mm->buf, sizeof(want));
	assert_int_equal(peer_copy(&p, &mm->m, MSGMEM, MSGMEM + 0x8000, sizeof(want), 0),
			 DMA_STATUS_DONE);
	assert_memory_equal(mm->buf + 0x8000, want, sizeof(want));
	assert_true(mm->m.reads >= 1 && mm->m.writes >= 1);
	stop(&p);
	free(mm);
}

/* Pieces are at most the smaller max_data_xfer_size of the two sides. */
static void test_msg_dma_chunks(void **state)
{
	struct peer_server_opts o = { .max_data_xfer_size = 8192 };
	struct msgmem *mm = msgmem_new(PEER_DMA_ECHO);
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, "{\"capabilities\":{\"max_data_xfer_size\":4096,\"max_msg_fds\":1}}");
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_copy(&p, &mm->m, MSGMEM, GUEST, 0x4000, 0), DMA_STATUS_DONE);
	assert_int_equal(mm->m.reads, 4);
	assert_int_equal(mm->m.max_count, 4096);
	assert_memory_equal(g.mem, mm->buf, 0x4000);
	assert_int_equal(peer_copy(&p, &mm->m, GUEST, MSGMEM + 0x8000, 0x3001, 0),
			 DMA_STATUS_DONE);
	assert_int_equal(mm->m.writes, 4);
	assert_memory_equal(mm->buf + 0x8000, g.mem, 0x3001);
	stop(&p);

	msgmem_init(mm, PEER_DMA_ECHO);
	start(&p, &o, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_copy(&p, &mm->m, MSGMEM, GUEST, 0x4000, 0), DMA_STATUS_DONE);
	assert_int_equal(mm->m.reads, 2);
	assert_int_equal(mm->m.max_count, 8192);
	stop(&p);
	peer_memfd_free(&g);
	free(mm);
}

static void test_msg_dma_error_reply(void **state)
{
	struct msgmem *mm = msgmem_new(PEER_DMA_ERROR);
	struct peer_memfd g;
	struct peer p;

	mm->m.error = EIO;
	guest_new(&g, MB);
	memset(g.mem, 0, 0x1000);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_dma_code(peer_copy(&p, &mm->m, MSGMEM, GUEST, 0x1000, 0)),
			 DMA_ERR_TRANSFER);
	assert_int_equal(mm->m.reads, 1);
	assert_int_equal(g.mem[0], 0);
	assert_int_equal(peer_dma_code(peer_copy(&p, &mm->m, GUEST, MSGMEM, 0x1000, 0)),
			 DMA_ERR_TRANSFER);
	assert_int_equal(mm->m.writes, 1);
	assert_true(peer_in_sync(&p));
	/* Answering again, the same transfer works. */
	mm->m.mode = PEER_DMA_ECHO;
	assert_int_equal(peer_copy(&p, &mm->m, MSGMEM, GUEST, 0x1000, 0), DMA_STATUS_DONE);
	assert_memory_equal(g.mem, mm->buf, 0x1000);
	stop(&p);
	peer_memfd_free(&g);
	free(mm);
}

/* A client that never answers: the transfer fails after reply_timeout_ms. */
static void test_msg_dma_timeout(void **state)
{
	struct peer_server_opts o = { .reply_timeout_ms = 200 };
	struct msgmem *mm = msgmem_new(PEER_DMA_SILENT);
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	start(&p, &o, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_dma_code(peer_copy(&p, &mm->m, MSGMEM, GUEST, 0x1000, 0)),
			 DMA_ERR_TRANSFER);
	assert_int_equal(mm->m.reads, 1);
	assert_true(peer_in_sync(&p));
	assert_int_equal(peer_dma_code(peer_copy(&p, &mm->m, GUEST, MSGMEM, 0x1000, 0)),
			 DMA_ERR_TRANSFER);
	assert_int_equal(mm->m.writes, 1);
	assert_true(peer_in_sync(&p));
	stop(&p);
	peer_memfd_free(&g);
	free(mm);
}

/* Negotiate a twin socket; return its fd. */
static int start_twin(struct peer *p)
{
	static const char j[] = "{\"capabilities\":{\"max_msg_fds\":16,"
				"\"twin_socket\":{\"supported\":true}}}";
	struct peer_msg m;
	int fd;

	assert_ret(peer_start(p, NULL), 0);
	assert_ret(peer_version_msg(p, 0, 0, j, sizeof(j), NULL, 0, &m), 0);
	assert_int_equal(m.nfds, 1);
	fd = m.fds[0];
	m.nfds = 0;
	peer_msg_free(&m);
	peer_command(p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	return fd;
}

static void test_msg_dma_twin_socket(void **state)
{
	struct msgmem *mm = msgmem_new(PEER_DMA_ECHO);
	struct peer_memfd g;
	struct peer p;

	guest_new(&g, MB);
	mm->m.fd = start_twin(&p);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	assert_int_equal(peer_copy(&p, &mm->m, MSGMEM, GUEST, 0x2000, 0), DMA_STATUS_DONE);
	assert_int_equal(peer_copy(&p, &mm->m, GUEST + 0x10000, MSGMEM + 0x4000, 0x2000, 0),
			 DMA_STATUS_DONE);
	assert_memory_equal(g.mem, mm->buf, 0x2000);
	assert_memory_equal(mm->buf + 0x4000, g.mem + 0x10000, 0x2000);
	/* Every request came on the twin socket, none on the main one. */
	assert_true(mm->m.reads >= 1 && mm->m.writes >= 1);
	assert_int_equal(mm->m.on_fd, mm->m.reads + mm->m.writes);
	assert_int_equal(mm->m.on_main, 0);
	assert_int_equal(mm->m.bad, 0);
	stop(&p);
	close(mm->m.fd);
	peer_memfd_free(&g);
	free(mm);
}

/* Start a 0x100-byte copy MSGMEM -> GUEST by a START write with @id; return the DMA_READ. */
static void start_msg_copy(struct peer *p, uint16_t id, struct peer_msg *req)
{
	uint8_t w[20];
	struct uvfio_region_access a = { .offset = DMA_REG_CTRL, .region = DMA_BAR_REGS,
					 .count = 4, .data = w + 16 };
	struct uvfio_hdr h = { .id = id, .cmd = UVFIO_CMD_REGION_WRITE };

	peer_reg_wr(p, DMA_REG_SRC_LO, (uint32_t)MSGMEM);
	peer_reg_wr(p, DMA_REG_DST_LO, (uint32_t)GUEST);
	peer_reg_wr(p, DMA_REG_LEN_LO, 0x100);
	put_le32(w + 16, DMA_CTRL_START);
	uvfio_proto_region_access_encode(w, sizeof(w), true, &a);
	assert_ret(peer_send(p, &h, w, sizeof(w), NULL, 0), 0);
	assert_ret(peer_recv(p, req), 0);
	assert_int_equal(req->hdr.cmd, UVFIO_CMD_DMA_READ);
	assert_int_equal(req->hdr.flags, UVFIO_F_TYPE_COMMAND);
	assert_int_equal(req->len, 16);
	assert_int_equal(get_le64(req->payload), MSGMEM);
	assert_int_equal(get_le64(req->payload + 8), 0x100);
}

/* Answer a DMA_READ request with data from @buf; return the send's result. */
static int try_answer_read(struct peer *p, struct peer_msg *req, const uint8_t *buf)
{
	uint64_t count = get_le64(req->payload + 8);
	struct uvfio_hdr r = { .id = req->hdr.id, .cmd = req->hdr.cmd,
			       .flags = UVFIO_F_TYPE_REPLY };
	uint8_t *rep = malloc(16 + count);
	int ret;

	assert_non_null(rep);
	memcpy(rep, req->payload, 16);
	memcpy(rep + 16, buf, count);
	ret = peer_send(p, &r, rep, 16 + count, NULL, 0);
	free(rep);
	peer_msg_free(req);
	return ret;
}

static void answer_read(struct peer *p, struct peer_msg *req, const uint8_t *buf)
{
	assert_ret(try_answer_read(p, req, buf), 0);
}

static int try_send_irq_info(struct peer *p, uint16_t id, uint32_t index)
{
	uint8_t ii[16] = { 16 };
	struct uvfio_hdr h = { .id = id, .cmd = UVFIO_CMD_DEVICE_GET_IRQ_INFO };

	put_le32(ii + 8, index);
	return peer_send(p, &h, ii, sizeof(ii), NULL, 0);
}

static void send_irq_info(struct peer *p, uint16_t id, uint32_t index)
{
	assert_ret(try_send_irq_info(p, id, index), 0);
}

/*
 * Commands the client sends while the server waits for its DMA_READ reply
 * are handled, in order, right after the command that caused the DMA.
 */
static void test_msg_dma_pipelined(void **state)
{
	struct msgmem *mm = msgmem_new(PEER_DMA_ECHO);
	struct peer_memfd g;
	struct peer_msg m;
	struct peer p;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	start_msg_copy(&p, 500, &m);
	/* Two commands first (the second one refused), then the answer. */
	send_irq_info(&p, 501, UVFIO_PCI_MSIX_IRQ_INDEX);
	send_irq_info(&p, 502, 7);
	answer_read(&p, &m, mm->buf);
	/* Replies in order: the write that started the copy, then the two commands. */
	assert_ret(peer_recv_rc(&p, 500, UVFIO_CMD_REGION_WRITE, &m), 0);
	peer_msg_free(&m);
	assert_ret(peer_recv_rc(&p, 501, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), 0);
	assert_int_equal(get_le32(m.payload + 12), DMA_MSIX_VECS);
	peer_msg_free(&m);
	assert_ret(peer_recv_rc(&p, 502, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), -EINVAL);
	peer_msg_free(&m);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_STATUS), DMA_STATUS_DONE);
	assert_memory_equal(g.mem, mm->buf, 0x100);
	stop(&p);
	peer_memfd_free(&g);
	free(mm);
}

/*
 * At most 64 commands are held while the server waits. One more can't be
 * held; it must not go unanswered on a live connection: the server gives
 * up the client (after replying to what it handled).
 */
static void test_msg_dma_pipeline_limit(void **state)
{
	struct msgmem *mm = msgmem_new(PEER_DMA_ECHO);
	struct peer_memfd g;
	struct peer_msg m;
	struct peer p;
	int ret, next;

	guest_new(&g, MB);
	start(&p, NULL, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, sizeof(mm->buf), RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, MB, RW, g.fd, 0), 0);
	/* 64: all held and answered in order. */
	start_msg_copy(&p, 500, &m);
	for (int i = 0; i < 64; i++)
		send_irq_info(&p, (uint16_t)(1000 + i), UVFIO_PCI_MSIX_IRQ_INDEX);
	answer_read(&p, &m, mm->buf);
	assert_ret(peer_recv_rc(&p, 500, UVFIO_CMD_REGION_WRITE, &m), 0);
	peer_msg_free(&m);
	for (int i = 0; i < 64; i++) {
		assert_ret(peer_recv_rc(&p, (uint16_t)(1000 + i), UVFIO_CMD_DEVICE_GET_IRQ_INFO,
					&m),
			   0);
		peer_msg_free(&m);
	}
	assert_int_equal(peer_reg_rd(&p, DMA_REG_STATUS), DMA_STATUS_DONE);
	assert_true(peer_in_sync(&p));
	/* 70: whatever is answered is answered in order, then the connection ends. */
	start_msg_copy(&p, 600, &m);
	/* The server may give up and close before everything is sent: sends can bounce. */
	ret = 0;
	for (int i = 0; i < 70 && !ret; i++)
		ret = try_send_irq_info(&p, (uint16_t)(2000 + i), UVFIO_PCI_MSIX_IRQ_INDEX);
	if (!ret)
		ret = try_answer_read(&p, &m, mm->buf);
	else
		peer_msg_free(&m);
	assert_true(ret == 0 || ret == -EPIPE || ret == -ECONNRESET);
	assert_ret(peer_recv_rc(&p, 600, UVFIO_CMD_REGION_WRITE, &m), 0);
	peer_msg_free(&m);
	next = 2000;
	while ((ret = peer_recv(&p, &m)) == 0) {
		assert_int_equal(m.hdr.cmd, UVFIO_CMD_DEVICE_GET_IRQ_INFO);
		assert_int_equal(m.hdr.id, next);
		next++;
		peer_msg_free(&m);
	}
	assert_int_equal(ret, -ECONNRESET);
	assert_true(next < 2070);
	assert_int_equal(peer_stop(&p), 0);
	peer_memfd_free(&g);
	free(mm);
}

/*
 * A model for the nested-receive case: a BAR0 write at 0 makes it read
 * HELD_DMA bytes of message-based memory (DMA_READs the client answers on
 * the same connection, so the server's receive buffer has to grow) and
 * only then look at the rest of the write's payload. That payload must not
 * have moved meanwhile: ASan reports a use-after-free otherwise, and
 * without ASan the bytes would no longer match. BAR0 reads give the
 * verdict: [0] the DMA's result, [4] payload intact, [8] FNV-1a of the
 * bytes read.
 */
#define HELD_DMA     (4 * MB)
#define HELD_PAYLOAD 256

static struct {
	struct uvfio_emu *emu;
	uint32_t regs[3];
} held;

static uint8_t held_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

static uint32_t fnv1a(const uint8_t *b, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static int held_write(void *priv, uint32_t index, uint64_t off, const void *buf, uint32_t len)
{
	const uint8_t *p = buf;
	uint8_t *data;
	bool intact = len == HELD_PAYLOAD;
	int ret;

	(void)priv;
	(void)index;
	if (off != 0)
		return -EINVAL;
	data = malloc(HELD_DMA);
	if (!data)
		return -ENOMEM;
	ret = uvfio_emu_dma_read(held.emu, MSGMEM, data, HELD_DMA);
	for (uint32_t i = 0; i < len && intact; i++)
		intact = p[i] == held_byte(i);
	held.regs[0] = (uint32_t)ret;
	held.regs[1] = intact;
	held.regs[2] = fnv1a(data, HELD_DMA);
	free(data);
	return 0;
}

static int held_read(void *priv, uint32_t index, uint64_t off, void *buf, uint32_t len)
{
	(void)priv;
	(void)index;
	if (off + len > sizeof(held.regs))
		return -EINVAL;
	memcpy(buf, (uint8_t *)held.regs + off, len);
	return 0;
}

static int held_model(const struct uvfio_emu_opts *eo, struct uvfio_emu **out)
{
	static const struct uvfio_emu_region_ops ops = { .read = held_read, .write = held_write };
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 0x1b36,
				       .device_id = 0x0005, .class_code = 0xff0000 };
	struct uvfio_emu_region r = { .argsz = sizeof(r), .size = 4096, .ops = &ops,
				      .flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE };
	int ret;

	ret = uvfio_emu_create(eo, &held.emu);
	if (!ret)
		ret = uvfio_emu_setup_pci(held.emu, &id);
	if (!ret)
		ret = uvfio_emu_setup_region(held.emu, 0, &r);
	if (!ret)
		ret = uvfio_emu_realize(held.emu);
	if (ret) {
		uvfio_emu_destroy(held.emu);
		return ret;
	}
	*out = held.emu;
	return 0;
}

static void test_msg_dma_held_payload(void **state)
{
	struct peer_server_opts o = { .model = held_model };
	struct peer_dma_mem mem = { .iova = MSGMEM, .size = HELD_DMA, .fd = -1 };
	uint8_t req[16 + HELD_PAYLOAD], data[HELD_PAYLOAD];
	struct uvfio_region_access a = { .region = 0, .count = HELD_PAYLOAD, .data = data };
	uint32_t regs[3];
	struct peer_msg m;
	struct peer p;

	mem.buf = malloc(HELD_DMA);
	assert_non_null(mem.buf);
	for (size_t i = 0; i < HELD_DMA; i++)
		mem.buf[i] = (uint8_t)(i * 7 + (i >> 16));
	for (size_t i = 0; i < HELD_PAYLOAD; i++)
		data[i] = held_byte(i);
	start(&p, &o, NULL);
	assert_ret(peer_dma_map(&p, MSGMEM, HELD_DMA, RD, -1, 0), 0);
	uvfio_proto_region_access_encode(req, sizeof(req), true, &a);
	assert_ret(peer_call_dma(&p, &mem, UVFIO_CMD_REGION_WRITE, req, sizeof(req), &m), 0);
	peer_msg_free(&m);
	/* Message-sized reads (1 MiB each), all served on the main socket. */
	assert_int_equal(mem.reads, HELD_DMA / MB);
	assert_int_equal(mem.bad, 0);
	assert_ret(peer_region_read(&p, 0, 0, regs, sizeof(regs)), 0);
	assert_int_equal(regs[0], 0);
	assert_int_equal(regs[1], 1);
	assert_int_equal(regs[2], fnv1a(mem.buf, HELD_DMA));
	stop(&p);
	free(mem.buf);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_map_and_copy), UVFIO_TEST(test_map_arguments),
		UVFIO_TEST(test_map_overlap), UVFIO_TEST(test_map_readonly_fd),
		UVFIO_TEST(test_map_past_eof), UVFIO_TEST(test_map_unmappable_fd),
		UVFIO_TEST(test_map_two_fds), UVFIO_TEST(test_map_fd_accounting),
		UVFIO_TEST(test_unmap), UVFIO_TEST(test_unmap_flags),
		UVFIO_TEST(test_unmap_all), UVFIO_TEST(test_max_dma_maps),
		UVFIO_TEST(test_copy_faults), UVFIO_TEST(test_completion_record),
		UVFIO_TEST(test_msg_dma_read),
		UVFIO_TEST(test_msg_dma_write_header_only), UVFIO_TEST(test_msg_dma_write_echo),
		UVFIO_TEST(test_msg_dma_both), UVFIO_TEST(test_msg_dma_chunks),
		UVFIO_TEST(test_msg_dma_error_reply), UVFIO_TEST(test_msg_dma_timeout),
		UVFIO_TEST(test_msg_dma_twin_socket), UVFIO_TEST(test_msg_dma_pipelined),
		UVFIO_TEST(test_msg_dma_pipeline_limit),
		UVFIO_TEST(test_msg_dma_held_payload))
