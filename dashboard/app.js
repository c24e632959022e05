// The masq dashboard: one snapshot a second over server-sent events
// (/api/stream), drawn into the panels the daemon fills. Filters go to the
// server as query keys (the same ones `masq conntrack` and /flows take), so
// a filtered view of a million flows sends only what it shows.
'use strict';

const HISTORY_SECONDS = 300;
const dropHistory = new Map(); // reason -> [{t, total}]
let source = null;

const $ = (id) => document.getElementById(id);

function text(tag, value, label) {
  const el = document.createElement(tag);
  el.textContent = value === null || value === undefined ? '' : String(value);
  if (label) el.dataset.label = label;
  return el;
}

function show(id, present) {
  $(id).hidden = !present;
}

function fillList(dl, entries) {
  dl.replaceChildren(...entries.flatMap(([k, v]) => [text('dt', k), text('dd', v === null ? '—' : v)]));
}

const ep = (e) => `${e.address}:${e.port}`;

function seconds(s) {
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.round(s)} s`;
}

function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

function flowState(f) {
  if (f.tcpState) return f.tcpState;
  return f.replied ? 'ASSURED' : 'UNREPLIED';
}

function drawFlows(flows) {
  $('flow-count').textContent = flows.matched > flows.shown.length ? `(${flows.shown.length} of ${flows.matched} shown)` : `(${flows.matched})`;
  const rows = flows.shown.map((f) => {
    const tr = document.createElement('tr');
    tr.dataset.flow = `${f.proto} ${ep(f.inside)} ${ep(f.remote)}`;
    tr.append(
      text('td', f.proto, 'proto'),
      text('td', flowState(f), 'state'),
      text('td', ep(f.inside), 'inside'),
      text('td', ep(f.public), 'public'),
      text('td', ep(f.remote), 'remote'),
      text('td', f.origin, 'origin'),
      text('td', f.helper ?? '', 'ALG'),
      text('td', `${f.packets.out} / ${f.packets.in}`, 'packets out/in'),
      text('td', `${bytes(f.bytes.out)} / ${bytes(f.bytes.in)}`, 'bytes out/in'),
      text('td', seconds(f.timeoutSeconds), 'expires'),
    );
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = text('td', 'no flows match', '');
    td.colSpan = 10;
    td.className = 'empty';
    tr.append(td);
    rows.push(tr);
  }
  $('flows').tBodies[0].replaceChildren(...rows);
}

function drawTable(id, items, cells, empty) {
  const rows = items.map((item) => {
    const tr = document.createElement('tr');
    tr.append(...cells(item).map((v) => text('td', v)));
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = text('td', empty);
    td.colSpan = 8;
    td.className = 'empty';
    tr.append(td);
    rows.push(tr);
  }
  $(id).tBodies[0].replaceChildren(...rows);
}

function drawDrops(drops, time) {
  const t = time / 1000;
  for (const [reason, total] of Object.entries(drops)) {
    if (!dropHistory.has(reason)) dropHistory.set(reason, []);
  }
  for (const [reason, points] of dropHistory) {
    points.push({ t, total: drops[reason] ?? (points.at(-1)?.total ?? 0) });
    while (points.length > 0 && points[0].t < t - HISTORY_SECONDS) points.shift();
  }
  const rows = [];
  for (const [reason, points] of [...dropHistory].sort()) {
    const rates = [];
    for (let i = 1; i < points.length; i++) {
      const dt = points[i].t - points[i - 1].t;
      rates.push(dt > 0 ? Math.max(0, points[i].total - points[i - 1].total) / dt : 0);
    }
    const max = Math.max(1, ...rates);
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', `0 0 ${HISTORY_SECONDS} 28`);
    svg.setAttribute('preserveAspectRatio', 'none');
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    const x0 = HISTORY_SECONDS - rates.length;
    line.setAttribute('points', rates.map((r, i) => `${x0 + i},${27 - (r / max) * 26}`).join(' '));
    svg.append(line);
    const row = document.createElement('div');
    row.className = 'drop-row';
    row.dataset.reason = reason;
    row.append(text('span', reason), svg, text('span', `${(rates.at(-1) ?? 0).toFixed(1)}/s`));
    rows.push(row);
  }
  if (rows.length === 0) rows.push(text('p', 'no drops since start'));
  $('drops').replaceChildren(...rows);
}

function drawCounters(groups) {
  const blocks = Object.entries(groups).map(([group, values]) => {
    const div = document.createElement('div');
    div.className = 'counter-group';
    const dl = document.createElement('dl');
    fillList(dl, Object.entries(values));
    div.append(text('h3', group), dl);
    return div;
  });
  $('counters').replaceChildren(...blocks);
}

function draw(s) {
  $('service').textContent = s.service;
  document.title = s.service;
  show('summary-panel', !!s.summary);
  if (s.summary) fillList($('summary'), Object.entries(s.summary));
  show('behaviour-panel', !!s.behaviour);
  if (s.behaviour) fillList($('behaviour'), Object.entries(s.behaviour));
  show('flows-panel', !!s.flows);
  if (s.flows) drawFlows(s.flows);
  show('calls-panel', !!s.calls);
  if (s.calls) drawTable('calls', s.calls, (c) => [c.alg, c.group, c.inside.join(', '), c.expectations, c.flows, c.packets], 'no calls');
  show('expectations-panel', !!s.expectations);
  if (s.expectations) {
    drawTable(
      'expectations',
      s.expectations,
      (e) => [e.helper, e.class, ep(e.public), ep(e.inside), `${e.remote.address}:${e.remote.port || '*'}`, seconds(e.timeoutSeconds), e.reason],
      'no expectations',
    );
  }
  show('drops-panel', !!s.drops);
  if (s.drops) drawDrops(s.drops, s.time);
  show('counters-panel', !!s.counters);
  if (s.counters) drawCounters(s.counters);
}

function query() {
  const params = new URLSearchParams();
  for (const el of $('filters').elements) if (el.name && el.value.trim()) params.set(el.name, el.value.trim());
  return params;
}

function connect() {
  source?.close();
  const live = $('live');
  live.textContent = 'connecting';
  live.className = 'live off';
  source = new EventSource(`/api/stream?${query()}`);
  source.addEventListener('snapshot', (ev) => {
    live.textContent = 'live';
    live.className = 'live';
    $('filter-problem').hidden = true;
    draw(JSON.parse(ev.data));
  });
  source.addEventListener('problem', (ev) => {
    $('filter-problem').textContent = JSON.parse(ev.data).error;
    $('filter-problem').hidden = false;
  });
  source.onerror = () => {
    live.textContent = 'reconnecting';
    live.className = 'live off';
    // A filter the server refuses answers 400: say so instead of retrying forever.
    fetch(`/api/snapshot?${query()}&limit=0`).then(async (r) => {
      if (r.status === 400) {
        source.close();
        $('filter-problem').textContent = (await r.json()).error;
        $('filter-problem').hidden = false;
        live.textContent = 'filter refused';
      }
    }, () => {});
  };
}

let pending = null;
$('filters').addEventListener('input', () => {
  clearTimeout(pending);
  pending = setTimeout(connect, 300);
});
$('filters').addEventListener('submit', (e) => e.preventDefault());
connect();
