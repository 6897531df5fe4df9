/*
 * cli_council: the operator's commands on the council (--db): `kyoyu member`, `user`,
 * `group`, `rules` and `changes`. Each acts as the secretariat through council/council.h,
 * which checks the input and records every change with the --reason it must be given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "council/council.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

/* --- usage ------------------------------------------------------------------------------- */

static void member_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] member add NAME --tier T [--title TEXT] [--sector S]...\n"
		"                 [--country CC] [--contact EMAIL] --reason WHY [--json]\n"
		"       kyoyu [--db PATH] member list [--json]\n"
		"       kyoyu [--db PATH] member show NAME [--json]\n"
		"       kyoyu [--db PATH] member set-tier NAME T --reason WHY\n"
		"       kyoyu [--db PATH] member suspend NAME --reason WHY\n"
		"       kyoyu [--db PATH] member resume NAME --reason WHY\n"
		"\n"
		"A member is an organisation of the council. NAME: 1 to 64 letters, digits, '.', '_'\n"
		"or '-'; --title its display name (default NAME). T: secretariat, contributor or\n"
		"general. S: a sector of the hub's list (government, local-government, finance,\n"
		"energy, telecom, transport, healthcare, water, chemicals, security-vendor). CC: two\n"
		"letters (ISO 3166-1). The hub makes a STIX identity for each member. A suspended\n"
		"member's users are refused at their next request, on every server of the hub.\n"
		"Every change is recorded with its reason (kyoyu changes).\n"
		"\n"
		"exit status: 0 ok, 2 usage error or invalid input, 1 other failure (no such member,\n"
		"a name taken, no hub)\n");
}

static void user_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] user add NAME --member M --role R --reason WHY [--json]\n"
		"       kyoyu [--db PATH] user list [--member M] [--json]\n"
		"       kyoyu [--db PATH] user set-role NAME R --reason WHY\n"
		"       kyoyu [--db PATH] user disable NAME --reason WHY\n"
		"\n"
		"A user is a person or a machine client of a member. R: reader (reads), analyst\n"
		"(reads, submits, gives feedback) or admin (those, and its member's users and\n"
		"keys; a secretariat admin runs the hub). A disabled user's keys stop working at\n"
		"once. Users added to the secretariat here are recorded as having accepted the\n"
		"rules in force; others accept them through the hub (kyoyu --hub URL rules accept).\n"
		"Make a user's key with kyoyu key create --user NAME.\n"
		"\n"
		"exit status: 0 ok, 2 usage error or invalid input, 1 other failure\n");
}

static void group_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] group create NAME --reason WHY\n"
		"       kyoyu [--db PATH] group add NAME MEMBER --reason WHY\n"
		"       kyoyu [--db PATH] group remove NAME MEMBER --reason WHY\n"
		"       kyoyu [--db PATH] group list [--json]\n"
		"\n"
		"A group is a named set of members (an ISAC, a working group). Members see the\n"
		"groups they are in, never who else is; the secretariat sees the lists.\n"
		"\n"
		"exit status: 0 ok, 2 usage error or invalid input, 1 other failure\n");
}

static void rules_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] rules set FILE --reason WHY\n"
		"       kyoyu [--db PATH] rules show [--json]\n"
		"\n"
		"The council's rules (confidentiality, the duty to provide information): a text\n"
		"(UTF-8, at most %d bytes) with a version. Each new version must be accepted by\n"
		"every user before its next request (kyoyu --hub URL rules accept); a hub without\n"
		"rules asks for no acceptance.\n"
		"\n"
		"exit status: 0 ok, 2 usage error or invalid input, 1 other failure\n",
		KY_STORE_RULES_MAX);
}

static void changes_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] changes [--json]\n"
		"\n"
		"Every change to the council (members, users, groups, keys, rules and their\n"
		"acceptance), in the order made: when, who (the operator or a user of a member),\n"
		"how (a command or an API route), what, and why.\n");
}

/* --- running one command ------------------------------------------------------------------- */

/* The exit status of a council failure: what the operator typed is wrong (2), or the hub
 * refused or failed (1); the message first. */
