/*
 * cli_main: global options, kyoyu.conf, and the subcommand table of `kyoyu`; and opening
 * the hub as those settings say, for every command that uses one.
 */
#include "cli/cli.h"
#include "cli/cli_remote.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "store/store_audit.h"
#include "util/ky_error.h"
#include "util/ky_uri.h"
#include "util/ky_utf8.h"

typedef int command_fn(const ky_cli_global *global, int argc, char **argv);

static const struct command {
	const char *name;
	command_fn *run;
	const char *summary;
} commands[] = {
	{"validate", ky_cli_validate, "check STIX 2.1 content (a bundle, an array or one object)"},
	{"pattern", ky_cli_pattern, "check STIX patterns and print them in canonical form"},
	{"import", ky_cli_import, "validate STIX content and store it in the hub"},
	{"serve", ky_cli_serve, "serve the hub over TAXII 2.1"},
	{"init", ky_cli_init, "create the hub"},
	{"migrate", ky_cli_migrate, "upgrade the hub's schema to this kyoyu's"},
	{"export", ky_cli_export, "write the hub's objects as a STIX bundle"},
	{"get", ky_cli_get, "print an object by id"},
	{"stats", ky_cli_stats, "counts and sizes of the hub"},
	{"collection", ky_cli_collection, "create and list collections"},
	{"key", ky_cli_key, "create, list and revoke API keys"},
	{"member", ky_cli_member, "add, list and change the council's members"},
	{"user", ky_cli_user, "add, list and change members' users"},
	{"group", ky_cli_group, "create groups of members and change who is in them"},
	{"rules", ky_cli_rules, "set and show the rules every user accepts"},
	{"changes", ky_cli_changes, "every change to the council: who, when, how, why"},
	{"audit", ky_cli_audit, "verify and search the audit log of every read and change"},
	{"pseudonym", ky_cli_pseudonym, "resolve a pseudonym to its member (audited)"},
	{"report", ky_cli_report, "the council's reports: list, show, promote, refute, revoke"},
	{"rule", ky_cli_rule, "add, list and remove the rules that propose promotion"},
	{"contribution", ky_cli_contribution, "the give-and-take ledger: who contributes, who stands"},
	{"rfi", ky_cli_rfi, "requests for information: ask members, see their answers"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--config FILE] [--db PATH] COMMAND [ARGS]\n"
		"       kyoyu --hub URL [--key-file FILE] [--cacert FILE] whoami|rules|report|feedback|consult|watch ...\n"
		"\n"
		"kyoyu is a cyber-threat information-sharing hub (STIX 2.1, TAXII 2.1).\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"global options:\n"
		"  --config FILE  settings (docs/config.md); default ./kyoyu.conf, else\n"
		"                 /etc/kyoyu/kyoyu.conf, else built-in defaults\n"
		"  --db PATH      the hub's database, over [store] db (default kyoyu.db)\n"
		"  --hub URL      a remote hub, for a member's commands: whoami, rules show|accept,\n"
		"                 report submit|list|show|withdraw, feedback, contribution, rfi list|answer,\n"
		"                 consult open|list|show|post|close|report, watch (the key from\n"
		"                 KYOYU_KEY or --key-file FILE;\n"
		"                 --cacert FILE trusts a private CA; docs/client.md)\n"
		"  --help         this help; `kyoyu COMMAND --help` for a command's own\n"
		"  --version      print the version\n"
		"\n"
		"exit status: 0 ok, 3 some objects invalid, 2 usage error or a bad kyoyu.conf,\n"
		"1 other failure (no hub, a file that cannot be read, the database failed)\n");
}

/* Appends text[0..len) to out[*used..size - 1), cut at a character boundary when it does
 * not fit; returns false once something was cut. */
static bool append(char *out, size_t size, size_t *used, const char *text, size_t len)
{
	size_t room = size - 1 - *used;
	size_t n = len <= room ? len : ky_utf8_prefix(text, len, room);
	memcpy(out + *used, text, n);
	*used += n;
	out[*used] = '\0';
	return n == len;
}

