/* conn_drive.h - runs one connection (tests/unit/connenv.h) over a socketpair for the fuzz
 * targets that feed a whole connection: the peer end writes a byte stream in pieces, one
 * piece per loop turn, reads and discards whatever the connection answers, and the loop turns
 * without waiting (a pipe made readable every turn) until the stream is written and the
 * connection has read all of it, or has stopped reading (it failed, is closing, or finished),
 * or a turn limit is reached. Uses only conn.h's functions. Header-only. */
#ifndef WS_CONN_DRIVE_H
#define WS_CONN_DRIVE_H

#include "../unit/connenv.h"
#include "net.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define DRIVE_MAX_TURNS  20000
#define DRIVE_IDLE_TURNS 8 /* turns without the connection reading that end the drive */

typedef struct drive {
	connenv *e;
	int peer;
	const uint8_t *stream;
	size_t len, off;
	size_t piece;    /* bytes written per turn */
	unsigned turns;  /* loop turns so far */
	unsigned idle;   /* turns, after the last write, in which the connection read nothing */
	uint32_t unsent; /* what the connection had not read at the last turn */
	size_t answered; /* bytes the connection wrote back */
	int kick[2];     /* a pipe kept readable so that the loop never waits */
	ws_io kick_io;
} drive;

static inline void drive_drain(drive *d)
{
	uint8_t sink[16384];
	ssize_t n;
	while ((n = recv(d->peer, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		d->answered += (size_t)n;
}

/* One turn's work; true when driving is over. */
static inline bool drive_turn(drive *d)
{
	drive_drain(d);
	if (d->e->n_live == 0)
		return true; /* finished: nothing reads any more */
	if (d->off < d->len) {
		size_t n = d->len - d->off < d->piece ? d->len - d->off : d->piece;
		ssize_t w = send(d->peer, d->stream + d->off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			d->off += (size_t)w;
		else if (w < 0 && errno != EAGAIN)
			return true;
	}
	if (d->off < d->len)
		return false;
	uint32_t unsent = ws_net_unsent(d->peer);
	if (unsent == 0)
		return true; /* everything written and read */
	/* A connection that failed or is closing stops reading and leaves the rest unread. */
	d->idle = unsent >= d->unsent ? d->idle + 1 : 0;
	d->unsent = unsent;
	return d->idle > DRIVE_IDLE_TURNS;
}

static void drive_prepare(ws_loop *loop, void *arg)
{
	drive *d = arg;
	connenv_flush(loop, d->e);
	if (drive_turn(d) || ++d->turns > DRIVE_MAX_TURNS)
		ws_loop_stop(loop);
	if (write(d->kick[1], "k", 1) < 0) {
		/* The pipe is full: it is readable anyway. */
	}
}

static void drive_check(ws_loop *loop, void *arg)
{
	connenv_free_dead(loop, ((drive *)arg)->e);
}

static void drive_kicked(ws_loop *loop, ws_io *io, unsigned events)
{
	(void)loop;
	(void)events;
	uint8_t sink[64];
	while (read(io->fd, sink, sizeof(sink)) > 0) {
	}
}

/* Feeds stream[0, len) to the connection from peer in pieces of `piece` bytes and turns the
 * loop until driving is over. Returns true when the whole stream was written and nothing of it
 * is left unread; false otherwise, also when the pipe could not be made or watched (nothing
 * is driven then). */
static inline bool drive_run(connenv *e, int peer, const uint8_t *stream, size_t len, size_t piece)
{
	drive d = {.e = e, .peer = peer, .stream = stream, .len = len, .piece = piece};
	if (pipe(d.kick) != 0)
		return false;
	for (int i = 0; i < 2; i++)
		fcntl(d.kick[i], F_SETFL, fcntl(d.kick[i], F_GETFL) | O_NONBLOCK);
	/* Without the pipe the loop could wait for ever: not driven then. */
	bool kicking = ws_loop_io_start(e->loop, &d.kick_io, d.kick[0], WS_IO_READ, drive_kicked) == 0;
	if (kicking) {
		ws_loop_set_hooks(e->loop, drive_prepare, drive_check, &d);
		ws_loop_run(e->loop);
		ws_loop_set_hooks(e->loop, connenv_flush, connenv_free_dead, e);
		ws_loop_io_stop(e->loop, &d.kick_io);
	}
	close(d.kick[0]);
	close(d.kick[1]);
	drive_drain(&d);
	return kicking && d.off == d.len && ws_net_unsent(peer) == 0;
}

#endif