static int report(const ky_cli_global *global, const char *command, int rc)
{
	ky_cli_hub_report(global, command);
	return rc == KY_EINVALID ? KY_EXIT_USAGE : KY_EXIT_FAILURE;
}

static int finish(void)
{
	return fflush(stdout) == 0 && !ferror(stdout) ? KY_EXIT_OK : KY_EXIT_FAILURE;
}

static int print_json(json_t *doc, const char *command)
{
	int status = ky_cli_print_json(doc, command);
	json_decref(doc);
	return status == KY_EXIT_OK ? finish() : status;
}

static void print_member(const ky_store_member *m)
{
	char created[32];
	ky_clock_format(m->created_us, created);
	printf("name      %s\ntitle     %s\ntier      %s\nstatus    %s\nsectors   ", m->name, m->title, ky_tier_name(m->tier),
	       m->suspended ? "suspended" : "active");
	for (size_t i = 0; i < m->nsectors; i++)
		printf("%s%s", i ? ", " : "", m->sectors[i]);
	printf("%s\ncountry   %s\ncontact   %s\nidentity  %s\ncreated   %s\n", m->nsectors ? "" : "-",
	       m->country[0] ? m->country : "-", m->contact[0] ? m->contact : "-", m->identity_id, created);
}

/* --- kyoyu member ---------------------------------------------------------------------------- */

static int member_add(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *tier = NULL, *title = NULL, *country = NULL, *contact = NULL, *reason = NULL, *name;
	const char *sectors[KY_STORE_SECTORS_MAX];
	size_t nsectors = 0;
	bool json = false;
	const ky_cli_opt opts[] = {{"tier", KY_CLI_VALUE, .value = &tier},
				   {"title", KY_CLI_VALUE, .value = &title},
				   {"sector", KY_CLI_LIST, .list = sectors, .count = &nsectors, .max = KY_STORE_SECTORS_MAX},
				   {"country", KY_CLI_VALUE, .value = &country},
				   {"contact", KY_CLI_VALUE, .value = &contact},
				   {"reason", KY_CLI_VALUE, .value = &reason},
				   {"json", KY_CLI_FLAG, .flag = &json},
				   {NULL}};
	int early = ky_cli_parse("member add", argc, argv, opts, &name, 1, 1, NULL, member_usage);
	if (early >= 0)
		return early;
	ky_council_member_new m = {name, title, country, contact, KY_TIER_GENERAL, sectors, nsectors};
	if (tier == NULL) {
		fprintf(stderr, "kyoyu member add: say the member's tier with --tier secretariat|contributor|general\n");
		return KY_EXIT_USAGE;
	}
	ky_council_caller caller = {NULL, "kyoyu member add"};
	ky_store_member out;
	int rc = ky_council_tier(tier, &m.tier);
	if (rc == KY_OK)
		rc = ky_council_member_add(s, &caller, &m, reason, &out);
	if (rc != KY_OK)
		return report(global, "member add", rc);
	if (json)
		return print_json(ky_council_member_json(&out), "member add");
	printf("added member %s (%s) to %s; its STIX identity is %s\n", out.name, ky_tier_name(out.tier), global->db_label,
	       out.identity_id);
	return finish();
}

typedef struct listing {
	bool json;
	json_t *rows;
	size_t n;
	ky_store *s;
} listing;

static int member_row(void *ctx, const ky_store_member *m)
{
	listing *l = ctx;
	l->n++;
	if (l->json)
		return json_array_append_new(l->rows, ky_council_member_json(m)) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
	printf("%-24s %-12s %-10s %s\n", m->name, ky_tier_name(m->tier), m->suspended ? "suspended" : "active", m->title);
	return 0;
}

/* Lists with `list` (which calls fn per row) and prints {key: [...]} for --json. */
static int list_command(const ky_cli_global *global, ky_store *s, int argc, char **argv, const char *command,
			void (*usage)(FILE *), const char *key, int (*list)(ky_store *s, listing *l))
{
	listing l = {.s = s};
	int early = ky_cli_hub_command_args(argc, argv, command, usage, &l.json);
	if (early >= 0)
		return early;
	l.rows = json_array();
	int rc = l.rows ? list(s, &l) : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(l.rows);
		return report(global, command, rc);
	}
	if (l.json)
		return print_json(json_pack("{s:o}", key, l.rows), command);
	json_decref(l.rows);
	if (l.n == 0)
		printf("%s has no %s yet\n", global->db_label, key);
	return finish();
}

