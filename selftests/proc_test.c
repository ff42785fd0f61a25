// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/alttcp: present in every network namespace, with its header.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/alttcp.h>

#include "kselftest_harness.h"

#define PROC_CONNS "/proc/self/net/alttcp"

static const char *const columns[] = {
	"sl", "local_address", "remote_address", "state", "snd_una",
	"snd_nxt", "rcv_nxt", "snd_wnd", "rcv_wnd", "cwnd", "srtt_ms",
	"rto_ms", "retrans", "timer", "timer_ms", "tx_queue", "rx_queue",
	"uid", "inode",
};

/* Reads the header line; returns the number of lines in the file. */
static int read_conns(char *hdr, size_t len)
{
	char line[512];
	FILE *f = fopen(PROC_CONNS, "r");
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (n++ == 0)
			snprintf(hdr, len, "%s", line);
	}
	fclose(f);
	return n;
}

TEST(header_has_documented_columns)
{
	char hdr[512], *tok, *save;
	unsigned int i = 0;

	ASSERT_LE(1, read_conns(hdr, sizeof(hdr)));
	for (tok = strtok_r(hdr, "\n ", &save); tok;
	     tok = strtok_r(NULL, "\n ", &save), i++) {
		ASSERT_LT(i, ARRAY_SIZE(columns));
		EXPECT_STREQ(columns[i], tok);
	}
	EXPECT_EQ(ARRAY_SIZE(columns), i);
}

TEST(unconnected_socket_not_listed)
{
	char hdr[512];
	int before, fd;

	before = read_conns(hdr, sizeof(hdr));
	fd = socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP);
	ASSERT_LE(0, fd);
	EXPECT_EQ(before, read_conns(hdr, sizeof(hdr)));
	close(fd);
}

TEST(read_only)
{
	int fd = open(PROC_CONNS, O_WRONLY);

	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);
}

/*
 * A new network namespace has its own /proc/net/alttcp: a different proc
 * entry (inode), with the header, and sockets work there.
 */
TEST(own_entry_per_netns)
{
	struct stat outer, inner;
	int status, pipefd[2];
	pid_t pid;

	ASSERT_EQ(0, stat(PROC_CONNS, &outer));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char hdr[512];
		int fd, ok;

		if (unshare(CLONE_NEWNET))
			_exit(2);
		if (stat(PROC_CONNS, &inner))
			_exit(3);
		if (write(pipefd[1], &inner, sizeof(inner)) != sizeof(inner))
			_exit(4);
		ok = read_conns(hdr, sizeof(hdr)) == 1 &&
		     !strncmp(hdr, "    sl local_address", 20);
		fd = socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP);
		_exit(ok && fd >= 0 ? 0 : 5);
	}
	ASSERT_EQ((ssize_t)sizeof(inner),
		  read(pipefd[0], &inner, sizeof(inner)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_NE(outer.st_ino, inner.st_ino);
}

TEST_HARNESS_MAIN
