// The status page: fetches /api/status every 2 s and fills the figures in. No libraries.
(function () {
  'use strict';
  var REFRESH_MS = 2000;
  function $(id) { return document.getElementById(id); }
  function text(id, v) { $(id).textContent = v; }
  function num(v, digits) {
    if (v === null || v === undefined) { return '–'; }
    return Number(v).toLocaleString('en-US', { maximumFractionDigits: digits === undefined ? 0 : digits });
  }
  function level(seconds) { return seconds >= 60 ? 'bad' : seconds >= 5 ? 'warn' : ''; }
  function setLevel(id, cls) { $(id).className = 'card' + (cls ? ' ' + cls : ''); }
  function cell(row, content) { var td = document.createElement('td'); td.textContent = content; row.appendChild(td); return td; }

  function render(s) {
    text('outbox-age', num(s.outbox_oldest_age_seconds, 1));
    text('outbox-pending', num(s.outbox_pending));
    setLevel('card-outbox', level(s.outbox_oldest_age_seconds));
    text('stream-lag', num(s.stream_lag_entries));
    text('stream-pending', num(s.stream_pending));
    text('stream-length', num(s.stream_length));
    // The consumer groups of the targets beyond Redis (CDN, webhook, workflows), one line each.
    var groups = $('target-groups');
    groups.textContent = '';
    (s.target_groups || []).forEach(function (g) {
      var line = document.createElement('div');
      line.setAttribute('data-group', g.group);
      line.textContent = g.group + ': ' + num(g.lag_entries) + ' undelivered, ' + num(g.pending) + ' pending';
      groups.appendChild(line);
    });
    text('applied-rate', num(s.applied_per_second, 1));
    text('published-rate', num(s.published_per_second, 1));
    text('applied-total', num(s.applied_total));
    var c = s.commit_to_apply || {};
    text('p50', num(c.p50_ms));
    text('p99', num(c.p99_ms));
    text('window', c.window_seconds || 30);
    text('samples', num(c.count));
    text('dlq-depth', num(s.dlq_depth));
    setLevel('card-dlq', s.dlq_depth > 0 ? 'warn' : '');

    // Workflow counts by state (only when the daemon runs workflows).
    var wf = s.workflowStates;
    $('card-workflows').hidden = !wf;
    if (wf) {
      ['running', 'waiting', 'succeeded', 'failed', 'cancelled'].forEach(function (k) {
        text('wf-' + k, num(wf[k]));
      });
      text('wf-active', num((wf.running || 0) + (wf.waiting || 0)));
      setLevel('card-workflows', wf.failed > 0 ? 'warn' : '');
    }

    var rows = s.tenant_staleness_seconds || [];
    var worst = rows.reduce(function (m, r) { return Math.max(m, r.seconds); }, 0);
    var body = $('staleness').tBodies[0];
    body.textContent = '';
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-tenant', r.tenant);
      cell(tr, r.tenant);
      cell(tr, num(r.seconds, 2) + ' s');
      var bar = cell(tr, '');
      bar.className = 'bar';
      var d = document.createElement('div');
      d.className = level(r.seconds);
      d.style.width = (worst > 0 ? Math.max(1, 100 * r.seconds / worst) : 1) + '%';
      bar.appendChild(d);
      body.appendChild(tr);
    });
    $('truncated').hidden = !s.tenant_staleness_truncated;

    var bb = $('breakers').tBodies[0];
    bb.textContent = '';
    Object.keys(s.breakers || {}).forEach(function (t) {
      var tr = document.createElement('tr');
      cell(tr, t);
      var td = cell(tr, '');
      var pill = document.createElement('span');
      pill.className = 'pill ' + s.breakers[t];
      pill.textContent = s.breakers[t];
      td.appendChild(pill);
      bb.appendChild(tr);
    });
    var cb = $('consumers').tBodies[0];
    cb.textContent = '';
    var consumers = s.pending_by_consumer || {};
    Object.keys(consumers).forEach(function (name) {
      var tr = document.createElement('tr');
      cell(tr, name);
      cell(tr, num(consumers[name]));
      cb.appendChild(tr);
    });
    if (Object.keys(consumers).length === 0) {
      var tr = document.createElement('tr');
      cell(tr, '(none pending)');
      cell(tr, '–');
      cb.appendChild(tr);
    }
  }

  function renderConsistency(c) {
    $('consistency-section').hidden = false;
    text('consistency-window', num(c.window_seconds));
    var body = $('consistency').tBodies[0];
    body.textContent = '';
    (c.graces || []).forEach(function (g) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-grace', g.grace);
      cell(tr, g.grace);
      var t = cell(tr, g.text);
      if (g.inconsistent > 0) { t.className = 'bad'; }
      cell(tr, num(g.consistent));
      cell(tr, num(g.inconsistent));
      cell(tr, num(g.unknown));
      body.appendChild(tr);
    });
    var ib = $('inconsistencies').tBodies[0];
    ib.textContent = '';
    var recent = c.recent_inconsistencies || [];
    recent.slice(0, 10).forEach(function (i) {
      var tr = document.createElement('tr');
      cell(tr, i.tenant);
      cell(tr, i.aggregate_type + '/' + i.aggregate_id);
      cell(tr, i.view);
      cell(tr, num(i.served_version));
      cell(tr, num(i.database_version));
      cell(tr, i.trace_id || '–');
      ib.appendChild(tr);
    });
    if (recent.length === 0) {
      var tr = document.createElement('tr');
      cell(tr, '(none)');
      ib.appendChild(tr);
    }
  }

  function refreshConsistency() {
    fetch('/api/consistency', { cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c && c.enabled) { renderConsistency(c); } })
      .catch(function () { /* the main refresh reports the server as unreachable */ });
  }

  function refresh() {
    refreshConsistency();
    fetch('/api/status', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (s) {
        render(s);
        $('state').textContent = 'live';
        $('state').className = 'state ok';
        text('updated', new Date().toLocaleTimeString());
      })
      .catch(function (e) {
        $('state').textContent = 'unreachable: ' + e.message;
        $('state').className = 'state bad';
      })
      .finally(function () { setTimeout(refresh, REFRESH_MS); });
  }
  refresh();
})();
