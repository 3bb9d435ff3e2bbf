/*
 * The ikeagent child of nm-ikeagent-service: started with its secrets on a
 * pipe, its stderr read line by line into our log (the last line kept for
 * the failure message), stopped with SIGTERM and, after a deadline, SIGKILL.
 */
#ifndef IKEAGENT_NM_CHILD_H
#define IKEAGENT_NM_CHILD_H

#include <glib.h>

typedef struct NmChild NmChild;

/* Called once when ikeagent has exited and its stderr is read to the end. */
typedef void (*NmChildExit)(NmChild *child, int wait_status, gpointer user_data);

/*
 * Runs BIN run -c CONF --socket SOCK --network report --secrets-fd 3 with
 * secrets (len bytes) readable on fd 3. BIN is $IKEAGENT_BIN or the
 * compiled-in IKEAGENT_SBIN.
 */
NmChild *nm_child_start(const char *conf, const char *sock, const char *secrets, gsize len,
			NmChildExit on_exit, gpointer user_data, GError **error);

/* SIGTERM now, SIGKILL if it is still there after timeout_ms. */
void nm_child_stop(NmChild *child, guint timeout_ms);

/*
 * For the process exit: stops the child if needed and waits for it here,
 * without the main loop (SIGKILL after timeout_ms). Frees child; on_exit is
 * not called.
 */
void nm_child_reap_sync(NmChild *child, guint timeout_ms);

/* Frees an exited child (after on_exit). */
void nm_child_free(NmChild *child);

GPid nm_child_pid(const NmChild *child);
/* The last non-empty line ikeagent wrote to stderr, or "" */
const char *nm_child_last_line(const NmChild *child);
/* The ikeagent binary this service runs. */
const char *nm_child_binary(void);

#endif
