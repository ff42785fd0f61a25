// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets API of the protocol under test: the errno values, flags and
 * readiness Linux TCP gives, case by case.
 *
 * The protocol for socket(2) comes from ALTTCP_TEST_PROTO (default 258,
 * alttcp; 6 runs the same cases against Linux TCP to prove them right).
 * The other end of a connection is always Linux TCP. Every test runs in a
 * network namespace of its own (loopback only), so ports, TIME_WAIT
 * entries and the connection table never leak between tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/alttcp.h>

#include "kselftest_harness.h"
#include "netns_util.h"

static int test_proto(void)
{
	const char *p = getenv("ALTTCP_TEST_PROTO");

	return p && *p ? atoi(p) : IPPROTO_ALTTCP;
}

/*
 * Blocking calls give up after 5 s (EAGAIN, or EINPROGRESS for connect)
 * instead of hanging until the harness kills the test: a stack that loses
 * a segment fails one case quickly and the rest still run. Tests that
 * time blocking calls set their own limits.
 */
static int bounded(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* A socket of the protocol under test. */
static int tsock(void)
{
	return bounded(socket(AF_INET, SOCK_STREAM, test_proto()));
}

/* The reference peer: Linux TCP. */
static int lsock(void)
{
	return bounded(socket(AF_INET, SOCK_STREAM, 0));
}

static struct sockaddr_in sin_of(in_addr_t addr, unsigned short port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = addr,
	};

	return sin;
}

static int bind_to(int fd, in_addr_t addr, unsigned short port)
{
	struct sockaddr_in sin = sin_of(addr, port);

	return bind(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static int connect_lo(int fd, unsigned short port)
{
	struct sockaddr_in sin = sin_of(htonl(INADDR_LOOPBACK), port);

	return connect(fd, (struct sockaddr *)&sin, sizeof(sin));
}

static unsigned short local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		return 0;
	return ntohs(sin.sin_port);
}

/* A listener on 127.0.0.1 at an ephemeral port; -1 on error. */
static int listen_lo(int fd, unsigned short *port, int backlog)
{
	if (fd < 0 || bind_to(fd, htonl(INADDR_LOOPBACK), 0) ||
	    listen(fd, backlog))
		return -1;
	*port = local_port(fd);
	return fd;
}

static int sockopt_int(int fd, int level, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, opt, &v, &len))
		return -errno;
	return v;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Poll one fd; returns revents (0 on timeout). */
static short poll1(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, timeout_ms) < 0)
		return -1;
	return p.revents;
}

/*
 * State name ("ESTABLISHED", ...) of the connection from local port lport
 * to remote port rport (0: any) in the protocol's table: /proc/net/alttcp
 * for alttcp, /proc/net/tcp mapped to the same names for Linux TCP.
 * Empty when there is no such row.
 */
static void conn_state(unsigned short lport, unsigned short rport,
		       char *state, size_t len)
{
	static const char *const linux_names[] = {
		"?", "ESTABLISHED", "SYN_SENT", "SYN_RECEIVED", "FIN_WAIT_1",
		"FIN_WAIT_2", "TIME_WAIT", "CLOSED", "CLOSE_WAIT", "LAST_ACK",
		"LISTEN", "CLOSING", "SYN_RECEIVED",
	};
	bool alt = test_proto() == IPPROTO_ALTTCP;
	char line[512], la[64], ra[64], st[32];
	unsigned int lp, rp, s;
	FILE *f;

	snprintf(state, len, "%s", "");
	f = fopen(alt ? "/proc/self/net/alttcp" : "/proc/self/net/tcp", "r");
	if (!f)
		return;
	if (!fgets(line, sizeof(line), f))
		goto out;
	while (fgets(line, sizeof(line), f)) {
		if (alt) {
			if (sscanf(line, "%*s %63s %63s %31s", la, ra, st) != 3)
				continue;
			lp = atoi(strchr(la, ':') ? strchr(la, ':') + 1 : "0");
			rp = atoi(strchr(ra, ':') ? strchr(ra, ':') + 1 : "0");
		} else {
			if (sscanf(line, "%*s %*x:%x %*x:%x %x", &lp, &rp, &s) != 3)
				continue;
			snprintf(st, sizeof(st), "%s",
				 s < ARRAY_SIZE(linux_names) ? linux_names[s] : "?");
		}
		if (lp == lport && (!rport || rp == rport)) {
			snprintf(state, len, "%s", st);
			break;
		}
	}
out:
	fclose(f);
}

/* Waits up to timeout_ms for the state; true when it was reached. */
static bool wait_state(unsigned short lport, unsigned short rport,
		       const char *want, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	char st[32];

	do {
		conn_state(lport, rport, st, sizeof(st));
		if (!strcmp(st, want))
			return true;
		sleep_ms(10);
	} while (now_ms() < end);
	return false;
}

