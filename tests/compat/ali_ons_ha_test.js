'use strict';
/* Compatibility with replication: an unchanged ali-ons consumer keeps
 * receiving from the slave after its master is killed.
 *
 * 1. mqnamesrv, a SYNC_MASTER and its SLAVE (group broker-a) on free
 *    127.0.0.1 ports in a temp dir;
 * 2. 300 messages are sent (each answered SEND_OK: the slave has it);
 * 3. a consumer that takes 20 ms per message starts; after it has 40, the
 *    master gets SIGKILL;
 * 4. the name server drops the dead master, ali-ons' next route refresh
 *    finds only the slave (findBrokerAddressInSubscribe takes any address of
 *    the group), and every one of the 300 messages arrives.
 * Exit code 0 = pass. Bounded: the whole run aborts after TOTAL_TIMEOUT_MS.
 *
 * usage: node ali_ons_ha_test.js <dir with mqnamesrv and mqbroker> */
const assert = require('assert');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { Producer, Consumer, Message } = require('ali-ons');
const { log, workDir, waitFor, pace, freePort, start: startIn, stop, remotingCall, runMain } = require('./lib');

const TOTAL = 300;
const TOPIC = 'CompatHaTopic';
const QUEUES = 4;
const TOTAL_TIMEOUT_MS = 150000;
const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../build/bin'));
const silentLogger = { info() {}, warn() {}, debug() {}, error() {} };
const httpclient = { request() { throw new Error('no onsAddr in this test'); } };
const start = (...a) => startIn(binDir, ...a);

function brokerConf(dir, name, port, nsPort, role, id) {
  return [
    'brokerClusterName=DefaultCluster', 'brokerName=broker-a', `brokerId=${id}`, `brokerRole=${role}`,
    'flushDiskType=ASYNC_FLUSH', `listenPort=${port}`, 'brokerIP1=127.0.0.1', 'listenAddress=127.0.0.1',
    `namesrvAddr=127.0.0.1:${nsPort}`, `storePathRootDir=${dir}/${name}`, 'mappedFileSizeCommitLog=16777216',
    'mappedFileSizeConsumeQueue=600000', 'maxHashSlotNum=10000', 'maxIndexNum=40000',
    'registerNameServerPeriod=1000', 'flushConsumerOffsetInterval=500', 'haSendHeartbeatInterval=500', '',
  ].join('\n');
}

/* a port p with p-2 .. p+1 free (VIP channel and HA port beside it) */
async function brokerPort() {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    const ok = await Promise.all([ p - 2, p - 1, p + 1 ].map(q => new Promise(res => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(q, '127.0.0.1', () => s.close(() => res(true)));
    })));
    if (ok.every(Boolean)) return p;
  }
  throw new Error('no free broker port');
}

async function main(dir) {
  log('work dir', dir, 'binaries', binDir);
  const nsPort = await freePort();
  const mPort = await brokerPort();
  const sPort = await brokerPort();
  fs.writeFileSync(path.join(dir, 'namesrv.conf'), `listenPort=${nsPort}\nlistenAddress=127.0.0.1\nkvConfigPath=${dir}/kvConfig.json\n`);
  fs.writeFileSync(path.join(dir, 'master.conf'), brokerConf(dir, 'master', mPort, nsPort, 'SYNC_MASTER', 0));
  fs.writeFileSync(path.join(dir, 'slave.conf'), brokerConf(dir, 'slave', sPort, nsPort, 'SLAVE', 1));
  await start('mqnamesrv', [ '-c', path.join(dir, 'namesrv.conf') ], path.join(dir, 'namesrv.log'), 'The Name Server boot success');
  const master = await start('mqbroker', [ '-c', path.join(dir, 'master.conf') ], path.join(dir, 'master.log'), 'boot success');
  await start('mqbroker', [ '-c', path.join(dir, 'slave.conf') ], path.join(dir, 'slave.log'), 'boot success');
  const created = await remotingCall(mPort, 17, {
    topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: String(QUEUES), writeQueueNums: String(QUEUES),
    perm: '6', topicFilterType: 'SINGLE_TAG', order: 'false' });
  assert.strictEqual(created.code, 0, `create topic: ${created.remark}`);
  assert(await waitFor(async () => (await remotingCall(nsPort, 105, { topic: TOPIC })).code === 0, 10000),
    'no route for the topic at the name server');
  // the slave in sync: SEND_OK then means the slave has the message
  const inSync = async () => { // GET_BROKER_RUNTIME_INFO
    const r = await remotingCall(mPort, 28, {});
    return r.code === 0 && JSON.parse(r.body.toString()).table.haInSyncSlaves === '1';
  };
  assert(await waitFor(inSync, 20000), 'the slave never came in sync');

  const common = {
    httpclient, nameSrv: `127.0.0.1:${nsPort}`, clientIP: '127.0.0.1', logger: silentLogger,
    heartbeatBrokerInterval: 1000, rebalanceInterval: 2000, persistConsumerOffsetInterval: 1000,
    pollNameServerInteval: 2000,
  };
  const producer = new Producer(Object.assign({}, common, { producerGroup: 'PID_COMPAT_HA', instanceName: 'p-ha' }));
  const errors = [];
  producer.on('error', e => errors.push(`producer: ${e.message}`));
  await producer.ready();
  // the shared internal producer (the consumers' retry fallback) reports the
  // killed master as errors; unhandled, they would end the process
  if (Producer.defaultProducer) Producer.defaultProducer.on('error', e => errors.push(`inner producer: ${e.message}`));
  for (let i = 0; i < TOTAL; i++) {
    const r = await producer.send(new Message(TOPIC, 'TagA', Buffer.from(`ha-${i}`)));
    assert.strictEqual(r.sendStatus, 'SEND_OK', `message ${i}: ${r.sendStatus}`);
  }
  log(`${TOTAL} messages sent, each SEND_OK from the SYNC_MASTER`);
  // the producer stays open (closed at the end): closed, its client would
  // report the killed master as an unhandled 'error' event

  const got = new Set();
  const consumer = new Consumer(Object.assign({}, common, { consumerGroup: 'GID_COMPAT_HA', instanceName: 'c-ha' }));
  consumer.on('error', e => errors.push(`consumer: ${e.message}`));
  consumer.subscribe(TOPIC, '*', async msg => {
    got.add(msg.body.toString());
    await pace(20, 'a slow consumer: the kill comes while most messages still wait');
  });
  await consumer.ready();
  assert(await waitFor(() => got.size >= 40, 60000), `only ${got.size} received before the kill`);
  log(`killing the master after ${got.size} received`);
  await stop(master, 'SIGKILL');
  await waitFor(() => got.size >= TOTAL, 90000);
  const missing = [];
  for (let i = 0; i < TOTAL; i++) if (!got.has(`ha-${i}`)) missing.push(i);
  assert.deepStrictEqual(missing, [], `missing after the master died: ${missing.slice(0, 20).join(',')} ` +
    `(${got.size}/${TOTAL}; errors: ${errors.slice(-3).join(' | ')})`);
  log(`all ${TOTAL} received, the last of them from the slave after the master was killed`);
  // close() removes the listeners, but a reconnect to the killed master that
  // failed just before it is reported a tick later (ali-ons emits 'error' from
  // setImmediate): unhandled, it would end the process after the test passed
  const afterClose = e => log(`after close (the killed master): ${e.message}`);
  await consumer.close();
  consumer.on('error', afterClose);
  await producer.close();
  producer.on('error', afterClose);
}

const dir = workDir('comet-compat-ha-');
runMain(() => main(dir), dir, TOTAL_TIMEOUT_MS);
