/* harness.h - test support: start real mqnamesrv / mqbroker processes on free
 * loopback ports in temporary directories, wait for their boot line, stop
 * exactly the PIDs started; and a small blocking remoting client for tests.
 * Used by the integration suites (one process per Criterion test). */
#ifndef COMET_TEST_HARNESS_H
#define COMET_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rmq_cmd.h"

typedef struct th_proc_s {
    pid_t pid;
    int port;
    char dir[256];  /* working / store directory (kept for post-mortem when a test fails) */
    char log[320];  /* stdout+stderr of the process */
    char conf[320]; /* generated configuration file */
} th_proc_t;

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int th_free_port(void);
/* mkdtemp under $TMPDIR (or /tmp) with the given prefix; returns false on failure. */
bool th_tmpdir(char *out, size_t n, const char *prefix);
/* Path of a built binary ("mqnamesrv", "mqbroker", ...). */
const char *th_bin(const char *name, char *out, size_t n);

/* Spawn exe with argv (argv[0] included, NULL-terminated), output to p->log
 * (an existing log from an earlier run is renamed to <log>.N), and wait up to timeout_ms for `boot_line` to appear in the log. */
bool th_proc_spawn(th_proc_t *p, const char *exe, char *const argv[], const char *boot_line, int timeout_ms);
/* Send sig to p->pid (only that PID) and reap it (SIGKILL after 5 s). */
void th_proc_stop(th_proc_t *p, int sig);
bool th_proc_alive(th_proc_t *p);
/* Wait until `text` appears in the process log (bounded). */
bool th_log_contains(const th_proc_t *p, const char *text, int timeout_ms);

/* mqnamesrv on a free port in a new temp dir; extra_conf is appended to the
 * generated properties file (may be NULL). */
bool th_namesrv_start(th_proc_t *p, const char *extra_conf);

/* Blocking remoting client. */
typedef struct th_client_s {
    int fd;
    int32_t next_opaque;
} th_client_t;

bool th_connect(th_client_t *c, int port);
void th_close(th_client_t *c);
/* Write raw bytes. */
bool th_send_raw(th_client_t *c, const void *p, size_t n);
/* Send a request in its own serialization (opaque assigned) and wait for its response; frames that are
 * not the response (server-initiated requests) are skipped. */
bool th_call(th_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp, int timeout_ms);
/* Send oneway (no response awaited). */
bool th_oneway(th_client_t *c, rmq_cmd_t *req);
/* Read the next frame of any kind. */
bool th_read_frame(th_client_t *c, rmq_cmd_t *out, int timeout_ms);
/* True when the peer closed the connection within timeout_ms. */
bool th_wait_closed(th_client_t *c, int timeout_ms);

#endif
