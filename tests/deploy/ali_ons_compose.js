'use strict';
/* ali_ons_compose.js - the ali-ons RocketMQ client (tests/compat's pinned
 * npm install) against a running cluster, e.g. the compose cluster through
 * its published ports. <namesrv> is host:port, or several joined by ';'.
 *
 *   node ali_ons_compose.js <namesrv> <topic> <count> <tag>
 *       A clustering consumer (group GID_<tag>) subscribes first; a producer
 *       then sends <count> messages with bodies "<tag>-<i>" (synchronously,
 *       retrying a failed send up to 40 times: a route may still be
 *       settling); the consumer must receive every body. Prints
 *       "SENT_BY_BROKER {broker: n, ...}", "NOT_SEND_OK <n>" (answers that
 *       stored the message but were not SEND_OK, e.g. SLAVE_NOT_AVAILABLE;
 *       such a message is sent again) and "RECEIVED <n>", exit 0.
 *
 *   node ali_ons_compose.js --failover <namesrv> <topic> <count> <group> <kill_after> <cmd> [args...]
 *       A clustering consumer (group <group>, reading from the first offset)
 *       that takes 5 ms per message runs <cmd> [args...] (e.g. docker kill of
 *       a master) once it has <kill_after> distinct bodies, and must then
 *       receive <count> distinct bodies in all: the rest from the slaves of
 *       the killed masters, found at its route refreshes (every 2 s here).
 *       It holds at most 16 + 8 messages per queue ahead of its callback
 *       (pullThresholdForQueue, pullBatchSize), so what a killed master held
 *       beyond that can only come from its slave. Prints "KILLED_AT <n>",
 *       "AFTER_KILL {broker: n, ...}" (new bodies per group once <cmd> has
 *       run) and "RECEIVED <n>", exit 0.
 *
 * Exit 1 on a send that never succeeds, a missing message, a failed <cmd>,
 * or the 150 s bound. */
const path = require('path');
const { execFileSync } = require('child_process');
const { Producer, Consumer, Message } = require(path.join(__dirname, '../compat/node_modules/ali-ons'));
const { waitFor, pace } = require(path.join(__dirname, '../compat/lib'));

const argv = process.argv.slice(2);
const failover = argv[0] === '--failover';
if (failover) argv.shift();
const [ ns, topic, countArg ] = argv;
const COUNT = Number(countArg);
const usage = 'usage: node ali_ons_compose.js <namesrv> <topic> <count> <tag>\n' +
              '       node ali_ons_compose.js --failover <namesrv> <topic> <count> <group> <kill_after> <cmd> [args...]';
if (!ns || !topic || !(COUNT > 0) || !argv[3] || (failover && !(Number(argv[4]) > 0 && argv[5]))) {
  console.error(usage);
  process.exit(2);
}
const silentLogger = { info() {}, warn() {}, debug() {}, error() {} };
const httpclient = { request() { throw new Error('nameSrv is set'); } };
const common = { httpclient, nameSrv: ns.split(';'), clientIP: '127.0.0.1', logger: silentLogger };
const guard = setTimeout(() => { console.error('FAIL: 150 s bound reached'); process.exit(1); }, 150000);

async function roundtrip(tag) {
  const received = new Set();
  const consumer = new Consumer(Object.assign({}, common, { consumerGroup: `GID_${tag}`, instanceName: `${tag}c` }));
  consumer.on('error', e => console.error('consumer:', e.message));
  consumer.subscribe(topic, '*', async msg => { received.add(msg.body.toString()); });
  await consumer.ready();
  const producer = new Producer(Object.assign({}, common, { producerGroup: `PID_${tag}`, instanceName: `${tag}p` }));
  producer.on('error', e => console.error('producer:', e.message));
  await producer.ready();
  const byBroker = {};
  let notOk = 0;
  for (let i = 0; i < COUNT; i++) {
    const msg = new Message(topic, 'TagA', Buffer.from(`${tag}-${i}`));
    let ok = false;
    for (let attempt = 0; attempt < 40 && !ok; attempt++) {
      try {
        const r = await producer.send(msg);
        ok = r.sendStatus === 'SEND_OK';
        if (ok) byBroker[r.messageQueue.brokerName] = (byBroker[r.messageQueue.brokerName] || 0) + 1;
        else notOk++;
      } catch (e) {
        if (attempt === 39) console.error(`send ${i}: ${e.message}`);
      }
      if (!ok) await pace(250, 'a route may still be settling');
    }
    if (!ok) throw new Error(`message ${i} could not be sent`);
  }
  console.log(`SENT_BY_BROKER ${JSON.stringify(byBroker)}`);
  console.log(`NOT_SEND_OK ${notOk}`);
  await waitFor(() => received.size >= COUNT, 60000);
  console.log(`RECEIVED ${received.size}`);
  await consumer.close();
  await producer.close();
  if (received.size < COUNT) throw new Error(`received ${received.size} of ${COUNT}`);
}

async function consumeAcrossKill(group, killAfter, cmd) {
  const received = new Set();
  const afterKill = {};
  let killed = false;
  const consumer = new Consumer(Object.assign({}, common, {
    consumerGroup: group, instanceName: `${group}c`, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    pollNameServerInteval: 2000, heartbeatBrokerInterval: 1000, rebalanceInterval: 2000,
    persistConsumerOffsetInterval: 1000, pullThresholdForQueue: 16, pullBatchSize: 8,
    pullTimeDelayMillsWhenFlowControl: 50,
  }));
  consumer.on('error', e => console.error('consumer:', e.message));
  consumer.subscribe(topic, '*', async (msg, mq) => {
    const body = msg.body.toString();
    if (killed && !received.has(body)) afterKill[mq.brokerName] = (afterKill[mq.brokerName] || 0) + 1;
    received.add(body);
    await pace(5, 'a slow consumer: the kill comes while most messages still wait');
  });
  await consumer.ready();
  if (!await waitFor(() => received.size >= killAfter, 60000)) {
    throw new Error(`only ${received.size} received before the kill (want ${killAfter})`);
  }
  console.log(`KILLED_AT ${received.size}`);
  execFileSync(cmd[0], cmd.slice(1), { stdio: [ 'ignore', 'ignore', 'inherit' ], timeout: 30000 });
  killed = true;
  await waitFor(() => received.size >= COUNT, 100000);
  console.log(`AFTER_KILL ${JSON.stringify(afterKill)}`);
  console.log(`RECEIVED ${received.size}`);
  await consumer.close();
  if (received.size < COUNT) throw new Error(`received ${received.size} of ${COUNT} (killed: ${killed})`);
}

(failover ? consumeAcrossKill(argv[3], Number(argv[4]), argv.slice(5)) : roundtrip(argv[3])).then(
  () => { clearTimeout(guard); process.exit(0); },
  e => { console.error('FAIL:', e.message); process.exit(1); });
