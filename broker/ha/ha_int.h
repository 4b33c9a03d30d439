/* ha_int.h - private structures of the HA service (broker/ha/ only). */
#ifndef RMQ_HA_INT_H
#define RMQ_HA_INT_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ha/ha.h"
#include "ha/ha_frame.h"
#include "rmq_map.h"
#include "rmq_mailbox.h"
#include "rmq_service.h"
#include "status_pairs.h"

/* ---------------------------------------------------------- HA thread */

/* Encoded frames shared by several connections (a metadata broadcast). */
typedef struct ha_blob_s {
    _Atomic int refs;
    int64_t log_offset; /* send only once Data up to here went out */
    size_t len;
    uint8_t data[];
} ha_blob_t;

typedef struct ha_pending_s {
    ha_blob_t *blob;
    STAILQ_ENTRY(ha_pending_s) link;
} ha_pending_t;

typedef enum { CONN_HELLO = 0, CONN_STREAMING, CONN_CLOSING } conn_state_t;

/* A slave connected to this master. */
typedef struct ha_conn_s {
    struct ha_conn_s *next;
    rmq_ha_t *ha;
    uint64_t id;
    struct bufferevent *bev;
    char peer[64];
    conn_state_t state;
    int64_t slave_id;
    char slave_addr[128];
    int64_t next_offset;    /* next commit-log byte to send */
    int64_t acked, flushed; /* from the slave's Acks */
    int64_t connected_mono, last_read_mono, last_send_mono;
    STAILQ_HEAD(, ha_pending_s) meta; /* metadata waiting for its log offset, oldest first */
} ha_conn_t;

typedef enum { LINK_IDLE = 0, LINK_CONNECTING, LINK_HELLO, LINK_STREAMING } link_state_t;

/* A slave's connection to its master. */
typedef struct ha_link_s {
    rmq_ha_t *ha;
    struct bufferevent *bev;
    link_state_t state;
    char addr[256]; /* master HA address in use */
    int backoff_ms;
    struct event *ev_retry;
    int64_t last_read_mono, last_ack_mono, connected_mono;
    int64_t master_epoch;
    rmq_epoch_entry_t *master_epochs;
    size_t n_master_epochs;
    size_t epochs_kept; /* how many of master_epochs the store's list holds */
    int64_t master_end; /* from the last Data / Heartbeat */
    int64_t acked;      /* last written offset reported */
    bool ack_due;
    int64_t catchup_from, catchup_to; /* this log's end / the master's at Welcome */
    uint64_t session;                 /* bumped per connection: stale posts are ignored */
} ha_link_t;

#define RMQ_HA_MAX_IDS 64 /* controller mode: replica ids 1..63 */

struct rmq_ha_s {
    rmq_broker_t *b;
    rmq_store_t *store;
    _Atomic bool master; /* changes at run time in controller mode (HA thread) */
    bool sync_master;
    bool controlled; /* enableControllerMode: roles come from broker/controller */

    /* settings (copied at new; read-only afterwards) */
    char cluster[128], broker_name[128], broker_addr[128];
    int64_t broker_id;
    int32_t listen_port;
    char listen_host[64];
    size_t batch;
    int64_t fallbehind;
    int64_t heartbeat_ms, housekeeping_ms, slave_timeout_ms;
    char ha_master_conf[256]; /* haMasterAddress; "" = learn it */
    int64_t segment_size;
    struct rmq_tls_s *tls; /* haTlsEnable: master = server context, slave = client context */

    /* HA thread */
    struct event_base *base;
    rmq_mailbox_t *mbox;
    rmq_service_t *svc;
    struct evconnlistener *listener;
    struct event *ev_data, *ev_tick;
    _Atomic bool data_wanted; /* a connection waits for new commit-log data */
    ha_conn_t *conns;
    uint64_t next_conn_id;
    ha_link_t link;
    int64_t epoch;
    rmq_epoch_entry_t *epochs;
    size_t n_epochs;
    bool stopping;

