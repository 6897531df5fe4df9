/*
 * cli_watch: `kyoyu --hub URL watch`, the live stream for a person (one line per event) or a
 * script (--json: one envelope per line), that remembers where it stopped and resumes from
 * there (docs/client.md, docs/stream.md).
 */
#include "cli/cli_remote.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "client/client.h"
#include "util/ky_error.h"

/* An event's data at most: the largest object a hub takes, and its envelope. */
#define EVENT_MAX ((size_t)33 << 20)
/* How long silence ends a stream: the hub's heartbeats come every 15 s by default. */
#define IDLE_SECONDS 90
/* Pauses between reconnections, doubling from the first to the last. */
#define PAUSE_FIRST 1
#define PAUSE_LAST 30

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu --hub URL watch [--json] [--types T,...] [--collections C,...]\n"
		"                         [--min-confidence N] [--states S,...] [--from-start]\n"
		"                         [--state-file FILE] [--catch-up]\n"
		"\n"
		"Prints the hub's live stream of what your member may read, as it is committed: one\n"
		"line per event, or with --json its envelope as one JSON line. It remembers the last\n"
		"event in the state file (--state-file FILE; by default one per hub under\n"
		"$XDG_STATE_HOME/kyoyu, else ~/.local/state/kyoyu) and resumes after it next time,\n"
		"and reconnects by itself when the connection drops. The first time it starts from\n"
		"now, or with --from-start from the oldest event the hub holds. --catch-up prints what\n"
		"was missed and exits. Filters: --types, --collections (names or ids), --min-confidence\n"
		"(STIX confidence), --states (report states: unconfirmed, countermeasure, ...).\n"
		"\n"
		"exit status: 0 caught up (--catch-up), 2 usage error, 4 refused by the hub (a revoked\n"
		"key, a suspended member), 1 any other failure\n");
}

typedef struct watch {
	const char *hub;
	bool json, catch_up;
	char state_file[4096];
	char last[24];           /* the last event's id, "" before the first */
	char *data;              /* the event being read: its data lines */
	size_t data_len, data_cap;
	char id[24], kind[32];
	char *line;              /* the line being read */
	size_t line_len, line_cap;
	bool caught_up, too_big;
	unsigned events;
} watch;

/* The state file of hub by default: its URL's letters and digits, the rest '_'. */
static bool default_state_file(const char *hub, char *out, size_t size)
{
	const char *base = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char dir[3072];
	if (base != NULL && *base == '/')
		snprintf(dir, sizeof(dir), "%s/kyoyu", base);
	else if (home != NULL && *home == '/')
		snprintf(dir, sizeof(dir), "%s/.local/state/kyoyu", home);
	else
		return false;
	/* Each level, as mkdir -p would; one that exists is fine. */
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	mkdir(dir, 0700);
	char name[256];
	size_t n = 0;
	for (const char *c = hub; *c && n + 1 < sizeof(name); c++)
		name[n++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ? *c : '_';
	name[n] = '\0';
	return snprintf(out, size, "%s/watch-%s", dir, name) < (int)size;
}

static void load_state(watch *w)
{
	FILE *f = fopen(w->state_file, "r");
	if (f == NULL)
		return;
	char text[32] = "";
	if (fgets(text, sizeof(text), f) != NULL) {
		text[strcspn(text, "\n")] = '\0';
		size_t n = strlen(text);
		if (n > 0 && n < sizeof(w->last) && strspn(text, "0123456789") == n)
			memcpy(w->last, text, n + 1);
	}
	fclose(f);
}

/* Writes the last event's id whole or not at all: a new file renamed over the old. */
static void save_state(const watch *w)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", w->state_file);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return;
	bool ok = fprintf(f, "%s\n", w->last) > 0;
	ok = fclose(f) == 0 && ok;
	if (ok)
		rename(tmp, w->state_file);
	else
		unlink(tmp);
}

/* A hub string as a terminal may show it. */
static const char *shown(const json_t *v, char *buf, size_t size)
{
	buf[0] = '\0';
	if (json_is_string(v))
		ky_client_text_clean(buf, size, json_string_value(v), json_string_length(v), false);
	return buf;
}

