'use strict';
/* cluster.js - test support for the browser and metrics tests: real
 * mqnamesrv / mqbroker / mqconsole processes on free 127.0.0.1 ports in a
 * temporary directory, stopped by PID (only the ones started here); a tiny
 * remoting client (JSON headers) to create topics, send messages with
 * chosen properties, pull and commit like a consumer; HTTP helpers; and
 * waitFor, the only way these tests wait (a polled condition with a bound).
 * The temporary directory is removed when the test passed and kept (its
 * path printed) when it failed. */
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

function log(...a) { console.log(new Date().toISOString().slice(11, 23), ...a); }

/* Poll cond() (sync or async) every `every` ms until it returns a truthy
 * value or `ms` passed; returns the last value (falsy on timeout). */
async function waitFor(cond, ms, every) {
  const deadline = Date.now() + ms;
  let v;
  for (let i = 0; i < 100000; i++) {
    try { v = await cond(); } catch (e) { v = undefined; }
    if (v || Date.now() >= deadline) return v;
    await new Promise(r => setTimeout(r, every || 100)); /* rules: pacing - the poll interval of waitFor itself */
  }
  return v;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/* A port P with P-2..P+1 free too (a broker uses P-2 and P+1). */
async function brokerPort() {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p < 1100 || p > 65000) continue;
    let ok = true;
    for (const q of [p - 2, p - 1, p + 1]) {
      ok = ok && await new Promise(res => {
        const s = net.createServer();
        s.once('error', () => res(false));
        s.listen(q, '127.0.0.1', () => s.close(() => res(true)));
      });
    }
    if (ok) return p;
  }
  throw new Error('no free broker port');
}

class Cluster {
  constructor(binDir, name) {
    this.bin = path.resolve(binDir);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'comet-' + name + '-'));
    this.children = [];
    this.brokers = [];
    /* whatever happens to this test process, the servers it started die with it */
    process.on('exit', () => { for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
    log('work dir', this.dir);
  }

  async start(exe, args, logName, bootLine) {
    const logFile = path.join(this.dir, logName);
    const out = fs.openSync(logFile, 'a');
    const child = spawn(path.join(this.bin, exe), args, { stdio: ['ignore', out, out], cwd: this.dir });
    fs.closeSync(out);
    child.logFile = logFile;
    this.children.push(child);
    const ok = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(exe + ' exited with ' + child.exitCode + ', see ' + logFile);
      return fs.readFileSync(logFile, 'utf8').includes(bootLine);
    }, 20000, 50);
    if (child.exitCode !== null || !ok) throw new Error(exe + ' did not boot, see ' + logFile);
    return child;
  }

  async namesrv(extra) {
    this.nsPort = await freePort();
    const conf = path.join(this.dir, 'namesrv.conf');
    fs.writeFileSync(conf, [`listenPort=${this.nsPort}`, 'listenAddress=127.0.0.1', `kvConfigPath=${this.dir}/kv.json`].concat(extra || []).join('\n') + '\n');
    await this.start('mqnamesrv', ['-c', conf], 'namesrv.log', 'The Name Server boot success');
    this.nsAddr = '127.0.0.1:' + this.nsPort;
    return this.nsAddr;
  }

  /* A broker of group `name`; `id` names its files when a group has more
   * than one (a slave: extra brokerRole=SLAVE, brokerId=N). */
  async broker(name, extra, id) {
    const port = await brokerPort();
    const file = id || name;
    const conf = path.join(this.dir, file + '.conf');
    fs.writeFileSync(conf, [
      'brokerClusterName=WebCluster', `brokerName=${name}`, 'brokerId=0', `listenPort=${port}`, 'brokerIP1=127.0.0.1',
      'listenAddress=127.0.0.1', `namesrvAddr=${this.nsAddr}`, `storePathRootDir=${this.dir}/${file}`,
      'mappedFileSizeCommitLog=33554432', 'mappedFileSizeConsumeQueue=600000', 'maxHashSlotNum=10000', 'maxIndexNum=40000',
      'registerNameServerPeriod=1000', 'flushConsumerOffsetInterval=500',
    ].concat(extra || []).join('\n') + '\n');
    const child = await this.start('mqbroker', ['-c', conf], file + '.log', 'boot success');
    const b = { name, port, addr: '127.0.0.1:' + port, child };
    this.brokers.push(b);
    return b;
  }

  async console(extra) {
    const port = await freePort();
    await this.start('mqconsole', ['-n', this.nsAddr, '-o', 'listenPort=' + port].concat((extra || []).flatMap(x => ['-o', x])),
      'console-' + port + '.log', 'The console boot success');
    return 'http://127.0.0.1:' + port;
  }

  /* Stop every process started here (SIGTERM, SIGKILL after 8 s) and say
   * which did not end cleanly: a server stopped with SIGTERM must exit 0
   * and leave no sanitizer report in its log. */
  async stop() {
    const problems = [];
    await Promise.all(this.children.map(c => new Promise(resolve => {
      const done = () => {
        const name = path.basename(c.spawnfile);
        if (c.exitCode !== 0) problems.push(name + ' ended with ' + (c.exitCode !== null ? 'exit ' + c.exitCode : c.signalCode) + ' (' + c.logFile + ')');
        const logText = fs.existsSync(c.logFile) ? fs.readFileSync(c.logFile, 'utf8') : '';
        const m = /(Address|Leak|UndefinedBehavior|Thread)Sanitizer[^\n]*/.exec(logText);
        if (m) problems.push(name + ': ' + m[0] + ' (' + c.logFile + ')');
        resolve();
      };
      if (c.exitCode !== null || c.signalCode !== null) return done();
      const t = setTimeout(() => c.kill('SIGKILL'), 8000);
      c.once('exit', () => { clearTimeout(t); done(); });
      c.kill('SIGTERM');
    })));
    for (const p of problems) log('server problem:', p);
    return problems;
  }

  cleanup(passed) {
    if (passed) fs.rmSync(this.dir, { recursive: true, force: true });
    else log('FAILED: processes\' data and logs kept in', this.dir);
  }
}

