// lorkd dashboard: vanilla JS over the coordinator's JSON API and SSE event stream (no build step).
const app = document.getElementById('app');
const conn = document.getElementById('conn');
const COLORS = ['#2f6fde', '#d64545', '#1f9d55', '#c98a00', '#8e44ad', '#16a2b8', '#e67e22', '#5d6d7e'];
let stopPage = () => {};

const esc = (v) =>
  String(v ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const fmt = (v, digits = 3) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');
const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '–');
const bytes = (n) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
const eta = (s) =>
  typeof s !== 'number'
    ? '–'
    : s >= 3600
      ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`
      : s >= 60
        ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s`
        : `${Math.round(s)}s`;
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');

class Unauthorized extends Error {}

async function api(path, init) {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  if (res.status === 401) throw new Unauthorized('token required');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

function phaseText(state) {
  if (!state) return '–';
  switch (state.phase) {
    case 'teacher':
      return `teacher ${state.step}/${state.totalSteps}`;
    case 'training':
      return `training g${state.generation} ${state.step}/${state.totalSteps}`;
    case 'restarting':
      return `restarting g${state.generation}: ${state.cause}`;
    case 'failed':
      return `failed: ${state.cause}`;
    default:
      return state.phase;
  }
}
const badge = (state) => `<span class="badge ${esc(state?.phase)}" data-testid="phase">${esc(phaseText(state))}</span>`;

function showLogin(message) {
  stopPage();
  app.innerHTML = `<form class="login" id="login"><h1>Sign in</h1>
    <p class="muted">The API is protected by the coordinator's token (LORKD_API_TOKEN).</p>
    <input type="password" name="token" placeholder="API token" autocomplete="current-password" required>
    <button type="submit">Open dashboard</button><p class="error">${esc(message ?? '')}</p></form>`;
  document.getElementById('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = new FormData(e.target).get('token');
    try {
      await api('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token }),
      });
      await route();
    } catch (err) {
      showLogin(err instanceof Unauthorized ? 'wrong token' : err.message);
    }
  });
}

// ---- runs list -----------------------------------------------------------------------------------------
async function runsPage() {
  const draw = async () => {
    const { runs } = await api('/api/runs');
    const rows = runs
      .map((r) => {
        const regions = Object.values(r.progress ?? {});
        const done = regions.reduce((a, p) => a + p.step, 0);
        const total = regions.reduce((a, p) => a + p.totalSteps, 0) || 1;
        return `<tr data-run="${esc(r.id)}"><td><a href="/runs/${encodeURIComponent(r.id)}">${esc(r.name)}</a><br><span class="muted">${esc(r.id)}</span></td>
          <td>${badge(r.state)}</td><td><span class="bar"><span style="width:${((100 * done) / total).toFixed(1)}%"></span></span></td>
          <td class="num">${r.spec?.regions?.length ?? 0}</td><td class="num">${r.generation}</td><td class="num">${r.restarts?.length ?? 0}</td>
          <td>${esc(new Date(r.createdAt).toLocaleString())}</td></tr>`;
      })
      .join('');
    app.innerHTML = `<h1>Runs</h1><table id="runs"><thead><tr><th>Run</th><th>State</th><th>Progress</th><th class="num">Regions</th>
      <th class="num">Generation</th><th class="num">Restarts</th><th>Created</th></tr></thead>
      <tbody>${rows || '<tr><td colspan="7" class="muted">No runs yet: lorkd run SPEC.yaml</td></tr>'}</tbody></table>`;
  };
  await draw();
  const timer = setInterval(() => draw().catch(handleError), 2000);
  return () => clearInterval(timer);
}

