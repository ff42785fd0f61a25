// SPDX-License-Identifier: GPL-2.0
/*
 * libalttcpize.so: an LD_PRELOAD library that turns an unmodified program's
 * IPv4 TCP sockets into alttcp ones; scripts/alttcpize runs programs with it.
 *
 * Build: gcc -O2 -Wall -Wextra -fPIC -shared -Iinclude/uapi \
 *	  -o build/alttcpize/libalttcpize.so scripts/alttcpize.c -ldl
 *
 * Only socket(AF_INET, SOCK_STREAM[|SOCK_NONBLOCK|SOCK_CLOEXEC], 0 or
 * IPPROTO_TCP) is changed; every other family, type and protocol reaches
 * the kernel untouched. Sockets from accept() inherit the listener's
 * protocol, so servers need nothing more.
 *
 * Without alttcp the program still runs over Linux TCP: the first failed
 * attempt prints one line on stderr and the rest of the process's life
 * uses TCP without asking again (each attempt may make the kernel run
 * modprobe). The errors taken to mean "no alttcp" are EPROTONOSUPPORT (no
 * protocol 258 registered) and EINVAL (a kernel whose IPPROTO_MAX is below
 * 258; the family, type and flags were checked here, so the protocol is
 * the only argument it can refuse). ESOCKTNOSUPPORT cannot come back for
 * SOCK_STREAM, and EAFNOSUPPORT (no IPv4 at all) would fail TCP as well.
 * Anything else, such as EMFILE, ENOBUFS or a security module's EACCES, is
 * the program's to see.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <linux/alttcp.h>

typedef int (*socket_fn)(int domain, int type, int protocol);

static socket_fn real_socket;
static int alttcp_absent;

/* Straight to fd 2: stdio may be unset or mid-use in the caller. */
static void say(const char *msg, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, msg, len);

		if (n <= 0)
			return;
		msg += n;
		len -= (size_t)n;
	}
}

static socket_fn next_socket(void)
{
	socket_fn fn = __atomic_load_n(&real_socket, __ATOMIC_ACQUIRE);

	if (!fn) {
		fn = (socket_fn)dlsym(RTLD_NEXT, "socket");
		if (!fn) {
			static const char msg[] = "alttcpize: no socket() to wrap\n";

			say(msg, sizeof(msg) - 1);
			abort();
		}
		__atomic_store_n(&real_socket, fn, __ATOMIC_RELEASE);
	}
	return fn;
}

__attribute__((constructor))
static void alttcpize_init(void)
{
	next_socket();
}

static void warn_absent(int err)
{
	char msg[160];
	int len;

	/* Once per process, even when threads race here. */
	if (__atomic_exchange_n(&alttcp_absent, 1, __ATOMIC_ACQ_REL))
		return;
	len = snprintf(msg, sizeof(msg),
		       "alttcpize: alttcp unavailable (socket protocol %d: %s), using TCP\n",
		       IPPROTO_ALTTCP, strerror(err));
	if (len > 0)
		say(msg, (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1);
}

static int is_tcp4(int domain, int type, int protocol)
{
	return domain == AF_INET &&
	       (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP);
}

int socket(int domain, int type, int protocol)
{
	socket_fn fn = next_socket();
	int saved = errno, fd, err;

	if (!is_tcp4(domain, type, protocol) ||
	    __atomic_load_n(&alttcp_absent, __ATOMIC_ACQUIRE))
		return fn(domain, type, protocol);

	fd = fn(domain, type, IPPROTO_ALTTCP);
	if (fd >= 0)
		return fd;
	err = errno;
	if (err != EPROTONOSUPPORT && err != EINVAL)
		return -1;
	warn_absent(err);
	errno = saved;
	return fn(domain, type, protocol);
}
