// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/alttcp: present in every network namespace, with its header;
 * the loss-recovery columns of a listener and of an idle connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/alttcp.h>

#include "kselftest_harness.h"
#include "netns_util.h"

#define PROC_CONNS "/proc/self/net/alttcp"

static const char *const columns[] = {
	"sl", "local_address", "remote_address", "state", "snd_una",
	"snd_nxt", "rcv_nxt", "snd_wnd", "rcv_wnd", "cwnd", "srtt_ms",
	"rto_ms", "retrans", "timer", "timer_ms", "tx_queue", "rx_queue",
	"uid", "inode", "ca_state", "ssthresh", "sacked_out", "lost_out",
	"retrans_out", "reordering",
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

/*
 * The loss-recovery columns (the last six) of the row with this local
 * address and state, joined by single spaces; empty when there is no
 * such row.
 */
static void recovery_cols(const char *local, const char *state,
			  char *out, size_t len)
{
	char line[512], *tok[ARRAY_SIZE(columns)], *t, *save;
	FILE *f = fopen(PROC_CONNS, "r");
	unsigned int n;

	snprintf(out, len, "%s", "");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		n = 0;
		for (t = strtok_r(line, "\n ", &save); t;
		     t = strtok_r(NULL, "\n ", &save)) {
			if (n == ARRAY_SIZE(tok))
				break;
			tok[n++] = t;
		}
		if (t || n != ARRAY_SIZE(tok) || strcmp(tok[1], local) ||
		    strcmp(tok[3], state))
			continue;
		snprintf(out, len, "%s %s %s %s %s %s", tok[n - 6],
			 tok[n - 5], tok[n - 4], tok[n - 3], tok[n - 2],
			 tok[n - 1]);
		break;
	}
	fclose(f);
}

/*
 * A listener has no loss-recovery state ("-", zeros); an idle connection
 * is open, with no ssthresh yet (-1), an empty scoreboard and the
 * namespace's tcp_reordering.
 */
TEST(recovery_columns)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char addr[32], got[128], want[128];
	socklen_t alen = sizeof(sin);
	int lsk, cli, srv, reord = 0;
	FILE *f;

	ASSERT_EQ(0, fresh_netns());
	f = fopen("/proc/sys/net/ipv4/tcp_reordering", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%d", &reord));
	fclose(f);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsk = socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP);
	ASSERT_LE(0, lsk);
	ASSERT_EQ(0, bind(lsk, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(lsk, 1));
	ASSERT_EQ(0, getsockname(lsk, (struct sockaddr *)&sin, &alen));
	cli = socket(AF_INET, SOCK_STREAM, IPPROTO_ALTTCP);
	ASSERT_LE(0, cli);
	ASSERT_EQ(0, connect(cli, (struct sockaddr *)&sin, sizeof(sin)));
	srv = accept(lsk, NULL, NULL);
	ASSERT_LE(0, srv);

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	recovery_cols(addr, "LISTEN", got, sizeof(got));
	EXPECT_STREQ("- 0 0 0 0 0", got);
	snprintf(want, sizeof(want), "open -1 0 0 0 %d", reord);
	recovery_cols(addr, "ESTABLISHED", got, sizeof(got));
	EXPECT_STREQ(want, got);
	alen = sizeof(sin);
	ASSERT_EQ(0, getsockname(cli, (struct sockaddr *)&sin, &alen));
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	recovery_cols(addr, "ESTABLISHED", got, sizeof(got));
	EXPECT_STREQ(want, got);
	close(srv);
	close(cli);
	close(lsk);
}

TEST_HARNESS_MAIN
