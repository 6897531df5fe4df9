/*
 * taxii_objects: the paged resources of a collection: objects (§5.4), manifest (§5.3), one
 * object (§5.6) and its versions (§5.8), with the URL parameters of §3.4 and the pagination
 * of §3.5.
 *
 * The query runs in the store (store.h): every filter is SQL, pages are keyset pages over
 * the collection's sequence numbers, so a page deep in a collection costs what the first
 * costs. A page is written straight from the stored bytes into the response buffer, after
 * room kept at its front for the envelope's opening ("more", "next"), which is only known
 * once the page has been read: nothing is parsed or re-encoded on the way out.
 *
 * `next` is a cursor: the sequence number and date_added of a page's last addition, and a
 * MAC (keyed BLAKE2b under a secret of the hub, so that every server process of the hub
 * accepts it) over them and over the request's filters. A value the server did not make, or
 * made for other filters, is refused with 400 instead of silently paging something else.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "stix/stix_schema.h"
#include "taxii/taxii_internal.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define CURSOR_SECRET "cursor_mac"
#define CURSOR_MAC_SIZE 16
#define CURSOR_SIZE (8 + 8 + CURSOR_MAC_SIZE)
_Static_assert(KY_TAXII_CURSOR_TEXT > (CURSOR_SIZE * 4 + 2) / 3, "a cursor's text fits");
#define MAX_VALUES 100        /* values of one match[] field */
#define MAX_VERSIONS 64       /* timestamps in match[version] (the store's limit) */
#define ROOM 128              /* kept at the front of a page for the envelope's opening */

/* --- the request's parameters, §3.4 ------------------------------------------------------- */

/* Takes the parameters that are §3.4's into p->raw; false when one is repeated. */
static bool take_params(const ky_http_param *params, size_t n, ky_taxii_filters *p)
{
	for (size_t k = 0; k < n; k++) {
		for (int i = 0; i < KY_TAXII_NPARAMS; i++) {
			if (!ky_slice_is(params[k].key, ky_taxii_param_names[i]))
				continue;
			if (p->raw[i].ptr != NULL) {
				snprintf(p->problem, sizeof(p->problem), "%s may be given only once (TAXII 2.1 §3.4)",
					 ky_taxii_param_names[i]);
				return false;
			}
			p->raw[i] = params[k].value;
		}
	}
	return true;
}

/* Quotes at most 64 bytes of a parameter's value in a problem, whole characters only. */
#define QUOTE(v) (int)ky_utf8_prefix((v).ptr, (v).len, 64), (v).ptr

/* Splits a comma-separated value into *out (arena memory); false with a problem when a value
 * is empty or there are more than max. */
static bool split(ky_arena *arena, ky_taxii_filters *p, int which, size_t max, const char ***out, size_t *n)
{
	ky_slice value = p->raw[which];
	const char *end = value.ptr + value.len;
	size_t count = 1;
	for (const char *c = value.ptr; c < end; c++)
		count += *c == ',';
	if (count > max) {
		snprintf(p->problem, sizeof(p->problem), "%s has %zu values; at most %zu are taken in one request",
			 ky_taxii_param_names[which], count, max);
		return false;
	}
	const char **list = ky_arena_alloc(arena, count * sizeof(*list));
	if (list == NULL) {
		snprintf(p->problem, sizeof(p->problem), "out of memory");
		return false;
	}
	*n = 0;
	for (const char *c = value.ptr;;) {
		const char *comma = memchr(c, ',', (size_t)(end - c));
		size_t len = (size_t)((comma ? comma : end) - c);
		/* A space would make a value that matches nothing: say so instead. */
		if (len == 0 || memchr(c, ' ', len) != NULL) {
			snprintf(p->problem, sizeof(p->problem),
				 "%s has an empty value or a space: values are separated by single commas, without spaces (TAXII 2.1 §3.4)",
				 ky_taxii_param_names[which]);
			return false;
		}
		list[(*n)++] = ky_arena_strndup(arena, c, len);
		if (list[*n - 1] == NULL)
			return false;
		if (comma == NULL)
			break;
		c = comma + 1;
	}
	*out = list;
	return true;
}

