// SPDX-License-Identifier: GPL-2.0
/*
 * manyconns: many concurrent connections opened, held, and a
 * request/response rate measured over them, for `make bench`.
 *
 *   manyconns server PROTO ADDR PORT NPORTS
 *	listens on NPORTS ports from PORT, accepts everything, echoes what
 *	it reads; prints "ready" once listening; ends when stdin closes.
 *   manyconns client PROTO ADDR PORT NPORTS N SECONDS DEPTH SRC[,SRC..]
 *	opens N connections to the server's ports from the source
 *	addresses in turn (each bound to its own ephemeral port), checks
 *	each with one 64-byte exchange, then for SECONDS keeps DEPTH
 *	exchanges outstanding, each on a connection drawn at random, and
 *	prints one JSON line: seconds to open, slab growth (both ends, as
 *	both live in this kernel), and transactions per second for each
 *	whole second. Every connection ends with a reset (SO_LINGER 0), so
 *	no TIME_WAIT is left behind.
 *
 * One thread, epoll: the figures are the stack's cost, not the tool's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG		64
#define MAX_SRC		16
#define MAX_PENDING	256	/* handshakes in flight while opening */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long slab_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void raise_nofile(long n)
{
	struct rlimit rl = { n + 1024, n + 1024 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("manyconns: setrlimit (going on)");
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", ip);
		exit(2);
	}
	return sa;
}

static void epoll_add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll_ctl add");
}

static void epoll_mod(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev))
		die("epoll_ctl mod");
}

/* The server: every listener and connection in one epoll set. */
static int serve(int proto, const char *ip, int port, int nports)
{
	struct epoll_event evs[256];
	char buf[4096];
	int ep, i, one = 1;
	int *lfd = calloc(nports, sizeof(*lfd));

	raise_nofile(500000);
	ep = epoll_create1(0);
	if (ep < 0 || !lfd)
		die("epoll_create1");
	for (i = 0; i < nports; i++) {
		struct sockaddr_in sa = addr_of(ip, port + i);

		lfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, proto);
		if (lfd[i] < 0)
			die("socket");
		setsockopt(lfd[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd[i], (struct sockaddr *)&sa, sizeof(sa)))
			die("bind");
		if (listen(lfd[i], 4096))
			die("listen");
		epoll_add(ep, lfd[i], EPOLLIN);
	}
	epoll_add(ep, 0, EPOLLIN);	/* stdin: its end is ours */
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, j, c;
			ssize_t r;

			if (fd == 0)
				return 0;
			for (j = 0; j < nports && lfd[j] != fd; j++)
				;
			if (j < nports) {
				while ((c = accept4(fd, NULL, NULL,
						    SOCK_NONBLOCK)) >= 0) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					epoll_add(ep, c, EPOLLIN);
				}
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r > 0 && write(fd, buf, r) == r)
				continue;
			if (r < 0 && errno == EAGAIN)
				continue;
			close(fd);	/* EOF, reset, or a short write */
		}
	}
}

struct client {
	int ep, n, *fd;
	int *index;		/* of each connection, by its fd */
	char *busy;		/* an exchange outstanding */
	long done;
};

/* Opens the connections, at most MAX_PENDING handshakes at a time. */
static void open_all(struct client *c, int proto, const char *ip, int port,
		     int nports, char **src, int nsrc)
{
	struct epoll_event evs[MAX_PENDING];
	int opened = 0, pending = 0, one = 1;

	while (opened < c->n || pending) {
		int i, k;

		while (opened < c->n && pending < MAX_PENDING) {
			struct sockaddr_in sa = addr_of(src[opened % nsrc], 0);
			struct sockaddr_in da = addr_of(ip, port +
							(opened / nsrc) % nports);
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
					proto);

			if (fd < 0)
				die("socket");
			if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
				die("bind");
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			if (connect(fd, (struct sockaddr *)&da, sizeof(da)) &&
			    errno != EINPROGRESS)
				die("connect");
			epoll_add(c->ep, fd, EPOLLOUT);
			c->index[fd] = opened;
			c->fd[opened++] = fd;
			pending++;
		}
		k = epoll_wait(c->ep, evs, MAX_PENDING, 10000);
		if (k <= 0) {
			fprintf(stderr, "manyconns: %d handshakes stalled\n",
				pending);
			exit(1);
		}
		for (i = 0; i < k; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t len = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				errno = err;
				die("connect");
			}
			/* Blocking from now: a 64-byte answer is read whole. */
			if (fcntl(fd, F_SETFL, 0))
				die("fcntl");
			epoll_mod(c->ep, fd, 0);
			pending--;
		}
	}
}

