// SPDX-License-Identifier: BSD-3-Clause
/*
 * Interrupt delivery: from a device model calling uvfio_emu_irq_raise() to
 * the driver waking in uvfio_device_irq_wait(), against a raw eventfd
 * written by one process and read by another, in the same run, on the same
 * cores (model/writer on cpu 1, driver/reader on cpu 0).
 *
 * Three measurements alternate in rounds: the raw eventfd, uvfio waiting
 * without a timeout, and uvfio waiting with one. Each uses one handshake
 * through shared memory (the device's mmap-able BAR0, which the driver
 * maps through the library): the driver publishes
 * "ready" and goes to sleep; the other side waits a little so it is asleep,
 * stamps the time, and signals; the driver measures when it wakes. Only
 * the signal crosses the kernel, as on real hardware.
 *
 * Target: p50 <= 1.1 x the raw eventfd.
 *
 * usage: bench_irq [SAMPLES]
 */
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "bench_util.h"
#include "uvfio/vfio.h"

#define SETTLE_NS 30000 /* let the driver fall asleep before signalling */
#define ROUNDS    5     /* floor and uvfio alternate, so drift hits both */
#define DONE      (3 * ROUNDS + 1)

/* Phase p (1-based) measures: 1 the floor, 2 uvfio, 3 uvfio with a timeout. */
static int mode_of(uint64_t phase)
{
	return (int)((phase - 1) % 3) + 1;
}

struct shm {
	_Atomic uint64_t ready;  /* sample number the driver waits for */
	_Atomic uint64_t t0;     /* when it was signalled */
	_Atomic uint64_t phase;  /* 0: setting up, then 1..3*ROUNDS, then DONE */
	_Atomic uint64_t efd_ok; /* the floor's eventfd is in place */
};

static void spin_ns(uint64_t ns)
{
	uint64_t t = bench_ns();

	while (bench_ns() - t < ns)
		;
}

/* The model: a device with BAR0 as shared memory and one MSI-X vector. */
static struct uvfio_emu *make_device(const char *path)
{
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .socket_path = path };
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 0x1234, .device_id = 0x4952 };
	struct uvfio_emu_region shm = { .argsz = sizeof(shm), .size = 4096,
					.flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE |
						 UVFIO_EMU_REGION_MEM | UVFIO_EMU_REGION_MMAP };
	struct uvfio_emu_region msix = { .argsz = sizeof(msix), .size = 8192,
					 .flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE |
						  UVFIO_EMU_REGION_MEM };
	struct uvfio_emu *emu;

	if (uvfio_emu_create(&o, &emu) || uvfio_emu_setup_pci(emu, &id) ||
	    uvfio_emu_setup_region(emu, 0, &shm) || uvfio_emu_setup_region(emu, 2, &msix) ||
	    uvfio_emu_setup_msix(emu, 1, 2, 0, 2, 4096) || uvfio_emu_realize(emu))
		_exit(1);
	return emu;
}

static void model(const char *path, int efd, size_t per)
{
	struct uvfio_emu *emu = make_device(path);
	struct shm *s;
	uint64_t v = 1;

	bench_pin(1);
	if (uvfio_emu_region_mem(emu, 0, (void **)&s))
		_exit(1);
	/* Serve the driver's setup until it starts measuring. */
	while (atomic_load(&s->phase) == 0)
		uvfio_emu_dispatch(emu), usleep(100);
	for (uint64_t phase = 1; phase < DONE; phase++) {
		while (atomic_load(&s->phase) < phase)
			;
		for (uint64_t i = 1; i <= per; i++) {
			while (atomic_load(&s->ready) != i)
				;
			spin_ns(SETTLE_NS);
			atomic_store(&s->t0, bench_ns());
			if (mode_of(phase) == 1) {
				if (write(efd, &v, sizeof(v)) != sizeof(v))
					_exit(1);
			} else if (uvfio_emu_irq_raise(emu, 0) != 1) {
				_exit(2);
			}
		}
	}
	while (atomic_load(&s->phase) != DONE)
		;
	uvfio_emu_destroy(emu);
	_exit(0);
}

