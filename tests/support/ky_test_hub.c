/*
 * ky_test_hub: fresh hub locations for tests, on SQLite or on the test cluster.
 */
#include "ky_test_hub.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/ky_uuid.h"

bool ky_test_hub_is_pg(void)
{
	const char *backend = getenv("KY_TEST_BACKEND");
	return backend != NULL && strcmp(backend, "postgresql") == 0;
}

/* Runs one statement on the cluster's maintenance database. */
static int maintenance(const char *sql)
{
	const char *uri = getenv("KY_TEST_PG_URI");
	if (uri == NULL) {
		fprintf(stderr, "ky_test_hub: KY_TEST_BACKEND=postgresql needs KY_TEST_PG_URI\n");
		return -1;
	}
	PGconn *conn = PQconnectdb(uri);
	int rc = 0;
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "ky_test_hub: %s: %s", uri, PQerrorMessage(conn));
		rc = -1;
	} else {
		PGresult *r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "ky_test_hub: %s: %s", sql, PQresultErrorMessage(r));
			rc = -1;
		}
		PQclear(r);
	}
	PQfinish(conn);
	return rc;
}

/* The database a location names: the path of a postgresql://user@/NAME?... URI. */
static int database_of(const char *location, char *out, size_t size)
{
	const char *slash = strstr(location, "://");
	slash = slash ? strchr(slash + 3, '/') : NULL;
	if (slash == NULL)
		return -1;
	size_t n = strcspn(slash + 1, "?");
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, slash + 1, n);
	out[n] = '\0';
	return 0;
}

int ky_test_hub_location(char *out, size_t size, const char *dir, const char *name)
{
	if (!ky_test_hub_is_pg()) {
		int n = snprintf(out, size, "%s/%s", dir, name);
		return n > 0 && (size_t)n < size ? 0 : -1;
	}
	/* A database name PostgreSQL takes unquoted: the test's name in letters, digits and
	 * underscores, and a random suffix so that parallel tests never meet. */
	char uuid[37], db[64], sql[128];
	if (ky_uuid4(uuid) != 0)
		return -1;
	size_t k = 0;
	db[k++] = 'k';
	db[k++] = 'y';
	db[k++] = '_';
	for (const char *c = name; *c && k < 40; c++)
		db[k++] = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ? *c : '_';
	db[k++] = '_';
	for (const char *c = uuid; *c && k < sizeof(db) - 1; c++)
		if (*c != '-' && k < 56)
			db[k++] = *c;
	db[k] = '\0';
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if (maintenance(sql) != 0)
		return -1;
	/* The maintenance URI with its database swapped for the new one. */
	const char *uri = getenv("KY_TEST_PG_URI");
	char current[64];
	if (database_of(uri, current, sizeof(current)) != 0) {
		fprintf(stderr, "ky_test_hub: cannot find the database in %s\n", uri);
		return -1;
	}
	const char *at = strstr(strstr(uri, "://") + 3, "/") + 1;
	int n = snprintf(out, size, "%.*s%s%s", (int)(at - uri), uri, db, at + strlen(current));
	return n > 0 && (size_t)n < size ? 0 : -1;
}

void ky_test_hub_drop(const char *location)
{
	char db[64], sql[128];
	if (!ky_test_hub_is_pg() || database_of(location, db, sizeof(db)) != 0)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	maintenance(sql);
}

void ky_test_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[1024];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static const char *const community[] = {"*"};
const ky_store_access ky_test_access = {.provider = 1, .any_object = true, .tlp = 2, .keys = community, .nkeys = 1};
