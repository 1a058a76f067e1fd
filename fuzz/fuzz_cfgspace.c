// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_cfgspace: sequences of configuration-space accesses on a realized
 * device (the dma model or fzdev), through the path a client's REGION_READ
 * and REGION_WRITE of region 7 take (uvfio__emu_region_access), checked
 * after every step against a model written from docs/emu.md:
 *
 *  - the header's writable registers (command, cache line, interrupt line,
 *    BARs, ROM) hold exactly what the write masks let through: a BAR
 *    written with all ones reads back its size mask and type bits, absent
 *    BARs read 0, command bits that don't exist read 0;
 *  - read-only bytes never change: IDs, class, revision, subsystem, header
 *    type, capability pointer, interrupt pin, status, every capability's
 *    ID and next pointer, PM capabilities, MSI/MSI-X sizes and table
 *    locations, the PCIe capability except Device Control (and Control 2),
 *    the model's read-only capability bytes;
 *  - bytes outside the header and every capability read 0 and stay 0;
 *  - PM power state: D1/D2 writes are ignored; a reset (DEVICE_RESET or
 *    FLR) returns it to D0; Initiate FLR always reads 0;
 *  - hooked capabilities read what the model's hook returns;
 *  - reads have no side effects (the same bytes twice), accesses beyond the
 *    end of configuration space fail and change nothing, and the client's
 *    view agrees with the model's own view (uvfio_emu_cfg_read) except
 *    where hooks answer.
 *
 * Input: byte 0 picks the device; then 8-byte steps: kind, offset (u16),
 * length, 4 value bytes (repeated for longer writes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu/emu_priv.h"
#include "fuzz_common.h"
#include "model.h"

#define CFG 4096

struct state {
	struct fz_dev *dev;
	uint8_t init[CFG];   /* the image right after realize */
	uint8_t shadow[CFG]; /* what must be read back (valid where track[] is set) */
	uint8_t wm[CFG];     /* bits a client write changes (header) */
	bool track[CFG];     /* bytes whose value is fully modelled */
	bool ro[CFG];        /* bytes that must keep their initial value */
	bool zero[CFG];      /* bytes that must read 0 */
	bool hooked[CFG];    /* bytes answered by the model's hook */
	unsigned pm;         /* PM capability offset, 0 = none */
	unsigned exp;        /* PCI Express capability offset */
	unsigned msi, msix;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static void set_range(bool *map, unsigned off, unsigned len, bool v)
{
	for (unsigned i = 0; i < len && off + i < CFG; i++)
		map[off + i] = v;
}

/* --- the model of the header --------------------------------------------------------------- */

static void header_model(struct state *s)
{
	const struct fz_dev *d = s->dev;
	bool io = false;

	memset(s->track, 0, sizeof(s->track));
	/* Everything in the header is modelled; what isn't writable keeps its value. */
	set_range(s->track, 0, UVFIO_PCI_STD_HEADER_SIZE, true);
	memcpy(s->shadow, s->init, UVFIO_PCI_STD_HEADER_SIZE);
	for (unsigned i = 0; i < 6; i++) {
		const struct fz_bar *b = &d->bars[i];
		unsigned off = UVFIO_PCI_BASE_ADDRESS_0 + 4 * i;
		uint64_t mask = ~(b->size - 1);
		uint32_t lo;

		if (!b->size)
			continue;
		if (b->flags & UVFIO_EMU_BAR_IO) {
			io = true;
			lo = (uint32_t)mask & ~3u;
			FZ_CHECK(le32(s->init + off) == UVFIO_PCI_BAR_SPACE_IO, "I/O BAR%u reads 0x%x", i,
				 le32(s->init + off));
		} else {
			uint32_t type = ((b->flags & UVFIO_EMU_BAR_64) ? UVFIO_PCI_BAR_MEM_TYPE_64 : 0) |
					((b->flags & UVFIO_EMU_BAR_PREFETCH) ? UVFIO_PCI_BAR_MEM_PREFETCH : 0);

			lo = (uint32_t)mask & ~0xfu;
			FZ_CHECK(le32(s->init + off) == type, "BAR%u reads 0x%x, type 0x%x", i,
				 le32(s->init + off), type);
			if (b->flags & UVFIO_EMU_BAR_64)
				for (unsigned k = 0; k < 4; k++)
					s->wm[off + 4 + k] = (uint8_t)((mask >> 32) >> (8 * k));
		}
		for (unsigned k = 0; k < 4; k++)
			s->wm[off + k] = (uint8_t)(lo >> (8 * k));
	}
	for (unsigned i = 0; i < 6; i++)
		if (!d->bars[i].size && !(i && (d->bars[i - 1].flags & UVFIO_EMU_BAR_64)))
			FZ_CHECK(!le32(s->init + UVFIO_PCI_BASE_ADDRESS_0 + 4 * i), "absent BAR%u", i);
	if (d->bars[6].size) {
		uint32_t m = ((uint32_t)~(d->bars[6].size - 1) & UVFIO_PCI_ROM_ADDRESS_MASK) |
			     UVFIO_PCI_ROM_ENABLE;

		for (unsigned k = 0; k < 4; k++)
			s->wm[UVFIO_PCI_ROM_ADDRESS + k] = (uint8_t)(m >> (8 * k));
	}
	s->wm[UVFIO_PCI_COMMAND] = UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER |
				   UVFIO_PCI_COMMAND_PARITY | (io ? UVFIO_PCI_COMMAND_IO : 0);
	s->wm[UVFIO_PCI_COMMAND + 1] = (UVFIO_PCI_COMMAND_SERR | (d->intx ? UVFIO_PCI_COMMAND_INTX_DISABLE : 0)) >> 8;
	s->wm[UVFIO_PCI_CACHE_LINE_SIZE] = 0xff;
	s->wm[UVFIO_PCI_INTERRUPT_LINE] = 0xff;
	/* Both devices are PCI Express: no latency timer. */

	FZ_CHECK(le16(s->init + UVFIO_PCI_COMMAND) == 0, "command at reset");
	FZ_CHECK(le16(s->init + UVFIO_PCI_STATUS) == UVFIO_PCI_STATUS_CAP_LIST, "status at reset 0x%x",
		 le16(s->init + UVFIO_PCI_STATUS));
	FZ_CHECK(s->init[UVFIO_PCI_HEADER_TYPE] == 0 && s->init[UVFIO_PCI_LATENCY_TIMER] == 0,
		 "header type / latency timer");
	FZ_CHECK(s->init[UVFIO_PCI_INTERRUPT_PIN] == (d->intx ? 1 : 0), "interrupt pin");
	FZ_CHECK(s->init[UVFIO_PCI_CAPABILITY_LIST] >= UVFIO_PCI_STD_HEADER_SIZE, "cap pointer");
	for (unsigned o = UVFIO_PCI_CARDBUS_CIS; o < UVFIO_PCI_CARDBUS_CIS + 4; o++)
		FZ_CHECK(!s->init[o], "CardBus CIS");
	for (unsigned o = UVFIO_PCI_CAPABILITY_LIST + 1; o < UVFIO_PCI_INTERRUPT_LINE; o++)
		FZ_CHECK(!s->init[o], "reserved header byte 0x%x", o);
}

/* --- the model of the capabilities ---------------------------------------------------------- */

/* Bytes of a model-supplied capability a client may change: offsets from the capability. */
static bool model_writable(const struct state *s, unsigned id, bool ext, unsigned rel)
{
	if (s->dev->kind != FZ_DEV_FZ)
		return false;
	if (!ext && id == UVFIO_PCI_CAP_ID_VNDR)
		return (rel >= 6 && rel <= 9) || rel == 15; /* fzdev's masked vendor capability */
	if (!ext && id == UVFIO_PCI_CAP_ID_AF)
		return rel == 4;
	if (ext && id == UVFIO_PCI_EXT_CAP_ID_ERR)
		return rel == 8 || rel == 9 || rel == 20 || rel == 28;
	return false;
}

static unsigned std_cap_len(const uint8_t *cfg, unsigned off)
{
	uint16_t fl = le16(cfg + off + 2);

	switch (cfg[off]) {
	case UVFIO_PCI_CAP_ID_PM:
		return UVFIO_PCI_PM_SIZEOF;
	case UVFIO_PCI_CAP_ID_MSI:
		return 10 + ((fl & UVFIO_PCI_MSI_FLAGS_64BIT) ? 4 : 0) +
		       ((fl & UVFIO_PCI_MSI_FLAGS_MASKBIT) ? 10 : 0);
	case UVFIO_PCI_CAP_ID_MSIX:
		return UVFIO_PCI_MSIX_SIZEOF;
	case UVFIO_PCI_CAP_ID_EXP:
		return UVFIO_PCI_EXP_SIZEOF;
	case UVFIO_PCI_CAP_ID_VNDR:
		return cfg[off + UVFIO_PCI_VNDR_LEN];
	case UVFIO_PCI_CAP_ID_AF:
		return 6;
	default:
		FZ_CHECK(0, "unexpected capability 0x%x at 0x%x", cfg[off], off);
	}
	return 0;
}

static unsigned ext_cap_len(unsigned id)
{
	switch (id) {
	case UVFIO_PCI_EXT_CAP_ID_DSN:
		return 12;
	case UVFIO_PCI_EXT_CAP_ID_ERR:
		return 44;
	case UVFIO_PCI_EXT_CAP_ID_VNDR:
		return 16;
	default:
		FZ_CHECK(0, "unexpected extended capability 0x%x", id);
	}
	return 0;
}

static void std_cap(struct state *s, unsigned off, unsigned len)
{
	unsigned id = s->init[off];
	bool hook = id == UVFIO_PCI_CAP_ID_VNDR && s->dev->kind == FZ_DEV_FZ &&
		    s->init[off + 3] == 'H';

	set_range(s->zero, off, len, false);
	set_range(s->ro, off, 2, true); /* ID, next */
	switch (id) {
	case UVFIO_PCI_CAP_ID_PM:
		s->pm = off;
		set_range(s->ro, off + 2, 2, true); /* PMC */
		set_range(s->ro, off + 6, 2, true);
		break;
	case UVFIO_PCI_CAP_ID_MSI:
		s->msi = off;
		break;
	case UVFIO_PCI_CAP_ID_MSIX:
		s->msix = off;
		set_range(s->ro, off + 4, 8, true); /* table, PBA */
		break;
	case UVFIO_PCI_CAP_ID_EXP:
		s->exp = off;
		set_range(s->ro, off + 2, len - 2, true);
		set_range(s->ro, off + UVFIO_PCI_EXP_DEVCTL, 2, false);
		set_range(s->ro, off + UVFIO_PCI_EXP_DEVCTL2, 2, false);
		break;
	default:
		/* Vendor and AF: the model's bytes, read-only but where its mask says. */
		for (unsigned r = 2; r < len; r++)
			s->ro[off + r] = !model_writable(s, id, false, r) && !(hook && r >= 2);
		if (hook)
			set_range(s->hooked, off + 2, len - 2, true);
		if (id == UVFIO_PCI_CAP_ID_VNDR)
			s->ro[off + 2] = !hook; /* the length byte */
		break;
	}
}

static void ext_cap(struct state *s, unsigned off, unsigned id, unsigned len)
{
	bool hook = id == UVFIO_PCI_EXT_CAP_ID_VNDR && s->dev->kind == FZ_DEV_FZ;

	set_range(s->zero, off, len, false);
	set_range(s->ro, off, 4, true);
	for (unsigned r = 4; r < len; r++)
		s->ro[off + r] = !hook && !model_writable(s, id, true, r);
	if (hook)
		set_range(s->hooked, off + 4, len - 4, true);
}

/* Walk both lists of the initial image (they were built by the library, so they must be sane). */
static void caps_model(struct state *s)
{
	unsigned pos, n = 0;

	memset(s->ro, 0, sizeof(s->ro));
	memset(s->zero, 0, sizeof(s->zero));
	memset(s->hooked, 0, sizeof(s->hooked));
	set_range(s->zero, UVFIO_PCI_STD_HEADER_SIZE, CFG - UVFIO_PCI_STD_HEADER_SIZE, true);
	for (pos = s->init[UVFIO_PCI_CAPABILITY_LIST]; pos; pos = s->init[pos + 1], n++) {
		unsigned len;

		FZ_CHECK(n < 48 && pos >= UVFIO_PCI_STD_HEADER_SIZE && !(pos & 3) && pos < 0x100,
			 "standard capability at 0x%x", pos);
		len = std_cap_len(s->init, pos);
		FZ_CHECK(len > 2 && pos + len <= 0x100, "capability at 0x%x, %u bytes", pos, len);
		FZ_CHECK(!s->init[pos + 1] || s->init[pos + 1] >= pos + len,
			 "capabilities at 0x%x and 0x%x overlap", pos, s->init[pos + 1]);
		std_cap(s, pos, len);
	}
	for (pos = UVFIO_PCI_EXT_CAP_START, n = 0; pos; n++) {
		uint32_t h = le32(s->init + pos);
		unsigned id = h & 0xffff, len = ext_cap_len(id);

		FZ_CHECK(n < 16 && pos >= 0x100 && !(pos & 3) && pos + len <= CFG,
			 "extended capability at 0x%x", pos);
		ext_cap(s, pos, id, len);
		FZ_CHECK(!(h >> 20) || (h >> 20) >= pos + len, "extended capabilities overlap");
		pos = h >> 20;
	}
	FZ_CHECK(s->pm && s->exp && s->msix && s->msi, "PM, PCIe, MSI, MSI-X expected");
	/* Every byte outside the header and the capabilities reads 0. */
	for (unsigned o = 0; o < CFG; o++) {
		FZ_CHECK(!s->zero[o] || !s->init[o], "byte 0x%x outside every capability is 0x%x", o,
			 s->init[o]);
		if (s->zero[o])
			s->ro[o] = true;
	}
}

/* --- checks -------------------------------------------------------------------------------- */

static int cfg_access(struct state *s, unsigned off, void *buf, unsigned len, bool write)
{
	return uvfio__emu_region_access(s->dev->emu, UVFIO_PCI_CONFIG_REGION_INDEX, off, buf, len,
					write);
}

static void hook_pattern(unsigned off, uint8_t *b, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		b[i] = (uint8_t)((off + i) * 7);
}

static void check_all(struct state *s)
{
	uint8_t img[CFG], img2[CFG], model[CFG];
	int ret;

	ret = cfg_access(s, 0, img, CFG, false);
	FZ_CHECK(!ret, "reading the whole space: %d", ret);
	FZ_CHECK(!cfg_access(s, 0, img2, CFG, false) && !memcmp(img, img2, CFG),
		 "two reads of configuration space differ");
	FZ_CHECK(!uvfio_emu_cfg_read(s->dev->emu, 0, model, CFG), "model view");
	for (unsigned o = 0; o < CFG; o++) {
		if (s->hooked[o]) {
			uint8_t want;

			hook_pattern(o, &want, 1);
			FZ_CHECK(img[o] == want, "hooked byte 0x%x reads 0x%02x, the hook said 0x%02x", o,
				 img[o], want);
			continue;
		}
		FZ_CHECK(img[o] == model[o], "byte 0x%x: client reads 0x%02x, the model sees 0x%02x",
			 o, img[o], model[o]);
		if (s->track[o])
			FZ_CHECK(img[o] == s->shadow[o], "byte 0x%x reads 0x%02x, expected 0x%02x", o,
				 img[o], s->shadow[o]);
		if (s->ro[o])
			FZ_CHECK(img[o] == s->init[o], "read-only byte 0x%x changed: 0x%02x -> 0x%02x",
				 o, s->init[o], img[o]);
	}
	/* Register rules the byte maps don't express. */
	if (s->pm) {
		uint16_t csr = le16(img + s->pm + UVFIO_PCI_PM_CTRL);

		FZ_CHECK((csr & ~UVFIO_PCI_PM_CTRL_STATE_MASK) ==
				 (le16(s->init + s->pm + UVFIO_PCI_PM_CTRL) & ~UVFIO_PCI_PM_CTRL_STATE_MASK),
			 "PMCSR bits other than the power state changed: 0x%x", csr);
		FZ_CHECK((csr & 3) != 1 && (csr & 3) != 2, "power state D%u, never advertised", csr & 3);
		FZ_CHECK((csr & 3) == s->shadow[s->pm + UVFIO_PCI_PM_CTRL],
			 "power state D%u, expected D%u", csr & 3, s->shadow[s->pm + UVFIO_PCI_PM_CTRL]);
	}
	FZ_CHECK(!(le16(img + s->exp + UVFIO_PCI_EXP_DEVCTL) & UVFIO_PCI_EXP_DEVCTL_BCR_FLR),
		 "Initiate FLR reads 1");
	FZ_CHECK(!(le16(img + s->exp + UVFIO_PCI_EXP_DEVCTL) & 0x0200),
		 "Phantom Functions Enable became writable");
	{
		uint16_t fl = le16(img + s->msix + UVFIO_PCI_MSIX_FLAGS);
		uint16_t fl0 = le16(s->init + s->msix + UVFIO_PCI_MSIX_FLAGS);

		FZ_CHECK((fl & ~UVFIO_PCI_MSIX_FLAGS_MASKALL) == (fl0 & ~UVFIO_PCI_MSIX_FLAGS_MASKALL),
			 "MSI-X control 0x%x (was 0x%x): only Function Mask is writable", fl, fl0);
	}
	{
		uint16_t fl = le16(img + s->msi + UVFIO_PCI_MSI_FLAGS);
		uint16_t fl0 = le16(s->init + s->msi + UVFIO_PCI_MSI_FLAGS);

		FZ_CHECK((fl & ~UVFIO_PCI_MSI_FLAGS_QSIZE) == (fl0 & ~UVFIO_PCI_MSI_FLAGS_QSIZE),
			 "MSI control 0x%x (was 0x%x): only Multiple Message Enable is writable", fl,
			 fl0);
		FZ_CHECK(((fl & UVFIO_PCI_MSI_FLAGS_QSIZE) >> 4) <= ((fl & UVFIO_PCI_MSI_FLAGS_QMASK) >> 1),
			 "MSI enables more vectors than it is capable of: 0x%x", fl);
	}
}

/* --- steps --------------------------------------------------------------------------------- */

static void reset_model(struct state *s)
{
	if (s->pm)
		s->shadow[s->pm + UVFIO_PCI_PM_CTRL] = 0;
}

static void write_step(struct state *s, unsigned off, const uint8_t *v, unsigned len)
{
	uint8_t before[CFG];
	bool in_range = off + len <= CFG;
	bool flr = false;
	int ret;

	FZ_CHECK(!uvfio_emu_cfg_read(s->dev->emu, 0, before, CFG), "model view");
	ret = cfg_access(s, off, (void *)v, len, true);
	if (!in_range) {
		uint8_t after[CFG];

		FZ_CHECK(ret == -EINVAL, "write of [0x%x, +%u) beyond the space: %d", off, len, ret);
		FZ_CHECK(!uvfio_emu_cfg_read(s->dev->emu, 0, after, CFG) && !memcmp(before, after, CFG),
			 "a write beyond the space changed it");
		return;
	}
	FZ_CHECK(!ret, "write of [0x%x, +%u): %d", off, len, ret);
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;

		if (o < UVFIO_PCI_STD_HEADER_SIZE)
			s->shadow[o] = (uint8_t)((s->shadow[o] & ~s->wm[o]) | (v[i] & s->wm[o]));
		if (o == s->exp + UVFIO_PCI_EXP_DEVCTL + 1 && (v[i] & 0x80))
			flr = true;
	}
	if (s->pm && off <= s->pm + UVFIO_PCI_PM_CTRL && off + len > s->pm + UVFIO_PCI_PM_CTRL) {
		unsigned st = v[s->pm + UVFIO_PCI_PM_CTRL - off] & 3;

		if (st == 0 || st == 3)
			s->shadow[s->pm + UVFIO_PCI_PM_CTRL] = (uint8_t)st;
	}
	/* PM comes before PCIe in both devices: an FLR in the same write wins. */
	if (flr)
		reset_model(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state s;
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED,
				    .log = fz_log_sink, .log_level = UVFIO_LOG_DEBUG };
	int base = fz_fd_count(), sv[2], ret;
	unsigned steps = 0;
	struct fz f;

	fz_init(&f, data, size);
	memset(&s, 0, sizeof(s));
	FZ_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
	o.fd = sv[1];
	ret = fz_dev_create((fz_u8(&f) & 1) ? FZ_DEV_FZ : FZ_DEV_DMA, &o, FZ_DEV_TAME, &s.dev);
	FZ_CHECK(!ret, "creating the device: %d", ret);
	close(sv[0]);
	FZ_CHECK(!uvfio_emu_cfg_read(s.dev->emu, 0, s.init, CFG), "initial image");
	header_model(&s);
	caps_model(&s);
	if (s.pm)
		s.shadow[s.pm + UVFIO_PCI_PM_CTRL] = s.init[s.pm + UVFIO_PCI_PM_CTRL] & 3;
	check_all(&s);

	while (!fz_empty(&f) && steps++ < 256) {
		uint8_t kind = fz_u8(&f), lb, val[4], buf[2048];
		unsigned off = fz_u16(&f), len;

		lb = fz_u8(&f);
		len = lb < 0xf0 ? lb % 9 : (lb - 0xf0u) * 128 + 1;
		fz_bytes(&f, val, sizeof(val));
		for (unsigned i = 0; i < len; i++)
			buf[i] = val[i % 4];
		switch (kind % 8) {
		case 0: case 1: case 2:
			write_step(&s, off % 0x1100, buf, len);
			break;
		case 3: case 4: {
			uint8_t a[2048], b[2048];
			int r1 = cfg_access(&s, off % 0x1100, a, len, false);
			int r2 = cfg_access(&s, off % 0x1100, b, len, false);

			FZ_CHECK(r1 == r2 && (r1 || !memcmp(a, b, len)), "reads differ");
			FZ_CHECK(!r1 == ((off % 0x1100) + len <= CFG), "read [0x%x, +%u): %d",
				 off % 0x1100, len, r1);
			break;
		}
		case 5: {
			/* Size a BAR (or the ROM) the way a driver does. */
			unsigned bar = off % 7, reg = bar < 6 ? UVFIO_PCI_BASE_ADDRESS_0 + 4 * bar
							      : UVFIO_PCI_ROM_ADDRESS;
			uint8_t ones[4] = { 0xff, 0xff, 0xff, 0xff }, back[4];

			write_step(&s, reg, ones, 4);
			FZ_CHECK(!cfg_access(&s, reg, back, 4, false), "BAR read");
			for (unsigned i = 0; i < 4; i++)
				FZ_CHECK(back[i] == s.shadow[reg + i], "sizing BAR%u: byte %u 0x%02x, want 0x%02x",
					 bar, i, back[i], s.shadow[reg + i]);
			break;
		}
		case 6:
			ret = uvfio__emu_function_reset(s.dev->emu, UVFIO_EMU_RESET_DEVICE);
			FZ_CHECK(!ret, "reset: %d", ret);
			reset_model(&s);
			break;
		default: {
			/* Absurd offsets: far past the end, and where offset + length wraps. */
			uint64_t far = (val[1] & 1) ? UINT64_MAX - (off & 0xff) : 0xfffffff0ull + off;
			uint8_t before[CFG], after[CFG];

			FZ_CHECK(!uvfio_emu_cfg_read(s.dev->emu, 0, before, CFG), "model view");
			ret = uvfio__emu_region_access(s.dev->emu, UVFIO_PCI_CONFIG_REGION_INDEX, far, buf,
						       len, val[0] & 1);
			FZ_CHECK(ret == -EINVAL, "access at 0x%llx: %d", (unsigned long long)far, ret);
			FZ_CHECK(!uvfio_emu_cfg_read(s.dev->emu, 0, after, CFG) && !memcmp(before, after, CFG),
				 "a far access changed configuration space");
			break;
		}
		}
		check_all(&s);
	}
	fz_dev_destroy(s.dev);
	FZ_CHECK(fz_fd_count() == base, "%d fds open after the input, %d before", fz_fd_count(), base);
	return 0;
}