/*
 * A Linux listener whose accept queue is full, so further SYNs are dropped
 * and a connect to it stays in SYN_SENT. backlog 0 admits one connection:
 * *filler holds it.
 */
static int blackhole_listener(unsigned short *port, int *filler)
{
	int fd = listen_lo(lsock(), port, 0);

	*filler = lsock();
	if (fd < 0 || *filler < 0 || connect_lo(*filler, *port))
		return -1;
	/* The queued child must exist before the SYNs under test arrive. */
	if (poll1(fd, POLLIN, 2000) != POLLIN)
		return -1;
	return fd;
}

/* Signals: counted, and installed without SA_RESTART to see EINTR. */
static atomic_int sig_count;

static void count_sig(int sig)
{
	sig_count++;
}

static void catch_signal(int sig)
{
	struct sigaction sa = { .sa_handler = count_sig };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sig_count = 0;
}

/* SIGALRM after ms milliseconds, once. */
static void alarm_ms(long ms)
{
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	catch_signal(SIGALRM);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* An action another thread runs on fd after a delay (wake-up tests). */
enum later_op { LATER_SEND, LATER_SHUT_WR, LATER_CONNECT };

struct later {
	pthread_t thread;
	int fd;
	enum later_op op;
	int delay_ms;
	unsigned short port;
	int ret;
};

static void *later_fn(void *arg)
{
	struct later *l = arg;

	sleep_ms(l->delay_ms);
	switch (l->op) {
	case LATER_SEND:
		l->ret = send(l->fd, "x", 1, 0) == 1 ? 0 : -errno;
		break;
	case LATER_SHUT_WR:
		l->ret = shutdown(l->fd, SHUT_WR) ? -errno : 0;
		break;
	case LATER_CONNECT:
		l->ret = connect_lo(l->fd, l->port) ? -errno : 0;
		break;
	}
	return NULL;
}

static int later_start(struct later *l, int fd, enum later_op op, int ms)
{
	l->fd = fd;
	l->op = op;
	l->delay_ms = ms;
	l->ret = -EINPROGRESS;
	return pthread_create(&l->thread, NULL, later_fn, l);
}

static int later_join(struct later *l)
{
	pthread_join(l->thread, NULL);
	return l->ret;
}

/* Every test gets its own network namespace. */
FIXTURE(ns) {
	int unused;
};

FIXTURE_SETUP(ns)
{
	ASSERT_EQ(0, fresh_netns()) TH_LOG("netns: %s", strerror(errno));
}

FIXTURE_TEARDOWN(ns)
{
}

/* ---- bind ---- */

TEST_F(ns, bind_port_zero_is_ephemeral)
{
	unsigned int lo = 0, hi = 0;
	unsigned short port;
	FILE *f;
	int fd = tsock();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind_to(fd, htonl(INADDR_LOOPBACK), 0));
	port = local_port(fd);
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(2, fscanf(f, "%u %u", &lo, &hi));
	fclose(f);
	EXPECT_LE(lo, port);
	EXPECT_GE(hi, port);
	close(fd);
}

TEST_F(ns, bind_inaddr_any)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = tsock();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind_to(fd, htonl(INADDR_ANY), 4242));
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&sin, &len));
	EXPECT_EQ(AF_INET, sin.sin_family);
	EXPECT_EQ(htonl(INADDR_ANY), sin.sin_addr.s_addr);
	EXPECT_EQ(4242, ntohs(sin.sin_port));
	close(fd);
}

TEST_F(ns, bind_same_port_twice_eaddrinuse)
{
	int a = tsock(), b = tsock();

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, bind_to(a, htonl(INADDR_LOOPBACK), 4243));
	EXPECT_EQ(-1, bind_to(b, htonl(INADDR_LOOPBACK), 4243));
	EXPECT_EQ(EADDRINUSE, errno);
	/* INADDR_ANY overlaps every local address. */
	EXPECT_EQ(-1, bind_to(b, htonl(INADDR_ANY), 4243));
	EXPECT_EQ(EADDRINUSE, errno);
	close(a);
	close(b);
}

TEST_F(ns, bind_nonlocal_eaddrnotavail)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, bind_to(fd, inet_addr("192.0.2.1"), 4244));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	close(fd);
}

TEST_F(ns, bind_twice_einval)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind_to(fd, htonl(INADDR_LOOPBACK), 4245));
	EXPECT_EQ(-1, bind_to(fd, htonl(INADDR_LOOPBACK), 4246));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(ns, bind_bad_address)
{
	struct sockaddr_in sin = sin_of(htonl(INADDR_LOOPBACK), 4247);
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&sin, sizeof(sin) - 1));
	EXPECT_EQ(EINVAL, errno);
	sin.sin_family = AF_INET6;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	close(fd);
}

