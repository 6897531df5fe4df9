/*
 * cli: the `kyoyu` command line. The binary's main() only calls ky_cli_main(); every
 * subcommand lives here, in the library, so tests can run it in-process.
 *
 * Exit statuses mean the same for every command that handles many objects:
 *   0 all valid / done, 3 some objects invalid or refused, 2 usage error, 1 other failure.
 */
#ifndef KY_CLI_H
#define KY_CLI_H

#include <stdio.h>

enum {
	KY_EXIT_OK = 0,
	KY_EXIT_FAILURE = 1,
	KY_EXIT_USAGE = 2,
	KY_EXIT_INVALID = 3,
};

/* Options that come before the subcommand and apply to all of them. */
typedef struct ky_cli_global {
	const char *db_path;  /* --db, or NULL for the default; borrowed from argv */
} ky_cli_global;

/* Runs `kyoyu ARGS...`; returns the exit status. Writes to stdout and stderr. */
int ky_cli_main(int argc, char **argv);

/* `kyoyu validate`: argv[0] is "validate". */
int ky_cli_validate(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu pattern`: argv[0] is "pattern". */
int ky_cli_pattern(const ky_cli_global *global, int argc, char **argv);

#endif
