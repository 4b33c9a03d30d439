'use strict';
/* console.test.js - mqconsole in a real headless Chromium.
 *
 * Debian's /usr/bin/chromium, driven by puppeteer-core (pinned in
 * package-lock.json; it downloads nothing), with a fresh profile. Against a
 * name server, two masters (broker-a, broker-b) and mqconsole with write
 * actions enabled (and a slave of broker-a), it checks that:
 *   1. the page loads with no console error, no failed request, no
 *      uncaught exception, and the cluster view shows both brokers and the
 *      slave, in sync with its master;
 *   2. a message just sent is found by key and by id (client id with the
 *      topic, offset id alone), and its body and properties are shown;
 *   3. a message whose body, key and a property are HTML and script renders
 *      as text: the exact characters are in the page, no element was
 *      created from them, nothing ran;
 *   4. a consumer group's lag goes down while a consumer commits, and the
 *      reset-offset-by-time action brings it back;
 *   5. a dead letter is listed and resent to its group; a message is resent
 *      to a group from its page;
 *   6. bad API input gets 400/404 with a message, write actions of a console
 *      without writeEnable get 403.
 * Screenshots of every view go to the artifacts directory (listed at the
 * end). usage: node console.test.js <bin dir> <artifacts dir> */
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const { Cluster, log, waitFor, createTopic, sendMessage, pullCount, commitOffset, remoting, httpRequest, getJson } = require('./lib/cluster');