// ---- queues --------------------------------------------------------------------------------------------
async function queuesPage() {
  const draw = async () => {
    const { queues } = await api('/api/queues');
    const rows = queues
      .map(
        (q) => `<tr><td>${esc(q.name)}${q.paused ? ' <span class="badge cancelled">paused</span>' : ''}</td>
        ${['waiting', 'active', 'delayed', 'completed', 'failed'].map((k) => `<td class="num">${q[k]}</td>`).join('')}</tr>`,
      )
      .join('');
    app.innerHTML = `<h1>Queues</h1><table id="queues"><thead><tr><th>Queue</th><th class="num">Waiting</th><th class="num">Active</th>
      <th class="num">Delayed</th><th class="num">Completed</th><th class="num">Failed</th></tr></thead><tbody>${rows}</tbody></table>`;
  };
  await draw();
  const timer = setInterval(() => draw().catch(handleError), 2000);
  return () => clearInterval(timer);
}

// ---- charts --------------------------------------------------------------------------------------------
function lineChart(id, series, opts) {
  const W = 540;
  const H = 220;
  const L = 48;
  const B = 24;
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0)
    return `<svg id="${id}" width="${W}" height="${H}"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">waiting for data…</text></svg>`;
  const xMax = Math.max(1, opts.xMax ?? 0, ...pts.map((p) => p[0]));
  const yVals = pts.map((p) => p[1]).filter(Number.isFinite);
  const yMin = Math.min(0, ...yVals);
  const yMax = Math.max(...yVals, yMin + 1e-6) * 1.05;
  const x = (v) => L + ((W - L - 8) * v) / xMax;
  const y = (v) => H - B - ((H - B - 8) * (v - yMin)) / (yMax - yMin);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => yMin + f * (yMax - yMin));
  const grid = ticks
    .map(
      (t) =>
        `<line x1="${L}" x2="${W - 8}" y1="${y(t)}" y2="${y(t)}" stroke="#eef0f5"/><text x="${L - 4}" y="${y(t) + 4}" text-anchor="end">${t.toPrecision(3)}</text>`,
    )
    .join('');
  const marks = (opts.markers ?? [])
    .map(
      (m) =>
        `<line class="restart-marker" x1="${x(m.x)}" x2="${x(m.x)}" y1="8" y2="${H - B}" stroke="#c98a00" stroke-dasharray="2 3"><title>${esc(m.label)}</title></line>`,
    )
    .join('');
  const lines = series
    .filter((s) => s.points.length > 0)
    .map(
      (s) =>
        `<polyline class="series" data-series="${esc(s.name)}" fill="none" stroke="${s.color}" stroke-width="1.6" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''} points="${s.points
          .filter((p) => Number.isFinite(p[1]))
          .map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
          .join(' ')}"/>`,
    )
    .join('');
  const axis = `<line x1="${L}" x2="${W - 8}" y1="${H - B}" y2="${H - B}" stroke="#999"/><text x="${W - 8}" y="${H - 6}" text-anchor="end">${esc(opts.xLabel)} (max ${xMax})</text>`;
  return `<svg id="${id}" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(opts.title)}">${grid}${marks}${lines}${axis}</svg>`;
}

