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

bool rmq_cmdline_settings(int argc, char **argv, bool takes_namesrv, rmq_cmdline_t *out, const char *prog,
                          void (*usage)(FILE *out), int bad_usage, int *exit_code)
{
    *out = (rmq_cmdline_t){0};
    const rmq_cmdline_opt_t opts[] = {
        {.name = "-c", .has_value = true, .value = &out->conf_file},
        {.name = "-o", .has_value = true},
        {.name = "-p", .flag = &out->print, .flag_value = 1},
        {.name = "-m", .flag = &out->print, .flag_value = 2},
        {.name = "--print-config-md", .flag = &out->print_md, .flag_value = 1, .stop = true},
        /* last: without -n this row ends the table */
        {.name = takes_namesrv ? "-n" : NULL, .has_value = true, .value = &out->namesrv},
        {.name = NULL},
    };
    return rmq_cmdline_parse(argc, argv, opts, prog, usage, bad_usage, exit_code);
}
