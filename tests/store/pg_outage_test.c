/*
 * pg_outage_test: stops the PostgreSQL server in the middle of `kyoyu import` and starts it
 * again; kyoyu must carry on by itself and keep every acknowledgement, once.
 *
 *     pg_outage_test --kyoyu PATH --gen PATH [--objects N] [--batch B] [--half-open]
 *
 * PostgreSQL only: it needs KY_TEST_BACKEND=postgresql, KY_TEST_PG_URI and KY_TEST_PG_DIR (the
 * directory of the throw-away cluster, scripts/pg-cluster, which it stops and starts with
 * pg_ctl, as the cluster's owner, with the options the server was started with: read from
 * DIR/data/postmaster.opts). Without them it says why and exits 77, which ctest counts as
 * skipped. It stops a server other tests may be using: register it RUN_SERIAL.
 *
 * A bundle of N indicators (default 40,000; gen_indicators) is read with the stream reader
 * (each object's exact bytes), and imported with `kyoyu --db HUB import --json --batch B`
 * (default 200), its lines read from a pipe as they come. Four scenarios (a fifth on request):
 *
 * 1. Recovery. After a random number of acknowledged lines the server is stopped with
 *    `pg_ctl stop -m fast` (sessions ended, a shutdown checkpoint); while it is down,
 *    `kyoyu stats` and another `kyoyu import` must fail at once (exit 1), with a message
 *    naming the hub's URI and saying it cannot connect, and the running import must still be
 *    waiting (not exited); after ~3 s the server starts again. Later, a second time, with
 *    `-m immediate` (no checkpoint: crash recovery at the next start). The import must exit 0
 *    (it reconnected and retried the interrupted batches by itself); its lines report every
 *    object once, in order; its summary says N stored, 0 duplicate, 0 refused (a batch that
 *    committed just as the connection broke is read back by its token, not stored again nor
 *    reported as duplicates); and the hub holds every object exactly once, bit for bit the
 *    bundle's bytes, under the number its "stored" line gave, numbers and dates added
 *    increasing; ky_store_check() passes, the statistics agree, and `kyoyu stats` works again.
 * 2. Giving up. With kyoyu.conf [store] retry_seconds = 3, the server is stopped after some
 *    lines and kept down for longer: the import must fail (exit 1) within the retry time
 *    (plus a margin), naming the URI and saying how long the database was unreachable. Every
 *    object it acknowledged must be in the hub once the server is back.
 * 3. Resuming. The same bundle imported again into that hub: exit 0, the objects the failed
 *    run committed (acknowledged or not) are duplicates, the others stored; every object
 *    once in the hub.
 * 4. Cut connections. kyoyu connects through a proxy in this process (a Unix socket in the
 *    work directory, relaying the protocol to the server's) that cuts the first connection
 *    right after a COMMIT has reached the server and been answered, the answer thrown away
 *    (the batch is in, kyoyu cannot know: its retry must find the batch's token and read the
 *    outcome back), and the second connection just before a COMMIT (nothing committed: the
 *    batch must run again). The import must exit 0 with N stored and 0 duplicate, the hub
 *    hold every object once under its acknowledged number, and `commits` hold exactly one
 *    row per batch.
 * 5. With --half-open only (not in ctest: it takes 20 s and its outcome depends on server
 *    settings): the proxy closes kyoyu's side of a connection at a COMMIT and keeps the
 *    server's side open and silent, as when a network path dies without a reset. The
 *    server's session stays idle in its transaction, holding its locks; the test reports what
 *    the import does (waits, fails, recovers) and which sessions wait on what.
 * Prints the seed first and a summary last. KY_OUTAGE_SEED=N repeats the choices. The server
 * is started again whatever happens.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ky_test_hub.h"
#include "ky_test_proc.h"
#include "stix/stix_reader.h"
#include "store/store.h"
#include "util/ky_error.h"

#define SKIP 77
#define RETRY_SECONDS 3

static char workdir[256];
static const char *cluster_dir;
static bool server_down;

static void server(const char *action, const char *mode);

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pg_outage_test: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (server_down) {
		/* Whatever failed, the other tests need their server. */
		fprintf(stderr, "pg_outage_test: starting the server again\n");
		server_down = false;
		server("start", NULL);
	}
	if (workdir[0])
		fprintf(stderr, "pg_outage_test: the bundle and outputs are kept in %s\n", workdir);
	exit(1);
}

static uint64_t rng;

static uint64_t below(uint64_t n)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	z ^= z >> 31;
	return n ? z % n : 0;
}

/* --- the bundle's objects, by id --------------------------------------------------------- */

typedef struct object {
	char *id;
	char *raw;
	size_t raw_len;
	uint64_t acked_seq; /* the number of its "stored" line in the current hub; 0: none */
	bool acked;         /* a line of the current hub's imports reported it */
	unsigned lines;     /* lines reporting it in the current import */
	unsigned seen;      /* rows for it in the current check */
} object;

static object *objects;
static size_t nobjects;
static size_t *slots;
static size_t nslots;

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static object *find(const char *id)
{
	for (size_t i = hash(id) & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
		if (slots[i] == 0)
			return NULL;
		if (strcmp(objects[slots[i] - 1].id, id) == 0)
			return &objects[slots[i] - 1];
	}
}

