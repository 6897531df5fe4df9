/*
 * cli_migrate: `kyoyu migrate`, which brings a hub written by an older kyoyu to this build's
 * schema (ky_store_migrate: one transaction per version, so an interrupted run leaves the hub
 * at one version or the next, and running it again finishes the job).
 */
#include <getopt.h>

#include "cli/cli.h"
#include "policy/admission.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] migrate\n"
		"\n"
		"Upgrades the hub's schema to version %d, the one this kyoyu uses. A hub at that\n"
		"version already is left as it is. A hub with a newer schema is refused: it was\n"
		"written by a newer kyoyu.\n"
		"\n"
		"exit status: 0 upgraded or already current, 2 usage error, 1 other failure (no hub,\n"
		"a newer schema, a migration failed)\n",
		KY_STORE_SCHEMA_VERSION);
}

int ky_cli_migrate(const ky_cli_global *global, int argc, char **argv)
{
	int early = ky_cli_hub_command_args(argc, argv, "migrate", usage, NULL);
	if (early >= 0)
		return early;

	int from = 0, to = 0;
	if (ky_store_migrate(global->db_path, &from, &to) != KY_OK) {
		ky_cli_hub_report(global, "migrate");
		return KY_EXIT_FAILURE;
	}
	if (from == to)
		printf("%s: already at schema %d\n", global->db_label, to);
	else
		printf("%s: schema %d -> %d\n", global->db_label, from, to);
	/* Versions from before schema 7 are the secretariat's alone until they get their
	 * audiences: now, and again by any later run that an interruption left work for. */
	ky_store *store = NULL;
	uint64_t settled = 0;
	int rc = ky_cli_hub_open(global, "migrate", false, &store, NULL);
	if (rc == KY_OK && (rc = ky_policy_settle(store, &global->config, &settled)) != KY_OK)
		ky_cli_hub_report(global, "migrate");
	ky_store_close(store);
	if (rc != KY_OK)
		return KY_EXIT_FAILURE;
	if (settled > 0)
		printf("%s: %llu versions from before schema 7 given their audiences and TLP\n", global->db_label,
		       (unsigned long long)settled);
	return KY_EXIT_OK;
}
