'use strict';
/* Shared helpers of the compatibility tests (tests/README has the rules):
 * a work directory removed when the test passes and kept (and named) when
 * it fails; server processes on free loopback ports, stopped by PID with
 * their exit checked (SIGTERM => exit 0); a one-shot remoting client;
 * bounded polling (waitFor) and pacing that is not synchronisation (pace). */
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const children = [];
const problems = []; // servers that did not end cleanly

function log(...a) { console.log(new Date().toISOString(), ...a); }

function workDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/* Poll cond (sync or async) until it is truthy or ms passed; false on timeout. */
async function waitFor(cond, ms) {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100000; i++) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise(r => setTimeout(r, Math.min(200, 5 + 5 * i)));
  }
  return false;
}

/* A pause that is not synchronisation (retry pacing); why says which. */
function pace(ms, why) { void why; return new Promise(r => setTimeout(r, ms)); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/* Spawn binDir/name, wait (bounded) for a new bootLine in logFile. */
async function start(binDir, name, args, logFile, bootLine) {
  const count = () => fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split(bootLine).length - 1 : 0;
  const before = count();
  const out = fs.openSync(logFile, 'a');
  const child = spawn(path.join(binDir, name), args, { stdio: [ 'ignore', out, out ] });
  child.comet = { name, logFile };
  children.push(child);
  const up = await waitFor(() => child.exitCode !== null || count() > before, 20000);
  if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}), see ${logFile}`);
  if (!up) throw new Error(`${name} did not boot within 20 s, see ${logFile}`);
  return child;
}

/* Stop one child by PID: SIGTERM must end it with exit status 0 within 30 s
 * (else it is killed and recorded as a problem). Resolves to true if clean. */
function stop(child, signal) {
  signal = signal || 'SIGTERM';
  return new Promise(resolve => {
    const done = (code, sig) => {
      const clean = signal === 'SIGKILL' ? sig === 'SIGKILL' : code === 0;
      if (!clean) problems.push(`${child.comet.name} ended with ${sig || 'exit ' + code} after ${signal} (log ${child.comet.logFile})`);
      resolve(clean);
    };
    if (child.exitCode !== null || child.signalCode !== null) {
      if (!child.comet.stopped) problems.push(`${child.comet.name} exited on its own (${child.signalCode || child.exitCode}), log ${child.comet.logFile}`);
      child.comet.stopped = true;
      return resolve(false);
    }
    child.comet.stopped = true;
    const t = setTimeout(() => { problems.push(`${child.comet.name} did not exit within 30 s of ${signal}`); child.kill('SIGKILL'); }, 30000);
    child.once('exit', (code, sig) => { clearTimeout(t); done(code, sig); });
    child.kill(signal);
  });
}

async function stopAll() {
  for (const c of children) if (!c.comet.stopped) await stop(c, 'SIGTERM');
  return problems;
}

/* One remoting request (JSON header) on a fresh connection, and its response header. */
function remotingCall(port, code, extFields) {
  return new Promise((resolve, reject) => {
    const header = Buffer.from(JSON.stringify({ code, language: 'JAVA', opaque: 1, flag: 0, version: 409, extFields }));
    const frame = Buffer.alloc(8 + header.length);
    frame.writeInt32BE(4 + header.length, 0);
    frame.writeInt32BE(header.length, 4);
    header.copy(frame, 8);
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('remoting call timed out')); }, 10000);
    sock.on('error', e => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => sock.write(frame));
    sock.on('data', d => {
      buf = Buffer.concat([ buf, d ]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        clearTimeout(timer);
        const total = buf.readInt32BE(0);
        const hl = buf.readInt32BE(4) & 0xffffff;
        sock.end();
        const h = JSON.parse(buf.slice(8, 8 + hl).toString());
        h.body = buf.slice(8 + hl, 4 + total);
        resolve(h);
      }
    });
  });
}

/* The consumer group's committed offset of one queue (-1 if none). */
async function committedOffset(port, group, topic, queueId) {
  const r = await remotingCall(port, 14, { consumerGroup: group, topic, queueId: String(queueId) });
  return r.code === 0 ? Number(r.extFields.offset) : -1;
}

/* Run main; exit 0 only if it passed and every server ended cleanly. The
 * work directory goes when the run passed and is named when it failed. */
function runMain(main, dir, totalTimeoutMs) {
  const finish = async (ok, err) => {
    clearTimeout(guard);
    const bad = await stopAll();
    if (ok && bad.length) { ok = false; err = new Error(`servers did not end cleanly:\n  ${bad.join('\n  ')}`); }
    if (ok) {
      fs.rmSync(dir, { recursive: true, force: true });
      log('PASS');
      process.exit(0);
    }
    console.error('FAIL:', err && err.stack || err);
    console.error(`the test's files (server logs, stores) are kept in ${dir}`);
    process.exit(1);
  };
  const guard = setTimeout(() => finish(false, new Error(`total timeout (${totalTimeoutMs} ms)`)), totalTimeoutMs);
  main().then(() => finish(true), err => finish(false, err));
}

module.exports = { log, workDir, waitFor, pace, freePort, start, stop, remotingCall, committedOffset, runMain };
