// SPDX-License-Identifier: GPL-2.0
/*
 * plugbatch - submit a batch of block I/Os in ONE submission and check that
 * every one of them completes.
 *
 * The kernel plugs a submission of three or more I/Os (io_submit() and
 * io_uring_enter() both start a blk_plug for more than two), so the bios
 * of one batch meet in the submitter's plug, merge there, and reach the
 * I/O scheduler together at unplug, where they may merge again. This is
 * the path of ufq issue 15 (a request merged at insert stranded the one
 * it merged into; discards merged at insert were not accounted).
 *
 * Usage:
 *   plugbatch [-u] [-s SEED] [-t SECONDS] [-V] [-v] [-n] DEVICE OP...
 *
 *   OP        op:offset:len, op one of
 *               w  O_DIRECT write; every 512-byte sector of the buffer is
 *                  filled with the 64-bit word 0x7566710000000000 | sector
 *               r  O_DIRECT read (checked against that pattern with -V)
 *               d  discard (io_uring only: IORING_OP_URING_CMD with
 *                  BLOCK_URING_CMD_DISCARD, Linux 6.12 and later)
 *             offset and len in bytes, with an optional k, m or g suffix
 *             (powers of 1024); both must be multiples of 512 (of the
 *             device's logical block size, in fact).
 *   -u        use io_uring (liburing) instead of Linux AIO (io_setup(2),
 *             io_submit(2) and io_getevents(2) through syscall(2))
 *   -s SEED   submit the ops in a random order drawn from SEED (the order
 *             used is printed); default: the order given
 *   -t SEC    wait at most SEC seconds for all completions (default 10)
 *   -V        verify the data of reads against the write pattern
 *   -v        print every completion with its latency
 *   -n        do not fork (see below)
 *
 * Exit status: 0 all ops completed successfully; 1 some op failed (error
 * or short transfer, or bad data with -V); 2 some op did not complete
 * within the timeout (each is named on stderr); 3 internal error; 64 usage.
 *
 * A process cannot exit while its AIO or io_uring requests are in flight:
 * the kernel waits for them, uninterruptibly. So that a test gets its
 * verdict even when requests are stranded, the I/O runs in a child
 * process and the parent exits with the child's verdict as soon as the
 * child has reached it, without waiting for the child to exit; the child
 * stays until its requests complete (other I/O to the device may release
 * them). -n does the I/O in the process itself.
 *
 * Examples (ufq issue 15):
 *   # the stranded request: 0, 8K, 4K; the third bio front-merges into
 *   # the second request in the plug, which merges into the first at insert
 *   plugbatch /dev/nullb0 w:0:4k w:8k:4k w:4k:4k
 *   plugbatch -u /dev/nullb0 w:0:4k w:8k:4k w:4k:4k
 *   # discards merged at insert (a device with several ranges per discard,
 *   # e.g. NVMe): d:0 and d:64k are split by the write in the plug, then
 *   # merge at insert
 *   plugbatch -u /dev/nvme0n1 d:0:4k w:1m:4k d:64k:4k
 *   # a chain of discard merges at insert (2-1-3 order, the write first in
 *   # q->last_merge, the reads keep the discards apart in the plug)
 *   plugbatch -u /dev/nvme0n1 w:1m:4k d:4k:4k r:2m:4k d:0:4k r:3m:4k d:8k:4k
 *   # four unrelated reads in one plug, for service_ns of completed()
 *   plugbatch -u /dev/nullb0 r:0:4k r:64k:4k r:128k:4k r:192k:4k
 *
 * Build: gcc -O2 -Wall -o plugbatch plugbatch.c -luring
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif

#define PATTERN_BASE 0x7566710000000000ULL
#define ALIGN 4096

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_TIMEOUT = 2, EXIT_INTERNAL = 3,
       EXIT_USAGE = 64 };

struct op {
	char kind;		/* 'w', 'r' or 'd' */
	uint64_t off, len;
	const char *text;	/* as given on the command line */
	int argno;		/* position on the command line, from 0 */
	void *buf;
	bool done;
	long long res;
	uint64_t submit_ns, done_ns;
};

