'use strict';
/* End-to-end compatibility test: the ali-ons RocketMQ client (npm, pinned in
 * package-lock.json) against Comet's mqnamesrv + mqbroker.
 *
 * 1. start mqnamesrv and mqbroker on free 127.0.0.1 ports in a temp dir;
 * 2. create the topic (UPDATE_AND_CREATE_TOPIC through a tiny remoting
 *    client: ali-ons needs a route before it can send);
 * 3. a clustering group of two consumers and one broadcasting consumer
 *    subscribe; a producer sends 500 messages with tags, keys and a user
 *    property; everything must arrive intact;
 * 4. the broker is restarted; 500 more are sent; consumption resumes from the
 *    committed offsets (no message missing, bounded redelivery);
 * 5. a third group fails some messages twice: ali-ons sends them back
 *    (CONSUMER_SEND_MSG_BACK) each time and they return through %RETRY%
 *    after their delay level (3 + reconsumeTimes: 1 s, then 2 s here) with
 *    reconsumeTimes 1, then 2.
 * 6. timed messages (setStartDeliverTime, __STARTDELIVERTIME) are held by the
 *    broker until due, then delivered with the property intact.
 * Exit code 0 = pass. Bounded: the whole run aborts after TOTAL_TIMEOUT_MS.
 *
 * usage: node ali_ons_test.js <dir with mqnamesrv and mqbroker> */
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { Producer, Consumer, Message } = require('ali-ons');

const TOTAL = 1000;
const TOPIC = 'CompatTopic';
const QUEUES = 4;
const TOTAL_TIMEOUT_MS = 240000;
const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../build/bin'));
const children = [];
const silentLogger = { info() {}, warn() {}, debug() {}, error() {} };
const httpclient = { request() { throw new Error('no onsAddr in this test'); } };