    /* shared with the I/O thread */
    _Atomic int64_t acked_max; /* newest offset acknowledged by a slave in sync */
    _Atomic int ready_slaves;  /* slaves past their handshake */
    _Atomic bool progress_posted;
    _Atomic uint64_t slaves_gone_gen; /* bumped when the last slave left */
    rmq_status_pairs_t status;        /* runtime info, rebuilt by the HA thread */

    /* I/O thread */
    STAILQ_HEAD(, ha_waiter_s) waiters; /* writes waiting for slaves, oldest first */
    size_t n_waiters;
    struct event *ev_wait_timer;
    uint64_t seen_gone_gen;
    struct ha_stage_s *stage; /* metadata parts being received (slave) */
    rmq_map_t local_offsets;  /* slave: "topic@group" -> commits taken without a master */
    char master_ha_addr[256]; /* slave: learnt from the name servers */

    /* controller mode (ha_ctrl.c) */
    int64_t min_epoch;                         /* HA thread: a master below is refused */
    _Atomic int64_t fence_until;               /* CLOCK_BOOTTIME ms: acknowledge before */
    _Atomic int64_t fence_refusals;            /* answers refused or withheld past fence_until */
    _Atomic int64_t id_acked[RMQ_HA_MAX_IDS];  /* HA thread: per replica id, acked end; -1 not streaming */
    _Atomic int64_t id_add_hw[RMQ_HA_MAX_IDS]; /* I/O thread: -1, or the log end when the id became needed */
    uint64_t need;                             /* I/O thread: ids every SYNC_MASTER write waits for */
    int isr_size, min_isr;                     /* I/O thread */
};

/* ha_service.c */
/* Run fn(arg) on the broker's I/O thread. @thread any */
void rmq_ha_post_io(rmq_ha_t *ha, rmq_job_fn *fn, void *arg);
/* HA thread helpers */
int64_t rmq_ha_mono_ms(void);
void rmq_ha_send(struct bufferevent *bev, const rmq_ha_frame_t *f);
/* A Hello naming this broker (cluster, name, address, segment size) as
 * role/broker_id; the caller adds the offsets and epochs a slave reports. */
