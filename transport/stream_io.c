/*
 * The stream's data path.
 *
 * Output: one linear buffer of framed bytes not yet written. The prefix is
 * queued first when the stream is made (stream_new), so it leads every
 * connection and is sent exactly once, inside TLS when TLS is used. Frames
 * are appended behind it (ESP up to the bulk limit, IKE into the reserve
 * too) and written as one send()/SSL_write() per burst; a short write
 * leaves the rest for EPOLLOUT. Nothing is allocated per frame.
 *
 * The bulk limit follows the drain rate (stream.h): every write burst
 * while a backlog lasts adds to a sample; a sample sets the rate, the rate
 * the limit. The buffer is one mapping of OUT_CAP bytes, of which the
 * bytes in use stay within the window (prefix, bulk limit, reserve): pages
 * beyond it are given back when the limit shrinks.
 *
 * Input: socket reads go straight into the deframer (the initiator expects
 * no prefix); stream_recv hands out bodies zero-copy.
 */
#include "transport/stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/stream_int.h"
#include "transport/tcpframe.h"
#include "util/log.h"

/* Pages past the window are given back only when at least this much is
 * resident there: no madvise for every small move of the limit. */
#define TRIM_SLACK	(64 * 1024)

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t (*strm_now_us)(void) = mono_us;

/* ---- the buffer and the bulk limit ---------------------------------------- */

int strm_out_map(struct stream *s)
{
	void *p = mmap(NULL, OUT_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	s->out = p;
	s->bulk_lim = STREAM_BULK_MAX;
	s->lim_logged = STREAM_BULK_MAX;
	return 0;
}

void strm_out_unmap(struct stream *s)
{
	if (s->out)
		munmap(s->out, OUT_CAP);
	s->out = NULL;
}

/* The part of the buffer the current limit uses: prefix, bulk (and the one
 * frame that may pass it), reserve. */
static size_t window(const struct stream *s)
{
	return TCPFRAME_PREFIX_LEN + s->bulk_lim + s->max_frame + STREAM_CTL_RESERVE;
}

/* Give back the pages past the window (and past what is queued). */
static void out_trim(struct stream *s)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t from = s->tail > window(s) ? s->tail : window(s);

	from = (from + pg - 1) / pg * pg;
	if (s->touched < from + TRIM_SLACK)
		return;
	if (madvise(s->out + from, s->touched - from, MADV_DONTNEED) == 0)
		s->touched = from;
}

static void set_rate(struct stream *s, uint64_t sample)
{
	uint64_t lim;

	s->rate = s->rate ? (3 * s->rate + sample) / 4 : sample;
	lim = s->rate * STREAM_BULK_DELAY_US / 1000000u;
	if (lim < STREAM_BULK_MIN)
		lim = STREAM_BULK_MIN;
	if (lim > STREAM_BULK_MAX)
		lim = STREAM_BULK_MAX;
	s->bulk_lim = (size_t)lim;
	if (s->bulk_lim >= 2 * s->lim_logged || 2 * s->bulk_lim <= s->lim_logged) {
		log_debug("stream %s: bulk limit %zu -> %zu KB (drain %llu KB/s)", s->where,
			  s->lim_logged / 1024, s->bulk_lim / 1024,
			  (unsigned long long)(s->rate / 1024));
		s->lim_logged = s->bulk_lim;
	}
	out_trim(s);
}

/*
 * A write burst is over: written bytes went out, and more waits (backlog)
 * or not. Only a backlog says how fast the path drains; what the socket
 * took before one began says only how fast we were fed.
 */
static void drained(struct stream *s, size_t written, bool backlog)
{
	uint64_t now, dt;

	if (!s->busy_t0) {
		if (backlog) {
			s->busy_t0 = strm_now_us();
			s->busy_bytes = 0;
		}
		return;
	}
	now = strm_now_us();
	s->busy_bytes += written;
	dt = now > s->busy_t0 ? now - s->busy_t0 : 0;
	if (backlog && dt < STREAM_RATE_SAMPLE_US)
		return;
	if (dt >= STREAM_RATE_MIN_US) {
		set_rate(s, s->busy_bytes * 1000000u / dt);
	} else {
		/* A backlog gone this fast: the rate is at least this much
		 * (a lower bound only, so it may only raise the estimate). */
		uint64_t lb = s->busy_bytes * 1000000u / STREAM_RATE_MIN_US;

		if (lb > s->rate)
			set_rate(s, lb);
	}
	s->busy_t0 = backlog ? now : 0;
	s->busy_bytes = 0;
}