static int64_t time_us(const ky_stix_time *t)
{
	return t->seconds * 1000000 + t->nanos / 1000;
}

static bool parse_versions(ky_arena *arena, ky_taxii_filters *p)
{
	const char **values;
	size_t n;
	if (!split(arena, p, P_VERSION, MAX_VALUES, &values, &n))
		return false;
	p->modified = ky_arena_alloc(arena, n * sizeof(*p->modified));
	if (p->modified == NULL)
		return false;
	bool all = false;
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i];
		unsigned flag = strcmp(v, "last") == 0 ? KY_STORE_LAST : strcmp(v, "first") == 0 ? KY_STORE_FIRST
								    : strcmp(v, "all") == 0    ? KY_STORE_ALL
											      : 0;
		for (size_t k = 0; k < i; k++)
			if (strcmp(values[k], v) == 0) {
				snprintf(p->problem, sizeof(p->problem), "match[version] names %.*s twice (TAXII 2.1 §3.4.1)",
					 (int)ky_utf8_prefix(v, strlen(v), 64), v);
				return false;
			}
		all |= flag == KY_STORE_ALL;
		if (flag != 0) {
			p->versions |= flag;
			continue;
		}
		if (!ky_stix_time_parse(v, NULL)) {
			snprintf(p->problem, sizeof(p->problem),
				 "match[version] takes last, first, all or timestamps such as 2016-01-01T01:01:01.000Z, not '%.*s'",
				 (int)ky_utf8_prefix(v, strlen(v), 64), v);
			return false;
		}
		if (p->nmodified == MAX_VERSIONS) {
			snprintf(p->problem, sizeof(p->problem), "match[version] names more than %d versions", MAX_VERSIONS);
			return false;
		}
		p->modified[p->nmodified++] = v;
	}
	if (all && n > 1) {
		snprintf(p->problem, sizeof(p->problem), "match[version]=all must not be used with other versions (TAXII 2.1 §3.4.1)");
		return false;
	}
	return true;
}

const char *const ky_taxii_param_names[KY_TAXII_NPARAMS] = {
	"added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]",
};

bool ky_taxii_filters_parse(ky_http_request *r, ky_taxii_listing kind, const ky_config *config, ky_taxii_filters *p)
{
	size_t n;
	const ky_http_param *params = ky_http_params(r, &n);
	return ky_taxii_filters_read(params, n, ky_http_arena(r), kind, config, p);
}

