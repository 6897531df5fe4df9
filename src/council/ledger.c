/*
 * ledger: the ledger as JSON (ledger.h).
 */
#include "council/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "council/council.h"
#include "policy/policy.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

static json_t *entry_json(const ky_ledger_window *w, const ky_store_member *m)
{
	ky_ledger_entry e = ky_ledger_entry_of(w, m);
	json_t *counts = json_object();
	for (int k = 0; counts != NULL && k < KY_LEDGER_KINDS; k++)
		json_object_set_new(counts, ky_ledger_setting_name((size_t)k), json_integer((json_int_t)ky_ledger_count_of(&e.counts, (ky_ledger_kind)k)));
	const char *standing = ky_standing_name(e.standing);
	json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:o}", "member", m->name, "tier", ky_tier_name(m->tier), "score",
			      (json_int_t)e.score, "standing", standing ? json_string(standing) : json_null(), "counts",
			      counts ? counts : json_null());
	if (o != NULL && e.standing != KY_STANDING_NONE) {
		json_object_set_new(o, "needed", json_integer(e.score >= w->set.threshold ? 0 : w->set.threshold - e.score));
		if (e.standing == KY_STANDING_GRACE)
			json_object_set_new(o, "grace_until", ky_council_time_json(e.grace_until_us));
	}
	return o;
}

/* What a contributor below good standing would unlock (policy.h: ky_policy_locked): counts
 * and ages, never ids. */
static int add_locked(ky_store *s, const ky_store_member *m, json_t *entry)
{
	const char *standing = json_string_value(json_object_get(entry, "standing"));
	if (standing == NULL || strcmp(standing, "below") != 0)
		return KY_OK;
	ky_viewer *v = malloc(sizeof(*v));
	if (v == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_locked locked;
	int rc = ky_policy_viewer_of_member(s, m, v);
	if (rc == KY_OK)
		rc = ky_policy_locked(s, v, &locked);
	free(v);
	if (rc != KY_OK)
		return rc;
	json_t *l = json_pack("{s:I,s:I}", "objects", (json_int_t)locked.objects, "reports", (json_int_t)locked.reports);
	if (l != NULL && locked.objects > 0) {
		json_object_set_new(l, "oldest", ky_council_time_json(locked.oldest_us));
		json_object_set_new(l, "newest", ky_council_time_json(locked.newest_us));
	}
	return l != NULL && json_object_set_new(entry, "locked", l) == 0 ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
}

typedef struct listing {
	const ky_ledger_window *w;
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
	ky_ledger_window w;
	int rc = ky_ledger_window_read(s, member ? member->id : 0, &w);
	json_t *weights = json_object(), *members = json_array();
	*out = NULL;
	for (int k = 0; weights != NULL && k < KY_LEDGER_KINDS; k++)
		json_object_set_new(weights, ky_ledger_setting_name((size_t)k), json_integer((json_int_t)w.set.weight[k]));
	if (rc == KY_OK && (weights == NULL || members == NULL))
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && member != NULL) {
		json_t *e = entry_json(&w, member);
		rc = e != NULL && json_array_append_new(members, e) == 0 ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
		if (rc == KY_OK)
			rc = add_locked(s, member, e);
	} else if (rc == KY_OK) {
		listing l = {&w, members};
		rc = ky_store_member_list(s, NULL, 0, add_member, &l, NULL);
		if (rc == KY_ENOMEM)
			ky_error_set(KY_ENOMEM, "out of memory");
	}
	ky_ledger_window_clear(&w);
	if (rc == KY_OK) {
		*out = json_pack("{s:{s:I,s:o,s:o},s:I,s:I,s:O,s:O}", "window", "days", (json_int_t)w.set.window_days, "since",
				 ky_council_time_json(w.since), "until", ky_council_time_json(w.now), "threshold", (json_int_t)w.set.threshold,
				 "grace_days", (json_int_t)w.set.grace_days, "weights", weights, "members", members);
		if (*out == NULL)
			rc = ky_error_set(KY_ENOMEM, "out of memory");
	}
	json_decref(weights);
	json_decref(members);
	return rc;
}

/* --- the free-rider report ----------------------------------------------------------------- */

typedef struct riders {
	ky_store *s;
	const ky_ledger_window *w;
	json_t *rows;
} riders;

static int rider(void *ctx, int64_t member, uint64_t reads)
{
	riders *r = ctx;
	ky_store_member m;
	int rc = ky_store_member_by_id(r->s, member, &m);
	if (rc == KY_ENOTFOUND || (rc == KY_OK && m.tier == KY_TIER_SECRETARIAT))
		return 0;
	if (rc != KY_OK)
		return rc;
	ky_ledger_entry e = ky_ledger_entry_of(r->w, &m);
	if (e.score >= r->w->set.threshold || reads < (uint64_t)r->w->set.free_rider_reads)
		return 0;
	json_t *row = json_pack("{s:s,s:s,s:I,s:I}", "member", m.name, "tier", ky_tier_name(m.tier), "reads",
				(json_int_t)reads, "score", (json_int_t)e.score);
	return row != NULL && json_array_append_new(r->rows, row) == 0 ? 0 : KY_ENOMEM;
}

static int by_reads(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "reads"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "reads"));
	return (x < y) - (x > y);
}

int ky_ledger_free_riders_json(ky_store *s, json_t **out)
{
	ky_ledger_window w;
	*out = NULL;
	int rc = ky_ledger_window_read(s, 0, &w);
	riders r = {s, &w, json_array()};
	if (rc == KY_OK && r.rows == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_store_ledger_reads(s, w.since, w.now, rider, &r);
	if (rc == KY_ENOMEM)
		ky_error_set(KY_ENOMEM, "out of memory");
	ky_ledger_window_clear(&w);
	size_t n = rc == KY_OK ? json_array_size(r.rows) : 0;
	json_t **sorted = n ? malloc(n * sizeof(*sorted)) : NULL;
	if (n > 0 && sorted == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	json_t *members = rc == KY_OK ? json_array() : NULL;
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		sorted[i] = json_array_get(r.rows, i);
	if (rc == KY_OK && n > 0)
		qsort(sorted, n, sizeof(*sorted), by_reads);
	for (size_t i = 0; rc == KY_OK && members != NULL && i < n; i++)
		json_array_append(members, sorted[i]);
	free(sorted);
	json_decref(r.rows);
	if (rc == KY_OK && members != NULL)
		*out = json_pack("{s:{s:I,s:o,s:o},s:I,s:I,s:o}", "window", "days", (json_int_t)w.set.window_days, "since",
				 ky_council_time_json(w.since), "until", ky_council_time_json(w.now), "threshold", (json_int_t)w.set.threshold,
				 "free_rider_reads", (json_int_t)w.set.free_rider_reads, "members", members);
	else
		json_decref(members);
	if (rc == KY_OK && *out == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc;
}
