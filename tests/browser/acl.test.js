'use strict';
/* acl.test.js - mqconsole against a broker with ACL on (aclEnable=true):
 *   - with its own read account it sees the cluster and finds messages
 *     (every request signed); without credentials the broker refuses it and
 *     the cluster view says why;
 *   - a write action needs the operator's own credentials (401 without):
 *     an account without the group's permission is refused by the broker's
 *     ACL (502 with the broker's reason: as in RocketMQ, resending to
 *     %RETRY%<group> needs SUB on the group), a wrong secret fails the
 *     signature, an admin account resends and resets offsets;
 *   - the page shows the credential fields and the resend works from it.
 * usage: node acl.test.js <bin dir> */
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const { Cluster, log, waitFor, createTopic, getJson, httpRequest, remoting } = require('./lib/cluster');

const binDir = path.resolve(process.argv[2] || path.join(__dirname, '../../build/bin'));
const CHROMIUM = process.env.COMET_CHROMIUM || '/usr/bin/chromium';
const RULES = [
  'accounts:',
  '  - accessKey: console_key', '    secretKey: console_secret', '    defaultTopicPerm: SUB', '    defaultGroupPerm: SUB',
  '  - accessKey: viewer_key', '    secretKey: viewer_secret', '    defaultTopicPerm: SUB', '    defaultGroupPerm: DENY',
  '  - accessKey: ops_key', '    secretKey: ops_secret', '    admin: true', '',
].join('\n');

