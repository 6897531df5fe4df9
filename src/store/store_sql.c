/*
 * store_sql: the SQL of store queries, one builder for every backend. A query becomes one
 * statement whose conditions the database evaluates on its indexes: collection and number
 * (keyset pages), ids, types, spec_versions, and the versions asked for (the `latest` mark,
 * "no earlier version", named versions). The visibility filter of a later issue will be one
 * more condition here, for every backend at once. A removal selects the entries it takes
 * with the same conditions (ky_store_sql_removal), so "last" means the same to both.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_backend.h"
#include "util/ky_error.h"

static void sql_add(ky_store_sql *q, const char *s)
{
	size_t n = strlen(s);
	if (q->len + n + 1 > sizeof(q->text)) {
		q->overflow = true;
		return;
	}
	memcpy(q->text + q->len, s, n + 1);
	q->len += n;
}

/* " AND column IN (?, ?, ...)" for a list of strings. */
static void sql_in(ky_store_sql *q, const char *column, const char *const *values, size_t n)
{
	if (n == 0)
		return;
	sql_add(q, " AND ");
	sql_add(q, column);
	sql_add(q, " IN (");
	for (size_t i = 0; i < n; i++) {
		if (q->nparams == sizeof(q->params) / sizeof(q->params[0])) {
			q->overflow = true;
			return;
		}
		/* Numbered after the fixed parameters (a query's 1 after, 2 collection, 3 limit). */
		char placeholder[16];
		snprintf(placeholder, sizeof(placeholder), "%s%c%zu", i ? ", " : "", q->mark, q->nparams + q->nfixed + 1);
		q->params[q->nparams++] = values[i];
		sql_add(q, placeholder);
	}
	sql_add(q, ")");
}

/*
 * " AND (...)": the versions asked for, unless every one is (KY_STORE_ALL): "last" (the
 * `latest` mark; hub-wide, no later version), "first" (no earlier version) and the named
 * ones, by version key. Collection conditions are on entries `e`, hub-wide ones on versions
 * `v`.
 */
static void sql_versions(ky_store_sql *out, bool hub, unsigned versions, const char *const *modified, size_t nmodified)
{
	if (versions & KY_STORE_ALL)
		return;
	const char *later = hub ? "NOT EXISTS (SELECT 1 FROM versions w WHERE w.stix_id = v.stix_id AND w.version_key > v.version_key)"
				: "e.latest = 1";
	const char *earlier = hub ? "NOT EXISTS (SELECT 1 FROM versions w WHERE w.stix_id = v.stix_id AND w.version_key < v.version_key)"
				  : "NOT EXISTS (SELECT 1 FROM entries f WHERE f.collection_id = e.collection_id"
				    " AND f.stix_id = e.stix_id AND f.version_key < e.version_key)";
	bool any = false;
	sql_add(out, " AND (");
	if (versions & KY_STORE_LAST) {
		sql_add(out, later);
		any = true;
	}
	if (versions & KY_STORE_FIRST) {
		sql_add(out, any ? " OR " : "");
		sql_add(out, earlier);
		any = true;
	}
	if (nmodified > 0) {
		/* "1 = 1", not "1": PostgreSQL takes no integer for a condition. */
		sql_add(out, any ? " OR (1 = 1" : "(1 = 1");
		const char *ptrs[64];
		for (size_t i = 0; i < nmodified; i++) {
			ky_store_version_key(modified[i], out->keys[i]);
			ptrs[i] = out->keys[i];
		}
		sql_in(out, hub ? "v.version_key" : "e.version_key", ptrs, nmodified);
		sql_add(out, ")");
	}
	sql_add(out, ")");
}

/*
 * The SQL of a query. Collection queries walk entries by number; the hub-wide one walks
 * versions by row id. Every filter is a condition of the statement, so a visibility filter
 * added later is one more condition, evaluated by the database on its indexes.
 */