size_t stream_bulk_limit(const struct stream *s) { return s->bulk_lim; }
uint64_t stream_drain_rate(const struct stream *s) { return s->rate; }

/* ---- output ------------------------------------------------------------- */

/* Write what is queued until done or the socket is full. */
int strm_flush(struct stream *s)
{
	size_t written = 0;
	char eb[80];

	while (strm_queued(s) > 0) {
		ssize_t n;

		if (s->tls) {
			n = tlsc_write(s->tls, s->out + s->head, strm_queued(s), &s->tx_want);
			if (n == TLSC_AGAIN) {
				drained(s, written, true);
				return 0;
			}
			if (n < 0) {
				strm_fail(s, "%s", tlsc_error(s->tls));
				return -1;
			}
		} else {
			n = send(s->fd, s->out + s->head, strm_queued(s), MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				s->tx_want = EPOLLOUT;
				drained(s, written, true);
				return 0;
			}
			if (n <= 0) {
				strm_fail(s, "tcp: write: %s", strm_errstr(errno, eb, sizeof(eb)));
				return -1;
			}
		}
		s->head += (size_t)n;
		written += (size_t)n;
	}
	s->head = s->tail = 0;
	s->tx_want = 0;
	drained(s, written, false);
	return 0;
}

/* After queueing: write now unless not up yet or waiting for the socket. */
static int kick(struct stream *s)
{
	if (s->st == ST_UP && s->tx_want == 0 && strm_flush(s) < 0) {
		errno = ENOTCONN;
		return -1;
	}
	return 0;
}

/* prio's limit was reached: write now if the socket may take some, so a
 * burst larger than the limit is written in pieces rather than cut.
 * 1 room was made, 0 none, -1 the stream closed. */
static int write_for_room(struct stream *s)
{
	size_t before = strm_queued(s);

	if (s->st != ST_UP || s->tx_want)
		return 0;
	if (strm_flush(s) < 0) {
		errno = ENOTCONN;
		return -1;
	}
	return strm_queued(s) < before;
}

/* How far prio may fill the queue for a next frame of need bytes. A bulk
 * frame is taken while less than the bulk limit is queued, so the limit may
 * be passed by about one frame (those behind it in a batch: while they fit
 * in need - 1 past it), and a frame larger than the limit still goes. */
static size_t limit(const struct stream *s, size_t need, enum stream_prio prio)
{
	size_t bulk = TCPFRAME_PREFIX_LEN + s->bulk_lim;

	if (prio == STREAM_CTL)
		return OUT_CAP;
	return strm_queued(s) < bulk ? bulk + need - 1 : 0;
}

/* Room for need more bytes under prio's limit, contiguous at the tail.
 * Bytes stay within the window: past it, the unwritten bytes move to the
 * front. Moving them is allowed mid-SSL_write
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) and happens at most once per
 * STREAM_CTL_RESERVE bytes written. Only IKE frames queued behind a full
 * bulk part may reach past the window (up to OUT_CAP). */
static size_t room(struct stream *s, size_t need, enum stream_prio prio)
{
	size_t lim = limit(s, need, prio);
	size_t avail = strm_queued(s) < lim ? lim - strm_queued(s) : 0;
	size_t want = need < avail ? need : avail;

	if (s->tail + want > window(s) && s->head > 0) {
		memmove(s->out, s->out + s->head, strm_queued(s));
		s->tail -= s->head;
		s->head = 0;
	}
	return avail < OUT_CAP - s->tail ? avail : OUT_CAP - s->tail;
}

static void queued(struct stream *s, size_t n)
{
	s->tail += n;
	if (s->tail > s->touched)
		s->touched = s->tail;
}

static bool body_ok(const struct stream *s, size_t len)
{
	return len >= TCPFRAME_MIN_BODY && len <= s->max_frame - TCPFRAME_HDR_LEN;
}

