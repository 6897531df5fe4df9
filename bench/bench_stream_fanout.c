/*
 * bench_stream_fanout: the live stream's fan-out (bench/README.md, run-stream).
 *
 *     bench_stream_fanout -p PORT -k KEYS -w KEY -c COLLECTION -n CLIENTS -r RATE -d SECONDS [-s PID]
 *
 * Opens CLIENTS streams (GET /api/v1/stream) on 127.0.0.1:PORT, taking the keys of the file
 * KEYS (one per line) in turn, and waits until every one is caught up. Then a publisher thread
 * POSTs one new TLP:GREEN indicator at a time to the TAXII collection COLLECTION with KEY,
 * RATE a second for SECONDS (open loop: each POST leaves when it is due), and the clients'
 * thread notes when each object reaches each client. A latency is delivery minus the moment
 * the POST's 202 was read: the hub has acknowledged the object then. The figures are p50, p99
 * and max over every (client, object); the same from the object's date_added on the stream
 * (kyoyu's envelope carries it: the fan-out without the POST's processing); and, with -s, the
 * growth of process PID's resident memory per idle client, and its CPU while publishing.
 *
 * The clients are one thread and one epoll set: a stream is read as a byte stream (HTTP/1.1
 * chunked, decoded), in which each object's id is found by its run's prefix; nothing else of
 * an event is parsed. Runs against `kyoyu serve` and against bench_stream_ceiling alike.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, HEADERS, BODY, CLOSED };
enum { CHUNK_SIZE, CHUNK_EXT, CHUNK_DATA, CHUNK_END };

/* What a marker split over two reads needs of the earlier one: the prefix and 12 hex digits. */
#define TAIL_MAX 64
#define IN_FLIGHT 256

typedef struct client {
	int fd;
	uint8_t phase, chunk_state;
	bool chunked, caught_up, behind;
	uint8_t tail_len;
	uint32_t chunk_left;
	uint32_t got;
	int64_t added_us;   /* the date_added of the event being read (wall clock, µs) */
	char *headers;   /* while reading them: */
	size_t headers_len;
	char tail[TAIL_MAX];
} client;

static struct {
	int port;
	const char *collection, *write_key;
	char **keys;
	size_t nkeys;
	size_t nclients;
	double rate, seconds;
	long server_pid;
	size_t nobjects;
	char prefix[64];   /* indicator--RRRRRRRR-fa00-4000-8000- */
	size_t prefix_len;
	int64_t t0;
	uint32_t *received;   /* [client * nobjects + k]: µs after t0, plus one; 0: not yet */
	int64_t *acked;       /* [k]: µs after t0 the 202 was read; -1: not acknowledged */
	int64_t *sent;
	int64_t *committed;   /* [k]: its date_added on the stream, as µs after t0; 0: none */
	int64_t real_minus_mono;   /* CLOCK_REALTIME - CLOCK_MONOTONIC at t0, µs */
	_Atomic bool published;
	size_t caught_up, closed, ended_behind;
	uint64_t deliveries, last_delivery_us;
} bench;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - bench.t0;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_stream_fanout: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void read_keys(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path);
	char line[512];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (bench.nkeys == cap) {
			cap = cap ? cap * 2 : 64;
			bench.keys = realloc(bench.keys, cap * sizeof(*bench.keys));
			if (bench.keys == NULL)
				die("keys");
		}
		bench.keys[bench.nkeys++] = strdup(line);
	}
	fclose(f);
	if (bench.nkeys == 0) {
		fprintf(stderr, "bench_stream_fanout: %s holds no key\n", path);
		exit(1);
	}
}

/* VmRSS of the server in KiB, and its CPU (user + system) in clock ticks. */
static long server_rss_kib(void)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", bench.server_pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long server_cpu_ticks(void)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%ld/stat", bench.server_pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long utime = 0, stime = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return -1;
	return (long)(utime + stime);
}

static int connect_loopback(bool blocking)
{
	int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)bench.port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
		die("connect");
	return fd;
}

/* --- the publisher ------------------------------------------------------------------------------ */

static void utc_stamp(char out[32])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

