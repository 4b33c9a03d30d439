/* loopback_copy.c - the baseline for replication catch-up (bench/ha_bench.sh):
 * copy files over one TCP connection on 127.0.0.1 into one output file, the
 * least a replica must do with the same bytes (read them, send them, receive
 * them, write them; no framing, no checks, no consume queues, no fsync).
 *
 *   loopback_copy <bytes> <out file> <in file>...   prints: bytes, ms, MB/s
 *
 * Copies the first <bytes> of the concatenated inputs (0: all of them).
 *
 * Two threads: the sender reads each input in 1 MiB pieces and writes them to
 * the socket; the receiver reads the socket and writes the output file. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

typedef struct {
    int fd;
    char **files;
    int n;
    int64_t limit;
} sender_t;

static void *send_main(void *arg)
{
    sender_t *s = arg;
    char *buf = malloc(CHUNK);
    int64_t left = s->limit > 0 ? s->limit : INT64_MAX;
    for (int i = 0; i < s->n && left > 0; i++) {
        int in = open(s->files[i], O_RDONLY);
        if (in < 0) {
            perror(s->files[i]);
            exit(1);
        }
        ssize_t r;
        while (left > 0 && (r = read(in, buf, left < CHUNK ? (size_t)left : CHUNK)) > 0) {
            left -= r;
            for (ssize_t off = 0; off < r;) {
                ssize_t w = write(s->fd, buf + off, (size_t)(r - off));
                if (w <= 0) {
                    perror("send");
                    exit(1);
                }
                off += w;
            }
        }
        close(in);
    }
    shutdown(s->fd, SHUT_WR);
    free(buf);
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: loopback_copy <bytes> <out file> <in file>...\n");
        return 2;
    }
    int64_t limit = strtoll(argv[1], NULL, 10);
    argv++;
    argc--;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0) {
        perror("listen");
        return 1;
    }
    int out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        perror(argv[1]);
        return 1;
    }
    double t0 = now_ms();
    sender_t s = {socket(AF_INET, SOCK_STREAM, 0), argv + 2, argc - 2, limit};
    int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        return 1;
    }
    int cfd = accept(lfd, NULL, NULL);
    pthread_t t;
    pthread_create(&t, NULL, send_main, &s);
    char *buf = malloc(CHUNK);
    int64_t total = 0;
    ssize_t r;
    while ((r = read(cfd, buf, CHUNK)) > 0) {
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w <= 0) {
                perror("write");
                return 1;
            }
            off += w;
        }
        total += r;
    }
    pthread_join(t, NULL);
    double ms = now_ms() - t0;
    printf("loopback copy: %lld bytes in %.0f ms, %.1f MB/s\n", (long long)total, ms, total / 1e3 / ms);
    close(out);
    close(cfd);
    close(s.fd);
    close(lfd);
    free(buf);
    return 0;
}