function log(...a) { console.log(new Date().toISOString(), ...a); }
const sleep = ms => new Promise(r => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function start(name, args, logFile, bootLine) {
  const before = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split(bootLine).length - 1 : 0;
  const out = fs.openSync(logFile, 'a');
  const child = spawn(path.join(binDir, name), args, { stdio: [ 'ignore', out, out ] });
  children.push(child);
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}), see ${logFile}`);
    if (fs.readFileSync(logFile, 'utf8').split(bootLine).length - 1 > before) return child;
    await sleep(50);
  }
  throw new Error(`${name} did not boot, see ${logFile}`);
}

function stop(child, signal) {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 8000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill(signal || 'SIGTERM');
  });
}

/* One remoting request (JSON header) and its response. */
function remotingCall(port, code, extFields) {
  return new Promise((resolve, reject) => {
    const header = Buffer.from(JSON.stringify({ code, language: 'JAVA', opaque: 1, flag: 0, version: 409, extFields }));
    const frame = Buffer.alloc(8 + header.length);
    frame.writeInt32BE(4 + header.length, 0);
    frame.writeInt32BE(header.length, 4);
    header.copy(frame, 8);
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('remoting call timed out')); }, 5000);
    sock.on('error', e => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => sock.write(frame));
    sock.on('data', d => {
      buf = Buffer.concat([ buf, d ]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        clearTimeout(timer);
        const hl = buf.readInt32BE(4) & 0xffffff;
        sock.end();
        resolve(JSON.parse(buf.slice(8, 8 + hl).toString()));
      }
    });
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'comet-compat-'));
  log('work dir', dir, 'binaries', binDir);
  const nsPort = await freePort();
  const bkPort = await freePort();
  fs.writeFileSync(path.join(dir, 'namesrv.conf'), `listenPort=${nsPort}\nlistenAddress=127.0.0.1\nkvConfigPath=${dir}/kvConfig.json\n`);
  fs.writeFileSync(path.join(dir, 'broker.conf'), [
    'brokerClusterName=DefaultCluster', 'brokerName=broker-a', 'brokerId=0', 'deleteWhen=04', 'fileReservedTime=48',
    'brokerRole=ASYNC_MASTER', 'flushDiskType=ASYNC_FLUSH', `listenPort=${bkPort}`, 'brokerIP1=127.0.0.1',
    'listenAddress=127.0.0.1', `namesrvAddr=127.0.0.1:${nsPort}`, `storePathRootDir=${dir}/store`,
    'mappedFileSizeCommitLog=16777216', 'mappedFileSizeConsumeQueue=600000', 'maxHashSlotNum=10000',
    'maxIndexNum=40000', 'registerNameServerPeriod=2000', 'flushConsumerOffsetInterval=500',
    // short delay levels so that retries (level 3 + reconsumeTimes) come back within the test,
    // and growing: the first retry (level 3) after 1 s, the second (level 4) after 2 s
    'messageDelayLevel=1s 1s 1s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s', '',
  ].join('\n'));
  await start('mqnamesrv', [ '-c', path.join(dir, 'namesrv.conf') ], path.join(dir, 'namesrv.log'), 'The Name Server boot success');
  let broker = await start('mqbroker', [ '-c', path.join(dir, 'broker.conf') ], path.join(dir, 'broker.log'), 'boot success');
  const created = await remotingCall(bkPort, 17, {
    topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: String(QUEUES), writeQueueNums: String(QUEUES),
    perm: '6', topicFilterType: 'SINGLE_TAG', order: 'false' });
  assert.strictEqual(created.code, 0, `create topic: ${created.remark}`);
  for (let i = 0; i < 100; i++) {
    const r = await remotingCall(nsPort, 105, { topic: TOPIC });
    if (r.code === 0) break;
    await sleep(100);
  }

  const common = {
    httpclient, nameSrv: `127.0.0.1:${nsPort}`, clientIP: '127.0.0.1', logger: silentLogger,
    heartbeatBrokerInterval: 2000, rebalanceInterval: 2000, persistConsumerOffsetInterval: 1000,
    pollNameServerInteval: 5000,
  };
  const received = { c1: new Map(), c2: new Map(), b1: new Map(), r1: new Map() };
  const failOnce = i => i % 100 === 7; // the retry group fails these twice
  const FAILS = 2;
  const retried = new Map(); // message index -> reconsumeTimes seen on the final redelivery
  const attempts = new Map(); // message index -> [{ at, reconsumeTimes }] per delivery
  const errors = [];
  const bad = [];
  function handler(who) {
    return async msg => {
      const body = msg.body.toString();
      const m = /^body-(\d+)$/.exec(body);
      if (!m) { bad.push(`${who}: unexpected body ${body}`); return; }
      const i = Number(m[1]);
      // retried messages too: ali-ons restores the original topic from RETRY_TOPIC
      if (msg.topic !== TOPIC) bad.push(`${who}: message ${i} topic ${msg.topic} (reconsumeTimes ${msg.reconsumeTimes})`);
      const wantTag = i % 2 ? 'TagB' : 'TagA';
      if (msg.tags !== wantTag) bad.push(`${who}: message ${i} tag ${msg.tags} != ${wantTag}`);
      if (msg.keys !== `key-${i} k${i % 7}`) bad.push(`${who}: message ${i} keys ${msg.keys}`);
      if (msg.properties.idx !== String(i) || msg.properties.app !== 'comet-compat') {
        bad.push(`${who}: message ${i} properties ${JSON.stringify(msg.properties)}`);
      }
      const seen = received[who];
      seen.set(i, (seen.get(i) || 0) + 1);
      if (who === 'r1' && failOnce(i)) {
        if (!attempts.has(i)) attempts.set(i, []);
        attempts.get(i).push({ at: Date.now(), reconsumeTimes: msg.reconsumeTimes });
        if (seen.get(i) <= FAILS) throw new Error(`fail on purpose: ${i}`); // => CONSUMER_SEND_MSG_BACK
        if (!retried.has(i)) retried.set(i, msg.reconsumeTimes);
      }
    };
  }
  const consumers = [];
  for (const [ who, opts ] of [
    [ 'c1', { consumerGroup: 'GID_COMPAT', instanceName: 'c1' } ],
    [ 'c2', { consumerGroup: 'GID_COMPAT', instanceName: 'c2' } ],
    [ 'b1', { consumerGroup: 'GID_COMPAT_BCAST', instanceName: 'b1', isBroadcast: true } ],
    [ 'r1', { consumerGroup: 'GID_COMPAT_RETRY', instanceName: 'r1' } ],
  ]) {
    const c = new Consumer(Object.assign({}, common, opts));
    c.on('error', e => { if (!/fail on purpose/.test(e.message)) errors.push(`${who}: ${e.message}`); });
    c.subscribe(TOPIC, '*', handler(who));
    await c.ready();
    consumers.push(c);
  }
  // the consumers' shared internal producer (retry fallback) reports broker restarts as errors
  if (Producer.defaultProducer) Producer.defaultProducer.on('error', e => errors.push(`inner producer: ${e.message}`));
  const producer = new Producer(Object.assign({}, common, { producerGroup: 'PID_COMPAT', instanceName: 'p1' }));
  producer.on('error', e => errors.push(`producer: ${e.message}`));
  await producer.ready();

  async function sendRange(from, to) {
    for (let i = from; i < to; i++) {
      const msg = new Message(TOPIC, i % 2 ? 'TagB' : 'TagA', Buffer.from(`body-${i}`));
      msg.keys = [ `key-${i}`, `k${i % 7}` ];
      msg.properties.idx = String(i);
      msg.properties.app = 'comet-compat';
      let ok = false;
      for (let attempt = 0; attempt < 40 && !ok; attempt++) {
        try {
          const r = await producer.send(msg);
          ok = r.sendStatus === 'SEND_OK';
          if (!ok) await sleep(250);
        } catch (e) {
          await sleep(250); // broker restarting: ali-ons does not retry on a single broker
        }
      }
      assert(ok, `message ${i} could not be sent`);
    }
  }
  function clusterCount(lo, hi) {
    let n = 0;
    for (let i = lo; i < hi; i++) if (received.c1.has(i) || received.c2.has(i)) n++;
    return n;
  }
  function retryDone(lo, hi) {
    for (let i = lo; i < hi; i++) {
      if (!received.r1.has(i)) return false;
      if (failOnce(i) && !retried.has(i)) return false;
    }
    return true;
  }
  function bcastCount(lo, hi) {
    let n = 0;
    for (let i = lo; i < hi; i++) if (received.b1.has(i)) n++;
    return n;
  }
  async function waitAll(lo, hi, ms) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (clusterCount(lo, hi) === hi - lo && bcastCount(lo, hi) === hi - lo && retryDone(lo, hi)) return;
      await sleep(200);
    }
    throw new Error(`timeout: clustering got ${clusterCount(lo, hi)}/${hi - lo}, broadcasting ${bcastCount(lo, hi)}/${hi - lo}, ` +
      `retry group ${received.r1.size}, redelivered after failure ${retried.size}` +
      ` (errors: ${errors.slice(-5).join(' | ')})`);
  }

  // let both clustering consumers see each other and split the queues
  await sleep(5000);
  const half = TOTAL / 2;
  log('sending', half);
  await sendRange(0, half);
  await waitAll(0, half, 60000);
  log('first half consumed: c1', received.c1.size, 'c2', received.c2.size, 'b1', received.b1.size);
  await sleep(2500); // let the consumers commit their offsets (every 1 s)
  const deliveries = lo => { let n = 0; for (const m of [ received.c1, received.c2 ]) for (const [ k, v ] of m) if (k < lo) n += v; return n; };
  const firstHalfBefore = deliveries(half);
  const dupBefore = firstHalfBefore - half;

  log('restarting the broker');
  await stop(broker, 'SIGTERM');
  broker = await start('mqbroker', [ '-c', path.join(dir, 'broker.conf') ], path.join(dir, 'broker.log'), 'boot success');
  log('sending', TOTAL - half);
  await sendRange(half, TOTAL);
  await waitAll(0, TOTAL, 120000);

  await sleep(1000);
  const dups = deliveries(half) - firstHalfBefore; // first-half messages delivered again after the restart
  log(`all ${TOTAL} consumed: c1 ${received.c1.size}, c2 ${received.c2.size}, broadcast ${received.b1.size}, ` +
      `redelivered after restart ${dups}, duplicates before restart ${dupBefore}`);
  assert.deepStrictEqual(bad, [], bad.slice(0, 10).join('\n'));
  // each failure went through CONSUMER_SEND_MSG_BACK and the schedule service (not ali-ons'
  // immediate local fallback): parked for level 3 (1 s), then level 4 (2 s); reconsumeTimes 0, 1, 2
  const gaps = [ [], [] ];
  for (const [ i, a ] of attempts) {
    assert(a.length >= FAILS + 1, `message ${i} delivered ${a.length} times, wanted ${FAILS + 1}`);
    for (let k = 0; k <= FAILS; k++) {
      assert.strictEqual(a[k].reconsumeTimes, k, `message ${i} delivery ${k + 1} has reconsumeTimes ${a[k].reconsumeTimes}`);
    }
    for (let k = 0; k < FAILS; k++) gaps[k].push(a[k + 1].at - a[k].at);
  }
  const [ min1, min2 ] = gaps.map(g => Math.min(...g));
  const [ avg1, avg2 ] = gaps.map(g => g.reduce((x, y) => x + y, 0) / g.length);
  assert(min1 >= 800, `a first retry came back after ${min1} ms, before its 1 s delay level`);
  assert(min2 >= 1800, `a second retry came back after ${min2} ms, before its 2 s delay level`);
  assert(avg2 > avg1, `retry delays do not grow: ${avg1} ms then ${avg2} ms on average`);
  log(`retry group: ${retried.size} messages failed twice and came back through %RETRY% with reconsumeTimes 1 then 2 ` +
      `(first retry after ${min1}..${Math.max(...gaps[0])} ms, second after ${min2}..${Math.max(...gaps[1])} ms)`);
  assert(received.c1.size > 0 && received.c2.size > 0, 'both clustering consumers must get queues');
  assert(dups < half / 2, `consumption did not resume from the committed offset (${dups} redeliveries)`);

  // 6. ali-ons' timed delivery (setStartDeliverTime => __STARTDELIVERTIME): held by the broker until due
  const TIMER_TOPIC = 'CompatTimerTopic';
  const tc = await remotingCall(bkPort, 17, {
    topic: TIMER_TOPIC, defaultTopic: 'TBW102', readQueueNums: '1', writeQueueNums: '1',
    perm: '6', topicFilterType: 'SINGLE_TAG', order: 'false' });
  assert.strictEqual(tc.code, 0, `create topic: ${tc.remark}`);
  for (let i = 0; i < 100; i++) {
    const r = await remotingCall(nsPort, 105, { topic: TIMER_TOPIC });
    if (r.code === 0) break;
    await sleep(100);
  }
  const timed = new Map(); // body -> { due, at }
  const tcons = new Consumer(Object.assign({}, common, { consumerGroup: 'GID_COMPAT_TIMER', instanceName: 't1' }));
  tcons.on('error', e => errors.push(`timer consumer: ${e.message}`));
  tcons.subscribe(TIMER_TOPIC, '*', async msg => {
    const body = msg.body.toString();
    if (!timed.has(body)) timed.set(body, { at: Date.now(), due: Number(msg.getStartDeliverTime()) });
  });
  await tcons.ready();
  consumers.push(tcons);
  const TIMED = 5;
  for (let i = 0; i < TIMED; i++) {
    const msg = new Message(TIMER_TOPIC, 'TagT', Buffer.from(`timed-${i}`));
    msg.setStartDeliverTime(Date.now() + 2500 + 300 * i);
    let ok = false;
    for (let attempt = 0; attempt < 20 && !ok; attempt++) {
      try {
        ok = (await producer.send(msg)).sendStatus === 'SEND_OK';
      } catch (e) {
        await sleep(250); // the route of the new topic may still be on its way
      }
    }
    assert(ok, `timed message ${i} could not be sent`);
  }
  const timedDeadline = Date.now() + 20000;
  while (timed.size < TIMED && Date.now() < timedDeadline) await sleep(100);
  assert.strictEqual(timed.size, TIMED, `only ${timed.size} of ${TIMED} timed messages delivered`);
  for (const [ body, t ] of timed) {
    assert(t.due > 0, `${body} lost its __STARTDELIVERTIME`);
    assert(t.at >= t.due, `${body} delivered ${t.due - t.at} ms before its delivery time`);
  }
  log(`timed delivery: ${TIMED} messages with __STARTDELIVERTIME delivered ` +
      `${Math.min(...[ ...timed.values() ].map(t => t.at - t.due))}..${Math.max(...[ ...timed.values() ].map(t => t.at - t.due))} ms after due`);

  for (const c of consumers) await c.close();
  await producer.close();
  await stop(broker, 'SIGTERM');
  log('PASS');
}

const guard = setTimeout(() => { console.error('FAIL: total timeout'); cleanup().then(() => process.exit(1)); }, TOTAL_TIMEOUT_MS);
async function cleanup() {
  for (const c of children) await stop(c, 'SIGTERM');
}
main().then(async () => {
  clearTimeout(guard);
  await cleanup();
  process.exit(0);
}, async err => {
  console.error('FAIL:', err && err.stack || err);
  clearTimeout(guard);
  await cleanup();
  process.exit(1);
});
