/* msgjson.h - messages and other untrusted strings as JSON for the console
 * API. Every message-derived string (topic, keys, tags, properties, body) is
 * attacker-controlled: it is made valid UTF-8 (invalid bytes become U+FFFD)
 * before it reaches JSON, and the page only ever puts it into the DOM as
 * text. Bodies: text when they are valid UTF-8 without NUL bytes, base64
 * otherwise; zlib-compressed bodies are inflated within a byte bound.
 * Thread: any (no shared state). */
#ifndef MC_MSGJSON_H
#define MC_MSGJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "rmq_msg_codec.h"

/* A JSON string of n bytes of untrusted text (never NULL). */
json_t *mc_jstr(const char *p, size_t n);
static inline json_t *mc_jstr0(const char *s)
{
    return mc_jstr(s ? s : "", s ? strlen(s) : 0);
}

/* One stored message as a JSON object. broker: the broker name it was read
 * from (may be NULL). full: headers, all properties and the body up to
 * max_body bytes; otherwise a summary with a short text preview. */
json_t *mc_msg_json(const rmq_msg_rec_t *r, const char *broker, bool full, size_t max_body);

/* "a.b.c.d:port" (or [v6]:port) of a host into out. */
void mc_host_str(const rmq_msg_host_t *h, char *out, size_t n);

#endif
