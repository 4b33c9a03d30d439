'use strict';
/* ali-ons with accessKey / secretKey against a Comet broker with
 * aclEnable=true: ali-ons signs with its own code (lib/channel.js: JS sort
 * of the keys, String() of its numeric and boolean header values, the extra
 * OnsChannel field), Comet verifies as RocketMQ 4.9's PlainAccessValidator.
 *
 * 1. start mqnamesrv and mqbroker (aclEnable=true, plain_acl.yml in the work
 *    dir); create the topic with mqadmin signing as the admin account;
 * 2. a producer and a clustering consumer with the user's keys: every
 *    message sent (numbers and booleans in SEND_MESSAGE_V2's header, a body)
 *    arrives, through signed heartbeats, pulls, offset commits and
 *    GET_CONSUMER_LIST_BY_GROUP;
 * 3. a producer without keys, one with a wrong secret, and one sending to a
 *    topic the account may not publish to are refused with Java's remarks.
 * Exit 0 = pass. Bounded by TOTAL_TIMEOUT_MS.
 *
 * usage: node ali_ons_acl_test.js <dir with mqnamesrv, mqbroker, mqadmin> */
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { Producer, Consumer, Message } = require('ali-ons');
const { log, workDir, waitFor, pace, freePort, start: startIn, remotingCall, runMain } = require('./lib');

const TOPIC = 'AclCompatTopic';
const DENIED = 'AclDeniedTopic';
const N = 50;
const TOTAL_TIMEOUT_MS = 120000;
const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../build/bin'));
const silentLogger = { info() {}, warn() {}, debug() {}, error() {} };
const httpclient = { request() { throw new Error('no onsAddr in this test'); } };
const start = (...a) => startIn(binDir, ...a);

