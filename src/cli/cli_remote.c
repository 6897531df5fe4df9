/*
 * cli_remote: `kyoyu --hub URL whoami|rules ...|report ...|feedback|rfi ...|consult ...`, a member's
 * commands against a remote hub's native API (cli_remote.h is the contract, src/client/ the wire). Every
 * string the hub sends is shown through ky_client_text_clean(), so that a hub (or whatever
 * answers in its place) cannot write escape sequences to the member's terminal; the key is
 * read into one buffer, handed to the client, and wiped.
 */
#include "cli/cli_remote.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "client/client.h"
#include "store/store_consult.h"
#include "store/store_rfi.h"
#include "util/ky_error.h"

/* An API key is 47 characters; the client takes up to 1024; the line may end in "\r\n". */
#define KEY_LINE_MAX 1030

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu --hub URL [--key-file FILE] [--cacert FILE] whoami [--json]\n"
		"       kyoyu --hub URL [--key-file FILE] [--cacert FILE] rules show [--json]\n"
		"       kyoyu --hub URL [--key-file FILE] [--cacert FILE] rules accept [--yes] [--json]\n"
		"       kyoyu --hub URL ... report submit FILE [--audience A]... [--named] [--json]\n"
		"       kyoyu --hub URL ... report list [--state S] [--mine] [--json]\n"
		"       kyoyu --hub URL ... report show REPORT [--json]\n"
		"       kyoyu --hub URL ... report withdraw REPORT --reason TEXT [--json]\n"
		"       kyoyu --hub URL ... feedback REPORT --opinion O [--reason TEXT] [--named] [--json]\n"
		"       kyoyu --hub URL ... feedback REPORT --sighting [--count N] [--first-seen T] [--last-seen T]\n"
		"       kyoyu --hub URL ... feedback REPORT --note TEXT\n"
		"       kyoyu --hub URL ... contribution [--json]\n"
		"       kyoyu --hub URL ... rfi list [--json]\n"
		"       kyoyu --hub URL ... rfi answer ID --nothing-seen | --decline REASON | --object ID... [--json]\n"
		"       kyoyu --hub URL ... consult open --subject S --text T [--with M]... [--tlp L] [--named]\n"
		"                                        [--attach FILE] [--json]\n"
		"       kyoyu --hub URL ... consult list|show ID [--json]\n"
		"       kyoyu --hub URL ... consult post ID --text T [--attach FILE] [--json]\n"
		"       kyoyu --hub URL ... consult close ID [--reason TEXT] [--json]\n"
		"       kyoyu --hub URL ... consult report ID N [--audience A]... [--named] [--json]\n"
		"       kyoyu --hub URL ... watch [--json] [--types T,...] [--catch-up] ... (watch --help)\n"
		"\n"
		"A member's commands, run against a remote hub's API (/api/v1/) with an API key.\n"
		"\n"
		"whoami          who the key is: user, role, member (title, tier), groups, and whether\n"
		"                the hub's rules are accepted\n"
		"rules show      the hub's rules: version, text, whether you have accepted them\n"
		"rules accept    shows the rules and asks \"Accept version N? [y/N]\" on the terminal;\n"
		"                --yes accepts without asking (needed where there is no terminal)\n"
		"report submit   submits FILE's STIX objects (a bundle, a list or one object) to the\n"
		"                exchange: a STIX report and its objects form one unconfirmed report,\n"
		"                other objects reports of their own (docs/council.md). --audience A (any\n"
		"                number of: community, contributors, sector:NAME, group:NAME,\n"
		"                member:NAME) says who reads them; --named names you as their provider\n"
		"report list     the reports you may read: --state S (unconfirmed, proposed,\n"
		"                countermeasure, refuted, withdrawn, revoked), --mine your member's\n"
		"report show     one report: its state, confidence, objects and feedback\n"
		"report withdraw withdraws your member's unconfirmed report\n"
		"feedback        gives feedback on a report: an opinion (strongly-disagree, disagree,\n"
		"                neutral, agree, strongly-agree), a sighting (\"we saw this too\") or a note;\n"
		"                --named names you to the provider and the readers\n"
		"contribution    your member's contribution over the window and how it stands: its\n"
		"                score, the threshold, and whether it is in good standing\n"
		"rfi list        the secretariat's requests for information addressed to your member\n"
		"rfi answer      answers one, once: --object ID (up to 32) names objects your member\n"
		"                submitted (report submit, feedback), --nothing-seen, or --decline REASON\n"
		"consult open    opens a confidential consultation with the secretariat and the\n"
		"                contributors --with names (up to 16): only its parties read it; TLP:RED\n"
		"                unless --tlp says amber+strict, amber or green; you are anonymous to the\n"
		"                contributors unless --named. --attach FILE attaches its STIX objects\n"
		"consult list    the consultations your member is a party of\n"
		"consult show    one consultation with its messages and the objects they attach\n"
		"consult post    posts a message (--attach FILE: with its STIX objects)\n"
		"consult close   closes a consultation you opened (the secretariat: any)\n"
		"consult report  submits the objects your message N attached to the exchange as a\n"
		"                report, as report submit does: until then they stay in the thread\n"
		"watch           prints the live stream of what your member may read as it comes, and\n"
		"                resumes where it stopped (kyoyu --hub URL watch --help)\n"
		"--json          the hub's answer as it came (rules accept: the acceptance; the rules\n"
		"                when there was nothing to accept)\n"
		"\n"
		"--hub URL       https://HOST[:PORT][/PREFIX]; http:// only to this machine\n"
		"                (127.0.0.0/8, [::1], localhost)\n"
		"--key-file FILE the API key is FILE's first line; without it, $KYOYU_KEY\n"
		"--cacert FILE   verify the hub's certificate with this CA bundle (a private CA)\n"
		"\n"
		"exit status: 0 done, 1 the hub could not be reached or failed (or the rules were\n"
		"not accepted), 2 usage error, 3 the hub found the request invalid (report submit:\n"
		"some objects were refused), 4 refused by the hub (401, 403), 5 not found, 6 conflict\n");
}

/* The commands, and which options each takes. */
enum { WHOAMI, RULES_SHOW, RULES_ACCEPT, REPORT_SUBMIT, REPORT_LIST, REPORT_SHOW, REPORT_WITHDRAW, FEEDBACK,
       CONTRIBUTION, RFI_LIST, RFI_ANSWER, CONSULT_OPEN, CONSULT_LIST, CONSULT_SHOW, CONSULT_POST, CONSULT_CLOSE,
       CONSULT_REPORT, WATCH };
