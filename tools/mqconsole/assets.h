/* assets.h - the console's page, script and style sheet, embedded in the
 * binary at build time (embed.cmake from tools/mqconsole/web): nothing is
 * fetched from the internet when the page runs. */
#ifndef MC_ASSETS_H
#define MC_ASSETS_H

#include <stddef.h>

typedef struct mc_asset_s {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} mc_asset_t;

/* Terminated by an entry with path NULL. */
extern const mc_asset_t mc_assets[];

#endif