bool ky_taxii_filters_read(const ky_http_param *params, size_t nparams, ky_arena *arena, ky_taxii_listing kind,
			   const ky_config *config, ky_taxii_filters *p)
{
	size_t page_size = config->page_size, max_page_size = config->max_page_size;
	if (!take_params(params, nparams, p))
		return false;
	/* The match fields each endpoint defines (§5.3, §5.4, §5.6, §5.8); the others are ignored. */
	bool many = kind == KY_TAXII_OBJECTS || kind == KY_TAXII_MANIFEST;
	if (!many) {
		p->raw[P_ID] = p->raw[P_TYPE] = (ky_slice){NULL, 0};
		if (kind == KY_TAXII_VERSIONS)
			p->raw[P_VERSION] = (ky_slice){NULL, 0};
	}
	if (p->raw[P_ADDED_AFTER].ptr != NULL) {
		ky_stix_time at;
		if (!ky_stix_time_parse(p->raw[P_ADDED_AFTER].ptr, &at)) {
			snprintf(p->problem, sizeof(p->problem),
				 "added_after must be a timestamp such as 2016-01-01T01:01:01.000000Z, not '%.*s'",
				 QUOTE(p->raw[P_ADDED_AFTER]));
			return false;
		}
		/* Before 1970 every addition is after it: no filter. */
		p->added_after_us = time_us(&at) > 0 ? time_us(&at) : 0;
	}
	p->limit = page_size;
	if (p->raw[P_LIMIT].ptr != NULL) {
		const char *v = p->raw[P_LIMIT].ptr;
		size_t digits = strspn(v, "0123456789");
		if (digits == 0 || digits != p->raw[P_LIMIT].len || strspn(v, "0") == digits) {
			snprintf(p->problem, sizeof(p->problem), "limit must be a whole number greater than zero, not '%.*s'",
				 QUOTE(p->raw[P_LIMIT]));
			return false;
		}
		/* A limit above the server's is lowered to it (§3.4), however many digits it has. */
		unsigned long long n = digits > 18 ? ULLONG_MAX : strtoull(v, NULL, 10);
		p->limit = n > max_page_size ? max_page_size : (size_t)n;
	}
	if (p->raw[P_ID].ptr != NULL && !split(arena, p, P_ID, MAX_VALUES, &p->ids, &p->nids))
		return false;
	if (p->raw[P_TYPE].ptr != NULL && !split(arena, p, P_TYPE, MAX_VALUES, &p->types, &p->ntypes))
		return false;
	if (p->raw[P_VERSION].ptr != NULL && !parse_versions(arena, p))
		return false;
	if (p->raw[P_SPEC_VERSION].ptr != NULL) {
		if (!split(arena, p, P_SPEC_VERSION, 8, &p->spec_versions, &p->nspec_versions))
			return false;
		for (size_t i = 0; i < p->nspec_versions; i++) {
			const char *v = p->spec_versions[i];
			size_t major = strspn(v, "0123456789");
			if (major == 0 || v[major] != '.' || strspn(v + major + 1, "0123456789") == 0 ||
			    v[major + 1 + strspn(v + major + 1, "0123456789")] != '\0') {
				snprintf(p->problem, sizeof(p->problem), "match[spec_version] takes versions such as 2.1, not '%.*s'",
					 (int)ky_utf8_prefix(v, strlen(v), 64), v);
				return false;
			}
		}
	}
	return true;
}

/* --- cursors ------------------------------------------------------------------------------- */

/* Hashes one field with its length in front, so that the fields' boundaries are part of
 * what is hashed, whatever bytes and lengths the fields have. */
static void hash_field(crypto_generichash_state *h, const char *bytes, size_t len)
{
	uint8_t size[8];
	for (int i = 0; i < 8; i++)
		size[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	crypto_generichash_update(h, size, sizeof(size));
	crypto_generichash_update(h, (const uint8_t *)bytes, len);
}

/* The MAC of a cursor for this resource and these filters. */
static void cursor_mac(const uint8_t secret[KY_STORE_SECRET_SIZE], const ky_taxii_cursor *c,
		       const char *collection_uuid, ky_taxii_listing kind, const char *object_id,
		       const ky_taxii_filters *p, uint8_t mac[CURSOR_MAC_SIZE])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, secret, KY_STORE_SECRET_SIZE, CURSOR_MAC_SIZE);
	uint8_t numbers[16];
	for (int i = 0; i < 8; i++) {
		numbers[i] = (uint8_t)(c->seq >> (56 - 8 * i));
		numbers[8 + i] = (uint8_t)((uint64_t)c->date_added_us >> (56 - 8 * i));
	}
	crypto_generichash_update(&h, numbers, sizeof(numbers));
	for (int i = 0; i < 8; i++)
		numbers[i] = (uint8_t)((uint64_t)c->viewer >> (56 - 8 * i));
	crypto_generichash_update(&h, numbers, 8);
	uint8_t tag = (uint8_t)kind;
	crypto_generichash_update(&h, &tag, 1);
	hash_field(&h, collection_uuid, strlen(collection_uuid));
	hash_field(&h, object_id ? object_id : "", object_id ? strlen(object_id) : 0);
	/* Each filter as given, with its index, so that no two sets of filters hash alike. */
	for (int i = 0; i < KY_TAXII_NPARAMS; i++) {
		if (i == P_LIMIT || i == P_NEXT || p->raw[i].ptr == NULL)
			continue;
		tag = (uint8_t)i;
		crypto_generichash_update(&h, &tag, 1);
		hash_field(&h, p->raw[i].ptr, p->raw[i].len);
	}
	crypto_generichash_final(&h, mac, CURSOR_MAC_SIZE);
}

