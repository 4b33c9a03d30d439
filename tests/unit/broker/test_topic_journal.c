/* test_topic_journal.c - the topic table's change journal without sockets:
 * appends replayed onto a snapshot (puts, updates, deletes), the two files
 * taking turns (older epoch first), a torn tail, a file that was being
 * emptied, reset; and the changed-name set the journal reads. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/topic_config.h"
#include "meta/topic_journal.h"
#include "rmq_alloc.h"
#include "test_support.h"

static char dir[256];

static void mkdir_tmp(void)
{
    cr_assert(th_tmpdir(dir, sizeof(dir), "tjournal"));
}

TestSuite(topic_journal, .init = mkdir_tmp, .timeout = 20);

static void put(rmq_topic_mgr_t *m, const char *name, int queues, int perm)
{
    rmq_topic_config_t t = {(char *)name, queues, queues, perm, 0, 0, false};
    rmq_topic_put(m, &t);
}

/* A table as a start-up would see it: m2 loaded from nothing plus the journal. */
static rmq_topic_journal_t *reopen(rmq_topic_mgr_t *m2, size_t *applied)
{
    char err[256] = "";
    rmq_topic_mgr_init(m2);
    rmq_topic_journal_t *j = rmq_topic_journal_open(dir, m2, applied, err, sizeof(err));
    cr_assert_not_null(j, "open failed: %s", err);
    return j;
}

static off_t file_size(int i)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/topics.journal.%d", dir, i);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s missing", p);
    return st.st_size;
}

Test(topic_journal, changed_set_tracks_puts_and_deletes)
{
    rmq_topic_mgr_t m;
    rmq_topic_mgr_init(&m);
    put(&m, "A", 4, 6);
    put(&m, "B", 4, 6);
    put(&m, "A", 8, 6); /* twice: one entry */
    cr_assert_eq(rmq_map_count(&m.changed), 2, "a set of names, not a list of events");
    rmq_topic_changed_clear(&m);
    cr_assert_eq(rmq_map_count(&m.changed), 0);
    cr_assert(!rmq_topic_del(&m, "nope"));
    cr_assert_eq(rmq_map_count(&m.changed), 0, "deleting an unknown topic changes nothing");
    cr_assert(rmq_topic_del(&m, "B"));
    cr_assert(rmq_map_has(&m.changed, "B"), "a delete is a change");
    rmq_topic_mgr_deinit(&m);
}

Test(topic_journal, appends_replay_onto_the_snapshot)
{
    rmq_topic_mgr_t m, m2;
    rmq_topic_mgr_init(&m);
    size_t applied;
    char err[256];
    rmq_topic_journal_t *j = rmq_topic_journal_open(dir, &m, &applied, err, sizeof(err));
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(applied, 0);
    cr_assert_eq(rmq_topic_journal_reset(j), RMQ_OK);
    /* nothing changed: nothing appended */
    cr_assert_eq(rmq_topic_journal_append(j, &m), RMQ_OK);
    cr_assert_eq(rmq_topic_journal_pending(j), 0);
    put(&m, "A", 4, 6);
    put(&m, "B", 2, 6);
    cr_assert_eq(rmq_topic_journal_append(j, &m), RMQ_OK);
    rmq_topic_changed_clear(&m);
    put(&m, "A", 16, 4); /* an update */
    cr_assert(rmq_topic_del(&m, "B"));
    put(&m, "C", 1, 6);
    cr_assert_eq(rmq_topic_journal_append(j, &m), RMQ_OK);
    rmq_topic_changed_clear(&m);
    cr_assert_eq(rmq_topic_journal_pending(j), 5);
    rmq_topic_journal_close(j); /* no snapshot was written: a crash */

    j = reopen(&m2, &applied);
    cr_assert_eq(applied, 5);
    rmq_topic_config_t *a = rmq_topic_get(&m2, "A");
    cr_assert_not_null(a, "a journalled topic is lost");
    cr_assert_eq(a->read_queues, 16, "the later record must win");
    cr_assert_eq(a->perm, 4);
    cr_assert_null(rmq_topic_get(&m2, "B"), "a journalled delete is lost");
    cr_assert_not_null(rmq_topic_get(&m2, "C"));
    rmq_topic_journal_close(j);
    rmq_topic_mgr_deinit(&m);
    rmq_topic_mgr_deinit(&m2);
}

