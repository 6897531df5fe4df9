/*
 * test_config: kyoyu.conf — the defaults, every key, comments and layout, bad values,
 * unknown sections and keys reported with their line numbers, and which file is read.
 * Its argument is kyoyu.conf.example, which must set every key to its default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/ky_error.h"

/* A file holding `text`, removed by the test. */
typedef struct conf_file {
	char path[64];
} conf_file;

static void write_file(conf_file *f, const char *text)
{
	snprintf(f->path, sizeof(f->path), "/tmp/ky-test-config-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	FILE *out = fdopen(fd, "w");
	assert_non_null(out);
	fputs(text, out);
	assert_int_equal(fclose(out), 0);
}

/* Loads `text` as a required file into *out and returns the code. */
static int load_text(ky_config *out, const char *text)
{
	conf_file f;
	write_file(&f, text);
	int rc = ky_config_load(out, f.path, true);
	unlink(f.path);
	return rc;
}

/* Asserts that `text` is refused and that the message contains `expected`. */
static void assert_refused(const char *text, const char *expected)
{
	ky_config c;
	assert_int_equal(load_text(&c, text), KY_EINVALID);
	if (strstr(ky_error_last(), expected) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", ky_error_last(), expected);
}

static void assert_defaults(const ky_config *c)
{
	assert_string_equal(c->db, "kyoyu.db");
	assert_false(c->synchronous_normal);
	assert_int_equal(c->batch_objects, 1000);
	assert_int_equal(c->batch_bytes, 16777216);
	assert_int_equal(c->max_object_size, 33554432);
	assert_string_equal(c->default_collection, "default");
}

static void test_defaults(void **state)
{
	(void)state;
	ky_config c;
	ky_config_defaults(&c);
	assert_defaults(&c);
	memset(&c, 0x55, sizeof(c));
	assert_int_equal(ky_config_load(&c, NULL, false), KY_OK);
	assert_defaults(&c);
	assert_int_equal(load_text(&c, ""), KY_OK);
	assert_defaults(&c);
}

static void test_missing_file(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(ky_config_load(&c, "/nonexistent/kyoyu.conf", false), KY_OK);
	assert_defaults(&c);
	assert_int_equal(ky_config_load(&c, "/nonexistent/kyoyu.conf", true), KY_ENOTFOUND);
	assert_string_equal(ky_error_last(), "cannot read /nonexistent/kyoyu.conf: No such file or directory");
	assert_defaults(&c);
}

static void test_unreadable_file(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(ky_config_load(&c, "/tmp", false), KY_ERROR);
	assert_string_equal(ky_error_last(), "cannot read /tmp: Is a directory");
}

static void test_every_key(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(load_text(&c, "[store]\n"
				       "db = postgresql://kyoyu@db.example/hub?sslmode=require\n"
				       "synchronous = normal\n"
				       "retry_seconds = 5\n"
				       "[import]\n"
				       "batch_objects = 50\n"
				       "batch_bytes = 1048576\n"
				       "max_object_size = 1000000000\n"
				       "default_collection = partner-feed\n"),
			 KY_OK);
	assert_string_equal(c.db, "postgresql://kyoyu@db.example/hub?sslmode=require");
	assert_true(c.synchronous_normal);
	assert_int_equal(c.retry_seconds, 5);
	assert_int_equal(c.batch_objects, 50);
	assert_int_equal(c.batch_bytes, 1048576);
	assert_int_equal(c.max_object_size, 1000000000);
	assert_string_equal(c.default_collection, "partner-feed");

	/* Keys left out keep their defaults; full is accepted as well as normal. */
	assert_int_equal(load_text(&c, "[store]\nsynchronous = FULL\n"), KY_OK);
	assert_false(c.synchronous_normal);
	assert_string_equal(c.db, "kyoyu.db");
	assert_int_equal(c.batch_objects, 1000);
}

static void test_comments_and_layout(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(load_text(&c, "; kyoyu.conf\n"
				       "# also a comment\n"
				       "\n"
				       "[store]   ; the hub\n"
				       "    db = /srv/kyoyu/hub.db        ; indented, with a comment\n"
				       "\tsynchronous=normal\n"
				       "\n"
				       "[import]\n"
				       "batch_objects: 7\n"
				       "  ; an indented comment\n"
				       "default_collection = a;b\n"),
			 KY_OK);
	assert_string_equal(c.db, "/srv/kyoyu/hub.db");
	assert_true(c.synchronous_normal);
	/* An indented key after another is a key, not a continuation of the value above. */
	assert_int_equal(c.batch_objects, 7);
	/* ';' starts a comment only after whitespace. */
	assert_string_equal(c.default_collection, "a;b");

	/* A UTF-8 byte order mark at the start is skipped, and CRLF line ends are fine. */
	assert_int_equal(load_text(&c, "\xEF\xBB\xBF[store]\r\ndb = x.db\r\n"), KY_OK);
	assert_string_equal(c.db, "x.db");
}

static void test_bad_values(void **state)
{
	(void)state;
	assert_refused("[store]\ndb =\n", "line 2: db must not be empty");
	assert_refused("[store]\nsynchronous = fast\n", "line 2: synchronous must be full or normal, not 'fast'");
	assert_refused("[import]\nbatch_objects = 0\n",
		       "line 2: batch_objects must be a whole number from 1 to");
	assert_refused("[import]\n\nbatch_objects = -5\n", "line 3: batch_objects must be a whole number from 1 to");
	assert_refused("[import]\nbatch_bytes = 16M\n", "not '16M'");
	assert_refused("[import]\nbatch_bytes = +16\n", "not '+16'");
	assert_refused("[import]\nbatch_bytes = 99999999999999999999999\n", "line 2: batch_bytes must be");
	assert_refused("[import]\nmax_object_size = 1000000001\n",
		       "line 2: max_object_size must be a whole number from 1 to 1000000000, not '1000000001'");
	assert_refused("[import]\ndefault_collection =\n", "line 2: default_collection must not be empty");
	assert_refused("[import]\ndefault_collection = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		       "line 2: default_collection is 65 bytes long; at most 64 are allowed");
}

static void test_unknown_keys_and_sections(void **state)
{
	(void)state;
	assert_refused("# c\n[store]\n\n\n\n\ndbb = x\n", "line 7: unknown key 'dbb' in [store] (known: db, synchronous, retry_seconds)");
	assert_refused("[import]\nbatch = 5\n",
		       "line 2: unknown key 'batch' in [import] (known: batch_objects, batch_bytes, max_object_size,"
		       " default_collection)");
	assert_refused("[store]\nDB = x\n", "line 2: unknown key 'DB' in [store]");
	/* An unknown section is reported on its own line, even with no keys. */
	assert_refused("[store]\ndb = x\n\n[stor]\n", "line 4: unknown section [stor] (known: [store], [server], [import], [api_root NAME], [collection NAME])");
	assert_refused("[servers]\nport = 8443\n", "line 1: unknown section [servers]");
	assert_refused("[server]\nport = 8443\n", "line 2: unknown key 'port' in [server]");
	assert_refused("db = x\n", "line 1: 'db' is outside a section; put it under [store], [server] or [import]");
	assert_refused("[store]\ndb = a\n; again\ndb = b\n", "line 4: 'db' in [store] is set twice (first on line 2)");
}

/* API roots, collections with their readers and writers, and page sizes. */
static void test_api_roots_and_collections(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(load_text(&c, "[server]\napi_root = hub\npage_size = 50\nmax_page_size = 500\n"
				       "[api_root vendors]\ntitle = Vendors\ndescription = Contributor members\n"
				       "[collection default]\nread = alice, bob ,carol\nwrite = alice\n"
				       "[collection unconfirmed]\napi_root = vendors\nread = *\n"
				       "[collection sealed]\n"),
			 KY_OK);
	assert_string_equal(c.api_root, "hub");
	assert_int_equal(c.page_size, 50);
	assert_int_equal(c.max_page_size, 500);
	assert_int_equal(c.napi_roots, 1);
	assert_string_equal(c.api_roots[0].name, "vendors");
	assert_string_equal(c.api_roots[0].title, "Vendors");
	assert_string_equal(c.api_roots[0].description, "Contributor members");
	assert_int_equal(c.ncollections, 3);
	const ky_config_collection *d = ky_config_collection_find(&c, "default");
	assert_non_null(d);
	assert_string_equal(d->read, "alice,bob,carol");
	assert_string_equal(d->api_root, "");
	assert_true(ky_config_user_listed(d->read, "bob"));
	assert_true(ky_config_user_listed(d->read, "carol"));
	assert_false(ky_config_user_listed(d->read, "bo"));
	assert_false(ky_config_user_listed(d->write, "bob"));
	const ky_config_collection *u = ky_config_collection_find(&c, "unconfirmed");
	assert_string_equal(u->api_root, "vendors");
	assert_true(ky_config_user_listed(u->read, "anyone"));
	assert_false(ky_config_user_listed(u->write, "anyone"));
	/* An empty section: nobody reads or writes it. */
	const ky_config_collection *sealed = ky_config_collection_find(&c, "sealed");
	assert_non_null(sealed);
	assert_false(ky_config_user_listed(sealed->read, "alice"));
	assert_null(ky_config_collection_find(&c, "other"));
	assert_null(ky_config_api_root_find(&c, "hub"));
	assert_non_null(ky_config_api_root_find(&c, "vendors"));

	/* Defaults: 100 and 1000, no sections. */
	assert_int_equal(load_text(&c, "[server]\n"), KY_OK);
	assert_int_equal(c.page_size, 100);
	assert_int_equal(c.max_page_size, 1000);
	assert_int_equal(c.napi_roots + c.ncollections, 0);

	assert_refused("[collection a]\nread = alice\n\n[collection a]\n", "line 4: [collection a] appears twice (first on line 1)");
	assert_refused("[collection a]\napi_root = elsewhere\n",
		       "line 1: [collection a] is on api_root 'elsewhere', which is neither [server] api_root (kyoyu) nor an [api_root NAME] section");
	assert_refused("[collection a]\nread = alice, :bob\n", "line 2: read: ':bob' is not a user name");
	assert_refused("[collection a]\nwrite = alice,,bob\n", "line 2: write: '' is not a user name");
	assert_refused("[collection a]\nread = *, alice\n", "line 2: read: * means every user and stands alone");
	assert_refused("[collection a]\nread =\n", "line 2: read must not be empty (leave it out for nobody)");
	assert_refused("[collection a]\nread = a\nread = b\n", "line 3: 'read' in [collection a] is set twice");
	assert_refused("[collection a]\nreaders = a\n", "line 2: unknown key 'readers' in [collection a] (known: api_root, read, write)");
	assert_refused("[collection a/b]\n", "line 1: [collection a/b]: a name is 1 to 64 letters");
	assert_refused("[api_root taxii2]\n", "and not taxii2");
	assert_refused("[api_root x]\nname = y\n", "line 2: unknown key 'name' in [api_root x] (known: title, description)");
	assert_refused("[server]\napi_root = a b\n", "line 2: api_root 'a b' is not a path segment");
	assert_refused("[server]\npage_size = 2000\n", "line 2: page_size (2000) is larger than max_page_size (1000)");
	assert_refused("[server]\nmax_page_size = 10001\n", "line 2: max_page_size must be a whole number from 1 to 10000");
	assert_refused("[server]\npage_size = 0\n", "line 2: page_size must be a whole number from 1 to 10000");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	assert_refused("[store]\ndb = x\njust words\n", "line 3: expected '[section]' or 'key = value'");
	assert_refused("[store\ndb = x\n", "line 1: expected '[section]' or 'key = value'");
	char text[1024];
	snprintf(text, sizeof(text), "[store]\ndb = /%0900d\n", 0);
	assert_refused(text, "line 2: the line is longer than");
}

static void test_first_problem_and_count(void **state)
{
	(void)state;
	ky_config c;
	conf_file f;
	write_file(&f, "[store]\n"
		       "synchronous = sometimes\n"
		       "garbage\n"
		       "[import]\n"
		       "batch_objects = many\n"
		       "colour = blue\n");
	assert_int_equal(ky_config_load(&c, f.path, false), KY_EINVALID);
	char expected[160];
	snprintf(expected, sizeof(expected),
		 "%s line 2: synchronous must be full or normal, not 'sometimes' (and 3 more problems)", f.path);
	assert_string_equal(ky_error_last(), expected);
	/* A refused file leaves the defaults, not half of it. */
	assert_defaults(&c);
	unlink(f.path);

	/* A syntax error before the first bad key is the one reported. */
	assert_refused("[store]\n???\ndbb = 1\n", "line 2: expected '[section]' or 'key = value' (and 1 more problems)");
}

static const char *example_path;

static void test_example_is_the_defaults(void **state)
{
	(void)state;
	ky_config c, defaults;
	assert_non_null(example_path);
	assert_int_equal(ky_config_load(&c, example_path, true), KY_OK);
	ky_config_defaults(&defaults);
	assert_memory_equal(&c, &defaults, sizeof(c));
	/* and it sets every key but the two TLS files (which have no default to show), so that
	 * it documents them all; the named sections, which have no defaults, are shown commented */
	FILE *in = fopen(example_path, "r");
	assert_non_null(in);
	char line[256];
	size_t keys = 0;
	while (fgets(line, sizeof(line), in) != NULL)
		keys += line[0] != ';' && line[0] != '[' && strchr(line, '=') != NULL;
	fclose(in);
	assert_int_equal(keys, 13);
}

static void test_locate(void **state)
{
	(void)state;
	char saved[4096], dir[] = "/tmp/ky-test-locate-XXXXXX";
	assert_non_null(getcwd(saved, sizeof(saved)));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);

	assert_string_equal(ky_config_locate("/some/explicit.conf"), "/some/explicit.conf");
	const char *none = access(KY_CONFIG_PATH_SYSTEM, F_OK) == 0 ? KY_CONFIG_PATH_SYSTEM : NULL;
	assert_ptr_equal(ky_config_locate(NULL), none);
	FILE *local = fopen("kyoyu.conf", "w");
	assert_non_null(local);
	fclose(local);
	assert_string_equal(ky_config_locate(NULL), KY_CONFIG_PATH_LOCAL);

	unlink("kyoyu.conf");
	assert_int_equal(chdir(saved), 0);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	example_path = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_comments_and_layout),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_keys_and_sections),
		cmocka_unit_test(test_api_roots_and_collections),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_first_problem_and_count),
		cmocka_unit_test(test_example_is_the_defaults),
		cmocka_unit_test(test_locate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
