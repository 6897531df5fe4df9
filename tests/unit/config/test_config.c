/*
 * test_config: kyoyu.conf — the defaults, every key, comments and layout, bad values,
 * unknown sections and keys reported with their line numbers, and which file is read;
 * messages that stay valid UTF-8 whatever the file holds, and parsing from memory.
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
#include "util/ky_utf8.h"

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
	assert_int_equal(c->max_connections, 16000);
	assert_int_equal(c->max_connections_per_address, 256);
	assert_int_equal(c->header_timeout, 10);
	assert_int_equal(c->body_timeout, 300);
	assert_int_equal(c->idle_timeout, 60);
	/* A hub refuses what would let a member's URL reach its own network. */
	assert_false(c->webhook_private_addresses);
	assert_false(c->webhook_plain_http);
	assert_int_equal(c->webhook_timeout_seconds, 10);
	assert_int_equal(c->webhook_max_in_flight, 256);
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

/* The server's connection limits and timeouts (issue 11, defect 6), at their bounds. */
static void test_connection_limits(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(load_text(&c, "[server]\n"
				       "max_connections = 10000\n"
				       "max_connections_per_address = 64\n"
				       "header_timeout = 5\n"
				       "body_timeout = 120\n"
				       "idle_timeout = 30\n"),
			 KY_OK);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.max_connections_per_address, 64);
	assert_int_equal(c.header_timeout, 5);
	assert_int_equal(c.body_timeout, 120);
	assert_int_equal(c.idle_timeout, 30);
	assert_int_equal(load_text(&c, "[server]\nmax_connections = 16\nmax_connections_per_address = 1\n"
				       "header_timeout = 1\nbody_timeout = 1\nidle_timeout = 1\n"),
			 KY_OK);
	assert_int_equal(c.max_connections, 16);
	assert_int_equal(c.max_connections_per_address, 1);
	assert_int_equal(c.header_timeout + c.body_timeout + c.idle_timeout, 3);
	assert_int_equal(load_text(&c, "[server]\nmax_connections = 100000\nmax_connections_per_address = 100000\n"
				       "header_timeout = 3600\nbody_timeout = 86400\nidle_timeout = 86400\n"),
			 KY_OK);
	assert_int_equal(c.max_connections, 100000);
	assert_int_equal(c.max_connections_per_address, 100000);
	assert_int_equal(c.header_timeout, 3600);
	assert_int_equal(c.body_timeout, 86400);
	assert_int_equal(c.idle_timeout, 86400);

	assert_refused("[server]\nmax_connections = 15\n", "line 2: max_connections must be a whole number from 16 to 100000, not '15'");
	assert_refused("[server]\nmax_connections = 100001\n", "max_connections must be a whole number from 16 to 100000");
	assert_refused("[server]\nmax_connections_per_address = 0\n",
		       "line 2: max_connections_per_address must be a whole number from 1 to 100000, not '0'");
	assert_refused("[server]\nmax_connections_per_address = 100001\n", "from 1 to 100000, not '100001'");
	assert_refused("[server]\nheader_timeout = 0\n", "line 2: header_timeout must be a whole number from 1 to 3600, not '0'");
	assert_refused("[server]\nheader_timeout = 3601\n", "header_timeout must be a whole number from 1 to 3600");
	assert_refused("[server]\nbody_timeout = 86401\n", "line 2: body_timeout must be a whole number from 1 to 86400");
	assert_refused("[server]\nbody_timeout = 10s\n", "not '10s'");
	assert_refused("[server]\nidle_timeout = 0\n", "line 2: idle_timeout must be a whole number from 1 to 86400, not '0'");
	assert_refused("[server]\nidle_timeout = 86401\n", "idle_timeout must be a whole number from 1 to 86400");
	assert_refused("[server]\nidle_timeout = 1\nidle_timeout = 2\n", "line 3: 'idle_timeout' in [server] is set twice");
	/* The list of known keys names them all, the longest too. */
	assert_refused("[server]\ntimeout = 1\n",
		       "unknown key 'timeout' in [server] (known: listen, tls_certificate, tls_key, max_content_length, api_root,"
		       " title, page_size, max_page_size, max_connections, max_connections_per_address, header_timeout,"
		       " body_timeout, idle_timeout)");
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
	assert_refused("[webhook]\nprivate_addresses = yes\n", "line 2: private_addresses must be allow or refuse, not 'yes'");
	assert_refused("[audit]\nreads = yes\n", "line 2: reads must be on or off, not 'yes'");
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
	assert_refused("[store]\ndb = x\n\n[stor]\n", "line 4: unknown section [stor] (known: [store], [server], [import], [policy], [audit], [api_root NAME], [collection NAME])");
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
				       "[collection default]\nread = alice, bob ,user:carol\nwrite = alice\n"
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
	/* Bare names are users; the list is respelled KIND:NAME. */
	assert_string_equal(d->read, "user:alice,user:bob,user:carol");
	assert_string_equal(d->write, "user:alice");
	assert_string_equal(d->api_root, "");
	const ky_config_collection *u = ky_config_collection_find(&c, "unconfirmed");
	assert_string_equal(u->api_root, "vendors");
	assert_string_equal(u->read, "*");
	assert_string_equal(u->write, "");
	/* An empty section: nobody reads or writes it. */
	const ky_config_collection *sealed = ky_config_collection_find(&c, "sealed");
	assert_non_null(sealed);
	assert_string_equal(sealed->read, "");
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
	assert_refused("[collection a]\nread = alice, :bob\n", "line 2: read: ':bob' is not a grantee");
	assert_refused("[collection a]\nwrite = alice,,bob\n", "line 2: write: '' is not a grantee");
	assert_refused("[collection a]\nread = team:red\n", "line 2: read: 'team:red' is not a grantee");
	assert_refused("[collection a]\nread = tier:vendor\n", "line 2: read: 'tier:vendor' is not a grantee");
	assert_refused("[collection a]\nread = member:a@b\n", "line 2: read: 'member:a@b' is not a grantee");
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
	assert_int_equal(keys, 18);
}