/* ---- listen / accept ---- */

TEST_F(ns, listen_unbound_picks_port)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, listen(fd, 4));
	EXPECT_NE(0, local_port(fd));
	close(fd);
}

TEST_F(ns, accept_blocking)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct later l = {};
	unsigned short port;
	int fd, c, a;

	fd = listen_lo(tsock(), &port, 4);
	ASSERT_LE(0, fd);
	c = lsock();
	ASSERT_LE(0, c);
	l.port = port;
	ASSERT_EQ(0, later_start(&l, c, LATER_CONNECT, 100));
	a = accept(fd, (struct sockaddr *)&peer, &len);
	ASSERT_LE(0, a) TH_LOG("accept: %s", strerror(errno));
	EXPECT_EQ(0, later_join(&l));
	EXPECT_EQ(sizeof(peer), len);
	EXPECT_EQ(htonl(INADDR_LOOPBACK), peer.sin_addr.s_addr);
	EXPECT_EQ(local_port(c), ntohs(peer.sin_port));
	EXPECT_EQ(port, local_port(a));
	EXPECT_EQ(test_proto(), sockopt_int(a, SOL_SOCKET, SO_PROTOCOL));
	close(a);
	close(c);
	close(fd);
}

TEST_F(ns, accept_nonblock_eagain)
{
	unsigned short port;
	int fd = listen_lo(tsock(), &port, 4);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST_F(ns, accept4_flags_apply)
{
	unsigned short port;
	int fd, c1, c2, a1, a2;

	fd = listen_lo(tsock(), &port, 4);
	ASSERT_LE(0, fd);
	c1 = lsock();
	c2 = lsock();
	ASSERT_EQ(0, connect_lo(c1, port));
	ASSERT_EQ(0, connect_lo(c2, port));
	a1 = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, a1) TH_LOG("accept4: %s", strerror(errno));
	EXPECT_TRUE(fcntl(a1, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(a1, F_GETFD) & FD_CLOEXEC);
	/* Without the flags the new socket is blocking, whatever the listener. */
	a2 = accept4(fd, NULL, NULL, 0);
	ASSERT_LE(0, a2);
	EXPECT_FALSE(fcntl(a2, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(a2, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-1, accept4(fd, NULL, NULL, 0x1));
	EXPECT_EQ(EINVAL, errno);
	close(a1);
	close(a2);
	close(c1);
	close(c2);
	close(fd);
}

TEST_F(ns, accept_not_listening_einval)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(ns, accept_interrupted_eintr)
{
	unsigned short port;
	int fd = listen_lo(tsock(), &port, 4);

	ASSERT_LE(0, fd);
	alarm_ms(100);
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, sig_count);
	close(fd);
}

TEST_F(ns, listener_poll_in_on_pending_connection)
{
	unsigned short port;
	int fd = listen_lo(tsock(), &port, 4), c;

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, poll1(fd, POLLIN | POLLOUT, 0));
	c = lsock();
	ASSERT_EQ(0, connect_lo(c, port));
	EXPECT_EQ(POLLIN, poll1(fd, POLLIN | POLLOUT, 2000));
	close(c);
	close(fd);
}

/* ---- connect ---- */

TEST_F(ns, connect_blocking)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	unsigned short port;
	int l, fd, a;

	l = listen_lo(lsock(), &port, 4);
	ASSERT_LE(0, l);
	fd = tsock();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, connect_lo(fd, port)) TH_LOG("connect: %s", strerror(errno));
	ASSERT_EQ(0, getpeername(fd, (struct sockaddr *)&sin, &len));
	EXPECT_EQ(htonl(INADDR_LOOPBACK), sin.sin_addr.s_addr);
	EXPECT_EQ(port, ntohs(sin.sin_port));
	a = accept(l, (struct sockaddr *)&sin, &len);
	ASSERT_LE(0, a);
	/* connect without bind picked a local port; the peer sees it. */
	EXPECT_NE(0, local_port(fd));
	EXPECT_EQ(local_port(fd), ntohs(sin.sin_port));
	EXPECT_EQ(0, sockopt_int(fd, SOL_SOCKET, SO_ERROR));
	close(a);
	close(fd);
	close(l);
}

TEST_F(ns, connect_nonblock_einprogress_then_pollout)
{
	unsigned short port;
	int l, fd;

	l = listen_lo(lsock(), &port, 4);
	ASSERT_LE(0, l);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, test_proto());
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EINPROGRESS, errno);
	EXPECT_EQ(POLLOUT, poll1(fd, POLLOUT, 2000));
	EXPECT_EQ(0, sockopt_int(fd, SOL_SOCKET, SO_ERROR));
	/*
	 * Linux: the first connect() after completion reports the outcome
	 * (0, the usual idiom); only later ones say EISCONN.
	 */
	EXPECT_EQ(0, connect_lo(fd, port));
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EISCONN, errno);
	close(fd);
	close(l);
}

