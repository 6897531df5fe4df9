/*
 * cli_collection: `kyoyu collection create|list`. A collection is TAXII's unit of access
 * (TAXII 2.1 §5): members will be granted a collection, and imports name the one they add
 * to. The name is the command line's handle for it; the UUID is its TAXII id, new and random
 * unless --id keeps the one a collection had on another TAXII server.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] collection create NAME [--title TITLE] [--description TEXT]\n"
		"                                           [--id UUID]\n"
		"       kyoyu [--db PATH] collection list [--json]\n"
		"\n"
		"create  adds a collection with a new UUID (its TAXII id). NAME is what commands take\n"
		"        (--collection NAME): 1 to %d letters, digits, '.', '_' or '-', starting\n"
		"        with a letter or digit. TITLE defaults to NAME. --id UUID gives it that\n"
		"        id instead, e.g. the one it had on another TAXII server, which its\n"
		"        members' tools know: RFC 4122's form, 8-4-4-4-12 hex digits, stored in\n"
		"        lowercase; an id another collection has is refused.\n"
		"list    prints every collection: name, UUID, title; --json: one JSON object\n"
		"        {\"hub\": ..., \"collections\": [{name, uuid, title, description}]}\n"
		"\n"
		"exit status: 0 ok, 2 usage error (a bad NAME or UUID), 1 other failure (the name or\n"
		"the id exists, no hub)\n",
		KY_CONFIG_NAME_MAX);
}

/* RFC 4122 §3's textual form, in either case: 8-4-4-4-12 hex digits, of any version and
 * variant (another server's ids need not be random ones). --id must have it; a name must
 * not, as collections are found by name or UUID alike. */
static bool is_uuid_shaped(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > KY_CONFIG_NAME_MAX || !isalnum((unsigned char)name[0]) || is_uuid_shaped(name))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int create(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"title", required_argument, NULL, 't'},
		{"description", required_argument, NULL, 'd'},
		{"id", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *title = NULL, *description = NULL, *id = NULL;
	char uuid[37];
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 't':
			title = optarg;
			break;
		case 'd':
			description = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu collection create: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "kyoyu collection create: expected one NAME\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (!valid_name(name)) {
		fprintf(stderr,
			"kyoyu collection create: '%s' is not a collection name: 1 to %d letters, digits, '.', '_' or '-',"
			" starting with a letter or digit, and not a UUID\n",
			name, KY_CONFIG_NAME_MAX);
		return KY_EXIT_USAGE;
	}
	/* Ids are written and compared in lowercase (TAXII 2.1 §5.2 paths hold them as kyoyu
	 * lists them), so an id given in capitals is stored as its lowercase twin. */
	if (id != NULL && !is_uuid_shaped(id)) {
		fprintf(stderr,
			"kyoyu collection create: --id takes a UUID (RFC 4122: 8-4-4-4-12 hex digits, such as"
			" 0f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f), not '%s'\n",
			id);
		return KY_EXIT_USAGE;
	}
	if (id != NULL) {
		for (int i = 0; i < 37; i++)
			uuid[i] = (char)tolower((unsigned char)id[i]);
	}

	ky_store *store = NULL;
	ky_store_collection collection = {0};
	int status = KY_EXIT_FAILURE;
	if (ky_cli_hub_open(global, "collection create", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_store_collection_create(store, id ? uuid : NULL, name, title ? title : name, description, &collection) != KY_OK) {
		ky_cli_hub_report(global, "collection create");
		goto cleanup;
	}
	printf("created collection %s (%s) in %s\n", collection.name, collection.uuid, global->db_label);
	status = KY_EXIT_OK;

cleanup:
	ky_store_collection_clear(&collection);
	ky_store_close(store);
	return status;
}

typedef struct list_ctx {
	bool json;
	json_t *rows;
} list_ctx;

static int list_one(void *arg, const ky_store_collection *c)
{
	list_ctx *l = arg;
	if (!l->json) {
		printf("%-20s %s  %s\n", c->name, c->uuid, c->title);
		return 0;
	}
	json_t *row = json_pack("{s:s,s:s,s:s,s:s?}", "name", c->name, "uuid", c->uuid, "title", c->title, "description",
				c->description);
	if (row == NULL || json_array_append_new(l->rows, row) != 0)
		return ky_error_set(KY_ENOMEM, "out of memory");
	return 0;
}

static int list(const ky_cli_global *global, int argc, char **argv)
{
	list_ctx l = {0};
	int early = ky_cli_hub_command_args(argc, argv, "collection list", usage, &l.json);
	if (early >= 0)
		return early;

	ky_store *store = NULL;
	json_t *doc = NULL;
	int status = KY_EXIT_FAILURE;
	l.rows = json_array();
	if (l.rows == NULL) {
		fprintf(stderr, "kyoyu collection list: out of memory\n");
		goto cleanup;
	}
	if (ky_cli_hub_open(global, "collection list", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_store_collection_list(store, list_one, &l) != KY_OK) {
		ky_cli_hub_report(global, "collection list");
		goto cleanup;
	}
	if (l.json) {
		doc = json_pack("{s:s,s:O}", "hub", global->db_label, "collections", l.rows);
		if (ky_cli_print_json(doc, "collection list") != KY_EXIT_OK)
			goto cleanup;
	}
	status = fflush(stdout) == 0 && !ferror(stdout) ? KY_EXIT_OK : KY_EXIT_FAILURE;

cleanup:
	json_decref(doc);
	json_decref(l.rows);
	ky_store_close(store);
	return status;
}

int ky_cli_collection(const ky_cli_global *global, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return KY_EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return create(global, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return list(global, argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "kyoyu collection: '%s' is not a subcommand; use create or list\n", argv[1]);
	else
		fprintf(stderr, "kyoyu collection: expected a subcommand: create or list\n");
	usage(stderr);
	return KY_EXIT_USAGE;
}