static void load_bundle(const char *path, size_t expected)
{
	FILE *in = fopen(path, "rb");
	ky_stix_reader *reader = NULL;
	ky_stix_item item;
	int rc;
	if (in == NULL || ky_stix_reader_new(&reader, in, 0, path) != KY_OK)
		die("cannot read %s", path);
	objects = calloc(expected, sizeof(*objects));
	for (nslots = 1; nslots < 2 * expected; nslots *= 2)
		;
	slots = calloc(nslots, sizeof(*slots));
	if (objects == NULL || slots == NULL)
		die("out of memory");
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		const char *id = item.object ? json_string_value(json_object_get(item.object, "id")) : NULL;
		if (id == NULL || nobjects == expected || find(id) != NULL)
			die("%s: objects[%zu]: no id, a repeated id, or more than %zu objects", path, item.index, expected);
		object *o = &objects[nobjects];
		o->id = strdup(id);
		o->raw = malloc(item.raw_len);
		o->raw_len = item.raw_len;
		if (o->id == NULL || o->raw == NULL)
			die("out of memory");
		memcpy(o->raw, item.raw, item.raw_len);
		size_t i = hash(id) & (nslots - 1);
		while (slots[i] != 0)
			i = (i + 1) & (nslots - 1);
		slots[i] = ++nobjects;
	}
	if (rc != 0 || nobjects != expected)
		die("%s: %zu objects, expected %zu: %s", path, nobjects, expected, rc ? ky_error_last() : "");
	ky_stix_reader_free(reader);
	fclose(in);
}

/* --- child processes ------------------------------------------------------------------ */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return strdup("");
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(mem);
	fclose(f);
	return text;
}

/* --- the server ----------------------------------------------------------------------- */

static char pg_ctl[512];
static char start_options[2048]; /* -o for pg_ctl start: what the server was started with */
static char owner[64];           /* run pg_ctl as this user (we are root), or "" */
static char server_socket[512];  /* the server's Unix socket: -k DIR, -p PORT */
static char server_port[16];
static char socket_dir[512];     /* -k DIR */
static char uri_label[512];      /* the hub's URI, as kyoyu names it in messages */

/* Reads DIR/data/postmaster.opts: `/path/postgres "-D" "DIR/data" "-c" "x=y" ...`. */
static void read_server_options(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/data/postmaster.opts", cluster_dir);
	char *text = slurp(path);
	char *p = text;
	char *tokens[64];
	int n = 0;
	while (*p && n < 64) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (*p == '"') {
			tokens[n++] = ++p;
			while (*p && *p != '"')
				p++;
		} else {
			tokens[n++] = p;
			while (*p && *p != ' ' && *p != '\n')
				p++;
		}
		if (*p)
			*p++ = '\0';
	}
	if (n < 1 || strstr(tokens[0], "postgres") == NULL)
		die("cannot read the server's options from %s", path);
	char bin[512];
	snprintf(bin, sizeof(bin), "%s", tokens[0]);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", dirname(bin));
	size_t len = 0;
	for (int i = 1; i < n; i++) {
		if (strcmp(tokens[i], "-D") == 0) {
			i++;
			continue;
		}
		if (strcmp(tokens[i], "-k") == 0 && i + 1 < n)
			snprintf(server_socket, sizeof(server_socket), "%s", tokens[i + 1]);
		if (strcmp(tokens[i], "-p") == 0 && i + 1 < n)
			snprintf(server_port, sizeof(server_port), "%s", tokens[i + 1]);
		if (strchr(tokens[i], '\'') != NULL)
			die("%s: an option with a quote: %s", path, tokens[i]);
		len += (size_t)snprintf(start_options + len, sizeof(start_options) - len, "%s'%s'", len ? " " : "", tokens[i]);
		if (len >= sizeof(start_options))
			die("%s: options too long", path);
	}
	free(text);
	if (!server_socket[0] || !server_port[0])
		die("%s: no -k DIR and -p PORT: the server's socket is unknown", path);
	snprintf(socket_dir, sizeof(socket_dir), "%s", server_socket);
	size_t dir_len = strlen(server_socket);
	snprintf(server_socket + dir_len, sizeof(server_socket) - dir_len, "/.s.PGSQL.%s", server_port);

	struct stat st;
	snprintf(path, sizeof(path), "%s/data", cluster_dir);
	if (stat(path, &st) != 0)
		die("%s: %s", path, strerror(errno));
	if (geteuid() == 0 && st.st_uid != 0) {
		struct passwd *pw = getpwuid(st.st_uid);
		if (pw == NULL)
			die("no user for uid %u, the owner of %s", (unsigned)st.st_uid, path);
		snprintf(owner, sizeof(owner), "%s", pw->pw_name);
	}
}

/* pg_ctl start or stop (mode: fast, immediate), as the cluster's owner, waiting for it. */
static void server(const char *action, const char *mode)
{
	char data[512], log[512], err[512];
	snprintf(data, sizeof(data), "%s/data", cluster_dir);
	snprintf(log, sizeof(log), "%s/server.log", cluster_dir);
	snprintf(err, sizeof(err), "%s/pg_ctl-stderr.txt", workdir);
	char *argv[24];
	int n = 0;
	if (owner[0]) {
		argv[n++] = "runuser";
		argv[n++] = "-u";
		argv[n++] = owner;
		argv[n++] = "--";
	}
	argv[n++] = pg_ctl;
	argv[n++] = "-D";
	argv[n++] = data;
	argv[n++] = "-w";
	argv[n++] = "-t";
	argv[n++] = "60";
	if (mode != NULL) {
		argv[n++] = "-m";
		argv[n++] = (char *)mode;
	}
	if (strcmp(action, "start") == 0) {
		argv[n++] = "-l";
		argv[n++] = log;
		argv[n++] = "-o";
		argv[n++] = start_options;
	}
	argv[n++] = (char *)action;
	argv[n] = NULL;
	int status = ky_test_wait(ky_test_spawn(argv, "/dev/null", NULL, err, false));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *text = slurp(err);
		fprintf(stderr, "pg_outage_test: pg_ctl %s: status %#x: %s\n", action, status, text);
		free(text);
		if (strcmp(action, "start") == 0) {
			server_down = false; /* nothing more to try */
			die("the server did not start again");
		}
		die("pg_ctl %s failed", action);
	}
	server_down = strcmp(action, "stop") == 0;
}

