import type { NodeStatus } from './node-status.ts';

// GET /: one self-contained page for a person at a glance — node, revision (refused ones in
// red), conditions, who is master of each instance, drift, real-server health. No external
// resources (a load balancer's management network often has no way out), inline CSS.
//
// The view is rendered by ONE function, written as browser JavaScript below: the server runs
// it for the first answer (so the page works without JS, and curl shows the facts), and the
// page runs the same text every 2 s on a fresh GET /status. Two renderers would drift apart.
// Every value passes through `e`, which escapes HTML, before it reaches the markup.

const RENDER = `function render(s) {
  var e = function (v) {
    return String(v === null || v === undefined ? '' : v)
      .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  };
  var list = function (xs) { return Array.isArray(xs) ? xs : []; };
  var row = function (k, v) { return '<tr><th>' + e(k) + '</th><td>' + v + '</td></tr>'; };
  var muted = function (t) { return '<span class="muted">' + e(t) + '</span>'; };
  var labels = { Initialize: 'INIT', Backup: 'BACKUP', Master: 'MASTER', Fault: 'FAULT', Stopping: 'STOPPING' };
  var conditions = list(s.conditions);
  var ready = null;
  for (var c = 0; c < conditions.length; c++) if (conditions[c].type === 'Ready') ready = conditions[c];
  var isReady = ready !== null && ready.status === 'True';
  var r = s.revision || {};
  var h = '<header><h1>' + e(s.node) + '</h1><span id="ready" class="badge ' + (isReady ? 'ok' : 'bad') + '">' +
    (isReady ? 'Ready' : 'Not ready' + (ready ? ': ' + e(ready.reason) : '')) + '</span></header>';

  h += '<section><h2>Revision</h2><table class="kv" id="revision">';
  h += row('applied', '<code id="applied">' + e(r.applied) + '</code>');
  h += row('desired', r.desired === null || r.desired === undefined ? muted('unknown') :
    '<code class="' + (r.desired !== r.applied ? 'amber' : '') + '">' + e(r.desired) + '</code>');
  h += row('last good', r.lastGood ? '<code>' + e(r.lastGood) + '</code>' : muted('none'));
  var src = s.source || {};
  h += row('source', e(src.kind) + ' <code>' + e(src.url) + '</code>' + (src.ref ? ' @ <code>' + e(src.ref) + '</code>' : '') +
    (src.lastFetchAt ? ' ' + muted('fetched ' + src.lastFetchAt) : '') +
    (src.lastError ? ' <span class="red">' + e(src.lastError) + '</span>' : ''));
  var lr = s.lastReconcile;
  h += row('last reconcile', lr ? '<span class="' + (lr.result === 'applied' || lr.result === 'unchanged' ? '' : 'red') + '">' +
    e(lr.result) + '</span> <code>' + e(lr.revision) + '</code> ' + muted(lr.startedAt + ', ' + lr.durationMs + ' ms') +
    (lr.message ? ' ' + e(lr.message) : '') : muted('none since start'));
  h += '</table>';
  var refused = list(r.refused);
  if (refused.length > 0) {
    h += '<table id="refused"><thead><tr><th>refused revision</th><th>why</th><th>at</th></tr></thead><tbody>';
    for (var f = 0; f < refused.length; f++)
      h += '<tr class="refused"><td><code>' + e(refused[f].rev) + '</code></td><td>' + e(refused[f].reason) + '</td><td>' + e(refused[f].at) + '</td></tr>';
    h += '</tbody></table>';
  }
  h += '</section>';

  h += '<section><h2>Conditions</h2><table id="conditions"><thead><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr></thead><tbody>';
  for (var k = 0; k < conditions.length; k++) {
    var x = conditions[k];
    var bad = (x.type === 'Ready' && x.status !== 'True') || (x.type === 'Stalled' && x.status === 'True');
    h += '<tr class="' + (bad ? 'bad' : '') + '"><td>' + e(x.type) + '</td><td>' + e(x.status) + '</td><td>' + e(x.reason) +
      '</td><td>' + e(x.message) + '</td><td>' + e(x.lastTransitionTime) + '</td></tr>';
  }
  h += '</tbody></table></section>';

  var instances = list(s.instances);
  h += '<section><h2>Instances</h2>';
  if (instances.length === 0) h += '<p class="muted">No VRRP instance on this node.</p>';
  else {
    h += '<table id="instances"><thead><tr><th>instance</th><th>VRID</th><th>interface</th><th>state</th><th>master</th><th>priority</th><th>VIPs</th><th>since</th></tr></thead><tbody>';
    for (var i = 0; i < instances.length; i++) {
      var n = instances[i];
      var master = n.master === 'self' ? '<b>this node (' + e(s.node) + ')</b>' : n.master === null || n.master === undefined ? muted('unknown') : e(n.master);
      var faults = list(n.faults);
      h += '<tr data-instance="' + e(n.name) + '" class="state-' + e(String(n.state).toLowerCase()) + '"><td>' + e(n.name) + '</td><td>' + e(n.vrid) +
        '</td><td>' + e(n.interface) + '</td><td class="state">' + e(labels[n.state] || n.state) +
        (faults.length > 0 ? ' <span class="red">' + e(faults.join(', ')) + '</span>' : '') +
        '</td><td class="master">' + master + '</td><td>' + e(n.effectivePriority) +
        (n.effectivePriority !== n.priority ? ' ' + muted('(configured ' + n.priority + ')') : '') +
        '</td><td>' + e(list(n.vips).join(' ')) + '</td><td>' + e(n.since) + '</td></tr>';
    }
    h += '</tbody></table>';
  }
  h += '</section>';

  var drift = list(s.drift);
  h += '<section><h2>Drift</h2>';
  if (drift.length === 0) h += '<p id="no-drift" class="green">None: the node matches the desired state.</p>';
  else {
    h += '<table id="drift"><thead><tr><th>kind</th><th>what</th><th>expected</th><th>actual</th><th>since</th></tr></thead><tbody>';
    for (var d = 0; d < drift.length; d++)
      h += '<tr class="drift"><td>' + e(drift[d].kind) + '</td><td>' + e(drift[d].subject) + '</td><td>' + e(drift[d].expected) +
        '</td><td>' + e(drift[d].actual) + '</td><td>' + e(drift[d].since) + '</td></tr>';
    h += '</tbody></table>';
  }
  h += '</section>';

  var vss = list(s.virtualServers);
  if (vss.length > 0) {
    h += '<section><h2>Virtual servers</h2>';
    for (var v = 0; v < vss.length; v++) {
      var vs = vss[v];
      var cls = vs.realServersUp === vs.realServersTotal ? 'ok' : vs.realServersUp === 0 ? 'bad' : 'warn';
      h += '<h3>' + e(vs.name) + ' <span class="badge ' + cls + '">' + e(vs.realServersUp) + '/' + e(vs.realServersTotal) + ' up</span>' +
        (vs.sorryActive ? ' <span class="badge bad">sorry server</span>' : '') + '</h3>';
      h += '<table class="rs" data-vs="' + e(vs.name) + '"><thead><tr><th>real server</th><th>health</th><th>weight</th><th>last check</th><th>since</th></tr></thead><tbody>';
      var rss = list(vs.realServers);
      for (var q = 0; q < rss.length; q++) {
        var rs = rss[q];
        var lc = rs.lastCheck;
        h += '<tr data-rs="' + e(rs.name) + '" class="' + (rs.up ? 'up' : 'down') + '"><td>' + e(rs.name) + '</td><td class="health">' + (rs.up ? 'UP' : 'DOWN') +
          '</td><td>' + e(rs.weight) + '</td><td>' + (lc ? e(lc.kind) + ' ' + (lc.ok ? 'ok' : '<span class="red">' + e(lc.reason) + '</span>') +
          ' ' + muted(lc.latencyMs + ' ms') : muted('not yet')) + '</td><td>' + e(rs.since) + '</td></tr>';
      }
      h += '</tbody></table>';
    }
    h += '</section>';
  }
  h += '<footer class="muted">agent started ' + e(s.startedAt) +
    (s.ipv6HopLimitCheck ? '; IPv6 hop-limit check ' + (s.ipv6HopLimitCheck.installed ? 'installed' : '<span class="red">missing: ' + e(s.ipv6HopLimitCheck.message) + '</span>') : '') +
    '</footer>';
  return h;
}`;