static const char *const names[] = {"whoami",	      "rules show",	"rules accept",	 "report submit", "report list",
				    "report show",    "report withdraw", "feedback",	 "contribution",  "rfi list",
				    "rfi answer",     "consult open",	"consult list",	 "consult show",  "consult post",
				    "consult close",  "consult report", "watch"};

#define AUDIENCES_MAX 16

typedef struct run {
	const ky_cli_remote_options *o;
	const char *name; /* "whoami", ... for messages */
	int command;
	bool json;
	bool yes;
	const char *operand;   /* FILE or REPORT */
	const char *audiences[AUDIENCES_MAX];
	size_t naudiences;
	bool named, mine, sighting;
	const char *state, *reason, *opinion, *note, *count, *first_seen, *last_seen;
	bool nothing_seen;
	const char *decline;
	const char *objects[KY_STORE_RFI_OBJECTS_MAX];
	size_t nobjects;
	const char *message;   /* consult report's N */
	const char *subject, *text, *tlp, *attach;
	const char *with[KY_STORE_CONSULT_PARTIES_MAX];
	size_t nwith;
	ky_client *client;
	ky_client_response r;
	json_t *doc;      /* the last 2xx answer's body */
} run;

/* Which commands take which options (bits of 1 << command). */
#define ANY (~0u)
#define ONLY(c) (1u << (c))

/* Whether text is a number as the hub's paths take them (a request's, a consultation's). */
static bool number(const char *text)
{
	size_t len = strlen(text);
	return len > 0 && len <= 18 && strspn(text, "0123456789") == len;
}

/* Parses the command's options and its operand; -1 to go on, else the exit status. */
static int parse(run *x, int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},	      {"yes", no_argument, NULL, 'y'},
		{"help", no_argument, NULL, 'h'},	      {"audience", required_argument, NULL, 'a'},
		{"named", no_argument, NULL, 'n'},	      {"state", required_argument, NULL, 's'},
		{"mine", no_argument, NULL, 'm'},	      {"reason", required_argument, NULL, 'r'},
		{"opinion", required_argument, NULL, 'o'}, {"sighting", no_argument, NULL, 'g'},
		{"count", required_argument, NULL, 'c'},   {"first-seen", required_argument, NULL, 'f'},
		{"last-seen", required_argument, NULL, 'l'}, {"note", required_argument, NULL, 't'},
		{"nothing-seen", no_argument, NULL, 'S'},  {"decline", required_argument, NULL, 'D'},
		{"object", required_argument, NULL, 'O'},  {"subject", required_argument, NULL, 'u'},
		{"text", required_argument, NULL, 'x'},    {"with", required_argument, NULL, 'w'},
		{"tlp", required_argument, NULL, 'T'},     {"attach", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	static const struct {
		int opt;
		unsigned commands;
	} takes[] = {
		{'j', ANY},
		{'y', ONLY(RULES_ACCEPT)},
		{'a', ONLY(REPORT_SUBMIT) | ONLY(CONSULT_REPORT)},
		{'n', ONLY(REPORT_SUBMIT) | ONLY(FEEDBACK) | ONLY(CONSULT_OPEN) | ONLY(CONSULT_REPORT)},
		{'s', ONLY(REPORT_LIST)},
		{'m', ONLY(REPORT_LIST)},
		{'r', ONLY(REPORT_WITHDRAW) | ONLY(FEEDBACK) | ONLY(CONSULT_CLOSE)},
		{'o', ONLY(FEEDBACK)},
		{'g', ONLY(FEEDBACK)},
		{'c', ONLY(FEEDBACK)},
		{'f', ONLY(FEEDBACK)},
		{'l', ONLY(FEEDBACK)},
		{'t', ONLY(FEEDBACK)},
		{'S', ONLY(RFI_ANSWER)},
		{'D', ONLY(RFI_ANSWER)},
		{'O', ONLY(RFI_ANSWER)},
		{'u', ONLY(CONSULT_OPEN)},
		{'x', ONLY(CONSULT_OPEN) | ONLY(CONSULT_POST)},
		{'w', ONLY(CONSULT_OPEN)},
		{'T', ONLY(CONSULT_OPEN)},
		{'A', ONLY(CONSULT_OPEN) | ONLY(CONSULT_POST)},
	};
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return KY_CLIENT_EXIT_OK;
		}
		bool taken = false;
		for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]) && !taken; i++)
			taken = takes[i].opt == c && (takes[i].commands & (1u << x->command));
		if (!taken) {
			fprintf(stderr, "kyoyu %s: unknown option '%s'\n", x->name, argv[optind - 1]);
			usage(stderr);
			return KY_CLIENT_EXIT_USAGE;
		}
		switch (c) {
		case 'j': x->json = true; break;
		case 'y': x->yes = true; break;
		case 'n': x->named = true; break;
		case 'm': x->mine = true; break;
		case 'g': x->sighting = true; break;
		case 's': x->state = optarg; break;
		case 'r': x->reason = optarg; break;
		case 'o': x->opinion = optarg; break;
		case 'c': x->count = optarg; break;
		case 'f': x->first_seen = optarg; break;
		case 'l': x->last_seen = optarg; break;
		case 't': x->note = optarg; break;
		case 'S': x->nothing_seen = true; break;
		case 'D': x->decline = optarg; break;
		case 'u': x->subject = optarg; break;
		case 'x': x->text = optarg; break;
		case 'T': x->tlp = optarg; break;
		case 'A': x->attach = optarg; break;
		case 'w':
			if (x->nwith == KY_STORE_CONSULT_PARTIES_MAX) {
				fprintf(stderr, "kyoyu %s: at most %d --with\n", x->name, KY_STORE_CONSULT_PARTIES_MAX);
				return KY_CLIENT_EXIT_USAGE;
			}
			x->with[x->nwith++] = optarg;
			break;
		case 'O':
			if (x->nobjects == KY_STORE_RFI_OBJECTS_MAX) {
				fprintf(stderr, "kyoyu %s: at most %d --object\n", x->name, KY_STORE_RFI_OBJECTS_MAX);
				return KY_CLIENT_EXIT_USAGE;
			}
			x->objects[x->nobjects++] = optarg;
			break;
		case 'a':
			if (x->naudiences == AUDIENCES_MAX) {
				fprintf(stderr, "kyoyu %s: at most %d --audience\n", x->name, AUDIENCES_MAX);
				return KY_CLIENT_EXIT_USAGE;
			}
			x->audiences[x->naudiences++] = optarg;
			break;
		}
	}
	bool consult_id = x->command == CONSULT_SHOW || x->command == CONSULT_POST || x->command == CONSULT_CLOSE ||
			  x->command == CONSULT_REPORT;
	bool wants_operand = x->command == REPORT_SUBMIT || x->command == REPORT_SHOW || x->command == REPORT_WITHDRAW ||
			     x->command == FEEDBACK || x->command == RFI_ANSWER || consult_id;
	if (wants_operand && optind < argc)
		x->operand = argv[optind++];
	if (x->command == CONSULT_REPORT && optind < argc)
		x->message = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "kyoyu %s: unexpected argument '%s'\n", x->name, argv[optind]);
		usage(stderr);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (wants_operand && x->operand == NULL) {
		fprintf(stderr, "kyoyu %s: expected %s\n", x->name,
			x->command == REPORT_SUBMIT ? "a FILE of STIX objects"
			: x->command == RFI_ANSWER  ? "a request's number"
			: consult_id		    ? "a consultation's number (kyoyu --hub URL consult list)"
						    : "a REPORT id");
		return KY_CLIENT_EXIT_USAGE;
	}
	if (consult_id && !number(x->operand)) {
		fprintf(stderr, "kyoyu %s: '%s' is not a consultation's number (kyoyu --hub URL consult list)\n", x->name,
			x->operand);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == CONSULT_REPORT && (x->message == NULL || !number(x->message))) {
		fprintf(stderr, "kyoyu %s: expected the number N of your message whose objects to submit (consult show ID)\n",
			x->name);
		return KY_CLIENT_EXIT_USAGE;
	}
	if ((x->command == CONSULT_OPEN || x->command == CONSULT_POST) && x->text == NULL) {
		fprintf(stderr, "kyoyu %s: say what with --text TEXT\n", x->name);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == CONSULT_OPEN && x->subject == NULL) {
		fprintf(stderr, "kyoyu %s: give the consultation a --subject S (its parties alone see it)\n", x->name);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == RFI_ANSWER && !number(x->operand)) {
		fprintf(stderr, "kyoyu %s: '%s' is not a request's number (kyoyu --hub URL rfi list)\n", x->name, x->operand);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == RFI_ANSWER && x->nothing_seen + (x->decline != NULL) + (x->nobjects > 0) != 1) {
		fprintf(stderr, "kyoyu rfi answer: give one of --object ID..., --nothing-seen or --decline REASON\n");
		return KY_CLIENT_EXIT_USAGE;
	}
	/* A report id goes into the path: only what STIX ids are made of. */
	if (wants_operand && x->command != REPORT_SUBMIT && x->command != RFI_ANSWER && !consult_id &&
	    (strspn(x->operand, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(x->operand) || strlen(x->operand) > 127)) {
		fprintf(stderr, "kyoyu %s: '%s' is not a report id (the id of its STIX report or object, type--UUID)\n", x->name,
			x->operand);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == REPORT_WITHDRAW && (x->reason == NULL || x->reason[0] == '\0')) {
		fprintf(stderr, "kyoyu %s: say why with --reason TEXT: the change is recorded with it\n", x->name);
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == FEEDBACK && (x->opinion != NULL) + x->sighting + (x->note != NULL) != 1) {
		fprintf(stderr, "kyoyu feedback: give one of --opinion O, --sighting or --note TEXT\n");
		return KY_CLIENT_EXIT_USAGE;
	}
	if (x->command == FEEDBACK && !x->sighting && (x->count || x->first_seen || x->last_seen)) {
		fprintf(stderr, "kyoyu feedback: --count, --first-seen and --last-seen go with --sighting\n");
		return KY_CLIENT_EXIT_USAGE;
	}
	return -1;
}

