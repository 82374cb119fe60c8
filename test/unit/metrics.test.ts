import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAgentMetrics } from '../../src/api/agent-metrics.ts';
import { createRegistry, escapeHelp, escapeLabelValue, formatValue } from '../../src/api/metrics.ts';
import { buildNodeStatus } from '../../src/api/node-status.ts';
import { agentStatus, COMMIT } from './status-fixtures.ts';

// The Prometheus text format 0.0.4, byte for byte: a scraper rejects a whole page for one
// bad line, so these compare exact text.

describe('metrics registry (text format 0.0.4)', () => {
  it('writes counters and gauges with labels, HELP and TYPE first', () => {
    const r = createRegistry();
    const c = r.counter('demo_requests_total', 'Requests by code.', ['code', 'method']);
    const g = r.gauge('demo_temperature', 'Now.');
    c.inc({ code: '200', method: 'GET' });
    c.inc({ code: '200', method: 'GET' }, 2);
    c.inc({ method: 'POST', code: '500' });
    g.set({}, -1.5);
    assert.equal(
      r.expose(),
      [
        '# HELP demo_requests_total Requests by code.',
        '# TYPE demo_requests_total counter',
        'demo_requests_total{code="200",method="GET"} 3',
        'demo_requests_total{code="500",method="POST"} 1',
        '# HELP demo_temperature Now.',
        '# TYPE demo_temperature gauge',
        'demo_temperature -1.5',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values (backslash, quote, line feed) and HELP (backslash, line feed only)', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeHelp('say "hi"\\\nbye'), 'say "hi"\\\\\\nbye');
    const r = createRegistry();
    r.gauge('x', 'Line one\nline "two" \\ three', ['path']).set({ path: 'C:\\dir\n"q"' }, 1);
    assert.equal(
      r.expose(),
      '# HELP x Line one\\nline "two" \\\\ three\n# TYPE x gauge\nx{path="C:\\\\dir\\n\\"q\\""} 1\n',
    );
  });

  it('writes histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const r = createRegistry();
    const h = r.histogram('demo_seconds', 'Durations.', ['op'], [0.1, 1, 0.5]);
    for (const v of [0.05, 0.1, 0.3, 2]) h.observe({ op: 'apply' }, v);
    assert.equal(
      r.expose(),
      [
        '# HELP demo_seconds Durations.',
        '# TYPE demo_seconds histogram',
        'demo_seconds_bucket{op="apply",le="0.1"} 2',
        'demo_seconds_bucket{op="apply",le="0.5"} 3',
        'demo_seconds_bucket{op="apply",le="1"} 3',
        'demo_seconds_bucket{op="apply",le="+Inf"} 4',
        'demo_seconds_sum{op="apply"} 2.45',
        'demo_seconds_count{op="apply"} 4',
        '',
      ].join('\n'),
    );
  });

  it('formats special values as Prometheus reads them', () => {
    assert.equal(formatValue(Number.NaN), 'NaN');
    assert.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf');
    assert.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf');
    assert.equal(formatValue(42), '42');
    assert.equal(formatValue(0.25), '0.25');
  });

  it('runs collect callbacks at every exposition; reset drops samples that went away', () => {
    const r = createRegistry();
    const g = r.gauge('up', 'Up.', ['who']);
    let who = ['a', 'b'];
    r.onCollect(() => {
      g.reset();
      for (const w of who) g.set({ who: w }, 1);
    });
    assert.match(r.expose(), /up\{who="b"\} 1/);
    who = ['a'];
    const text = r.expose();
    assert.match(text, /up\{who="a"\} 1/);
    assert.doesNotMatch(text, /who="b"/);
  });

  it('refuses bad names, unknown labels and decreasing counters (programming errors)', () => {
    const r = createRegistry();
    assert.throws(() => r.counter('2bad', 'x'), /invalid metric name/);
    assert.throws(() => r.counter('ok_total', 'x', ['__reserved']), /invalid label name/);
    assert.throws(() => r.histogram('h', 'x', ['le']), /invalid label name/);
    const c = r.counter('ok_total', 'x', ['a']);
    assert.throws(() => r.gauge('ok_total', 'x'), /registered twice/);
    assert.throws(() => c.inc({ b: '1' }), /has no label b/);
    assert.throws(() => c.inc({ a: '1' }, -1), /cannot decrease/);
  });

  it('leaves an empty family as HELP and TYPE only', () => {
    const r = createRegistry();
    r.counter('nothing_total', 'Never counted.', ['x']);
    assert.equal(r.expose(), '# HELP nothing_total Never counted.\n# TYPE nothing_total counter\n');
  });
});

describe("keepgit's metrics", () => {
  const record = {
    source: { kind: 'git', url: 'https://git.example/r.git', ref: 'main', lastFetchAt: null },
    desired: COMMIT,
    lastGood: COMMIT,
    lastAttemptedRevision: COMMIT,
    lastAppliedRevision: COMMIT,
    refused: [],
    reconciling: false,
    lastReconcile: null,
    drift: [
      { kind: 'vip', subject: 'web4 192.0.2.100/24', expected: 'present', actual: 'absent', since: 'x' },
    ],
  };

  it('copies snapshot counters, states and real-server health at scrape time', () => {
    const m = createAgentMetrics();
    const agent = agentStatus();
    m.collect(agent, buildNodeStatus({ agent, record, now: '2024-05-01T10:00:00.000Z' }));
    const text = m.registry.expose();
    const lines = new Set(text.split('\n'));
    for (const l of [
      'keepgit_vrrp_adverts_sent_total{instance="web4"} 120',
      'keepgit_vrrp_adverts_received_total{instance="web4"} 3',
      // The transport's drops (ttl, bad-checksum) beside the instance's own (auth-mismatch).
      'keepgit_vrrp_adverts_dropped_total{instance="web4",reason="auth-mismatch"} 2',
      'keepgit_vrrp_adverts_dropped_total{instance="web4",reason="bad-checksum"} 1',
      'keepgit_vrrp_adverts_dropped_total{instance="web4",reason="ttl"} 1',
      'keepgit_instance_state{instance="web4",state="Master"} 1',
      'keepgit_instance_state{instance="web4",state="Backup"} 0',
      'keepgit_instance_state{instance="web6",state="Backup"} 1',
      'keepgit_real_server_up{virtual_server="www",real_server="198.51.100.11:80"} 1',
      'keepgit_real_server_up{virtual_server="www",real_server="198.51.100.12:80"} 0',
      // Each real server's checks' attempts, summed over its checks, as the scheduler counts them.
      'keepgit_check_results_total{virtual_server="www",real_server="198.51.100.11:80",result="success"} 7',
      'keepgit_check_results_total{virtual_server="www",real_server="198.51.100.11:80",result="failure"} 1',
      'keepgit_check_results_total{virtual_server="www",real_server="198.51.100.12:80",result="failure"} 3',
      'keepgit_drift_items 1',
    ])
      assert.ok(lines.has(l), `missing ${l} in\n${text}`);
    // Every sample line is NAME{labels} VALUE.
    for (const l of text.split('\n'))
      if (l !== '' && !l.startsWith('#'))
        assert.match(l, /^[a-z_:]+(\{([a-z_]+="([^"\\\n]|\\.)*",?)+\})? [-+0-9.eInfNa]+$/, l);
  });

  it('counts transitions from log lines, reconciles as they end', () => {
    const m = createAgentMetrics();
    m.observeLog({ level: 'info', event: 'transition', instance: 'web4', from: 'Backup', to: 'Master' });
    m.observeLog({ level: 'info', event: 'transition', instance: 'web4', from: 'Master', to: 'Backup' });
    m.observeLog({ level: 'info', event: 'transition', instance: 'web4', from: 'Backup', to: 'Master' });
    m.observeLog({ level: 'info', event: 'vip-added', instance: 'web4' });
    m.reconciled('applied', 120);
    m.reconciled('refused', 5);
    const text = m.registry.expose();
    const lines = new Set(text.split('\n'));
    for (const l of [
      'keepgit_vrrp_transitions_total{instance="web4",to="Master"} 2',
      'keepgit_vrrp_transitions_total{instance="web4",to="Backup"} 1',
      'keepgit_reconcile_total{result="applied"} 1',
      'keepgit_reconcile_total{result="refused"} 1',
      'keepgit_reconcile_errors_total 1',
      'keepgit_reconcile_duration_seconds_bucket{le="0.005"} 1', // 5 ms is at the bound: le means ≤
      'keepgit_reconcile_duration_seconds_bucket{le="0.01"} 1',
      'keepgit_reconcile_duration_seconds_bucket{le="0.25"} 2',
      'keepgit_reconcile_duration_seconds_bucket{le="+Inf"} 2',
      'keepgit_reconcile_duration_seconds_sum 0.125',
      'keepgit_reconcile_duration_seconds_count 2',
    ])
      assert.ok(lines.has(l), `missing ${l} in\n${text}`);
  });
});
