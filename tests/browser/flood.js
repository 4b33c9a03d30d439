'use strict';
/* flood.js - how much a flood of HTTP requests to the metrics endpoints and
 * to the console costs the message path. A report, not an assertion (speed
 * is measured, never asserted): it fails only if something could not run or
 * the message path failed (a send error, a broker that died).
 *
 * One name server and one broker with metricsExporterType=PROM, mqconsole
 * on the same cluster. mqbench producer (sync, 8 threads, 128 B, DURATION s)
 * runs alone, then under flood A (CONCURRENCY keep-alive clients on the
 * broker's and the name server's /metrics, as fast as they are answered),
 * alone again, under flood B (the same clients on the console: snapshot
 * views, searches by key and topic details that make the console call the
 * broker, malformed requests), alone again. Everything shares the
 * machine's CPUs; the flood client runs in its own process at nice 19 (the
 * load generators of a real deployment are elsewhere). Each flood runs twice: as fast
 * as the servers answer, and capped at RATE requests per second.
 * usage: node flood.js <bin dir> [seconds] [concurrency] [rate] */
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { Cluster, log, createTopic, sendMessage, run, freePort } = require('./lib/cluster');

const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../build/bin'));
const DURATION = Number(process.argv[3] || process.env.COMET_FLOOD_SECONDS || 8);
const CONCURRENCY = Number(process.argv[4] || 16);
const RATE = Number(process.argv[5] || 200); /* the bounded variant's total request rate */

/* concurrency clients until stopAt; rate > 0 caps the total request rate. */
function flood(urls, concurrency, stopAt, rate) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const stats = { requests: 0, byStatus: {}, errors: 0 };
  let i = 0;
  const one = () => new Promise(resolve => {
    const url = urls[i++ % urls.length];
    const req = http.get(url, { agent }, res => {
      res.resume();
      res.on('end', () => { stats.requests++; stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] || 0) + 1; resolve(); });
    });
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    req.on('error', () => { stats.errors++; resolve(); });
  });
  const gap = rate > 0 ? concurrency * 1000 / rate : 0;
  const worker = async () => {
    while (Date.now() < stopAt) {
      const t0 = Date.now();
      await one();
      const wait = gap - (Date.now() - t0);
      if (wait > 0) await new Promise(r => setTimeout(r, wait)); /* rules: pacing - the flood's request rate */
    }
  };
  return Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
    agent.destroy();
    const u = process.cpuUsage();
    stats.clientCpu = (u.user + u.system) / 1e6;
    return stats;
  });
}

/* The flood runs in its own process at the lowest priority (nice 19), as
 * Prometheus and browsers would run on other machines: the report then shows
 * what serving the requests costs the servers, not what generating them
 * costs this machine's two CPUs. Its own CPU time is reported too. */
function floodProcess(urls, concurrency, stopAt, rate) {
  return new Promise((resolve, reject) => {
    const args = [__filename, '--client', String(concurrency), String(stopAt), String(rate)].concat(urls);
    const c = spawn('nice', ['-n', '19', process.execPath].concat(args), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', d => { out += d; });
    c.on('error', reject);
    c.on('exit', code => {
      if (code !== 0) return reject(new Error('flood client exited with ' + code));
      resolve(JSON.parse(out));
    });
  });
}

/* CPU seconds by thread name of a process, from /proc (clock ticks of 1/100 s). */
function threadCpu(pid) {
  const out = {};
  for (const tid of fs.readdirSync('/proc/' + pid + '/task')) {
    try {
      const st = fs.readFileSync('/proc/' + pid + '/task/' + tid + '/stat', 'utf8');
      const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] || 0) + (Number(f[11]) + Number(f[12])) / 100;
    } catch (e) { /* a thread that just ended */ }
  }
  return out;
}
function cpuDelta(a, b) { const d = {}; for (const k of Object.keys(b)) d[k] = b[k] - (a[k] || 0); return d; }