/* The key, from --key-file's first line or $KYOYU_KEY, into key[0..size); -1 to go on,
 * else the exit status to return. */
static int read_key(run *x, char *key, size_t size)
{
	const char *file = x->o->key_file;
	if (file == NULL) {
		const char *env = getenv("KYOYU_KEY");
		if (env == NULL || env[0] == '\0') {
			fprintf(stderr, "kyoyu %s: no API key: give --key-file FILE (its first line is the key) or set KYOYU_KEY\n",
				x->name);
			return KY_CLIENT_EXIT_USAGE;
		}
		if (strlen(env) >= size) {
			fprintf(stderr, "kyoyu %s: KYOYU_KEY is longer than any API key\n", x->name);
			return KY_CLIENT_EXIT_USAGE;
		}
		strcpy(key, env);
		return -1;
	}
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		fprintf(stderr, "kyoyu %s: cannot read the key file %s: %s\n", x->name, file, strerror(errno));
		return KY_CLIENT_EXIT_FAILED;
	}
	int status = -1;
	size_t n = 0;
	int c;
	while ((c = getc(f)) != EOF && c != '\n' && n < size - 1)
		key[n++] = (char)c;
	key[n] = '\0';
	if (ferror(f)) {
		fprintf(stderr, "kyoyu %s: cannot read the key file %s: %s\n", x->name, file, strerror(errno));
		status = KY_CLIENT_EXIT_FAILED;
	} else if (c != EOF && c != '\n') {
		fprintf(stderr, "kyoyu %s: the first line of the key file %s is longer than any API key\n", x->name, file);
		status = KY_CLIENT_EXIT_USAGE;
	} else {
		if (n > 0 && key[n - 1] == '\r')
			key[--n] = '\0';
		if (n == 0) {
			fprintf(stderr, "kyoyu %s: the first line of the key file %s is empty; expected the API key\n",
				x->name, file);
			status = KY_CLIENT_EXIT_USAGE;
		}
	}
	fclose(f);
	return status;
}

/* Checks the URL, reads the key and makes the client; -1 to go on, else the exit status. */
static int connect_hub(run *x)
{
	char key[KEY_LINE_MAX];
	if (ky_client_url_check(x->o->hub_url, NULL, 0) != KY_OK) {
		fprintf(stderr, "kyoyu %s: %s\n", x->name, ky_error_last());
		return KY_CLIENT_EXIT_USAGE;
	}
	int status = read_key(x, key, sizeof(key));
	if (status < 0) {
		ky_client_options options = {.url = x->o->hub_url, .key = key, .cacert = x->o->cacert};
		int rc = ky_client_new(&x->client, &options);
		if (rc != KY_OK) {
			fprintf(stderr, "kyoyu %s: %s\n", x->name, ky_error_last());
			status = rc == KY_EINVALID ? KY_CLIENT_EXIT_USAGE : KY_CLIENT_EXIT_FAILED;
		}
	}
	explicit_bzero(key, sizeof(key));
	return status;
}

/*
 * Makes a request; on a 2xx answer whose body is a JSON object, returns -1 with x->r and
 * x->doc holding it. Otherwise says why on stderr and returns the exit status: the hub's
 * error as it wrote it, a redirect with its target, a body that is not JSON.
 */