const char *ky_cli_hub_message(const ky_cli_global *global, char *out, size_t size)
{
	const char *message = ky_error_last();
	const char *raw = global->db_path;
	size_t raw_len = strlen(raw), used = 0;
	/* A location that redaction leaves as it is has no password to hide. */
	bool hide = raw_len > 0 && strcmp(raw, global->db_label) != 0;

	if (size == 0)
		return out;
	out[0] = '\0';
	for (;;) {
		const char *hit = hide ? strstr(message, raw) : NULL;
		if (hit == NULL) {
			append(out, size, &used, message, strlen(message));
			break;
		}
		if (!append(out, size, &used, message, (size_t)(hit - message)) ||
		    !append(out, size, &used, global->db_label, strlen(global->db_label)))
			break;
		message = hit + raw_len;
	}
	return out;
}

void ky_cli_hub_report(const ky_cli_global *global, const char *command)
{
	/* Room for a full message whose every mention of the location grew by "***". */
	char message[2 * KY_ERROR_MAX];
	ky_cli_hub_message(global, message, sizeof(message));
	size_t n = strlen(global->db_label);
	if (strncmp(message, global->db_label, n) == 0 && message[n] == ':')
		fprintf(stderr, "kyoyu %s: %s\n", command, message);
	else
		fprintf(stderr, "kyoyu %s: %s: %s\n", command, global->db_label, message);
}

int ky_cli_hub_subcommand(const ky_cli_global *global, const char *command, const ky_cli_subcommand *table, size_t n,
			  void (*usage_of)(FILE *out), int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_of(argc < 2 ? stderr : stdout);
		return argc < 2 ? KY_EXIT_USAGE : KY_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], table[i].name) != 0)
			continue;
		char full[64];
		snprintf(full, sizeof(full), "%s %s", command, argv[1]);
		ky_store *s = NULL;
		if (ky_cli_hub_open(global, full, false, &s, NULL) != KY_OK)
			return KY_EXIT_FAILURE;
		int status = table[i].run(global, s, argc - 1, argv + 1);
		ky_store_close(s);
		return status;
	}
	char names[256] = "";
	for (size_t i = 0; i < n; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "", table[i].name);
	fprintf(stderr, "kyoyu %s: unknown subcommand '%s' (%s)\n", command, argv[1], names);
	return KY_EXIT_USAGE;
}

const char *ky_cli_json_text(const json_t *parent, const char *name, const char *missing)
{
	const char *text = json_string_value(json_object_get(parent, name));
	return text ? text : missing;
}

char *ky_cli_clean_text(const json_t *text, bool lines)
{
	size_t len = json_string_length(text);
	char *clean = json_is_string(text) ? malloc(len + 1) : NULL;
	if (clean != NULL)
		ky_client_text_clean(clean, len + 1, json_string_value(text), len, lines);
	return clean;
}

int ky_cli_read_text(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	*out = NULL;
	if (f == NULL)
		return ky_error_set(KY_ENOTFOUND, "cannot read %s: %s", path, strerror(errno));
	char *text = malloc(max + 2);
	size_t n = text ? fread(text, 1, max + 1, f) : 0;
	int rc = text == NULL ? ky_error_set(KY_ENOMEM, "out of memory")
		 : ferror(f)  ? ky_error_set(KY_ERROR, "cannot read %s: %s", path, strerror(errno))
		 : n > max    ? ky_error_set(KY_EINVALID, "%s is larger than %zu bytes, the most it may hold", path, max)
			      : KY_OK;
	fclose(f);
	if (rc != KY_OK) {
		free(text);
		return rc;
	}
	text[n] = '\0';
	*out = text;
	*len = n;
	return KY_OK;
}

