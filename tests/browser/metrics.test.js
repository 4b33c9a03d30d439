'use strict';
/* metrics.test.js - the Prometheus endpoints of mqnamesrv and two mqbroker
 * masters, scraped every ~100 ms while mqbench produces and consumes, each
 * scrape parsed by a Prometheus text-format parser from npm
 * (parse-prometheus-text-format, pinned in package-lock.json) and every
 * tenth, and the last, by Prometheus' own (promtool check metrics: the Go
 * parser and the exposition linter):
 *   - every counter and gauge line of every scrape is one parsed sample
 *     (the npm parser silently skips what it cannot read, so a count
 *     mismatch is a failure); it merges the label sets of a histogram, so
 *     histograms are checked line by line;
 *   - the families have the type RocketMQ 5 gives them; histograms are
 *     cumulative and end with +Inf == _count; counters never go back;
 *   - a consumer group name with a quote and a backslash comes back from the
 *     parser exactly as committed (label escaping);
 *   - deploy/prometheus/prometheus.yml passes `promtool check config`; every
 *     expression of the Grafana dashboard (deploy/grafana/dashboards) is
 *     valid PromQL (`promtool check rules`) and names only metrics these
 *     servers expose;
 *   - rocketmq_messages_in_total summed over the brokers equals the messages
 *     mqbench reports sent, messages_out equals it once the consumer drained
 *     the topic, and the lag is 0 then.
 * usage: node metrics.test.js <bin dir> */
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const parse = require('parse-prometheus-text-format');
const { Cluster, log, waitFor, createTopic, commitOffset, httpRequest, run, freePort } = require('./lib/cluster');

const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../build/bin'));
const TOTAL_TIMEOUT_MS = 180000;
const TOPIC = 'PromTopic';
const GROUP = 'prom_cg';
const WEIRD = 'we"ird\\grp';

const TYPES = {
  rocketmq_messages_in_total: 'COUNTER', rocketmq_messages_out_total: 'COUNTER', rocketmq_throughput_in_total: 'COUNTER',
  rocketmq_throughput_out_total: 'COUNTER', rocketmq_message_size: 'HISTOGRAM', rocketmq_rpc_latency: 'HISTOGRAM',
  rocketmq_consumer_lag_messages: 'GAUGE', rocketmq_consumer_lag_latency: 'GAUGE', rocketmq_consumer_inflight_messages: 'GAUGE',
  rocketmq_consumer_ready_messages: 'GAUGE', rocketmq_producer_connections: 'GAUGE', rocketmq_consumer_connections: 'GAUGE',
  rocketmq_storage_size: 'GAUGE', rocketmq_storage_flush_behind_bytes: 'GAUGE', rocketmq_storage_dispatch_behind_bytes: 'GAUGE',
  rocketmq_send_to_dlq_messages_total: 'COUNTER', comet_group_commit_batch_size: 'HISTOGRAM', comet_pending_sends: 'GAUGE',
  comet_system_busy_total: 'COUNTER', comet_connections: 'GAUGE', process_resident_memory_bytes: 'GAUGE', process_cpu_seconds_total: 'COUNTER',
};
const NS_TYPES = { comet_namesrv_brokers: 'GAUGE', rocketmq_rpc_latency: 'HISTOGRAM', process_cpu_seconds_total: 'COUNTER' };

/* The histograms of an exposition by line (the npm parser merges the label
 * sets of a histogram): per series, buckets cumulative, +Inf == _count. */
function checkHistograms(text, where, histNames) {
  const series = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const base = m[1].replace(/_(bucket|sum|count)$/, '');
    if (!histNames.has(base) || base === m[1]) continue;
    const labels = (m[2] || '').replace(/,?le="[^"]*"/, '');
    const key = base + labels;
    const s = series[key] || (series[key] = { buckets: [], count: null });
    if (m[1].endsWith('_bucket')) s.buckets.push([/le="([^"]*)"/.exec(m[2])[1], Number(m[3])]);
    else if (m[1].endsWith('_count')) s.count = Number(m[3]);
  }
  for (const [key, s] of Object.entries(series)) {
    assert(s.buckets.length > 0 && s.buckets[s.buckets.length - 1][0] === '+Inf', where + ': ' + key + ' ends with +Inf');
    for (let i = 1; i < s.buckets.length; i++) assert(s.buckets[i][1] >= s.buckets[i - 1][1], where + ': ' + key + ' buckets are cumulative');
    assert.strictEqual(s.buckets[s.buckets.length - 1][1], s.count, where + ': ' + key + ' +Inf == _count');
  }
  return Object.keys(series).length;
}

/* Prometheus' own parser and linter (promtool check metrics, from Debian's
 * prometheus package; scripts/deps.sh provides it). */
const PROMTOOL = process.env.COMET_PROMTOOL || path.join(__dirname, '../../.cache/prometheus/usr/bin/promtool');
function promtool(text, where) {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
  assert(!r.error, 'promtool: ' + (r.error && r.error.message) + ' (scripts/deps.sh --test installs it)');
  assert.strictEqual(r.status, 0, where + ': promtool check metrics: ' + r.stdout + r.stderr);
}

