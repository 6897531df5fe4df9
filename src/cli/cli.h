/*
 * cli: the `kyoyu` command line. The binary's main() only calls ky_cli_main(); every
 * subcommand lives here, in the library, so tests can run it in-process.
 *
 * Exit statuses mean the same for every command that handles many objects:
 *   0 all valid / done, 3 some objects invalid or refused, 2 usage error, 1 other failure.
 */
#ifndef KY_CLI_H
#define KY_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "config/config.h"
#include "policy/policy.h"
#include "store/store.h"

enum {
	KY_EXIT_OK = 0,
	KY_EXIT_FAILURE = 1,
	KY_EXIT_USAGE = 2,
	KY_EXIT_INVALID = 3,
};

/* Options that come before the subcommand and apply to all of them, and the settings of
 * kyoyu.conf, as ky_cli_main() hands them to every command. */
typedef struct ky_cli_global {
	const char *db_path;      /* the hub: --db, else [store] db of kyoyu.conf (default
				   * "kyoyu.db"); never NULL; borrowed from argv or `config`.
				   * It may hold a password: only for opening the hub */
	char db_label[KY_CONFIG_DB_MAX + 64]; /* db_path as it may be shown: passwords
				   * replaced by "***" (ky_uri_redact); every message and
				   * output naming the hub uses this */
	const char *config_path;  /* the kyoyu.conf read (--config, ./kyoyu.conf or
				   * /etc/kyoyu/kyoyu.conf), or NULL when none was */
	ky_config config;         /* its settings over the defaults */
} ky_cli_global;

/* Runs `kyoyu ARGS...`; returns the exit status. Writes to stdout and stderr. */
int ky_cli_main(int argc, char **argv);

/*
 * Opens the hub global->db_path with kyoyu.conf's [store] settings (create: for kyoyu init;
 * *created, which may be NULL, tells whether it was). On failure prints
 * "kyoyu COMMAND: <hub>: <why>" on stderr and returns the store's code; the caller owns *out.
 */
int ky_cli_hub_open(const ky_cli_global *global, const char *command, bool create, ky_store **out, bool *created);

/*
 * For a command that takes no operands and whose only options are --help and, when as_json
 * is not NULL, --json (init, migrate, collection list, key list): parses argv, sets *as_json
 * when --json is given, and returns -1 to go on, or the exit status to return at once (help
 * printed, or a usage error reported with `usage`).
 */
int ky_cli_hub_command_args(int argc, char **argv, const char *command, void (*usage)(FILE *out), bool *as_json);

/* An option of a command, for ky_cli_parse(): a flag (--json), a value (--tier T) or a list
 * (--sector S, given up to max times). */
typedef enum ky_cli_opt_kind { KY_CLI_FLAG, KY_CLI_VALUE, KY_CLI_LIST } ky_cli_opt_kind;

typedef struct ky_cli_opt {
	const char *name;
	ky_cli_opt_kind kind;
	bool *flag;            /* KY_CLI_FLAG: set when given */
	const char **value;    /* KY_CLI_VALUE: the last value given (borrowed from argv) */
	const char **list;     /* KY_CLI_LIST: the values, into list[0..*count) */
	size_t *count;
	size_t max;
} ky_cli_opt;

#define KY_CLI_OPTS_MAX 16

/*
 * Parses argv (argv[0] is the command's last word) against opts (ended by {NULL}; NULL for
 * none) and --help; operands, in order, into operands[0..*n) (at least min_operands, at most
 * max_operands). Returns -1 to go on, or the exit status to return at once: help printed
 * (KY_EXIT_OK), or a usage error reported with `usage` (KY_EXIT_USAGE).
 */
int ky_cli_parse(const char *command, int argc, char **argv, const ky_cli_opt *opts, const char **operands,
		 size_t min_operands, size_t max_operands, size_t *n, void (*usage)(FILE *out));

/* Writes doc (NULL: out of memory) on stdout, compact, in insertion order, and a newline;
 * returns KY_EXIT_OK, or KY_EXIT_FAILURE after saying on stderr that COMMAND could not. */
int ky_cli_print_json(json_t *doc, const char *command);

/*
 * The scope of an operator command's reads of objects (store.h): everything, or with
 * `as_member` (--as MEMBER, not NULL) what that member's users may read, through the one
 * policy decision (policy.h). *viewer gets the malloc'd viewer the scope borrows (NULL for
 * everything): the caller frees it after its reads. Reports on stderr and returns
 * KY_ENOTFOUND for no such member, or the store's failure. Every version read through it is
 * noted in *reads (owned by the caller), for ky_cli_audit_read.
 */
int ky_cli_read_scope(const ky_cli_global *global, const char *command, ky_store *store, const char *as_member,
		      ky_store_reads *reads, ky_viewer **viewer, ky_store_scope *out);

/* Appends to the audit log the operator's read through a scope of ky_cli_read_scope: the
 * versions in *reads (cleared), by `command` ("kyoyu get"), as `as_member` (may be NULL).
 * Nothing when it read nothing that is not TLP:CLEAR. Reports on stderr and returns the
 * store's failure. */
