/* mqbench_floor.h - the two floors every end-to-end figure is compared with,
 * measured by the same binary in the same run:
 *
 *   mqbench floor-net  [-w clients] [-s request bytes] [-r response bytes] [-d seconds] [--json]
 *       a bare C request/response loop over loopback TCP: a forked server
 *       (one thread, epoll, every complete frame of a read answered, the
 *       answers of one read written with one write) and `clients` threads
 *       each doing blocking write + read on its own connection.
 *   mqbench floor-disk [-b batch] [-s record bytes] [-d seconds] [-D dir] [--json]
 *       one thread appending `batch` records with one write(2) and then
 *       fdatasync(2), in a preallocated file (as the store's segments are).
 *
 * Each prints operations/s, latency quantiles and, per operation, the CPU
 * time and context switches of each side. */
#ifndef COMET_MQBENCH_FLOOR_H
#define COMET_MQBENCH_FLOOR_H

int floor_net_main(int argc, char **argv);
int floor_disk_main(int argc, char **argv);

#endif
