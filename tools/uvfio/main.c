// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio: the command-line tool. Dispatches to one subcommand; each prints
 * errors as sentences that say what went wrong and what to do about it.
 */
#include <stdio.h>
#include <string.h>

#include <uvfio/common.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "serve", cmd_serve, "serve a built-in device model over vfio-user" },
	{ "info", cmd_info, "show a device's regions, IRQs and decoded config space" },
	{ "ls", cmd_ls, "list PCI devices and IOMMU groups, and whether VFIO can use them" },
	{ "bind", cmd_bind, "hand a device's whole IOMMU group to vfio-pci (dry run, rollback)" },
	{ "unbind", cmd_unbind, "give a group bound with 'uvfio bind' back to its drivers" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: uvfio COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'uvfio COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("uvfio %d.%d\n", UVFIO_VERSION_MAJOR, UVFIO_VERSION_MINOR);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "uvfio: '%s' is not a command; run 'uvfio help' for the list.\n", argv[1]);
	return 2;
}