const binDir = process.argv[2] || path.join(__dirname, '../../build/bin');
const outDir = path.resolve(process.argv[3] || path.join(__dirname, '../../build/test-artifacts/browser'));
const CHROMIUM = process.env.COMET_CHROMIUM || '/usr/bin/chromium';
const TOTAL_TIMEOUT_MS = 240000;
const shots = [];

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const cl = new Cluster(binDir, 'browser');
  let browser = null, passed = false;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'comet-chromium-'));
  try {
    await cl.namesrv();
    const ba = await cl.broker('broker-a');
    const bb = await cl.broker('broker-b');
    await cl.broker('broker-a', ['brokerRole=SLAVE', 'brokerId=1', 'haSendHeartbeatInterval=300'], 'broker-a-s'); /* a slave of broker-a */
    const base = await cl.console(['writeEnable=true', 'pollIntervalMs=500', 'workerThreads=2']);
    const ro = await cl.console(['pollIntervalMs=500']); /* write actions off (the default) */
    log('console', base, 'read-only console', ro);
    for (const b of [ba, bb]) await createTopic(b.addr, 'WebTopic', 4);
    await createTopic(ba.addr, 'LagTopic', 1);

    /* messages: an ordinary one and a hostile one */
    const marker = 'hello from the browser test ' + Date.now();
    const plain = await sendMessage(ba.addr, 'WebTopic', 1, marker, { tags: 'TagA', keys: 'web-key-1', props: { color: 'blue' } });
    const evilBody = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>&amp; "quoted" \u00e9';
    const evilKey = '<svg/onload=window.__pwned=3>';
    const evilProp = '<b onmouseover="window.__pwned=4">bold</b>';
    const evil = await sendMessage(bb.addr, 'WebTopic', 2, evilBody, { tags: '<i>tag</i>', keys: evilKey, props: { 'x-html': evilProp } });
    log('sent', plain.msgId, 'and the hostile', evil.msgId);

    /* the console has looked at the cluster at least once */
    assert(await waitFor(async () => (await getJson(base + '/api/config')).json.polls >= 2, 20000), 'the console never polled');

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--user-data-dir=' + profile],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const problems = [];
    page.on('console', m => { if (m.type() === 'error' || m.type() === 'warn') problems.push('console ' + m.type() + ': ' + m.text()); });
    page.on('pageerror', e => problems.push('uncaught: ' + e.message));
    page.on('requestfailed', r => problems.push('request failed: ' + r.url() + ' ' + (r.failure() && r.failure().errorText)));
    page.on('response', r => { if (r.status() >= 400) problems.push('HTTP ' + r.status() + ' ' + r.url()); });
    page.on('dialog', d => d.accept());
    const external = [];
    page.on('request', r => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) external.push(r.url()); });

    async function go(hash, view) {
      await page.goto(base + '/' + hash, { waitUntil: 'load' });
      await page.waitForSelector(`[data-view="${view}"][data-loaded="true"]`, { timeout: 20000 });
    }
    async function shot(name) {
      const f = path.join(outDir, name + '.png');
      await page.screenshot({ path: f, fullPage: true });
      shots.push(f);
    }
    const text = sel => page.$eval(sel, e => e.textContent);

    /* 1. the cluster view shows both brokers */
    await go('#/cluster', 'cluster');
    const brokers = await page.$$eval('[data-testid="broker-row"]', rows => rows.map(r => r.getAttribute('data-broker')));
    assert.deepStrictEqual(brokers.sort(), ['broker-a/0', 'broker-a/1', 'broker-b/0'], 'both brokers and the slave are listed: ' + brokers);
    assert.strictEqual((await text('[data-testid="kpi-brokers"] .v')).trim(), '3 / 3');
    /* replication state: the slave of broker-a is in the master's in-sync set */
    assert(await waitFor(async () => {
      const c = (await getJson(base + '/api/cluster')).json;
      const g = c.replication.find(x => x.brokerName === 'broker-a');
      return g && g.slaves.length === 1 && g.slaves[0].inSync === true && g.inSyncSlaves === 1;
    }, 20000), 'the console reports broker-a\'s slave in sync');
    await go('#/cluster', 'cluster');
    assert(await waitFor(async () => (await text('[data-testid="replication"] tbody')).includes('in sync'), 10000), 'the page shows the slave in sync');
    await waitFor(async () => (await page.$$('[data-testid="tps-chart"]')).length === 3, 10000);
    await shot('cluster');

    await go('#/topics', 'topics');
    assert(await page.$('[data-testid="topic-row"][data-topic="WebTopic"]'), 'WebTopic is listed');
    await shot('topics');
    /* the list refreshes itself every poll: follow the row's link rather than click a node that may be replaced */
    const href = await page.$eval('[data-testid="topic-row"][data-topic="WebTopic"] a', a => a.getAttribute('href'));
    await go(href, 'topic');
    assert.strictEqual(await text('[data-testid="topic-name"]'), 'WebTopic');
    assert.strictEqual((await page.$$('[data-testid="queue-row"]')).length, 8, '4 queues on each of the 2 masters');
    await shot('topic');

    /* 2. found by key, by client id with the topic, by offset id alone */
    await go('#/messages?topic=WebTopic&key=web-key-1', 'messages');
    await page.waitForSelector('[data-testid="message-row"]', { timeout: 20000 });
    const ids = await page.$$eval('[data-testid="message-row"]', rows => rows.map(r => r.getAttribute('data-msgid')));
    assert.deepStrictEqual(ids, [plain.msgId], 'the key search finds exactly the message: ' + ids);
    assert((await text('[data-testid="messages"] tbody')).includes(marker), 'the body preview is shown');
    await shot('messages-by-key');
    await page.click('[data-testid="message-row"]');
    await page.waitForSelector('[data-view="message"][data-loaded="true"]', { timeout: 20000 });
    assert.strictEqual(await text('[data-testid="message-body"]'), marker, 'the whole body is shown');
    assert.strictEqual(await text('[data-testid="message-id"]'), plain.msgId);
    const props = await page.$$eval('[data-testid="property-row"]', rows => rows.map(r => [...r.children].map(c => c.textContent)));
    assert(props.some(([k, v]) => k === 'color' && v === 'blue'), 'user property shown: ' + JSON.stringify(props));
    await shot('message');
    await go('#/message?topic=WebTopic&id=' + plain.msgId, 'message');
    assert.strictEqual(await text('[data-testid="message-body"]'), marker, 'found by client id');
    await go('#/message?id=' + plain.offsetMsgId, 'message');
    assert.strictEqual(await text('[data-testid="message-body"]'), marker, 'found by offset id without a topic');
    /* the time-range search lists both messages of the topic */
    await go('#/messages?topic=WebTopic&begin=' + (Date.now() - 600000) + '&end=' + (Date.now() + 60000) + '&limit=50', 'messages');
    await page.waitForSelector('[data-testid="message-row"]', { timeout: 20000 });
    const all = await page.$$eval('[data-testid="message-row"]', rows => rows.map(r => r.getAttribute('data-msgid')));
    assert.deepStrictEqual(all.sort(), [plain.msgId, evil.msgId].sort(), 'the time search finds both: ' + all);
    await shot('messages-by-time');

    /* 3. the hostile message is text */
    await go('#/messages?topic=WebTopic&key=' + encodeURIComponent(evilKey), 'messages');
    await page.waitForSelector('[data-testid="message-row"]', { timeout: 20000 });
    await page.click('[data-testid="message-row"]');
    await page.waitForSelector('[data-view="message"][data-loaded="true"]', { timeout: 20000 });
    assert.strictEqual(await text('[data-testid="message-body"]'), evilBody, 'the body is shown character for character');
    const evilSeen = await page.$$eval('[data-testid="property-row"]', rows => rows.map(r => [...r.children].map(c => c.textContent)));
    assert(evilSeen.some(([k, v]) => k === 'x-html' && v === evilProp), 'the HTML property is text');
    assert(evilSeen.some(([k, v]) => k === 'KEYS' && v === evilKey), 'the HTML key is text');
    const injected = await page.evaluate(() => ({
      pwned: window.__pwned === undefined ? 'none' : String(window.__pwned),
      img: document.querySelectorAll('#main img').length,
      script: document.querySelectorAll('#main script').length,
      b: document.querySelectorAll('#main b').length,
      svgOnload: document.querySelectorAll('#main svg[onload]').length,
      handlers: [...document.querySelectorAll('#main *')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
    }));
    assert.deepStrictEqual(injected, { pwned: 'none', img: 0, script: 0, b: 0, svgOnload: 0, handlers: 0 }, 'nothing was injected: ' + JSON.stringify(injected));
    await shot('message-hostile');

    /* 4. lag goes down while a consumer commits; reset by time brings it back */
    const LAG = 600;
    for (let i = 0; i < LAG; i++) await sendMessage(ba.addr, 'LagTopic', 0, 'lag ' + i, { keys: 'lag-' + i });
    await pullCount(ba.addr, 'web_cg', 'LagTopic', 0, 0, 1); /* the group exists from its first pull */
    await commitOffset(ba.addr, 'web_cg', 'LagTopic', 0, 0);
    await go('#/group/web_cg', 'group');
    const lagNow = async () => Number((await text('[data-testid="kpi-lag"] .v')).replace(/,/g, ''));
    assert(await waitFor(async () => (await lagNow()) === LAG, 20000), 'the lag shows the backlog of ' + LAG);
    await shot('group-before');
    /* a consumer: pull 20, commit, every 100 ms (paced so the page sees it move) */
    let consumed = 0, stopConsumer = false;
    const consumer = (async () => {
      while (consumed < LAG && !stopConsumer) {
        const r = await pullCount(ba.addr, 'web_cg', 'LagTopic', 0, consumed, 20);
        consumed = r.n ? r.next : consumed;
        await commitOffset(ba.addr, 'web_cg', 'LagTopic', 0, consumed);
        await new Promise(res => setTimeout(res, 100)); /* rules: pacing - a consumer slow enough to watch */
      }
    })();
    const seen = [];
    let midShot = false;
    await waitFor(async () => {
      const v = await lagNow();
      if (!seen.length || seen[seen.length - 1] !== v) seen.push(v);
      if (!midShot && v > 0 && v < LAG) { midShot = true; await shot('group-lag-going-down'); }
      return v === 0;
    }, 60000, 200);
    stopConsumer = true;
    await consumer;
    log('lag seen by the page:', seen.join(' -> '));
    assert.strictEqual(seen[seen.length - 1], 0, 'the lag reached 0');
    for (let i = 1; i < seen.length; i++) assert(seen[i] < seen[i - 1], 'the lag only went down: ' + seen.join(' -> '));
    assert(seen.length >= 3, 'the page saw the lag at ' + seen.length + ' values while the consumer ran: ' + seen.join(' -> '));
    await shot('group-after');
    /* reset to an hour ago: every message is unconsumed again */
    await page.waitForSelector('[data-testid="reset-form"]');
    await page.$eval('[data-testid="reset-button"]', b => b.click());
    await page.waitForSelector('[data-testid="reset-ok"]', { timeout: 20000 });
    assert(await waitFor(async () => (await lagNow()) === LAG, 20000), 'after the reset the lag is the backlog again');
    await shot('group-after-reset');
    await go('#/groups', 'groups');
    assert(await page.$('[data-testid="group-row"][data-group="web_cg"]'), 'the group is listed');
    await shot('groups');

    /* 5. dead letters: one message of web_cg straight to %DLQ%web_cg, listed, resent */
    const first = await remoting(ba.addr, 12, { topic: 'LagTopic', key: 'lag-7', maxNum: '4', beginTimestamp: '0', endTimestamp: String(Date.now() + 60000) });
    assert.strictEqual(first.code, 0, 'query by key for the DLQ setup');
    const clOffset = first.body.readBigInt64BE(28); /* PHYSICALOFFSET of the first record */
    const back = await remoting(ba.addr, 36, { offset: clOffset.toString(), group: 'web_cg', delayLevel: '-1', originMsgId: '', originTopic: 'LagTopic', maxReconsumeTimes: '16' });
    assert.strictEqual(back.code, 0, 'send back to the DLQ: ' + back.remark);
    assert(await waitFor(async () => ((await getJson(base + '/api/dlq?group=web_cg')).json.messages || []).length === 1, 20000),
      'the dead letter reached %DLQ%web_cg');
    await go('#/dlq?group=web_cg', 'dlq');
    await page.waitForSelector('[data-testid="dlq"] [data-testid="message-row"]', { timeout: 20000 });
    const dlqBodies = await text('[data-testid="dlq"] tbody');
    assert(dlqBodies.includes('lag 7'), 'the dead letter is listed with its body');
    await shot('dlq');
    await page.click('[data-testid="dlq-resend"]');
    await waitFor(async () => (await text('[data-testid="dlq-resend"]')) === 'Resent', 20000);
    assert.strictEqual(await text('[data-testid="dlq-resend"]'), 'Resent');
    const retried = await getJson(base + '/api/messages?topic=' + encodeURIComponent('%RETRY%web_cg') + '&begin=0&limit=10');
    assert(retried.json.messages.some(m => m.body === 'lag 7'), 'the dead letter is back in %RETRY%web_cg');
    /* resend a message to a group from its page */
    await go('#/message?topic=WebTopic&id=' + plain.msgId, 'message');
    await page.$eval('[data-testid="resend-group"]', e => { e.value = ''; });
    await page.type('[data-testid="resend-group"]', 'web_cg');
    await page.click('[data-testid="resend-button"]');
    await page.waitForSelector('[data-testid="resend-ok"]', { timeout: 20000 });
    await shot('message-resent');

    assert.deepStrictEqual(problems, [], 'the page had no console error, failed request or exception');
    assert.deepStrictEqual(external, [], 'the page fetched nothing outside the console');
    await page.close();

    /* 6. bad input and disabled writes, over plain HTTP */
    const bad = [
      ['/api/messages?topic=' + encodeURIComponent('<script>'), 400], ['/api/messages?topic=WebTopic&limit=abc', 400],
      ['/api/messages?topic=WebTopic&begin=%zz', 400], ['/api/message?id=' + 'x'.repeat(300), 400], ['/api/history?kind=nope&name=x', 400],
      ['/api/nope', 404], ['/nope.html', 404], ['/api/topic?topic=NoSuchTopic', 404], ['/api/group?group=NoSuchGroup', 404],
    ];
    for (const [u, st] of bad) {
      const r = await getJson(base + u);
      assert.strictEqual(r.status, st, u + ' -> ' + r.status + ' ' + r.text);
      assert(r.json && typeof r.json.error === 'string' && r.json.error.length > 0, u + ' has a message: ' + r.text);
    }
    const body = JSON.stringify({ topic: 'WebTopic', id: plain.msgId, group: 'web_cg' });
    const hdr = { 'Content-Type': 'application/json', 'X-Comet-Console': '1', 'Content-Length': Buffer.byteLength(body) };
    let r = await httpRequest(ro + '/api/message/resend', { method: 'POST', headers: hdr }, body);
    assert.strictEqual(r.status, 403, 'write actions are off by default: ' + r.text);
    r = await httpRequest(base + '/api/message/resend', { method: 'POST', headers: { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) } }, body);
    assert.strictEqual(r.status, 415, 'a cross-site form post (text/plain) is refused: ' + r.text);
    r = await httpRequest(base + '/api/message/resend', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, body);
    assert.strictEqual(r.status, 403, 'without the console header: ' + r.text);
    r = await httpRequest(base + '/api/group/reset-offset', { method: 'POST', headers: Object.assign({}, hdr, { 'Content-Length': 2 }) }, '{}');
    assert.strictEqual(r.status, 400, 'missing fields: ' + r.text);
    r = await httpRequest(base + '/api/cluster', { method: 'POST', headers: hdr }, body);
    assert.strictEqual(r.status, 405, 'views are read with GET: ' + r.text);
    passed = true;
  } finally {
    if (browser) await browser.close();
    const ranThrough = passed;
    const bad = await cl.stop();
    if (bad.length) passed = false;
    cl.cleanup(passed);
    if (bad.length && ranThrough) throw new Error('servers did not stop cleanly: ' + bad.join('; '));
    fs.rmSync(profile, { recursive: true, force: true });
    log('screenshots (' + shots.length + '):');
    for (const s of shots) console.log('  ' + s);
  }
}

const killer = setTimeout(() => { console.error('console.test.js: timed out after', TOTAL_TIMEOUT_MS, 'ms'); process.exit(1); }, TOTAL_TIMEOUT_MS);
main().then(() => { clearTimeout(killer); log('console.test.js: PASS'); process.exit(0); },
  e => { clearTimeout(killer); console.error('console.test.js: FAIL:', e && e.stack || e); process.exit(1); });
