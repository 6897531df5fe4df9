/*
 * standing: the counts weighed, the standing decided (standing.h).
 */
#include "policy/standing.h"

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
	{"free-rider-reads", 100, 1, 100000000},
};
#define NSETTINGS (sizeof(SETTINGS) / sizeof(SETTINGS[0]))
_Static_assert(NSETTINGS == KY_LEDGER_KINDS + 4,
	       "a weight for each kind, then the window, grace, threshold and free riders' reads");

static int64_t *setting_field(ky_ledger_settings *s, size_t i)
{
	if (i < KY_LEDGER_KINDS)
		return &s->weight[i];
	return i == KY_LEDGER_KINDS	      ? &s->window_days
	       : i == KY_LEDGER_KINDS + 1 ? &s->grace_days
	       : i == KY_LEDGER_KINDS + 2 ? &s->threshold
					  : &s->free_rider_reads;
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

int64_t ky_ledger_count_of(const ky_store_ledger_counts *c, ky_ledger_kind k)
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

ky_ledger_entry ky_ledger_entry_of(const ky_ledger_window *w, const ky_store_member *m)
{
	ky_ledger_entry e = {.counts = {.member = m->id}};
	const ky_store_ledger_counts *c = counts_of(w->rows, w->n, m->id);
	if (c != NULL)
		e.counts = *c;
	for (int k = 0; k < KY_LEDGER_KINDS; k++)
		e.score += w->set.weight[k] * ky_ledger_count_of(&e.counts, (ky_ledger_kind)k);
	if (m->tier == KY_TIER_CONTRIBUTOR) {
		e.grace_until_us = m->created_us + w->set.grace_days * DAY_US;
		e.standing = w->now < e.grace_until_us ? KY_STANDING_GRACE
			     : e.score >= w->set.threshold ? KY_STANDING_GOOD
							    : KY_STANDING_BELOW;
	}
	return e;
}

int ky_ledger_window_read(ky_store *s, int64_t member, ky_ledger_window *out)
{
	int rc = ky_ledger_settings_read(s, &out->set);
	out->now = ky_clock_now_us();
	out->since = out->now - out->set.window_days * DAY_US;
	out->rows = NULL;
	out->n = 0;
	return rc == KY_OK ? ky_store_ledger_count(s, out->since, out->now, member, &out->rows, &out->n) : rc;
}

void ky_ledger_window_clear(ky_ledger_window *w)
{
	free(w->rows);
	w->rows = NULL;
	w->n = 0;
}

const char *ky_ledger_setting_name(size_t i)
{
	return i < NSETTINGS ? SETTINGS[i].name : NULL;
}

int ky_standing_good(ky_store *s, int64_t member_id, bool *good)
{
	ky_store_member m;
	ky_ledger_window w;
	*good = false;
	int rc = ky_store_member_by_id(s, member_id, &m);
	if (rc == KY_OK)
		rc = ky_ledger_window_read(s, member_id, &w);
	if (rc != KY_OK)
		return rc;
	ky_ledger_entry e = ky_ledger_entry_of(&w, &m);
	ky_ledger_window_clear(&w);
	*good = e.standing == KY_STANDING_GOOD || e.standing == KY_STANDING_GRACE;
	return KY_OK;
}
