/*
 * cli_contribution: the give-and-take ledger on the database (docs/council.md):
 * `kyoyu contribution [--member M] [--json]` and `kyoyu contribution set NAME VALUE --reason
 * TEXT`. The operator is the secretariat: it sees every member's figures. A member's own,
 * through a hub, is `kyoyu --hub URL contribution` (cli_remote.c), printed by the same
 * ky_cli_print_contribution.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "council/ledger.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] contribution [--member M] [--json]\n"
		"       kyoyu [--db PATH] contribution set NAME VALUE --reason TEXT\n"
		"       kyoyu [--db PATH] contribution free-riders [--json]\n"
		"\n"
		"The give-and-take ledger (docs/council.md): each member's contribution over the window\n"
		"(reports that reached a final state, feedback on them and whether it agreed, sightings\n"
		"others confirmed, countermeasures produced), weighed, and whether each contributor is\n"
		"in good standing (its score meets the threshold, or it is in its grace period).\n"
		"\n"
		"  --member M   only member M\n"
		"  set          changes a setting of the ledger, recorded with the reason: a weight\n"
		"               (report-countermeasure, report-refuted, feedback, feedback-agreed,\n"
		"               sighting-confirmed, countermeasure), window-days, grace-days, threshold,\n"
		"               free-rider-reads\n"
		"  free-riders  the members that read at least free-rider-reads versions in the window\n"
		"               and whose score is below the threshold, most reads first\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure (no such member)\n");
}

/* A field of a ledger as text: "?" when a hub's answer lacks it. */
static const char *text_of(const json_t *parent, const char *name)
{
	return ky_cli_json_text(parent, name, "?");
}

static void print_entry(const json_t *e, json_int_t threshold)
{
	const char *standing = json_string_value(json_object_get(e, "standing"));
	json_int_t score = json_integer_value(json_object_get(e, "score"));
	printf("%-24s %-12s score %4lld", text_of(e, "member"), text_of(e, "tier"), (long long)score);
	if (standing == NULL)
		printf("\n");
	else if (strcmp(standing, "grace") == 0)
		printf("  in good standing: grace period until %s\n", text_of(e, "grace_until"));
	else if (strcmp(standing, "good") == 0)
		printf("  in good standing\n");
	else
		printf("  below the threshold of %lld: %lld more to reach it\n", (long long)threshold,
		       (long long)json_integer_value(json_object_get(e, "needed")));
	const json_t *locked = json_object_get(e, "locked");
	if (locked != NULL)
		printf("  locked material it would read in good standing: %lld (%lld of them reports)%s%s%s%s\n",
		       (long long)json_integer_value(json_object_get(locked, "objects")),
		       (long long)json_integer_value(json_object_get(locked, "reports")),
		       json_object_get(locked, "oldest") ? ", added from " : "",
		       json_object_get(locked, "oldest") ? text_of(locked, "oldest") : "",
		       json_object_get(locked, "oldest") ? " to " : "",
		       json_object_get(locked, "oldest") ? text_of(locked, "newest") : "");
	const char *kind;
	json_t *count;
	bool first = true;
	printf("  ");
	json_object_foreach((json_t *)json_object_get(e, "counts"), kind, count) {
		printf("%s%s %lld", first ? "" : ", ", kind, (long long)json_integer_value(count));
		first = false;
	}
	printf("\n");
}

void ky_cli_print_contribution(const json_t *doc)
{
	const json_t *w = json_object_get(doc, "window");
	json_int_t threshold = json_integer_value(json_object_get(doc, "threshold"));
	printf("window: %lld days, %s to %s; threshold %lld; grace period %lld days\n",
	       (long long)json_integer_value(json_object_get(w, "days")), text_of(w, "since"), text_of(w, "until"),
	       (long long)threshold,
	       (long long)json_integer_value(json_object_get(doc, "grace_days")));
	printf("weights:");
	const char *kind;
	json_t *weight;
	json_object_foreach((json_t *)json_object_get(doc, "weights"), kind, weight)
		printf(" %s %lld", kind, (long long)json_integer_value(weight));
	printf("\n");
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(doc, "members"), i, e)
		print_entry(e, threshold);
}