TEST_F(ns, connect_again_while_in_progress_ealready)
{
	unsigned short port;
	int l, filler, fd;
	char st[32];

	l = blackhole_listener(&port, &filler);
	ASSERT_LE(0, l);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, test_proto());
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EINPROGRESS, errno);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EALREADY, errno);
	EXPECT_EQ(0, poll1(fd, POLLOUT, 200));
	conn_state(local_port(fd), port, st, sizeof(st));
	EXPECT_STREQ("SYN_SENT", st);
	close(fd);
	close(filler);
	close(l);
}

TEST_F(ns, connect_connected_eisconn)
{
	unsigned short port;
	int l, fd;

	l = listen_lo(lsock(), &port, 4);
	ASSERT_LE(0, l);
	fd = tsock();
	ASSERT_EQ(0, connect_lo(fd, port));
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EISCONN, errno);
	close(fd);
	close(l);
}

TEST_F(ns, connect_closed_port_econnrefused)
{
	unsigned short port;
	int hold, fd;

	/* A bound, non-listening Linux socket keeps the port closed and ours. */
	hold = lsock();
	ASSERT_EQ(0, bind_to(hold, htonl(INADDR_LOOPBACK), 0));
	port = local_port(hold);
	fd = tsock();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(ECONNREFUSED, errno);
	close(fd);
	close(hold);
}

TEST_F(ns, connect_nonblock_refused_so_error)
{
	unsigned short port;
	int hold, fd;
	short ev;

	hold = lsock();
	ASSERT_EQ(0, bind_to(hold, htonl(INADDR_LOOPBACK), 0));
	port = local_port(hold);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, test_proto());
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EINPROGRESS, errno);
	ev = poll1(fd, POLLOUT, 2000);
	EXPECT_TRUE(ev & POLLERR) TH_LOG("revents 0x%x", ev);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents 0x%x", ev);
	/* SO_ERROR reports the error once, then clears it. */
	EXPECT_EQ(ECONNREFUSED, sockopt_int(fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, sockopt_int(fd, SOL_SOCKET, SO_ERROR));
	close(fd);
	close(hold);
}

TEST_F(ns, connect_interrupted_eintr)
{
	unsigned short port;
	int l, filler, fd;

	l = blackhole_listener(&port, &filler);
	ASSERT_LE(0, l);
	fd = tsock();
	ASSERT_LE(0, fd);
	alarm_ms(200);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, sig_count);
	/* The handshake goes on in the background (asked without blocking). */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(EALREADY, errno);
	close(fd);
	close(filler);
	close(l);
}

/* ---- unconnected sockets ---- */

TEST_F(ns, recv_unconnected_enotconn)
{
	char buf[8];
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd);
}

TEST_F(ns, send_unconnected_epipe)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	catch_signal(SIGPIPE);
	EXPECT_EQ(-1, send(fd, "x", 1, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sig_count);
	close(fd);
}

TEST_F(ns, getpeername_unconnected_enotconn)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, getpeername(fd, (struct sockaddr *)&sin, &len));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd);
}

TEST_F(ns, shutdown_unconnected_enotconn)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, shutdown(fd, SHUT_RDWR));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd);
}

/* ---- options on any socket ---- */

TEST_F(ns, so_rcvbuf_sndbuf_doubled)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	/* Linux doubles the value to leave room for its bookkeeping. */
	ASSERT_EQ(0, set_int(fd, SOL_SOCKET, SO_RCVBUF, 65536));
	EXPECT_EQ(131072, sockopt_int(fd, SOL_SOCKET, SO_RCVBUF));
	ASSERT_EQ(0, set_int(fd, SOL_SOCKET, SO_SNDBUF, 32768));
	EXPECT_EQ(65536, sockopt_int(fd, SOL_SOCKET, SO_SNDBUF));
	close(fd);
}

TEST_F(ns, tcp_nodelay_set_get)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, sockopt_int(fd, SOL_TCP, TCP_NODELAY));
	ASSERT_EQ(0, set_int(fd, SOL_TCP, TCP_NODELAY, 1));
	EXPECT_EQ(1, sockopt_int(fd, SOL_TCP, TCP_NODELAY));
	ASSERT_EQ(0, set_int(fd, IPPROTO_TCP, TCP_NODELAY, 0));
	EXPECT_EQ(0, sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY));
	close(fd);
}

