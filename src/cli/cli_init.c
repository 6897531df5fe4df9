/*
 * cli_init: `kyoyu init`, which creates the hub (the schema and the default collection) and
 * is safe to run again: on an existing hub it changes nothing, so provisioning scripts can
 * call it unconditionally.
 */
#include <getopt.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] init\n"
		"\n"
		"Creates the hub (by default kyoyu.db, or [store] db of kyoyu.conf) with the current\n"
		"schema and the collection '%s'. On a hub that exists already it changes nothing.\n"
		"\n"
		"exit status: 0 created or already a hub, 2 usage error, 1 other failure (not a hub,\n"
		"an older schema: run kyoyu migrate, the database cannot be written)\n",
		KY_STORE_DEFAULT_COLLECTION);
}

int ky_cli_init(const ky_cli_global *global, int argc, char **argv)
{
	int early = ky_cli_hub_command_args(argc, argv, "init", usage, NULL);
	if (early >= 0)
		return early;

	ky_store *store = NULL;
	ky_store_collection collection = {0};
	bool created = false;
	int status = KY_EXIT_FAILURE;

	if (ky_cli_hub_open(global, "init", true, &store, &created) != KY_OK)
		goto cleanup;
	if (!created) {
		printf("%s is already a hub (schema %d); nothing changed\n", global->db_label, ky_store_schema_version(store));
		status = KY_EXIT_OK;
		goto cleanup;
	}
	if (ky_store_collection_find(store, KY_STORE_DEFAULT_COLLECTION, &collection) != KY_OK) {
		ky_cli_hub_report(global, "init");
		goto cleanup;
	}
	printf("created hub %s (schema %d, collection %s %s)\n", global->db_label, ky_store_schema_version(store),
	       collection.name, collection.uuid);
	status = KY_EXIT_OK;

cleanup:
	ky_store_collection_clear(&collection);
	ky_store_close(store);
	return status;
}