static struct op *ops;
static int nr_ops;
static bool verbose, verify;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: plugbatch [-u] [-s SEED] [-t SECONDS] [-V] [-v] [-n] DEVICE op:offset:len...\n"
		"       op: w (write), r (read), d (discard, with -u); e.g. w:0:4k w:8k:4k w:4k:4k\n");
	exit(EXIT_USAGE);
}

static bool parse_size(const char *s, uint64_t *val)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K':
		v <<= 10; end++; break;
	case 'm': case 'M':
		v <<= 20; end++; break;
	case 'g': case 'G':
		v <<= 30; end++; break;
	}
	if (*end)
		return false;
	*val = v;
	return true;
}

static bool parse_op(const char *text, struct op *op)
{
	char buf[128], *off, *len;

	if (strlen(text) >= sizeof(buf))
		return false;
	strcpy(buf, text);
	off = strchr(buf, ':');
	if (!off)
		return false;
	*off++ = '\0';
	len = strchr(off, ':');
	if (!len)
		return false;
	*len++ = '\0';
	if (strlen(buf) != 1 || !strchr("wrd", buf[0]))
		return false;
	op->kind = buf[0];
	if (!parse_size(off, &op->off) || !parse_size(len, &op->len))
		return false;
	if (!op->len || op->off % 512 || op->len % 512)
		return false;
	op->text = text;
	return true;
}

static void fill_pattern(struct op *op)
{
	uint64_t *w = op->buf;
	uint64_t i, n = op->len / 8;

	for (i = 0; i < n; i++)
		w[i] = PATTERN_BASE | ((op->off / 512) + i / 64);
}

static bool check_pattern(struct op *op)
{
	uint64_t *w = op->buf;
	uint64_t i, n = op->len / 8;

	for (i = 0; i < n; i++) {
		uint64_t want = PATTERN_BASE | ((op->off / 512) + i / 64);

		if (w[i] != want) {
			fprintf(stderr,
				"bad data: %s (#%d): byte %" PRIu64 " (sector %" PRIu64 ") is %#" PRIx64 ", want %#" PRIx64 "\n",
				op->text, op->argno, i * 8, op->off / 512 + i / 64,
				w[i], want);
			return false;
		}
	}
	return true;
}

/* Record a completion; returns false for an unknown or repeated one. */
static bool complete_op(uint64_t idx, long long res)
{
	struct op *op;

	if (idx >= (uint64_t)nr_ops || ops[idx].done) {
		fprintf(stderr, "unexpected completion for op %" PRIu64 "\n", idx);
		return false;
	}
	op = &ops[idx];
	op->done = true;
	op->res = res;
	op->done_ns = now_ns();
	if (verbose)
		printf("completed %s (#%d): res %lld after %.1f us\n", op->text,
		       op->argno, res, (op->done_ns - op->submit_ns) / 1000.0);
	return true;
}

/* Linux AIO through raw system calls: libaio is not needed. */
static int run_aio(int fd, const int *order, int timeout_s)
{
	aio_context_t ctx = 0;
	struct iocb *cbs, **cbp;
	struct io_event *events;
	uint64_t deadline;
	int i, left, ret;

	for (i = 0; i < nr_ops; i++)
		if (ops[i].kind == 'd') {
			fprintf(stderr, "%s: discards need io_uring (-u)\n",
				ops[i].text);
			return EXIT_USAGE;
		}

	if (syscall(SYS_io_setup, nr_ops, &ctx) < 0) {
		perror("io_setup");
		return EXIT_INTERNAL;
	}
	cbs = calloc(nr_ops, sizeof(*cbs));
	cbp = calloc(nr_ops, sizeof(*cbp));
	events = calloc(nr_ops, sizeof(*events));
	if (!cbs || !cbp || !events)
		return EXIT_INTERNAL;

	for (i = 0; i < nr_ops; i++) {
		struct op *op = &ops[order[i]];
		struct iocb *cb = &cbs[i];

		cb->aio_data = order[i];
		cb->aio_fildes = fd;
		cb->aio_lio_opcode = op->kind == 'w' ? IOCB_CMD_PWRITE :
						       IOCB_CMD_PREAD;
		cb->aio_buf = (uintptr_t)op->buf;
		cb->aio_nbytes = op->len;
		cb->aio_offset = op->off;
		cbp[i] = cb;
	}

	for (i = 0; i < nr_ops; i++)
		ops[i].submit_ns = now_ns();
	/* ONE io_submit() for the whole batch. */
	ret = syscall(SYS_io_submit, ctx, (long)nr_ops, cbp);
	if (ret != nr_ops) {
		if (ret < 0)
			perror("io_submit");
		else
			fprintf(stderr, "io_submit submitted %d of %d\n", ret,
				nr_ops);
		/* The ones submitted are still waited for below. */
		if (ret < 0)
			return EXIT_INTERNAL;
		for (i = ret; i < nr_ops; i++) {
			ops[order[i]].done = true;
			ops[order[i]].res = -EAGAIN;
		}
	}

	left = ret;
	deadline = now_ns() + (uint64_t)timeout_s * 1000000000ULL;
	while (left > 0) {
		uint64_t now = now_ns();
		struct timespec ts;
		int n;

		if (now >= deadline)
			break;
		ts.tv_sec = (deadline - now) / 1000000000ULL;
		ts.tv_nsec = (deadline - now) % 1000000000ULL;
		n = syscall(SYS_io_getevents, ctx, 1L, (long)left, events, &ts);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("io_getevents");
			return EXIT_INTERNAL;
		}
		for (i = 0; i < n; i++)
			if (complete_op(events[i].data, events[i].res))
				left--;
	}
	/* Leave the context: io_destroy() would wait for stranded requests. */
	return EXIT_OK;
}