static int list_members(ky_store *s, listing *l)
{
	ky_council_caller caller = {NULL, "kyoyu member list"};
	return ky_council_member_list(s, &caller, NULL, 0, member_row, l, NULL);
}

static int member_show(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const char *name;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	int early = ky_cli_parse("member show", argc, argv, opts, &name, 1, 1, NULL, member_usage);
	if (early >= 0)
		return early;
	ky_council_caller caller = {NULL, "kyoyu member show"};
	ky_store_member m;
	int rc = ky_council_member_get(s, &caller, name, &m);
	if (rc != KY_OK)
		return report(global, "member show", rc);
	if (!json) {
		print_member(&m);
		return finish();
	}
	char *identity = NULL;
	rc = ky_store_member_identity(s, name, &identity);
	json_t *doc = ky_council_member_json(&m);
	json_t *stix = rc == KY_OK ? json_loads(identity, 0, NULL) : NULL;
	free(identity);
	if (stix == NULL) {
		json_decref(doc);
		return report(global, "member show", rc == KY_OK ? KY_ERROR : rc);
	}
	json_object_set_new(doc, "identity_object", stix);
	return print_json(doc, "member show");
}

/* set-tier NAME T, suspend NAME, resume NAME. */
static int member_set(const ky_cli_global *global, ky_store *s, int argc, char **argv, const char *command)
{
	const char *reason = NULL, *operands[2];
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	bool tier_change = strcmp(argv[0], "set-tier") == 0;
	int early = ky_cli_parse(command, argc, argv, opts, operands, tier_change ? 2 : 1, tier_change ? 2 : 1, NULL,
				 member_usage);
	if (early >= 0)
		return early;
	ky_tier tier;
	bool suspend = strcmp(argv[0], "suspend") == 0;
	char via[80];
	snprintf(via, sizeof(via), "kyoyu %s", command);
	ky_council_caller caller = {NULL, via};
	ky_store_member m;
	int rc = tier_change ? ky_council_tier(operands[1], &tier) : KY_OK;
	if (rc == KY_OK)
		rc = ky_council_member_set(s, &caller, operands[0], tier_change ? &tier : NULL, tier_change ? NULL : &suspend,
					   reason, &m);
	if (rc != KY_OK)
		return report(global, command, rc);
	if (tier_change)
		printf("member %s is now of tier %s\n", m.name, ky_tier_name(m.tier));
	else
		printf("member %s is %s%s\n", m.name, m.suspended ? "suspended" : "active",
		       m.suspended ? ": its users are refused from their next request on" : "");
	return finish();
}

/* --- kyoyu user ------------------------------------------------------------------------------ */

static int user_add(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *member = NULL, *role = NULL, *reason = NULL, *name;
	bool json = false;
	const ky_cli_opt opts[] = {{"member", KY_CLI_VALUE, .value = &member},
				   {"role", KY_CLI_VALUE, .value = &role},
				   {"reason", KY_CLI_VALUE, .value = &reason},
				   {"json", KY_CLI_FLAG, .flag = &json},
				   {NULL}};
	int early = ky_cli_parse("user add", argc, argv, opts, &name, 1, 1, NULL, user_usage);
	if (early >= 0)
		return early;
	if (member == NULL || role == NULL) {
		fprintf(stderr, "kyoyu user add: say the user's member and role with --member M --role reader|analyst|admin\n");
		return KY_EXIT_USAGE;
	}
	ky_council_caller caller = {NULL, "kyoyu user add"};
	ky_role r;
	ky_store_user u;
	int rc = ky_council_role(role, &r);
	if (rc == KY_OK)
		rc = ky_council_user_add(s, &caller, name, member, r, reason, &u);
	if (rc != KY_OK)
		return report(global, "user add", rc);
	if (json)
		return print_json(ky_council_user_json(&u), "user add");
	printf("added user %s to member %s as %s; make its key with kyoyu key create --user %s\n", u.name, u.member,
	       ky_role_name(u.role), u.name);
	return finish();
}