int ky_cli_audit_read(const ky_cli_global *global, const char *command, ky_store *store, const char *as_member,
		      ky_store_reads *reads);

/* Reads the file at path whole, at most max bytes, into *out (malloc'd, NUL-terminated; the
 * caller frees it) of *len bytes. KY_ENOTFOUND, KY_ERROR (cannot read, with the system's
 * reason), KY_EINVALID (larger than max, saying so), KY_ENOMEM. */
int ky_cli_read_text(const char *path, size_t max, char **out, size_t *len);

/* A subcommand of a command that acts on the hub's database: its name and what runs it on
 * the open hub (argv[0] is the subcommand). */
typedef struct ky_cli_subcommand {
	const char *name;
	int (*run)(const ky_cli_global *global, ky_store *s, int argc, char **argv);
} ky_cli_subcommand;

/* Runs `command`'s subcommand argv[1] of table[0..n) on the hub, opened for it and closed
 * after; no subcommand or --help prints `usage`; an unknown one is a usage error naming them
 * all. Returns the exit status. */
int ky_cli_hub_subcommand(const ky_cli_global *global, const char *command, const ky_cli_subcommand *table, size_t n,
			  void (*usage)(FILE *out), int argc, char **argv);

/* The string field `name` of a JSON object (a hub's answer, say), or `missing` when it has
 * none. */
const char *ky_cli_json_text(const json_t *parent, const char *name, const char *missing);

/* JSON string `text` (a hub's answer's free text, which any member may have written) as a
 * terminal may show it, through ky_client_text_clean (with `lines`, its line breaks kept): a
 * new string the caller frees, or NULL when text is no string or memory ran out. */
char *ky_cli_clean_text(const json_t *text, bool lines);

/* Prints this thread's last error as "kyoyu COMMAND: <hub>: <message>" on stderr, naming
 * the hub once (as global->db_label) whether or not the message already starts with it, and
 * with the message passed through ky_cli_hub_message(). */
void ky_cli_hub_report(const ky_cli_global *global, const char *command);

/*
 * Writes this thread's last error message into out[0..size) with every occurrence of the
 * hub's location as given (global->db_path, which may hold a password) replaced by
 * global->db_label: a store or ingest message that quotes the location must not carry its
 * password to the terminal. Cut at a character boundary if longer than size - 1 bytes;
 * always NUL-terminated (size > 0). Returns out.
 */
const char *ky_cli_hub_message(const ky_cli_global *global, char *out, size_t size);

/* `kyoyu validate`: argv[0] is "validate". */
int ky_cli_validate(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu pattern`: argv[0] is "pattern". */
int ky_cli_pattern(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu serve`: the TAXII 2.1 server, until SIGTERM. */
int ky_cli_serve(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu import`: argv[0] is "import". */
int ky_cli_import(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu init`: creates the hub, or says it exists. */
int ky_cli_init(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu migrate`: upgrades the hub's schema. */
int ky_cli_migrate(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu export`: writes the hub's objects (or a selection) as one STIX bundle. */
int ky_cli_export(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu get ID`: prints an object's latest version, or all of them. */
int ky_cli_get(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu stats`: the hub's counts and sizes. */
int ky_cli_stats(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu collection create|list`: argv[0] is "collection". */
int ky_cli_collection(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu key create|list|revoke`: API keys; argv[0] is "key". */
int ky_cli_key(const ky_cli_global *global, int argc, char **argv);

/* The council (cli_council.c): `kyoyu member add|list|show|set-tier|suspend|resume`,
 * `user add|list|set-role|disable`, `group create|add|remove|list`, `rules set|show` and
 * `changes`; argv[0] is the command's name. */
int ky_cli_member(const ky_cli_global *global, int argc, char **argv);
int ky_cli_user(const ky_cli_global *global, int argc, char **argv);
int ky_cli_group(const ky_cli_global *global, int argc, char **argv);
int ky_cli_rules(const ky_cli_global *global, int argc, char **argv);
int ky_cli_changes(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu audit verify|show|checkpoint`: the audit log (docs/audit.md). */
int ky_cli_audit(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu pseudonym resolve ID`: the secretariat's audited lookup of a pseudonym. */
int ky_cli_pseudonym(const ky_cli_global *global, int argc, char **argv);

/* `kyoyu report ...` and `kyoyu rule ...`: the council workflow (cli_report.c). */
int ky_cli_report(const ky_cli_global *global, int argc, char **argv);
int ky_cli_rule(const ky_cli_global *global, int argc, char **argv);
int ky_cli_contribution(const ky_cli_global *global, int argc, char **argv);
int ky_cli_rfi(const ky_cli_global *global, int argc, char **argv);

/* Prints a request for information (the Rfi of the OpenAPI document) for a person: what it
 * asks about, and each addressee's answer or how long it is outstanding. Borrows r. */
void ky_cli_print_rfi(const json_t *r);

/* Prints a ledger (the Contribution of the OpenAPI document) for a person: the window and
 * weights, then each member's score, standing and counts. Borrows doc. */
void ky_cli_print_contribution(const json_t *doc);

#endif