const REFRESH = `(function () {
  var view = document.getElementById('view');
  var live = document.getElementById('live');
  function tick() {
    fetch('status', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) {
        view.innerHTML = render(s);
        document.title = 'keepgit: ' + s.node;
        live.textContent = 'live: updated ' + new Date().toLocaleTimeString();
        live.className = 'muted';
      })
      .catch(function (err) {
        live.textContent = 'cannot reach the agent (' + err.message + '): showing the last answer';
        live.className = 'amber';
      });
  }
  setInterval(tick, 2000);
})();`;

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem;color:#1d1d1f;background:#fafafa}
header{display:flex;align-items:center;gap:1rem}h1{margin:.2rem 0}h2{margin:1.2rem 0 .4rem;font-size:1.1rem}
h3{font-size:1rem;margin:.8rem 0 .3rem}table{border-collapse:collapse;margin:.2rem 0;background:#fff}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f0f0f0}
table.kv th{width:9rem}code{font:12px ui-monospace,monospace}
.badge{padding:.15rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.badge.ok{background:#1a7f37}.badge.bad{background:#cf222e}.badge.warn{background:#bf8700}
.muted{color:#6e7781}.red{color:#cf222e;font-weight:600}.amber{color:#9a6700;background:#fff8c5}.green{color:#1a7f37}
tr.bad td,tr.refused td,tr.drift td,tr.down td{background:#ffebe9}tr.drift td:first-child,tr.refused td:first-child{border-left:4px solid #cf222e}
tr.state-master td.state{color:#1a7f37;font-weight:700}tr.state-fault td{background:#ffebe9}tr.state-fault td.state{color:#cf222e;font-weight:700}
tr.state-initialize td,tr.state-stopping td{background:#fff8c5}tr.up td.health{color:#1a7f37;font-weight:600}tr.down td.health{color:#cf222e;font-weight:700}
`;

const escapeHtml = (v: string): string =>
  v
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

// The same text the browser runs, made a function here once.
const render = new Function(`${RENDER}\nreturn render;`)() as (s: NodeStatus) => string;

/** The view alone (what the page's <main> holds), HTML-escaped. */
export function renderDashboard(status: NodeStatus): string {
  return render(status);
}

export function dashboardPage(status: NodeStatus): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>keepgit: ${escapeHtml(status.node)}</title>
<style>${CSS}</style>
</head>
<body>
<main id="view">${render(status)}</main>
<p id="live" class="muted">rendered by the agent; refreshes every 2 s with JavaScript</p>
<script>
${RENDER}
${REFRESH}
</script>
</body>
</html>
`;
}
