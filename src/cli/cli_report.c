/*
 * cli_report: the secretariat's commands on the council workflow, on the database
 * (docs/council.md): `kyoyu report list|queue|show|promote|refute|revoke|reopen|withdraw`
 * and `kyoyu rule add|list|remove`. The operator acts as the secretariat; every change is
 * recorded with "kyoyu report ..." as how it was made.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "council/workflow.h"
#include "util/ky_error.h"

static void report_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] report list [--state S] [--proposed] [--member M] [--limit N] [--json]\n"
		"       kyoyu [--db PATH] report queue [--json]\n"
		"       kyoyu [--db PATH] report show REPORT [--json]\n"
		"       kyoyu [--db PATH] report promote REPORT [--course-of-action FILE] [--include FEEDBACK]...\n"
		"                                            [--reason TEXT]\n"
		"       kyoyu [--db PATH] report refute|revoke|reopen|withdraw REPORT --reason TEXT\n"
		"\n"
		"The council's reports (docs/council.md): what members submit to the exchange, each in a\n"
		"state (unconfirmed, countermeasure, refuted, withdrawn, revoked) with the contributors'\n"
		"feedback and the aggregated confidence.\n"
		"\n"
		"  list     the reports, by id: --state S only those in state S, --proposed only those\n"
		"           a rule proposes, --member M only member M's\n"
		"  queue    the promotion queue: unconfirmed reports a rule proposes, with the rule\n"
		"  show     one report with its objects, its feedback and how many members read it\n"
		"  promote  makes an unconfirmed report countermeasure information: its objects, and the\n"
		"           course-of-action in FILE (a STIX course-of-action the secretariat writes), go\n"
		"           to the countermeasures collection for the general members of its audience;\n"
		"           feedback stays with the contributors unless --include FEEDBACK (its id) names it\n"
		"  refute   an unconfirmed report is refuted;  reopen  a refuted one is unconfirmed again\n"
		"  revoke   countermeasure information is revoked (the course-of-action gets a revoked\n"
		"           version);  withdraw  an unconfirmed report is withdrawn\n"
		"REPORT is the id of the report's STIX report, or of its one object.\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure (no such report, a transition its\n"
		"state does not allow: the message says what it allows)\n");
}

static void rule_usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] rule add NAME [--min-agree K] [--max-disagree D] [--min-confidence C]\n"
		"                                [--promotes] --reason TEXT [--json]\n"
		"       kyoyu [--db PATH] rule list [--json]\n"
		"       kyoyu [--db PATH] rule remove NAME --reason TEXT\n"
		"\n"
		"The secretariat's promotion rules (docs/council.md). An unconfirmed report that meets a\n"
		"rule (at least K members agree, at most D disagree, confidence at least C) enters the\n"
		"promotion queue (kyoyu report queue); with --promotes the rule promotes it by itself.\n"
		"Defaults: K 0, D any, C 0.\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure\n");
}

static int failed(const ky_cli_global *global, const char *command)
{
	ky_cli_hub_report(global, command);
	return KY_EXIT_FAILURE;
}

static int print_owned(json_t *doc, const char *command)
{
	int status = ky_cli_print_json(doc, command);
	json_decref(doc);
	return status;
}

static ky_workflow_caller operator_of(const char *via)
{
	return (ky_workflow_caller){.via = via};
}

typedef struct listing {
	ky_store *s;
	const ky_workflow_caller *c;
	json_t *rows;
} listing;

static int list_row(void *ctx, const ky_store_report *r)
{
	listing *l = ctx;
	if (l->rows != NULL)
		return json_array_append_new(l->rows, ky_workflow_report_json(l->s, l->c, r, false)) == 0 ? 0 : KY_ENOMEM;
	printf("%s  %-14s  confidence %3d  agree %d  disagree %d%s%s\n", r->id, ky_report_state_name(r->state),
	       r->confidence, r->agree, r->disagree, r->rule ? "  proposed by rule " : "", r->rule ? r->rule_name : "");
	return 0;
}

static int parse_int(const char *command, const char *option, const char *text, int min, int max, int *out)
{
	char *end;
	long v = text ? strtol(text, &end, 10) : 0;
	if (text == NULL)
		return KY_OK;
	if (*text == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "kyoyu %s: --%s takes a number from %d to %d, not '%s'\n", command, option, min, max, text);
		return KY_EINVALID;
	}
	*out = (int)v;
	return KY_OK;
}

static int list(const ky_cli_global *global, ky_store *s, int argc, char **argv, bool queue)
{
	const char *command = queue ? "report queue" : "report list";
	bool json = false, proposed = queue;
	const char *state = NULL, *member = NULL, *limit = NULL;
	const ky_cli_opt all[] = {{"json", KY_CLI_FLAG, .flag = &json},
				  {"proposed", KY_CLI_FLAG, .flag = &proposed},
				  {"state", KY_CLI_VALUE, .value = &state},
				  {"member", KY_CLI_VALUE, .value = &member},
				  {"limit", KY_CLI_VALUE, .value = &limit},
				  {NULL}};
	const ky_cli_opt only_json[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	int early = ky_cli_parse(command, argc, argv, queue ? only_json : all, NULL, 0, 0, NULL, report_usage);
	if (early >= 0)
		return early;
	ky_store_report_filter f = {.state = queue ? KY_REPORT_UNCONFIRMED : -1, .proposed = proposed};
	ky_report_state parsed;
	if (state != NULL && !ky_report_state_parse(state, &parsed)) {
		fprintf(stderr,
			"kyoyu %s: --state takes unconfirmed, countermeasure, refuted, withdrawn or revoked, not '%s'\n",
			command, state);
		return KY_EXIT_USAGE;
	}
	if (state != NULL)
		f.state = (int)parsed;
	int n = 0;
	if (parse_int(command, "limit", limit, 1, 100000, &n) != KY_OK)
		return KY_EXIT_USAGE;
	f.limit = (size_t)n;
	ky_store_member m;
	if (member != NULL && ky_store_member_get(s, member, &m) != KY_OK)
		return failed(global, command);
	f.provider = member ? m.id : 0;
	ky_workflow_caller c = operator_of("kyoyu report list");
	listing l = {s, &c, json ? json_array() : NULL};
	if (ky_workflow_reports(s, &c, &f, list_row, &l, NULL) != KY_OK) {
		json_decref(l.rows);
		return failed(global, command);
	}
	return json ? print_owned(l.rows, command) : KY_EXIT_OK;
}

static int show(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const char *id = NULL;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	int early = ky_cli_parse("report show", argc, argv, opts, &id, 1, 1, NULL, report_usage);
	if (early >= 0)
		return early;
	ky_workflow_caller c = operator_of("kyoyu report show");
	ky_store_report r;
	if (ky_workflow_report(s, &c, id, &r) != KY_OK)
		return failed(global, "report show");
	json_t *doc = ky_workflow_report_json(s, &c, &r, true);
	if (doc == NULL)
		return failed(global, "report show");
	if (json)
		return print_owned(doc, "report show");
	printf("report %s: %s, confidence %d (prior %d), %d agree, %d disagree, read by %lld members\n", r.id,
	       ky_report_state_name(r.state), r.confidence, r.prior, r.agree, r.disagree,
	       (long long)json_integer_value(json_object_get(doc, "readers")));
	const char *provider = json_string_value(json_object_get(doc, "provider"));
	printf("  provider: %s\n", provider ? provider : "?");
	if (r.rule)
		printf("  proposed by rule %s\n", r.rule_name);
	if (r.course_of_action[0])
		printf("  course-of-action: %s\n", r.course_of_action);
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(doc, "objects"), i, item)
		printf("  object %s\n", json_string_value(item));
	json_array_foreach(json_object_get(doc, "feedback"), i, item) {
		const char *opinion = json_string_value(json_object_get(item, "opinion"));
		printf("  feedback %s from %s%s%s\n", json_string_value(json_object_get(item, "id")),
		       json_string_value(json_object_get(item, "from")), opinion ? ": " : "", opinion ? opinion : "");
	}
	json_decref(doc);
	return KY_EXIT_OK;
}

/* A course-of-action is one STIX object: TAXII's largest object is plenty. */
#define COA_MAX ((size_t)16 << 20)