static int call(run *x, const char *method, const char *path, const char *body)
{
	char message[KY_CLIENT_MESSAGE_MAX + 1];

	ky_client_response_clear(&x->r);
	json_decref(x->doc);
	x->doc = NULL;
	if (ky_client_request(x->client, method, path, body, body ? strlen(body) : 0, &x->r) != KY_OK) {
		fprintf(stderr, "kyoyu %s: %s\n", x->name, ky_error_last());
		return KY_CLIENT_EXIT_FAILED;
	}
	long status = x->r.status;
	if (status >= 300 && status < 400) {
		fprintf(stderr, "kyoyu %s: the hub answered %ld, a redirect to %s, which kyoyu does not follow; if that is the"
			" hub, give its URL as --hub\n", x->name, status, x->r.location[0] ? x->r.location : "nowhere");
		return KY_CLIENT_EXIT_FAILED;
	}
	if (status < 200 || status >= 300) {
		fprintf(stderr, "kyoyu %s: the hub answered %s\n", x->name,
			ky_client_hub_error(message, sizeof(message), status, x->r.content_type, x->r.body, x->r.body_len));
		return ky_client_exit_status(status);
	}
	x->doc = json_loadb(x->r.body, x->r.body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(x->doc)) {
		fprintf(stderr, "kyoyu %s: the hub's answer to %s %s is not a JSON object\n", x->name, method, path);
		return KY_CLIENT_EXIT_FAILED;
	}
	return -1;
}

/* Writes the last answer's body as it came, and a newline when it has none. */
static void print_body(const run *x)
{
	fwrite(x->r.body, 1, x->r.body_len, stdout);
	if (x->r.body_len == 0 || x->r.body[x->r.body_len - 1] != '\n')
		putchar('\n');
}

static int finish(void)
{
	return fflush(stdout) == 0 && !ferror(stdout) ? KY_CLIENT_EXIT_OK : KY_CLIENT_EXIT_FAILED;
}

/* POSTs request (taken; NULL: out of memory) to path, as call() does. */
static int post_json(run *x, const char *path, json_t *request)
{
	char *body = request ? json_dumps(request, JSON_COMPACT) : NULL;
	json_decref(request);
	int status = body ? call(x, "POST", path, body) : KY_CLIENT_EXIT_FAILED;
	free(body);
	return status;
}

/* --- what the hub's answers hold ----------------------------------------------------------- */

enum kind { STRING, BOOLEAN, INTEGER_OR_NULL, STRING_OR_NULL, OBJECT, ARRAY };

/* obj[name] when it is of that kind; else NULL, and *missing names the field (the first
 * missing one is kept, so one message names it). */
static json_t *field(json_t *obj, const char *name, enum kind kind, const char **missing)
{
	json_t *v = json_object_get(obj, name);
	bool ok = false;
	switch (kind) {
	case STRING:
		ok = json_is_string(v);
		break;
	case BOOLEAN:
		ok = json_is_boolean(v);
		break;
	case INTEGER_OR_NULL:
		ok = json_is_integer(v) || json_is_null(v);
		break;
	case STRING_OR_NULL:
		ok = json_is_string(v) || json_is_null(v);
		break;
	case OBJECT:
		ok = json_is_object(v);
		break;
	case ARRAY:
		ok = json_is_array(v);
		break;
	}
	if (!ok && *missing == NULL)
		*missing = name;
	return ok ? v : NULL;
}

/* A string of the hub's, made safe to show, in buf; "" for anything that is not a string. */
static const char *shown(json_t *value, char buf[KY_CLIENT_MESSAGE_MAX + 1])
{
	buf[0] = '\0';
	if (json_is_string(value))
		ky_client_text_clean(buf, KY_CLIENT_MESSAGE_MAX + 1, json_string_value(value), json_string_length(value),
				     false);
	return buf;
}

static int shape_error(const run *x, const char *path, const char *missing)
{
	fprintf(stderr, "kyoyu %s: the hub's answer to GET %s lacks '%s' or has it of the wrong type\n", x->name, path,
		missing);
	return KY_CLIENT_EXIT_FAILED;
}

/* --- whoami -------------------------------------------------------------------------------- */

static int whoami(run *x)
{
	int status = call(x, "GET", "/api/v1/me", NULL);
	if (status >= 0)
		return status;
	if (x->json) {
		print_body(x);
		return finish();
	}
	const char *missing = NULL;
	json_t *member = field(x->doc, "member", OBJECT, &missing);
	json_t *groups = field(x->doc, "groups", ARRAY, &missing);
	json_t *rules = field(x->doc, "rules", OBJECT, &missing);
	json_t *user = field(x->doc, "user", STRING, &missing), *role = field(x->doc, "role", STRING, &missing);
	json_t *name = field(member, "name", STRING, &missing), *title = field(member, "title", STRING, &missing);
	json_t *tier = field(member, "tier", STRING, &missing), *mstatus = field(member, "status", STRING, &missing);
	json_t *identity = field(member, "identity", STRING, &missing);
	json_t *required = field(rules, "required", BOOLEAN, &missing);
	json_t *version = field(rules, "version", INTEGER_OR_NULL, &missing);
	json_t *accepted = field(rules, "accepted", BOOLEAN, &missing);
	if (missing != NULL)
		return shape_error(x, "/api/v1/me", missing);

	char a[KY_CLIENT_MESSAGE_MAX + 1], b[KY_CLIENT_MESSAGE_MAX + 1], c[KY_CLIENT_MESSAGE_MAX + 1],
		d[KY_CLIENT_MESSAGE_MAX + 1];
	printf("user      %s (%s)\n", shown(user, a), shown(role, b));
	printf("member    %s: %s (tier %s, %s)\n", shown(name, a), shown(title, b), shown(tier, c), shown(mstatus, d));
	printf("identity  %s\n", shown(identity, a));
	printf("groups    ");
	if (json_array_size(groups) == 0)
		printf("none");
	for (size_t i = 0; i < json_array_size(groups); i++)
		printf("%s%s", i ? ", " : "", shown(json_array_get(groups, i), a));
	printf("\n");
	if (!json_is_true(required) || !json_is_integer(version))
		printf("rules     none required\n");
	else if (json_is_true(accepted))
		printf("rules     version %lld, accepted\n", (long long)json_integer_value(version));
	else
		printf("rules     version %lld, not accepted: kyoyu --hub %s rules accept\n",
		       (long long)json_integer_value(version), x->o->hub_url);
	return finish();
}

/* --- rules --------------------------------------------------------------------------------- */

typedef struct rules {
	bool required;     /* a version to accept exists */
	json_int_t version;
	bool accepted;
	json_t *text, *set;
} rules;