int ky_store_sql_build(const ky_store_query *q, char mark, ky_store_sql *out)
{
	bool hub = q->collection_id == 0;
	unsigned versions = q->versions ? q->versions : q->nmodified ? 0 : KY_STORE_LAST;
	char fixed[3][8];
	memset(out, 0, sizeof(*out));
	out->mark = mark;
	out->nfixed = 3;
	if (q->nmodified > 64)
		return ky_error_set(KY_EINVALID, "at most 64 versions may be named in one query");
	if (hub && q->added_after_us != 0)
		return ky_error_set(KY_EINVALID, "added_after filters a collection; the hub-wide query has no date_added");
	if (q->versions & ~(unsigned)(KY_STORE_LAST | KY_STORE_FIRST | KY_STORE_ALL))
		return ky_error_set(KY_EINVALID, "unknown versions flags 0x%x in a query", q->versions);
	for (int i = 0; i < 3; i++)
		snprintf(fixed[i], sizeof(fixed[i]), "%c%d", mark, i + 1);
	if (hub) {
		sql_add(out, "SELECT v.vid, v.added_us, v.stix_id, v.type, v.spec_version, v.modified, v.raw"
			     " FROM versions v WHERE v.vid > ");
		sql_add(out, fixed[0]);
	} else {
		sql_add(out, "SELECT e.seq, e.date_added_us, v.stix_id, v.type, v.spec_version, v.modified, v.raw"
			     " FROM entries e JOIN versions v ON v.vid = e.vid WHERE e.collection_id = ");
		sql_add(out, fixed[1]);
		sql_add(out, " AND e.seq > ");
		if (q->added_after_us > 0) {
			/* Dates increase with numbers, so "added after D" is "numbered above the last
			 * addition dated D or earlier"; the greater of that and the cursor is one range
			 * bound on the collection's index. */
			snprintf(out->added_after, sizeof(out->added_after), "%lld", (long long)q->added_after_us);
			sql_add(out, mark == '$' ? "GREATEST(" : "max(");
			sql_add(out, fixed[0]);
			sql_add(out, ", coalesce((SELECT f.seq FROM entries f WHERE f.collection_id = ");
			sql_add(out, fixed[1]);
			sql_add(out, " AND f.date_added_us <= ");
			char placeholder[16];
			snprintf(placeholder, sizeof(placeholder), "%c%zu", mark, out->nparams + out->nfixed + 1);
			out->params[out->nparams++] = out->added_after;
			sql_add(out, placeholder);
			sql_add(out, " ORDER BY f.date_added_us DESC LIMIT 1), 0))");
		} else {
			sql_add(out, fixed[0]);
		}
	}
	sql_in(out, hub ? "v.stix_id" : "e.stix_id", q->ids, q->nids);
	sql_in(out, hub ? "v.type" : "e.type", q->types, q->ntypes);
	/* STIX 2.1 §3.2: SCOs may omit spec_version, and then they are 2.1 (validated objects
	 * of other categories always have it). */
	sql_in(out, "coalesce(v.spec_version, '2.1')", q->spec_versions, q->nspec_versions);

	sql_versions(out, hub, versions, q->modified, q->nmodified);
	sql_add(out, hub ? " ORDER BY v.vid LIMIT " : " ORDER BY e.seq LIMIT ");
	sql_add(out, fixed[2]);
	return out->overflow ? ky_error_set(KY_EINVALID, "the query has too many filter values") : KY_OK;
}

/*
 * The entries a removal takes (TAXII 2.1 §5.7): the object's additions to the collection
 * that the versions filter selects, as a query selects them ("last" is the `latest` mark,
 * "first" the smallest version key, both as they are before the removal), and of the
 * spec_versions asked for. Without flags or named versions, every version.
 */
int ky_store_sql_removal(const ky_store_removal_filter *filter, char mark, ky_store_sql *out)
{
	unsigned versions = filter->versions ? filter->versions : filter->nmodified ? 0 : KY_STORE_ALL;
	char fixed[2][8];
	memset(out, 0, sizeof(*out));
	out->mark = mark;
	out->nfixed = 4;
	if (filter->nmodified > 64)
		return ky_error_set(KY_EINVALID, "at most 64 versions may be named in one removal");
	if (filter->versions & ~(unsigned)(KY_STORE_LAST | KY_STORE_FIRST | KY_STORE_ALL))
		return ky_error_set(KY_EINVALID, "unknown versions flags 0x%x in a removal", filter->versions);
	for (int i = 0; i < 2; i++)
		snprintf(fixed[i], sizeof(fixed[i]), "%c%d", mark, i + 1);
	sql_add(out, "SELECT e.seq FROM entries e JOIN versions v ON v.vid = e.vid WHERE e.collection_id = ");
	sql_add(out, fixed[0]);
	sql_add(out, " AND e.stix_id = ");
	sql_add(out, fixed[1]);
	sql_in(out, "coalesce(v.spec_version, '2.1')", filter->spec_versions, filter->nspec_versions);
	sql_versions(out, false, versions, filter->modified, filter->nmodified);
	return out->overflow ? ky_error_set(KY_EINVALID, "the removal has too many filter values") : KY_OK;
}

void ky_store_sql_marks(const char *sql, char mark, char *out)
{
	size_t i = 0;
	for (; sql[i]; i++)
		out[i] = sql[i] == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9' ? mark : sql[i];
	out[i] = '\0';
}