async function main() {
  const cl = new Cluster(binDir, 'flood');
  let passed = false;
  try {
    const nsm = await freePort(), bm = await freePort();
    await cl.namesrv(['metricsExporterType=PROM', `metricsPromExporterPort=${nsm}`]);
    const b = await cl.broker('broker-a', ['metricsExporterType=PROM', `metricsPromExporterPort=${bm}`]);
    const con = await cl.console(['pollIntervalMs=1000']);
    await createTopic(b.addr, 'FloodTopic', 8);
    for (let k = 0; k < 20; k++) await sendMessage(b.addr, 'FloodTopic', k % 8, 'flood seed ' + k, { keys: 'seed-' + (k % 4) });
    const metricsUrls = ['http://127.0.0.1:' + bm + '/metrics', 'http://127.0.0.1:' + nsm + '/metrics', 'http://127.0.0.1:' + bm + '/nope'];
    const consoleUrls = ['/api/cluster', '/api/topics', '/api/groups', '/api/messages?topic=FloodTopic&key=seed-1', '/api/topic?topic=FloodTopic',
      '/api/history?kind=topic&name=FloodTopic', '/', '/app.js', '/api/messages?topic=bad%20name', '/api/nope'].map(u => con + u);
    const mqbench = path.join(binDir, 'mqbench');
    const brokerPid = b.child.pid, consolePid = cl.children[cl.children.length - 1].pid;
    const bench = async label => {
      const c0 = threadCpu(brokerPid), k0 = threadCpu(consolePid), l0 = os.loadavg()[0];
      const r = await run(mqbench, ['producer', '-n', cl.nsAddr, '-t', 'BenchFlood', '-w', '8', '-s', '128', '-d', String(DURATION), '-m', 'sync', '--json'], (DURATION + 60) * 1000);
      if (r.code !== 0) throw new Error('mqbench failed: ' + r.stderr);
      const j = JSON.parse(r.stdout.trim().split('\n').pop());
      if (j.failures) throw new Error(label + ': ' + j.failures + ' sends failed');
      const c = cpuDelta(c0, threadCpu(brokerPid)), k = cpuDelta(k0, threadCpu(consolePid));
      j.ioUsPerMsg = (c.BrokerIO || 0) * 1e6 / j.messages;
      j.httpCpu = c.MetricsHttp || 0;
      j.consoleCpu = Object.values(k).reduce((x, y) => x + y, 0);
      j.load = (l0 + os.loadavg()[0]) / 2;
      log(label.padEnd(34), j.msgs_per_sec.toFixed(0).padStart(7), 'msg/s  p99', (j.p99 / 1000).toFixed(2), 'ms  broker I/O thread',
        j.ioUsPerMsg.toFixed(1), 'us/msg  MetricsHttp', j.httpCpu.toFixed(2), 's  console', j.consoleCpu.toFixed(2), 's  load', j.load.toFixed(1));
      return j;
    };
    const under = async (label, urls, rate) => {
      const stopAt = Date.now() + (DURATION + 2) * 1000; /* covers the whole mqbench run */
      const f = floodProcess(urls, CONCURRENCY, stopAt, rate);
      const j = await bench(label);
      const s = await f;
      log(' '.repeat(34), 'flood:', s.requests, 'requests (' + (s.requests / (DURATION + 2)).toFixed(0) + '/s),',
        'by status', JSON.stringify(s.byStatus), s.errors ? s.errors + ' connection errors' : '', 'client CPU', s.clientCpu.toFixed(2), 's (nice 19)');
      return { j, s };
    };
    await bench('warm-up');
    const base = [await bench('alone')];
    const runs = [];
    for (const [label, urls, rate] of [['flood A: /metrics, unthrottled', metricsUrls, 0], ['flood B: console, unthrottled', consoleUrls, 0],
      ['flood A: /metrics, ' + RATE + ' req/s', metricsUrls, RATE], ['flood B: console, ' + RATE + ' req/s', consoleUrls, RATE]]) {
      runs.push([label, await under(label, urls, rate)]);
      base.push(await bench('alone'));
    }
    const mean = xs => xs.reduce((s, x) => s + x, 0) / xs.length;
    const median = xs => { const v = xs.slice().sort((p, q) => p - q); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
    /* COMET_FLOOD_PAIRS=n: n more (alone, flood) pairs per flood, back to back, so that the
     * machine's drift cancels in each pair's ratio; the median ratio is reported */
    const pairs = Number(process.env.COMET_FLOOD_PAIRS || 0);
    const pairLines = [];
    for (const [label, urls, rate] of pairs ? [['/metrics unthrottled', metricsUrls, 0], ['/metrics ' + RATE + ' req/s', metricsUrls, RATE],
      ['console unthrottled', consoleUrls, 0], ['console ' + RATE + ' req/s', consoleUrls, RATE]] : []) {
      const ratios = [], io = [];
      for (let k = 0; k < pairs; k++) {
        const a0 = await bench('pair alone');
        const f = await under('pair ' + label, urls, rate);
        ratios.push(f.j.msgs_per_sec / a0.msgs_per_sec);
        io.push(f.j.ioUsPerMsg / a0.ioUsPerMsg);
      }
      pairLines.push('  ' + (label + ':').padEnd(28) + 'median throughput ratio ' + median(ratios).toFixed(3) + ' (' + ratios.map(x => x.toFixed(2)).join(' ') +
        '), median I/O-thread CPU per message ratio ' + median(io).toFixed(3));
    }
    const b0 = mean(base.map(j => j.msgs_per_sec));
    const drop = v => ((b0 - v) / b0 * 100).toFixed(1);
    console.log('');
    console.log('FLOOD REPORT (' + DURATION + ' s per run, ' + CONCURRENCY + ' HTTP clients, mqbench producer -w 8 -s 128 -m sync, shared CPUs)');
    console.log('  send throughput alone (mean of ' + base.length + ' runs between the floods): ' + b0.toFixed(0) + ' msg/s (' +
      base.map(j => j.msgs_per_sec.toFixed(0)).join(', ') + ')');
    const io0 = mean(base.map(j => j.ioUsPerMsg));
    for (const [label, r] of runs)
      console.log('  ' + (label + ':').padEnd(36) + r.j.msgs_per_sec.toFixed(0).padStart(7) + ' msg/s, ' + drop(r.j.msgs_per_sec).padStart(5) +
        ' % lower; ' + (r.s.requests / (DURATION + 2)).toFixed(0) + ' HTTP req/s answered; broker I/O thread ' + r.j.ioUsPerMsg.toFixed(1) +
        ' us/msg (alone ' + io0.toFixed(1) + '); MetricsHttp ' + r.j.httpCpu.toFixed(2) + ' s CPU; mqconsole ' + r.j.consoleCpu.toFixed(2) + ' s CPU');
    if (pairLines.length) {
      console.log('  paired runs (flood / alone right before it), ' + pairs + ' pairs each:');
      for (const l of pairLines) console.log(l);
    }
    console.log('  load average during the runs: ' + mean(base.concat(runs.map(x => x[1].j)).map(j => j.load)).toFixed(1) + ' on ' + os.cpus().length + ' CPUs');
    passed = true;
  } finally {
    const ranThrough = passed;
    const bad = await cl.stop();
    if (bad.length) passed = false;
    cl.cleanup(passed);
    if (bad.length && ranThrough) throw new Error('servers did not stop cleanly: ' + bad.join('; '));
  }
}

if (require.main === module && process.argv[2] === '--client') {
  const [concurrency, stopAt, rate] = process.argv.slice(3, 6).map(Number);
  flood(process.argv.slice(6), concurrency, stopAt, rate).then(st => { process.stdout.write(JSON.stringify(st)); process.exit(0); },
    e => { console.error(e); process.exit(1); });
} else if (require.main === module) main().then(() => process.exit(0), e => { console.error('flood.js: FAIL:', e && e.stack || e); process.exit(1); });