/* --- a proxy that cuts the connection at a COMMIT ------------------------------------------ */

/*
 * Between kyoyu and the server, on a Unix socket of its own: it relays the protocol and, on
 * the connection and COMMIT chosen, cuts the line. Before: the COMMIT never reaches the
 * server, which rolls the batch back when its side closes. After: the server commits and
 * answers, and the answer is thrown away, so kyoyu cannot know the batch is in: the case the
 * `commits` tokens are for. Half-open: the client's side is closed, the server's is kept open
 * and silent, as when a network path dies without a reset; the server's session stays in its
 * transaction.
 */
typedef enum cut { CUT_NONE, CUT_BEFORE, CUT_AFTER, CUT_HALF_OPEN } cut;

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_exact(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* dir + name into addr->sun_path; false if it does not fit. */
static bool socket_path(struct sockaddr_un *addr, const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	if (a + b >= sizeof(addr->sun_path))
		return false;
	memcpy(addr->sun_path, dir, a);
	memcpy(addr->sun_path + a, name, b + 1);
	return true;
}

static uint32_t be32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

/* Relays one connection; returns the server's fd if it is to be kept open (half-open), else -1. */
static int relay(int client, cut how, int at, FILE *log)
{
	int upstream = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char head[8];
	if (upstream < 0 || !socket_path(&addr, server_socket, "") || connect(upstream, (struct sockaddr *)&addr, sizeof(addr)) != 0 || !read_exact(client, head, 4)) {
		close(client);
		if (upstream >= 0)
			close(upstream);
		return -1;
	}
	/* The startup message: a length, no type. */
	uint32_t len = be32(head);
	char *buf = malloc(len > 65536 ? len : 65536);
	size_t cap = len > 65536 ? len : 65536, have = 0;
	if (buf == NULL || len < 8 || !read_exact(client, buf, len - 4) || !write_all(upstream, head, 4) ||
	    !write_all(upstream, buf, len - 4))
		goto done;
	int commits = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = client, .events = POLLIN}, {.fd = upstream, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (p[1].revents) {
			char chunk[65536];
			ssize_t n = read(upstream, chunk, sizeof(chunk));
			if (n <= 0 || !write_all(client, chunk, (size_t)n))
				goto done;
		}
		if (!p[0].revents)
			continue;
		if (cap - have < 65536) {
			cap *= 2;
			char *grown = realloc(buf, cap);
			if (grown == NULL)
				goto done;
			buf = grown;
		}
		ssize_t n = read(client, buf + have, cap - have);
		if (n <= 0)
			goto done;
		have += (size_t)n;
		size_t off = 0;
		while (have - off >= 5) {
			uint32_t mlen = be32(buf + off + 1);
			if (have - off < 1 + (size_t)mlen)
				break;
			bool commit = buf[off] == 'Q' && mlen == 4 + 7 && memcmp(buf + off + 5, "COMMIT", 7) == 0;
			if (commit && how != CUT_NONE && ++commits == at) {
				if (how == CUT_BEFORE) {
					fprintf(log, "cut before COMMIT %d: not sent to the server.\n", at);
					goto done;
				}
				if (how == CUT_HALF_OPEN) {
					fprintf(log, "cut at COMMIT %d, half-open: the client's side closed, the server's kept open and silent\n", at);
					close(client);
					free(buf);
					return upstream;
				}
				/* After: the server commits; its answer goes nowhere. */
				char tag[64] = "nothing";
				if (!write_all(upstream, buf + off, 1 + (size_t)mlen))
					goto done;
				for (;;) {
					char mh[5];
					if (!read_exact(upstream, mh, 5))
						break;
					uint32_t blen = be32(mh + 1) - 4;
					char *body = malloc(blen + 1);
					if (body == NULL || !read_exact(upstream, body, blen)) {
						free(body);
						break;
					}
					body[blen] = '\0';
					if (mh[0] == 'C')
						snprintf(tag, sizeof(tag), "%s", body);
					else if (mh[0] == 'E')
						snprintf(tag, sizeof(tag), "an error");
					free(body);
					if (mh[0] == 'Z')
						break;
				}
				fprintf(log, "cut after COMMIT %d: the server answered %s, dropped.\n", at, tag);
				goto done;
			}
			if (!write_all(upstream, buf + off, 1 + (size_t)mlen))
				goto done;
			off += 1 + (size_t)mlen;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
done:
	fflush(log);
	free(buf);
	close(client);
	close(upstream);
	return -1;
}

/* The proxy's half-open connections: the server's sides, kept open until SIGUSR1. */
static volatile int kept[64];
static volatile int nkept;

static void close_kept(int sig)
{
	(void)sig;
	for (int i = 0; i < nkept; i++)
		close(kept[i]);
	nkept = 0;
}

/*
 * Starts the proxy on DIR/.s.PGSQL.PORT (the server's port number, another directory). The
 * first connection is cut as first/at1 say, the second as second/at2; later ones are only
 * relayed. Each cut is logged to log_path. Returns the proxy's pid (kill it with SIGTERM).
 */
static pid_t proxy_start(const char *dir, cut first, int at1, cut second, int at2, const char *log_path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char name[32];
	snprintf(name, sizeof(name), "/.s.PGSQL.%s", server_port);
	if (!socket_path(&addr, dir, name))
		die("proxy: the socket path %s%s is too long", dir, name);
	unlink(addr.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 8) != 0)
		die("proxy: %s: %s", addr.sun_path, strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		close(fd);
		return pid;
	}
	FILE *log = fopen(log_path, "w");
	if (log == NULL)
		_exit(1);
	struct sigaction sa = {.sa_handler = close_kept};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 1;; i++) {
		int client = accept(fd, NULL, NULL);
		if (client < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		cut how = i == 1 ? first : i == 2 ? second : CUT_NONE;
		int keep = relay(client, how, i == 1 ? at1 : at2, log);
		if (keep >= 0 && nkept < 64)
			kept[nkept++] = keep;
	}
}

/* Closes the server's side of the half-open connections (SIGUSR1 to the proxy). */
static void proxy_close_half_open(pid_t pid)
{
	kill(pid, SIGUSR1);
}

static void proxy_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	ky_test_wait(pid);
}

