'use strict';
/* Interop test: libcomet <-> ali-ons through Comet's mqnamesrv + mqbroker.
 *
 * 1. start mqnamesrv and mqbroker on free 127.0.0.1 ports in a temp dir and
 *    create two topics;
 * 2. libcomet -> ali-ons: comet_interop sends N messages (tags, keys, a user
 *    property, every 10th compressed); an ali-ons consumer must receive every
 *    one with those fields intact;
 * 3. ali-ons -> libcomet: an ali-ons producer sends N messages (every 10th
 *    over 4 KiB, which ali-ons compresses); comet_interop consume must get
 *    them all, decompressed, with tags, keys and property.
 * Bounded by TOTAL_TIMEOUT_MS. Exit 0 = pass.
 * usage: node interop.js <bin dir with mqnamesrv, mqbroker, comet_interop> */
const assert = require('assert');
const { execFile } = require('child_process');
const fs = require('fs');
const path = require('path');
const { Producer, Consumer, Message } = require('ali-ons');
const { log, workDir, waitFor, freePort, start: startIn, remotingCall, runMain } = require('../lib');

const N = 200;
const TOTAL_TIMEOUT_MS = 180000;
const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../../build/bin'));
const silentLogger = { info() {}, warn() {}, debug() {}, error() {} };
const httpclient = { request() { throw new Error('no onsAddr in this test'); } };
const start = (...a) => startIn(binDir, ...a);

function run(args, timeoutMs) {
  return new Promise(resolve => {
    execFile(path.join(binDir, 'comet_interop'), args, { timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code || 1) : 0, stdout, stderr }));
  });
}