int stream_send(struct stream *s, const uint8_t *body, size_t len, enum stream_prio prio)
{
	size_t framed = TCPFRAME_HDR_LEN + len;
	struct wr w;
	int r;

	if (s->st == ST_CLOSED) {
		errno = ENOTCONN;
		return -1;
	}
	if (!body_ok(s, len)) {
		errno = EMSGSIZE;
		return -1;
	}
	while (room(s, framed, prio) < framed) {
		r = write_for_room(s);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = prio == STREAM_CTL ? ENOBUFS : EAGAIN;
			return -1;
		}
	}
	wr_init(&w, s->out + s->tail, framed);
	if (tcpframe_put(&w, body, len, s->max_frame) < 0) {
		errno = EMSGSIZE;	/* cannot happen: checked above */
		return -1;
	}
	queued(s, framed);
	if (kick(s) < 0)
		return -1;
	return 0;
}

int stream_send_batch(struct stream *s, const struct iovec *bodies, unsigned n)
{
	unsigned done = 0;
	int why = 0;

	if (s->st == ST_CLOSED) {
		errno = ENOTCONN;
		return -1;
	}
	while (done < n) {
		size_t first = TCPFRAME_HDR_LEN + bodies[done].iov_len;
		size_t avail = room(s, first, STREAM_BULK);
		size_t framed = 0;
		struct wr w;
		int r;

		wr_init(&w, s->out + s->tail, avail);
		r = tcpframe_put_batch(&w, bodies + done, n - done, s->max_frame, &framed);
		queued(s, wr_len(&w));
		done += (unsigned)framed;
		if (r < 0) {
			why = EMSGSIZE;
			break;
		}
		if (framed > 0)
			continue;
		r = write_for_room(s);
		if (r < 0)
			return -1;
		if (r == 0) {
			why = EAGAIN;
			break;
		}
	}
	if (kick(s) < 0)
		return -1;
	errno = why;	/* why the rest was refused, not what the write saw */
	return (int)done;
}

/* ---- input -------------------------------------------------------------- */

/* The peer ended the stream. RFC 9329 §6 ≈: "A peer MUST discard a
 * partially received message due to a broken connection." */
static void peer_closed(struct stream *s, const char *how)
{
	bool partial = tcpframe_rx_eof(&s->rx);

	strm_fail(s, "%s%s", how, partial ? " (partial frame discarded)" : "");
}

/* One socket read: >0 bytes in rbuf, 0 nothing now, -1 closed. */
static ssize_t rx_read(struct stream *s)
{
	uint32_t want = 0;
	char eb[80];
	ssize_t n;

	if (s->tls) {
		n = tlsc_read(s->tls, s->rbuf, sizeof(s->rbuf), &want);
		if (n == TLSC_AGAIN)
			s->rx_want_write = want == EPOLLOUT;
		else if (n == TLSC_EOF)
			peer_closed(s, tlsc_error(s->tls));
		else if (n < 0)
			strm_fail(s, "%s", tlsc_error(s->tls));
		return n == TLSC_EOF ? -1 : n;
	}
	do
		n = recv(s->fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == 0) {
		peer_closed(s, "tcp: connection closed by peer");
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	strm_fail(s, "tcp: read: %s", strm_errstr(errno, eb, sizeof(eb)));
	return -1;
}

static void framing_error(struct stream *s)
{
	/* RFC 9329 §6.1 ≈: "If either initiator or responder receives a
	 * stream that cannot be parsed correctly, it MUST close the TCP
	 * connection." */
	strm_fail(s, "framing error from peer: %s", tcpframe_err_str(tcpframe_rx_error(&s->rx)));
}

int stream_recv(struct stream *s, const uint8_t **body, size_t *len)
{
	for (;;) {
		ssize_t n;
		int r;

		if (s->st != ST_UP)
			return s->st == ST_CLOSED ? -1 : 0;
		r = tcpframe_rx_next(&s->rx, body, len);
		if (r > 0)
			return 1;
		if (r < 0) {
			framing_error(s);
			return -1;
		}
		if (s->rx_budget == 0 || s->rx_want_write)
			return 0;
		s->rx_budget--;
		n = rx_read(s);
		if (n < 0)
			return -1;
		if (n == 0) {
			s->rx_budget = 0;
			return 0;
		}
		if (tcpframe_rx_feed(&s->rx, s->rbuf, (size_t)n) < 0) {
			framing_error(s);
			return -1;
		}
	}
}
