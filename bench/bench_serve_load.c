/*
 * bench_serve_load: an open-loop HTTP/1.1 load generator for the serving benchmark
 * (bench/run-serve): requests at a fixed offered rate over keep-alive connections on
 * loopback, with latency measured from when each request was due, not from when it could be
 * sent, so that a server that stalls is charged for the requests that queued behind the stall
 * (wrk, which sends the next request only when the last is answered, would not see them).
 *
 *     bench_serve_load PORT KEY URLS RATE SECONDS [CONNECTIONS]
 *
 * URLS is a file of request paths, one per line, taken in random order (seeded, so that runs
 * compare). Every request carries `Authorization: Bearer KEY` and the TAXII Accept header.
 * Prints one line: requests sent, answered, non-200 answers, achieved rate, and latency
 * p50/p90/p99/p99.9/max in milliseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 1024

typedef struct conn {
	int fd;
	bool busy;
	double due;          /* when the request in flight was due */
	char *in;            /* the response read so far */
	size_t in_len, in_cap;
} conn;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int connect_loopback(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		perror("bench_serve_load: connect");
		exit(1);
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* The length of a complete response at the start of c->in, 0 while incomplete; *status gets
 * its status code. Responses here always carry Content-Length. */
static size_t complete_response(const conn *c, int *status)
{
	const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	size_t head = (size_t)(end - c->in) + 4;
	*status = atoi(c->in + 9);
	const char *cl = memmem(c->in, head, "Content-Length:", 15);
	if (cl == NULL)
		cl = memmem(c->in, head, "content-length:", 15);
	size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
	return c->in_len >= head + body ? head + body : 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: bench_serve_load PORT KEY URLS RATE SECONDS [CONNECTIONS]\n");
		return 2;
	}
	unsigned port = (unsigned)atoi(argv[1]);
	const char *key = argv[2];
	double rate = atof(argv[4]), seconds = atof(argv[5]);
	int nconn = argc > 6 ? atoi(argv[6]) : 64;
	if (nconn < 1 || nconn > MAX_CONNECTIONS || rate <= 0 || seconds <= 0) {
		fprintf(stderr, "bench_serve_load: bad rate, duration or connections\n");
		return 2;
	}
	FILE *f = fopen(argv[3], "r");
	if (f == NULL) {
		perror(argv[3]);
		return 1;
	}
	char **urls = NULL, *line = NULL;
	size_t nurls = 0, cap = 0, line_cap = 0;
	ssize_t n;
	while ((n = getline(&line, &line_cap, f)) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (nurls == cap) {
			cap = cap ? cap * 2 : 1024;
			urls = realloc(urls, cap * sizeof(*urls));
		}
		urls[nurls++] = strdup(line);
	}
	free(line);
	fclose(f);
	if (nurls == 0) {
		fprintf(stderr, "bench_serve_load: %s has no paths\n", argv[3]);
		return 1;
	}

	size_t total = (size_t)(rate * seconds);
	double *latency = malloc(total * sizeof(*latency));
	conn *conns = calloc((size_t)nconn, sizeof(*conns));
	int ep = epoll_create1(0);
	for (int i = 0; i < nconn; i++) {
		conns[i].fd = connect_loopback(port);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	unsigned seed = 20261122;
	size_t sent = 0, answered = 0, errors = 0;
	char request[8192];
	double start = now_s() + 0.05;
	while (answered < total) {
		double t = now_s();
		if (t - start > seconds + 30) {
			fprintf(stderr, "bench_serve_load: %zu requests unanswered 30 s after the end\n", total - answered);
			break;
		}
		/* Send every request that is due, on idle connections; the rest wait, and their
		 * waiting counts in their latency. */
		while (sent < total && start + (double)sent / rate <= t) {
			int idle = -1;
			for (int i = 0; i < nconn && idle < 0; i++)
				if (!conns[i].busy)
					idle = i;
			if (idle < 0)
				break;
			conn *c = &conns[idle];
			const char *path = urls[rand_r(&seed) % nurls];
			int len = snprintf(request, sizeof(request),
					   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
					   "Accept: application/taxii+json;version=2.1\r\n\r\n",
					   path, key);
			if (write(c->fd, request, (size_t)len) != len) {
				perror("bench_serve_load: write");
				return 1;
			}
			c->busy = true;
			c->due = start + (double)sent / rate;
			c->in_len = 0;
			sent++;
		}
		double next_due = sent < total ? start + (double)sent / rate : t + 0.01;
		int wait_ms = next_due > t ? (int)((next_due - t) * 1000) : 0;
		struct epoll_event events[64];
		int ready = epoll_wait(ep, events, 64, wait_ms);
		for (int e = 0; e < ready; e++) {
			conn *c = &conns[events[e].data.u32];
			for (;;) {
				if (c->in_cap - c->in_len < 65536) {
					c->in_cap = c->in_cap ? c->in_cap * 2 : 262144;
					c->in = realloc(c->in, c->in_cap);
				}
				ssize_t got = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
				if (got <= 0) {
					if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
						fprintf(stderr, "bench_serve_load: the server closed a connection\n");
						return 1;
					}
					break;
				}
				c->in_len += (size_t)got;
			}
			int status = 0;
			size_t whole = c->busy ? complete_response(c, &status) : 0;
			if (whole > 0) {
				latency[answered++] = now_s() - c->due;
				errors += status != 200;
				c->busy = false;
				c->in_len = 0;
			}
		}
	}
	double elapsed = now_s() - start;
	qsort(latency, answered, sizeof(*latency), cmp_double);
#define PCT(p) (answered ? latency[(size_t)((double)(answered - 1) * (p))] * 1000 : 0)
	printf("sent %zu answered %zu non-200 %zu rate %.0f/s latency_ms p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
	       sent, answered, errors, (double)answered / elapsed, PCT(0.50), PCT(0.90), PCT(0.99), PCT(0.999),
	       PCT(1.0));
	for (int i = 0; i < nconn; i++) {
		close(conns[i].fd);
		free(conns[i].in);
	}
	for (size_t i = 0; i < nurls; i++)
		free(urls[i]);
	free(urls);
	free(conns);
	free(latency);
	close(ep);
	return errors > 0 ? 1 : 0;
}
