/*
 * fuzz_config: libFuzzer target for the kyoyu.conf parser (src/config/). Any bytes are a
 * candidate file, parsed from memory with ky_config_parse(). A refusal must be KY_EINVALID
 * (or KY_ENOMEM) with a message that names the file and a line and is valid UTF-8, and must
 * leave the defaults; an accepted file must give a config whose every value is within its
 * documented range, and the same config when parsed again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: config contract broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether buf[0..size) holds a NUL-terminated string of at most max bytes. */
static int text_in(const char *buf, size_t size, size_t max)
{
	size_t n = strnlen(buf, size);
	return n < size && n <= max;
}

#define TEXT(field, max) CHECK(text_in((field), sizeof(field), (max)))

static void check_ranges(const ky_config *c)
{
	TEXT(c->db, KY_CONFIG_DB_MAX);
	CHECK(c->db[0] != '\0');
	TEXT(c->listen, 255);
	TEXT(c->tls_certificate, KY_CONFIG_DB_MAX);
	TEXT(c->tls_key, KY_CONFIG_DB_MAX);
	TEXT(c->api_root, KY_CONFIG_NAME_MAX);
	TEXT(c->title, 255);
	TEXT(c->default_collection, KY_CONFIG_NAME_MAX);
	CHECK(c->retry_seconds >= 1 && c->retry_seconds <= 86400);
	CHECK(c->max_content_length >= 1);
	CHECK(c->page_size >= 1 && c->page_size <= c->max_page_size && c->max_page_size <= KY_CONFIG_PAGE_SIZE_MAX);
	CHECK(c->max_connections >= 16 && c->max_connections <= 100000);
	CHECK(c->max_connections_per_address >= 1 && c->max_connections_per_address <= 100000);
	CHECK(c->header_timeout >= 1 && c->header_timeout <= 3600);
	CHECK(c->body_timeout >= 1 && c->body_timeout <= 86400);
	CHECK(c->idle_timeout >= 1 && c->idle_timeout <= 86400);
	CHECK(c->batch_objects >= 1 && c->batch_bytes >= 1);
	CHECK(c->max_object_size >= 1 && c->max_object_size <= KY_CONFIG_OBJECT_SIZE_MAX);
	CHECK(c->napi_roots <= KY_CONFIG_API_ROOTS_MAX && c->ncollections <= KY_CONFIG_COLLECTIONS_MAX);
	for (size_t i = 0; i < c->napi_roots; i++) {
		const ky_config_api_root *r = &c->api_roots[i];
		TEXT(r->name, KY_CONFIG_NAME_MAX);
		CHECK(r->name[0] != '\0' && strcmp(r->name, "taxii2") != 0);
		TEXT(r->title, 255);
		TEXT(r->description, 511);
		CHECK(ky_config_api_root_find(c, r->name) == r);  /* names are unique */
	}
	for (size_t i = 0; i < c->ncollections; i++) {
		const ky_config_collection *col = &c->collections[i];
		TEXT(col->name, KY_CONFIG_NAME_MAX);
		CHECK(col->name[0] != '\0');
		TEXT(col->api_root, KY_CONFIG_NAME_MAX);
		TEXT(col->read, KY_CONFIG_USERS_MAX);
		TEXT(col->write, KY_CONFIG_USERS_MAX);
		CHECK(ky_config_collection_find(c, col->name) == col);
		/* A collection is on [server] api_root or on a defined one. */
		CHECK(col->api_root[0] == '\0' || strcmp(col->api_root, c->api_root) == 0 ||
		      ky_config_api_root_find(c, col->api_root) != NULL);
		/* Lists are respelled: no spaces, no empty items. */
		CHECK(strpbrk(col->read, " \t") == NULL && strstr(col->read, ",,") == NULL);
		CHECK(strpbrk(col->write, " \t") == NULL && strstr(col->write, ",,") == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Static: a ky_config is about 100 KiB. */
	static ky_config c, again, defaults;
	ky_config_defaults(&defaults);
	ky_error_clear();
	int rc = ky_config_parse(&c, (const char *)data, size, "fuzz.conf");
	CHECK(rc == KY_OK || rc == KY_EINVALID || rc == KY_ENOMEM);
	if (rc != KY_OK) {
		const char *m = ky_error_last();
		CHECK(ky_utf8_valid(m, strlen(m)));
		CHECK(rc == KY_ENOMEM || strncmp(m, "fuzz.conf line ", 15) == 0);
		CHECK(memcmp(&c, &defaults, sizeof(c)) == 0);
		return 0;
	}
	check_ranges(&c);
	CHECK(ky_config_parse(&again, (const char *)data, size, "fuzz.conf") == KY_OK);
	CHECK(memcmp(&c, &again, sizeof(c)) == 0);
	return 0;
}
