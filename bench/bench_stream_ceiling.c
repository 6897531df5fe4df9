/*
 * bench_stream_ceiling: the fan-out's ceiling for run-stream (bench/README.md). A bare
 * Server-Sent Events server on 127.0.0.1: GET /api/v1/stream opens a stream (chunked, as
 * kyoyu's), any POST is answered 202 at once and its one object is then written to every open
 * stream in an envelope of the fields kyoyu's has, as one chunk.
 *
 *     bench_stream_ceiling        (prints "listening on http://127.0.0.1:PORT (port PORT)")
 *
 * Nothing is authenticated, stored, decided or filtered: one thread and one epoll set, a
 * write(2) per stream and event, a buffer only for a stream the kernel would not take at
 * once. That is the least any server does to fan an object out over loopback on this machine,
 * so kyoyu's latency and memory are read against it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
	int fd;
	bool streaming, dead;
	size_t slot;           /* its place in streams[] */
	char *in;
	size_t in_len, in_cap;
	char *out;             /* what the kernel did not take yet */
	size_t out_len, out_off;
} conn;

static conn **streams;
static size_t nstreams, streams_cap;
static uint64_t sequence;
static int ep;
/* Dropped connections, freed after the batch of events that may still name them. */
static conn **graves;
static size_t ngraves, graves_cap;

static void die(const char *what)
{
	fprintf(stderr, "bench_stream_ceiling: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void drop(conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->streaming) {
		streams[c->slot] = streams[--nstreams];
		streams[c->slot]->slot = c->slot;
	}
	if (ngraves == graves_cap) {
		graves_cap = graves_cap ? graves_cap * 2 : 256;
		graves = realloc(graves, graves_cap * sizeof(*graves));
		if (graves == NULL)
			die("memory");
	}
	graves[ngraves++] = c;
}

static void bury(void)
{
	for (size_t i = 0; i < ngraves; i++) {
		free(graves[i]->in);
		free(graves[i]->out);
		free(graves[i]);
	}
	ngraves = 0;
}

/* Writes what c has pending, then p; keeps what the kernel refuses. False: c is gone. */
static bool send_bytes(conn *c, const char *p, size_t n)
{
	if (c->out_len > c->out_off) {
		char *grown = realloc(c->out, c->out_len + n);
		if (grown == NULL)
			return false;
		c->out = grown;
		memcpy(c->out + c->out_len, p, n);
		c->out_len += n;
		return true;
	}
	ssize_t w = write(c->fd, p, n);
	if (w < 0 && errno != EAGAIN)
		return false;
	size_t sent = w < 0 ? 0 : (size_t)w;
	if (sent == n)
		return true;
	free(c->out);
	c->out = malloc(n - sent);
	if (c->out == NULL)
		return false;
	memcpy(c->out, p + sent, n - sent);
	c->out_len = n - sent;
	c->out_off = 0;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

static bool flush(conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0)
			return errno == EAGAIN;
		c->out_off += (size_t)w;
	}
	c->out_len = c->out_off = 0;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

static const char *field(const char *object, size_t len, const char *name, size_t *out_len)
{
	const char *p = memmem(object, len, name, strlen(name));
	if (p == NULL) {
		*out_len = 0;
		return "";
	}
	p += strlen(name);
	const char *end = memchr(p, '"', len - (size_t)(p - object));
	*out_len = end ? (size_t)(end - p) : 0;
	return p;
}

