/*
 * The stream's data path.
 *
 * Output: one linear buffer of framed bytes not yet written. The prefix is
 * queued first when the stream is made (stream_new), so it leads every
 * connection and is sent exactly once, inside TLS when TLS is used. Frames
 * are appended behind it (ESP up to STREAM_BULK_MAX, IKE into the reserve
 * too) and written as one send()/SSL_write() per burst; a short write
 * leaves the rest for EPOLLOUT. Nothing is allocated per frame.
 *
 * Input: socket reads go straight into the deframer (the initiator expects
 * no prefix); stream_recv hands out bodies zero-copy.
 */
#include "transport/stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "transport/stream_int.h"
#include "transport/tcpframe.h"

/* ---- output ------------------------------------------------------------- */

/* Write what is queued until done or the socket is full. */
int strm_flush(struct stream *s)
{
	char eb[80];

	while (strm_queued(s) > 0) {
		ssize_t n;

		if (s->tls) {
			n = tlsc_write(s->tls, s->out + s->head, strm_queued(s), &s->tx_want);
			if (n == TLSC_AGAIN)
				return 0;
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
				return 0;
			}
			if (n <= 0) {
				strm_fail(s, "tcp: write: %s", strm_errstr(errno, eb, sizeof(eb)));
				return -1;
			}
		}
		s->head += (size_t)n;
	}
	s->head = s->tail = 0;
	s->tx_want = 0;
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

static size_t limit(enum stream_prio prio)
{
	return prio == STREAM_CTL ? OUT_CAP : TCPFRAME_PREFIX_LEN + STREAM_BULK_MAX;
}

/* Room for need more bytes under prio's limit, contiguous at the tail.
 * Moving the unwritten bytes is allowed mid-SSL_write
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) and happens at most once per
 * STREAM_CTL_RESERVE bytes written, as the tail only nears OUT_CAP then. */
static size_t room(struct stream *s, size_t need, enum stream_prio prio)
{
	size_t lim = limit(prio);
	size_t avail = strm_queued(s) < lim ? lim - strm_queued(s) : 0;

	if (OUT_CAP - s->tail < (need < avail ? need : avail) && s->head > 0) {
		memmove(s->out, s->out + s->head, strm_queued(s));
		s->tail -= s->head;
		s->head = 0;
	}
	return avail < OUT_CAP - s->tail ? avail : OUT_CAP - s->tail;
}

static bool body_ok(const struct stream *s, size_t len)
{
	return len >= TCPFRAME_MIN_BODY && len <= s->max_frame - TCPFRAME_HDR_LEN;
}

int stream_send(struct stream *s, const uint8_t *body, size_t len, enum stream_prio prio)
{
	size_t framed = TCPFRAME_HDR_LEN + len;
	struct wr w;

	if (s->st == ST_CLOSED) {
		errno = ENOTCONN;
		return -1;
	}
	if (!body_ok(s, len)) {
		errno = EMSGSIZE;
		return -1;
	}
	if (room(s, framed, prio) < framed) {
		errno = prio == STREAM_CTL ? ENOBUFS : EAGAIN;
		return -1;
	}
	wr_init(&w, s->out + s->tail, framed);
	if (tcpframe_put(&w, body, len, s->max_frame) < 0) {
		errno = EMSGSIZE;	/* cannot happen: checked above */
		return -1;
	}
	s->tail += framed;
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
		s->tail += wr_len(&w);
		done += (unsigned)framed;
		if (r < 0 || framed == 0) {
			why = r < 0 ? EMSGSIZE : EAGAIN;
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
