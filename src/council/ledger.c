/*
 * ledger: the counts weighed, the standing decided (ledger.h).
 */
#include "council/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ky_clock.h"
#include "util/ky_error.h"

#define DAY_US (86400LL * 1000000LL)

/* The first KY_LEDGER_KINDS are the weights, in the kinds' order. The defaults and why they
 * resist gaming: docs/council.md. */
static const struct {
	const char *name;
	int64_t initial, min, max;
} SETTINGS[] = {
	{"report-countermeasure", 10, 0, 1000}, {"report-refuted", 2, 0, 1000},  {"feedback", 2, 0, 1000},
	{"feedback-agreed", 3, 0, 1000},        {"sighting-confirmed", 3, 0, 1000}, {"countermeasure", 5, 0, 1000},
	{"window-days", 90, 1, 3650},           {"grace-days", 30, 0, 3650},     {"threshold", 10, 0, 1000000},
};
#define NSETTINGS (sizeof(SETTINGS) / sizeof(SETTINGS[0]))
_Static_assert(NSETTINGS == KY_LEDGER_KINDS + 3, "a weight for each kind, then the window, grace and threshold");

static int64_t *setting_field(ky_ledger_settings *s, size_t i)
{
	if (i < KY_LEDGER_KINDS)
		return &s->weight[i];
	return i == KY_LEDGER_KINDS ? &s->window_days : i == KY_LEDGER_KINDS + 1 ? &s->grace_days : &s->threshold;
}

static int setting_index(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(SETTINGS[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *ky_standing_name(ky_standing s)
{
	return s == KY_STANDING_GRACE ? "grace" : s == KY_STANDING_GOOD ? "good" : s == KY_STANDING_BELOW ? "below" : NULL;
}

static int set_one(void *ctx, const char *name, int64_t value)
{
	int i = setting_index(name);
	/* A setting a later version no longer knows is left alone, never misread. */
	if (i >= 0)
		*setting_field(ctx, (size_t)i) = value;
	return 0;
}

int ky_ledger_settings_read(ky_store *s, ky_ledger_settings *out)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		*setting_field(out, i) = SETTINGS[i].initial;
	return ky_store_ledger_settings(s, set_one, out);
}

int ky_ledger_set(ky_store *s, const char *name, const char *value, const ky_store_actor *actor, const char *reason)
{
	int i = setting_index(name);
	if (i < 0) {
		char known[512] = "";
		for (size_t k = 0; k < NSETTINGS; k++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", k ? ", " : "", SETTINGS[k].name);
		return ky_error_set(KY_EINVALID, "'%s' is not a setting of the ledger (they are: %s)", name, known);
	}
	char *end;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (value[0] == '\0' || *end != '\0' || errno != 0 || v < SETTINGS[i].min || v > SETTINGS[i].max)
		return ky_error_set(KY_EINVALID, "%s takes a whole number from %lld to %lld, not '%s'", name,
				    (long long)SETTINGS[i].min, (long long)SETTINGS[i].max, value);
	return ky_store_ledger_setting_set(s, name, v, actor, reason);
}

static const ky_store_ledger_counts *counts_of(const ky_store_ledger_counts *rows, size_t n, int64_t member)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].member == member)
			return &rows[i];
	return NULL;
}

static int64_t count_of(const ky_store_ledger_counts *c, ky_ledger_kind k)
{
	switch (k) {
	case KY_LEDGER_REPORT_COUNTERMEASURE:
		return c->reports_countermeasure;
	case KY_LEDGER_REPORT_REFUTED:
		return c->reports_refuted;
	case KY_LEDGER_FEEDBACK:
		return c->feedback;
	case KY_LEDGER_FEEDBACK_AGREED:
		return c->feedback_agreed;
	case KY_LEDGER_SIGHTING_CONFIRMED:
		return c->sightings_confirmed;
	default:
		return c->countermeasures;
	}
}

