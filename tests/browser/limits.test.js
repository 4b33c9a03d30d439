'use strict';
/* limits.test.js - mqconsole's HTTP under hostile and abundant clients,
 * against a name server and a broker (real processes), with small limits
 * (maxConnections=8, workerThreads=1, maxPendingRequests=2):
 *   1. hostile requests get their status and a JSON reason: a 1 MiB query
 *      string (414), 100 KB of headers (431), a 100 KiB body (413), 40
 *      parameters, bad percent-encoding, a NUL byte, a ".." path (400),
 *      chunked bodies (501), HTTP/2.0 (505), a TLS hello (400);
 *   2. slow clients: eight connections holding half a request head take
 *      every slot; one more is answered 503 at once; the broker keeps
 *      answering sends meanwhile; the slow ones are answered 408 and closed
 *      within the request deadline (10 s), and the console serves again;
 *   3. many connections: 200 clients at once asking for views and for
 *      searches that need a worker: every one gets an answer, each 200, 404
 *      or 503 with a JSON reason (none hangs, none is cut off), and the
 *      console answers afterwards.
 * usage: node limits.test.js <bin dir> */
const assert = require('assert');
const net = require('net');
const path = require('path');
const { Cluster, log, waitFor, createTopic, sendMessage, getJson } = require('./lib/cluster');

const binDir = process.argv[2] || path.join(__dirname, '../../build/bin');
const TOTAL_TIMEOUT_MS = 150000;

/* Send raw bytes, read until the server closes (bounded): {status, text};
 * status -1 when no HTTP answer came. */
function rawHttp(port, bytes, timeoutMs) {
  return new Promise(resolve => {
    const s = net.connect(port, '127.0.0.1');
    const chunks = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : -1, text });
    };
    const t = setTimeout(finish, timeoutMs || 15000);
    s.on('data', c => chunks.push(c));
    s.on('end', finish);
    s.on('close', finish);
    s.on('error', finish); /* a reset after the answer: what was read counts */
    s.on('connect', () => s.write(bytes));
  });
}

function jsonReason(text) {
  const i = text.indexOf('\r\n\r\n');
  try { return JSON.parse(text.slice(i + 4)).error; } catch (e) { return undefined; }
}