void rmq_ha_hello_init(rmq_ha_t *ha, Comet__Ha__Hello *h, Comet__Ha__Role role, int64_t broker_id);
/* Send a Refusal, log one line naming the reason, flush and close. */
void rmq_ha_refuse_bev(rmq_ha_t *ha, struct bufferevent *bev, const char *peer, int reason, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
void rmq_ha_refuse_bev_v(rmq_ha_t *ha, struct bufferevent *bev, const char *peer, int reason, const char *fmt,
                         va_list ap) __attribute__((format(printf, 5, 0)));

/* Read whole frames from bev's input and hand each to fn (which owns the
 * frame and returns false once it closed the connection). Returns 1 when
 * everything complete was read, 0 when fn closed, -1 on a frame that is too
 * long or does not decode (after bad(ctx, why), which refuses the peer). */
typedef bool ha_frame_fn(void *ctx, rmq_ha_frame_t *f);
typedef void ha_bad_frame_fn(void *ctx, const char *why);
int rmq_ha_read_frames(struct bufferevent *bev, ha_frame_fn *fn, ha_bad_frame_fn *bad, void *ctx);
/* Whether f is the frame a handshake waits for (case want, named
 * want_name); when it is not, the peer is refused through bad(ctx, why). */
bool rmq_ha_expect_frame(const rmq_ha_frame_t *f, int want, const char *want_name, ha_bad_frame_fn *bad,
                         void *ctx);
void rmq_ha_publish_status(rmq_ha_t *ha);
ha_blob_t *rmq_ha_blob_new(const rmq_buf_t *frames, int64_t log_offset);
void rmq_ha_blob_unref(ha_blob_t *b);
/* The jobs between the HA thread and the broker's I/O thread (which owns the
 * metadata tables) carry the HA, an id (a connection, a link session, or 0)
 * and one pointer. */
typedef void ha_job_fn(rmq_ha_t *ha, uint64_t id, void *data);
/* Run fn(ha, id, data) on the broker's I/O thread. @thread HA */
void rmq_ha_io_job(rmq_ha_t *ha, ha_job_fn *fn, uint64_t id, void *data);
/* Apply a Metadata frame from the peer (rmq_ha_meta_apply) on the I/O
 * thread; it owns f. @thread HA */
void rmq_ha_apply_on_io(rmq_ha_t *ha, rmq_ha_frame_t *f);
/* Wrap `frames` in a blob and run fn(ha, id, blob) on the HA thread, which
 * owns the blob from then on. @thread io */
typedef void ha_blob_fn(rmq_ha_t *ha, uint64_t id, ha_blob_t *blob);
void rmq_ha_post_blob(rmq_ha_t *ha, ha_blob_fn *fn, uint64_t id, const rmq_buf_t *frames, int64_t log_offset);
rmq_err_t rmq_ha_parse_addr(const char *addr, struct sockaddr_storage *ss, int *len);

/* ha_probe.c (main thread, start-up): another live master of this group
 * refuses this one; RMQ_ERR__STATE with the reason in errstr. */
rmq_err_t rmq_ha_probe_other_master(rmq_ha_t *ha, char *errstr, size_t n);

/* ha_master.c (HA thread) */
rmq_err_t rmq_ha_master_listen(rmq_ha_t *ha, char *errstr, size_t n);
void rmq_ha_master_pump_all(rmq_ha_t *ha);
void rmq_ha_master_tick(rmq_ha_t *ha);
void rmq_ha_master_close_all(rmq_ha_t *ha);
/* Queue encoded metadata frames for one connection (id) or all (id 0). */
void rmq_ha_master_queue_meta(rmq_ha_t *ha, uint64_t conn_id, ha_blob_t *blob);
void rmq_ha_master_status(rmq_ha_t *ha, rmq_buf_t *o);

/* ha_slave.c (HA thread) */
void rmq_ha_slave_set_addr(rmq_ha_t *ha, const char *addr);
void rmq_ha_slave_tick(rmq_ha_t *ha);
void rmq_ha_slave_close(rmq_ha_t *ha);
void rmq_ha_slave_send_frames(rmq_ha_t *ha, uint64_t session, ha_blob_t *blob);
void rmq_ha_slave_status(rmq_ha_t *ha, rmq_buf_t *o);

/* ha_ctrl.c */
int64_t rmq_ha_boot_ms(void);
/* HA thread: a streaming slave's acknowledged end (-1: gone). */
void rmq_ha_ctrl_acked(rmq_ha_t *ha, int64_t id, int64_t acked);

/* ha_sync.c (I/O thread) */
void rmq_ha_sync_init(rmq_ha_t *ha);
/* Answer every waiter covered by acked_max; all of them with status when
 * all_status != PUT_OK (slaves gone, shutdown). */
void rmq_ha_sync_complete(rmq_ha_t *ha, rmq_put_status_t all_status);
void rmq_ha_sync_deinit(rmq_ha_t *ha);
/* @thread HA: a slave's acknowledged offset or the set of slaves changed. */
void rmq_ha_sync_notify(rmq_ha_t *ha);

/* ha_meta.c (I/O thread) */
/* Metadata parts are cut at about this many bytes (RMQ_HA_META_PART_BYTES;
 * unit tests lower it to get parts from small tables). */
extern size_t rmq_ha_meta_part_bytes;
/* Encode a table as Metadata frames (parts as needed) into out. */
void rmq_ha_meta_encode(rmq_ha_t *ha, rmq_ha_meta_kind_t kind, rmq_buf_t *out, int64_t *log_offset);
/* Every table, for a slave that just connected. */
void rmq_ha_meta_encode_all(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset);
/* Apply one received Metadata message (takes ownership of f). */
void rmq_ha_meta_apply(rmq_ha_t *ha, rmq_ha_frame_t *f);
/* Slave: the offsets it took without a master, as one OFFSET_CHANGES frame
 * (nothing when there are none). */
void rmq_ha_meta_encode_local(rmq_ha_t *ha, rmq_buf_t *out);
void rmq_ha_meta_init(rmq_ha_t *ha);
void rmq_ha_meta_deinit(rmq_ha_t *ha);

#endif