async function main(dir) {
  log('work dir', dir);
  const nsPort = await freePort();
  const bkPort = await freePort();
  fs.writeFileSync(path.join(dir, 'namesrv.conf'), `listenPort=${nsPort}\nlistenAddress=127.0.0.1\nkvConfigPath=${dir}/kv.json\n`);
  fs.writeFileSync(path.join(dir, 'broker.conf'), [
    'brokerClusterName=DefaultCluster', 'brokerName=broker-a', 'brokerId=0', `listenPort=${bkPort}`,
    'brokerIP1=127.0.0.1', 'listenAddress=127.0.0.1', `namesrvAddr=127.0.0.1:${nsPort}`,
    `storePathRootDir=${dir}/store`, 'mappedFileSizeCommitLog=16777216', 'mappedFileSizeConsumeQueue=600000',
    'maxHashSlotNum=10000', 'maxIndexNum=40000', 'registerNameServerPeriod=2000', '',
  ].join('\n'));
  await start('mqnamesrv', [ '-c', path.join(dir, 'namesrv.conf') ], path.join(dir, 'namesrv.log'), 'The Name Server boot success');
  await start('mqbroker', [ '-c', path.join(dir, 'broker.conf') ], path.join(dir, 'broker.log'), 'boot success');
  for (const topic of [ 'InteropC2N', 'InteropN2C', 'InteropMix' ]) {
    const q = topic === 'InteropMix' ? '8' : '4';
    const r = await remotingCall(bkPort, 17, { topic, defaultTopic: 'TBW102', readQueueNums: q,
      writeQueueNums: q, perm: '6', topicFilterType: 'SINGLE_TAG', order: 'false' });
    assert.strictEqual(r.code, 0, `create ${topic}: ${r.remark}`);
    assert(await waitFor(async () => (await remotingCall(nsPort, 105, { topic })).code === 0, 20000), `${topic} never routed`);
  }
  const ns = `127.0.0.1:${nsPort}`;
  const common = { httpclient, nameSrv: ns, clientIP: '127.0.0.1', logger: silentLogger,
    heartbeatBrokerInterval: 2000, rebalanceInterval: 2000, persistConsumerOffsetInterval: 1000 };

  // ---- libcomet -> ali-ons ----
  const got = new Map();
  const bad = [];
  const consumer = new Consumer(Object.assign({}, common, { consumerGroup: 'GID_INTEROP_N', instanceName: 'n1',
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }));
  consumer.subscribe('InteropC2N', '*', async msg => {
    const body = msg.body.toString();
    const m = /^comet-(\d+)(z*)$/.exec(body);
    if (!m) { bad.push(`ali-ons: unexpected body ${body.slice(0, 40)}`); return; }
    const i = Number(m[1]);
    if (msg.tags !== (i % 2 ? 'TagB' : 'TagA')) bad.push(`ali-ons: ${i} tags ${msg.tags}`);
    if (msg.keys !== `ck-${i}`) bad.push(`ali-ons: ${i} keys ${msg.keys}`);
    if (msg.properties.idx !== String(i)) bad.push(`ali-ons: ${i} idx ${msg.properties.idx}`);
    if ((i % 10 === 9) !== (m[2].length === 5000)) bad.push(`ali-ons: ${i} body length ${body.length}`);
    got.set(i, (got.get(i) || 0) + 1);
  });
  await consumer.ready();
  const prod = await run([ 'produce', ns, 'InteropC2N', String(N) ], 60000);
  assert.strictEqual(prod.code, 0, `comet_interop produce failed: ${prod.stderr}`);
  assert.strictEqual(prod.stdout.split('\n').filter(l => l.startsWith('SENT ')).length, N);
  await waitFor(() => got.size >= N, 60000);
  log(`libcomet -> ali-ons: ${got.size}/${N} received`);
  assert.deepStrictEqual(bad, [], bad.slice(0, 10).join('\n'));
  assert.strictEqual(got.size, N, `ali-ons received ${got.size} of ${N} messages produced by libcomet`);
  await consumer.close();

  // ---- ali-ons -> libcomet ----
  const producer = new Producer(Object.assign({}, common, { producerGroup: 'PID_INTEROP_N', instanceName: 'p1' }));
  await producer.ready();
  for (let i = 0; i < N; i++) {
    const body = i % 10 === 9 ? `ons-${i}` + 'y'.repeat(5000) : `ons-${i}`;
    const msg = new Message('InteropN2C', i % 2 ? 'TagB' : 'TagA', Buffer.from(body));
    msg.keys = [ `nk-${i}` ];
    msg.properties.idx = String(i);
    const r = await producer.send(msg);
    assert.strictEqual(r.sendStatus, 'SEND_OK');
  }
  await producer.close();
  const cons = await run([ 'consume', ns, 'InteropN2C', 'GID_INTEROP_C', String(N), '60' ], 90000);
  const lines = cons.stdout.split('\n').filter(l => l.startsWith('GOT '));
  const seen = new Set();
  for (const l of lines) {
    const [ , tags, keys, idx, len, prefix ] = l.split(' ');
    const m = /^ons-(\d+)/.exec(prefix || '');
    if (!m) { bad.push(`libcomet: unexpected ${l.slice(0, 80)}`); continue; }
    const i = Number(m[1]);
    if (tags !== (i % 2 ? 'TagB' : 'TagA')) bad.push(`libcomet: ${i} tags ${tags}`);
    if (keys !== `nk-${i}`) bad.push(`libcomet: ${i} keys ${keys}`);
    if (idx !== String(i)) bad.push(`libcomet: ${i} idx ${idx}`);
    const want = (i % 10 === 9 ? 5000 : 0) + `ons-${i}`.length;
    if (Number(len) !== want) bad.push(`libcomet: ${i} body length ${len} != ${want} (decompression)`);
    seen.add(i);
  }
  log(`ali-ons -> libcomet: ${seen.size}/${N} received (${cons.stderr.trim()})`);
  assert.deepStrictEqual(bad, [], bad.slice(0, 10).join('\n'));
  assert.strictEqual(cons.code, 0, `comet_interop consume: ${cons.stderr}`);
  assert.strictEqual(seen.size, N);

  // ---- one clustering group, one ali-ons and one libcomet member ----
  // Both allocate with AllocateMessageQueueAveragely over the same sorted
  // inputs, so the 8 queues must be split 4 / 4 with none consumed twice.
  const mixed = new Map();
  const onsMix = new Consumer(Object.assign({}, common, { consumerGroup: 'GID_MIX', instanceName: 'mix-ons',
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }));
  let onsCount = 0;
  onsMix.subscribe('InteropMix', '*', async msg => {
    const i = Number(/^mix-(\d+)$/.exec(msg.body.toString())[1]);
    mixed.set(i, (mixed.get(i) || 0) + 1);
    onsCount++;
  });
  await onsMix.ready();
  const cometRun = run([ 'consume', ns, 'InteropMix', 'GID_MIX', '0', '25' ], 60000);
  // both members registered; they split the queues on the broker's NOTIFY
  const members = async () => {
    const r = await remotingCall(bkPort, 38, { consumerGroup: 'GID_MIX' });
    return r.code === 0 ? JSON.parse(r.body.toString()).consumerIdList.length : 0;
  };
  const onsQueues = () => [ ...onsMix.processQueueTable.values() ].filter(v => v.messageQueue.topic === 'InteropMix').length;
  assert(await waitFor(async () => await members() === 2 && onsQueues() === 4, 30000),
    `the mixed group did not split the 8 queues (members ${await members()}, ali-ons holds ${onsQueues()})`);
  const mixProducer = new Producer(Object.assign({}, common, { producerGroup: 'PID_MIX', instanceName: 'p2' }));
  await mixProducer.ready();
  for (let i = 0; i < N; i++) {
    const r = await mixProducer.send(new Message('InteropMix', 'M', Buffer.from(`mix-${i}`)));
    assert.strictEqual(r.sendStatus, 'SEND_OK');
  }
  await mixProducer.close();
  const mix = await cometRun;
  let cometCount = 0;
  for (const l of mix.stdout.split('\n')) {
    const m = /^GOT \S+ \S+ \S+ \d+ mix-(\d+)$/.exec(l);
    if (!m) continue;
    const i = Number(m[1]);
    mixed.set(i, (mixed.get(i) || 0) + 1);
    cometCount++;
  }
  await onsMix.close();
  const dups = [ ...mixed.values() ].filter(v => v > 1).length;
  const assigned = mix.stdout.split('\n').filter(l => l.startsWith('ASSIGNED ')).pop();
  log(`mixed group: ali-ons ${onsCount}, libcomet ${cometCount} (${assigned}), distinct ${mixed.size}/${N}, ` +
      `consumed twice ${dups}`);
  assert.strictEqual(mix.code, 0, `comet_interop mixed consumer: ${mix.stderr}`);
  assert.strictEqual(mixed.size, N, 'every message consumed by the mixed group');
  assert(onsCount > 0 && cometCount > 0, 'both members got queues');
  assert.strictEqual(dups, 0, 'the two clients disagree about the allocation');
}

const dir = workDir('comet-interop-');
runMain(() => main(dir), dir, TOTAL_TIMEOUT_MS);