/* ---------- remoting (JSON headers) ---------- */

let opaque = 1;
function frame(code, extFields, body) {
  const header = Buffer.from(JSON.stringify({ code, language: 'JAVA', opaque: opaque++, flag: 0, version: 409, extFields }));
  const b = body ? Buffer.from(body) : Buffer.alloc(0);
  const f = Buffer.alloc(8 + header.length + b.length);
  f.writeInt32BE(4 + header.length + b.length, 0);
  f.writeInt32BE(header.length, 4);
  header.copy(f, 8);
  b.copy(f, 8 + header.length);
  return f;
}

/* RocketMQ 4.x ACL signature (AclClientRPCHook): AccessKey added, then
 * Base64(HMAC-SHA1(secret, the extFields' values sorted by key + body)). */
function sign(extFields, body, accessKey, secretKey) {
  const ext = Object.assign({}, extFields, { AccessKey: accessKey });
  const content = Object.keys(ext).sort().map(k => ext[k]).join('');
  const h = crypto.createHmac('sha1', Buffer.from(secretKey, 'utf8'));
  h.update(Buffer.from(content, 'utf8'));
  if (body) h.update(Buffer.from(body));
  ext.Signature = h.digest('base64');
  return ext;
}

/* One request, its response: {code, remark, extFields, body}; signed when
 * creds = {accessKey, secretKey} is given. */
function remoting(addr, code, extFields, body, creds) {
  if (creds) extFields = sign(extFields, body, creds.accessKey, creds.secretKey);
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), host);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('remoting call ' + code + ' timed out')); }, 10000);
    sock.on('error', e => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => sock.write(frame(code, extFields, body)));
    sock.on('data', d => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        clearTimeout(timer);
        const total = buf.readInt32BE(0), hl = buf.readInt32BE(4) & 0xffffff;
        const h = JSON.parse(buf.slice(8, 8 + hl).toString());
        h.body = buf.slice(8 + hl, 4 + total);
        sock.end();
        resolve(h);
      }
    });
  });
}

