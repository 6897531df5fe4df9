/*
 * cli_rfi: the secretariat's requests for information on the database (docs/council.md):
 * `kyoyu rfi ask SUBJECT --member M... --question TEXT`, `kyoyu rfi list [--json]` and
 * `kyoyu rfi close ID --reason TEXT`. Members answer through the native API
 * (POST /api/v1/rfis/{id}/answer), or `kyoyu --hub URL rfi list|answer` (cli_remote.c), which
 * prints requests with the same ky_cli_print_rfi.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "council/rfi.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] rfi ask SUBJECT --member M [--member M]... --question TEXT [--json]\n"
		"       kyoyu [--db PATH] rfi list [--json]\n"
		"       kyoyu [--db PATH] rfi close ID --reason TEXT\n"
		"\n"
		"Requests for information (docs/council.md): the secretariat asks named members about a\n"
		"report or an object (SUBJECT, its STIX id); each is notified and answers once, with objects\n"
		"it submitted, \"nothing seen\", or a refusal with its reason (POST /api/v1/rfis/{id}/answer).\n"
		"\n"
		"  ask    asks the members --member names (up to 64) --question TEXT\n"
		"  list   every request, newest first: who has answered what, and how long the open\n"
		"         answers have been outstanding\n"
		"  close  closes a request: it takes no more answers\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure (no such member or request)\n");
}

static const char *text_of(const json_t *parent, const char *name)
{
	return ky_cli_json_text(parent, name, "");
}

/* A member's free text (a question, a reason): whoever wrote it, its control characters do
 * not reach the terminal. */
static void print_clean(const json_t *text)
{
	char *clean = ky_cli_clean_text(text, false);
	if (clean != NULL)
		fputs(clean, stdout);
	free(clean);
}

void ky_cli_print_rfi(const json_t *r)
{
	printf("rfi %lld  about %s  asked %s%s%s\n  ", (long long)json_integer_value(json_object_get(r, "id")),
	       text_of(r, "subject"), text_of(r, "asked"), json_is_string(json_object_get(r, "closed")) ? "  closed " : "",
	       text_of(r, "closed"));
	print_clean(json_object_get(r, "question"));
	printf("\n");
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(r, "addressees"), i, a) {
		const char *answer = text_of(a, "answer");
		printf("  %-24s %s", text_of(a, "member"), answer);
		if (json_object_get(a, "outstanding_seconds"))
			printf(", outstanding for %lld s", (long long)json_integer_value(json_object_get(a, "outstanding_seconds")));
		if (json_object_get(a, "reason")) {
			printf(": ");
			print_clean(json_object_get(a, "reason"));
		}
		size_t k;
		json_t *o;
		json_array_foreach(json_object_get(a, "objects"), k, o)
			printf("%s%s", k ? ", " : ": ", json_string_value(o));
		printf("\n");
	}
}

static int failed(const ky_cli_global *global, const char *command)
{
	ky_cli_hub_report(global, command);
	return KY_EXIT_FAILURE;
}

static int ask(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const char *question = NULL, *subject = NULL, *members[KY_STORE_RFI_ADDRESSEES_MAX];
	size_t nmembers = 0;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json},
				   {"question", KY_CLI_VALUE, .value = &question},
				   {"member", KY_CLI_LIST, .list = members, .count = &nmembers, .max = KY_STORE_RFI_ADDRESSEES_MAX},
				   {NULL}};
	int early = ky_cli_parse("rfi ask", argc, argv, opts, &subject, 1, 1, NULL, usage);
	if (early >= 0)
		return early;
	ky_store_actor operator = {.via = "kyoyu rfi ask"};
	int64_t id = 0;
	int rc = ky_rfi_ask(s, subject, question, members, nmembers, &operator, &id);
	if (rc == KY_EINVALID) {
		fprintf(stderr, "kyoyu rfi ask: %s\n", ky_error_last());
		return KY_EXIT_USAGE;
	}
	json_t *doc = NULL;
	if (rc == KY_OK)
		rc = ky_rfi_json(s, 0, id, &doc);
	if (rc != KY_OK)
		return failed(global, "rfi ask");
	int status = KY_EXIT_OK;
	if (json)
		status = ky_cli_print_json(doc, "rfi ask");
	else
		printf("asked rfi %lld of %zu members\n", (long long)id, nmembers);
	json_decref(doc);
	return status;
}

static int list(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	int early = ky_cli_parse("rfi list", argc, argv, opts, NULL, 0, 0, NULL, usage);
	if (early >= 0)
		return early;
	json_t *doc = NULL;
	if (ky_rfi_json(s, 0, 0, &doc) != KY_OK)
		return failed(global, "rfi list");
	int status = KY_EXIT_OK;
	if (json) {
		status = ky_cli_print_json(doc, "rfi list");
	} else {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(doc, "rfis"), i, r)
			ky_cli_print_rfi(r);
	}
	json_decref(doc);
	return status;
}

static int close_rfi(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *reason = NULL, *id_text = NULL;
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("rfi close", argc, argv, opts, &id_text, 1, 1, NULL, usage);
	if (early >= 0)
		return early;
	char *end;
	long long id = strtoll(id_text, &end, 10);
	if (*end != '\0' || id <= 0) {
		fprintf(stderr, "kyoyu rfi close: '%s' is not a request's number\n", id_text);
		return KY_EXIT_USAGE;
	}
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "kyoyu rfi close: say why with --reason TEXT: the change is recorded with it\n");
		return KY_EXIT_USAGE;
	}
	ky_store_actor operator = {.via = "kyoyu rfi close"};
	if (ky_store_rfi_close(s, id, &operator, reason) != KY_OK)
		return failed(global, "rfi close");
	printf("closed rfi %lld\n", id);
	return KY_EXIT_OK;
}

int ky_cli_rfi(const ky_cli_global *global, int argc, char **argv)
{
	static const ky_cli_subcommand table[] = {{"ask", ask}, {"list", list}, {"close", close_rfi}};
	return ky_cli_hub_subcommand(global, "rfi", table, sizeof(table) / sizeof(table[0]), usage, argc, argv);
}