/* Issue 11, defect 2: values quoted in messages were cut at 64 bytes, inside a character.
 * Every message must be valid UTF-8, whatever the value; bytes that are not UTF-8, or are
 * controls, show as '?'. */
static void test_messages_are_utf8(void **state)
{
	(void)state;
	char value[200] = "", text[400];
	for (int k = 0; k < 30; k++)
		strcat(value, "あ");
	/* The values of api_root are over 64 bytes here, so only their length is told. */
	static const char *const formats[] = {
		"[store]\nsynchronous = %s\n",
		"[import]\nbatch_objects = %s\n",
		"[server]\n%s = 1\n",
		"[collection x]\n%s = 1\n",
		"%s = 1\n",
		"[collection x]\nread = %s\n",
		"[api_root %s]\n",
		"[%s]\n",
		"[server]\nmax_connections = 1%s\n",
		"[server]\napi_root = %s\n",
		"[collection x]\napi_root = %s\n",
	};
	const size_t quoting = 9;
	for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++) {
		/* after 0, 1 and 2 ASCII bytes, so that 64 falls at each place inside a character */
		for (int lead = 0; lead < 3; lead++) {
			char shifted[210];
			snprintf(shifted, sizeof(shifted), "%.*s%s", lead, "aa", value);
			snprintf(text, sizeof(text), formats[k], shifted);
			ky_config c;
			assert_int_equal(load_text(&c, text), KY_EINVALID);
			const char *m = ky_error_last();
			if (!ky_utf8_valid(m, strlen(m)))
				fail_msg("format %zu, lead %d: message is not UTF-8: %s", k, lead, m);
			if (k < quoting && strstr(m, "ああああ") == NULL)
				fail_msg("format %zu, lead %d: message does not quote the value: %s", k, lead, m);
		}
	}
	/* Bytes that are not UTF-8, and controls, are shown as '?'. */
	assert_refused("[store]\nsynchronous = \xff\xfe\xc0\xaf\xed\xa0\x80x\x1b[31m\n",
		       "synchronous must be full or normal, not '???????x?[31m'");
	assert_refused("[store]\nsynchronous = \xe3\x81\n", "not '?\?'");
}

/* inih cuts section names at 49 bytes: a [collection NAME] with a longer name was never found
 * again, so its read and write keys were silently dropped. */
