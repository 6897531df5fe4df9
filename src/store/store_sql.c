/*
 * store_sql: the SQL of store queries, one builder for every backend. A query becomes one
 * statement whose conditions the database evaluates on its indexes: collection and number
 * (keyset pages), ids, types, spec_versions, and the versions asked for (the `latest` mark,
 * "no earlier version", named versions) and the viewer's scope (store.h: ky_store_scope), for
 * every backend at once. A removal selects the entries it takes with the same conditions
 * (ky_store_sql_removal), so "last" means the same to both.
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

/* Appends one numbered placeholder for `value`. */
static void sql_param(ky_store_sql *q, const char *value)
{
	if (q->nparams == sizeof(q->params) / sizeof(q->params[0])) {
		q->overflow = true;
		return;
	}
	char placeholder[16];
	snprintf(placeholder, sizeof(placeholder), "%c%zu", q->mark, q->nparams + q->nfixed + 1);
	q->params[q->nparams++] = value;
	sql_add(q, placeholder);
}

/* The placeholders of a scope's keys, numbered once and written wherever the statement
 * needs them ("?4, ?5"), so that every condition on keys binds the same values. */
typedef struct keys_text {
	char text[KY_STORE_ACCESS_KEYS_MAX * 8];
	size_t len;
} keys_text;

static void keys_params(ky_store_sql *q, const ky_store_scope *scope, keys_text *out)
{
	out->len = 0;
	out->text[0] = '\0';
	for (size_t i = 0; i < scope->nkeys; i++) {
		if (q->nparams == sizeof(q->params) / sizeof(q->params[0])) {
			q->overflow = true;
			return;
		}
		out->len += (size_t)snprintf(out->text + out->len, sizeof(out->text) - out->len, "%s%c%zu", i ? ", " : "",
					     q->mark, q->nparams + q->nfixed + 1);
		q->params[q->nparams++] = scope->keys[i];
	}
}

/* A condition on the versions a scope lets the viewer read, for a version of another row
 * than the one selected (`row` is "f" for an entry, "w" for a version). */
static void sql_visible(ky_store_sql *out, bool hub, const char *row, const keys_text *keys)
{
	char text[256 + sizeof(keys->text)];
	if (hub)
		snprintf(text, sizeof(text), "EXISTS (SELECT 1 FROM version_access %sa WHERE %sa.vid = %s.vid AND %sa.key IN (%s))",
			 row, row, row, row, keys->text);
	else
		snprintf(text, sizeof(text),
			 "EXISTS (SELECT 1 FROM entry_access %sa WHERE %sa.collection_id = %s.collection_id AND %sa.seq = %s.seq"
			 " AND %sa.key IN (%s))",
			 row, row, row, row, row, row, keys->text);
	sql_add(out, text);
}

/*
 * " AND (...)": the versions asked for, unless every one is (KY_STORE_ALL): "last" (the
 * `latest` mark; hub-wide, no later version), "first" (no earlier version) and the named
 * ones, by version key. Collection conditions are on entries `e`, hub-wide ones on versions
 * `v`. For a viewer (`keys` not NULL) "later" and "earlier" count only the versions it may
 * read: the latest it may read is its last, whatever it may not.
 */
static void sql_versions(ky_store_sql *out, bool hub, unsigned versions, const char *const *modified, size_t nmodified,
			 const keys_text *keys)
{
	if (versions & KY_STORE_ALL)
		return;
	const char *other = hub ? "NOT EXISTS (SELECT 1 FROM versions w WHERE w.stix_id = v.stix_id AND w.version_key "
				: "NOT EXISTS (SELECT 1 FROM entries f WHERE f.collection_id = e.collection_id"
				  " AND f.stix_id = e.stix_id AND f.version_key ";
	const char *self = hub ? "v.version_key" : "e.version_key";
	bool any = false;
	sql_add(out, " AND (");
	for (int which = 0; which < 2; which++) {
		if (!(versions & (which == 0 ? KY_STORE_LAST : KY_STORE_FIRST)))
			continue;
		sql_add(out, any ? " OR " : "");
		any = true;
		/* The mark is the newest of all the collection's versions: for a viewer, if it may
		 * read that one, it is the newest it may read too, and the walk need not look. */
		if (which == 0 && !hub)
			sql_add(out, keys ? "(e.latest = 1 OR " : "e.latest = 1");
		if (which == 0 && !hub && keys == NULL)
			continue;
		sql_add(out, other);
		sql_add(out, which == 0 ? "> " : "< ");
		sql_add(out, self);
		if (keys != NULL) {
			sql_add(out, " AND ");
			sql_visible(out, hub, hub ? "w" : "f", keys);
		}
		sql_add(out, which == 0 && !hub ? "))" : ")");
	}
	if (nmodified > 0) {
		/* "1 = 1", not "1": PostgreSQL takes no integer for a condition. */
		sql_add(out, any ? " OR (1 = 1" : "(1 = 1");
		const char *ptrs[64];
		for (size_t i = 0; i < nmodified; i++) {
			ky_store_version_key(modified[i], out->keys[i]);
			ptrs[i] = out->keys[i];
		}
		sql_in(out, self, ptrs, nmodified);
		sql_add(out, ")");
	}
	sql_add(out, ")");
}