int ky_cli_read_scope(const ky_cli_global *global, const char *command, ky_store *store, const char *as_member,
		      ky_store_reads *reads, ky_viewer **viewer, ky_store_scope *out)
{
	*viewer = NULL;
	*out = ky_store_operator_scope;
	out->reads = reads;
	if (as_member == NULL)
		return KY_OK;
	ky_store_member m;
	int rc = ky_store_member_get(store, as_member, &m);
	ky_viewer *v = rc == KY_OK ? malloc(sizeof(*v)) : NULL;
	if (rc == KY_OK && v == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_policy_viewer_of_member(store, &m, v);
	if (rc != KY_OK) {
		free(v);
		ky_cli_hub_report(global, command);
		return rc;
	}
	v->reads = reads;
	*viewer = v;
	*out = ky_policy_scope(v);
	return KY_OK;
}

int ky_cli_audit_read(const ky_cli_global *global, const char *command, ky_store *store, const char *as_member,
		      ky_store_reads *reads)
{
	if (reads->n == 0) {
		ky_store_reads_clear(reads);
		return KY_OK;
	}
	char via[64], detail[KY_STORE_NAME_MAX + 64] = "";
	snprintf(via, sizeof(via), "kyoyu %s", command);
	json_t *d = json_object();
	if (d != NULL && as_member != NULL)
		json_object_set_new(d, "as", json_string(as_member));
	if (d != NULL && reads->incomplete)
		json_object_set_new(d, "incomplete", json_true());
	char *text = d != NULL && json_object_size(d) > 0 ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	snprintf(detail, sizeof(detail), "%s", text ? text : "");
	free(text);
	ky_store_audit_entry e = {.via = via, .action = "read", .detail = detail[0] ? detail : NULL, .vids = reads->vids,
				  .nvids = reads->n};
	int rc = ky_store_audit_append(store, &e, 1);
	ky_store_reads_clear(reads);
	if (rc != KY_OK)
		ky_cli_hub_report(global, command);
	return rc;
}

int ky_cli_hub_open(const ky_cli_global *global, const char *command, bool create, ky_store **out, bool *created)
{
	ky_store_options options = {
		.create = create,
		.synchronous_normal = global->config.synchronous_normal,
		.retry_seconds = (int)global->config.retry_seconds,
	};
	int rc = ky_store_open(out, global->db_path, &options, created);
	if (rc != KY_OK)
		ky_cli_hub_report(global, command);
	return rc;
}

/*
 * Reads kyoyu.conf into global. A file named with --config must exist; a bad file is a
 * usage error (2), like a bad option, because the fix is the same: change what was given.
 * A file that cannot be read at all is 1, as for any other input file.
 */
static int load_config(ky_cli_global *global, const char *explicit_path, const char *db_option)
{
	global->config_path = ky_config_locate(explicit_path);
	int rc = ky_config_load(&global->config, global->config_path, explicit_path != NULL);
	global->db_path = db_option ? db_option : global->config.db;
	ky_uri_redact(global->db_path, global->db_label, sizeof(global->db_label));
	if (rc == KY_OK)
		return KY_EXIT_OK;
	fprintf(stderr, "kyoyu: %s\n", ky_error_last());
	return rc == KY_EINVALID ? KY_EXIT_USAGE : KY_EXIT_FAILURE;
}

int ky_cli_main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"db", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"hub", required_argument, NULL, 'H'},
		{"key-file", required_argument, NULL, 'k'},
		{"cacert", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	ky_cli_global global = {0};
	ky_cli_remote_options remote = {0};
	const char *config_option = NULL, *db_option = NULL;
	int c;

	/* '+' stops at the subcommand so that its own options are left for it. optind 0 makes
	 * glibc read the '+' afresh, which matters when a test calls this more than once. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_option = optarg;
			break;
		case 'd':
			db_option = optarg;
			break;
		case 'H':
			remote.hub_url = optarg;
			break;
		case 'k':
			remote.key_file = optarg;
			break;
		case 'a':
			remote.cacert = optarg;
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
	bool member_command = strcmp(name, "whoami") == 0 || strcmp(name, "rules") == 0 || strcmp(name, "consult") == 0 ||
			      strcmp(name, "watch") == 0 ||
			      (strcmp(name, "rfi") == 0 && optind + 1 < argc &&
			       (strcmp(argv[optind + 1], "list") == 0 || strcmp(argv[optind + 1], "answer") == 0)) ||
			      (strcmp(name, "contribution") == 0 && !(optind + 1 < argc && (strcmp(argv[optind + 1], "set") == 0 ||
											strcmp(argv[optind + 1], "free-riders") == 0))) ||
			      strcmp(name, "feedback") == 0 || (strcmp(name, "report") == 0 && optind + 1 < argc &&
							       (strcmp(argv[optind + 1], "submit") == 0 ||
								strcmp(argv[optind + 1], "list") == 0 ||
								strcmp(argv[optind + 1], "show") == 0 ||
								strcmp(argv[optind + 1], "withdraw") == 0 ||
								strcmp(argv[optind + 1], "--help") == 0));
	if (remote.hub_url != NULL) {
		/* A member's commands are clients of a hub; everything else acts on a database. */
		if (db_option != NULL || !member_command) {
			fprintf(stderr,
				"kyoyu: %s; with --hub URL the commands are whoami, rules show|accept, report"
				" submit|list|show|withdraw, feedback, contribution, rfi list|answer, consult and watch\n",
				db_option ? "--hub (a remote hub) and --db (a database) exclude each other"
					  : "this command acts on the hub's database (--db), not through --hub");
			return KY_EXIT_USAGE;
		}
		return ky_cli_remote(&remote, argc - optind, argv + optind);
	}
	bool remote_only = strcmp(name, "whoami") == 0 || strcmp(name, "consult") == 0 || strcmp(name, "watch") == 0;
	if (remote.key_file != NULL || remote.cacert != NULL || remote_only) {
		fprintf(stderr, "kyoyu: %s is for a member's commands on a remote hub: give the hub with --hub URL\n",
			remote_only ? name : remote.key_file ? "--key-file" : "--cacert");
		return KY_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		int status = load_config(&global, config_option, db_option);
		return status == KY_EXIT_OK ? commands[i].run(&global, argc - optind, argv + optind) : status;
	}
	fprintf(stderr, "kyoyu: '%s' is not a command; `kyoyu --help` lists them\n", name);
	return KY_EXIT_USAGE;
}

