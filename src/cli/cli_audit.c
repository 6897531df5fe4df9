/*
 * cli_audit: `kyoyu audit verify|show|checkpoint` and `kyoyu pseudonym resolve`, the
 * operator's commands on the audit log (docs/audit.md) and the secretariat's lookup of a
 * pseudonym (docs/policy.md), on the database.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "policy/pseudonym.h"
#include "stix/stix_schema.h"
#include "store/store_council.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

static void audit_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] audit verify [--checkpoints FILE] [--json]\n"
		"       kyoyu [--db PATH] audit show [--object ID] [--member M] [--user U] [--since T]\n"
		"                                    [--limit N] [--json]\n"
		"       kyoyu [--db PATH] audit checkpoint\n"
		"\n"
		"The hub's audit log: every change and every read of objects that are not TLP:CLEAR,\n"
		"one entry per request, hash-chained, its head signed at checkpoints (docs/audit.md).\n"
		"\n"
		"  verify      reads the whole log and checks the chain, the checkpoints (the\n"
		"              database's and the file's: [audit] checkpoints, or --checkpoints FILE,\n"
		"              a copy shipped elsewhere), the head and the index; names the first entry\n"
		"              that fails\n"
		"  show        the entries, newest first: --object ID who read or changed the object,\n"
		"              --member M / --user U what they did, --since T (a timestamp) from then;\n"
		"              at most --limit N (1000)\n"
		"  checkpoint  signs the chain's head now (a server does every\n"
		"              [audit] checkpoint_seconds)\n"
		"\n"
		"exit status: 0 ok (verify: the log is intact), 4 verify found the log altered,\n"
		"2 usage error, 1 other failure\n");
}

static void pseudonym_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] pseudonym resolve ID --reason TEXT [--json]\n"
		"\n"
		"Says which member the pseudonym ID (an identity id other members read in place of\n"
		"that member's) stands for, and for which audience. The secretariat's lookup: it is\n"
		"recorded in the audit log, with the reason, before it is answered.\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure (no such pseudonym)\n");
}

/* The exit status of verify when the log is altered: distinct from a failure to read it. */
#define EXIT_ALTERED 4

/* Prints doc (NULL: out of memory) and frees it. */
static int print_owned(json_t *doc, const char *command)
{
	int status = ky_cli_print_json(doc, command);
	json_decref(doc);
	return status;
}

static int report(const ky_cli_global *global, const char *command)
{
	ky_cli_hub_report(global, command);
	return KY_EXIT_FAILURE;
}

static int verify(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const char *file = NULL;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {"checkpoints", KY_CLI_VALUE, .value = &file}, {NULL}};
	int early = ky_cli_parse("audit verify", argc, argv, opts, NULL, 0, 0, NULL, audit_usage);
	if (early >= 0)
		return early;
	char path[KY_CONFIG_DB_MAX + 64];
	if (file == NULL) {
		ky_audit_checkpoint_path(&global->config, global->db_path, path, sizeof(path));
		file = path;
	}
	ky_audit_verdict v;
	if (ky_audit_verify(s, file, &v) != KY_OK)
		return report(global, "audit verify");
	char when[40] = "";
	if (v.checkpoint_seq > 0)
		ky_clock_format(v.checkpoint_us, when);
	if (json) {
		int status = print_owned(
			json_pack("{s:b,s:I,s:I,s:I,s:o,s:o,s:o}", "intact", v.intact, "entries", (json_int_t)v.entries,
				  "checkpoints", (json_int_t)v.checkpoints, "checkpoint_entry", (json_int_t)v.checkpoint_seq,
				  "checkpoint_at", v.checkpoint_seq ? json_string(when) : json_null(), "first_bad",
				  v.intact || v.first_bad == 0 ? json_null() : json_integer((json_int_t)v.first_bad), "problem",
				  v.intact ? json_null() : json_string(v.problem)),
			"audit verify");
		return status != KY_EXIT_OK ? status : v.intact ? KY_EXIT_OK : EXIT_ALTERED;
	}
	if (!v.intact) {
		printf("audit log ALTERED: %s\n", v.problem);
		return EXIT_ALTERED;
	}
	if (v.checkpoint_seq > 0)
		printf("audit log intact: %" PRIu64 " entries; signed up to entry %" PRIu64 " at %s (%" PRIu64
		       " checkpoint copies checked, the database's and the file's); %" PRIu64
		       " entries since, covered by the next checkpoint\n",
		       v.entries, v.checkpoint_seq, when, v.checkpoints, v.entries - v.checkpoint_seq);
	else
		printf("audit log intact: %" PRIu64 " entries, no checkpoint yet (kyoyu audit checkpoint signs one)\n",
		       v.entries);
	return KY_EXIT_OK;
}

