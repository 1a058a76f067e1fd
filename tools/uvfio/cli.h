/* SPDX-License-Identifier: BSD-3-Clause */
/* The uvfio command-line tool: one function per subcommand. */
#ifndef UVFIO_TOOLS_CLI_H
#define UVFIO_TOOLS_CLI_H

int cmd_serve(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_ls(int argc, char **argv);

#endif /* UVFIO_TOOLS_CLI_H */