/* Parse one exposition and check it against its own text. */
function check(text, where) {
  const fams = parse(text);
  const hist = new Set(fams.filter(f => f.type === 'HISTOGRAM').map(f => f.name));
  const plain = text.split('\n').filter(l => l && !l.startsWith('#') && !hist.has(l.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, ''))).length;
  let samples = 0;
  for (const f of fams) {
    assert(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(f.name), where + ': bad family name ' + f.name);
    if (f.type === 'HISTOGRAM') continue;
    for (const m of f.metrics) {
      samples++;
      assert(!Number.isNaN(Number(m.value)), where + ': ' + f.name + ' value ' + m.value);
    }
  }
  assert.strictEqual(samples, plain, where + ': every counter/gauge line was parsed (' + samples + ' of ' + plain + ')');
  checkHistograms(text, where, hist);
  return fams;
}

/* The Prometheus scrape configuration and the Grafana dashboard of deploy/
 * against promtool and against what the servers really expose. */
function checkDeploy(texts) {
  const root = path.join(__dirname, '../..');
  let r = spawnSync(PROMTOOL, ['check', 'config', path.join(root, 'deploy/prometheus/prometheus.yml')], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, 'promtool check config: ' + r.stdout + r.stderr);
  const exposed = new Set(['up']);
  for (const t of texts) for (const f of parse(t)) exposed.add(f.name);
  const dash = JSON.parse(fs.readFileSync(path.join(root, 'deploy/grafana/dashboards/comet.json'), 'utf8'));
  const exprs = [];
  for (const p of dash.panels) for (const t of (p.targets || [])) exprs.push(['p' + p.id + '_' + t.refId, t.expr]);
  const vars = dash.templating.list.filter(v => v.type === 'query').map(v => v.definition);
  let names = 0;
  for (const e of exprs.map(x => x[1]).concat(vars)) {
    for (const m of e.match(/\b(rocketmq|comet|process)_[a-z0-9_]+/g) || []) {
      const base = m.replace(/_(bucket|sum|count)$/, '');
      assert(exposed.has(m) || exposed.has(base), 'the dashboard uses ' + m + ', which no server exposes');
      names++;
    }
  }
  /* PromQL: every panel expression as a recording rule, template variables filled in */
  const rules = 'groups:\n  - name: comet-dashboard\n    rules:\n' + exprs.map(([id, e]) =>
    '      - record: dashboard:' + id + '\n        expr: ' + JSON.stringify(e.replace(/\$__rate_interval/g, '1m').replace(/\$(cluster|node|topic|group)/g, '.*'))).join('\n') + '\n';
  const file = path.join(os.tmpdir(), 'comet-dashboard-rules-' + process.pid + '.yml');
  fs.writeFileSync(file, rules);
  r = spawnSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' });
  fs.unlinkSync(file);
  assert.strictEqual(r.status, 0, 'the dashboard\'s expressions are not all valid PromQL: ' + r.stdout + r.stderr);
  log('deploy: prometheus.yml valid; dashboard:', exprs.length, 'expressions valid PromQL,', names, 'metric references all exposed');
}

function family(fams, name) { return fams.find(f => f.name === name); }
function sum(fams, name, labels) {
  const f = family(fams, name);
  if (!f) return NaN;
  let s = 0, any = false;
  for (const m of f.metrics) if (Object.entries(labels).every(([k, v]) => m.labels && m.labels[k] === v)) { s += Number(m.value); any = true; }
  return any ? s : NaN;
}

