/*
 * cli_key: `kyoyu key create|list|revoke`, the API keys that users and machine clients
 * present to the server (HTTP Basic with the key as the password, or a Bearer token). A key
 * is shown once, when it is made: the hub keeps only its prefix and a keyed hash
 * (src/auth/auth.h). A user that does not exist yet is made a secretariat admin ("the first
 * user owns the hub"), so that a fresh hub works at once with any standard TAXII client;
 * users of other members are made with kyoyu user add.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "council/council.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] key create --user NAME [--reason WHY] [--json]\n"
		"       kyoyu [--db PATH] key list [--json]\n"
		"       kyoyu [--db PATH] key revoke PREFIX [--reason WHY]\n"
		"\n"
		"create  makes a new API key for user NAME and prints it: this is the only time it\n"
		"        is shown (the hub keeps a keyed hash of it). A NAME that is no user yet\n"
		"        becomes an admin of the secretariat, who runs the hub (kyoyu user add\n"
		"        makes users of other members). NAME: 1 to %d letters, digits, '.', '_',\n"
		"        '-', '@' or '+', starting with a letter or digit. --json: {\"user\",\n"
		"        \"key\", \"prefix\", \"user_created\", \"member\", \"role\"}\n"
		"list    prints every key: user, prefix (its first %d characters), when it was\n"
		"        created and revoked; never the key. --json: {\"hub\": ..., \"keys\":\n"
		"        [{prefix, user, created, revoked (null while active)}]}\n"
		"revoke  revokes the key with that prefix at once: the server refuses it from the\n"
		"        next request on\n"
		"\n"
		"Clients send the key as the password of HTTP Basic (with the user's name) or as\n"
		"'Authorization: Bearer KEY'.\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure (no such active key, no hub)\n",
		KY_AUTH_USER_MAX, KY_STORE_KEY_PREFIX_LEN);
}

/* Microseconds since 1970 as an RFC 3339 UTC time to the second, into out. */
static const char *when(int64_t us, char out[32])
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
	return out;
}