static ky_ledger_entry entry_of(const ky_ledger_settings *set, const ky_store_member *m,
				const ky_store_ledger_counts *rows, size_t n, int64_t now)
{
	ky_ledger_entry e = {.counts = {.member = m->id}};
	const ky_store_ledger_counts *c = counts_of(rows, n, m->id);
	if (c != NULL)
		e.counts = *c;
	for (int k = 0; k < KY_LEDGER_KINDS; k++)
		e.score += set->weight[k] * count_of(&e.counts, (ky_ledger_kind)k);
	if (m->tier == KY_TIER_CONTRIBUTOR) {
		e.grace_until_us = m->created_us + set->grace_days * DAY_US;
		e.standing = now < e.grace_until_us ? KY_STANDING_GRACE
			     : e.score >= set->threshold ? KY_STANDING_GOOD
							  : KY_STANDING_BELOW;
	}
	return e;
}

typedef struct window {
	ky_ledger_settings set;
	int64_t now, since;
	ky_store_ledger_counts *rows;
	size_t n;
} window;

static int window_read(ky_store *s, window *w)
{
	int rc = ky_ledger_settings_read(s, &w->set);
	w->now = ky_clock_now_us();
	w->since = w->now - w->set.window_days * DAY_US;
	w->rows = NULL;
	w->n = 0;
	return rc == KY_OK ? ky_store_ledger_count(s, w->since, w->now, &w->rows, &w->n) : rc;
}

int ky_ledger_member(ky_store *s, const ky_store_member *m, ky_ledger_entry *out)
{
	window w;
	int rc = window_read(s, &w);
	if (rc == KY_OK)
		*out = entry_of(&w.set, m, w.rows, w.n, w.now);
	free(w.rows);
	return rc;
}

static json_t *time_json(int64_t us)
{
	char text[32];
	ky_clock_format(us, text);
	return json_string(text);
}

static json_t *entry_json(const window *w, const ky_store_member *m)
{
	ky_ledger_entry e = entry_of(&w->set, m, w->rows, w->n, w->now);
	json_t *counts = json_object();
	for (int k = 0; counts != NULL && k < KY_LEDGER_KINDS; k++)
		json_object_set_new(counts, SETTINGS[k].name, json_integer((json_int_t)count_of(&e.counts, (ky_ledger_kind)k)));
	const char *standing = ky_standing_name(e.standing);
	json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:o}", "member", m->name, "tier", ky_tier_name(m->tier), "score",
			      (json_int_t)e.score, "standing", standing ? json_string(standing) : json_null(), "counts",
			      counts ? counts : json_null());
	if (o != NULL && e.standing != KY_STANDING_NONE) {
		json_object_set_new(o, "needed", json_integer(e.score >= w->set.threshold ? 0 : w->set.threshold - e.score));
		if (e.standing == KY_STANDING_GRACE)
			json_object_set_new(o, "grace_until", time_json(e.grace_until_us));
	}
	return o;
}

typedef struct listing {
	const window *w;
	json_t *rows;
} listing;

static int add_member(void *ctx, const ky_store_member *m)
{
	listing *l = ctx;
	json_t *e = entry_json(l->w, m);
	return e != NULL && json_array_append_new(l->rows, e) == 0 ? 0 : KY_ENOMEM;
}

int ky_ledger_json(ky_store *s, const ky_store_member *member, json_t **out)
{
	window w;
	int rc = window_read(s, &w);
	json_t *weights = json_object(), *members = json_array();
	*out = NULL;
	for (int k = 0; weights != NULL && k < KY_LEDGER_KINDS; k++)
		json_object_set_new(weights, SETTINGS[k].name, json_integer((json_int_t)w.set.weight[k]));
	if (rc == KY_OK && (weights == NULL || members == NULL))
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && member != NULL) {
		json_t *e = entry_json(&w, member);
		rc = e != NULL && json_array_append_new(members, e) == 0 ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	} else if (rc == KY_OK) {
		listing l = {&w, members};
		rc = ky_store_member_list(s, NULL, 0, add_member, &l, NULL);
		if (rc == KY_ENOMEM)
			ky_error_set(KY_ENOMEM, "out of memory");
	}
	free(w.rows);
	if (rc == KY_OK) {
		*out = json_pack("{s:{s:I,s:o,s:o},s:I,s:I,s:O,s:O}", "window", "days", (json_int_t)w.set.window_days, "since",
				 time_json(w.since), "until", time_json(w.now), "threshold", (json_int_t)w.set.threshold,
				 "grace_days", (json_int_t)w.set.grace_days, "weights", weights, "members", members);
		if (*out == NULL)
			rc = ky_error_set(KY_ENOMEM, "out of memory");
	}
	json_decref(weights);
	json_decref(members);
	return rc;
}