async function main() {
  const cl = new Cluster(binDir, 'prom');
  let passed = false;
  try {
    const nsm = await freePort();
    await cl.namesrv(['metricsExporterType=PROM', `metricsPromExporterPort=${nsm}`, 'metricsRefreshIntervalMs=100']);
    const ports = [];
    for (const name of ['broker-a', 'broker-b']) {
      const mp = await freePort();
      ports.push(mp);
      await cl.broker(name, ['metricsExporterType=PROM', `metricsPromExporterPort=${mp}`, 'metricsRefreshIntervalMs=100']);
    }
    for (const b of cl.brokers) await createTopic(b.addr, TOPIC, 4);
    await commitOffset(cl.brokers[0].addr, WEIRD, TOPIC, 0, 0);

    const endpoints = ports.map(p => 'http://127.0.0.1:' + p + '/metrics').concat(['http://127.0.0.1:' + nsm + '/metrics']);
    const last = {}; /* series -> last counter value */
    let scrapes = 0, stop = false;
    const scraper = (async () => {
      while (!stop) {
        for (const [i, url] of endpoints.entries()) {
          const r = await httpRequest(url);
          assert.strictEqual(r.status, 200, url);
          assert(r.headers['content-type'].startsWith('text/plain; version=0.0.4'), 'content type ' + r.headers['content-type']);
          const fams = check(r.text, url);
          if (scrapes % 10 === 0) promtool(r.text, url);
          const types = i < 2 ? TYPES : NS_TYPES;
          for (const f of fams) {
            if (types[f.name]) assert.strictEqual(f.type, types[f.name], url + ': type of ' + f.name);
            if (f.type !== 'COUNTER') continue;
            for (const m of f.metrics) {
              const key = url + ' ' + f.name + JSON.stringify(m.labels || {});
              assert(!(key in last) || Number(m.value) >= last[key], 'counter went back: ' + key);
              last[key] = Number(m.value);
            }
          }
          scrapes++;
        }
        await new Promise(r => setTimeout(r, 100)); /* rules: pacing - the scrape interval */
      }
    })();
    const scraperDone = scraper.catch(e => { stop = true; throw e; });

    /* produce for 3 s while a consumer runs for 8 s (it drains what is left) */
    const mqbench = path.join(binDir, 'mqbench');
    const consumer = run(mqbench, ['consumer', '-n', cl.nsAddr, '-t', TOPIC, '-g', GROUP, '-d', '8', '--from', 'first', '--json'], 60000);
    const producer = await run(mqbench, ['producer', '-n', cl.nsAddr, '-t', TOPIC, '-w', '2', '-s', '100', '-d', '3', '-m', 'sync', '--json'], 60000);
    assert.strictEqual(producer.code, 0, 'mqbench producer: ' + producer.stderr);
    const report = JSON.parse(producer.stdout.trim().split('\n').pop());
    /* every acknowledged send is stored: mqbench's "messages" counts only those
     * inside its measured seconds (the rate), "acked" all of them */
    const sent = { messages: report.acked, failures: report.failures + report.unfinished };
    const cons = await consumer;
    assert.strictEqual(cons.code, 0, 'mqbench consumer: ' + cons.stderr);
    log('mqbench sent', sent.messages, 'failures', sent.failures, '; consumer:', cons.stdout.trim().split('\n').pop());
    assert(sent.messages > 0 && sent.failures === 0, 'the producer sent');

    async function scrapeAll() { return Promise.all(endpoints.slice(0, 2).map(async u => check((await httpRequest(u)).text, u))); }
    const total = (all, name, labels) => all.reduce((s, fams) => s + (Number.isNaN(sum(fams, name, labels)) ? 0 : sum(fams, name, labels)), 0);
    let all;
    const inOk = await waitFor(async () => { all = await scrapeAll(); return total(all, 'rocketmq_messages_in_total', { topic: TOPIC }) === sent.messages; }, 15000);
    assert(inOk, 'messages in = sent: ' + total(all, 'rocketmq_messages_in_total', { topic: TOPIC }) + ' vs ' + sent.messages);
    assert.strictEqual(total(all, 'rocketmq_throughput_in_total', { topic: TOPIC }), sent.messages * 100, 'body bytes in');
    const outOk = await waitFor(async () => {
      all = await scrapeAll();
      return total(all, 'rocketmq_messages_out_total', { topic: TOPIC, consumer_group: GROUP }) === sent.messages &&
        total(all, 'rocketmq_consumer_lag_messages', { topic: TOPIC, consumer_group: GROUP }) === 0;
    }, 15000);
    assert(outOk, 'messages out = sent and lag 0: out ' + total(all, 'rocketmq_messages_out_total', { topic: TOPIC, consumer_group: GROUP }) +
      ', lag ' + total(all, 'rocketmq_consumer_lag_messages', { topic: TOPIC, consumer_group: GROUP }) + ', sent ' + sent.messages);
    assert.strictEqual(total(all, 'rocketmq_consumer_inflight_messages', { topic: TOPIC, consumer_group: GROUP }), 0, 'nothing in flight');
    /* the hostile group name survived escaping: committed at 0 on queue 0 of broker-a */
    const weird = family(all[0], 'rocketmq_consumer_lag_messages').metrics.find(m => m.labels.consumer_group === WEIRD);
    assert(weird, 'the group ' + WEIRD + ' is labelled exactly');
    const finalTexts = [];
    for (const u of endpoints) {
      const t = (await httpRequest(u)).text;
      promtool(t, u);
      finalTexts.push(t);
    }
    checkDeploy(finalTexts);
    stop = true;
    await scraperDone;
    log('scrapes parsed:', scrapes, '; counters tracked:', Object.keys(last).length);
    assert(scrapes >= 10, 'scraped while producing: ' + scrapes);
    passed = true;
  } finally {
    const ranThrough = passed;
    const bad = await cl.stop();
    if (bad.length) passed = false;
    cl.cleanup(passed);
    if (bad.length && ranThrough) throw new Error('servers did not stop cleanly: ' + bad.join('; '));
  }
}

const killer = setTimeout(() => { console.error('metrics.test.js: timed out'); process.exit(1); }, TOTAL_TIMEOUT_MS);
main().then(() => { clearTimeout(killer); log('metrics.test.js: PASS'); process.exit(0); },
  e => { clearTimeout(killer); console.error('metrics.test.js: FAIL:', e && e.stack || e); process.exit(1); });