static int run_uring(int fd, const int *order, int timeout_s)
{
	struct io_uring ring;
	unsigned int entries = 1;
	uint64_t deadline;
	int i, left, ret;

	while (entries < (unsigned int)nr_ops)
		entries <<= 1;
	ret = io_uring_queue_init(entries, &ring, 0);
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return EXIT_INTERNAL;
	}

	for (i = 0; i < nr_ops; i++) {
		struct op *op = &ops[order[i]];
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		if (!sqe) {
			fprintf(stderr, "io_uring: no sqe\n");
			return EXIT_INTERNAL;
		}
		switch (op->kind) {
		case 'w':
			io_uring_prep_write(sqe, fd, op->buf, op->len, op->off);
			break;
		case 'r':
			io_uring_prep_read(sqe, fd, op->buf, op->len, op->off);
			break;
		case 'd':
			/* blkdev_uring_cmd(): start in addr, length in addr3. */
			memset(sqe, 0, sizeof(*sqe));
			sqe->opcode = IORING_OP_URING_CMD;
			sqe->fd = fd;
			sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
			sqe->addr = op->off;
			sqe->addr3 = op->len;
			break;
		}
		io_uring_sqe_set_data64(sqe, order[i]);
	}

	for (i = 0; i < nr_ops; i++)
		ops[i].submit_ns = now_ns();
	/* ONE io_uring_enter() for the whole batch. */
	ret = io_uring_submit(&ring);
	if (ret < 0) {
		fprintf(stderr, "io_uring_submit: %s\n", strerror(-ret));
		return EXIT_INTERNAL;
	}
	if (ret != nr_ops)
		fprintf(stderr, "io_uring_submit submitted %d of %d\n", ret,
			nr_ops);

	left = ret;
	deadline = now_ns() + (uint64_t)timeout_s * 1000000000ULL;
	while (left > 0) {
		uint64_t now = now_ns();
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;

		if (now >= deadline)
			break;
		ts.tv_sec = (deadline - now) / 1000000000ULL;
		ts.tv_nsec = (deadline - now) % 1000000000ULL;
		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (ret == -ETIME)
			break;
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			fprintf(stderr, "io_uring_wait_cqe: %s\n", strerror(-ret));
			return EXIT_INTERNAL;
		}
		if (complete_op(io_uring_cqe_get_data64(cqe), cqe->res))
			left--;
		io_uring_cqe_seen(&ring, cqe);
	}
	/* Leave the ring: tearing it down would wait for stranded requests. */
	return EXIT_OK;
}

