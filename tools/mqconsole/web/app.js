/* Comet console - the page behind mqconsole (served from the binary, no
 * external resource). Views: cluster, topics, topic, consumer groups, group,
 * messages (time range / key / id), message, dead letters.
 *
 * Safety rule of this file: every string that comes from the cluster
 * (topic, group, keys, properties, bodies, client ids, errors) reaches the
 * DOM through text nodes only (el() and textContent). Nothing here assigns
 * innerHTML, outerHTML or insertAdjacentHTML, and the server's Content-
 * Security-Policy forbids inline scripts, so a message whose body is
 * "<script>..." is shown as those characters. */
'use strict';
(function () {
  const main = document.getElementById('main');
  const statusEl = document.getElementById('status');
  const footer = document.getElementById('footer');
  const COLORS = ['#4f8cff', '#f28b30', '#2ca58d', '#d64550', '#8e6bd8', '#7a8794', '#c9a227', '#1f9bd1'];
  let config = { writeEnabled: false, pollIntervalMs: 5000 };
  let timer = null;
  let generation = 0; /* a view's async work stops when the route changes */

  /* ---------- DOM helpers (text only) ---------- */

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') e[k] = v;
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === undefined || kid === null || kid === false) continue;
      e.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function num(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    return Number(v).toLocaleString('en-US', { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
  }
  function bytes(v) {
    if (v === null || v === undefined) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0; let x = Number(v);
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i ? x.toFixed(1) : String(x)) + ' ' + u[i];
  }
  function pad(n) { return String(n).padStart(2, '0'); }
  function time(ms) {
    if (!ms || ms <= 0) return '–';
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function localInput(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function table(headers, rows, opts) {
    const t = el('table', { class: (opts && opts.class) || '', 'data-testid': opts && opts.testid });
    t.appendChild(el('thead', {}, el('tr', {}, headers.map(h => el('th', { class: h.num ? 'num' : '' }, h.label || h)))));
    const tb = el('tbody');
    for (const r of rows) tb.appendChild(r);
    if (!rows.length) tb.appendChild(el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, (opts && opts.empty) || 'Nothing here.')));
    t.appendChild(tb);
    return t;
  }
  function td(v, cls) { return el('td', { class: cls || '' }, v); }
  function tdn(v, digits) { return el('td', { class: 'num' }, num(v, digits)); }
  function link(href, text) { return el('a', { href }, text); }
  function enc(s) { return encodeURIComponent(s); }
  function errorBox(msg) { return el('div', { class: 'error', 'data-testid': 'error' }, msg); }

  /* ---------- API ---------- */

  async function api(path, opts) {
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || (r.status + ' ' + r.statusText));
    return body;
  }
  async function post(path, doc) {
    return api(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Comet-Console': '1' }, body: JSON.stringify(doc) });
  }
  function setStatus(text, bad) {
    statusEl.textContent = text;
    statusEl.className = 'status' + (bad ? ' bad' : '');
  }

  /* ---------- charts (SVG, numbers only) ---------- */

  function chart(title, hist, fields, testid) {
    const box = el('div', { class: 'card', 'data-testid': testid || 'chart' }, el('div', {}, el('strong', {}, title)));
    const t = (hist && hist.t) || [];
    const W = 600, H = 170, L = 56, R = 8, T = 8, B = 22;
    const s = svg('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'xMinYMin meet', role: 'img' });
    let max = 0;
    for (const f of fields) for (const v of (hist.series[f.key] || [])) if (v !== null && v > max) max = v;
    if (max <= 0) max = 1;
    const t0 = t.length ? t[0] : 0, t1 = t.length ? t[t.length - 1] : 1;
    const x = ms => L + (t1 > t0 ? (ms - t0) / (t1 - t0) : 1) * (W - L - R);
    const y = v => T + (1 - v / max) * (H - T - B);
    for (const frac of [0, 0.5, 1]) {
      s.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(max * frac), y2: y(max * frac) }));
      s.appendChild(svg('text', { x: L - 4, y: y(max * frac) + 3, 'text-anchor': 'end' }, num(max * frac, max < 10 ? 1 : 0)));
    }
    if (t.length) {
      s.appendChild(svg('text', { x: L, y: H - 6 }, time(t0).slice(11)));
      s.appendChild(svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, time(t1).slice(11)));
    }
    const legend = el('div', { class: 'legend' });
    fields.forEach((f, i) => {
      const vals = hist.series[f.key] || [];
      let pts = [];
      const flush = () => {
        if (pts.length > 1) s.appendChild(svg('polyline', { fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.5, points: pts.join(' ') }));
        pts = [];
      };
      vals.forEach((v, k) => { if (v === null) flush(); else pts.push(x(t[k]).toFixed(1) + ',' + y(v).toFixed(1)); });
      flush();
      const last = vals.length ? vals[vals.length - 1] : null;
      const swatch = el('i');
      swatch.style.background = COLORS[i % COLORS.length]; /* CSSOM: allowed by the style-src policy */
      legend.appendChild(el('span', {}, swatch, f.label + ': ' + num(last, f.digits || 0)));
    });
    box.appendChild(s);
    box.appendChild(legend);
    if (!t.length) box.appendChild(el('div', { class: 'muted' }, 'No points yet.'));
    return box;
  }
  async function historyChart(kind, name, title, fields, testid) {
    try {
      const h = await api('/api/history?kind=' + kind + '&name=' + enc(name));
      return chart(title, h, fields, testid);
    } catch (e) {
      return el('div', { class: 'card muted' }, title + ': ' + e.message);
    }
  }

  /* ---------- views ---------- */

  async function viewCluster(gen, box) {
    const c = await api('/api/cluster');
    if (gen !== generation) return;
    clear(box);
    if (c.pending) { box.appendChild(el('p', { class: 'muted' }, 'Waiting for the first look at the cluster…')); return; }
    const up = c.brokers.filter(b => b.up).length;
    box.appendChild(el('div', { class: 'kpis' },
      kpi(up + ' / ' + c.brokers.length, 'brokers up', 'kpi-brokers'),
      kpi(num(c.totals.putTps, 1), 'messages in / s'),
      kpi(num(c.totals.getTps, 1), 'messages out / s'),
      kpi(num(c.totals.topics), 'topics'),
      kpi(num(c.totals.groups), 'subscription groups')));
    for (const e of c.errors) box.appendChild(errorBox(e));
    box.appendChild(el('h2', {}, 'Brokers'));
    box.appendChild(table(['Cluster', 'Broker', 'ID', 'Role', 'Address', 'Version', { label: 'In TPS', num: 1 }, { label: 'Out TPS', num: 1 },
      { label: 'Messages in', num: 1 }, { label: 'Commit log', num: 1 }, { label: 'Replication lag', num: 1 }, 'Status'],
      c.brokers.map(b => el('tr', { 'data-testid': 'broker-row', 'data-broker': b.brokerName + '/' + b.brokerId },
        td(b.cluster), td(b.brokerName), tdn(b.brokerId), td(b.role || (b.brokerId === 0 ? 'MASTER' : 'SLAVE')), td(b.addr), td(b.version || '–'),
        tdn(b.putTps, 1), tdn(b.getTps, 1), tdn(b.putTotal), el('td', { class: 'num' }, bytes(b.commitLogMaxOffset)),
        el('td', { class: 'num' }, b.brokerId === 0 ? '–' : bytes(b.replicationLagBytes)),
        el('td', {}, el('span', { class: 'tag ' + (b.up ? 'ok' : 'bad') }, b.up ? 'up' : 'down'), b.error ? ' ' + b.error : '')))));
    box.appendChild(el('h2', {}, 'Replication'));
    const rrows = [];
    const state = s => {
      if (!s.up) return ['bad', 'down'];
      if (s.inSync === true) return ['ok', 'in sync'];
      if (s.inSync === false) return ['warn', 'behind'];
      return s.lagBytes > 0 ? ['warn', 'behind'] : ['ok', 'caught up'];
    };
    for (const g of c.replication) {
      const epoch = g.epoch !== undefined ? String(g.epoch) : '–';
      const insync = g.inSyncSlaves !== undefined ? String(g.inSyncSlaves) : '–';
      if (!g.slaves.length) rrows.push(el('tr', {}, td(g.brokerName), td(g.haRole || '–'), td(epoch), td(g.master || '–'), td('no slave', 'muted'), td(''), td(''), td(insync), td('')));
      for (const s of g.slaves) {
        const [cls, text] = state(s);
        rrows.push(el('tr', { 'data-testid': 'replica-row' }, td(g.brokerName), td(g.haRole || '–'), td(epoch), td(g.master || '–'), td(s.addr + ' (id ' + s.brokerId + ')'),
          el('td', { class: 'num' }, bytes(s.ackLagBytes !== undefined ? s.ackLagBytes : s.lagBytes)), el('td', { class: 'num' }, num(s.ackOffset)), td(insync),
          el('td', {}, el('span', { class: 'tag ' + cls }, text))));
      }
    }
    box.appendChild(table(['Broker', 'Role', 'Epoch', 'Master', 'Slave', { label: 'Lag', num: 1 }, { label: 'Acknowledged offset', num: 1 }, 'In-sync slaves', 'State'],
      rrows, { testid: 'replication' }));
    box.appendChild(el('h2', {}, 'Live TPS'));
    const grid = el('div', { class: 'grid2' });
    box.appendChild(grid);
    for (const b of c.brokers.slice(0, 12)) {
      if (!b.up) continue;
      const fields = [{ key: 'putTps', label: 'in/s', digits: 1 }, { key: 'getTps', label: 'out/s', digits: 1 }];
      if (b.brokerId !== 0) fields.push({ key: 'replicationLagBytes', label: 'replication lag (bytes)' });
      grid.appendChild(await historyChart('broker', b.addr, b.brokerName + ' #' + b.brokerId + ' (' + b.addr + ')', fields, 'tps-chart'));
      if (gen !== generation) return;
    }
    footer.textContent = 'Polled ' + time(c.updatedAt) + ' in ' + c.pollMillis + ' ms · every ' + (config.pollIntervalMs / 1000) + ' s · name server ' + config.namesrvAddr;
  }
  function kpi(v, l, testid) { return el('div', { class: 'kpi', 'data-testid': testid }, el('div', { class: 'v' }, v), el('div', { class: 'l' }, l)); }

  function filterBar(state, onChange, what) {
    const input = el('input', { type: 'search', placeholder: 'filter ' + what, value: state.filter || '', 'data-testid': 'filter' });
    input.addEventListener('input', () => { state.filter = input.value; onChange(); });
    const cb = el('input', { type: 'checkbox', checked: !!state.all });
    cb.addEventListener('change', () => { state.all = cb.checked; onChange(); });
    return el('form', { class: 'inline', onsubmit: e => e.preventDefault() }, input, el('label', {}, el('span', {}, cb, ' show system, retry and DLQ')));
  }

  /* A list page (topics, groups): a note until the first poll, then a heading, a filter bar
   * and the table drawRows(d, filter, holder) draws. A refresh redraws the table only: the
   * filter keeps its text and focus. */
  async function listView(gen, box, path, title, what, state, drawRows) {
    const d = await api(path);
    if (gen !== generation) return;
    if (d.pending) {
      clear(box);
      box.appendChild(el('p', { class: 'muted' }, 'Waiting for the first look at the cluster…'));
      return;
    }
    let holder = box.querySelector('[data-part="data"]');
    if (!holder) {
      clear(box);
      holder = el('div', { 'data-part': 'data' });
      box.appendChild(el('h1', {}, title));
      box.appendChild(filterBar(state, () => box.redraw && box.redraw(), what));
      box.appendChild(holder);
    }
    const draw = () => {
      clear(holder);
      drawRows(d, (state.filter || '').toLowerCase(), holder);
    };
    box.redraw = draw; /* the filter bar redraws with the latest data */
    draw();
  }

  const topicsState = { filter: '', all: false };
  function viewTopics(gen, box) {
    return listView(gen, box, '/api/topics', 'Topics', 'topics', topicsState, (d, f, holder) => {
      const rows = d.topics.filter(t => (topicsState.all || t.kind === 'normal') && t.topic.toLowerCase().includes(f)).map(t =>
        el('tr', { class: 'clickable', 'data-testid': 'topic-row', 'data-topic': t.topic, onclick: () => { location.hash = '#/topic/' + enc(t.topic); } },
          td(link('#/topic/' + enc(t.topic), t.topic)), td(el('span', { class: 'tag' }, t.kind)), td(t.brokers.join(', ')),
          tdn(t.readQueues), tdn(t.messages), tdn(t.minOffset), tdn(t.maxOffset), tdn(t.tps, 1), td(time(t.lastUpdate))));
      holder.appendChild(table(['Topic', 'Kind', 'Brokers', { label: 'Queues', num: 1 }, { label: 'Messages', num: 1 }, { label: 'Min offset', num: 1 },
        { label: 'Max offset', num: 1 }, { label: 'TPS', num: 1 }, 'Last message'], rows, { testid: 'topics' }));
    });
  }

  async function viewTopic(gen, box, name) {
    const d = await api('/api/topic?topic=' + enc(name));
    if (gen !== generation) return;
    clear(box);
    box.appendChild(el('h1', {}, 'Topic ', el('span', { 'data-testid': 'topic-name' }, d.topic), ' ', el('span', { class: 'tag' }, d.kind)));
    box.appendChild(el('p', {}, link('#/messages?topic=' + enc(d.topic), 'Search its messages')));
    box.appendChild(el('h2', {}, 'Queues'));
    box.appendChild(table(['Broker', { label: 'Queue', num: 1 }, { label: 'Min offset', num: 1 }, { label: 'Max offset', num: 1 }, { label: 'Messages', num: 1 }, 'Last message'],
      d.queues.map(q => el('tr', { 'data-testid': 'queue-row' }, td(q.brokerName), tdn(q.queueId), tdn(q.minOffset), tdn(q.maxOffset), tdn(q.maxOffset - q.minOffset), td(time(q.lastUpdateTimestamp)))), { testid: 'queues' }));
    box.appendChild(el('h2', {}, 'Consumer groups'));
    box.appendChild(table(['Group', { label: 'Lag', num: 1 }], d.groups.map(g =>
      el('tr', { class: 'clickable', onclick: () => { location.hash = '#/group/' + enc(g.group); } }, td(link('#/group/' + enc(g.group), g.group)), tdn(g.lag))), { empty: 'No group consumes it.' }));
    box.appendChild(el('h2', {}, 'Messages per second'));
    box.appendChild(await historyChart('topic', d.topic, d.topic, [{ key: 'tps', label: 'in/s', digits: 1 }, { key: 'messages', label: 'messages stored' }], 'topic-chart'));
  }

  const groupsState = { filter: '', all: false };
  function viewGroups(gen, box) {
    return listView(gen, box, '/api/groups', 'Consumer groups', 'groups', groupsState, (d, f, holder) => {
      const rows = d.groups.filter(g => (groupsState.all || !g.system) && g.group.toLowerCase().includes(f)).map(g =>
        el('tr', { class: 'clickable', 'data-testid': 'group-row', 'data-group': g.group, onclick: () => { location.hash = '#/group/' + enc(g.group); } },
          td(link('#/group/' + enc(g.group), g.group)), tdn(g.members), el('td', { class: 'num', 'data-testid': 'group-lag' }, num(g.lag)), tdn(g.consumeTps, 1),
          td(g.consumeType || '–'), td(g.messageModel || '–'), td(g.topics.join(', '))));
      holder.appendChild(table(['Group', { label: 'Members', num: 1 }, { label: 'Lag', num: 1 }, { label: 'Consumed / s', num: 1 }, 'Type', 'Model', 'Topics'], rows, { testid: 'groups' }));
    });
  }

  async function viewGroup(gen, box, name) {
    const d = await api('/api/group?group=' + enc(name));
    if (gen !== generation) return;
    /* a refresh replaces the numbers only; the reset form stays as it is */
    let data = box.querySelector('[data-part="data"]');
    const first = !data;
    if (first) {
      clear(box);
      box.appendChild(el('h1', {}, 'Consumer group ', el('span', { 'data-testid': 'group-name' }, d.group)));
      data = el('div', { 'data-part': 'data' });
      box.appendChild(data);
    }
    const fresh = el('div', { 'data-part': 'data' });
    fresh.appendChild(el('div', { class: 'kpis' },
      kpi(num(d.lag), 'messages behind (lag)', 'kpi-lag'), kpi(String(d.members.length), 'members online', 'kpi-members'),
      kpi(d.consumeType || '–', 'consume type'), kpi(d.messageModel || '–', 'message model')));
    fresh.appendChild(el('h2', {}, 'Lag history'));
    fresh.appendChild(await historyChart('group', d.group, d.group, [{ key: 'lag', label: 'lag' }, { key: 'consumeTps', label: 'consumed/s', digits: 1 }], 'lag-chart'));
    if (gen !== generation) return;
    fresh.appendChild(el('h2', {}, 'Members'));
    fresh.appendChild(table(['Client id', 'Address', 'Language', { label: 'Version', num: 1 }],
      d.members.map(m => el('tr', { 'data-testid': 'member-row' }, td(m.clientId), td(m.clientAddr), td(m.language), tdn(m.version))), { empty: 'No consumer online.', testid: 'members' }));
    fresh.appendChild(el('h2', {}, 'Subscriptions'));
    fresh.appendChild(table(['Topic', 'Expression'], d.subscriptions.map(s => el('tr', {}, td(link('#/topic/' + enc(s.topic), s.topic)), td(s.expression)))));
    fresh.appendChild(el('h2', {}, 'Lag per queue'));
    fresh.appendChild(table(['Topic', 'Broker', { label: 'Queue', num: 1 }, { label: 'Broker offset', num: 1 }, { label: 'Consumer offset', num: 1 }, { label: 'Lag', num: 1 }, 'Last consumed'],
      d.queues.map(q => el('tr', { 'data-testid': 'lag-row' }, td(q.topic), td(q.brokerName), tdn(q.queueId), tdn(q.brokerOffset), tdn(q.consumerOffset), tdn(q.lag), td(time(q.lastTimestamp)))), { testid: 'lag-table' }));
    box.replaceChild(fresh, data);
    if (!first)
      return;
    box.appendChild(el('h2', {}, 'Reset offsets by time'));
    const topics = [...new Set(d.queues.map(q => q.topic).concat(d.subscriptions.map(s => s.topic)))].filter(t => !t.startsWith('%RETRY%'));
    if (!config.writeEnabled) {
      box.appendChild(el('p', { class: 'muted', 'data-testid': 'write-disabled' }, 'Write actions are disabled (start mqconsole with writeEnable=true).'));
      return;
    }
    const out = el('div');
    const sel = el('select', { name: 'topic' }, topics.map(t => el('option', { value: t }, t)));
    const when = el('input', { type: 'datetime-local', value: localInput(Date.now() - 3600 * 1000), name: 'time' });
    const force = el('input', { type: 'checkbox', checked: true, name: 'force' });
    const btn = el('button', { type: 'submit', 'data-testid': 'reset-button' }, 'Reset');
    const cred = credentialInputs();
    box.appendChild(el('form', {
      class: 'inline', 'data-testid': 'reset-form', onsubmit: async e => {
        e.preventDefault();
        clear(out);
        const ts = new Date(when.value).getTime();
        if (!sel.value || Number.isNaN(ts)) { out.appendChild(errorBox('Pick a topic and a time.')); return; }
        if (!window.confirm('Move the offsets of ' + d.group + ' on ' + sel.value + ' to ' + time(ts) + '?')) return;
        btn.disabled = true;
        try {
          const r = await post('/api/group/reset-offset', Object.assign({ group: d.group, topic: sel.value, timestamp: ts, force: force.checked }, cred.values()));
          out.appendChild(el('div', { class: 'note', 'data-testid': 'reset-ok' }, 'Offsets reset on ' + r.queues.length + ' queues (' + r.mode + ').'));
          for (const er of r.errors) out.appendChild(errorBox(er));
        } catch (err) { out.appendChild(errorBox(err.message)); }
        btn.disabled = false;
      }
    }, el('label', {}, 'Topic', sel), el('label', {}, 'Time', when), el('label', {}, el('span', {}, force, ' force')), cred.nodes, btn));
    box.appendChild(out);
  }

  function messageRows(list, topicForLink) {
    return list.map(m => el('tr', { class: 'clickable', 'data-testid': 'message-row', 'data-msgid': m.msgId,
      onclick: () => { location.hash = '#/message?topic=' + enc(topicForLink || m.topic) + '&id=' + enc(m.msgId); } },
      td(link('#/message?topic=' + enc(topicForLink || m.topic) + '&id=' + enc(m.msgId), m.msgId)), td(m.tags || ''), td(m.keys || ''),
      td(m.brokerName || ''), tdn(m.queueId), tdn(m.queueOffset), td(time(m.storeTimestamp)), tdn(m.reconsumeTimes),
      el('td', { class: 'preview' }, m.bodyEncoding === 'text' ? m.body + (m.bodyTruncated ? '…' : '') : '(binary, ' + m.bodySize + ' bytes)')));
  }
  const MSG_HEADERS = ['Message id', 'Tags', 'Keys', 'Broker', { label: 'Queue', num: 1 }, { label: 'Offset', num: 1 }, 'Stored', { label: 'Retries', num: 1 }, 'Body'];

  async function viewMessages(gen, box, q) {
    clear(box);
    box.appendChild(el('h1', {}, 'Messages'));
    const mode = q.get('id') ? 'id' : q.get('key') ? 'key' : 'time';
    const topic = el('input', { name: 'topic', value: q.get('topic') || '', placeholder: 'topic', required: true, 'data-testid': 'search-topic' });
    const modeSel = el('select', { name: 'mode', 'data-testid': 'search-mode' },
      el('option', { value: 'time', selected: mode === 'time' }, 'time range'), el('option', { value: 'key', selected: mode === 'key' }, 'key'), el('option', { value: 'id', selected: mode === 'id' }, 'message id'));
    const term = el('input', { name: 'term', value: q.get('key') || q.get('id') || '', placeholder: 'key or message id', 'data-testid': 'search-term' });
    const now = Date.now();
    const begin = el('input', { type: 'datetime-local', name: 'begin', value: localInput(q.get('begin') ? Number(q.get('begin')) : now - 3600 * 1000) });
    const end = el('input', { type: 'datetime-local', name: 'end', value: localInput(q.get('end') ? Number(q.get('end')) : now + 60 * 1000) });
    const limit = el('input', { type: 'number', name: 'limit', min: 1, max: config.queryMaxMessages || 2000, value: q.get('limit') || 64 });
    const form = el('form', {
      class: 'inline', 'data-testid': 'search-form', onsubmit: e => {
        e.preventDefault();
        const p = new URLSearchParams();
        p.set('topic', topic.value.trim());
        if (modeSel.value === 'time') { p.set('begin', String(new Date(begin.value).getTime())); p.set('end', String(new Date(end.value).getTime())); p.set('limit', limit.value); }
        else if (modeSel.value === 'key') { p.set('key', term.value.trim()); p.set('limit', limit.value); }
        else { location.hash = '#/message?' + new URLSearchParams({ topic: topic.value.trim(), id: term.value.trim() }).toString(); return; }
        location.hash = '#/messages?' + p.toString();
      }
    }, el('label', {}, 'Topic', topic), el('label', {}, 'Search by', modeSel), el('label', {}, 'Key / id', term),
      el('label', {}, 'From', begin), el('label', {}, 'To', end), el('label', {}, 'Limit', limit), el('button', { type: 'submit', 'data-testid': 'search-button' }, 'Search'));
    box.appendChild(form);
    const results = el('div', { 'data-testid': 'search-results' });
    box.appendChild(results);
    if (!q.get('topic')) return;
    const params = new URLSearchParams();
    for (const k of ['topic', 'key', 'begin', 'end', 'limit']) if (q.get(k)) params.set(k, q.get(k));
    results.appendChild(el('p', { class: 'muted' }, 'Searching…'));
    try {
      const d = await api('/api/messages?' + params.toString());
      if (gen !== generation) return;
      clear(results);
      results.appendChild(el('p', { class: 'muted' }, d.messages.length + ' message(s)' + (d.truncated ? ' (limit reached)' : '')));
      results.appendChild(table(MSG_HEADERS, messageRows(d.messages, d.topic), { testid: 'messages', empty: 'No message found.' }));
    } catch (e) {
      if (gen !== generation) return;
      clear(results);
      results.appendChild(errorBox(e.message));
    }
  }

  async function viewMessage(gen, box, q) {
    const d = await api('/api/message?topic=' + enc(q.get('topic') || '') + '&id=' + enc(q.get('id') || ''));
    if (gen !== generation) return;
    const m = d.message;
    clear(box);
    box.appendChild(el('h1', {}, 'Message ', el('span', { 'data-testid': 'message-id' }, m.msgId)));
    const head = [['Topic', m.topic], ['Tags', m.tags || ''], ['Keys', m.keys || ''], ['Message id', m.msgId], ['Offset message id', m.offsetMsgId],
      ['Broker', m.brokerName || ''], ['Queue', m.queueId], ['Queue offset', m.queueOffset], ['Commit-log offset', m.commitLogOffset],
      ['Born', time(m.bornTimestamp) + ' from ' + m.bornHost], ['Stored', time(m.storeTimestamp) + ' on ' + m.storeHost],
      ['Reconsume times', m.reconsumeTimes], ['Body', m.bodySize + ' bytes' + (m.compressed ? ' (compressed, ' + m.inflatedSize + ' inflated)' : '') + ', CRC ' + m.bodyCRC],
      ['System flag', m.sysFlag], ['Flag', m.flag]];
    box.appendChild(el('h2', {}, 'Headers'));
    box.appendChild(table(['Field', 'Value'], head.map(([k, v]) => el('tr', {}, td(k), td(String(v)))), { testid: 'headers' }));
    box.appendChild(el('h2', {}, 'Properties'));
    box.appendChild(table(['Name', 'Value'], Object.entries(m.properties).map(([k, v]) => el('tr', { 'data-testid': 'property-row' }, td(k), td(v))), { testid: 'properties' }));
    box.appendChild(el('h2', {}, 'Body' + (m.bodyEncoding === 'base64' ? ' (binary: base64)' : '') + (m.bodyTruncated ? ' (first ' + config.maxBodyBytes + ' bytes)' : '')));
    box.appendChild(el('pre', { class: 'body', 'data-testid': 'message-body' }, m.body));
    box.appendChild(el('h2', {}, 'Deliveries'));
    box.appendChild(table(['Group', { label: 'Committed offset', num: 1 }, 'Consumed'], d.deliveries.map(x =>
      el('tr', { 'data-testid': 'delivery-row' }, td(link('#/group/' + enc(x.group), x.group)), tdn(x.committedOffset),
        el('td', {}, el('span', { class: 'tag ' + (x.consumed ? 'ok' : 'warn') }, x.consumed ? 'consumed' : 'not yet')))), { empty: 'No group consumes this topic.' }));
    box.appendChild(el('h2', {}, 'Resend to a consumer group'));
    if (!config.writeEnabled) {
      box.appendChild(el('p', { class: 'muted', 'data-testid': 'write-disabled' }, 'Write actions are disabled (start mqconsole with writeEnable=true).'));
      return;
    }
    box.appendChild(resendForm(m.topic.startsWith('%DLQ%') ? null : m.topic, m.msgId, d.deliveries.map(x => x.group), m.topic.startsWith('%DLQ%') ? m.topic.slice(5) : ''));
  }

  function resendForm(topic, id, groups, preset) {
    const out = el('div');
    const g = el('input', { name: 'group', value: preset || groups[0] || '', list: 'groups-list', placeholder: 'consumer group', 'data-testid': 'resend-group' });
    const dl = el('datalist', { id: 'groups-list' }, groups.map(x => el('option', { value: x })));
    const btn = el('button', { type: 'submit', 'data-testid': 'resend-button' }, 'Resend');
    const cred = credentialInputs();
    return el('div', {}, el('form', {
      class: 'inline', onsubmit: async e => {
        e.preventDefault();
        clear(out);
        btn.disabled = true;
        try {
          const r = topic ? await post('/api/message/resend', Object.assign({ topic, id, group: g.value.trim() }, cred.values()))
            : await post('/api/dlq/resend', Object.assign({ group: g.value.trim(), id }, cred.values()));
          out.appendChild(el('div', { class: 'note', 'data-testid': 'resend-ok' }, 'Sent to ' + r.topic + ' (queue ' + r.queueId + ', offset ' + r.queueOffset + '): the group receives it again.'));
        } catch (err) { out.appendChild(errorBox(err.message)); }
        btn.disabled = false;
      }
    }, el('label', {}, 'Group', g), dl, cred.nodes, btn), out);
  }

  /* Under ACL a write action runs with the operator's own credentials:
   * two fields, sent with that request only, never stored by the page. */
  function credentialInputs() {
    if (!config.writeCredentialsRequired) return { nodes: [], values: () => ({}) };
    const ak = el('input', { name: 'accessKey', autocomplete: 'username', placeholder: 'access key', 'data-testid': 'cred-ak' });
    const sk = el('input', { name: 'secretKey', type: 'password', autocomplete: 'current-password', placeholder: 'secret key', 'data-testid': 'cred-sk' });
    return { nodes: [el('label', {}, 'Access key', ak), el('label', {}, 'Secret key', sk)], values: () => ({ accessKey: ak.value, secretKey: sk.value }) };
  }

  async function viewDlq(gen, box, q) {
    clear(box);
    box.appendChild(el('h1', {}, 'Dead-letter queues'));
    const gi = el('input', { name: 'group', value: q.get('group') || '', placeholder: 'consumer group', 'data-testid': 'dlq-group' });
    box.appendChild(el('form', { class: 'inline', onsubmit: e => { e.preventDefault(); location.hash = '#/dlq?group=' + enc(gi.value.trim()); } },
      el('label', {}, 'Group', gi), el('button', { type: 'submit' }, 'Show')));
    const results = el('div', { 'data-testid': 'dlq-results' });
    box.appendChild(results);
    if (!q.get('group')) {
      try {
        const gs = await api('/api/groups');
        if (gen !== generation || gs.pending) return;
        const dl = gs.groups.filter(g => !g.system).map(g => el('li', {}, link('#/dlq?group=' + enc(g.group), g.group)));
        results.appendChild(el('p', { class: 'muted' }, 'Pick a group:'));
        results.appendChild(el('ul', {}, dl));
      } catch (e) { results.appendChild(errorBox(e.message)); }
      return;
    }
    const d = await api('/api/dlq?group=' + enc(q.get('group')) + '&limit=' + (config.queryMaxMessages > 200 ? 200 : config.queryMaxMessages));
    if (gen !== generation) return;
    results.appendChild(el('p', { class: 'muted' }, d.messages.length + ' dead letter(s) in ' + d.topic + (d.truncated ? ' (first ones shown)' : '')));
    const cred = credentialInputs();
    if (config.writeEnabled && cred.nodes.length) results.appendChild(el('form', { class: 'inline', onsubmit: e => e.preventDefault() }, cred.nodes));
    const rows = d.messages.map(m => {
      const tr = messageRows([m], d.topic)[0];
      const cell = el('td');
      if (config.writeEnabled) {
        const b = el('button', { class: 'secondary', 'data-testid': 'dlq-resend' }, 'Resend to ' + d.group);
        b.addEventListener('click', async ev => {
          ev.stopPropagation();
          b.disabled = true;
          try { await post('/api/dlq/resend', Object.assign({ group: d.group, id: m.msgId }, cred.values())); b.textContent = 'Resent'; } catch (err) { b.textContent = err.message; b.disabled = false; }
        });
        cell.appendChild(b);
      }
      tr.appendChild(cell);
      return tr;
    });
    results.appendChild(table(MSG_HEADERS.concat(['']), rows, { testid: 'dlq', empty: 'No dead letter.' }));
  }

  /* ---------- routing ---------- */

  function route() {
    const h = location.hash || '#/cluster';
    const [path, query] = h.slice(1).split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { view: parts[0] || 'cluster', arg: parts[1], q: new URLSearchParams(query || '') };
  }

  async function render(refresh) {
    const r = route();
    const gen = refresh ? generation : ++generation;
    for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.id === 'nav-' + (r.view === 'topic' ? 'topics' : r.view === 'group' ? 'groups' : r.view === 'message' ? 'messages' : r.view));
    const views = {
      cluster: b => viewCluster(gen, b), topics: b => viewTopics(gen, b), topic: b => viewTopic(gen, b, r.arg),
      groups: b => viewGroups(gen, b), group: b => viewGroup(gen, b, r.arg), messages: b => viewMessages(gen, b, r.q),
      message: b => viewMessage(gen, b, r.q), dlq: b => viewDlq(gen, b, r.q),
    };
    const fn = views[r.view];
    if (!refresh) {
      if (r.view !== 'cluster') footer.textContent = '';
      clear(main);
      main.appendChild(el('div', { id: 'view-' + r.view, 'data-view': r.view }, el('p', { class: 'muted' }, 'Loading…')));
    }
    const box = main.firstChild;
    if (!fn) { clear(box); box.appendChild(errorBox('No such page.')); return; }
    try {
      await fn(box);
      if (gen === generation) {
        setStatus('updated ' + time(Date.now()).slice(11), false);
        box.setAttribute('data-loaded', 'true');
      }
    } catch (e) {
      if (gen !== generation) return;
      if (!refresh) { clear(box); box.appendChild(errorBox(e.message)); box.setAttribute('data-loaded', 'error'); }
      setStatus(e.message, true);
    }
  }

  function schedule() {
    if (timer) clearInterval(timer);
    const v = route().view;
    /* views that show live numbers refresh with the poller; forms do not */
    if (v === 'cluster' || v === 'topics' || v === 'groups' || v === 'group')
      timer = setInterval(() => {
        /* not while someone types into a field of the view */
        const a = document.activeElement;
        if (a && (a.tagName === 'INPUT' || a.tagName === 'SELECT')) return;
        render(true);
      }, Math.max(1000, config.pollIntervalMs || 5000));
  }

  window.addEventListener('hashchange', () => { render(false); schedule(); });
  api('/api/config').then(c => { config = c; }).catch(e => setStatus(e.message, true)).finally(() => { render(false); schedule(); });
})();
