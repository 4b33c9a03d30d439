/* harness.h - test support for the integration suites: start real
 * mqnamesrv / mqbroker processes on free loopback ports in the test's
 * temporary directory, wait for their boot line, stop exactly the PIDs
 * started and check how they ended; a thin layer over the shared blocking
 * remoting client (rmq_sync_client) for talking to them.
 *
 * Stopping is checked: a server stopped with SIGTERM must exit 0, one
 * stopped with SIGKILL must die of that SIGKILL, and its log must hold no
 * sanitizer report; otherwise the test fails (also from a .fini). A server
 * that exits on its own while the test runs fails the test when it is
 * stopped, unless the test collected it with th_proc_wait_exit. Test main
 * thread only. */
#ifndef COMET_TEST_HARNESS_H
#define COMET_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rmq_cmd.h"
#include "rmq_sync_client.h"
#include "test_support.h"

typedef struct th_proc_s {
    pid_t pid; /* 0 when not running */
    int port;
    int status;     /* wait status once reaped */
    bool reaped;    /* exited and collected, not by th_proc_stop / th_proc_wait_exit */
    char name[32];  /* "mqbroker", ... for messages */
    char dir[256];  /* working / store directory (kept when the test fails) */
    char log[320];  /* stdout+stderr of the process */
    char conf[320]; /* generated configuration file */
} th_proc_t;

/* A TCP port P on 127.0.0.1 such that P-2 .. P+1 were all free a moment ago
 * (a broker uses P-2 for its VIP channel and P+1 for HA), chosen at random
 * below the ephemeral range so outgoing connections do not take it. */
int th_free_port(void);
/* Path of a built binary ("mqnamesrv", "mqbroker", ...). */
const char *th_bin(const char *name, char *out, size_t n);

/* Spawn exe with argv (argv[0] included, NULL-terminated) in p->dir, output
 * to p->log (an existing log from an earlier run is renamed to <log>.N), and
 * wait up to timeout_ms for `boot_line` in the log. On failure the reason and
 * the log's tail are printed to stderr and the process, if still running,
 * is killed. */
bool th_proc_spawn(th_proc_t *p, const char *exe, char *const argv[], const char *boot_line, int timeout_ms);
/* Send sig (SIGTERM or SIGKILL) to p->pid only, wait (bounded) for it to
 * exit, and check the exit: see the header comment. Returns whether it
 * ended as expected (a failure is also reported with cr_expect). */
bool th_proc_stop(th_proc_t *p, int sig);
/* Wait up to timeout_ms for the process to exit by itself; its wait status
 * goes to *status. False if it is still running. */
bool th_proc_wait_exit(th_proc_t *p, int timeout_ms, int *status);
bool th_proc_alive(th_proc_t *p);
/* Wait until `text` appears in the process log (bounded). */
bool th_log_contains(const th_proc_t *p, const char *text, int timeout_ms);
/* Whether the log holds a sanitizer report (the first line into why). */
bool th_log_has_sanitizer_report(const char *log, char *why, size_t n);

/* qsort comparator for an array of C strings (char * or const char *). */
int th_cmp_str(const void *a, const void *b);

/* Run a shell command (stderr joined to stdout), its output into out (NUL
 * terminated, truncated to n - 1). Returns its exit status, or -1 when it
 * died of a signal. */
int th_run(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mqnamesrv on a free port in a new temp dir; extra_conf is appended to the
 * generated properties file (may be NULL). */
bool th_namesrv_start(th_proc_t *p, const char *extra_conf);
/* Start it again (same directory, port and configuration). */
bool th_namesrv_restart(th_proc_t *p);

/* The blocking client (rmq_sync_client) with bool results for assertions. */
typedef rmq_sync_client_t th_client_t;

bool th_connect(th_client_t *c, int port);
void th_close(th_client_t *c);
bool th_send_raw(th_client_t *c, const void *p, size_t n);
/* Send a request (opaque assigned) and wait for its response; frames that
 * are not the response (server-initiated requests) are skipped. */
bool th_call(th_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp, int timeout_ms);
/* Send oneway (no response awaited). */
bool th_oneway(th_client_t *c, rmq_cmd_t *req);
/* Read the next frame of any kind. */
bool th_read_frame(th_client_t *c, rmq_cmd_t *out, int timeout_ms);
/* True when the peer closed the connection within timeout_ms. */
bool th_wait_closed(th_client_t *c, int timeout_ms);

#endif