static void start(struct client *c, int i)
{
	static const char msg[MSG] = "manyconns";

	if (write(c->fd[i], msg, MSG) != MSG)
		die("write");
	c->busy[i] = 1;
	epoll_mod(c->ep, c->fd[i], EPOLLIN);
}

/* Waits for answers; each completed exchange calls next(). */
static int reap(struct client *c, int timeout_ms, void (*next)(struct client *))
{
	struct epoll_event evs[512];
	char buf[MSG];
	int k = epoll_wait(c->ep, evs, 512, timeout_ms), i;

	if (k < 0 && errno != EINTR)
		die("epoll_wait");
	for (i = 0; i < k; i++) {
		int j = c->index[evs[i].data.fd];
		ssize_t r = recv(c->fd[j], buf, MSG, MSG_WAITALL);

		if (r != MSG) {
			fprintf(stderr, "connection %d: read %zd: %s\n", j, r,
				r < 0 ? strerror(errno) : "short");
			exit(1);
		}
		c->busy[j] = 0;
		epoll_mod(c->ep, c->fd[j], 0);
		c->done++;
		next(c);
	}
	return k;
}

static void start_random(struct client *c)
{
	int i;

	do
		i = random() % c->n;
	while (c->busy[i]);
	start(c, i);
}

static void nothing(struct client *c)
{
}

static int run_client(int proto, const char *ip, int port, int nports,
		      int n, int seconds, int depth, char *srcs)
{
	char *src[MAX_SRC];
	int nsrc = 0, i, s;
	long slab0, slab1;
	struct client c = { .n = n };
	double t0, t_open, t_end;
	struct linger lg = { 1, 0 };

	for (src[0] = strtok(srcs, ","); src[nsrc] && nsrc < MAX_SRC - 1;)
		src[++nsrc] = strtok(NULL, ",");
	if (!nsrc || depth < 1 || depth > n / 2) {
		fprintf(stderr, "manyconns: bad arguments\n");
		return 2;
	}
	raise_nofile(n);
	c.fd = calloc(n, sizeof(*c.fd));
	c.index = calloc(n + 2048, sizeof(*c.index));
	c.busy = calloc(n, 1);
	c.ep = epoll_create1(0);
	if (!c.fd || !c.index || !c.busy || c.ep < 0)
		die("setup");
	slab0 = slab_kb();
	t0 = now();
	open_all(&c, proto, ip, port, nports, src, nsrc);
	t_open = now() - t0;
	/* Every connection once, so the server has accepted them all. */
	for (i = 0; i < n || c.done < n;) {
		if (i < n && i - c.done < depth) {
			start(&c, i++);
			continue;
		}
		if (!reap(&c, 10000, nothing)) {
			fprintf(stderr, "manyconns: no answer in 10 s\n");
			return 1;
		}
	}
	slab1 = slab_kb();
	printf("{\"n\": %d, \"open_s\": %.3f, \"slab_kb\": %ld, \"rr\": [",
	       n, t_open, slab1 - slab0);
	for (i = 0; i < depth; i++)
		start_random(&c);
	for (s = 0; s < seconds; s++) {
		long done0 = c.done;

		t0 = now();
		t_end = t0 + 1;
		while (now() < t_end)
			reap(&c, 100, start_random);
		printf("%s%.1f", s ? ", " : "", (c.done - done0) / (now() - t0));
	}
	printf("]}\n");
	fflush(stdout);
	for (i = 0; i < n; i++) {
		setsockopt(c.fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c.fd[i]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "server"))
		return serve(atoi(argv[2]), argv[3], atoi(argv[4]),
			     atoi(argv[5]));
	if (argc == 10 && !strcmp(argv[1], "client"))
		return run_client(atoi(argv[2]), argv[3], atoi(argv[4]),
				  atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
				  atoi(argv[8]), argv[9]);
	fprintf(stderr, "usage: manyconns server PROTO ADDR PORT NPORTS\n");
	fprintf(stderr, "       manyconns client PROTO ADDR PORT NPORTS %s\n",
		"N SECONDS DEPTH SRC[,SRC...]");
	return 2;
}