TEST_F(ns, tcp_maxseg_set_get)
{
	unsigned short port;
	int l, fd, mss;

	fd = tsock();
	ASSERT_LE(0, fd);
	/* Unconnected: the RFC default until set. */
	EXPECT_EQ(536, sockopt_int(fd, SOL_TCP, TCP_MAXSEG));
	EXPECT_EQ(-1, set_int(fd, SOL_TCP, TCP_MAXSEG, 10));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, set_int(fd, SOL_TCP, TCP_MAXSEG, 1000));
	EXPECT_EQ(1000, sockopt_int(fd, SOL_TCP, TCP_MAXSEG));
	/* Connected: the segment size in use, capped by what we asked. */
	l = listen_lo(lsock(), &port, 4);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, connect_lo(fd, port));
	mss = sockopt_int(fd, SOL_TCP, TCP_MAXSEG);
	EXPECT_LT(500, mss);
	EXPECT_GE(1000, mss);
	close(fd);
	close(l);
}

TEST_F(ns, keepalive_options_set_get)
{
	int fd = tsock();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE));
	ASSERT_EQ(0, set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1));
	EXPECT_EQ(1, sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE));
	/* Linux's defaults: 7200 s idle, 75 s apart, 9 probes. */
	EXPECT_EQ(7200, sockopt_int(fd, SOL_TCP, TCP_KEEPIDLE));
	EXPECT_EQ(75, sockopt_int(fd, SOL_TCP, TCP_KEEPINTVL));
	EXPECT_EQ(9, sockopt_int(fd, SOL_TCP, TCP_KEEPCNT));
	ASSERT_EQ(0, set_int(fd, SOL_TCP, TCP_KEEPIDLE, 30));
	ASSERT_EQ(0, set_int(fd, SOL_TCP, TCP_KEEPINTVL, 5));
	ASSERT_EQ(0, set_int(fd, SOL_TCP, TCP_KEEPCNT, 3));
	EXPECT_EQ(30, sockopt_int(fd, SOL_TCP, TCP_KEEPIDLE));
	EXPECT_EQ(5, sockopt_int(fd, SOL_TCP, TCP_KEEPINTVL));
	EXPECT_EQ(3, sockopt_int(fd, SOL_TCP, TCP_KEEPCNT));
	EXPECT_EQ(-1, set_int(fd, SOL_TCP, TCP_KEEPIDLE, 0));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

/* Connections still in the accept queue are reset when the listener goes. */
TEST_F(ns, listener_close_resets_queued_connections)
{
	unsigned short port;
	char buf[4];
	int l, c;

	l = listen_lo(tsock(), &port, 4);
	ASSERT_LE(0, l);
	c = lsock();
	ASSERT_EQ(0, connect_lo(c, port));
	ASSERT_EQ(POLLIN, poll1(l, POLLIN, 2000));
	ASSERT_EQ(0, close(l));
	EXPECT_EQ(-1, recv(c, buf, sizeof(buf), 0));
	EXPECT_EQ(ECONNRESET, errno);
	close(c);
}

/* ---- SO_REUSEADDR and TIME_WAIT ---- */

TEST_F(ns, so_reuseaddr_rebinds_port_in_time_wait)
{
	unsigned short port, cport;
	int l, c, a, fd;
	char buf[4];

	l = tsock();
	ASSERT_LE(0, l);
	ASSERT_EQ(0, set_int(l, SOL_SOCKET, SO_REUSEADDR, 1));
	ASSERT_LE(0, listen_lo(l, &port, 4));
	c = lsock();
	ASSERT_EQ(0, connect_lo(c, port));
	cport = local_port(c);
	a = accept(l, NULL, NULL);
	ASSERT_LE(0, a);
	/* We close first, so our side of the connection ends in TIME_WAIT. */
	ASSERT_EQ(0, close(a));
	ASSERT_EQ(0, recv(c, buf, sizeof(buf), 0));
	ASSERT_EQ(0, close(c));
	ASSERT_TRUE(wait_state(port, cport, "TIME_WAIT", 3000));
	ASSERT_EQ(0, close(l));

	fd = tsock();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, bind_to(fd, htonl(INADDR_LOOPBACK), port));
	EXPECT_EQ(EADDRINUSE, errno);
	ASSERT_EQ(0, set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1));
	EXPECT_EQ(0, bind_to(fd, htonl(INADDR_LOOPBACK), port))
		TH_LOG("bind: %s", strerror(errno));
	EXPECT_EQ(0, listen(fd, 4));
	close(fd);
}

/* ---- per-namespace isolation ---- */