/* --- one import, read line by line ------------------------------------------------------- */

typedef struct import {
	pid_t pid;
	int fd;
	char *buf;
	size_t len, cap;
	size_t lines, stored, duplicate;
	json_t *summary;
	bool open;
	int status;
	char err[320];
} import;

static void take_line(import *im, const char *line)
{
	json_error_t error;
	json_t *j = json_loads(line, 0, &error);
	if (j == NULL)
		die("not JSON: %s", line);
	json_t *summary = json_object_get(j, "summary");
	if (summary != NULL) {
		if (im->summary != NULL)
			die("two summaries");
		im->summary = j;
		return;
	}
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *status = json_string_value(json_object_get(j, "status"));
	json_int_t index = json_integer_value(json_object_get(j, "index"));
	object *o = id ? find(id) : NULL;
	if (o == NULL || status == NULL || im->summary != NULL)
		die("a line for no object of the bundle: %s", line);
	if ((size_t)index != im->lines || (size_t)(o - objects) != (size_t)index)
		die("line %zu reports objects[%lld] (%s)", im->lines, (long long)index, id);
	if (o->lines++ > 0)
		die("%s reported twice in one import", id);
	if (strcmp(status, "stored") == 0) {
		if (o->acked)
			die("%s reported stored, but an earlier import had reported it already", id);
		json_int_t seq = json_integer_value(json_object_get(j, "seq"));
		if (seq <= 0)
			die("stored without a number: %s", line);
		o->acked_seq = (uint64_t)seq;
		im->stored++;
	} else if (strcmp(status, "duplicate") == 0) {
		im->duplicate++;
	} else {
		die("%s", line);
	}
	o->acked = true;
	im->lines++;
	json_decref(j);
}

/* Reads what the import printed within timeout_ms (-1: until something comes); false at
 * the end of its output. */
static bool pump(import *im, int timeout_ms)
{
	if (!im->open)
		return false;
	struct pollfd p = {.fd = im->fd, .events = POLLIN};
	int ready = poll(&p, 1, timeout_ms);
	if (ready < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (ready <= 0)
		return true;
	if (im->cap - im->len < 65536) {
		im->cap = im->cap * 2 + 65536;
		if ((im->buf = realloc(im->buf, im->cap)) == NULL)
			die("out of memory");
	}
	ssize_t n = read(im->fd, im->buf + im->len, im->cap - im->len - 1);
	if (n < 0 && errno != EINTR)
		die("read: %s", strerror(errno));
	if (n == 0) {
		im->open = false;
		return false;
	}
	if (n > 0)
		im->len += (size_t)n;
	size_t start = 0;
	for (size_t i = 0; i < im->len; i++) {
		if (im->buf[i] != '\n')
			continue;
		im->buf[i] = '\0';
		take_line(im, im->buf + start);
		start = i + 1;
	}
	memmove(im->buf, im->buf + start, im->len - start);
	im->len -= start;
	return true;
}

static void import_start(import *im, const char *kyoyu, const char *conf, const char *hub, const char *bundle,
			 const char *batch, const char *name)
{
	memset(im, 0, sizeof(*im));
	for (size_t i = 0; i < nobjects; i++)
		objects[i].lines = 0;
	snprintf(im->err, sizeof(im->err), "%s/%s-stderr.txt", workdir, name);
	char *argv[] = {(char *)kyoyu, "--config", (char *)conf, "--db", (char *)hub, "import", "--json",
			"--batch", (char *)batch, (char *)bundle, NULL};
	im->pid = ky_test_spawn(argv, NULL, &im->fd, im->err, false);
	im->open = true;
}

/* Reads lines until at least `lines` have come (or the output ends). */
static void import_read_until(import *im, size_t lines)
{
	while (im->lines < lines && pump(im, -1))
		;
}

static void import_finish(import *im)
{
	while (pump(im, -1))
		;
	close(im->fd);
	free(im->buf);
	im->buf = NULL;
	im->status = ky_test_wait(im->pid);
	if (im->summary == NULL)
		die("the import printed no summary (status %#x)", im->status);
}

static json_int_t summary_count(const import *im, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(im->summary, "summary"), key));
}

static const char *summary_error(const import *im)
{
	const char *e = json_string_value(json_object_get(json_object_get(im->summary, "summary"), "error"));
	return e ? e : "";
}

/* --- checks ------------------------------------------------------------------------------ */