/* Reads one answer off fd into buf; returns its status, -1 when the connection closed. */
static int read_answer(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end = NULL;
	while (end == NULL) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	size_t body = 0;
	const char *cl = strcasestr(buf, "\r\ncontent-length:");
	if (cl != NULL)
		body = strtoul(cl + 17, NULL, 10);
	size_t want = (size_t)(end + 4 - buf) + body;
	while (len < want && len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	return atoi(buf + 9);
}

static void *publish(void *arg)
{
	(void)arg;
	int fd = connect_loopback(true);
	char stamp[32], body[2048], request[4096], answer[8192];
	int64_t start = now_us();
	for (size_t k = 0; k < bench.nobjects; k++) {
		int64_t due = start + (int64_t)((double)k * 1e6 / bench.rate);
		for (int64_t wait; (wait = due - now_us()) > 0;)
			usleep((useconds_t)wait);
		utc_stamp(stamp);
		unsigned a = (unsigned)(k >> 16) & 255, b = (unsigned)(k >> 8) & 255, c = (unsigned)k & 255;
		int blen = snprintf(body, sizeof(body),
				    "{\"objects\":[{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"%s%012zx\","
				    "\"created\":\"%s\",\"modified\":\"%s\",\"name\":\"Fan-out source 10.%u.%u.%u\","
				    "\"description\":\"10.%u.%u.%u is on 3 public blocklists; first listed %s.\","
				    "\"indicator_types\":[\"malicious-activity\"],\"pattern\":\"[ipv4-addr:value = "
				    "'10.%u.%u.%u']\",\"pattern_type\":\"stix\",\"valid_from\":\"%s\",\"labels\":[\"blocklist\"],"
				    "\"confidence\":50,\"object_marking_refs\":[\"marking-definition--bab4a63c-aed9-4cf5-a766-"
				    "dfca5abac2bb\"],\"external_references\":[{\"source_name\":\"ipsum\",\"url\":\"https://"
				    "github.com/stamparm/ipsum\",\"description\":\"IPsum threat intelligence feed\"}]}]}",
				    bench.prefix, k, stamp, stamp, a, b, c, a, b, c, stamp, a, b, c, stamp);
		int rlen = snprintf(request, sizeof(request),
				    "POST /kyoyu/collections/%s/objects/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				    "Authorization: Bearer %s\r\nAccept: application/taxii+json;version=2.1\r\n"
				    "Content-Type: application/taxii+json;version=2.1\r\nContent-Length: %d\r\n\r\n%s",
				    bench.collection, bench.port, bench.write_key, blen, body);
		bench.sent[k] = now_us();
		int status = -1;
		for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
			if (write(fd, request, (size_t)rlen) == rlen)
				status = read_answer(fd, answer, sizeof(answer));
			if (status < 0) {   /* the server closed the keep-alive connection: once more */
				close(fd);
				fd = connect_loopback(true);
			}
		}
		if (status != 202) {
			fprintf(stderr, "bench_stream_fanout: POST %zu answered %d: %.300s\n", k, status, answer);
			exit(1);
		}
		bench.acked[k] = now_us();
	}
	close(fd);
	bench.published = true;
	return NULL;
}

/* --- the clients -------------------------------------------------------------------------------- */

#define ADDED "\"date_added\":\""
#define ADDED_LEN (sizeof(ADDED) - 1)
#define STAMP_LEN 27   /* 2026-12-01T10:00:00.000000Z */