static void print_event(const watch *w, json_t *e)
{
	if (w->json) {
		char *text = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text != NULL)
			printf("%s\n", text);
		free(text);
		return;
	}
	char kind[64], id[256], tlp[64], what[512], version[64];
	shown(json_object_get(e, "kind"), kind, sizeof(kind));
	if (strcmp(kind, "overflow") == 0) {
		char after[64];
		printf("%s overflow: the hub no longer holds the events before %lld; fetch what you missed over TAXII with"
		       " added_after=%s\n",
		       w->id, (long long)json_integer_value(json_object_get(e, "oldest")),
		       shown(json_object_get(e, "added_after"), after, sizeof(after)));
		return;
	}
	json_t *object = json_object_get(e, "object"), *note = json_object_get(e, "notification");
	json_t *label = json_object_get(object, "name");
	if (!json_is_string(label))
		label = json_object_get(object, "description");
	if (!json_is_string(label) && note != NULL)
		label = json_object_get(note, "kind");
	if (!json_is_string(label))
		label = json_object_get(json_object_get(e, "detail"), "to");
	printf("%s %-12s %s", w->id, kind, shown(json_object_get(e, "id"), id, sizeof(id)));
	if (json_is_string(json_object_get(e, "version")))
		printf(" %s", shown(json_object_get(e, "version"), version, sizeof(version)));
	if (json_is_string(json_object_get(e, "tlp")))
		printf(" %s", shown(json_object_get(e, "tlp"), tlp, sizeof(tlp)));
	if (json_is_string(label))
		printf("  %s", shown(label, what, sizeof(what)));
	printf("\n");
}

/* One event is whole (a blank line): printed, and remembered. */
static void dispatch(watch *w)
{
	if (w->data_len > 0 && w->id[0]) {
		json_t *e = json_loadb(w->data, w->data_len, 0, NULL);
		if (e != NULL) {
			print_event(w, e);
			fflush(stdout);
			json_decref(e);
		} else {
			fprintf(stderr, "kyoyu watch: event %s is not JSON; skipped\n", w->id);
		}
		snprintf(w->last, sizeof(w->last), "%s", w->id);
		save_state(w);
		w->events++;
	}
	w->data_len = 0;
	w->id[0] = w->kind[0] = '\0';
}

static bool append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > EVENT_MAX)
		return false;
	if (*len + n + 1 > *cap) {
		size_t grown_cap = *cap ? *cap : 4096;
		while (grown_cap < *len + n + 1)
			grown_cap *= 2;
		char *grown = realloc(*buf, grown_cap);
		if (grown == NULL)
			return false;
		*buf = grown;
		*cap = grown_cap;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

/* One line of the stream (without its line end), as the SSE specification reads it. */
static bool line_in(watch *w, const char *line, size_t len)
{
	if (len == 0) {
		dispatch(w);
		return !(w->catch_up && w->caught_up);
	}
	if (line[0] == ':') {
		if (len >= 11 && memcmp(line, ": caught up", 11) == 0)
			w->caught_up = true;
		return !(w->catch_up && w->caught_up && w->data_len == 0);
	}
	const char *colon = memchr(line, ':', len);
	size_t name_len = colon ? (size_t)(colon - line) : len;
	const char *value = colon ? colon + 1 : line + len;
	size_t value_len = (size_t)(line + len - value);
	if (value_len > 0 && value[0] == ' ') {
		value++;
		value_len--;
	}
	if (name_len == 4 && memcmp(line, "data", 4) == 0) {
		if ((w->data_len > 0 && !append(&w->data, &w->data_len, &w->data_cap, "\n", 1)) ||
		    !append(&w->data, &w->data_len, &w->data_cap, value, value_len)) {
			w->too_big = true;
			return false;
		}
	} else if (name_len == 2 && memcmp(line, "id", 2) == 0 && value_len < sizeof(w->id)) {
		memcpy(w->id, value, value_len);
		w->id[value_len] = '\0';
	} else if (name_len == 5 && memcmp(line, "event", 5) == 0 && value_len < sizeof(w->kind)) {
		memcpy(w->kind, value, value_len);
		w->kind[value_len] = '\0';
	}
	return true;
}

static bool on_data(void *ctx, const char *data, size_t len)
{
	watch *w = ctx;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			size_t n = w->line_len;
			if (n > 0 && w->line[n - 1] == '\r')
				n--;
			w->line_len = 0;
			if (!line_in(w, w->line ? w->line : "", n))
				return false;
		} else if (!append(&w->line, &w->line_len, &w->line_cap, data + i, 1)) {
			w->too_big = true;
			return false;
		}
	}
	return true;
}