static int verdict(void)
{
	int i, status = EXIT_OK, missing = 0;

	for (i = 0; i < nr_ops; i++) {
		struct op *op = &ops[i];

		if (!op->done) {
			fprintf(stderr, "NOT COMPLETED: %s (#%d)\n", op->text,
				op->argno);
			missing++;
			continue;
		}
		if (op->res < 0) {
			fprintf(stderr, "FAILED: %s (#%d): %s\n", op->text,
				op->argno, strerror(-op->res));
			if (status == EXIT_OK)
				status = EXIT_FAILED;
		} else if (op->kind != 'd' && (uint64_t)op->res != op->len) {
			fprintf(stderr, "SHORT: %s (#%d): %lld of %" PRIu64 " bytes\n",
				op->text, op->argno, op->res, op->len);
			if (status == EXIT_OK)
				status = EXIT_FAILED;
		} else if (verify && op->kind == 'r' && !check_pattern(op)) {
			if (status == EXIT_OK)
				status = EXIT_FAILED;
		}
	}
	if (missing) {
		fprintf(stderr, "%d of %d ops did not complete\n", missing, nr_ops);
		return EXIT_TIMEOUT;
	}
	if (status == EXIT_OK)
		printf("all %d ops completed\n", nr_ops);
	return status;
}

int main(int argc, char **argv)
{
	bool uring = false, fork_io = true, shuffle = false;
	int timeout_s = 10, c, i, fd, status, pipefd[2];
	unsigned int seed = 0;
	const char *dev;
	int *order;
	pid_t pid;

	while ((c = getopt(argc, argv, "us:t:Vvnh")) != -1) {
		switch (c) {
		case 'u':
			uring = true;
			break;
		case 's':
			shuffle = true;
			seed = strtoul(optarg, NULL, 0);
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0)
				usage();
			break;
		case 'V':
			verify = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'n':
			fork_io = false;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	dev = argv[optind++];
	nr_ops = argc - optind;
	ops = calloc(nr_ops, sizeof(*ops));
	order = calloc(nr_ops, sizeof(*order));
	if (!ops || !order)
		return EXIT_INTERNAL;
	for (i = 0; i < nr_ops; i++) {
		if (!parse_op(argv[optind + i], &ops[i])) {
			fprintf(stderr, "bad op '%s' (want op:offset:len, op w, r or d, multiples of 512)\n",
				argv[optind + i]);
			return EXIT_USAGE;
		}
		ops[i].argno = i;
		order[i] = i;
		if (ops[i].kind != 'd') {
			if (posix_memalign(&ops[i].buf, ALIGN, ops[i].len))
				return EXIT_INTERNAL;
			if (ops[i].kind == 'w')
				fill_pattern(&ops[i]);
			else
				memset(ops[i].buf, 0, ops[i].len);
		}
	}
	if (nr_ops < 3)
		fprintf(stderr, "note: fewer than 3 ops are not plugged by the kernel\n");

	if (shuffle) {
		srand(seed);
		for (i = nr_ops - 1; i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		printf("order (seed %u):", seed);
		for (i = 0; i < nr_ops; i++)
			printf(" %s", ops[order[i]].text);
		printf("\n");
	}

	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		perror(dev);
		return EXIT_INTERNAL;
	}

	if (!fork_io) {
		status = uring ? run_uring(fd, order, timeout_s) :
				 run_aio(fd, order, timeout_s);
		if (status == EXIT_OK)
			status = verdict();
		fflush(NULL);
		return status;
	}

	fflush(NULL);
	if (pipe(pipefd) < 0) {
		perror("pipe");
		return EXIT_INTERNAL;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return EXIT_INTERNAL;
	}
	if (pid == 0) {
		unsigned char code;

		close(pipefd[0]);
		status = uring ? run_uring(fd, order, timeout_s) :
				 run_aio(fd, order, timeout_s);
		if (status == EXIT_OK)
			status = verdict();
		fflush(NULL);
		code = status;
		if (write(pipefd[1], &code, 1) != 1)
			_exit(EXIT_INTERNAL);
		/* May block here until stranded requests complete. */
		_exit(status);
	}
	close(pipefd[1]);
	close(fd);
	for (;;) {
		unsigned char code;
		ssize_t n = read(pipefd[0], &code, 1);

		if (n == 1) {
			/* Reap the child if it is already gone, else leave it. */
			waitpid(pid, NULL, WNOHANG);
			return code;
		}
		if (n < 0 && errno == EINTR)
			continue;
		fprintf(stderr, "the I/O process died without a verdict\n");
		return EXIT_INTERNAL;
	}
}