/* A date_added ("2026-12-01T10:00:00.123456Z", UTC) as µs after t0 on the monotonic clock. */
static int64_t added_at(const char *stamp)
{
	struct tm tm = {0};
	int micro = 0;
	if (sscanf(stamp, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &micro) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000 + micro - bench.real_minus_mono - bench.t0;
}

static void note(client *c, size_t index, const char *p, size_t n, char *scratch)
{
	/* The marker may straddle two reads: search the tail of the last one with this one. */
	memcpy(scratch, c->tail, c->tail_len);
	memcpy(scratch + c->tail_len, p, n);
	size_t len = c->tail_len + n, done = 0;
	if (!c->caught_up && memmem(scratch, len, "caught up at ", 13) != NULL) {
		c->caught_up = true;
		bench.caught_up++;
	}
	if (!c->behind && memmem(scratch, len, "too far behind", 14) != NULL) {
		c->behind = true;
		bench.ended_behind++;
	}
	for (;;) {
		/* An envelope names its date_added before its id: the earlier of the two first. */
		char *hit = memmem(scratch + done, len - done, bench.prefix, bench.prefix_len);
		char *added = memmem(scratch + done, (hit ? (size_t)(hit - scratch) : len) - done, ADDED, ADDED_LEN);
		if (added != NULL) {
			size_t at = (size_t)(added - scratch);
			if (at + ADDED_LEN + STAMP_LEN > len) {
				done = at;
				break;
			}
			c->added_us = added_at(added + ADDED_LEN);
			done = at + ADDED_LEN + STAMP_LEN;
			continue;
		}
		if (hit == NULL)
			break;
		size_t at = (size_t)(hit - scratch);
		if (at + bench.prefix_len + 12 > len) {
			done = at;
			break;
		}
		char digits[13];
		memcpy(digits, hit + bench.prefix_len, 12);
		digits[12] = '\0';
		size_t k = strtoull(digits, NULL, 16);
		done = at + bench.prefix_len + 12;
		if (k < bench.nobjects && bench.received[index * bench.nobjects + k] == 0) {
			int64_t t = now_us();
			bench.received[index * bench.nobjects + k] = (uint32_t)(t + 1);
			if (bench.committed[k] == 0 && c->added_us != 0)
				bench.committed[k] = c->added_us;
			c->got++;
			bench.deliveries++;
			bench.last_delivery_us = (uint64_t)t;
		}
	}
	size_t keep = len - done < TAIL_MAX - 1 ? len - done : TAIL_MAX - 1;
	if (done < len - keep)
		done = len - keep;
	memcpy(c->tail, scratch + done, len - done);
	c->tail_len = (uint8_t)(len - done);
}

/* Decodes the chunked body in p[0..n) and notes what it carries. */
static void body(client *c, size_t index, const char *p, size_t n, char *scratch)
{
	if (!c->chunked) {
		note(c, index, p, n, scratch);
		return;
	}
	size_t i = 0;
	while (i < n) {
		switch (c->chunk_state) {
		case CHUNK_SIZE: {
			char ch = p[i++];
			if (ch >= '0' && ch <= '9')
				c->chunk_left = c->chunk_left * 16 + (uint32_t)(ch - '0');
			else if ((ch | 32) >= 'a' && (ch | 32) <= 'f')
				c->chunk_left = c->chunk_left * 16 + (uint32_t)((ch | 32) - 'a' + 10);
			else if (ch == '\n')
				c->chunk_state = c->chunk_left ? CHUNK_DATA : CHUNK_END;
			else if (ch != '\r')
				c->chunk_state = CHUNK_EXT;
			break;
		}
		case CHUNK_EXT:
			if (p[i++] == '\n')
				c->chunk_state = c->chunk_left ? CHUNK_DATA : CHUNK_END;
			break;
		case CHUNK_DATA: {
			size_t take = n - i < c->chunk_left ? n - i : c->chunk_left;
			note(c, index, p + i, take, scratch);
			i += take;
			c->chunk_left -= (uint32_t)take;
			if (c->chunk_left == 0)
				c->chunk_state = CHUNK_END;
			break;
		}
		case CHUNK_END:
			if (p[i++] == '\n')
				c->chunk_state = CHUNK_SIZE;
			break;
		}
	}
}

static void close_client(int ep, client *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->headers);
	c->headers = NULL;
	c->phase = CLOSED;
	bench.closed++;
}

static void readable(int ep, client *c, size_t index, char *buf, size_t cap, char *scratch)
{
	ssize_t n = read(c->fd, buf, cap);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_client(ep, c);
		return;
	}
	if (c->phase == BODY) {
		body(c, index, buf, (size_t)n, scratch);
		return;
	}
	c->headers = realloc(c->headers, c->headers_len + (size_t)n + 1);
	memcpy(c->headers + c->headers_len, buf, (size_t)n);
	c->headers_len += (size_t)n;
	c->headers[c->headers_len] = '\0';
	char *end = strstr(c->headers, "\r\n\r\n");
	if (end == NULL)
		return;
	if (strncmp(c->headers, "HTTP/1.1 200", 12) != 0) {
		fprintf(stderr, "bench_stream_fanout: a stream was refused: %.200s\n", c->headers);
		exit(1);
	}
	*end = '\0';
	c->chunked = strcasestr(c->headers, "transfer-encoding: chunked") != NULL;
	size_t head = (size_t)(end + 4 - c->headers), rest = c->headers_len - head;
	char *after = c->headers;
	c->headers = NULL;
	c->phase = BODY;
	if (rest > 0)
		body(c, index, after + head, rest, scratch);
	free(after);
}