static double pct(uint64_t *v, size_t n, double p)
{
	return (double)bench_pct(v, n, p) / 1e3;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000, per = n / ROUNDS + 1;
	uint64_t *raw = calloc(per * ROUNDS, sizeof(*raw)), *lib = calloc(per * ROUNDS, sizeof(*lib));
	uint64_t *tmo = calloc(per * ROUNDS, sizeof(*tmo)), v;
	char dir[] = "/tmp/uvfio-bench-XXXXXX", path[128];
	int efd = eventfd(0, EFD_CLOEXEC), status;
	struct uvfio_device *dev;
	struct shm *s;
	pid_t pid;

	if (!raw || !lib || !tmo || !n || efd < 0 || !mkdtemp(dir))
		bench_die("setup", ENOMEM);
	snprintf(path, sizeof(path), "%s/irq.sock", dir);
	pid = fork();
	if (pid == 0)
		model(path, efd, per);
	bench_pin(0);
	for (int i = 0; i < 500 && access(path, F_OK); i++)
		usleep(10000);
	if (uvfio_device_open(path, NULL, &dev))
		bench_die("open", EIO);
	if (uvfio_device_mmap(dev, 0, 0, 4096, PROT_READ | PROT_WRITE, (void **)&s))
		bench_die("mmap BAR0", EIO);
	v = UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	if (uvfio_device_cfg_write(dev, UVFIO_PCI_COMMAND, &v, 2) ||
	    uvfio_device_irq_enable(dev, UVFIO_PCI_MSIX_IRQ_INDEX, 1))
		bench_die("irq setup", EIO);

	for (uint64_t phase = 1; phase < DONE; phase++) {
		int mode = mode_of(phase);
		uint64_t *out = (mode == 1 ? raw : mode == 2 ? lib : tmo) + (phase - 1) / 3 * per;

		atomic_store(&s->ready, 0);
		atomic_store(&s->phase, phase);
		for (size_t i = 1; i <= per; i++) {
			atomic_store(&s->ready, i);
			if (mode == 1 && read(efd, &v, sizeof(v)) != sizeof(v))
				bench_die("eventfd read", errno);
			if (mode > 1 && uvfio_device_irq_wait(dev, UVFIO_PCI_MSIX_IRQ_INDEX, 0,
							      mode == 2 ? -1 : 5000, NULL))
				bench_die("irq wait", ETIMEDOUT);
			out[i - 1] = bench_ns() - atomic_load(&s->t0);
		}
	}
	atomic_store(&s->phase, DONE);
	n = per * ROUNDS;

	printf("interrupt delivery, one way, signaller on cpu 1, sleeper on cpu 0, %zu samples each\n", n);
	printf("  floor: raw eventfd write -> blocking read         p50 %6.2f us  p99 %6.2f us\n",
	       pct(raw, n, 50), pct(raw, n, 99));
	printf("  uvfio: uvfio_emu_irq_raise -> uvfio_device_irq_wait p50 %6.2f us  p99 %6.2f us\n",
	       pct(lib, n, 50), pct(lib, n, 99));
	printf("  ratio p50: %.3f x floor (target <= 1.10)\n",
	       (double)bench_pct(lib, n, 50) / (double)bench_pct(raw, n, 50));
	printf("  uvfio, waiting with a timeout (poll, then read) p50 %6.2f us  p99 %6.2f us = %.3f x floor\n",
	       pct(tmo, n, 50), pct(tmo, n, 99),
	       (double)bench_pct(tmo, n, 50) / (double)bench_pct(raw, n, 50));

	uvfio_device_munmap(dev, s, 4096);
	uvfio_device_close(dev);
	waitpid(pid, &status, 0);
	unlink(path);
	rmdir(dir);
	close(efd);
	free(raw);
	free(lib);
	free(tmo);
	return 0;
}
