/* SPDX-License-Identifier: BSD-3-Clause */
/* The uvfio command-line tool: one function per subcommand. */
#ifndef UVFIO_TOOLS_CLI_H
#define UVFIO_TOOLS_CLI_H

#include <stdio.h>

struct kb_ops;

int cmd_serve(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);

/*
 * "uvfio bind" or "uvfio unbind" (@name) with sysfs writes going through
 * @ops (NULL: the real files) and output to @out and @err: how the unit
 * tests run the command against a simulated kernel. Return: exit status.
 */
int cmd_bind_with(const char *name, int argc, char **argv, const struct kb_ops *ops, FILE *out,
		  FILE *err);

#endif /* UVFIO_TOOLS_CLI_H */