static int show(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const char *member = NULL;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {"member", KY_CLI_VALUE, .value = &member}, {NULL}};
	int early = ky_cli_parse("contribution", argc, argv, opts, NULL, 0, 0, NULL, usage);
	if (early >= 0)
		return early;
	ky_store_member m;
	if (member != NULL && ky_store_member_get(s, member, &m) != KY_OK) {
		ky_cli_hub_report(global, "contribution");
		return KY_EXIT_FAILURE;
	}
	json_t *doc;
	if (ky_ledger_json(s, member ? &m : NULL, &doc) != KY_OK) {
		ky_cli_hub_report(global, "contribution");
		return KY_EXIT_FAILURE;
	}
	int status = KY_EXIT_OK;
	if (json)
		status = ky_cli_print_json(doc, "contribution");
	else
		ky_cli_print_contribution(doc);
	json_decref(doc);
	return status;
}

static int set(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *reason = NULL, *operands[2];
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("contribution set", argc, argv, opts, operands, 2, 2, NULL, usage);
	if (early >= 0)
		return early;
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "kyoyu contribution set: say why with --reason TEXT: the change is recorded with it\n");
		return KY_EXIT_USAGE;
	}
	ky_store_actor operator = {.via = "kyoyu contribution set"};
	int rc = ky_ledger_set(s, operands[0], operands[1], &operator, reason);
	if (rc == KY_EINVALID) {
		fprintf(stderr, "kyoyu contribution set: %s\n", ky_error_last());
		return KY_EXIT_USAGE;
	}
	if (rc != KY_OK) {
		ky_cli_hub_report(global, "contribution set");
		return KY_EXIT_FAILURE;
	}
	printf("set %s to %s\n", operands[0], operands[1]);
	return KY_EXIT_OK;
}

static int free_riders(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	int early = ky_cli_parse("contribution free-riders", argc, argv, opts, NULL, 0, 0, NULL, usage);
	if (early >= 0)
		return early;
	json_t *doc;
	if (ky_ledger_free_riders_json(s, &doc) != KY_OK) {
		ky_cli_hub_report(global, "contribution free-riders");
		return KY_EXIT_FAILURE;
	}
	int status = KY_EXIT_OK;
	if (json) {
		status = ky_cli_print_json(doc, "contribution free-riders");
	} else {
		const json_t *w = json_object_get(doc, "window");
		printf("free riders over %lld days (%s to %s): at least %lld versions read, score below %lld\n",
		       (long long)json_integer_value(json_object_get(w, "days")), text_of(w, "since"), text_of(w, "until"),
		       (long long)json_integer_value(json_object_get(doc, "free_rider_reads")),
		       (long long)json_integer_value(json_object_get(doc, "threshold")));
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(doc, "members"), i, e)
			printf("%-24s %-12s read %6lld  score %4lld\n", text_of(e, "member"), text_of(e, "tier"),
			       (long long)json_integer_value(json_object_get(e, "reads")),
			       (long long)json_integer_value(json_object_get(e, "score")));
		if (json_array_size(json_object_get(doc, "members")) == 0)
			printf("none\n");
	}
	json_decref(doc);
	return status;
}

int ky_cli_contribution(const ky_cli_global *global, int argc, char **argv)
{
	bool setting = argc >= 2 && strcmp(argv[1], "set") == 0;
	bool riders = argc >= 2 && strcmp(argv[1], "free-riders") == 0;
	ky_store *s = NULL;
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return KY_EXIT_OK;
	}
	if (ky_cli_hub_open(global, setting ? "contribution set" : riders ? "contribution free-riders" : "contribution",
			    false, &s, NULL) != KY_OK)
		return KY_EXIT_FAILURE;
	int status = setting  ? set(global, s, argc - 1, argv + 1)
		     : riders ? free_riders(global, s, argc - 1, argv + 1)
			      : show(global, s, argc, argv);
	ky_store_close(s);
	return status;
}