Test(topic_journal, two_files_take_turns_older_epoch_first)
{
    rmq_topic_mgr_t m, m2;
    size_t applied;
    rmq_topic_journal_t *j = reopen(&m, &applied);
    cr_assert_eq(rmq_topic_journal_reset(j), RMQ_OK);
    /* file 0: X=1; switch (a snapshot holding X=1 would be taken now) */
    put(&m, "X", 1, 6);
    rmq_topic_journal_append(j, &m);
    rmq_topic_changed_clear(&m);
    cr_assert_eq(rmq_topic_journal_switch(j), RMQ_OK);
    cr_assert_eq(rmq_topic_journal_pending(j), 0, "a switch starts an empty file");
    /* file 1: X=2 */
    put(&m, "X", 2, 6);
    rmq_topic_journal_append(j, &m);
    rmq_topic_changed_clear(&m);
    /* switch back: file 0 (covered by that snapshot) is emptied; X=3 there */
    cr_assert_eq(rmq_topic_journal_switch(j), RMQ_OK);
    cr_assert_eq(file_size(0), 16, "the file the snapshot covers must be emptied (header only)");
    put(&m, "X", 3, 6);
    rmq_topic_journal_append(j, &m);
    rmq_topic_changed_clear(&m);
    rmq_topic_journal_close(j);
    /* file 1 holds X=2 (older epoch), file 0 X=3 (newer): X=3 must win even
     * though file 0 comes first by name */
    j = reopen(&m2, &applied);
    cr_assert_eq(applied, 2);
    cr_assert_eq(rmq_topic_get(&m2, "X")->read_queues, 3, "files replayed out of epoch order");
    rmq_topic_journal_close(j);
    rmq_topic_mgr_deinit(&m);
    rmq_topic_mgr_deinit(&m2);
}

Test(topic_journal, torn_tail_and_headerless_file_are_ignored)
{
    rmq_topic_mgr_t m, m2;
    size_t applied;
    rmq_topic_journal_t *j = reopen(&m, &applied);
    cr_assert_eq(rmq_topic_journal_reset(j), RMQ_OK);
    put(&m, "Kept", 4, 6);
    rmq_topic_journal_append(j, &m);
    rmq_topic_changed_clear(&m);
    put(&m, "Torn", 4, 6);
    rmq_topic_journal_append(j, &m);
    rmq_topic_changed_clear(&m);
    rmq_topic_journal_close(j);
    /* tear the last record (a power failure mid-write) */
    char p[400];
    snprintf(p, sizeof(p), "%s/topics.journal.0", dir);
    cr_assert_eq(truncate(p, file_size(0) - 3), 0);
    /* the other file: emptied but its header never written (a crash mid-switch) */
    snprintf(p, sizeof(p), "%s/topics.journal.1", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("garbage", f);
    fclose(f);
    j = reopen(&m2, &applied);
    cr_assert_eq(applied, 1, "only the whole record applies");
    cr_assert_not_null(rmq_topic_get(&m2, "Kept"));
    cr_assert_null(rmq_topic_get(&m2, "Torn"), "a torn record must not apply");
    /* reset empties both: a start-up after its snapshot */
    cr_assert_eq(rmq_topic_journal_reset(j), RMQ_OK);
    cr_assert_eq(file_size(1), 0);
    cr_assert_eq(file_size(0), 16);
    rmq_topic_journal_close(j);
    rmq_topic_mgr_t m3;
    j = reopen(&m3, &applied);
    cr_assert_eq(applied, 0, "a reset journal must replay nothing");
    rmq_topic_journal_close(j);
    rmq_topic_mgr_deinit(&m);
    rmq_topic_mgr_deinit(&m2);
    rmq_topic_mgr_deinit(&m3);
}

Test(topic_journal, unopenable_directory_is_an_error)
{
    rmq_topic_mgr_t m;
    rmq_topic_mgr_init(&m);
    size_t applied;
    char err[256] = "";
    cr_assert_null(rmq_topic_journal_open("/nonexistent/comet/dir", &m, &applied, err, sizeof(err)));
    cr_assert(strstr(err, "cannot open"), "reason: %s", err);
    rmq_topic_mgr_deinit(&m);
}