static int create(const ky_cli_global *global, int argc, char **argv)
{
	const char *user = NULL, *reason = NULL;
	bool as_json = false;
	const ky_cli_opt opts[] = {{"user", KY_CLI_VALUE, .value = &user},
				   {"reason", KY_CLI_VALUE, .value = &reason},
				   {"json", KY_CLI_FLAG, .flag = &as_json},
				   {NULL}};
	int early = ky_cli_parse("key create", argc, argv, opts, NULL, 0, 0, NULL, usage);
	if (early >= 0)
		return early;
	if (user == NULL) {
		fprintf(stderr, "kyoyu key create: whose key? name the user with --user NAME\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}
	if (!ky_auth_user_valid(user)) {
		fprintf(stderr,
			"kyoyu key create: '%s' is not a user name: 1 to %d letters, digits, '.', '_', '-', '@' or '+',"
			" starting with a letter or digit\n",
			user, KY_AUTH_USER_MAX);
		return KY_EXIT_USAGE;
	}

	ky_store *store = NULL;
	json_t *doc = NULL;
	char key[KY_AUTH_KEY_MAX] = {0}, prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	ky_store_user u;
	ky_store_actor operator = {.via = "kyoyu key create"};
	ky_council_caller caller = {NULL, "kyoyu key create"};
	int status = KY_EXIT_FAILURE;
	if (ky_cli_hub_open(global, "key create", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_store_user_ensure(store, user, &operator, "a user made by its first key", &u) != KY_OK ||
	    ky_council_key_create(store, &caller, user, reason, key, NULL) != KY_OK) {
		ky_cli_hub_report(global, "key create");
		status = ky_error_last_code() == KY_EINVALID ? KY_EXIT_USAGE : KY_EXIT_FAILURE;
		goto cleanup;
	}
	memcpy(prefix, key, KY_STORE_KEY_PREFIX_LEN);
	prefix[KY_STORE_KEY_PREFIX_LEN] = '\0';
	if (as_json) {
		doc = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s}", "user", user, "key", key, "prefix", prefix, "user_created",
				u.created, "member", u.member, "role", ky_role_name(u.role));
		status = ky_cli_print_json(doc, "key create");
		if (status != KY_EXIT_OK)
			goto cleanup;
	} else {
		printf("created key %s for %s%s in %s:\n"
		       "\n"
		       "    %s\n"
		       "\n"
		       "This is the only time the key is shown: the hub keeps only a keyed hash of it.\n"
		       "Store it now; if it is lost, create another and revoke this one (kyoyu key revoke %s).\n",
		       prefix, user, u.created ? " (a new user)" : "", global->db_label, key, prefix);
		if (u.created)
			printf("%s is a new admin of the secretariat (%s): it runs the hub.\n", user, u.member);
	}
	status = fflush(stdout) == 0 && !ferror(stdout) ? KY_EXIT_OK : KY_EXIT_FAILURE;

cleanup:
	explicit_bzero(key, sizeof(key));
	json_decref(doc);
	ky_store_close(store);
	return status;
}

typedef struct list_ctx {
	bool json;
	size_t n;
	json_t *rows;
} list_ctx;

static int list_one(void *arg, const ky_store_key *k)
{
	list_ctx *l = arg;
	char created[32], revoked[32];
	l->n++;
	if (!l->json) {
		printf("%-20s %s  created %s  ", k->user, k->prefix, when(k->created_us, created));
		if (k->revoked_us)
			printf("revoked %s\n", when(k->revoked_us, revoked));
		else
			printf("active\n");
		return 0;
	}
	json_t *row = ky_council_key_json(k);
	if (row == NULL || json_array_append_new(l->rows, row) != 0)
		return ky_error_set(KY_ENOMEM, "out of memory");
	return 0;
}

static int list(const ky_cli_global *global, int argc, char **argv)
{
	list_ctx l = {0};
	int early = ky_cli_hub_command_args(argc, argv, "key list", usage, &l.json);
	if (early >= 0)
		return early;

	ky_store *store = NULL;
	json_t *doc = NULL;
	int status = KY_EXIT_FAILURE;
	l.rows = json_array();
	if (l.rows == NULL) {
		fprintf(stderr, "kyoyu key list: out of memory\n");
		goto cleanup;
	}
	if (ky_cli_hub_open(global, "key list", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_store_key_list(store, 0, list_one, &l) != KY_OK) {
		ky_cli_hub_report(global, "key list");
		goto cleanup;
	}
	if (l.json) {
		doc = json_pack("{s:s,s:O}", "hub", global->db_label, "keys", l.rows);
		if (ky_cli_print_json(doc, "key list") != KY_EXIT_OK)
			goto cleanup;
	} else if (l.n == 0) {
		printf("%s has no keys; kyoyu key create --user NAME makes one\n", global->db_label);
	}
	status = fflush(stdout) == 0 && !ferror(stdout) ? KY_EXIT_OK : KY_EXIT_FAILURE;

cleanup:
	json_decref(doc);
	json_decref(l.rows);
	ky_store_close(store);
	return status;
}

static int revoke(const ky_cli_global *global, int argc, char **argv)
{
	const char *reason = NULL, *prefix;
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("key revoke", argc, argv, opts, &prefix, 1, 1, NULL, usage);
	if (early >= 0)
		return early;
	if (strlen(prefix) != KY_STORE_KEY_PREFIX_LEN) {
		fprintf(stderr, "kyoyu key revoke: '%.*s%s' is not a key's prefix: its first %d characters, as kyoyu key list shows them\n",
			KY_STORE_KEY_PREFIX_LEN, prefix, strlen(prefix) > KY_STORE_KEY_PREFIX_LEN ? "..." : "",
			KY_STORE_KEY_PREFIX_LEN);
		return KY_EXIT_USAGE;
	}

	ky_store *store = NULL;
	ky_store_key k;
	ky_council_caller caller = {NULL, "kyoyu key revoke"};
	int status = KY_EXIT_FAILURE;
	if (ky_cli_hub_open(global, "key revoke", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_council_key_revoke(store, &caller, prefix, reason, &k) != KY_OK) {
		ky_cli_hub_report(global, "key revoke");
		goto cleanup;
	}
	printf("revoked key %s of %s in %s\n", k.prefix, k.user, global->db_label);
	status = fflush(stdout) == 0 && !ferror(stdout) ? KY_EXIT_OK : KY_EXIT_FAILURE;

cleanup:
	ky_store_close(store);
	return status;
}

int ky_cli_key(const ky_cli_global *global, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return KY_EXIT_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return create(global, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return list(global, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "revoke") == 0)
		return revoke(global, argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "kyoyu key: '%s' is not a subcommand; use create, list or revoke\n", argv[1]);
	else
		fprintf(stderr, "kyoyu key: expected a subcommand: create, list or revoke\n");
	usage(stderr);
	return KY_EXIT_USAGE;
}