/* The stream's query from the filters. */
static int query_of(char *out, size_t size, const char *const values[4])
{
	static const char *const names[] = {"types", "collections", "min_confidence", "states"};
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < 4; i++) {
		if (values[i] == NULL)
			continue;
		for (const char *c = values[i]; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			      strchr(",-_.", *c))) {
				fprintf(stderr, "kyoyu watch: --%s takes names, numbers and commas: '%s'\n", names[i], values[i]);
				return KY_CLIENT_EXIT_USAGE;
			}
		int k = snprintf(out + n, size - n, "%c%s=%s", n ? '&' : '?', names[i], values[i]);
		if (k < 0 || (size_t)k >= size - n) {
			fprintf(stderr, "kyoyu watch: the filters are too long\n");
			return KY_CLIENT_EXIT_USAGE;
		}
		n += (size_t)k;
	}
	return -1;
}

int ky_cli_watch(ky_client *client, const char *hub, int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},	      {"types", required_argument, NULL, 't'},
		{"collections", required_argument, NULL, 'c'}, {"min-confidence", required_argument, NULL, 'm'},
		{"states", required_argument, NULL, 's'},      {"from-start", no_argument, NULL, 'f'},
		{"state-file", required_argument, NULL, 'S'},  {"catch-up", no_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	watch w = {.hub = hub};
	const char *filters[4] = {NULL, NULL, NULL, NULL}, *state_file = NULL;
	bool from_start = false;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		switch (opt) {
		case 'j': w.json = true; break;
		case 't': filters[0] = optarg; break;
		case 'c': filters[1] = optarg; break;
		case 'm': filters[2] = optarg; break;
		case 's': filters[3] = optarg; break;
		case 'f': from_start = true; break;
		case 'S': state_file = optarg; break;
		case 'u': w.catch_up = true; break;
		case 'h': usage(stdout); return KY_CLIENT_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu watch: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_CLIENT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kyoyu watch: unexpected '%s'\n", argv[optind]);
		usage(stderr);
		return KY_CLIENT_EXIT_USAGE;
	}
	char path[1024] = "/api/v1/stream", query[900];
	int status = query_of(query, sizeof(query), filters);
	if (status >= 0)
		return status;
	strncat(path, query, sizeof(path) - strlen(path) - 1);
	if (state_file != NULL)
		snprintf(w.state_file, sizeof(w.state_file), "%s", state_file);
	else if (!default_state_file(hub, w.state_file, sizeof(w.state_file))) {
		fprintf(stderr, "kyoyu watch: no HOME or XDG_STATE_HOME to remember where it stopped: give --state-file FILE\n");
		return KY_CLIENT_EXIT_USAGE;
	}
	load_state(&w);
	if (!w.last[0] && (from_start || w.catch_up))
		snprintf(w.last, sizeof(w.last), "0");
	unsigned pause = PAUSE_FIRST;
	for (;;) {
		ky_client_response r = {0};
		w.caught_up = false;
		w.line_len = w.data_len = 0;
		w.id[0] = '\0';
		unsigned before = w.events;
		int rc = ky_client_stream(client, path, w.last[0] ? w.last : NULL, IDLE_SECONDS, on_data, &w, &r);
		char message[KY_CLIENT_MESSAGE_MAX + 1];
		bool again = true;
		if (rc == KY_OK && (r.status < 200 || r.status >= 300)) {
			fprintf(stderr, "kyoyu watch: the hub answered %s\n",
				ky_client_hub_error(message, sizeof(message), r.status, r.content_type, r.body, r.body_len));
			status = ky_client_exit_status(r.status);
			/* Refused, invalid or not found would be so again; a hub that is busy or
			 * failing may not be. */
			again = r.status >= 500 || r.status == 429;
		} else if (w.too_big) {
			fprintf(stderr, "kyoyu watch: an event of the hub is over %zu MiB; stopped\n", EVENT_MAX >> 20);
			status = KY_CLIENT_EXIT_FAILED;
			again = false;
		} else if (rc == KY_OK && w.catch_up && w.caught_up) {
			status = KY_CLIENT_EXIT_OK;
			again = false;
		} else if (rc != KY_OK) {
			fprintf(stderr, "kyoyu watch: %s; trying again in %u s\n", ky_error_last(), pause);
		}
		ky_client_response_clear(&r);
		if (!again)
			break;
		/* The hub ended the stream (it restarted, or this one fell behind) or the network
		 * did: back after a pause, longer while nothing comes. */
		if (w.events > before)
			pause = PAUSE_FIRST;
		sleep(pause);
		pause = pause * 2 > PAUSE_LAST ? PAUSE_LAST : pause * 2;
	}
	free(w.data);
	free(w.line);
	return status;
}