async function main() {
  const cl = new Cluster(binDir, 'limits');
  let passed = false;
  const held = [];
  try {
    await cl.namesrv();
    const b = await cl.broker('broker-l');
    const base = await cl.console(['maxConnections=8', 'workerThreads=1', 'maxPendingRequests=2', 'pollIntervalMs=500']);
    const port = Number(new URL(base).port);
    await createTopic(b.addr, 'LimitsTopic', 2);
    await sendMessage(b.addr, 'LimitsTopic', 0, 'a message to search for', { keys: 'limits-key' });
    assert(await waitFor(async () => (await getJson(base + '/api/config')).json.polls >= 1, 20000), 'the console never polled');

    /* 1. hostile requests */
    const huge = 'A'.repeat(1 << 20);
    const params = Array.from({ length: 40 }, (_, i) => 'p' + i + '=1').join('&');
    const cases = [
      ['a 1 MiB query string', 'GET /api/messages?topic=' + huge + ' HTTP/1.1\r\nHost: t\r\n\r\n', [414, 431]],
      ['100 KB of headers', 'GET /api/config HTTP/1.1\r\n' + 'X-Filler: '.concat('y'.repeat(100)).concat('\r\n').repeat(1000) + '\r\n', [431]],
      ['a 100 KiB body', 'POST /api/message/resend HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 102400\r\n\r\n' + '{'.repeat(102400), [413]],
      ['40 parameters', 'GET /api/messages?' + params + ' HTTP/1.1\r\nConnection: close\r\n\r\n', [400]],
      ['bad percent-encoding', 'GET /api/messages?topic=%zz HTTP/1.1\r\nConnection: close\r\n\r\n', [400]],
      ['a NUL byte in the target', 'GET /api/messages?topic=a%00b HTTP/1.1\r\nConnection: close\r\n\r\n', [400]],
      ['a .. path', 'GET /../../etc/passwd HTTP/1.1\r\nConnection: close\r\n\r\n', [400]],
      ['a chunked body', 'POST /api/message/resend HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', [501]],
      ['HTTP/2.0', 'GET /api/config HTTP/2.0\r\n\r\n', [505]],
      ['a TLS hello', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', [400]],
    ];
    for (const [what, bytes, want] of cases) {
      const r = await rawHttp(port, Buffer.from(bytes, 'latin1'));
      assert(want.includes(r.status), what + ': got ' + r.status + ' ' + r.text.slice(0, 200));
      assert(typeof jsonReason(r.text) === 'string', what + ': no JSON reason: ' + r.text.slice(0, 300));
      log(what, '->', r.status, jsonReason(r.text));
    }
    assert.strictEqual((await getJson(base + '/api/config')).status, 200, 'the console answers after the hostile requests');

    /* 2. slow clients hold every slot */
    for (let i = 0; i < 8; i++) {
      const s = net.connect(port, '127.0.0.1');
      const h = { s, chunks: [], closed: false };
      s.on('data', c => h.chunks.push(c));
      s.on('close', () => { h.closed = true; });
      s.on('error', () => { h.closed = true; });
      await new Promise((res, rej) => { s.once('connect', res); s.once('error', rej); });
      s.write('GET /api/con'); /* half a request head, never finished */
      held.push(h);
    }
    /* fails if a ninth connection waits for a slot instead of being refused */
    const refused = await waitFor(async () => {
      const r = await rawHttp(port, 'GET /api/config HTTP/1.1\r\nConnection: close\r\n\r\n', 5000);
      return r.status === 503 ? r : undefined;
    }, 8000, 50);
    assert(refused, 'a connection over maxConnections was not answered 503');
    assert(typeof jsonReason(refused.text) === 'string', 'the 503 has a reason: ' + refused.text);
    /* the message path is another process, and it answers meanwhile */
    for (let i = 0; i < 10; i++) await sendMessage(b.addr, 'LimitsTopic', i % 2, 'sent while the console is saturated ' + i);
    /* fails if a slow client is never cut off (the request deadline is 10 s) */
    assert(await waitFor(() => held.every(h => h.closed), 25000, 100), 'slow clients were not closed by the console');
    for (const h of held) {
      const text = Buffer.concat(h.chunks).toString();
      assert(/^HTTP\/1\.1 408 /.test(text), 'a slow client got: ' + text.slice(0, 200));
    }
    assert(await waitFor(async () => (await getJson(base + '/api/config')).status === 200, 10000), 'the console did not serve again');

    /* 3. many clients at once */
    const urls = [];
    for (let i = 0; i < 200; i++) {
      urls.push(i % 4 === 0 ? '/api/cluster' : i % 4 === 1 ? '/api/topics' : i % 4 === 2 ? '/api/messages?topic=LimitsTopic&key=limits-key'
        : '/api/topic?topic=LimitsTopic');
    }
    const answers = await Promise.all(urls.map(u => rawHttp(port, 'GET ' + u + ' HTTP/1.1\r\nConnection: close\r\n\r\n', 30000)));
    const counts = {};
    answers.forEach((r, i) => {
      counts[r.status] = (counts[r.status] || 0) + 1;
      assert([200, 404, 503].includes(r.status), urls[i] + ': got ' + r.status + ' ' + r.text.slice(0, 200));
      if (r.status !== 200) assert(typeof jsonReason(r.text) === 'string', urls[i] + ': no reason: ' + r.text.slice(0, 200));
      else assert(r.text.includes('\r\n\r\n{'), urls[i] + ': a 200 without a JSON body');
    });
    log('200 clients at once:', JSON.stringify(counts), '(503: over maxConnections or maxPendingRequests)');
    assert(counts[200] > 0, 'no client was served');
    const after = await getJson(base + '/api/messages?topic=LimitsTopic&key=limits-key');
    assert.strictEqual(after.status, 200, 'the console searches afterwards: ' + after.text);
    assert(after.json.messages.some(m => m.body === 'a message to search for'), 'the search finds the message');
    passed = true;
  } finally {
    for (const h of held) h.s.destroy();
    const ranThrough = passed;
    const bad = await cl.stop();
    if (bad.length) passed = false;
    cl.cleanup(passed);
    if (bad.length && ranThrough) throw new Error('servers did not stop cleanly: ' + bad.join('; '));
  }
}

const killer = setTimeout(() => { console.error('limits.test.js: timed out after', TOTAL_TIMEOUT_MS, 'ms'); process.exit(1); }, TOTAL_TIMEOUT_MS);
main().then(() => { clearTimeout(killer); log('limits.test.js: PASS'); process.exit(0); },
  e => { clearTimeout(killer); console.error('limits.test.js: FAIL:', e && e.stack || e); process.exit(1); });