static int transition(const ky_cli_global *global, ky_store *s, int argc, char **argv, ky_report_state to)
{
	char command[32], via[48];
	snprintf(command, sizeof(command), "report %s", argv[0]);
	snprintf(via, sizeof(via), "kyoyu report %s", argv[0]);
	const char *id = NULL, *reason = NULL, *coa_path = NULL, *include[64];
	size_t ninclude = 0;
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	const ky_cli_opt promote_opts[] = {{"reason", KY_CLI_VALUE, .value = &reason},
					   {"course-of-action", KY_CLI_VALUE, .value = &coa_path},
					   {"include", KY_CLI_LIST, .list = include, .count = &ninclude, .max = 64},
					   {NULL}};
	bool promoting = to == KY_REPORT_COUNTERMEASURE;
	int early = ky_cli_parse(command, argc, argv, promoting ? promote_opts : opts, &id, 1, 1, NULL, report_usage);
	if (early >= 0)
		return early;
	if (reason == NULL && promoting)
		reason = "promoted by the secretariat";
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "kyoyu %s: say why with --reason TEXT: the change is recorded with it\n", command);
		return KY_EXIT_USAGE;
	}
	size_t coa_len = 0;
	char *coa = NULL;
	if (coa_path != NULL && ky_cli_read_text(coa_path, COA_MAX, &coa, &coa_len) != KY_OK) {
		fprintf(stderr, "kyoyu %s: %s\n", command, ky_error_last());
		return KY_EXIT_FAILURE;
	}
	ky_workflow_caller c = operator_of(via);
	ky_store_report r;
	ky_workflow_publish publish = {.coa = coa, .coa_len = coa_len, .include = include, .ninclude = ninclude};
	int rc = ky_workflow_transition(s, &global->config, &c, id, to, reason, &publish, &r);
	free(coa);
	if (rc != KY_OK)
		return failed(global, command);
	printf("report %s is %s%s%s\n", r.id, ky_report_state_name(r.state),
	       r.course_of_action[0] ? ", with the course-of-action " : "", r.course_of_action);
	return KY_EXIT_OK;
}