/* GET /api/v1/rules into *out (borrowing x->doc); -1 to go on, else the exit status. */
static int get_rules(run *x, rules *out)
{
	int status = call(x, "GET", "/api/v1/rules", NULL);
	if (status >= 0)
		return status;
	const char *missing = NULL;
	json_t *required = field(x->doc, "required", BOOLEAN, &missing);
	json_t *version = field(x->doc, "version", INTEGER_OR_NULL, &missing);
	json_t *accepted = field(x->doc, "accepted", BOOLEAN, &missing);
	out->text = field(x->doc, "text", STRING_OR_NULL, &missing);
	out->set = field(x->doc, "set", STRING_OR_NULL, &missing);
	if (missing != NULL)
		return shape_error(x, "/api/v1/rules", missing);
	out->version = json_is_integer(version) ? json_integer_value(version) : 0;
	out->required = json_is_true(required) && out->version > 0;
	out->accepted = json_is_true(accepted);
	if (out->required && !json_is_string(out->text))
		return shape_error(x, "/api/v1/rules", "text");
	return -1;
}

/* Prints the rules' version and text on f; -1 to go on, else the exit status. */
static int print_rules(const run *x, const rules *r, FILE *f)
{
	const char *text = json_string_value(r->text);
	size_t len = json_string_length(r->text);
	char when[KY_CLIENT_MESSAGE_MAX + 1];
	char *clean = malloc(len + 1);
	if (clean == NULL) {
		fprintf(stderr, "kyoyu %s: out of memory\n", x->name);
		return KY_CLIENT_EXIT_FAILED;
	}
	ky_client_text_clean(clean, len + 1, text, len, true);
	size_t clean_len = strlen(clean);
	fprintf(f, "the hub's rules, version %lld", (long long)r->version);
	if (json_is_string(r->set))
		fprintf(f, " (set %s)", shown(r->set, when));
	fprintf(f, ":\n\n%s%s\n", clean, clean_len > 0 && clean[clean_len - 1] == '\n' ? "" : "\n");
	free(clean);
	return -1;
}

static int rules_show(run *x)
{
	rules r;
	int status = get_rules(x, &r);
	if (status >= 0)
		return status;
	if (x->json) {
		print_body(x);
		return finish();
	}
	if (!r.required) {
		printf("the hub has no rules; none are required\n");
		return finish();
	}
	status = print_rules(x, &r, stdout);
	if (status >= 0)
		return status;
	if (r.accepted)
		printf("You have accepted version %lld.\n", (long long)r.version);
	else
		printf("You have not accepted version %lld: kyoyu --hub %s rules accept\n", (long long)r.version,
		       x->o->hub_url);
	return finish();
}

/* Asks on the terminal whether to accept; true for "y" or "yes" in any case. */
static bool ask(FILE *in, FILE *out, json_int_t version)
{
	char line[64];
	fprintf(out, "Accept version %lld? [y/N] ", (long long)version);
	fflush(out);
	if (fgets(line, sizeof(line), in) == NULL)
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

static int rules_accept(run *x)
{
	rules r;
	FILE *tty = NULL, *in = NULL, *out = NULL;
	char *body = NULL;
	int status = get_rules(x, &r);
	if (status >= 0)
		goto cleanup;
	if (!r.required || r.accepted) {
		if (x->json)
			print_body(x);
		else if (!r.required)
			printf("the hub has no rules; none are required\n");
		else
			printf("you have accepted version %lld of the hub's rules already; nothing to do\n",
			       (long long)r.version);
		status = finish();
		goto cleanup;
	}
	/* The question goes where a person is: the controlling terminal, even when stdin and
	 * stdout are redirected; a script without one says --yes. */
	if (!x->yes) {
		int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && (tty = fdopen(fd, "r+")) == NULL)
			close(fd);
		if (tty != NULL) {
			in = out = tty;
		} else if (isatty(STDIN_FILENO)) {
			in = stdin;
			out = stderr;
		} else {
			fprintf(stderr,
				"kyoyu %s: there is no terminal to ask on: read the rules (kyoyu --hub %s rules show) and"
				" pass --yes to accept version %lld\n",
				x->name, x->o->hub_url, (long long)r.version);
			status = KY_CLIENT_EXIT_USAGE;
			goto cleanup;
		}
	}
	if (!x->json || !x->yes) {
		status = print_rules(x, &r, x->json ? out : stdout);
		if (status >= 0)
			goto cleanup;
		fflush(stdout);
	}
	if (!x->yes && !ask(in, out, r.version)) {
		fprintf(stderr, "kyoyu %s: version %lld not accepted; nothing was sent to the hub\n", x->name,
			(long long)r.version);
		status = KY_CLIENT_EXIT_FAILED;
		goto cleanup;
	}
	json_int_t version = r.version;
	json_t *request = json_pack("{s:I}", "version", version);
	body = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
	json_decref(request);
	if (body == NULL) {
		fprintf(stderr, "kyoyu %s: out of memory\n", x->name);
		status = KY_CLIENT_EXIT_FAILED;
		goto cleanup;
	}
	status = call(x, "POST", "/api/v1/rules/accept", body);
	if (status >= 0)
		goto cleanup;
	if (x->json) {
		print_body(x);
	} else {
		char when[KY_CLIENT_MESSAGE_MAX + 1];
		printf("accepted version %lld of the hub's rules", (long long)version);
		json_t *at = json_object_get(x->doc, "accepted");
		if (json_is_string(at))
			printf(" at %s", shown(at, when));
		printf("\n");
	}
	status = finish();

cleanup:
	free(body);
	if (tty != NULL)
		fclose(tty);
	return status;
}

/* --- the council workflow ------------------------------------------------------------------ */

/* Prints one report's line, its strings made safe. */
static void report_line(const json_t *r)
{
	char id[KY_CLIENT_MESSAGE_MAX + 1], state[KY_CLIENT_MESSAGE_MAX + 1], rule[KY_CLIENT_MESSAGE_MAX + 1];
	json_t *proposed = json_object_get(r, "rule");
	printf("%s  %-14s  confidence %3lld  agree %lld  disagree %lld%s%s%s\n", shown(json_object_get(r, "id"), id),
	       shown(json_object_get(r, "state"), state), (long long)json_integer_value(json_object_get(r, "confidence")),
	       (long long)json_integer_value(json_object_get(r, "agree")),
	       (long long)json_integer_value(json_object_get(r, "disagree")),
	       json_is_string(proposed) ? "  proposed by rule " : "", json_is_string(proposed) ? shown(proposed, rule) : "",
	       json_is_true(json_object_get(r, "yours")) ? "  (yours)" : "");
}

