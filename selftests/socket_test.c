// SPDX-License-Identifier: GPL-2.0
/*
 * socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP) creation and its identity.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/alttcp.h>

#include "kselftest_harness.h"

static int sockopt_int(int fd, int opt)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len))
		return -errno;
	return v;
}

TEST(create_reports_identity)
{
	int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP);

	ASSERT_LE(0, fd) TH_LOG("socket: %s", strerror(errno));
	EXPECT_EQ(IPPROTO_ALTTCP, sockopt_int(fd, SO_PROTOCOL));
	EXPECT_EQ(SOCK_STREAM, sockopt_int(fd, SO_TYPE));
	EXPECT_EQ(AF_INET, sockopt_int(fd, SO_DOMAIN));
	EXPECT_EQ(0, close(fd));
}

TEST(create_many_at_once)
{
	enum { N = 1000 };
	static int fds[N];
	int i;

	for (i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP);
		ASSERT_LE(0, fds[i]) TH_LOG("socket %d: %s", i, strerror(errno));
	}
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, close(fds[i]));
}

TEST(type_flags_apply)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			IPPROTO_ALTTCP);

	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/* Only SOCK_STREAM is registered: Linux answers other types so. */
TEST(datagram_type_not_supported)
{
	int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ALTTCP);

	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EPROTONOSUPPORT, errno);
	if (fd >= 0)
		close(fd);
}

/* Plain TCP sockets still come from Linux's TCP. */
TEST(plain_tcp_untouched)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(IPPROTO_TCP, sockopt_int(fd, SO_PROTOCOL));
	close(fd);
}

TEST_HARNESS_MAIN
