/*
 * cli_main: global options and the subcommand table of `kyoyu`.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>

typedef int command_fn(const ky_cli_global *global, int argc, char **argv);

static const struct command {
	const char *name;
	command_fn *run;
	const char *summary;
} commands[] = {
	{"validate", ky_cli_validate, "check STIX 2.1 content (a bundle, an array or one object)"},
	{"pattern", ky_cli_pattern, "check STIX patterns and print them in canonical form"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] COMMAND [ARGS]\n"
		"\n"
		"kyoyu is a cyber-threat information-sharing hub (STIX 2.1, TAXII 2.1).\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"global options:\n"
		"  --db PATH    the hub's database (used by the store commands)\n"
		"  --help       this help; `kyoyu COMMAND --help` for a command's own\n"
		"  --version    print the version\n"
		"\n"
		"exit status: 0 ok, 3 some objects invalid, 2 usage error, 1 other failure\n");
}

int ky_cli_main(int argc, char **argv)
{
	static const struct option options[] = {
		{"db", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	ky_cli_global global = {0};
	int c;

	/* '+' stops at the subcommand so that its own options are left for it. */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			global.db_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		case 'V':
			printf("kyoyu %s\n", KY_VERSION);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return KY_EXIT_USAGE;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(&global, argc - optind, argv + optind);
	fprintf(stderr, "kyoyu: '%s' is not a command; `kyoyu --help` lists them\n", name);
	return KY_EXIT_USAGE;
}