/* FILE's objects: a bundle's, a list, or one object. NULL after saying why. */
static json_t *read_objects(run *x, const char *file)
{
	json_error_t error;
	json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &error);
	if (doc == NULL) {
		fprintf(stderr, "kyoyu %s: %s: %s (line %d)\n", x->name, file, error.text, error.line);
		return NULL;
	}
	json_t *objects = json_is_array(doc) ? json_incref(doc)
			  : json_is_array(json_object_get(doc, "objects")) ? json_incref(json_object_get(doc, "objects"))
			  : json_is_object(doc) ? json_pack("[O]", doc)
						 : NULL;
	json_decref(doc);
	if (objects == NULL || json_array_size(objects) == 0) {
		fprintf(stderr, "kyoyu %s: %s holds no STIX objects (a bundle, a list of objects or one object)\n", x->name,
			file);
		json_decref(objects);
		return NULL;
	}
	return objects;
}

/* A submission's request: `objects` (taken; may be NULL for none) with --audience and
 * --named. */
static json_t *submission(const run *x, json_t *objects)
{
	json_t *audiences = json_array();
	for (size_t i = 0; audiences != NULL && i < x->naudiences; i++)
		json_array_append_new(audiences, json_string(x->audiences[i]));
	json_t *request = objects ? json_pack("{s:o}", "objects", objects) : json_object();
	if (request != NULL && x->naudiences > 0)
		json_object_set(request, "audiences", audiences);
	if (request != NULL && x->named)
		json_object_set_new(request, "named", json_true());
	json_decref(audiences);
	return request;
}


/* What a submission did (POST /reports, or a consultation's objects), after the request's
 * `status`: each object refused or warned about and the reports they are in; refusals exit
 * as invalid. */
static int submitted(run *x, int status)
{
	if (status >= 0)
		return status;
	json_int_t refused = json_integer_value(json_object_get(x->doc, "refused"));
	if (x->json) {
		print_body(x);
	} else {
		printf("stored %lld, duplicate %lld, refused %lld\n",
		       (long long)json_integer_value(json_object_get(x->doc, "stored")),
		       (long long)json_integer_value(json_object_get(x->doc, "duplicate")), (long long)refused);
		size_t i, k;
		json_t *item, *problem;
		char id[KY_CLIENT_MESSAGE_MAX + 1], text[KY_CLIENT_MESSAGE_MAX + 1];
		json_array_foreach(json_object_get(x->doc, "objects"), i, item)
		{
			const char *outcome = json_string_value(json_object_get(item, "outcome"));
			if (outcome != NULL && strcmp(outcome, "refused") == 0)
				json_array_foreach(json_object_get(item, "problems"), k, problem)
					printf("  refused %s: %s\n", shown(json_object_get(item, "id"), id), shown(problem, text));
			if (json_is_string(json_object_get(item, "warning")))
				printf("  warning %s: %s\n", shown(json_object_get(item, "id"), id),
				       shown(json_object_get(item, "warning"), text));
		}
		json_array_foreach(json_object_get(x->doc, "reports"), i, item)
			report_line(item);
	}
	status = finish();
	return status == KY_CLIENT_EXIT_OK && refused > 0 ? KY_CLIENT_EXIT_INVALID : status;
}

static int report_submit(run *x)
{
	json_t *objects = read_objects(x, x->operand);
	if (objects == NULL)
		return KY_CLIENT_EXIT_USAGE;
	return submitted(x, post_json(x, "/api/v1/reports", submission(x, objects)));
}

static int report_list(run *x)
{
	char path[512], next[256] = "";
	json_t *all = json_array();
	int status = -1;
	do {
		snprintf(path, sizeof(path), "/api/v1/reports?limit=100%s%s%s%s%s", x->state ? "&state=" : "",
			 x->state ? x->state : "", x->mine ? "&mine=true" : "", next[0] ? "&next=" : "", next);
		if (x->state != NULL && strspn(x->state, "abcdefghijklmnopqrstuvwxyz") != strlen(x->state)) {
			fprintf(stderr, "kyoyu %s: --state takes unconfirmed, proposed, countermeasure, refuted, withdrawn or"
				" revoked\n", x->name);
			json_decref(all);
			return KY_CLIENT_EXIT_USAGE;
		}
		status = call(x, "GET", path, NULL);
		if (status >= 0)
			break;
		size_t i;
		json_t *item;
		json_array_foreach(json_object_get(x->doc, "reports"), i, item)
			json_array_append(all, item);
		const char *cursor = json_string_value(json_object_get(x->doc, "next"));
		next[0] = '\0';
		if (json_is_true(json_object_get(x->doc, "more")) && cursor != NULL &&
		    strspn(cursor, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(cursor) &&
		    strlen(cursor) < sizeof(next))
			snprintf(next, sizeof(next), "%s", cursor);
	} while (next[0] != '\0');
	if (status < 0) {
		size_t i;
		json_t *item;
		if (x->json) {
			json_t *doc = json_pack("{s:O}", "reports", all);
			char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
			if (text != NULL)
				printf("%s\n", text);
			free(text);
			json_decref(doc);
		} else {
			json_array_foreach(all, i, item)
				report_line(item);
		}
		status = finish();
	}
	json_decref(all);
	return status;
}

static int report_show(run *x)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/reports/%s", x->operand);
	int status = call(x, "GET", path, NULL);
	if (status >= 0)
		return status;
	if (x->json) {
		print_body(x);
		return finish();
	}
	report_line(x->doc);
	size_t i;
	json_t *item;
	char a[KY_CLIENT_MESSAGE_MAX + 1], b[KY_CLIENT_MESSAGE_MAX + 1], c[KY_CLIENT_MESSAGE_MAX + 1];
	printf("  prior %lld, read by %lld members\n", (long long)json_integer_value(json_object_get(x->doc, "prior")),
	       (long long)json_integer_value(json_object_get(x->doc, "readers")));
	json_array_foreach(json_object_get(x->doc, "objects"), i, item)
		printf("  object %s\n", shown(item, a));
	json_array_foreach(json_object_get(x->doc, "feedback"), i, item)
	{
		json_t *opinion = json_object_get(item, "opinion");
		printf("  %s %s from %s%s%s\n", shown(json_object_get(item, "type"), a), shown(json_object_get(item, "id"), b),
		       shown(json_object_get(item, "from"), c), json_is_string(opinion) ? ": " : "",
		       json_is_string(opinion) ? json_string_value(opinion) : "");
	}
	return finish();
}

/* The outcome of a request: its failure's exit status, or the answer shown, as it came with
 * --json, else through `person`. */
static int shown_answer(run *x, int status, void (*person)(const json_t *doc))
{
	if (status >= 0)
		return status;
	if (x->json)
		print_body(x);
	else
		person(x->doc);
	return finish();
}

