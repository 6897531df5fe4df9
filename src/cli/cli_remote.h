/*
 * cli_remote: the member's commands, run against a remote hub over its native API
 * (src/client/client.h) rather than on a database: `kyoyu --hub URL whoami`,
 * `rules show` and `rules accept`. A member has a key, never the hub's database.
 *
 * Exit statuses (issue 12; docs/client.md): 0 done; 1 the hub could not be reached or
 * failed (network, TLS, timeout, 5xx, an answer that makes no sense), or the person
 * declined the rules; 2 usage (the command line, the URL, the key); 3 the hub found the
 * request invalid (400, 413, 415); 4 refused (401, 403); 5 not found (404); 6 conflict (409).
 * A hub's error is printed as "kyoyu COMMAND: the hub answered STATUS TITLE: DESCRIPTION",
 * its text made safe for a terminal; the key is never printed.
 */
#ifndef KY_CLI_REMOTE_H
#define KY_CLI_REMOTE_H

/* The global options that name the hub and the credentials; all borrowed from argv. */
typedef struct ky_cli_remote_options {
	const char *hub_url;  /* --hub URL; never NULL */
	const char *key_file; /* --key-file FILE: its first line is the key; NULL: $KYOYU_KEY */
	const char *cacert;   /* --cacert FILE: a CA bundle to verify the hub with; NULL: the
			       * system's */
} ky_cli_remote_options;

/*
 * Runs a member command: argv[0] is "whoami" or "rules" (then argv[1] "show" or "accept"),
 * the rest its options. Reads the key from o->key_file (its first line, the line end
 * dropped) or else the environment variable KYOYU_KEY; neither is a usage error naming both.
 * Writes results on stdout and messages on stderr (`rules accept` asks on /dev/tty, or on
 * stdin when that is a terminal). Returns the exit status above. Not thread-safe (getopt).
 */
int ky_cli_remote(const ky_cli_remote_options *o, int argc, char **argv);

/* `watch` (cli_watch.c): argv[0] is "watch", the rest its options; prints the hub's live
 * stream through client (borrowed) until it is refused, or caught up with --catch-up.
 * Returns the exit status. Not thread-safe (getopt). */
struct ky_client;
int ky_cli_watch(struct ky_client *client, const char *hub, int argc, char **argv);

#endif