// ---- run page ------------------------------------------------------------------------------------------
function runPage(id) {
  const history = new Map(); // region -> [{step, loss, task, kd, sps}]
  const checkpoints = [];
  const restarts = [];
  let record;
  let report;
  let lastState;
  let refreshing;
  let source;

  const regionNames = () => (record?.spec?.regions ?? []).map((r) => r.name);
  const color = (region) => COLORS[Math.max(0, regionNames().indexOf(region)) % COLORS.length];

  function draw() {
    if (!record) return;
    const state = lastState ?? record.state;
    const progress = record.progress ?? {};
    const rows = regionNames()
      .map((name) => {
        const p = progress[name] ?? { step: 0, totalSteps: record.spec.training.steps };
        const frac = p.totalSteps > 0 ? p.step / p.totalSteps : 0;
        return `<tr data-region="${esc(name)}"><td><i style="display:inline-block;width:10px;height:10px;background:${color(name)}"></i> ${esc(name)}</td>
          <td><span class="bar"><span style="width:${(100 * frac).toFixed(1)}%"></span></span></td>
          <td class="num step">${p.step}/${p.totalSteps}</td><td class="num">${fmt(p.loss)}</td><td class="num">${fmt(p.taskLoss)}</td>
          <td class="num">${fmt(p.kdLoss)}</td><td class="num">${fmt(p.samplesPerSec, 1)}</td><td class="num">${eta(p.etaSec)}</td></tr>`;
      })
      .join('');
    const series = [];
    const sps = [];
    for (const [region, points] of history) {
      const c = color(region);
      series.push({ name: `${region} total`, color: c, points: points.map((p) => [p.step, p.loss]) });
      series.push({
        name: `${region} task`,
        color: c,
        dash: '6 3',
        points: points.filter((p) => p.task !== undefined).map((p) => [p.step, p.task]),
      });
      series.push({
        name: `${region} kd`,
        color: c,
        dash: '1 3',
        points: points.filter((p) => p.kd !== undefined).map((p) => [p.step, p.kd]),
      });
      sps.push({
        name: region,
        color: c,
        points: points.filter((p) => p.sps !== undefined).map((p) => [p.step, p.sps]),
      });
    }
    const markers = restarts.map((r) => ({ x: r.fromStep, label: `g${r.generation} ${r.cause}: ${r.reason}` }));
    const legend = `<div class="legend">${regionNames()
      .map((n) => `<span><i style="background:${color(n)}"></i>${esc(n)}</span>`)
      .join('')}
      <span class="muted">solid: total · dashed: task · dotted: teacher-KD · amber: restarts</span></div>`;
    const restartItems = restarts
      .map(
        (r) =>
          `<li><b>${esc(time(r.at))}</b> generation ${r.generation} · <span class="badge restarting">${esc(r.cause)}</span> ${esc(r.reason)} · from step ${r.fromStep}</li>`,
      )
      .join('');
    const ckptRows = checkpoints
      .slice(-10)
      .reverse()
      .map(
        (c) =>
          `<tr><td class="num">${c.step}</td><td>${esc(time(c.at))}</td><td class="num">${bytes(c.bytes)}</td><td class="num">${Math.round(c.ms)} ms</td></tr>`,
      )
      .join('');
    app.innerHTML = `<h1>${esc(record.name)} ${badge(state)}</h1>
      <p class="muted">${esc(record.id)} · generation <span id="generation">${record.generation}</span> · storage ${esc(record.storageUrl)} · updated ${esc(time(record.updatedAt))}</p>
      ${state.phase === 'failed' ? `<p class="error">${esc(state.reason)}</p>` : ''}
      <h2>Regions</h2><table id="regions"><thead><tr><th>Region</th><th>Progress</th><th class="num">Step</th><th class="num">Loss</th>
      <th class="num">Task</th><th class="num">KD</th><th class="num">Samples/s</th><th class="num">ETA</th></tr></thead><tbody>${rows}</tbody></table>
      <div class="grid"><div class="card"><h2>Loss</h2>${legend}${lineChart('loss-chart', series, { xLabel: 'step', xMax: record.spec.training.steps, markers, title: 'loss per region' })}</div>
      <div class="card"><h2>Throughput (samples/s)</h2>${lineChart('throughput-chart', sps, { xLabel: 'step', xMax: record.spec.training.steps, markers, title: 'samples per second' })}</div></div>
      <div class="grid"><div class="card"><h2>Restarts</h2><ul class="timeline" id="restarts">${restartItems || '<li class="muted">none</li>'}</ul></div>
      <div class="card"><h2>Checkpoints</h2><table id="checkpoints"><thead><tr><th class="num">Step</th><th>At</th><th class="num">Size</th><th class="num">Write</th></tr></thead>
      <tbody>${ckptRows || '<tr><td colspan="4" class="muted">none yet</td></tr>'}</tbody></table></div></div>
      ${reportHtml()}`;
  }

  function reportHtml() {
    if (!report) return '';
    const rows = reportRows(report)
      .map(
        (
          r,
        ) => `<tr><td>${esc(r.region)}</td><td class="num">${pct(r.teacher)}</td><td class="num">${pct(r.student)}</td>
        <td class="num"><b>${pct(r.expert)}</b></td><td class="num">${r.params ?? '–'}</td></tr>`,
      )
      .join('');
    return `<h2>Report</h2><table id="report"><thead><tr><th>Region</th><th class="num">Teacher</th><th class="num">Shared student</th>
      <th class="num">Expert</th><th class="num">Expert params</th></tr></thead><tbody>${rows}</tbody></table>
      <p><a href="/api/runs/${encodeURIComponent(id)}/report/index.html" target="_blank">Full report with plots</a></p>`;
  }

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      record = await api(`/api/runs/${encodeURIComponent(id)}`);
      if (record.state.phase === 'done' && !report)
        report = await api(`/api/runs/${encodeURIComponent(id)}/report/report.json`).catch(() => undefined);
      draw();
    } finally {
      refreshing = false;
    }
  }

  function onEvent(e) {
    const ev = JSON.parse(e.data);
    if (ev.type === 'progress' && ev.phase === 'training') {
      const progress = { ...(record?.progress ?? {}) };
      for (const p of ev.progress) {
        progress[p.region] = p;
        const h = history.get(p.region) ?? [];
        h.push({ step: p.step, loss: p.loss, task: p.taskLoss, kd: p.kdLoss, sps: p.samplesPerSec });
        history.set(p.region, h);
      }
      if (record) record = { ...record, progress };
    } else if (ev.type === 'checkpoint') {
      checkpoints.push(ev);
    } else if (ev.type === 'restart') {
      restarts.push(ev);
      for (const [region, h] of history)
        history.set(
          region,
          h.filter((p) => p.step <= ev.fromStep),
        );
    } else if (ev.type === 'state') {
      lastState = ev.state;
      refresh().catch(handleError);
    }
    draw();
  }

  const start = async () => {
    await refresh();
    source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
    for (const t of ['state', 'progress', 'checkpoint', 'restart', 'log']) source.addEventListener(t, onEvent);
    // On reconnect the browser sends Last-Event-ID, so the server resumes after the last event seen.
    source.onopen = () => {
      conn.textContent = 'live';
    };
    source.onerror = () => {
      conn.textContent = 'reconnecting…';
    };
  };
  start().catch(handleError);
  return () => {
    source?.close();
    conn.textContent = '';
  };
}

