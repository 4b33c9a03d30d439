/* rmq_hdr_json.h - decoder for the JSON RemotingCommand header.
 *
 * A purpose-built single-pass parser for the one JSON shape every request and
 * response carries (a flat object plus the extFields string map): it is on
 * the path of every message sent by a Java or Node.js client, where a general
 * DOM parser costs several times more (bench/codec_bench). Accepts the same
 * inputs as a strict JSON parser, plus what real clients send (docs/protocol.md
 * docs/protocol.md §1.3). Pure function, any thread. */
#ifndef RMQ_HDR_JSON_H
#define RMQ_HDR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "rmq_cmd.h"

/* Fill code/language/version/opaque/flag/remark/extFields of c from the
 * header text. RMQ_ERR__CORRUPT with a reason in errstr on malformed input. */
rmq_err_t rmq_hdr_json_decode(rmq_cmd_t *c, const uint8_t *h, size_t n, char *errstr, size_t errstr_size);

#endif