/* A kyoyu command that must fail at once, naming the hub, while the server is down. */
static void expect_down(const char *kyoyu, const char *conf, const char *hub, const char *bundle, const char *command)
{
	char out[320], err[320];
	snprintf(out, sizeof(out), "%s/down-%s-stdout.txt", workdir, command);
	snprintf(err, sizeof(err), "%s/down-%s-stderr.txt", workdir, command);
	char *stats_argv[] = {(char *)kyoyu, "--config", (char *)conf, "--db", (char *)hub, "stats", NULL};
	char *import_argv[] = {(char *)kyoyu, "--config", (char *)conf, "--db", (char *)hub, "import", (char *)bundle, NULL};
	int64_t start = ky_test_now_ms();
	int status = ky_test_wait(ky_test_spawn(strcmp(command, "stats") == 0 ? stats_argv : import_argv, out, NULL, err, false));
	int64_t took = ky_test_now_ms() - start;
	char *text = slurp(err);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		die("kyoyu %s with the server down: status %#x, expected exit 1; stderr: %s", command, status, text);
	if (strstr(text, uri_label) == NULL || strstr(text, "cannot connect") == NULL)
		die("kyoyu %s with the server down: the message does not name %s and say it cannot connect: %s", command,
		    uri_label, text);
	if (took > 5000)
		die("kyoyu %s with the server down took %lld ms to fail", command, (long long)took);
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	printf("  server down: kyoyu %s failed in %lld ms: %s\n", command, (long long)took, text);
	free(text);
}

typedef struct check_ctx {
	uint64_t last_seq;
	int64_t last_date;
	size_t rows;
} check_ctx;

static int check_row(void *arg, const ky_store_row *row)
{
	check_ctx *c = arg;
	object *o = find(row->id);
	if (o == NULL)
		die("the hub holds %s, which is not in the bundle", row->id);
	if (row->seq <= c->last_seq || row->date_added_us <= c->last_date)
		die("number %" PRIu64 " (added %" PRId64 ") after %" PRIu64 " (added %" PRId64 ")", row->seq,
		    row->date_added_us, c->last_seq, c->last_date);
	if (++o->seen > 1)
		die("%s is in the collection twice", row->id);
	if (row->raw_len != o->raw_len || memcmp(row->raw, o->raw, o->raw_len) != 0)
		die("the stored bytes of %s differ from the bundle's", row->id);
	if (o->acked_seq != 0 && o->acked_seq != row->seq)
		die("%s was acknowledged as number %" PRIu64 " but has %" PRIu64, row->id, o->acked_seq, row->seq);
	c->last_seq = row->seq;
	c->last_date = row->date_added_us;
	c->rows++;
	return 0;
}

/* Every acknowledged object present once with its bytes and number; returns the rows. */
static size_t check_hub(const char *hub)
{
	ky_store *s = NULL;
	ky_store_collection coll = {0};
	if (ky_store_open(&s, hub, NULL, NULL) != KY_OK)
		die("cannot open the hub: %s", ky_error_last());
	if (ky_store_check(s) != KY_OK)
		die("check: %s", ky_error_last());
	if (ky_store_collection_find(s, KY_STORE_DEFAULT_COLLECTION, &coll) != KY_OK)
		die("%s", ky_error_last());
	for (size_t i = 0; i < nobjects; i++)
		objects[i].seen = 0;
	check_ctx c = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = coll.id, .versions = KY_STORE_ALL};
	if (ky_store_query_run(s, &q, check_row, &c, NULL) != KY_OK)
		die("query: %s", ky_error_last());
	for (size_t i = 0; i < nobjects; i++)
		if (objects[i].acked && objects[i].seen != 1)
			die("%s was acknowledged but is not in the hub", objects[i].id);
	ky_store_stats stats;
	if (ky_store_stats_get(s, &stats) != KY_OK)
		die("stats: %s", ky_error_last());
	if (stats.additions != c.rows || stats.versions != c.rows || stats.last_seq != c.last_seq)
		die("stats say %" PRIu64 " additions, %" PRIu64 " versions, last number %" PRIu64
		    "; the collection has %zu rows up to %" PRIu64,
		    stats.additions, stats.versions, stats.last_seq, c.rows, c.last_seq);
	ky_store_collection_clear(&coll);
	ky_store_close(s);
	return c.rows;
}

static void forget_acks(void)
{
	for (size_t i = 0; i < nobjects; i++) {
		objects[i].acked = false;
		objects[i].acked_seq = 0;
	}
}

static void init_hub(const char *kyoyu, const char *conf, const char *hub)
{
	char out[320], err[320];
	snprintf(out, sizeof(out), "%s/init-stdout.txt", workdir);
	snprintf(err, sizeof(err), "%s/init-stderr.txt", workdir);
	char *argv[] = {(char *)kyoyu, "--config", (char *)conf, "--db", (char *)hub, "init", NULL};
	int status = ky_test_wait(ky_test_spawn(argv, out, NULL, err, false));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *text = slurp(err);
		die("kyoyu init: %s", text);
	}
}

/* The import runs; after `after` more lines the server stops (mode) for down_ms. Returns the
 * milliseconds from the restart to the import's next line (-1: none came). */
static int64_t outage(import *im, size_t after, const char *mode, int64_t down_ms, bool probe, const char *kyoyu,
		      const char *conf, const char *hub, const char *bundle)
{
	import_read_until(im, im->lines + after);
	if (!im->open)
		die("the import ended before the outage (%zu lines); use more objects", im->lines);
	size_t at = im->lines;
	server("stop", mode);
	int64_t stopped = ky_test_now_ms();
	printf("  server stopped (-m %s) after %zu lines\n", mode, at);
	fflush(stdout);
	if (probe) {
		expect_down(kyoyu, conf, hub, bundle, "stats");
		expect_down(kyoyu, conf, hub, bundle, "import");
	}
	while (ky_test_now_ms() - stopped < down_ms)
		pump(im, (int)(down_ms - (ky_test_now_ms() - stopped)) + 1);
	int status;
	if (waitpid(im->pid, &status, WNOHANG) != 0)
		die("the import exited (status %#x) while the server was down for less than its retry time", status);
	size_t before = im->lines;
	server("start", NULL);
	int64_t started = ky_test_now_ms();
	printf("  server started again after %.1f s down; the import had printed %zu lines (%zu since the stop)\n",
	       (double)(started - stopped) / 1000.0, before, before - at);
	fflush(stdout);
	while (im->lines == before && pump(im, -1))
		;
	return im->lines > before ? ky_test_now_ms() - started : -1;
}