/* The conditions of q on entries `e` (or hub-wide, versions `v`) other than the number. */
static void sql_filters(ky_store_sql *out, const ky_store_query *q, bool hub, unsigned versions, const keys_text *keys)
{
	sql_in(out, hub ? "v.stix_id" : "e.stix_id", q->ids, q->nids);
	sql_in(out, hub ? "v.type" : "e.type", q->types, q->ntypes);
	/* STIX 2.1 §3.2: SCOs may omit spec_version, and then they are 2.1 (validated objects
	 * of other categories always have it). */
	sql_in(out, "coalesce(v.spec_version, '2.1')", q->spec_versions, q->nspec_versions);
	sql_versions(out, hub, versions, q->modified, q->nmodified, keys);
}

/* The lower bound of a collection page's numbers: the cursor, or the number added_after
 * stands for when that is greater. */
static void sql_after(ky_store_sql *out, const ky_store_query *q, const char *after, const char *collection)
{
	if (q->added_after_us <= 0) {
		sql_add(out, after);
		return;
	}
	/* Dates increase with numbers, so "added after D" is "numbered above the last addition
	 * dated D or earlier"; the greater of that and the cursor is one range bound on the
	 * collection's index. */
	snprintf(out->added_after, sizeof(out->added_after), "%lld", (long long)q->added_after_us);
	sql_add(out, out->mark == '$' ? "GREATEST(" : "max(");
	sql_add(out, after);
	sql_add(out, ", coalesce((SELECT d.seq FROM entries d WHERE d.collection_id = ");
	sql_add(out, collection);
	sql_add(out, " AND d.date_added_us <= ");
	sql_param(out, out->added_after);
	sql_add(out, " ORDER BY d.date_added_us DESC LIMIT 1), 0))");
}

#define SQL_COLUMNS " v.stix_id, v.type, v.spec_version, v.modified, v.raw, v.parts, v.provider_id, v.tlp, v.shared, v.vid"

/*
 * A viewer's collection page, read from the access index: one range per key (the first
 * `limit` additions above the cursor that hold that key and pass the filters), the ranges
 * merged in number order and cut to the limit, then each version's bytes read once. The
 * access rows carry each addition's `latest` mark, version and date, so a page asking for
 * the latest versions with no filter on type or version reads entries only for an addition
 * that is not its object's latest, to ask whether the viewer may read a later one (and
 * OFFSET 0 keeps PostgreSQL from turning that probe into a hash of every addition); other
 * filters join each row's entry as the unfiltered page does.
 */
