/* rmq_acl_sign.h - RocketMQ 4.9 ACL request signatures (AclClientRPCHook,
 * AclUtils.combineRequestContent, AclSigner), shared by the broker (which
 * verifies) and the clients (which sign).
 *
 * The signed content is the values of the extFields sorted by key in Java's
 * String order (UTF-16 code units: a supplementary character sorts before
 * U+E000..U+FFFF), without "Signature" (and, when the broker verifies,
 * without "_UNIQUE_KEY_QUERY", as PlainAccessValidator does), concatenated
 * and UTF-8 encoded, followed by the raw body. Each key and value is first
 * passed through Java's UTF-8 decode/encode round trip (malformed bytes
 * become U+FFFD exactly where the JDK puts them), because a Java broker signs
 * the Strings it decoded, not the wire bytes.
 * Signature = Base64(HMAC-SHA1(secretKey UTF-8 bytes, content)).
 *
 * No I/O; any thread (OpenSSL's MAC implementation is fetched once). */
#ifndef RMQ_ACL_SIGN_H
#define RMQ_ACL_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "rmq_buf.h"
#include "rmq_cmd.h"

#define RMQ_ACL_ACCESS_KEY "AccessKey"
#define RMQ_ACL_SIGNATURE "Signature"
#define RMQ_ACL_SECURITY_TOKEN "SecurityToken"
#define RMQ_ACL_UNIQUE_KEY_QUERY "_UNIQUE_KEY_QUERY"

/* Base64 of a 20-byte HMAC-SHA1 is 28 characters. */
#define RMQ_ACL_SIG_LEN 28

/* Which fields the content leaves out besides "Signature". */
typedef enum {
    RMQ_ACL_SIDE_CLIENT = 0, /* as Java's AclClientRPCHook: everything else */
    RMQ_ACL_SIDE_BROKER = 1, /* as PlainAccessValidator: also "_UNIQUE_KEY_QUERY" */
} rmq_acl_side_t;

/* Append the signed content of cmd (extFields part, then body) to out. */
void rmq_acl_content(const rmq_cmd_t *cmd, rmq_acl_side_t side, rmq_buf_t *out);

/* sig = Base64(HMAC-SHA1(secret, header_part || body)), NUL-terminated.
 * Returns false only if OpenSSL fails. */
bool rmq_acl_hmac_b64(const char *secret, const void *part1, size_t len1, const void *part2, size_t len2,
                      char sig[RMQ_ACL_SIG_LEN + 1]);

/* Signature of cmd with secret (content as rmq_acl_content, without copying
 * the body). */
bool rmq_acl_signature(const rmq_cmd_t *cmd, rmq_acl_side_t side, const char *secret,
                       char sig[RMQ_ACL_SIG_LEN + 1]);

/* Client side (AclClientRPCHook.doBeforeRequest): set AccessKey, then
 * SecurityToken when token is non-empty, then Signature over the rest.
 * `side` picks what the signature leaves out: RMQ_ACL_SIDE_CLIENT is exactly
 * Java's client; RMQ_ACL_SIDE_BROKER signs what a broker verifies (so that
 * unique-key QUERY_MESSAGE passes, which Java's own client gets refused). */
void rmq_acl_sign(rmq_cmd_t *cmd, const char *access_key, const char *secret_key, const char *token,
                  rmq_acl_side_t side);

/* Java's `new String(bytes, UTF_8).getBytes(UTF_8)`: valid UTF-8 is copied,
 * each malformed sequence becomes EF BF BD where the JDK's decoder puts one. */
void rmq_acl_java_utf8(const void *p, size_t n, rmq_buf_t *out);

/* Java String.compareTo of two valid UTF-8 strings (UTF-16 code-unit order). */
int rmq_acl_java_strcmp(const char *a, const char *b);

/* Constant-time comparison of two NUL-terminated signatures. */
bool rmq_acl_sig_equal(const char *a, const char *b);

#endif