/* The hub's URI with the server's socket directory replaced by the proxy's. */
static void proxied_uri(const char *hub, char *out, size_t size)
{
	const char *at = strstr(hub, socket_dir);
	if (at == NULL)
		die("%s does not name the socket directory %s", hub, socket_dir);
	snprintf(out, size, "%.*s%s%s", (int)(at - hub), hub, workdir, at + strlen(socket_dir));
}

/* One number from the hub's database, by SQL. */
static long long hub_count(const char *hub, const char *sql)
{
	PGconn *conn = PQconnectdb(hub);
	if (PQstatus(conn) != CONNECTION_OK)
		die("%s: %s", hub, PQerrorMessage(conn));
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		die("%s: %s", sql, PQresultErrorMessage(r));
	long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(conn);
	return n;
}

static void show_sessions(const char *hub)
{
	PGconn *conn = PQconnectdb(hub);
	PGresult *r = PQexec(conn, "SELECT pid, state, coalesce(wait_event_type || ':' || wait_event, '-'),"
				   " left(query, 60) FROM pg_stat_activity WHERE datname = current_database()"
				   " AND pid <> pg_backend_pid() ORDER BY pid");
	for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++)
		printf("    session %s: %s, waiting %s, last statement: %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		       PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
	PQclear(r);
	PQfinish(conn);
}