static int user_row(void *ctx, const ky_store_user *u)
{
	listing *l = ctx;
	l->n++;
	if (l->json)
		return json_array_append_new(l->rows, ky_council_user_json(u)) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
	printf("%-24s %-24s %-8s %s\n", u->name, u->member, ky_role_name(u->role), u->disabled ? "disabled" : "active");
	return 0;
}

static int user_list(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *member = NULL;
	listing l = {.s = s};
	const ky_cli_opt opts[] = {{"member", KY_CLI_VALUE, .value = &member}, {"json", KY_CLI_FLAG, .flag = &l.json}, {NULL}};
	int early = ky_cli_parse("user list", argc, argv, opts, NULL, 0, 0, NULL, user_usage);
	if (early >= 0)
		return early;
	ky_council_caller caller = {NULL, "kyoyu user list"};
	l.rows = json_array();
	int rc = l.rows ? ky_council_user_list(s, &caller, member, NULL, 0, user_row, &l, NULL)
			: ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(l.rows);
		return report(global, "user list", rc);
	}
	if (l.json)
		return print_json(json_pack("{s:o}", "users", l.rows), "user list");
	json_decref(l.rows);
	if (l.n == 0)
		printf("no users%s%s\n", member ? " in member " : "", member ? member : "");
	return finish();
}

/* set-role NAME R, disable NAME. */
static int user_set(const ky_cli_global *global, ky_store *s, int argc, char **argv, const char *command)
{
	const char *reason = NULL, *operands[2];
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	bool role_change = strcmp(argv[0], "set-role") == 0;
	int early = ky_cli_parse(command, argc, argv, opts, operands, role_change ? 2 : 1, role_change ? 2 : 1, NULL,
				 user_usage);
	if (early >= 0)
		return early;
	char via[80];
	snprintf(via, sizeof(via), "kyoyu %s", command);
	ky_council_caller caller = {NULL, via};
	ky_role role;
	ky_store_user u;
	int rc = role_change ? ky_council_role(operands[1], &role) : KY_OK;
	if (rc == KY_OK)
		rc = ky_council_user_set(s, &caller, operands[0], role_change ? &role : NULL, !role_change, reason, &u);
	if (rc != KY_OK)
		return report(global, command, rc);
	if (role_change)
		printf("user %s is now %s\n", u.name, ky_role_name(u.role));
	else
		printf("user %s is disabled: its keys are refused from the next request on\n", u.name);
	return finish();
}

/* --- kyoyu group ----------------------------------------------------------------------------- */

static int group_create(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *reason = NULL, *name;
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("group create", argc, argv, opts, &name, 1, 1, NULL, group_usage);
	if (early >= 0)
		return early;
	ky_council_caller caller = {NULL, "kyoyu group create"};
	int rc = ky_council_group_create(s, &caller, name, reason, NULL);
	if (rc != KY_OK)
		return report(global, "group create", rc);
	printf("created group %s\n", name);
	return finish();
}

static int group_member(const ky_cli_global *global, ky_store *s, int argc, char **argv, const char *command)
{
	const char *reason = NULL, *operands[2];
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse(command, argc, argv, opts, operands, 2, 2, NULL, group_usage);
	if (early >= 0)
		return early;
	bool add = strcmp(argv[0], "add") == 0, changed;
	char via[80];
	snprintf(via, sizeof(via), "kyoyu %s", command);
	ky_council_caller caller = {NULL, via};
	int rc = ky_council_group_member(s, &caller, operands[0], operands[1], add, reason, &changed);
	if (rc != KY_OK)
		return report(global, command, rc);
	printf(changed ? "member %s is %s group %s\n" : "member %s was %s group %s already\n", operands[1],
	       add ? "in" : "out of", operands[0]);
	return finish();
}