typedef struct showing {
	bool json;
	json_t *rows;
	size_t n;
} showing;

static int show_row(void *ctx, const ky_store_audit_row *r)
{
	showing *sh = ctx;
	char at[40];
	ky_clock_format(r->at_us, at);
	sh->n++;
	if (!sh->json) {
		printf("%" PRIu64 "  %s  %-18s by %s%s%s via %s%s%s", r->seq, at, r->action, r->user[0] ? r->user : "the operator",
		       r->member[0] ? " of " : "", r->member, r->via, r->origin ? " from " : "", r->origin ? r->origin : "");
		if (r->subject != NULL)
			printf(": %s", r->subject);
		uint64_t n, buckets;
		ky_store_audit_versions_count(r->versions, r->versions_len, &n, &buckets);
		if (n > 0)
			printf(" (%" PRIu64 " version%s)", n, n == 1 ? "" : "s");
		printf("\n");
		return 0;
	}
	uint64_t nversions, buckets;
	ky_store_audit_versions_count(r->versions, r->versions_len, &nversions, &buckets);
	json_t *detail = r->detail ? json_loads(r->detail, 0, NULL) : NULL;
	json_t *row = json_pack("{s:I,s:s,s:o,s:o,s:s,s:o,s:s,s:o,s:o,s:o,s:I,s:s}", "entry", (json_int_t)r->seq, "at", at,
				"user", r->user[0] ? json_string(r->user) : json_null(), "member",
				r->member[0] ? json_string(r->member) : json_null(), "via", r->via, "origin",
				r->origin ? json_string(r->origin) : json_null(), "action", r->action, "subject",
				r->subject ? json_string(r->subject) : json_null(), "detail",
				detail ? detail : r->detail ? json_string(r->detail) : json_null(), "versions",
				r->versions ? json_string(r->versions) : json_null(), "version_count",
				(json_int_t)nversions, "hash", r->hash);
	return row && json_array_append_new(sh->rows, row) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

static int show(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const char *object = NULL, *member = NULL, *user = NULL, *since = NULL, *limit = NULL;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json},     {"object", KY_CLI_VALUE, .value = &object},
				   {"member", KY_CLI_VALUE, .value = &member}, {"user", KY_CLI_VALUE, .value = &user},
				   {"since", KY_CLI_VALUE, .value = &since},   {"limit", KY_CLI_VALUE, .value = &limit},
				   {NULL}};
	int early = ky_cli_parse("audit show", argc, argv, opts, NULL, 0, 0, NULL, audit_usage);
	if (early >= 0)
		return early;
	ky_store_audit_filter f = {.object = object};
	if (since != NULL) {
		ky_stix_time t;
		if (!ky_stix_time_parse(since, &t)) {
			fprintf(stderr, "kyoyu audit show: --since takes a timestamp such as 2026-12-01T00:00:00Z, not '%s'\n",
				since);
			return KY_EXIT_USAGE;
		}
		f.since_us = t.seconds * 1000000 + t.nanos / 1000;
	}
	if (limit != NULL) {
		char *end;
		long long n = strtoll(limit, &end, 10);
		if (*end != '\0' || n <= 0) {
			fprintf(stderr, "kyoyu audit show: --limit takes a whole number above 0, not '%s'\n", limit);
			return KY_EXIT_USAGE;
		}
		f.limit = (size_t)n;
	}
	if (member != NULL) {
		ky_store_member m;
		if (ky_store_member_get(s, member, &m) != KY_OK)
			return report(global, "audit show");
		f.member_id = m.id;
	}
	if (user != NULL) {
		ky_store_user u;
		if (ky_store_user_get(s, user, &u) != KY_OK)
			return report(global, "audit show");
		f.user_id = u.id;
	}
	showing sh = {.json = json, .rows = json ? json_array() : NULL};
	if (json && sh.rows == NULL)
		return print_owned(NULL, "audit show");
	if (ky_store_audit_find(s, &f, show_row, &sh) != KY_OK) {
		json_decref(sh.rows);
		return report(global, "audit show");
	}
	if (json)
		return print_owned(json_pack("{s:o}", "entries", sh.rows), "audit show");
	if (sh.n == 0)
		printf("no audit entry matches\n");
	return KY_EXIT_OK;
}

