/*
 * ky_test_hub: where a test keeps its hub, so that every store test runs on both backends.
 *
 * The test command runs the suite twice: with KY_TEST_BACKEND unset (or "sqlite"), hubs are
 * files in a fresh temporary directory; with KY_TEST_BACKEND=postgresql, each hub is a fresh
 * database in the throw-away cluster whose maintenance URI is KY_TEST_PG_URI (and whose
 * directory, for tests that stop and start the server, is KY_TEST_PG_DIR).
 */
#ifndef KY_TEST_HUB_H
#define KY_TEST_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* The access of a version that the store's own tests add: the secretariat (the first
 * member of every hub) provides it and the community reads it. */
extern const ky_store_access ky_test_access;

/* True when this run's hubs are PostgreSQL databases. */
bool ky_test_hub_is_pg(void);

/*
 * Writes a location for a new, empty hub into out: a file under `dir` named `name` for
 * SQLite, or the URI of a database created now (named after `name` and a random suffix) for
 * PostgreSQL. Returns 0, or -1 with a message on stderr.
 */
int ky_test_hub_location(char *out, size_t size, const char *dir, const char *name);

/* For PostgreSQL, drops the database made for `location`; does nothing for SQLite. */
void ky_test_hub_drop(const char *location);

/* Removes a test's temporary directory and the files directly in it (tests make no
 * subdirectories); missing ones are no error. */
void ky_test_remove_dir(const char *dir);

#endif