static int group_row(void *ctx, const ky_store_group *g)
{
	listing *l = ctx;
	l->n++;
	json_t *o = ky_council_group_json(l->s, g, true);
	if (o == NULL)
		return ky_error_last_code() != KY_OK ? ky_error_last_code() : ky_error_set(KY_ENOMEM, "out of memory");
	if (l->json)
		return json_array_append_new(l->rows, o) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
	printf("%-24s", g->name);
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(o, "members"), i, m) printf("%s%s", i ? ", " : " ", json_string_value(m));
	printf("\n");
	json_decref(o);
	return 0;
}

static int list_groups(ky_store *s, listing *l)
{
	ky_council_caller caller = {NULL, "kyoyu group list"};
	return ky_council_group_list(s, &caller, NULL, 0, group_row, l, NULL);
}

/* --- kyoyu rules ----------------------------------------------------------------------------- */

static int rules_set(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *reason = NULL, *path;
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("rules set", argc, argv, opts, &path, 1, 1, NULL, rules_usage);
	if (early >= 0)
		return early;
	char *text = NULL;
	size_t len = 0;
	int64_t version = 0;
	ky_council_caller caller = {NULL, "kyoyu rules set"};
	int rc = ky_cli_read_text(path, KY_STORE_RULES_MAX, &text, &len);
	if (rc == KY_OK)
		rc = ky_council_rules_set(s, &caller, text, len, reason, &version);
	free(text);
	if (rc != KY_OK)
		return report(global, "rules set", rc);
	printf("the rules are now version %lld; every user accepts them before its next request\n", (long long)version);
	return finish();
}

static int rules_show(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	int early = ky_cli_hub_command_args(argc, argv, "rules show", rules_usage, &json);
	if (early >= 0)
		return early;
	ky_store_rules r;
	int rc = ky_store_rules_get(s, &r);
	if (rc != KY_OK)
		return report(global, "rules show", rc);
	char set[32];
	ky_clock_format(r.set_us, set);
	int status;
	if (json) {
		status = print_json(r.version ? json_pack("{s:b,s:I,s:s,s:s%}", "required", 1, "version", (json_int_t)r.version,
							  "set", set, "text", r.text, r.len)
					      : json_pack("{s:b,s:n,s:n,s:n}", "required", 0, "version", "set", "text"),
				    "rules show");
	} else {
		if (r.version)
			printf("rules version %lld, set %s:\n\n%s%s", (long long)r.version, set, r.text,
			       r.len && r.text[r.len - 1] == '\n' ? "" : "\n");
		else
			printf("%s has no rules: its users accept nothing before they use it\n", global->db_label);
		status = finish();
	}
	ky_store_rules_clear(&r);
	return status;
}

/* --- kyoyu changes --------------------------------------------------------------------------- */