int ky_cli_report(const ky_cli_global *global, int argc, char **argv)
{
	static const struct {
		const char *name;
		ky_report_state to;
	} moves[] = {{"promote", KY_REPORT_COUNTERMEASURE}, {"refute", KY_REPORT_REFUTED}, {"revoke", KY_REPORT_REVOKED},
		     {"reopen", KY_REPORT_UNCONFIRMED}, {"withdraw", KY_REPORT_WITHDRAWN}};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		report_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? KY_EXIT_USAGE : KY_EXIT_OK;
	}
	const char *sub = argv[1];
	int move = -1;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (strcmp(sub, moves[i].name) == 0)
			move = (int)i;
	if (move < 0 && strcmp(sub, "list") != 0 && strcmp(sub, "queue") != 0 && strcmp(sub, "show") != 0) {
		fprintf(stderr,
			"kyoyu report: unknown subcommand '%s' (list, queue, show, promote, refute, revoke, reopen,"
			" withdraw)\n",
			sub);
		return KY_EXIT_USAGE;
	}
	char command[32];
	snprintf(command, sizeof(command), "report %s", sub);
	ky_store *s = NULL;
	if (ky_cli_hub_open(global, command, false, &s, NULL) != KY_OK)
		return KY_EXIT_FAILURE;
	int status = move >= 0			 ? transition(global, s, argc - 1, argv + 1, moves[move].to)
		     : strcmp(sub, "show") == 0 ? show(global, s, argc - 1, argv + 1)
						 : list(global, s, argc - 1, argv + 1, strcmp(sub, "queue") == 0);
	ky_store_close(s);
	return status;
}

/* --- rules ------------------------------------------------------------------------------------ */