/** Rows of the per-region comparison from report.json (tolerates both array and map forms). */
function reportRows(rep) {
  const acc = (v) => (typeof v === 'number' ? v : typeof v?.accuracy === 'number' ? v.accuracy : undefined);
  const list = Array.isArray(rep?.regions)
    ? rep.regions
    : Object.entries(rep?.regions ?? {}).map(([region, v]) => ({ region, ...v }));
  return list.map((r) => ({
    region: r.region ?? r.name,
    teacher: acc(r.teacher) ?? r.teacherAccuracy,
    student: acc(r.student ?? r.shared) ?? r.sharedStudentAccuracy ?? r.studentAccuracy,
    expert: acc(r.expert) ?? r.expertAccuracy,
    params: r.expert?.params ?? r.expertParams ?? rep?.params?.foldedExpert ?? rep?.params?.expert,
  }));
}

function handleError(err) {
  if (err instanceof Unauthorized) showLogin();
  else app.insertAdjacentHTML('afterbegin', `<p class="error">${esc(err.message)}</p>`);
}

async function route() {
  stopPage();
  stopPage = () => {};
  const path = location.pathname;
  for (const a of document.querySelectorAll('[data-nav]'))
    a.classList.toggle('active', path === a.getAttribute('href'));
  try {
    const m = /^\/runs\/([^/]+)$/.exec(path);
    if (m) stopPage = runPage(decodeURIComponent(m[1]));
    else if (path === '/queues') stopPage = await queuesPage();
    else stopPage = await runsPage();
  } catch (err) {
    handleError(err);
  }
}

async function boot() {
  // `#token=…` (printed by `lorkd up`/`lorkd demo`) logs in once; the fragment never reaches the server.
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', location.pathname);
    await api('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: decodeURIComponent(m[1]) }),
    }).catch(() => undefined);
  }
  await route();
}
boot().catch(handleError);