static int change_row(void *ctx, const ky_store_change *c)
{
	listing *l = ctx;
	char at[32];
	ky_clock_format(c->at_us, at);
	l->n++;
	if (!l->json) {
		printf("%s  %-18s %-24s by %s%s%s via %s: %s\n", at, c->action, c->subject, c->user[0] ? c->user : "the operator",
		       c->member[0] ? " of " : "", c->member, c->via, c->reason[0] ? c->reason : "-");
		return 0;
	}
	json_t *detail = c->detail[0] ? json_loads(c->detail, 0, NULL) : json_null();
	json_t *row = json_pack("{s:I,s:s,s:o,s:o,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)c->id, "at", at, "user",
				c->user[0] ? json_string(c->user) : json_null(), "member",
				c->member[0] ? json_string(c->member) : json_null(), "via", c->via, "action", c->action,
				"subject", c->subject, "detail", detail ? detail : json_null(), "reason", c->reason);
	return json_array_append_new(l->rows, row) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

static int list_changes(ky_store *s, listing *l)
{
	return ky_store_change_list(s, 0, 0, change_row, l, NULL);
}

/* --- dispatch ------------------------------------------------------------------------------- */

typedef struct subcommand {
	const char *name;
	int (*run)(const ky_cli_global *global, ky_store *s, int argc, char **argv, const char *command);
} subcommand;

/* Opens the hub and runs the subcommand argv[1] of `group` (argv[0]). */
static int dispatch(const ky_cli_global *global, int argc, char **argv, const subcommand *table, size_t n,
		    void (*usage)(FILE *))
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return KY_EXIT_OK;
	}
	for (size_t i = 0; argc >= 2 && i < n; i++) {
		if (strcmp(argv[1], table[i].name) != 0)
			continue;
		char command[64];
		snprintf(command, sizeof(command), "%s %s", argv[0], argv[1]);
		for (int a = 2; a < argc; a++)
			if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
				usage(stdout);
				return KY_EXIT_OK;
			}
		ky_store *s = NULL;
		if (ky_cli_hub_open(global, command, false, &s, NULL) != KY_OK)
			return KY_EXIT_FAILURE;
		int status = table[i].run(global, s, argc - 1, argv + 1, command);
		ky_store_close(s);
		return status;
	}
	if (argc >= 2 && strcmp(argv[0], "rules") == 0 && strcmp(argv[1], "accept") == 0)
		fprintf(stderr, "kyoyu rules accept: a person accepts the rules through the hub: kyoyu --hub URL rules accept\n");
	else if (argc >= 2)
		fprintf(stderr, "kyoyu %s: '%s' is not a subcommand\n", argv[0], argv[1]);
	else
		fprintf(stderr, "kyoyu %s: expected a subcommand\n", argv[0]);
	usage(stderr);
	return KY_EXIT_USAGE;
}

static int run_member_add(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return member_add(g, s, argc, argv);
}

static int run_member_list(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	return list_command(g, s, argc, argv, command, member_usage, "members", list_members);
}

static int run_member_show(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return member_show(g, s, argc, argv);
}

int ky_cli_member(const ky_cli_global *global, int argc, char **argv)
{
	static const subcommand table[] = {{"add", run_member_add},   {"list", run_member_list}, {"show", run_member_show},
					   {"set-tier", member_set},  {"suspend", member_set},   {"resume", member_set}};
	return dispatch(global, argc, argv, table, sizeof(table) / sizeof(table[0]), member_usage);
}

static int run_user_add(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return user_add(g, s, argc, argv);
}

static int run_user_list(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return user_list(g, s, argc, argv);
}

int ky_cli_user(const ky_cli_global *global, int argc, char **argv)
{
	static const subcommand table[] = {
		{"add", run_user_add}, {"list", run_user_list}, {"set-role", user_set}, {"disable", user_set}};
	return dispatch(global, argc, argv, table, sizeof(table) / sizeof(table[0]), user_usage);
}

static int run_group_create(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return group_create(g, s, argc, argv);
}

static int run_group_list(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	return list_command(g, s, argc, argv, command, group_usage, "groups", list_groups);
}

int ky_cli_group(const ky_cli_global *global, int argc, char **argv)
{
	static const subcommand table[] = {
		{"create", run_group_create}, {"add", group_member}, {"remove", group_member}, {"list", run_group_list}};
	return dispatch(global, argc, argv, table, sizeof(table) / sizeof(table[0]), group_usage);
}

static int run_rules_set(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return rules_set(g, s, argc, argv);
}

static int run_rules_show(const ky_cli_global *g, ky_store *s, int argc, char **argv, const char *command)
{
	(void)command;
	return rules_show(g, s, argc, argv);
}

int ky_cli_rules(const ky_cli_global *global, int argc, char **argv)
{
	static const subcommand table[] = {{"set", run_rules_set}, {"show", run_rules_show}};
	return dispatch(global, argc, argv, table, sizeof(table) / sizeof(table[0]), rules_usage);
}

int ky_cli_changes(const ky_cli_global *global, int argc, char **argv)
{
	for (int a = 1; a < argc; a++)
		if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
			changes_usage(stdout);
			return KY_EXIT_OK;
		}
	ky_store *s = NULL;
	if (ky_cli_hub_open(global, "changes", false, &s, NULL) != KY_OK)
		return KY_EXIT_FAILURE;
	int status = list_command(global, s, argc, argv, "changes", changes_usage, "changes", list_changes);
	ky_store_close(s);
	return status;
}