async function createTopic(brokerAddr, topic, queues) {
  const r = await remoting(brokerAddr, 17, { topic, defaultTopic: 'TBW102', readQueueNums: String(queues), writeQueueNums: String(queues), perm: '6', topicFilterType: 'SINGLE_TAG', order: 'false' });
  if (r.code !== 0) throw new Error('create topic ' + topic + ': ' + r.remark);
}

function uniqKey() { return crypto.randomBytes(16).toString('hex').toUpperCase(); }

/* SEND_MESSAGE_V2 with tags, keys, extra properties; returns
 * {msgId (UNIQ_KEY), offsetMsgId, queueId, queueOffset}. */
async function sendMessage(brokerAddr, topic, queueId, body, opts) {
  const o = opts || {};
  const uniq = o.uniq || uniqKey();
  const props = Object.assign({}, o.props || {});
  if (o.tags) props.TAGS = o.tags;
  if (o.keys) props.KEYS = o.keys;
  props.UNIQ_KEY = uniq;
  props.WAIT = 'true';
  const ps = Object.entries(props).map(([k, v]) => k + '\u0001' + v + '\u0002').join('');
  const r = await remoting(brokerAddr, 310, { a: 'WEB_TEST_PG', b: topic, c: 'TBW102', d: '4', e: String(queueId), f: '0',
    g: String(Date.now()), h: '0', i: ps, j: '0', k: 'false' }, body);
  if (r.code !== 0) throw new Error('send: ' + r.remark);
  return { msgId: uniq, offsetMsgId: r.extFields.msgId, queueId: Number(r.extFields.queueId), queueOffset: Number(r.extFields.queueOffset) };
}

/* PULL_MESSAGE without committing: number of records. */
async function pullCount(brokerAddr, group, topic, queueId, offset, max) {
  const r = await remoting(brokerAddr, 11, { consumerGroup: group, topic, queueId: String(queueId), queueOffset: String(offset),
    maxMsgNums: String(max), sysFlag: '4', commitOffset: '0', suspendTimeoutMillis: '0', subscription: '*', subVersion: '0' });
  if (r.code !== 0) return { n: 0, next: offset };
  /* records: TOTALSIZE first; walk them */
  let n = 0, p = 0;
  while (p + 4 <= r.body.length) { const sz = r.body.readInt32BE(p); if (sz <= 0) break; p += sz; n++; }
  return { n, next: Number(r.extFields.nextBeginOffset) };
}

async function commitOffset(brokerAddr, group, topic, queueId, offset) {
  const r = await remoting(brokerAddr, 15, { consumerGroup: group, topic, queueId: String(queueId), commitOffset: String(offset) });
  if (r.code !== 0) throw new Error('commit: ' + r.remark);
}

/* ---------- HTTP ---------- */

function httpRequest(url, opts, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, Object.assign({ agent: false }, opts || {}), res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(15000, () => req.destroy(new Error('HTTP request timed out')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
async function getJson(url) {
  const r = await httpRequest(url);
  let j = null;
  try { j = JSON.parse(r.text); } catch (e) { j = null; }
  return { status: r.status, json: j, text: r.text };
}

/* A child process to completion: {code, stdout}. */
function run(exe, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const c = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', d => { out += d; });
    c.stderr.on('data', d => { err += d; });
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs || 60000);
    c.on('error', reject);
    c.on('exit', code => { clearTimeout(t); resolve({ code, stdout: out, stderr: err }); });
  });
}

module.exports = { Cluster, log, waitFor, freePort, remoting, createTopic, sendMessage, pullCount, commitOffset, uniqKey, httpRequest, getJson, run };