void ky_taxii_cursor_encode(const uint8_t secret[KY_STORE_SECRET_SIZE], const ky_taxii_cursor *c,
			    const char *collection_uuid, ky_taxii_listing kind, const char *object_id,
			    const ky_taxii_filters *p, char out[KY_TAXII_CURSOR_TEXT])
{
	uint8_t bytes[CURSOR_SIZE];
	for (int i = 0; i < 8; i++) {
		bytes[i] = (uint8_t)(c->seq >> (56 - 8 * i));
		bytes[8 + i] = (uint8_t)((uint64_t)c->date_added_us >> (56 - 8 * i));
	}
	cursor_mac(secret, c, collection_uuid, kind, object_id, p, bytes + 16);
	sodium_bin2base64(out, KY_TAXII_CURSOR_TEXT, bytes, sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool ky_taxii_cursor_decode(const uint8_t secret[KY_STORE_SECRET_SIZE], ky_slice text, const char *collection_uuid,
			    ky_taxii_listing kind, const char *object_id, const ky_taxii_filters *p, ky_taxii_cursor *out)
{
	uint8_t bytes[CURSOR_SIZE], mac[CURSOR_MAC_SIZE];
	size_t len = 0;
	if (sodium_base642bin(bytes, sizeof(bytes), text.ptr, text.len, NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != sizeof(bytes))
		return false;
	out->seq = 0;
	uint64_t date = 0;  /* out->viewer is the caller's */
	for (int i = 0; i < 8; i++) {
		out->seq = out->seq << 8 | bytes[i];
		date = date << 8 | bytes[8 + i];
	}
	out->date_added_us = (int64_t)date;
	cursor_mac(secret, out, collection_uuid, kind, object_id, p, mac);
	return sodium_memcmp(mac, bytes + 16, CURSOR_MAC_SIZE) == 0;
}

/* The hub's cursor secret into secret; the store's failure otherwise. */
static int cursor_secret(ky_store *store, uint8_t secret[KY_STORE_SECRET_SIZE])
{
	int rc = ky_store_secret(store, CURSOR_SECRET, NULL, secret);
	if (rc == KY_ENOTFOUND) {
		/* The hub's first cursor: random bytes become the secret (or another server's do). */
		uint8_t fresh[KY_STORE_SECRET_SIZE];
		randombytes_buf(fresh, sizeof(fresh));
		rc = ky_store_secret(store, CURSOR_SECRET, fresh, secret);
		sodium_memzero(fresh, sizeof(fresh));
	}
	return rc;
}

/* --- pages ---------------------------------------------------------------------------------- */

typedef struct page {
	char *buf;                 /* ROOM bytes for the opening, then the page's items */
	size_t len, cap;
	bool failed;               /* out of memory */
	ky_taxii_listing kind;
	size_t count;
} page;

static void add(page *pg, const char *bytes, size_t n)
{
	if (pg->failed)
		return;
	if (pg->len + n > pg->cap) {
		size_t cap = pg->cap ? pg->cap : 16384;
		while (cap < pg->len + n)
			cap *= 2;
		char *grown = realloc(pg->buf, cap);
		if (grown == NULL) {
			pg->failed = true;
			return;
		}
		pg->buf = grown;
		pg->cap = cap;
	}
	memcpy(pg->buf + pg->len, bytes, n);
	pg->len += n;
}

static void add_text(page *pg, const char *text)
{
	add(pg, text, strlen(text));
}

/* The version of a row: its modified (or created); an object with neither (an SCO) has one
 * version, named by the date it was added (§5.3.1 leaves it to the server). */
static const char *version_of(const ky_store_row *row, char date[40])
{
	if (row->modified != NULL && row->modified[0] != '\0')
		return row->modified;
	ky_clock_format(row->date_added_us, date);
	return date;
}

static int add_row(void *ctx, const ky_store_row *row)
{
	page *pg = ctx;
	char date[40], version[40];
	if (pg->count++ > 0)
		add(pg, ",", 1);
	switch (pg->kind) {
	case KY_TAXII_OBJECTS:
	case KY_TAXII_OBJECT:
		add(pg, row->raw, row->raw_len);
		break;
	case KY_TAXII_MANIFEST:
		/* Ids and versions were validated on the way in: STIX ids and timestamps need no
		 * escaping. */
		ky_clock_format(row->date_added_us, date);
		add_text(pg, "{\"id\":\"");
		add_text(pg, row->id);
		add_text(pg, "\",\"date_added\":\"");
		add_text(pg, date);
		add_text(pg, "\",\"version\":\"");
		add_text(pg, version_of(row, version));
		add_text(pg, "\",\"media_type\":\"" KY_TAXII_STIX_MEDIA "\"}");
		break;
	case KY_TAXII_VERSIONS:
		add(pg, "\"", 1);
		add_text(pg, version_of(row, version));
		add(pg, "\"", 1);
		break;
	}
	return pg->failed ? KY_ENOMEM : 0;
}

static int ignore_row(void *ctx, const ky_store_row *row)
{
	(void)ctx;
	(void)row;
	return 0;
}

int ky_taxii_object_exists(ky_store *store, const ky_store_collection *c, const char *object_id, const ky_viewer *who)
{
	const char *ids[1] = {object_id};
	ky_policy_keys own;
	ky_store_scope scope = ky_policy_collection_scope(c->name, who, &own);
	ky_store_query q = {
		.scope = &scope, .collection_id = c->id, .ids = ids, .nids = 1, .versions = KY_STORE_ALL, .limit = 1};
	ky_store_page found;
	if (ky_store_query_run(store, &q, ignore_row, NULL, &found) != KY_OK)
		return -1;
	return found.count > 0;
}

int ky_taxii_listing_serve(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_store_collection *c,
			   const ky_viewer *who, ky_taxii_listing kind, const char *object_id, const char *content_type)
{
	ky_taxii_filters p = {0};
	if (!ky_taxii_filters_parse(r, kind, t->config, &p))
		return ky_error_set(KY_EINVALID, "%s.", p.problem);
	ky_policy_keys own;
	ky_store_scope scope = ky_policy_collection_scope(c->name, who, &own);
	ky_store_query q = {
		.scope = &scope,
		.collection_id = c->id,
		.ids = p.ids,
		.nids = p.nids,
		.types = p.types,
		.ntypes = p.ntypes,
		.spec_versions = p.spec_versions,
		.nspec_versions = p.nspec_versions,
		.versions = kind == KY_TAXII_VERSIONS ? KY_STORE_ALL : p.versions,
		.modified = p.modified,
		.nmodified = p.nmodified,
		.added_after_us = p.added_after_us,
		.limit = p.limit,
	};
	const char *one[1] = {object_id};
	if (object_id != NULL) {
		q.ids = one;
		q.nids = 1;
	}
	ky_taxii_cursor from = {.viewer = who->who.user_id};
	bool paging = p.raw[P_NEXT].ptr != NULL;
	uint8_t secret[KY_STORE_SECRET_SIZE];
	int rc = paging ? cursor_secret(store, secret) : KY_OK;
	if (rc != KY_OK)
		return ky_http_store_failure(rc);
	if (paging) {
		bool ok = ky_taxii_cursor_decode(secret, p.raw[P_NEXT], c->uuid, kind, object_id, &p, &from);
		sodium_memzero(secret, sizeof(secret));
		if (!ok)
			return ky_error_set(KY_EINVALID, "%s",
					    "next is not a value this server gave for this resource and these filters; send the "
					    "same filters as the first request, or start again without next.");
		/* The cursor lies beyond added_after, which it was made with. */
		q.after = from.seq;
		q.added_after_us = 0;
	}

	page pg = {.kind = kind};
	pg.buf = malloc(ROOM + 16384);
	pg.cap = pg.buf ? ROOM + 16384 : 0;
	pg.len = ROOM;
	pg.failed = pg.buf == NULL;
	ky_store_page result;
	rc = pg.failed ? ky_error_set(KY_ENOMEM, "out of memory building a page")
			   : ky_store_query_run(store, &q, add_row, &pg, &result);
	if (rc == KY_OK && result.count == 0 && object_id != NULL && !paging) {
		int exists = ky_taxii_object_exists(store, c, object_id, who);
		rc = exists < 0	   ? ky_error_last_code()
		     : exists == 0 ? ky_error_set(KY_ENOTFOUND, "The collection has no object with this id.")
				   : KY_OK;
	}
	if (rc != KY_OK) {
		free(pg.buf);
		return rc == KY_ENOTFOUND ? rc : ky_http_store_failure(rc);
	}

	/* §3.2: the dates of the page's first and last additions; an empty page has none, and
	 * carries the point it started after, so that a client paging by added_after stays put. */
	char first[40], last[40];
	if (result.count > 0) {
		ky_clock_format(result.first_date_added_us, first);
		ky_clock_format(result.last_date_added_us, last);
	} else {
		ky_clock_format(paging ? from.date_added_us : p.added_after_us, first);
		memcpy(last, first, sizeof(last));
	}
	ky_http_header_add(r, "X-TAXII-Date-Added-First", first);
	ky_http_header_add(r, "X-TAXII-Date-Added-Last", last);

	char opening[ROOM];
	const char *items = kind == KY_TAXII_VERSIONS ? "versions" : "objects";
	if (result.count == 0) {
		/* §3.7, §5.3.1, §5.8.1: without items, the empty object. */
		free(pg.buf);
		ky_http_respond(r, 200, content_type, "{}", 2);
		return KY_OK;
	}
	if (result.more && (kind == KY_TAXII_OBJECTS || kind == KY_TAXII_OBJECT)) {
		char next[KY_TAXII_CURSOR_TEXT];
		ky_taxii_cursor at = {result.last_seq, result.last_date_added_us, who->who.user_id};
		rc = cursor_secret(store, secret);
		if (rc != KY_OK) {
			free(pg.buf);
			return ky_http_store_failure(rc);
		}
		ky_taxii_cursor_encode(secret, &at, c->uuid, kind, object_id, &p, next);
		sodium_memzero(secret, sizeof(secret));
		snprintf(opening, sizeof(opening), "{\"more\":true,\"next\":\"%s\",\"%s\":[", next, items);
	} else {
		/* Manifests and versions have no next (§5.3.1, §5.8.1): a client goes on with
		 * added_after set to X-TAXII-Date-Added-Last, which is exact here because dates
		 * are unique. */
		snprintf(opening, sizeof(opening), "{\"more\":%s,\"%s\":[", result.more ? "true" : "false", items);
	}
	add(&pg, "]}", 2);
	if (pg.failed) {
		free(pg.buf);
		return ky_error_set(KY_ENOMEM, "out of memory building a page");
	}
	size_t n = strlen(opening);
	memcpy(pg.buf + ROOM - n, opening, n);
	ky_http_respond_take(r, 200, content_type, pg.buf + ROOM - n, pg.len - ROOM + n, pg.buf);
	return KY_OK;
}
