/* rmq_cmdline.c - the option table reader of the server programs' command
 * lines. Thread: main, at start-up. */
#include "rmq_cmdline.h"

#include <string.h>

static const rmq_cmdline_opt_t *find(const rmq_cmdline_opt_t *opts, const char *arg)
{
    for (; opts->name; opts++)
        if (!strcmp(arg, opts->name) || (opts->alias && !strcmp(arg, opts->alias)))
            return opts;
    return NULL;
}

bool rmq_cmdline_parse(int argc, char **argv, const rmq_cmdline_opt_t *opts, const char *prog,
                       void (*usage)(FILE *out), int bad_usage, int *exit_code)
{
    for (int i = 1; i < argc; i++) {
        const rmq_cmdline_opt_t *o = find(opts, argv[i]);
        if (o && o->has_value && i + 1 < argc) {
            i++;
            if (o->value)
                *o->value = argv[i];
        } else if (o && !o->has_value) {
            if (o->flag)
                *o->flag = o->flag_value;
            if (o->stop)
                return true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            *exit_code = 0;
            return false;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", prog, argv[i]);
            usage(stderr);
            *exit_code = bad_usage;
            return false;
        }
    }
    return true;
}