static void sql_viewer_page(ky_store_sql *out, const ky_store_query *q, unsigned versions, const keys_text *viewer,
			    size_t nkeys, char fixed[3][8])
{
	bool entries = q->ntypes > 0 || (versions & KY_STORE_FIRST) || q->nmodified > 0;
	sql_add(out, "SELECT u.seq, u.date_added_us," SQL_COLUMNS " FROM (");
	for (size_t k = 0; k < nkeys; k++) {
		char key[24], alias[32];
		snprintf(key, sizeof(key), "%c%zu", out->mark, out->nfixed + 1 + k);
		snprintf(alias, sizeof(alias), ") b%zu", k);
		sql_add(out, k ? " UNION SELECT * FROM (" : "SELECT * FROM (");
		sql_add(out, "SELECT a.seq, a.vid, a.date_added_us FROM entry_access a");
		if (entries)
			sql_add(out, " JOIN entries e ON e.seq = a.seq");
		if (q->nspec_versions > 0)
			sql_add(out, " JOIN versions v ON v.vid = a.vid");
		sql_add(out, " WHERE a.collection_id = ");
		sql_add(out, fixed[1]);
		sql_add(out, " AND a.key = ");
		sql_add(out, key);
		sql_add(out, " AND a.seq > ");
		sql_after(out, q, fixed[0], fixed[1]);
		if (entries) {
			sql_filters(out, q, false, versions, viewer);
		} else {
			sql_in(out, "coalesce(v.spec_version, '2.1')", q->spec_versions, q->nspec_versions);
			if (!(versions & KY_STORE_ALL)) {
				sql_add(out, " AND (a.latest = 1 OR NOT EXISTS (SELECT 1 FROM entries e JOIN entries f"
					     " ON f.collection_id = e.collection_id AND f.stix_id = e.stix_id"
					     " AND f.version_key > e.version_key WHERE e.seq = a.seq AND ");
				sql_visible(out, false, "f", viewer);
				sql_add(out, " LIMIT 1 OFFSET 0))");
			}
		}
		sql_add(out, " ORDER BY a.seq LIMIT ");
		sql_add(out, fixed[2]);
		sql_add(out, alias);
	}
	sql_add(out, " ORDER BY 1 LIMIT ");
	sql_add(out, fixed[2]);
	/* SQLite keeps the merged ranges' order through a CROSS JOIN, whose left side is always
	 * its outer loop, where an ORDER BY here would sort every version's bytes once more;
	 * PostgreSQL is told the order, which its nested loop keeps at no cost. */
	sql_add(out, ") u CROSS JOIN versions v WHERE v.vid = u.vid");
	if (out->mark == '$')
		sql_add(out, " ORDER BY u.seq");
}

/*
 * The SQL of a query. Collection queries walk entries by number; the hub-wide one walks
 * versions by row id. Every filter is a condition of the statement. A viewer's scope is one
 * more: a condition on its keys (EXISTS in the version's access rows) where the query names
 * objects by id, whose few entries are found first; otherwise the page is read from the
 * access index itself (sql_viewer_page): however little of the collection a viewer may read,
 * a page costs a few index ranges of its own length, and a deep page what the first costs.
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
	const ky_store_scope *scope = q->scope;
	keys_text keys;
	const keys_text *viewer = NULL;
	if (scope != NULL && !scope->everything) {
		keys_params(out, scope, &keys);
		viewer = &keys;
	}
	bool none = viewer != NULL && scope->nkeys == 0;

	if (hub) {
		sql_add(out, "SELECT v.vid, v.added_us," SQL_COLUMNS " FROM versions v WHERE v.vid > ");
		sql_add(out, fixed[0]);
		sql_filters(out, q, true, versions, viewer);
		if (viewer != NULL && !none) {
			sql_add(out, " AND ");
			sql_visible(out, true, "v", viewer);
		}
	} else if (viewer == NULL || none || q->nids > 0) {
		sql_add(out, "SELECT e.seq, e.date_added_us," SQL_COLUMNS
			     " FROM entries e JOIN versions v ON v.vid = e.vid WHERE e.collection_id = ");
		sql_add(out, fixed[1]);
		sql_add(out, " AND e.seq > ");
		sql_after(out, q, fixed[0], fixed[1]);
		sql_filters(out, q, false, versions, viewer);
		if (viewer != NULL && !none) {
			sql_add(out, " AND ");
			sql_visible(out, false, "e", viewer);
		}
	} else {
		sql_viewer_page(out, q, versions, viewer, scope->nkeys, fixed);
		return out->overflow ? ky_error_set(KY_EINVALID, "the query has too many filter values") : KY_OK;
	}
	if (none)
		sql_add(out, " AND 1 = 0");
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
	if (filter->provider != 0) {
		snprintf(out->provider, sizeof(out->provider), "%lld", (long long)filter->provider);
		sql_add(out, " AND v.provider_id = ");
		sql_param(out, out->provider);
	}
	sql_versions(out, false, versions, filter->modified, filter->nmodified, NULL);
	return out->overflow ? ky_error_set(KY_EINVALID, "the removal has too many filter values") : KY_OK;
}

void ky_store_sql_marks(const char *sql, char mark, char *out)
{
	size_t i = 0;
	for (; sql[i]; i++)
		out[i] = sql[i] == '$' && sql[i + 1] >= '0' && sql[i + 1] <= '9' ? mark : sql[i];
	out[i] = '\0';
}
