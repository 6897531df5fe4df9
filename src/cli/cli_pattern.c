/*
 * cli_pattern: `kyoyu pattern`, which checks STIX patterns and prints their canonical form:
 * for an analyst writing an indicator, and for scripts that normalise patterns before
 * comparing them.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pattern/pattern.h"
#include "stix/stix_text.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu pattern [--canonical] PATTERN...\n"
		"       kyoyu pattern [--canonical] -      (one pattern per line on standard input)\n"
		"\n"
		"Checks STIX 2.1 patterns (STIX 2.1 §9) with the verdicts of the OASIS pattern\n"
		"validator, and says where each invalid one fails and what was expected there.\n"
		"\n"
		"  --canonical   print each valid pattern in canonical form instead of 'valid'\n"
		"\n"
		"exit status: 0 all valid, 3 some invalid, 2 usage error, 1 other failure\n");
}

/* Checks one pattern and prints its line; returns false when it is invalid. The pattern is
 * echoed as at most 200 bytes of one line of UTF-8 (stix_text.h), whatever bytes it holds. */
static bool check_one(const char *text, size_t length, bool canonical, int *failure)
{
	char echo[201];
	ky_pattern *p = NULL;
	int rc = ky_pattern_parse(&p, text, length);
	if (rc == KY_ENOMEM) {
		fprintf(stderr, "kyoyu pattern: %s\n", ky_error_last());
		*failure = 1;
		return false;
	}
	if (rc != KY_OK) {
		printf("invalid: %s: %s\n", ky_error_last(), ky_stix_excerpt(echo, sizeof(echo), text, length));
		return false;
	}
	if (canonical) {
		char *printed = ky_pattern_print(ky_pattern_root(p), NULL);
		if (printed == NULL) {
			fprintf(stderr, "kyoyu pattern: out of memory\n");
			*failure = 1;
		} else {
			puts(printed);
		}
		free(printed);
	} else {
		printf("valid: %s\n", ky_stix_excerpt(echo, sizeof(echo), text, length));
	}
	ky_pattern_free(p);
	return true;
}

int ky_cli_pattern(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"canonical", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool canonical = false;
	int c, failure = 0;
	size_t invalid = 0;
	(void)global;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			canonical = true;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu pattern: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kyoyu pattern: expected one or more patterns, or '-'\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") == 0) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) >= 0 && !failure) {
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				n--;
			if (n > 0 && !check_one(line, (size_t)n, canonical, &failure))
				invalid++;
		}
		free(line);
	} else {
		for (int i = optind; i < argc && !failure; i++)
			if (!check_one(argv[i], strlen(argv[i]), canonical, &failure))
				invalid++;
	}
	if (failure)
		return KY_EXIT_FAILURE;
	return invalid ? KY_EXIT_INVALID : KY_EXIT_OK;
}
