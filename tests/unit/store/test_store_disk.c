/* test_store_disk.c - disk-full behaviour: writes refused with
 * SERVICE_NOT_AVAILABLE, reads still served, nothing corrupted, writes
 * resume when space returns. Runs on a small tmpfs when mounting is
 * possible (root), and always with a configured tiny quota. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>

#include "rmq_time.h"
#include "store_test_util.h"

static void check_all(rmq_store_t *s, const char *topic, int64_t n)
{
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, topic, 0), n);
    int64_t off = rmq_store_get_min_offset_in_queue(s, topic, 0);
    int64_t seen = 0;
    while (off < n) {
        rmq_get_result_t g;
        cr_assert_eq(rmq_store_get_message(s, topic, 0, off, 32, NULL, 0, &g), RMQ_GET_FOUND, "offset %lld",
                     (long long)off);
        for (size_t i = 0; i < g.count; i++) {
            rmq_msg_rec_t r;
            cr_assert_eq(rmq_msg_decode(g.msgs[i].data, g.msgs[i].len, true, &r), RMQ_OK);
            cr_assert_eq(r.queue_offset, off + (int64_t)i);
            seen++;
        }
        off = g.next_begin_offset;
        rmq_store_get_result_release(&g);
    }
    cr_assert(seen > 0);
}

/* Fill until refused; returns the number of messages stored. */
static int64_t fill(rmq_store_t *s, const char *topic, size_t body, int max)
{
    rmq_put_result_t res;
    int64_t n = 0;
    for (int i = 0; i < max; i++) {
        rmq_put_status_t st = tput(s, topic, 0, (int)n, body, &res);
        if (st == RMQ_PUT_SERVICE_NOT_AVAILABLE)
            return n;
        cr_assert_eq(st, RMQ_PUT_OK, "put %d: %s", i, rmq_put_status_name(st));
        n++;
    }
    cr_assert_fail("never refused after %d puts", max);
    return n;
}

Test(disk, quota_full_refuses_then_resumes, .timeout = 60)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "messageIndexEnable", "false");
    tctx_set(&t, "storeQuotaBytes", "40960");
    tctx_set(&t, "fileReservedTime", "0");
    rmq_store_t *s = tctx_open(&t);
    int64_t n = fill(s, "Full", 200, 2000);
    cr_assert(n > 20);
    cr_assert(rmq_store_is_disk_full(s));
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Full", 0, (int)n, 200, &res), RMQ_PUT_SERVICE_NOT_AVAILABLE);
    cr_assert_eq(rmq_put_status_to_code(res.status), RMQ_ERR_SERVICE_NOT_AVAILABLE);
    check_all(s, "Full", n); /* reads still served, nothing corrupted */
    /* retention frees space: writes resume */
    rmq_store_execute_delete_files_manually(s);
    rmq_store_clean_once(s);
    cr_assert(!rmq_store_is_disk_full(s));
    cr_assert_eq(tput(s, "Full", 0, (int)n, 200, &res), RMQ_PUT_OK);
    cr_assert_eq(res.queue_offset, n);
    check_all(s, "Full", n + 1);
    tctx_close(&t);
    s = tctx_open(&t);
    check_all(s, "Full", n + 1);
    tctx_fini(&t);
}

static char mnt[256];

static void umount_fini(void)
{
    if (mnt[0]) {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
    }
}

Test(disk, tmpfs_full_refuses_then_resumes, .timeout = 60, .fini = umount_fini)
{
    cr_assert(th_tmpdir(mnt, sizeof(mnt), "tmpfs"));
    /* a private mount namespace for this test process: the tmpfs goes away
     * with the process even if it crashes before .fini */
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=320k") != 0) {
        int e = errno;
        rmdir(mnt);
        mnt[0] = 0;
        cr_skip_test("cannot mount a tmpfs here (%s); the quota test covers disk-full", strerror(e));
    }
    tctx_t t;
    tctx_init(&t);
    char root[300];
    snprintf(root, sizeof(root), "%s/store", mnt);
    tctx_set(&t, "storePathRootDir", root);
    tctx_set(&t, "messageIndexEnable", "false");
    tctx_set(&t, "mappedFileSizeCommitLog", "16384");
    tctx_set(&t, "mappedFileSizeConsumeQueue", "4000");
    tctx_set(&t, "diskSpaceWarningLevelRatio", "95");
    /* ballast to free later */
    char ballast[300];
    snprintf(ballast, sizeof(ballast), "%s/ballast", mnt);
    int fd = open(ballast, O_CREAT | O_WRONLY, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(posix_fallocate(fd, 0, 96 * 1024), 0);
    close(fd);
    rmq_store_t *s = tctx_open(&t);
    int64_t n = fill(s, "Tmpfs", 300, 5000);
    cr_assert(n > 50, "stored %lld", (long long)n);
    cr_assert(rmq_store_is_disk_full(s));
    check_all(s, "Tmpfs", n);
    cr_assert_eq(unlink(ballast), 0);
    rmq_store_clean_once(s);
    cr_assert(!rmq_store_is_disk_full(s));
    rmq_put_result_t res;
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += tput(s, "Tmpfs", 0, (int)n + ok, 300, &res) == RMQ_PUT_OK;
    cr_assert_eq(ok, 20);
    check_all(s, "Tmpfs", n + 20);
    tctx_close(&t);
    s = tctx_open(&t);
    check_all(s, "Tmpfs", n + 20);
    tctx_close(&t);
    rmq_store_config_deinit(&t.conf);
}

/* Disk pressure triggers retention without deleteWhen: above
 * diskSpaceCleanForciblyRatio even segments that have not expired go. */
Test(disk, pressure_deletes_before_deletewhen, .timeout = 60)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "messageIndexEnable", "false");
    tctx_set(&t, "storeQuotaBytes", "409600"); /* 100 segments */
    tctx_set(&t, "fileReservedTime", "72");
    tctx_set(&t, "diskMaxUsedSpaceRatio", "50");
    tctx_set(&t, "diskSpaceCleanForciblyRatio", "80");
    tctx_set(&t, "diskSpaceWarningLevelRatio", "99");
    tctx_set(&t, "cleanResourceInterval", "20");
    tctx_set(&t, "deleteCommitLogFilesInterval", "0");
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    int i = 0;
    /* ~60 %: above diskMaxUsedSpaceRatio, but nothing has expired */
    while (rmq_store_get_commitlog_max_offset(s) < 60 * 4096 && i < 5000)
        cr_assert_eq(tput(s, "Press", 0, i++, 300, &res), RMQ_PUT_OK);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    rmq_store_clean_once(s); /* a whole retention pass, on this thread */
    cr_assert_eq(rmq_store_get_commitlog_min_offset(s), 0,
                 "unexpired segments kept below the forcible ratio");
    /* past 80 %: the oldest segments go although they are not expired */
    while (rmq_store_get_commitlog_max_offset(s) < 85 * 4096 && i < 10000)
        cr_assert_eq(tput(s, "Press", 0, i++, 300, &res), RMQ_PUT_OK);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert(TH_WAIT_UNTIL(rmq_store_get_commitlog_min_offset(s) > 0, 10000),
              "no forced deletion under disk pressure");
    /* the consume queue follows in the same pass */
    cr_assert(TH_WAIT_UNTIL(rmq_store_get_min_offset_in_queue(s, "Press", 0) > 0, 10000));
    check_all(s, "Press", i);
    tctx_fini(&t);
}