static int rule_add(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false, promotes = false;
	const char *name = NULL, *reason = NULL, *agree = NULL, *disagree = NULL, *confidence = NULL;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json},
				   {"promotes", KY_CLI_FLAG, .flag = &promotes},
				   {"reason", KY_CLI_VALUE, .value = &reason},
				   {"min-agree", KY_CLI_VALUE, .value = &agree},
				   {"max-disagree", KY_CLI_VALUE, .value = &disagree},
				   {"min-confidence", KY_CLI_VALUE, .value = &confidence},
				   {NULL}};
	int early = ky_cli_parse("rule add", argc, argv, opts, &name, 1, 1, NULL, rule_usage);
	if (early >= 0)
		return early;
	ky_store_rule r = {.max_disagree = -1, .promotes = promotes};
	snprintf(r.name, sizeof(r.name), "%s", name);
	if (parse_int("rule add", "min-agree", agree, 0, 1000, &r.min_agree) != KY_OK ||
	    parse_int("rule add", "max-disagree", disagree, 0, 1000, &r.max_disagree) != KY_OK ||
	    parse_int("rule add", "min-confidence", confidence, 0, 100, &r.min_confidence) != KY_OK)
		return KY_EXIT_USAGE;
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "kyoyu rule add: say why with --reason TEXT: the change is recorded with it\n");
		return KY_EXIT_USAGE;
	}
	if (strlen(name) > KY_STORE_NAME_MAX || ky_workflow_rule_check(&r) != KY_OK) {
		fprintf(stderr, "kyoyu rule add: %s\n",
			strlen(name) > KY_STORE_NAME_MAX ? "a rule's name has at most 64 bytes" : ky_error_last());
		return KY_EXIT_USAGE;
	}
	ky_store_actor operator = {.via = "kyoyu rule add"};
	ky_store_rule out;
	if (ky_store_rule_add(s, &r, &operator, reason, &out) != KY_OK)
		return failed(global, "rule add");
	if (json)
		return print_owned(ky_workflow_rule_json(&out), "rule add");
	printf("added rule %s\n", out.name);
	return KY_EXIT_OK;
}

typedef struct rule_listing {
	json_t *rows;
} rule_listing;

static int rule_row(void *ctx, const ky_store_rule *r)
{
	rule_listing *l = ctx;
	if (l->rows != NULL)
		return json_array_append_new(l->rows, ky_workflow_rule_json(r)) == 0 ? 0 : KY_ENOMEM;
	char disagree[16] = "any";
	if (r->max_disagree >= 0)
		snprintf(disagree, sizeof(disagree), "%d", r->max_disagree);
	printf("%s  agree >= %d  disagree <= %s  confidence >= %d%s\n", r->name, r->min_agree, disagree, r->min_confidence,
	       r->promotes ? "  promotes by itself" : "");
	return 0;
}

static int rule_list(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	bool json = false;
	const ky_cli_opt opts[] = {{"json", KY_CLI_FLAG, .flag = &json}, {NULL}};
	int early = ky_cli_parse("rule list", argc, argv, opts, NULL, 0, 0, NULL, rule_usage);
	if (early >= 0)
		return early;
	rule_listing l = {json ? json_array() : NULL};
	if (ky_store_rule_list(s, rule_row, &l) != KY_OK) {
		json_decref(l.rows);
		return failed(global, "rule list");
	}
	return json ? print_owned(l.rows, "rule list") : KY_EXIT_OK;
}

static int rule_remove(const ky_cli_global *global, ky_store *s, int argc, char **argv)
{
	const char *name = NULL, *reason = NULL;
	const ky_cli_opt opts[] = {{"reason", KY_CLI_VALUE, .value = &reason}, {NULL}};
	int early = ky_cli_parse("rule remove", argc, argv, opts, &name, 1, 1, NULL, rule_usage);
	if (early >= 0)
		return early;
	if (reason == NULL || reason[0] == '\0') {
		fprintf(stderr, "kyoyu rule remove: say why with --reason TEXT: the change is recorded with it\n");
		return KY_EXIT_USAGE;
	}
	ky_store_actor operator = {.via = "kyoyu rule remove"};
	if (ky_store_rule_remove(s, name, &operator, reason) != KY_OK)
		return failed(global, "rule remove");
	printf("removed rule %s\n", name);
	return KY_EXIT_OK;
}

int ky_cli_rule(const ky_cli_global *global, int argc, char **argv)
{
	static const ky_cli_subcommand table[] = {{"add", rule_add}, {"list", rule_list}, {"remove", rule_remove}};
	return ky_cli_hub_subcommand(global, "rule", table, sizeof(table) / sizeof(table[0]), rule_usage, argc, argv);
}