static int report_withdraw(run *x)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/reports/%s/transitions", x->operand);
	json_t *request = json_pack("{s:s,s:s}", "to", "withdrawn", "reason", x->reason);
	return shown_answer(x, post_json(x, path, request), report_line);
}

static int feedback(run *x)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/reports/%s/feedback", x->operand);
	json_t *request = json_object();
	if (request != NULL && x->named)
		json_object_set_new(request, "named", json_true());
	if (request != NULL && x->opinion != NULL) {
		json_object_set_new(request, "opinion", json_string(x->opinion));
		if (x->reason)
			json_object_set_new(request, "reason", json_string(x->reason));
	} else if (request != NULL && x->note != NULL) {
		json_object_set_new(request, "note", json_string(x->note));
	} else if (request != NULL) {
		json_t *sighting = json_object();
		char *end = NULL;
		long long count = x->count ? strtoll(x->count, &end, 10) : 0;
		if (x->count != NULL && (*x->count == '\0' || *end != '\0' || count < 0)) {
			fprintf(stderr, "kyoyu feedback: --count takes a whole number, not '%s'\n", x->count);
			json_decref(sighting);
			json_decref(request);
			return KY_CLIENT_EXIT_USAGE;
		}
		if (x->count)
			json_object_set_new(sighting, "count", json_integer(count));
		if (x->first_seen)
			json_object_set_new(sighting, "first_seen", json_string(x->first_seen));
		if (x->last_seen)
			json_object_set_new(sighting, "last_seen", json_string(x->last_seen));
		json_object_set_new(request, "sighting", sighting);
	}
	int status = post_json(x, path, request);
	if (status >= 0)
		return status;
	if (x->json) {
		print_body(x);
		return finish();
	}
	char id[KY_CLIENT_MESSAGE_MAX + 1];
	printf("gave feedback %s on\n", shown(json_object_get(x->doc, "id"), id));
	report_line(json_object_get(x->doc, "report"));
	return finish();
}

static int rfi_list(run *x)
{
	int status = call(x, "GET", "/api/v1/rfis", NULL);
	if (status >= 0)
		return status;
	if (x->json) {
		print_body(x);
	} else {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(x->doc, "rfis"), i, r)
			ky_cli_print_rfi(r);
	}
	return finish();
}

static int rfi_answer(run *x)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/rfis/%s/answer", x->operand);
	json_t *request = json_pack("{s:s}", "answer", x->nothing_seen ? "nothing-seen" : x->decline ? "declined" : "answered");
	if (request != NULL && x->decline != NULL)
		json_object_set_new(request, "reason", json_string(x->decline));
	if (request != NULL && x->nobjects > 0) {
		json_t *objects = json_array();
		for (size_t i = 0; objects != NULL && i < x->nobjects; i++)
			json_array_append_new(objects, json_string(x->objects[i]));
		json_object_set_new(request, "objects", objects);
	}
	return shown_answer(x, post_json(x, path, request), ky_cli_print_rfi);
}

static int contribution(run *x)
{
	return shown_answer(x, call(x, "GET", "/api/v1/contribution", NULL), ky_cli_print_contribution);
}

/* --- confidential consultations ---------------------------------------------------------- */