function post(base, p, doc) {
  const body = JSON.stringify(doc);
  return httpRequest(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Comet-Console': '1', 'Content-Length': Buffer.byteLength(body) } }, body)
    .then(r => ({ status: r.status, json: JSON.parse(r.text) }));
}

async function main() {
  const cl = new Cluster(binDir, 'acl');
  let passed = false, browser = null;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'comet-chromium-'));
  try {
    const aclFile = path.join(cl.dir, 'plain_acl.yml');
    fs.writeFileSync(aclFile, RULES);
    await cl.namesrv();
    const b = await cl.broker('broker-a', ['aclEnable=true', `rocketmq.acl.plain.file=${aclFile}`]);
    /* the topic and a message, through the admin account (the mqadmin way: signed requests) */
    const admin = path.join(binDir, 'mqadmin');
    const env = Object.assign({}, process.env, { MQADMIN_ACCESS_KEY: 'ops_key', MQADMIN_SECRET_KEY: 'ops_secret' });
    const run = args => new Promise((resolve, reject) => {
      const c = require('child_process').spawn(admin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', d => { out += d; });
      c.stderr.on('data', d => { out += d; });
      c.on('error', reject);
      c.on('exit', code => resolve({ code, out }));
    });
    let r = await run(['updateTopic', '-n', cl.nsAddr, '-b', b.addr, '-t', 'AclWeb', '-r', '2', '-w', '2']);
    assert.strictEqual(r.code, 0, 'mqadmin updateTopic (admin account): ' + r.out);
    r = await run(['sendMessage', '-n', cl.nsAddr, '-t', 'AclWeb', '-p', 'guarded body', '-k', 'acl-key']);
    assert.strictEqual(r.code, 0, 'mqadmin sendMessage (admin account): ' + r.out);
    /* a plain unsigned request is refused: ACL is really on */
    const plain = await remoting(b.addr, 28, {});
    assert.notStrictEqual(plain.code, 0, 'an unsigned request is refused');

    const con = await cl.console(['writeEnable=true', 'pollIntervalMs=500', 'accessKey=console_key', 'secretKey=console_secret']);
    const anon = await cl.console(['pollIntervalMs=500']);
    assert(await waitFor(async () => {
      const c = (await getJson(con + '/api/cluster')).json;
      return c.brokers && c.brokers.length === 1 && c.brokers[0].up;
    }, 20000), 'with its account the console reads the broker');
    assert(await waitFor(async () => {
      const c = (await getJson(anon + '/api/cluster')).json;
      return c.brokers && c.brokers.length === 1 && !c.brokers[0].up && /accessKey/.test(c.brokers[0].error);
    }, 20000), 'without credentials the broker refuses the console, and the view says why');
    const found = (await getJson(con + '/api/messages?topic=AclWeb&key=acl-key')).json;
    assert.strictEqual(found.messages.length, 1, 'a signed key search finds the message: ' + JSON.stringify(found));
    const id = found.messages[0].msgId;
    assert.strictEqual((await getJson(con + '/api/config')).json.writeCredentialsRequired, true);

    /* writes: the operator's credentials decide */
    const doc = { topic: 'AclWeb', id, group: 'acl_cg' };
    let w = await post(con, '/api/message/resend', doc);
    assert.strictEqual(w.status, 401, 'no credentials: ' + JSON.stringify(w.json));
    w = await post(con, '/api/message/resend', Object.assign({ accessKey: 'viewer_key', secretKey: 'viewer_secret' }, doc));
    assert.strictEqual(w.status, 502, 'an account denied the group: ' + JSON.stringify(w.json));
    assert(/AclException|No permission|DENY|PUB/.test(w.json.error), 'the broker\'s reason is passed on: ' + w.json.error);
    w = await post(con, '/api/message/resend', Object.assign({ accessKey: 'ops_key', secretKey: 'wrong' }, doc));
    assert.strictEqual(w.status, 502, 'a wrong secret: ' + JSON.stringify(w.json));
    assert(/signature/i.test(w.json.error), 'signature failure reported: ' + w.json.error);
    w = await post(con, '/api/message/resend', Object.assign({ accessKey: 'ops_key', secretKey: 'ops_secret' }, doc));
    assert.strictEqual(w.status, 200, 'the admin account resends: ' + JSON.stringify(w.json));
    assert.strictEqual(w.json.topic, '%RETRY%acl_cg');
    /* reset offsets: the group has committed offsets (a signed UPDATE_CONSUMER_OFFSET); the
     * denied account cannot move them, the admin can */
    for (const q of [0, 1]) {
      const c = await remoting(b.addr, 15, { consumerGroup: 'acl_cg', topic: 'AclWeb', queueId: String(q), commitOffset: '1' }, null,
        { accessKey: 'ops_key', secretKey: 'ops_secret' });
      assert.strictEqual(c.code, 0, 'signed commit: ' + c.remark);
    }
    w = await post(con, '/api/group/reset-offset', { group: 'acl_cg', topic: 'AclWeb', timestamp: 0, accessKey: 'viewer_key', secretKey: 'viewer_secret' });
    assert.strictEqual(w.status, 502, 'reset by an account denied the group: ' + JSON.stringify(w.json));
    w = await post(con, '/api/group/reset-offset', { group: 'acl_cg', topic: 'AclWeb', timestamp: 0, accessKey: 'ops_key', secretKey: 'ops_secret' });
    assert.strictEqual(w.status, 200, 'reset by the admin account: ' + JSON.stringify(w.json));
    assert.strictEqual(w.json.queues.length, 2, 'both queues reset');

    /* the page asks for the credentials and passes them on */
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--user-data-dir=' + profile] });
    const page = await browser.newPage();
    const problems = [];
    page.on('console', m => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', e => problems.push(e.message));
    await page.goto(con + '/#/message?topic=AclWeb&id=' + id, { waitUntil: 'load' });
    await page.waitForSelector('[data-view="message"][data-loaded="true"]', { timeout: 20000 });
    assert(await page.$('[data-testid="cred-ak"]'), 'the resend form asks for an access key');
    await page.$eval('[data-testid="resend-group"]', e => { e.value = ''; });
    await page.type('[data-testid="resend-group"]', 'acl_cg');
    await page.type('[data-testid="cred-ak"]', 'ops_key');
    await page.type('[data-testid="cred-sk"]', 'ops_secret');
    await page.$eval('[data-testid="resend-button"]', x => x.click());
    await page.waitForSelector('[data-testid="resend-ok"]', { timeout: 20000 });
    assert.deepStrictEqual(problems, [], 'no console error');
    passed = true;
  } finally {
    if (browser) await browser.close();
    const ranThrough = passed;
    const bad = await cl.stop();
    if (bad.length) passed = false;
    cl.cleanup(passed);
    fs.rmSync(profile, { recursive: true, force: true });
    if (bad.length && ranThrough) throw new Error('servers did not stop cleanly: ' + bad.join('; '));
  }
}

const killer = setTimeout(() => { console.error('acl.test.js: timed out'); process.exit(1); }, 180000);
main().then(() => { clearTimeout(killer); log('acl.test.js: PASS'); process.exit(0); },
  e => { clearTimeout(killer); console.error('acl.test.js: FAIL:', e && e.stack || e); process.exit(1); });