/* The envelope kyoyu's stream gives the object, as one chunk, to every stream. */
static void fan_out(const char *body, size_t len)
{
	const char *open = memmem(body, len, "[", 1), *close_ = body + len;
	while (close_ > body && *close_ != ']')
		close_--;
	if (open == NULL || close_ <= open)
		return;
	const char *object = open + 1;
	size_t object_len = (size_t)(close_ - object), id_len, version_len;
	const char *id = field(object, object_len, "\"id\":\"", &id_len);
	const char *version = field(object, object_len, "\"modified\":\"", &version_len);
	uint64_t seq = ++sequence;
	size_t cap = object_len + 512;
	char *event = malloc(cap), *chunk = malloc(cap + 32);
	if (event == NULL || chunk == NULL)
		die("memory");
	int n = snprintf(event, cap,
			 "id: %llu\nevent: object\ndata: {\"event\":%llu,\"kind\":\"object\",\"id\":\"%.*s\","
			 "\"type\":\"indicator\",\"version\":\"%.*s\",\"tlp\":\"TLP:GREEN\",\"collection\":"
			 "\"365fed99-08fa-fdcd-a1b3-fb247eb41d01\",\"report_state\":null,\"object\":%.*s}\n\n",
			 (unsigned long long)seq, (unsigned long long)seq, (int)id_len, id, (int)version_len, version,
			 (int)object_len, object);
	int m = snprintf(chunk, cap + 32, "%x\r\n%s\r\n", n, event);
	for (size_t i = 0; i < nstreams;) {
		conn *c = streams[i];
		if (send_bytes(c, chunk, (size_t)m))
			i++;
		else
			drop(c);   /* the last stream moved into slot i */
	}
	free(event);
	free(chunk);
}

static void readable(conn *c)
{
	if (c->in_cap - c->in_len < 4096) {
		c->in_cap = c->in_cap ? c->in_cap * 2 : 8192;
		c->in = realloc(c->in, c->in_cap + 1);
		if (c->in == NULL)
			die("memory");
	}
	ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		drop(c);
		return;
	}
	if (c->streaming)   /* a client's bytes on an open stream mean nothing */
		return;
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	for (;;) {
		char *end = strstr(c->in, "\r\n\r\n");
		if (end == NULL)
			return;
		size_t head = (size_t)(end + 4 - c->in), body = 0;
		const char *cl = strcasestr(c->in, "\r\ncontent-length:");
		if (cl != NULL && cl < end)
			body = strtoul(cl + 17, NULL, 10);
		if (c->in_len < head + body)
			return;
		if (strncmp(c->in, "GET /api/v1/stream", 18) == 0) {
			static const char caught_up[] = ": caught up at 0\n\n";
			char answer[256];
			int len = snprintf(answer, sizeof(answer),
					   "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
					   "no-store\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n",
					   sizeof(caught_up) - 1, caught_up);
			if (nstreams == streams_cap) {
				streams_cap = streams_cap ? streams_cap * 2 : 1024;
				streams = realloc(streams, streams_cap * sizeof(*streams));
				if (streams == NULL)
					die("memory");
			}
			c->streaming = true;
			c->slot = nstreams;
			streams[nstreams++] = c;
			free(c->in);
			c->in = NULL;
			c->in_len = c->in_cap = 0;
			if (!send_bytes(c, answer, (size_t)len))
				drop(c);
			return;
		}
		char answer[256];
		int len = snprintf(answer, sizeof(answer),
				   "HTTP/1.1 202 Accepted\r\nContent-Type: application/taxii+json;version=2.1\r\n"
				   "Content-Length: 20\r\n\r\n{\"status\":\"pending\"}");
		if (write(c->fd, answer, (size_t)len) != len) {
			drop(c);
			return;
		}
		fan_out(c->in + head, body);
		memmove(c->in, c->in + head + body, c->in_len - head - body + 1);
		c->in_len -= head + body;
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	if (bind(listener, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listener, 4096) != 0 ||
	    getsockname(listener, (struct sockaddr *)&a, &alen) != 0)
		die("listening");
	printf("bench_stream_ceiling listening on http://127.0.0.1:%d (port %d)\n", ntohs(a.sin_port),
	       ntohs(a.sin_port));
	fflush(stdout);
	ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
	struct epoll_event events[512];
	for (;;) {
		int n = epoll_wait(ep, events, 512, -1);
		for (int i = 0; i < n; i++) {
			conn *c = events[i].data.ptr;
			if (c != NULL && c->dead)
				continue;
			if (c == NULL) {
				int fd;
				while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					conn *fresh = calloc(1, sizeof(*fresh));
					if (fresh == NULL)
						die("memory");
					fresh->fd = fd;
					struct epoll_event e = {.events = EPOLLIN, .data.ptr = fresh};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			if ((events[i].events & EPOLLOUT) && !flush(c)) {
				drop(c);
				continue;
			}
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				readable(c);
		}
		bury();
	}
}