static void usage(void)
{
	fprintf(stderr, "usage: pg_outage_test --kyoyu PATH --gen PATH [--objects N] [--batch B] [--half-open]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"kyoyu", required_argument, NULL, 'k'},   {"gen", required_argument, NULL, 'g'},
		{"objects", required_argument, NULL, 'n'}, {"batch", required_argument, NULL, 'b'},
		{"half-open", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	const char *kyoyu = NULL, *gen = NULL, *batch = "200";
	size_t total = 40000;
	int c;
	bool half_open = false;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'k': kyoyu = optarg; break;
		case 'g': gen = optarg; break;
		case 'n': total = strtoull(optarg, NULL, 10); break;
		case 'b': batch = optarg; break;
		case 'H': half_open = true; break;
		default: usage();
		}
	}
	if (kyoyu == NULL || gen == NULL || total < 2000 || atoi(batch) < 1 || optind != argc)
		usage();
	cluster_dir = getenv("KY_TEST_PG_DIR");
	if (!ky_test_hub_is_pg() || cluster_dir == NULL || !*cluster_dir) {
		printf("pg_outage_test: skipped: it stops and starts a PostgreSQL server, so it runs only with "
		       "KY_TEST_BACKEND=postgresql and KY_TEST_PG_DIR (the cluster's directory, scripts/pg-cluster)\n");
		return SKIP;
	}
	signal(SIGPIPE, SIG_IGN);

	uint64_t seed;
	const char *env = getenv("KY_OUTAGE_SEED");
	if (env != NULL && *env)
		seed = strtoull(env, NULL, 10);
	else if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		die("getrandom: %s", strerror(errno));
	seed %= 1000000000000ull;
	rng = seed;
	printf("pg_outage_test: seed %" PRIu64 " (KY_OUTAGE_SEED=%" PRIu64 " repeats the choices), %zu objects, batches "
	       "of %s, cluster %s\n",
	       seed, seed, total, batch, cluster_dir);
	fflush(stdout);

	const char *tmp = getenv("TMPDIR");
	snprintf(workdir, sizeof(workdir), "%s/ky-outage-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	read_server_options();

	char bundle[320], conf[320], err[320], seed_text[32], count_text[32];
	snprintf(bundle, sizeof(bundle), "%s/bundle.json", workdir);
	snprintf(conf, sizeof(conf), "%s/kyoyu.conf", workdir);
	snprintf(err, sizeof(err), "%s/gen-stderr.txt", workdir);
	snprintf(seed_text, sizeof(seed_text), "%" PRIu64, seed);
	snprintf(count_text, sizeof(count_text), "%zu", total);
	char *gen_argv[] = {(char *)gen, "-s", seed_text, count_text, NULL};
	int status = ky_test_wait(ky_test_spawn(gen_argv, bundle, NULL, err, false));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("gen_indicators failed");
	load_bundle(bundle, total);

	/* The default retry time (60 s) for the first scenario, 3 s for the second. */
	char conf_short[320];
	snprintf(conf_short, sizeof(conf_short), "%s/kyoyu-short-retry.conf", workdir);
	FILE *f = fopen(conf, "w");
	if (f == NULL || fputs("[store]\nretry_seconds = 60\n", f) < 0 || fclose(f) != 0)
		die("%s: %s", conf, strerror(errno));
	f = fopen(conf_short, "w");
	if (f == NULL || fprintf(f, "[store]\nretry_seconds = %d\n", RETRY_SECONDS) < 0 || fclose(f) != 0)
		die("%s: %s", conf_short, strerror(errno));

	int64_t t0 = ky_test_now_ms();

	/* 1. Recovery: two outages in one import. */
	char hub[512];
	if (ky_test_hub_location(hub, sizeof(hub), workdir, "pg_outage") != 0)
		die("no hub location");
	snprintf(uri_label, sizeof(uri_label), "%s", hub);
	init_hub(kyoyu, conf, hub);
	printf("1. recovery: %s\n", hub);
	import im;
	import_start(&im, kyoyu, conf, hub, bundle, batch, "1-import");
	size_t first = total / 10 + below(total / 5), second = total / 10 + below(total / 5);
	int64_t back1 = outage(&im, first, "fast", 3000, true, kyoyu, conf, hub, bundle);
	int64_t back2 = outage(&im, second, "immediate", 2000, false, kyoyu, conf, hub, bundle);
	import_finish(&im);
	if (!WIFEXITED(im.status) || WEXITSTATUS(im.status) != 0) {
		char *text = slurp(im.err);
		die("the import did not recover: status %#x, error \"%s\"; stderr: %s", im.status, summary_error(&im), text);
	}
	if (im.lines != total || im.stored != total || im.duplicate != 0 || summary_count(&im, "objects") != (json_int_t)total ||
	    summary_count(&im, "stored") != (json_int_t)total || summary_count(&im, "duplicate") != 0 ||
	    summary_count(&im, "refused") != 0)
		die("after the outages: %zu lines (%zu stored, %zu duplicate), summary %s; expected %zu stored", im.lines,
		    im.stored, im.duplicate, json_dumps(im.summary, JSON_COMPACT), total);
	json_decref(im.summary);
	size_t held = check_hub(hub);
	if (held != total)
		die("the hub holds %zu objects, expected %zu", held, total);
	char out_path[320], err_path[320];
	snprintf(out_path, sizeof(out_path), "%s/stats-stdout.txt", workdir);
	snprintf(err_path, sizeof(err_path), "%s/stats-stderr.txt", workdir);
	char *stats_argv[] = {(char *)kyoyu, "--config", conf, "--db", hub, "stats", "--json", NULL};
	status = ky_test_wait(ky_test_spawn(stats_argv, out_path, NULL, err_path, false));
	char *stats_text = slurp(out_path);
	json_t *stats_json = json_loads(stats_text, 0, NULL);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stats_json == NULL ||
	    json_integer_value(json_object_get(stats_json, "versions")) != (json_int_t)total)
		die("kyoyu stats after the restart: status %#x: %s", status, stats_text);
	json_decref(stats_json);
	free(stats_text);
	printf("  the import went on by itself (next line %lld ms and %lld ms after the restarts), exited 0: %zu lines, "
	       "%zu stored, 0 duplicate; the hub holds each object once, same bytes, same number; kyoyu stats works\n",
	       (long long)back1, (long long)back2, im.lines, im.stored);
	ky_test_hub_drop(hub);

	/* 2. Giving up after retry_seconds, keeping what it acknowledged. */
	forget_acks();
	if (ky_test_hub_location(hub, sizeof(hub), workdir, "pg_outage_giveup") != 0)
		die("no hub location");
	snprintf(uri_label, sizeof(uri_label), "%s", hub);
	init_hub(kyoyu, conf_short, hub);
	printf("2. giving up (retry_seconds = %d): %s\n", RETRY_SECONDS, hub);
	import_start(&im, kyoyu, conf_short, hub, bundle, batch, "2-import");
	import_read_until(&im, total / 10 + below(total / 4));
	if (!im.open)
		die("the import ended before the outage");
	size_t at = im.lines;
	server("stop", "fast");
	int64_t stopped = ky_test_now_ms();
	import_finish(&im);
	int64_t gave_up = ky_test_now_ms() - stopped;
	server("start", NULL);
	if (!WIFEXITED(im.status) || WEXITSTATUS(im.status) != 1)
		die("with the server down for good the import ended with status %#x, expected exit 1", im.status);
	const char *why = summary_error(&im);
	if (strstr(why, uri_label) == NULL || strstr(why, "unreachable") == NULL)
		die("the import's error does not name %s and say it is unreachable: %s", uri_label, why);
	if (gave_up < RETRY_SECONDS * 1000 - 500 || gave_up > RETRY_SECONDS * 1000 + 5000)
		die("the import gave up %lld ms after the stop; its retry time is %d s", (long long)gave_up, RETRY_SECONDS);
	if (summary_count(&im, "stored") != (json_int_t)im.stored || summary_count(&im, "duplicate") != 0 ||
	    im.stored != im.lines)
		die("the failed import: %zu lines, %zu stored; summary %s", im.lines, im.stored,
		    json_dumps(im.summary, JSON_COMPACT));
	char first_line[256];
	snprintf(first_line, sizeof(first_line), "%s", why);
	char *nl = strchr(first_line, '\n');
	if (nl)
		*nl = '\0';
	json_decref(im.summary);
	held = check_hub(hub);
	printf("  stopped after %zu lines; the import gave up %.1f s later (exit 1: %s); %zu objects acknowledged, all "
	       "there; the hub holds %zu\n",
	       at, (double)gave_up / 1000.0, first_line, im.lines, held);
	if (held < im.lines)
		die("the hub holds %zu objects, fewer than the %zu acknowledged", held, im.lines);

	/* 3. Resuming: the rest goes in, what was committed is a duplicate. */
	import_start(&im, kyoyu, conf_short, hub, bundle, batch, "3-import");
	import_finish(&im);
	if (!WIFEXITED(im.status) || WEXITSTATUS(im.status) != 0)
		die("importing again after the restart: status %#x: %s", im.status, summary_error(&im));
	if (im.lines != total || im.duplicate != held || im.stored != total - held ||
	    summary_count(&im, "stored") != (json_int_t)(total - held) || summary_count(&im, "duplicate") != (json_int_t)held)
		die("importing again: %zu lines, %zu stored, %zu duplicate (the hub held %zu); summary %s", im.lines,
		    im.stored, im.duplicate, held, json_dumps(im.summary, JSON_COMPACT));
	json_decref(im.summary);
	size_t final = check_hub(hub);
	if (final != total)
		die("after importing again the hub holds %zu of %zu objects", final, total);
	printf("3. resuming: the same bundle again: %zu stored, %zu duplicate; every object once in the hub\n", im.stored,
	       im.duplicate);
	ky_test_hub_drop(hub);

	/* 4. Cut connections: a COMMIT whose answer is lost, a COMMIT never sent. */
	forget_acks();
	if (ky_test_hub_location(hub, sizeof(hub), workdir, "pg_outage_cut") != 0)
		die("no hub location");
	init_hub(kyoyu, conf, hub);
	char proxied[600], proxy_log[320];
	proxied_uri(hub, proxied, sizeof(proxied));
	snprintf(proxy_log, sizeof(proxy_log), "%s/proxy-log.txt", workdir);
	int cut1 = 2 + (int)below(8), cut2 = 2 + (int)below(8);
	printf("4. cut connections (through a proxy): %s\n", proxied);
	pid_t proxy = proxy_start(workdir, CUT_AFTER, cut1, CUT_BEFORE, cut2, proxy_log);
	import_start(&im, kyoyu, conf, proxied, bundle, batch, "4-import");
	import_finish(&im);
	proxy_stop(proxy);
	char *cuts = slurp(proxy_log);
	if (!WIFEXITED(im.status) || WEXITSTATUS(im.status) != 0)
		die("the import through the proxy: status %#x: %s (proxy: %s)", im.status, summary_error(&im), cuts);
	if (strstr(cuts, "cut after COMMIT") == NULL || strstr(cuts, "answered COMMIT") == NULL ||
	    strstr(cuts, "cut before COMMIT") == NULL)
		die("the proxy did not make both cuts: %s", cuts);
	if (im.lines != total || im.stored != total || im.duplicate != 0 || summary_count(&im, "stored") != (json_int_t)total ||
	    summary_count(&im, "duplicate") != 0)
		die("after the cuts: %zu lines, %zu stored, %zu duplicate; summary %s", im.lines, im.stored, im.duplicate,
		    json_dumps(im.summary, JSON_COMPACT));
	json_decref(im.summary);
	held = check_hub(hub);
	long long batches = (long long)((total + (size_t)atoi(batch) - 1) / (size_t)atoi(batch));
	long long committed = hub_count(hub, "SELECT count(*) FROM commits");
	if (held != total || committed != batches)
		die("after the cuts the hub holds %zu objects in %lld committed batches; expected %zu in %lld", held, committed,
		    total, batches);
	for (char *p = cuts; (p = strchr(p, '\n')) != NULL; p++)
		if (p[1])
			p[0] = ' ';
	printf("  %s  the import exited 0: %zu stored, 0 duplicate; %lld batches committed once each; every object once\n",
	       cuts, im.stored, committed);
	free(cuts);
	ky_test_hub_drop(hub);

	/* 5. (--half-open, not run by ctest) The client's side of a connection dies, the server's
	 * stays open: the server's session keeps its transaction, and its locks, until the server
	 * notices; the retry waits for them. */
	if (half_open) {
		forget_acks();
		if (ky_test_hub_location(hub, sizeof(hub), workdir, "pg_outage_half") != 0)
			die("no hub location");
		init_hub(kyoyu, conf, hub);
		proxied_uri(hub, proxied, sizeof(proxied));
		printf("5. half-open connection at COMMIT 3: %s\n", proxied);
		proxy = proxy_start(workdir, CUT_HALF_OPEN, 3, CUT_NONE, 0, proxy_log);
		import_start(&im, kyoyu, conf, proxied, bundle, batch, "5-import");
		int64_t last = ky_test_now_ms(), began = last;
		size_t lines = 0;
		bool hung = false;
		while (pump(&im, 1000)) {
			if (im.lines != lines) {
				lines = im.lines;
				last = ky_test_now_ms();
			} else if (ky_test_now_ms() - last > 20000) {
				hung = true;
				break;
			}
		}
		if (!hung)
			printf("  the import's output ended %.1f s after it started, after %zu lines\n",
			       (double)(ky_test_now_ms() - began) / 1000.0, im.lines);
		if (hung) {
			printf("  the import has printed nothing for 20 s after %zu lines; the sessions:\n", im.lines);
			show_sessions(hub);
			printf("  closing the server's side of the cut connection\n");
		}
		proxy_close_half_open(proxy);
		int64_t closed = ky_test_now_ms();
		import_finish(&im);
		proxy_stop(proxy);
		printf("  the import ended %.1f s later with status %#x: %zu lines, %zu stored, %zu duplicate%s%s\n",
		       (double)(ky_test_now_ms() - closed) / 1000.0, im.status, im.lines, im.stored, im.duplicate,
		       *summary_error(&im) ? "; error: " : "", summary_error(&im));
		if (!hung) {
			printf("  the sessions now:\n");
			show_sessions(hub);
		}
		json_decref(im.summary);
		check_hub(hub);
		ky_test_hub_drop(hub);
	}

	printf("pg_outage_test: passed in %.1f s\n", (double)(ky_test_now_ms() - t0) / 1000.0);
	for (size_t i = 0; i < nobjects; i++) {
		free(objects[i].id);
		free(objects[i].raw);
	}
	free(objects);
	free(slots);
	/* Everything in the work directory: outputs, the bundle, the proxy's socket. */
	ky_test_remove_dir(workdir);
	return 0;
}
