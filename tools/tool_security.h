/* tool_security.h - mqadmin's ACL credentials and TLS: the settings of its
 * blocking requests (rmq_sync_client) and the same for its libcomet
 * handles. Main thread only. */
#ifndef TOOL_SECURITY_H
#define TOOL_SECURITY_H

#include <comet/comet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_cmd.h"
#include "rmq_sync_client.h"

/* Read $ROCKETMQ_HOME/conf/tools.yml and the MQADMIN_* environment. */
void tool_security_init(void);
/* accessKey/secretKey/useTLS/... on a libcomet conf; false with err. */
bool tool_security_conf(comet_conf_t *conf, char *err, size_t n);
/* Credentials and TLS for rmq_sync_connect_secure (process lifetime). */
const rmq_sync_security_t *tool_security(void);

#endif