async function main(dir) {
  log('work dir', dir, 'binaries', binDir);
  const nsPort = await freePort();
  const bkPort = await freePort();
  fs.writeFileSync(path.join(dir, 'plain_acl.yml'), [
    'accounts:',
    '  - accessKey: onsUserKey',
    '    secretKey: onsUserSecret',
    '    defaultTopicPerm: DENY',
    '    defaultGroupPerm: SUB',
    `    topicPerms: [${TOPIC}=PUB|SUB, ${DENIED}=SUB]`,
    '  - accessKey: adminKey1',
    '    secretKey: adminSecret1',
    '    admin: true', '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'namesrv.conf'), `listenPort=${nsPort}\nlistenAddress=127.0.0.1\nkvConfigPath=${dir}/kvConfig.json\n`);
  fs.writeFileSync(path.join(dir, 'broker.conf'), [
    'brokerClusterName=DefaultCluster', 'brokerName=broker-acl', 'brokerId=0', `listenPort=${bkPort}`,
    'brokerIP1=127.0.0.1', 'listenAddress=127.0.0.1', `namesrvAddr=127.0.0.1:${nsPort}`,
    `storePathRootDir=${dir}/store`, 'mappedFileSizeCommitLog=16777216', 'registerNameServerPeriod=2000',
    'flushConsumerOffsetInterval=500', 'aclEnable=true', `rocketmq.acl.plain.file=${dir}/plain_acl.yml`, '',
  ].join('\n'));
  await start('mqnamesrv', [ '-c', path.join(dir, 'namesrv.conf') ], path.join(dir, 'namesrv.log'), 'The Name Server boot success');
  await start('mqbroker', [ '-c', path.join(dir, 'broker.conf') ], path.join(dir, 'broker.log'), 'boot success');
  const env = Object.assign({}, process.env, { MQADMIN_ACCESS_KEY: 'adminKey1', MQADMIN_SECRET_KEY: 'adminSecret1' });
  for (const t of [ TOPIC, DENIED ]) {
    execFileSync(path.join(binDir, 'mqadmin'), [ 'updateTopic', '-n', `127.0.0.1:${nsPort}`, '-c', 'DefaultCluster', '-t', t, '-r', '4', '-w', '4' ],
      { env, stdio: 'pipe' });
    assert(await waitFor(async () => (await remotingCall(nsPort, 105, { topic: t })).code === 0, 20000), `${t} never routed`);
  }
  // an unsigned raw request is refused with Java's remark
  const raw = await remotingCall(bkPort, 30, { topic: TOPIC, queueId: '0' });
  assert.strictEqual(raw.code, 1);
  assert(/AclException: No accessKey is configured/.test(raw.remark), raw.remark);

  const common = {
    httpclient, nameSrv: `127.0.0.1:${nsPort}`, clientIP: '127.0.0.1', logger: silentLogger,
    heartbeatBrokerInterval: 2000, rebalanceInterval: 2000, persistConsumerOffsetInterval: 1000,
  };
  const keys = { accessKey: 'onsUserKey', secretKey: 'onsUserSecret' };
  const got = new Map();
  const errors = [];
  const consumer = new Consumer(Object.assign({}, common, keys, { consumerGroup: 'GID_ACL_COMPAT' }));
  consumer.on('error', e => errors.push(`consumer: ${e.message}`));
  consumer.subscribe(TOPIC, '*', async msg => { got.set(msg.body.toString(), (got.get(msg.body.toString()) || 0) + 1); });
  await consumer.ready();

  const producer = new Producer(Object.assign({}, common, keys, { producerGroup: 'PID_ACL_COMPAT' }));
  await producer.ready();
  for (let i = 0; i < N; i++) {
    const msg = new Message(TOPIC, i % 2 ? 'TagA' : 'TagB', Buffer.from(`acl-body-${i}`));
    msg.keys = [ `k${i}` ];
    const r = await producer.send(msg);
    assert.strictEqual(r.sendStatus, 'SEND_OK', `message ${i}: ${JSON.stringify(r)}`);
  }
  assert(await waitFor(() => got.size >= N, 60000), `only ${got.size} of ${N} signed messages consumed (errors: ${errors.join('; ')})`);
  log(`${N} messages produced and consumed by signed ali-ons clients`);

  // refusals: ali-ons's own request path (its MQClient, which signs in
  // channel.js) gets the remark a Java 4.9.8 broker sends; its producer's
  // send fails (its retry loop keeps only a summary)
  async function client(opts) {
    const id = Math.random().toString(36).slice(2, 8); // its own client instance: ali-ons shares one per instanceName
    const p = new Producer(Object.assign({}, common, opts, { producerGroup: 'PID_ACL_' + id, instanceName: 'other_' + id }));
    await p.ready();
    return p;
  }
  async function remark(p) {
    try {
      await p._mqClient.getMaxOffset(`127.0.0.1:${bkPort}`, TOPIC, 0, 3000); // queueId travels as a JSON number
    } catch (e) {
      return e.message;
    }
    return null;
  }
  async function sendFails(p, topic) {
    try {
      await p.send(new Message(topic, 'TagA', Buffer.from('refused')));
    } catch (e) {
      return true;
    }
    return false;
  }
  const ok = await client(keys);
  assert.strictEqual(await remark(ok), null, 'a signed GET_MAX_OFFSET was refused');
  assert(await sendFails(ok, DENIED), `a send to ${DENIED} (SUB only) was accepted`);
  await ok.close();
  const none = await client({});
  let m = await remark(none);
  assert(/AclException: No accessKey is configured/.test(m), m);
  assert(await sendFails(none, TOPIC), 'an unsigned send was accepted');
  await none.close().catch(() => {}); /* its UNREGISTER_CLIENT is refused too */
  const wrong = await client({ accessKey: 'onsUserKey', secretKey: 'wrongSecret' });
  m = await remark(wrong);
  assert(/AclException: Check signature failed for accessKey=onsUserKey/.test(m), m);
  await wrong.close().catch(() => {});
  log('unsigned, wrongly signed and unpermitted requests refused');

  await consumer.close();
  await producer.close();
  await pace(100, 'let the last offset commits reach the broker before it stops');
}

const dir = workDir('comet-compat-acl-');
runMain(() => main(dir), dir, TOTAL_TIMEOUT_MS);
