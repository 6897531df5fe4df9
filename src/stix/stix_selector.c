#include "stix/stix_selector.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ky_error.h"

typedef struct segment {
	const char *key;   /* into the selector; NULL for a list index */
	size_t len;
	size_t index;
} segment;

typedef struct path {
	segment seg[KY_STIX_SELECTOR_DEPTH];
	size_t n;
} path;

/* §7.2.3.1's grammar; false for what is not a selector. */
static bool parse(const char *selector, path *out)
{
	const char *p = selector;
	out->n = 0;
	if (*p == '\0')
		return false;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || out->n == KY_STIX_SELECTOR_DEPTH)
			return false;
		segment *s = &out->seg[out->n++];
		*s = (segment){.key = p, .len = len};
		if (p[0] == '[') {
			if (len < 3 || p[len - 1] != ']')
				return false;
			s->key = NULL;
			for (size_t i = 1; i < len - 1; i++) {
				if (!isdigit((unsigned char)p[i]) || s->index > 100000000)
					return false;
				s->index = s->index * 10 + (size_t)(p[i] - '0');
			}
		} else if (len > 255) {
			return false;
		}
		p += len;
		if (*p == '.' && *++p == '\0')
			return false;
	}
	return true;
}

/* The child of node that s names, or NULL. */
static json_t *child(const json_t *node, const segment *s)
{
	if (s->key == NULL)
		return json_is_array(node) ? json_array_get(node, s->index) : NULL;
	if (!json_is_object(node))
		return NULL;
	char key[256];
	memcpy(key, s->key, s->len);
	key[s->len] = '\0';
	return json_object_get(node, key);
}

/* The node the first n segments of p name, or NULL. */
static json_t *walk(const json_t *root, const path *p, size_t n)
{
	json_t *at = (json_t *)root;
	for (size_t i = 0; at != NULL && i < n; i++)
		at = child(at, &p->seg[i]);
	return at;
}

const json_t *ky_stix_select(const json_t *object, const char *selector)
{
	path p;
	return parse(selector, &p) ? walk(object, &p, p.n) : NULL;
}

static int segment_cmp(const segment *a, const segment *b)
{
	if ((a->key == NULL) != (b->key == NULL))
		return a->key == NULL ? -1 : 1;
	if (a->key == NULL)
		return a->index < b->index ? -1 : a->index > b->index;
	int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
	return c ? c : a->len < b->len ? -1 : a->len > b->len;
}

/* Whether a's segments begin b's (a equal to b included). */
static bool prefix_of(const path *a, const path *b)
{
	if (a->n > b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (segment_cmp(&a->seg[i], &b->seg[i]) != 0)
			return false;
	return true;
}

/* Descending, so that a list's later items go before its earlier ones and every index still
 * names what it named in the original. */
static int path_desc(const void *x, const void *y)
{
	const path *a = x, *b = y;
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		int c = segment_cmp(&a->seg[i], &b->seg[i]);
		if (c != 0)
			return -c;
	}
	return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

static void remove_one(json_t *root, const path *p)
{
	json_t *parent = walk(root, p, p->n - 1);
	const segment *last = &p->seg[p->n - 1];
	if (parent == NULL || child(parent, last) == NULL)
		return;
	if (last->key == NULL) {
		json_array_remove(parent, last->index);
	} else {
		char key[256];
		memcpy(key, last->key, last->len);
		key[last->len] = '\0';
		json_object_del(parent, key);
	}
	/* STIX lists are never empty (§3.1): the property goes with its last item. */
	if (last->key == NULL && json_array_size(parent) == 0 && p->n >= 2 && p->seg[p->n - 2].key != NULL) {
		path up = *p;
		up.n--;
		remove_one(root, &up);
	}
}

/* What selector s (original indexes) names after the removal of removed[0..n), into out;
 * false when it named a removed part. */
static bool follow(const path *s, const path *removed, size_t n, char *out, size_t size)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		if (prefix_of(&removed[i], s))
			return false;
	for (size_t d = 0; d < s->n; d++) {
		const segment *g = &s->seg[d];
		int w;
		if (g->key != NULL) {
			w = snprintf(out + len, size - len, "%s%.*s", d ? "." : "", (int)g->len, g->key);
		} else {
			size_t index = g->index;
			for (size_t i = 0; i < n; i++) {
				const path *r = &removed[i];
				if (r->n == d + 1 && r->seg[d].key == NULL && r->seg[d].index < g->index) {
					path parent = *r;
					parent.n = d;
					index -= prefix_of(&parent, s);
				}
			}
			w = snprintf(out + len, size - len, "%s[%zu]", d ? "." : "", index);
		}
		if (w < 0 || (size_t)w >= size - len)
			return false;
		len += (size_t)w;
	}
	return true;
}

/* The granular markings that stay, with their selectors as they now read. */
static int follow_markings(json_t *object, const path *removed, size_t n)
{
	json_t *markings = json_object_get(object, "granular_markings");
	if (!json_is_array(markings))
		return KY_OK;
	for (size_t m = json_array_size(markings); m-- > 0;) {
		json_t *selectors = json_object_get(json_array_get(markings, m), "selectors");
		json_t *kept = json_array();
		if (kept == NULL)
			return ky_error_set(KY_ENOMEM, "out of memory");
		size_t i;
		json_t *sel;
		json_array_foreach(selectors, i, sel)
		{
			path s;
			char text[1024];
			if (!json_is_string(sel) || !parse(json_string_value(sel), &s) ||
			    !follow(&s, removed, n, text, sizeof(text)) || ky_stix_select(object, text) == NULL)
				continue;
			if (json_array_append_new(kept, json_string(text)) != 0) {
				json_decref(kept);
				return ky_error_set(KY_ENOMEM, "out of memory");
			}
		}
		if (json_array_size(kept) == 0)
			json_array_remove(markings, m);
		else if (json_object_set_new(json_array_get(markings, m), "selectors", kept) != 0)
			return ky_error_set(KY_ENOMEM, "out of memory");
		else
			kept = NULL;
		json_decref(kept);
	}
	if (json_array_size(markings) == 0)
		json_object_del(object, "granular_markings");
	return KY_OK;
}

int ky_stix_remove_selected(json_t *object, const char *const *selectors, size_t n)
{
	path *found = calloc(n ? n : 1, sizeof(*found)), *removed = calloc(n ? n : 1, sizeof(*removed));
	if (found == NULL || removed == NULL) {
		free(found);
		free(removed);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	size_t nfound = 0;
	for (size_t i = 0; i < n; i++)
		if (parse(selectors[i], &found[nfound]) && walk(object, &found[nfound], found[nfound].n) != NULL)
			nfound++;
	qsort(found, nfound, sizeof(*found), path_desc);
	/* A part inside another that goes goes with it: only the outermost are removed, once. */
	size_t outer = 0;
	for (size_t i = 0; i < nfound; i++) {
		bool inside = false;
		for (size_t j = 0; j < nfound && !inside; j++)
			inside = j != i && prefix_of(&found[j], &found[i]) && (found[j].n < found[i].n || j < i);
		if (!inside)
			removed[outer++] = found[i];
	}
	free(found);
	for (size_t i = 0; i < outer; i++)
		remove_one(object, &removed[i]);
	int rc = follow_markings(object, removed, outer);
	free(removed);
	return rc;
}