int ky_cli_parse(const char *command, int argc, char **argv, const ky_cli_opt *opts, const char **operands,
		 size_t min_operands, size_t max_operands, size_t *n, void (*command_usage)(FILE *out))
{
	struct option table[KY_CLI_OPTS_MAX + 2];
	size_t k = 0;
	for (; opts != NULL && opts[k].name != NULL && k < KY_CLI_OPTS_MAX; k++)
		table[k] = (struct option){opts[k].name, opts[k].kind == KY_CLI_FLAG ? no_argument : required_argument, NULL,
					   256 + (int)k};
	table[k] = (struct option){"help", no_argument, NULL, 'h'};
	table[k + 1] = (struct option){NULL, 0, NULL, 0};
	for (size_t i = 0; i < k; i++)
		if (opts[i].kind == KY_CLI_LIST)
			*opts[i].count = 0;
	size_t got = 0;
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	/* '-' first: operands come back in order, as code 1, wherever they stand among options. */
	while ((c = getopt_long(argc, argv, "-h", table, NULL)) != -1) {
		if (c == 'h') {
			command_usage(stdout);
			return KY_EXIT_OK;
		}
		if (c == 1) {
			if (got == max_operands && max_operands == 0) {
				fprintf(stderr, "kyoyu %s: takes no arguments; the hub is --db or [store] db of kyoyu.conf\n",
					command);
				command_usage(stderr);
				return KY_EXIT_USAGE;
			}
			if (got == max_operands) {
				fprintf(stderr, "kyoyu %s: unexpected argument '%s'\n", command, optarg);
				command_usage(stderr);
				return KY_EXIT_USAGE;
			}
			operands[got++] = optarg;
			continue;
		}
		if (c < 256 || (size_t)(c - 256) >= k) {
			fprintf(stderr, "kyoyu %s: unknown or incomplete option '%s'\n", command, argv[optind - 1]);
			command_usage(stderr);
			return KY_EXIT_USAGE;
		}
		const ky_cli_opt *o = &opts[c - 256];
		if (o->kind == KY_CLI_FLAG) {
			*o->flag = true;
		} else if (o->kind == KY_CLI_VALUE) {
			*o->value = optarg;
		} else if (*o->count == o->max) {
			fprintf(stderr, "kyoyu %s: --%s may be given at most %zu times\n", command, o->name, o->max);
			return KY_EXIT_USAGE;
		} else {
			o->list[(*o->count)++] = optarg;
		}
	}
	if (got < min_operands) {
		fprintf(stderr, "kyoyu %s: expected %zu argument%s\n", command, min_operands, min_operands == 1 ? "" : "s");
		command_usage(stderr);
		return KY_EXIT_USAGE;
	}
	if (n != NULL)
		*n = got;
	return -1;
}

int ky_cli_hub_command_args(int argc, char **argv, const char *command, void (*command_usage)(FILE *out), bool *as_json)
{
	bool json = false;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	const char *operand;
	size_t n = 0;
	int early = ky_cli_parse(command, argc, argv, as_json ? opts : NULL, &operand, 0, 0, &n, command_usage);
	if (as_json != NULL)
		*as_json = json;
	return early;
}

int ky_cli_print_json(json_t *doc, const char *command)
{
	if (doc == NULL || json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
		fprintf(stderr, "kyoyu %s: cannot write the result\n", command);
		return KY_EXIT_FAILURE;
	}
	putchar('\n');
	return KY_EXIT_OK;
}
