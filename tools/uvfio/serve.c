// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio serve MODEL --socket PATH: serve a built-in device model to one
 * vfio-user client at a time, accepting the next after a disconnect, until
 * SIGINT or SIGTERM; then remove the socket and exit 0.
 *
 * Follows the vfio-user backend-program conventions: no daemonizing,
 * --socket-path=PATH and --fd=N accepted, SIGTERM honoured.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <uvfio/emu.h>

#include "cli.h"
#include "dma/dma.h"

static struct uvfio_emu *g_emu;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_emu)
		uvfio_emu_interrupt(g_emu);
}

static void log_line(void *priv, int level, const char *msg)
{
	struct timespec ts;

	(void)priv;
	(void)level;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "[%lld.%06ld] %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000, msg);
}

static void serve_usage(FILE *f)
{
	fprintf(f,
		"usage: uvfio serve MODEL --socket PATH [--mode MODE] [-v]\n"
		"       uvfio serve MODEL --fd N [-v]\n\n"
		"Serve a built-in device model over vfio-user, one client at a time.\n\n"
		"models:\n"
		"  dma        a DMA engine: copies between bus addresses, raises MSI-X/MSI/INTx\n\n"
		"options:\n"
		"  -s, --socket PATH   listen on this UNIX socket (also --socket-path)\n"
		"  -m, --mode MODE     the socket's permissions, octal (default 0600: only this\n"
		"                      user may connect; 0660 lets the socket's group in too)\n"
		"      --fd N          serve the already connected socket N, then exit\n"
		"  -v, --verbose       log connections; twice: every message\n"
		"  -h, --help          this text\n");
}

static int install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* No SA_RESTART: a blocked wait must return so the loop sees g_stop. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static const char *explain(int err, const char *path)
{
	switch (err) {
	case -EADDRINUSE:
		return "another server is listening there; stop it or pick another --socket path";
	case -EACCES:
	case -EPERM:
		return "permission denied; choose a directory you can write to";
	case -ENOENT:
		return "the directory does not exist; create it first";
	case -ENAMETOOLONG:
		return "the path is longer than a UNIX socket allows (107 bytes); use a shorter one";
	case -EEXIST:
		return "a file that is not a socket is in the way; remove it or pick another path";
	default:
		(void)path;
		return strerror(-err);
	}
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "mode", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct uvfio_emu_opts eo = { .argsz = sizeof(eo), .log = log_line };
	const char *model, *path = NULL;
	struct dma_dev *dev;
	int c, verbose = 0, fd = -1, ret;
	unsigned long mode = 0600;
	mode_t old_mask;
	char *end;

	while ((c = getopt_long(argc, argv, "s:m:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			path = optarg;
			break;
		case 'f':
			errno = 0;
			fd = (int)strtol(optarg, &end, 10);
			if (errno || *end || fd < 0) {
				fprintf(stderr, "uvfio serve: --fd needs a file descriptor number, not '%s'.\n",
					optarg);
				return 2;
			}
			break;
		case 'm':
			errno = 0;
			mode = strtoul(optarg, &end, 8);
			if (errno || *end || !*optarg || mode > 0777) {
				fprintf(stderr, "uvfio serve: --mode takes octal permissions such as 0600 "
						"or 0660, not '%s'.\n", optarg);
				return 2;
			}
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			serve_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "uvfio serve: name one device model (e.g. 'uvfio serve dma --socket /tmp/dma.sock').\n");
		return 2;
	}
	model = argv[optind];
	if (strcmp(model, "dma")) {
		fprintf(stderr, "uvfio serve: there is no model '%s'; the models are: dma.\n", model);
		return 2;
	}
	if (!path == (fd < 0)) {
		fprintf(stderr, "uvfio serve: give exactly one of --socket PATH and --fd N.\n");
		return 2;
	}
	eo.socket_path = path;
	if (fd >= 0) {
		eo.fd = fd;
		eo.flags = UVFIO_EMU_F_FD_CONNECTED;
	}
	eo.log_level = verbose >= 2 ? UVFIO_LOG_DEBUG : verbose ? UVFIO_LOG_INFO : UVFIO_LOG_ERR;

	ret = install_signals();
	/*
	 * Connecting needs write permission on the socket: create it owner-only
	 * (no moment in which others could connect), then widen it if asked.
	 */
	old_mask = umask(0177);
	if (!ret)
		ret = dma_dev_create(&eo, &dev);
	umask(old_mask);
	if (!ret && path && mode != 0600 && chmod(path, (mode_t)mode)) {
		ret = -errno;
		dma_dev_destroy(dev);
	}
	if (ret) {
		if (path)
			fprintf(stderr, "uvfio serve: cannot serve on %s: %s.\n", path, explain(ret, path));
		else
			fprintf(stderr, "uvfio serve: cannot start: %s.\n", strerror(-ret));
		return 1;
	}
	g_emu = dma_dev_emu(dev);
	if (path)
		fprintf(stderr, "uvfio serve: dma device %04x:%04x on %s; Ctrl-C stops.\n",
			DMA_PCI_VENDOR_ID, DMA_PCI_DEVICE_ID, path);

	while (!g_stop) {
		ret = uvfio_emu_run(g_emu);
		if (ret == -EINTR || ret == 0)
			continue;
		if (ret == -ENOTCONN)
			break; /* --fd: that client is gone */
		fprintf(stderr, "uvfio serve: stopping: %s.\n", strerror(-ret));
		break;
	}
	g_emu = NULL;
	dma_dev_destroy(dev);
	if (g_stop && verbose)
		fprintf(stderr, "uvfio serve: stopped; %s removed.\n", path ? path : "socket");
	return ret < 0 && ret != -EINTR && ret != -ENOTCONN ? 1 : 0;
}