TEST_F(ns, listener_invisible_from_other_netns)
{
	int to_child[2], to_parent[2], status, fd;
	unsigned short port = 0;
	char st[32];
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;
		int l;

		if (fresh_netns())
			_exit(2);
		l = listen_lo(tsock(), &port, 4);
		if (l < 0)
			_exit(3);
		conn_state(port, 0, st, sizeof(st));
		if (strcmp(st, "LISTEN"))
			_exit(4);
		if (write(to_parent[1], &port, sizeof(port)) != sizeof(port))
			_exit(5);
		/* Hold the listener until the parent has looked. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(6);
		_exit(0);
	}
	ASSERT_EQ((ssize_t)sizeof(port), read(to_parent[0], &port, sizeof(port)));
	conn_state(port, 0, st, sizeof(st));
	EXPECT_STREQ("", st);
	fd = tsock();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect_lo(fd, port));
	EXPECT_EQ(ECONNREFUSED, errno);
	/* The port is free here: the namespaces have separate port spaces. */
	close(fd);
	fd = tsock();
	EXPECT_EQ(0, bind_to(fd, htonl(INADDR_LOOPBACK), port));
	close(fd);
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * A connection between the protocol under test and Linux TCP on loopback:
 * self->t is the socket under test, self->p the Linux peer. The variant
 * says which end connected.
 */
FIXTURE(conn) {
	int t;
	int p;
};

FIXTURE_VARIANT(conn) {
	bool tested_connects;
};

FIXTURE_VARIANT_ADD(conn, client) {
	.tested_connects = true,
};

FIXTURE_VARIANT_ADD(conn, server) {
	.tested_connects = false,
};

FIXTURE_SETUP(conn)
{
	unsigned short port;
	int l, c;

	ASSERT_EQ(0, fresh_netns()) TH_LOG("netns: %s", strerror(errno));
	l = listen_lo(variant->tested_connects ? lsock() : tsock(), &port, 4);
	ASSERT_LE(0, l) TH_LOG("listener: %s", strerror(errno));
	c = variant->tested_connects ? tsock() : lsock();
	ASSERT_LE(0, c);
	ASSERT_EQ(0, connect_lo(c, port)) TH_LOG("connect: %s", strerror(errno));
	self->p = accept(l, NULL, NULL);
	ASSERT_LE(0, self->p) TH_LOG("accept: %s", strerror(errno));
	if (!variant->tested_connects) {
		self->t = self->p;
		self->p = c;
	} else {
		self->t = c;
	}
	close(l);
}

FIXTURE_TEARDOWN(conn)
{
	close(self->t);
	close(self->p);
}

TEST_F(conn, names_match_peer)
{
	struct sockaddr_in tl, tp, pl, pp;
	socklen_t len = sizeof(tl);

	ASSERT_EQ(0, getsockname(self->t, (struct sockaddr *)&tl, &len));
	ASSERT_EQ(0, getpeername(self->t, (struct sockaddr *)&tp, &len));
	ASSERT_EQ(0, getsockname(self->p, (struct sockaddr *)&pl, &len));
	ASSERT_EQ(0, getpeername(self->p, (struct sockaddr *)&pp, &len));
	EXPECT_EQ(sizeof(tl), len);
	EXPECT_EQ(0, memcmp(&tl, &pp, sizeof(tl)));
	EXPECT_EQ(0, memcmp(&tp, &pl, sizeof(tp)));
	EXPECT_EQ(htonl(INADDR_LOOPBACK), tl.sin_addr.s_addr);
}

TEST_F(conn, state_established)
{
	char st[32];

	conn_state(local_port(self->t), local_port(self->p), st, sizeof(st));
	EXPECT_STREQ("ESTABLISHED", st);
}

TEST_F(conn, data_both_ways)
{
	char buf[16] = {};

	ASSERT_EQ(5, send(self->t, "hello", 5, 0));
	ASSERT_EQ(5, recv(self->p, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	ASSERT_EQ(5, send(self->p, "world", 5, 0));
	ASSERT_EQ(5, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "world", 5));
}

TEST_F(conn, fionread_counts_unread_bytes)
{
	int n = -1;

	EXPECT_EQ(0, ioctl(self->t, FIONREAD, &n));
	EXPECT_EQ(0, n);
	ASSERT_EQ(5, send(self->p, "hello", 5, 0));
	ASSERT_EQ(POLLIN, poll1(self->t, POLLIN, 2000));
	EXPECT_EQ(0, ioctl(self->t, FIONREAD, &n));
	EXPECT_EQ(5, n);
}

TEST_F(conn, recv_dontwait_eagain)
{
	char buf[8];

	EXPECT_EQ(-1, recv(self->t, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(conn, send_dontwait_eagain_when_full)
{
	static char chunk[65536];
	long total = 0;
	ssize_t n;

	/* The peer never reads: its window and our send buffer fill up. */
	ASSERT_EQ(0, set_int(self->t, SOL_SOCKET, SO_SNDBUF, 16384));
	do {
		n = send(self->t, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n > 0)
			total += n;
	} while (n > 0 && total < (64L << 20));
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_LT(0, total);
	EXPECT_EQ(0, poll1(self->t, POLLOUT, 0));
}

TEST_F(conn, recv_peek_leaves_data)
{
	char buf[16] = {};

	ASSERT_EQ(6, send(self->p, "peekme", 6, 0));
	ASSERT_EQ(POLLIN, poll1(self->t, POLLIN, 2000));
	EXPECT_EQ(4, recv(self->t, buf, 4, MSG_PEEK));
	EXPECT_EQ(0, memcmp(buf, "peek", 4));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(6, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "peekme", 6));
	EXPECT_EQ(-1, recv(self->t, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

static void *send_slowly(void *arg)
{
	int fd = *(int *)arg, i;
	char chunk[1000];

	for (i = 0; i < 3; i++) {
		memset(chunk, 'a' + i, sizeof(chunk));
		sleep_ms(50);
		if (send(fd, chunk, sizeof(chunk), 0) != sizeof(chunk))
			break;
	}
	return NULL;
}

TEST_F(conn, recv_waitall_gathers)
{
	static char buf[3000];
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, send_slowly, &self->p));
	EXPECT_EQ(3000, recv(self->t, buf, sizeof(buf), MSG_WAITALL));
	pthread_join(th, NULL);
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ('b', buf[1000]);
	EXPECT_EQ('c', buf[2999]);
}

/*
 * After the peer closed, our first sends still go out (we are in
 * CLOSE_WAIT); the peer answers them with RST, and the next send fails.
 * Returns that send's errno.
 */
static int send_until_error(int fd, int flags)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (send(fd, "x", 1, flags) < 0)
			return errno;
		sleep_ms(10);
	}
	return 0;
}

TEST_F(conn, send_after_peer_close_epipe_sigpipe)
{
	char st[32];

	close(self->p);
	self->p = -1;
	ASSERT_EQ(0, recv(self->t, st, sizeof(st), 0));
	catch_signal(SIGPIPE);
	EXPECT_EQ(EPIPE, send_until_error(self->t, 0));
	EXPECT_EQ(1, sig_count);
	/* And it stays broken. */
	EXPECT_EQ(-1, send(self->t, "x", 1, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(2, sig_count);
}

TEST_F(conn, send_after_peer_close_msg_nosignal)
{
	char buf[4];

	close(self->p);
	self->p = -1;
	ASSERT_EQ(0, recv(self->t, buf, sizeof(buf), 0));
	catch_signal(SIGPIPE);
	EXPECT_EQ(EPIPE, send_until_error(self->t, MSG_NOSIGNAL));
	EXPECT_EQ(0, sig_count);
}

TEST_F(conn, shutdown_wr)
{
	char buf[8];

	ASSERT_EQ(0, shutdown(self->t, SHUT_WR));
	EXPECT_EQ(0, recv(self->p, buf, sizeof(buf), 0));
	/* The other direction still works. */
	ASSERT_EQ(3, send(self->p, "abc", 3, 0));
	EXPECT_EQ(3, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(-1, send(self->t, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	/* A second shutdown of the same direction is not an error. */
	EXPECT_EQ(0, shutdown(self->t, SHUT_WR));
}

TEST_F(conn, shutdown_rd)
{
	char buf[8];

	ASSERT_EQ(0, shutdown(self->t, SHUT_RD));
	/* Reads return end-of-file at once, without blocking. */
	EXPECT_EQ(0, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLOUT,
		  poll1(self->t, POLLIN | POLLRDHUP | POLLOUT, 0));
	/* Nothing goes on the wire for SHUT_RD: we can still send. */
	ASSERT_EQ(3, send(self->t, "abc", 3, 0));
	EXPECT_EQ(3, recv(self->p, buf, sizeof(buf), 0));
	EXPECT_EQ(-1, recv(self->p, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(conn, shutdown_rdwr)
{
	char buf[8];

	ASSERT_EQ(0, shutdown(self->t, SHUT_RDWR));
	EXPECT_EQ(0, recv(self->p, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(-1, send(self->t, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
}

TEST_F(conn, shutdown_bad_how_einval)
{
	EXPECT_EQ(-1, shutdown(self->t, 3));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(conn, so_linger_zero_close_sends_rst)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char buf[8];

	ASSERT_EQ(0, setsockopt(self->t, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(0, close(self->t));
	self->t = -1;
	EXPECT_EQ(-1, recv(self->p, buf, sizeof(buf), 0));
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(conn, so_error_zero_when_connected)
{
	EXPECT_EQ(0, sockopt_int(self->t, SOL_SOCKET, SO_ERROR));
}

TEST_F(conn, so_rcvtimeo_eagain)
{
	struct timeval tv = { .tv_usec = 200000 };
	char buf[8];
	long t0, dt;

	ASSERT_EQ(0, setsockopt(self->t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	t0 = now_ms();
	EXPECT_EQ(-1, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	dt = now_ms() - t0;
	EXPECT_LE(180, dt);
	EXPECT_GT(3000, dt);
}

TEST_F(conn, so_sndtimeo_eagain)
{
	struct timeval tv = { .tv_usec = 200000 };
	static char big[1 << 20];
	long t0 = 0, dt = 0;
	ssize_t n = 0;
	int i;

	ASSERT_EQ(0, set_int(self->t, SOL_SOCKET, SO_SNDBUF, 16384));
	ASSERT_EQ(0, setsockopt(self->t, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	/* The peer never reads; a blocking send gives up after the timeout. */
	for (i = 0; i < 64; i++) {
		t0 = now_ms();
		n = send(self->t, big, sizeof(big), 0);
		dt = now_ms() - t0;
		if (n < 0)
			break;
	}
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_LE(180, dt);
	EXPECT_GT(3000, dt);
}

TEST_F(conn, recv_interrupted_eintr)
{
	char buf[8];

	alarm_ms(100);
	EXPECT_EQ(-1, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, sig_count);
}

/* ---- readiness ---- */

TEST_F(conn, poll_out_only_when_idle)
{
	EXPECT_EQ(POLLOUT, poll1(self->t, POLLIN | POLLOUT | POLLRDHUP, 0));
}

TEST_F(conn, poll_in_on_data)
{
	ASSERT_EQ(1, send(self->p, "x", 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, poll1(self->t, POLLIN | POLLOUT | POLLRDHUP, 2000));
}

TEST_F(conn, poll_rdhup_on_peer_fin)
{
	char buf[4];
	short ev;

	ASSERT_EQ(0, shutdown(self->p, SHUT_WR));
	ev = poll1(self->t, POLLIN | POLLRDHUP, 2000);
	EXPECT_EQ(POLLIN | POLLRDHUP, ev);
	EXPECT_EQ(0, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLOUT,
		  poll1(self->t, POLLIN | POLLRDHUP | POLLOUT, 0));
}

TEST_F(conn, poll_hup_after_both_directions_shut)
{
	short ev;

	ASSERT_EQ(0, shutdown(self->t, SHUT_WR));
	EXPECT_EQ(0, poll1(self->t, POLLIN, 100));
	ASSERT_EQ(0, shutdown(self->p, SHUT_WR));
	/* POLLOUT is there at once after SHUT_WR: first wait for the FIN. */
	ev = poll1(self->t, POLLRDHUP, 2000);
	EXPECT_TRUE(ev & POLLRDHUP) TH_LOG("revents 0x%x", ev);
	ev = poll1(self->t, POLLIN | POLLRDHUP | POLLOUT, 100);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLOUT | POLLHUP, ev);
}

TEST_F(conn, poll_err_after_rst)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char buf[8];
	short ev;

	ASSERT_EQ(0, setsockopt(self->p, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(self->p);
	self->p = -1;
	ev = poll1(self->t, POLLIN, 2000);
	EXPECT_TRUE(ev & POLLERR) TH_LOG("revents 0x%x", ev);
	EXPECT_TRUE(ev & POLLHUP) TH_LOG("revents 0x%x", ev);
	EXPECT_EQ(-1, recv(self->t, buf, sizeof(buf), 0));
	EXPECT_EQ(ECONNRESET, errno);
	/* The error was reported once; the socket is now just closed. */
	EXPECT_EQ(0, sockopt_int(self->t, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, recv(self->t, buf, sizeof(buf), 0));
}

TEST_F(conn, poll_wakes_blocked_thread)
{
	struct later l = {};
	long t0 = now_ms();
	short ev;

	ASSERT_EQ(0, later_start(&l, self->p, LATER_SEND, 100));
	ev = poll1(self->t, POLLIN, 5000);
	EXPECT_EQ(0, later_join(&l));
	EXPECT_EQ(POLLIN, ev);
	EXPECT_GT(4000, now_ms() - t0);
}

TEST_F(conn, epoll_wakes_on_data_and_fin)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct later l = {};
	char buf[4];
	int ep;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->t, &ev));

	ASSERT_EQ(0, later_start(&l, self->p, LATER_SEND, 100));
	memset(&ev, 0, sizeof(ev));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 5000));
	EXPECT_EQ(0, later_join(&l));
	EXPECT_EQ((uint32_t)EPOLLIN, ev.events);
	ASSERT_EQ(1, recv(self->t, buf, sizeof(buf), 0));

	ASSERT_EQ(0, later_start(&l, self->p, LATER_SHUT_WR, 100));
	memset(&ev, 0, sizeof(ev));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 5000));
	EXPECT_EQ(0, later_join(&l));
	EXPECT_EQ((uint32_t)(EPOLLIN | EPOLLRDHUP), ev.events);
	close(ep);
}

TEST_HARNESS_MAIN