static void start_stream(int ep, client *c, size_t index)
{
	char request[1024];
	int len = snprintf(request, sizeof(request),
			   "GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
			   "Accept: text/event-stream\r\n\r\n",
			   bench.port, bench.keys[index % bench.nkeys]);
	if (write(c->fd, request, (size_t)len) != len)
		die("sending a stream's request");
	c->phase = HEADERS;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = index};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int percentile_index(size_t n, double p)
{
	size_t i = (size_t)(p * (double)n + 0.999999);
	return (int)(i == 0 ? 0 : i - 1);
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *keys = NULL;
	int opt;
	bench.rate = 10;
	bench.seconds = 10;
	while ((opt = getopt(argc, argv, "p:k:w:c:n:r:d:s:")) != -1) {
		switch (opt) {
		case 'p': bench.port = atoi(optarg); break;
		case 'k': keys = optarg; break;
		case 'w': bench.write_key = optarg; break;
		case 'c': bench.collection = optarg; break;
		case 'n': bench.nclients = strtoul(optarg, NULL, 10); break;
		case 'r': bench.rate = atof(optarg); break;
		case 'd': bench.seconds = atof(optarg); break;
		case 's': bench.server_pid = atol(optarg); break;
		default:
			fprintf(stderr, "usage: bench_stream_fanout -p PORT -k KEYS -w KEY -c COLLECTION -n CLIENTS "
					"-r RATE -d SECONDS [-s PID]\n");
			return 2;
		}
	}
	if (bench.port <= 0 || keys == NULL || bench.write_key == NULL || bench.collection == NULL ||
	    bench.nclients == 0 || bench.rate <= 0 || bench.seconds <= 0) {
		fprintf(stderr, "bench_stream_fanout: -p, -k, -w, -c, -n, -r and -d are needed\n");
		return 2;
	}
	read_keys(keys);
	struct rlimit files;
	getrlimit(RLIMIT_NOFILE, &files);
	if (files.rlim_cur < bench.nclients + 64) {
		fprintf(stderr, "bench_stream_fanout: %zu clients need more open files than %llu (ulimit -n)\n",
			bench.nclients, (unsigned long long)files.rlim_cur);
		return 1;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	bench.t0 = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	struct timespec real;
	clock_gettime(CLOCK_REALTIME, &real);
	bench.real_minus_mono = (int64_t)real.tv_sec * 1000000 + real.tv_nsec / 1000 - bench.t0;
	srand((unsigned)(ts.tv_nsec ^ getpid()));
	bench.prefix_len = (size_t)snprintf(bench.prefix, sizeof(bench.prefix), "indicator--%08x-fa00-4000-8000-",
					    (unsigned)rand() ^ ((unsigned)rand() << 16));
	bench.nobjects = (size_t)(bench.rate * bench.seconds + 0.5);
	bench.received = calloc(bench.nclients * bench.nobjects, sizeof(*bench.received));
	bench.acked = malloc(bench.nobjects * sizeof(*bench.acked));
	bench.sent = malloc(bench.nobjects * sizeof(*bench.sent));
	bench.committed = calloc(bench.nobjects, sizeof(*bench.committed));
	client *clients = calloc(bench.nclients, sizeof(*clients));
	size_t cap = 1 << 16;
	char *buf = malloc(cap), *scratch = malloc(cap + TAIL_MAX);
	if (bench.received == NULL || bench.acked == NULL || bench.sent == NULL || bench.committed == NULL ||
	    clients == NULL || buf == NULL || scratch == NULL)
		die("memory");
	for (size_t k = 0; k < bench.nobjects; k++)
		bench.acked[k] = -1;

	long rss_before = bench.server_pid ? server_rss_kib() : -1;
	int ep = epoll_create1(0);
	struct epoll_event events[512];
	/* Connections are opened a few hundred at a time, as many clients coming back would. */
	size_t opened = 0, started = 0;
	int64_t connect_start = now_us(), deadline = connect_start + 120 * 1000000LL;
	while (bench.caught_up + bench.closed < bench.nclients) {
		while (opened < bench.nclients && opened - bench.caught_up - bench.closed < IN_FLIGHT) {
			client *c = &clients[opened];
			c->fd = connect_loopback(false);
			c->phase = CONNECTING;
			struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = opened};
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			opened++;
		}
		int n = epoll_wait(ep, events, 512, 100);
		for (int i = 0; i < n; i++) {
			size_t index = events[i].data.u64;
			client *c = &clients[index];
			if (c->phase == CONNECTING) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0) {
					errno = err;
					die("connecting a stream");
				}
				start_stream(ep, c, index);
				started++;
			} else if (c->phase != CLOSED) {
				readable(ep, c, index, buf, cap, scratch);
			}
		}
		if (now_us() > deadline) {
			fprintf(stderr, "bench_stream_fanout: %zu of %zu streams caught up in 120 s\n", bench.caught_up,
				bench.nclients);
			return 1;
		}
	}
	double connect_s = (double)(now_us() - connect_start) / 1e6;
	if (bench.closed > 0) {
		fprintf(stderr, "bench_stream_fanout: %zu streams closed while opening\n", bench.closed);
		return 1;
	}
	/* Idle: whatever the server does lazily after a stream's start is done by then. */
	for (int64_t until = now_us() + 3000000; now_us() < until;) {
		int n = epoll_wait(ep, events, 512, 100);
		for (int i = 0; i < n; i++)
			readable(ep, &clients[events[i].data.u64], events[i].data.u64, buf, cap, scratch);
	}
	long rss_idle = bench.server_pid ? server_rss_kib() : -1;
	long cpu_before = bench.server_pid ? server_cpu_ticks() : -1;
	struct rusage self_before, self_after;
	getrusage(RUSAGE_SELF, &self_before);

	pthread_t publisher;
	int64_t publish_start = now_us();
	pthread_create(&publisher, NULL, publish, NULL);
	uint64_t expected = (uint64_t)bench.nclients * bench.nobjects;
	int64_t published_at = 0;
	for (;;) {
		int n = epoll_wait(ep, events, 512, 20);
		for (int i = 0; i < n; i++) {
			client *c = &clients[events[i].data.u64];
			if (c->phase != CLOSED)
				readable(ep, c, events[i].data.u64, buf, cap, scratch);
		}
		if (!bench.published)
			continue;
		if (published_at == 0)
			published_at = now_us();
		/* Done when everything arrived, or nothing has for 10 s after the last POST. */
		int64_t quiet_since = (int64_t)bench.last_delivery_us > published_at ? (int64_t)bench.last_delivery_us
										     : published_at;
		if (bench.deliveries == expected || now_us() - quiet_since > 10000000)
			break;
	}
	int64_t publish_end = now_us();
	pthread_join(publisher, NULL);
	getrusage(RUSAGE_SELF, &self_after);
	long cpu_after = bench.server_pid ? server_cpu_ticks() : -1;

	int64_t *latency = malloc((bench.deliveries ? bench.deliveries : 1) * sizeof(*latency));
	if (latency == NULL)
		die("memory");
	size_t d = 0, before_ack = 0;
	for (size_t i = 0; i < bench.nclients; i++)
		for (size_t k = 0; k < bench.nobjects; k++) {
			uint32_t r = bench.received[i * bench.nobjects + k];
			if (r == 0)
				continue;
			latency[d] = (int64_t)(r - 1) - bench.acked[k];
			before_ack += latency[d] < 0;
			d++;
		}
	qsort(latency, d, sizeof(*latency), by_value);
	/* From the hub's numbering of each object (its date_added, just before its commit), where
	 * the stream carries one: the fan-out alone, without the TAXII request's processing. */
	int64_t *fanout = malloc((bench.deliveries ? bench.deliveries : 1) * sizeof(*fanout));
	int64_t *ingest = malloc(bench.nobjects * sizeof(*ingest));
	if (fanout == NULL || ingest == NULL)
		die("memory");
	size_t f = 0, dated = 0;
	for (size_t k = 0; k < bench.nobjects; k++)
		if (bench.committed[k] != 0)
			ingest[dated++] = bench.committed[k] - bench.acked[k];
	for (size_t i = 0; i < bench.nclients; i++)
		for (size_t k = 0; k < bench.nobjects; k++) {
			uint32_t r = bench.received[i * bench.nobjects + k];
			if (r != 0 && bench.committed[k] != 0)
				fanout[f++] = (int64_t)(r - 1) - bench.committed[k];
		}
	qsort(fanout, f, sizeof(*fanout), by_value);
	qsort(ingest, dated, sizeof(*ingest), by_value);
	int64_t *post = malloc(bench.nobjects * sizeof(*post));
	for (size_t k = 0; k < bench.nobjects; k++)
		post[k] = bench.acked[k] - bench.sent[k];
	qsort(post, bench.nobjects, sizeof(*post), by_value);

	double wall = (double)(publish_end - publish_start) / 1e6;
	double ticks = (double)sysconf(_SC_CLK_TCK);
	double self_cpu = (double)(self_after.ru_utime.tv_sec - self_before.ru_utime.tv_sec +
				   self_after.ru_stime.tv_sec - self_before.ru_stime.tv_sec) +
			  (double)(self_after.ru_utime.tv_usec - self_before.ru_utime.tv_usec +
				   self_after.ru_stime.tv_usec - self_before.ru_stime.tv_usec) / 1e6;
	printf("clients %zu (%zu keys), opened and caught up in %.2f s\n", bench.nclients, bench.nkeys, connect_s);
	if (bench.server_pid)
		printf("server RSS %ld KiB before, %ld KiB with the idle clients: %.1f KiB per idle client\n",
		       rss_before, rss_idle, (double)(rss_idle - rss_before) / (double)bench.nclients);
	double achieved = (double)bench.nobjects / ((double)(bench.acked[bench.nobjects - 1] - bench.sent[0]) / 1e6);
	printf("published %zu objects, %.0f/s offered, %.0f/s acknowledged; POST to 202: p50 %.2f ms, max %.2f ms\n",
	       bench.nobjects, bench.rate, achieved, (double)post[percentile_index(bench.nobjects, 0.5)] / 1e3,
	       (double)post[bench.nobjects - 1] / 1e3);
	printf("delivered %zu of %" PRIu64 " (clients closed %zu, ended as too far behind %zu); %zu before their 202 "
	       "was read\n",
	       d, expected, bench.closed, bench.ended_behind, before_ack);
	if (d > 0)
		printf("latency from the 202: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       (double)latency[percentile_index(d, 0.5)] / 1e3, (double)latency[percentile_index(d, 0.99)] / 1e3,
		       (double)latency[d - 1] / 1e3);
	if (f > 0)
		printf("of which 202 to date_added (processing the POST): p50 %.2f ms, p99 %.2f ms; date_added to "
		       "delivery (the fan-out): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       (double)ingest[percentile_index(dated, 0.5)] / 1e3, (double)ingest[percentile_index(dated, 0.99)] / 1e3,
		       (double)fanout[percentile_index(f, 0.5)] / 1e3, (double)fanout[percentile_index(f, 0.99)] / 1e3,
		       (double)fanout[f - 1] / 1e3);
	if (bench.server_pid)
		printf("CPU while publishing (%.1f s): server %.0f%%, clients %.0f%%\n", wall,
		       100.0 * (double)(cpu_after - cpu_before) / ticks / wall, 100.0 * self_cpu / wall);
	printf("result clients=%zu rate=%.0f achieved=%.0f objects=%zu delivered=%zu expected=%" PRIu64 " p50_ms=%.2f p99_ms=%.2f "
	       "max_ms=%.2f fanout_p50_ms=%.2f fanout_p99_ms=%.2f fanout_max_ms=%.2f idle_kib=%.1f server_cpu=%.0f\n",
	       bench.nclients, bench.rate, achieved, bench.nobjects, d, expected,
	       d ? (double)latency[percentile_index(d, 0.5)] / 1e3 : -1.0,
	       d ? (double)latency[percentile_index(d, 0.99)] / 1e3 : -1.0, d ? (double)latency[d - 1] / 1e3 : -1.0,
	       f ? (double)fanout[percentile_index(f, 0.5)] / 1e3 : -1.0, f ? (double)fanout[percentile_index(f, 0.99)] / 1e3 : -1.0,
	       f ? (double)fanout[f - 1] / 1e3 : -1.0,
	       bench.server_pid ? (double)(rss_idle - rss_before) / (double)bench.nclients : -1.0,
	       bench.server_pid ? 100.0 * (double)(cpu_after - cpu_before) / ticks / wall : -1.0);
	for (size_t i = 0; i < bench.nclients; i++)
		if (clients[i].phase != CLOSED)
			close(clients[i].fd);
	free(latency);
	free(fanout);
	free(ingest);
	free(bench.committed);
	free(post);
	free(clients);
	free(buf);
	free(scratch);
	free(bench.received);
	free(bench.acked);
	free(bench.sent);
	for (size_t i = 0; i < bench.nkeys; i++)
		free(bench.keys[i]);
	free(bench.keys);
	return d == expected ? 0 : 3;
}