/* A consultation's line: its number, state, TLP, messages and subject. */
static void consult_line(const json_t *c)
{
	char a[KY_CLIENT_MESSAGE_MAX + 1], b[KY_CLIENT_MESSAGE_MAX + 1], d[KY_CLIENT_MESSAGE_MAX + 1],
		e[KY_CLIENT_MESSAGE_MAX + 1];
	long long count = (long long)json_integer_value(json_object_get(c, "message_count"));
	shown(json_object_get(c, "tlp"), b);
	/* TLP is written in capitals, as TLP 2.0 labels are. */
	for (char *p = b; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	printf("consultation %lld  %s  TLP:%s  %lld message%s, last %s  %s\n",
	       (long long)json_integer_value(json_object_get(c, "id")), shown(json_object_get(c, "state"), a), b, count,
	       count == 1 ? "" : "s", shown(json_object_get(c, "last"), d), shown(json_object_get(c, "subject"), e));
}

/* Who posted a message: its party, and its member when the viewer may know it. */
static void message_from(const json_t *from, char out[2 * KY_CLIENT_MESSAGE_MAX + 8])
{
	char party[KY_CLIENT_MESSAGE_MAX + 1], member[KY_CLIENT_MESSAGE_MAX + 1];
	shown(json_object_get(from, "party"), party);
	if (json_is_string(json_object_get(from, "member")))
		snprintf(out, 2 * KY_CLIENT_MESSAGE_MAX + 8, "%s (%s)", party, shown(json_object_get(from, "member"), member));
	else
		snprintf(out, 2 * KY_CLIENT_MESSAGE_MAX + 8, "%s (anonymous)", party);
}

/* A consultation whole: its line, its parties, and each message, its text indented. */
static void consult_thread(const json_t *c)
{
	char a[KY_CLIENT_MESSAGE_MAX + 1], from[2 * KY_CLIENT_MESSAGE_MAX + 8];
	consult_line(c);
	json_t *opener = json_object_get(c, "opener");
	printf("  opened %s by %s%s\n", shown(json_object_get(c, "opened"), a),
	       json_is_string(opener) ? shown(opener, from) : "a member kept anonymous to you",
	       json_is_true(json_object_get(c, "named")) ? "" : json_is_string(opener) ? ", anonymous to the contributors" : "");
	printf("  parties: the secretariat");
	size_t i, k;
	json_t *item, *o;
	json_array_foreach(json_object_get(c, "parties"), i, item)
		printf(", %s", shown(item, a));
	printf("\n");
	json_array_foreach(json_object_get(c, "messages"), i, item)
	{
		message_from(json_object_get(item, "from"), from);
		printf("\n  #%lld %s from %s:\n", (long long)json_integer_value(json_object_get(item, "n")),
		       shown(json_object_get(item, "posted"), a), from);
		char *clean = ky_cli_clean_text(json_object_get(item, "text"), true);
		if (clean != NULL) {
			for (char *line = clean, *end; line != NULL; line = end ? end + 1 : NULL) {
				end = strchr(line, '\n');
				printf("    %.*s\n", (int)(end ? (size_t)(end - line) : strlen(line)), line);
			}
		}
		free(clean);
		json_array_foreach(json_object_get(item, "objects"), k, o)
			printf("    attaches %s\n", shown(json_object_get(o, "id"), a));
	}
}

static void consult_list_of(const json_t *doc)
{
	size_t i;
	json_t *c;
	if (json_array_size(json_object_get(doc, "consultations")) == 0)
		printf("no consultations\n");
	json_array_foreach(json_object_get(doc, "consultations"), i, c)
		consult_line(c);
}

/* The request of consult open or post: --text, and --attach's objects (NULL after saying why). */
static json_t *consult_request(run *x)
{
	json_t *objects = x->attach ? read_objects(x, x->attach) : NULL;
	if (x->attach != NULL && objects == NULL)
		return NULL;
	json_t *request = json_pack("{s:s}", "text", x->text);
	if (request != NULL && objects != NULL)
		json_object_set(request, "objects", objects);
	json_decref(objects);
	return request;
}

static int consult(run *x)
{
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/consultations/%s", x->operand ? x->operand : "");
	json_t *request = NULL;
	switch (x->command) {
	case CONSULT_LIST:
		return shown_answer(x, call(x, "GET", "/api/v1/consultations", NULL), consult_list_of);
	case CONSULT_SHOW:
		return shown_answer(x, call(x, "GET", path, NULL), consult_thread);
	case CONSULT_CLOSE:
		request = json_object();
		if (request != NULL && x->reason != NULL)
			json_object_set_new(request, "reason", json_string(x->reason));
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/close");
		return shown_answer(x, post_json(x, path, request), consult_line);
	case CONSULT_REPORT:
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/messages/%s/report", x->message);
		return submitted(x, post_json(x, path, submission(x, NULL)));
	default:
		break;
	}
	if ((request = consult_request(x)) == NULL)
		return KY_CLIENT_EXIT_USAGE;
	if (x->command == CONSULT_POST) {
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/messages");
		return shown_answer(x, post_json(x, path, request), consult_thread);
	}
	json_object_set_new(request, "subject", json_string(x->subject));
	if (x->tlp != NULL)
		json_object_set_new(request, "tlp", json_string(x->tlp));
	if (x->named)
		json_object_set_new(request, "named", json_true());
	json_t *with = json_array();
	for (size_t i = 0; with != NULL && i < x->nwith; i++)
		json_array_append_new(with, json_string(x->with[i]));
	json_object_set_new(request, "with", with);
	return shown_answer(x, post_json(x, "/api/v1/consultations", request), consult_thread);
}

int ky_cli_remote(const ky_cli_remote_options *o, int argc, char **argv)
{
	run x = {.o = o};
	int status;

	/* The command's words: one, or a word and its subcommand. */
	static const struct {
		const char *word, *sub;
		int command;
	} words[] = {{"whoami", NULL, WHOAMI},		     {"rules", "show", RULES_SHOW},
		     {"rules", "accept", RULES_ACCEPT},	     {"report", "submit", REPORT_SUBMIT},
		     {"report", "list", REPORT_LIST},	     {"report", "show", REPORT_SHOW},
		     {"report", "withdraw", REPORT_WITHDRAW}, {"feedback", NULL, FEEDBACK},
		     {"contribution", NULL, CONTRIBUTION},	     {"rfi", "list", RFI_LIST},
		     {"rfi", "answer", RFI_ANSWER},	     {"consult", "open", CONSULT_OPEN},
		     {"consult", "list", CONSULT_LIST},	     {"consult", "show", CONSULT_SHOW},
		     {"consult", "post", CONSULT_POST},	     {"consult", "close", CONSULT_CLOSE},
		     {"consult", "report", CONSULT_REPORT}, {"watch", NULL, WATCH}};
	int found = -1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && found < 0; i++)
		if (argc >= (words[i].sub ? 2 : 1) && strcmp(argv[0], words[i].word) == 0 &&
		    (words[i].sub == NULL || strcmp(argv[1], words[i].sub) == 0))
			found = words[i].command;
	if (found >= 0) {
		x.command = found;
	} else if (argc >= 2 &&
		   (strcmp(argv[0], "rules") == 0 || strcmp(argv[0], "report") == 0 || strcmp(argv[0], "rfi") == 0 ||
		    strcmp(argv[0], "consult") == 0) &&
		   (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return KY_CLIENT_EXIT_OK;
	} else {
		if (argc >= 2 && strcmp(argv[0], "rules") == 0)
			fprintf(stderr, "kyoyu rules: '%s' is not a subcommand of a remote hub's rules; use show or accept\n",
				argv[1]);
		else if (argc >= 1 && strcmp(argv[0], "rules") == 0)
			fprintf(stderr, "kyoyu rules: expected a subcommand: show or accept\n");
		else if (argc >= 1 && strcmp(argv[0], "rfi") == 0)
			fprintf(stderr, "kyoyu rfi: a remote hub's rfi subcommands are list and answer\n");
		else if (argc >= 1 && strcmp(argv[0], "consult") == 0)
			fprintf(stderr, "kyoyu consult: its subcommands are open, list, show, post, close and report\n");
		else if (argc >= 1 && strcmp(argv[0], "report") == 0)
			fprintf(stderr, "kyoyu report: a remote hub's report subcommands are submit, list, show and withdraw\n");
		else
			fprintf(stderr,
				"kyoyu: '%s' is not a command of a remote hub; use whoami, rules, report, feedback,"
				" contribution, rfi, consult or watch\n",
				argc >= 1 ? argv[0] : "");
		usage(stderr);
		return KY_CLIENT_EXIT_USAGE;
	}
	x.name = names[x.command];
	if (x.command == WATCH) {
		status = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
				 ? ky_cli_watch(NULL, o->hub_url, argc, argv)
				 : connect_hub(&x);
		if (status < 0)
			status = ky_cli_watch(x.client, o->hub_url, argc, argv);
		ky_client_free(x.client);
		return status;
	}
	int skip = x.command == WHOAMI || x.command == FEEDBACK || x.command == CONTRIBUTION ? 0 : 1;
	status = parse(&x, argc - skip, argv + skip);
	if (status >= 0)
		return status;
	status = connect_hub(&x);
	if (status >= 0)
		goto cleanup;
	switch (x.command) {
	case WHOAMI: status = whoami(&x); break;
	case RULES_SHOW: status = rules_show(&x); break;
	case RULES_ACCEPT: status = rules_accept(&x); break;
	case REPORT_SUBMIT: status = report_submit(&x); break;
	case REPORT_LIST: status = report_list(&x); break;
	case REPORT_SHOW: status = report_show(&x); break;
	case REPORT_WITHDRAW: status = report_withdraw(&x); break;
	case FEEDBACK: status = feedback(&x); break;
	case CONTRIBUTION: status = contribution(&x); break;
	case RFI_LIST: status = rfi_list(&x); break;
	case RFI_ANSWER: status = rfi_answer(&x); break;
	default: status = consult(&x); break;
	}

cleanup:
	json_decref(x.doc);
	ky_client_response_clear(&x.r);
	ky_client_free(x.client);
	return status;
}