static void test_long_section_names(void **state)
{
	(void)state;
	char name[65], text[300];
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(text, sizeof(text), "[api_root %s]\ntitle = Long\n[collection %s]\napi_root = %s\nread = alice\nwrite = bob\n",
		 name, name, name);
	ky_config c;
	assert_int_equal(load_text(&c, text), KY_OK);
	const ky_config_collection *col = ky_config_collection_find(&c, name);
	assert_non_null(col);
	assert_string_equal(col->read, "user:alice");
	assert_string_equal(col->write, "user:bob");
	assert_string_equal(col->api_root, name);
	assert_string_equal(ky_config_api_root_find(&c, name)->title, "Long");
	/* Two sections that differ only after byte 49 are two sections. */
	snprintf(text, sizeof(text), "[collection %.60sa]\nread = a\n[collection %.60sb]\nread = b\n", name, name);
	assert_int_equal(load_text(&c, text), KY_OK);
	assert_int_equal(c.ncollections, 2);
	assert_string_equal(c.collections[0].read, "user:a");
	assert_string_equal(c.collections[1].read, "user:b");
}

/* Parsing from memory: no NUL or newline needed at the end; a NUL inside a line is refused
 * instead of cutting the line there. */
static void test_parse_from_memory(void **state)
{
	(void)state;
	ky_config c;
	static const char text[] = "[store]\ndb = /srv/hub.db\n[import]\nbatch_objects = 7";
	assert_int_equal(ky_config_parse(&c, text, sizeof(text) - 1, "mem.conf"), KY_OK);
	assert_string_equal(c.db, "/srv/hub.db");
	assert_int_equal(c.batch_objects, 7);
	/* Only len bytes count: what follows is not read. */
	assert_int_equal(ky_config_parse(&c, "[import]\nbatch_objects = 75 junk", 27, "mem.conf"), KY_OK);
	assert_int_equal(c.batch_objects, 75);
	assert_int_equal(ky_config_parse(&c, "", 0, "mem.conf"), KY_OK);
	assert_defaults(&c);

	static const char nul[] = "[store]\ndb = /srv/hub.db\0junk\n";
	assert_int_equal(ky_config_parse(&c, nul, sizeof(nul) - 1, "mem.conf"), KY_EINVALID);
	assert_string_equal(ky_error_last(), "mem.conf line 2: the line holds a NUL byte");
	assert_defaults(&c);
	static const char nul_section[] = "[sto\0re]\n";
	assert_int_equal(ky_config_parse(&c, nul_section, sizeof(nul_section) - 1, "mem.conf"), KY_EINVALID);
	assert_string_equal(ky_error_last(), "mem.conf line 1: the line holds a NUL byte");
	/* The same through a file. */
	conf_file f;
	snprintf(f.path, sizeof(f.path), "/tmp/ky-test-config-XXXXXX");
	int fd = mkstemp(f.path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, nul, sizeof(nul) - 1), (ssize_t)(sizeof(nul) - 1));
	close(fd);
	assert_int_equal(ky_config_load(&c, f.path, true), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "line 2: the line holds a NUL byte"));
	unlink(f.path);
}

/* A file over KY_CONFIG_FILE_MAX is refused without being read to its end. */
static void test_file_too_large(void **state)
{
	(void)state;
	ky_config c;
	assert_int_equal(ky_config_load(&c, "/dev/zero", true), KY_EINVALID);
	assert_string_equal(ky_error_last(), "/dev/zero is larger than 1048576 bytes, too large for a kyoyu.conf");
	assert_defaults(&c);
	/* One of exactly the limit is read. */
	static char text[KY_CONFIG_FILE_MAX + 1];
	memset(text, '\n', KY_CONFIG_FILE_MAX);
	memcpy(text, "[import]\nbatch_objects = 9\n", 27);
	assert_int_equal(load_text(&c, text), KY_OK);
	assert_int_equal(c.batch_objects, 9);
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
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_comments_and_layout),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_keys_and_sections),
		cmocka_unit_test(test_api_roots_and_collections),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_first_problem_and_count),
		cmocka_unit_test(test_example_is_the_defaults),
		cmocka_unit_test(test_messages_are_utf8),
		cmocka_unit_test(test_long_section_names),
		cmocka_unit_test(test_parse_from_memory),
		cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_locate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