static int checkpoint(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	int early = ky_cli_parse("audit checkpoint", argc, argv, NULL, NULL, 0, 0, NULL, audit_usage);
	if (early >= 0)
		return early;
	char path[KY_CONFIG_DB_MAX + 64];
	ky_audit_checkpoint_path(&global->config, global->db_path, path, sizeof(path));
	bool made = false;
	if (ky_audit_checkpoint(s, path, &made) != KY_OK)
		return report(global, "audit checkpoint");
	uint64_t seq;
	char hash[KY_STORE_AUDIT_HEX];
	if (ky_store_audit_head(s, &seq, hash) != KY_OK)
		return report(global, "audit checkpoint");
	if (made)
		printf("signed the audit log up to entry %" PRIu64 " (%s), appended to %s\n", seq, hash, path);
	else
		printf("the audit log's head (entry %" PRIu64 ") is signed already\n", seq);
	return KY_EXIT_OK;
}

int ky_cli_audit(const ky_cli_global *global, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const ky_cli_global *, ky_store *, int, char **);
	} table[] = {{"verify", verify}, {"show", show}, {"checkpoint", checkpoint}};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		audit_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? KY_EXIT_USAGE : KY_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(argv[1], table[i].name) != 0)
			continue;
		ky_store *s = NULL;
		char command[32];
		snprintf(command, sizeof(command), "audit %s", argv[1]);
		if (ky_cli_hub_open(global, command, false, &s, NULL) != KY_OK)
			return KY_EXIT_FAILURE;
		int status = table[i].run(global, s, argc - 1, argv + 1);
		ky_store_close(s);
		return status;
	}
	fprintf(stderr, "kyoyu audit: unknown subcommand '%s' (verify, show, checkpoint)\n", argv[1]);
	return KY_EXIT_USAGE;
}

int ky_cli_pseudonym(const ky_cli_global *global, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		pseudonym_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? KY_EXIT_USAGE : KY_EXIT_OK;
	}
	if (strcmp(argv[1], "resolve") != 0) {
		fprintf(stderr, "kyoyu pseudonym: unknown subcommand '%s' (resolve)\n", argv[1]);
		return KY_EXIT_USAGE;
	}
	bool json = false;
	const char *id = NULL, *reason = NULL;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("pseudonym resolve", argc - 1, argv + 1, opts, &id, 1, 1, NULL, pseudonym_usage);
	if (early >= 0)
		return early;
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "kyoyu pseudonym resolve: say why with --reason TEXT: the lookup is audited with it\n");
		return KY_EXIT_USAGE;
	}
	ky_store *s = NULL;
	if (ky_cli_hub_open(global, "pseudonym resolve", false, &s, NULL) != KY_OK)
		return KY_EXIT_FAILURE;
	ky_store_actor operator = {.via = "kyoyu pseudonym resolve"};
	ky_store_member m;
	char audience[KY_PSEUDONYM_AUDIENCE_MAX];
	int rc = ky_pseudonym_resolve(s, id, &operator, reason, &m, audience, sizeof(audience));
	ky_store_close(s);
	if (rc != KY_OK)
		return report(global, "pseudonym resolve");
	if (json)
		return print_owned(json_pack("{s:s,s:s,s:s,s:s}", "pseudonym", id, "member", m.name, "identity",
						   m.identity_id, "audience", audience),
					 "pseudonym resolve");
	printf("%s is %s (%s) for the audience %s\n", id, m.name, m.identity_id, audience);
	return KY_EXIT_OK;
}
