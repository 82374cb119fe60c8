import { parseDuration } from '../model/duration.ts';
import type {
  NodeView,
  ViewCheck,
  ViewInstance,
  ViewTrack,
  ViewVip,
  ViewVirtualServer,
} from '../model/node-view.ts';
import { VRRP_DEFAULTS } from '../model/node-view.ts';

// A node's view rendered as keepalived.conf (keepalived 2.2 syntax), so a node can be
// handed back to keepalived, or a plan checked with `keepalived -t`. Every resolved value
// is written, defaults included where keepalived's own default differs or the value
// matters, so importing the result gives back the same view.
//
// Secrets are not written: `auth_pass $NAME` names the environment variable the agent
// would read, as a keepalived parameter. Pass `secrets` to define them at the top of
// the file ($NAME=value), e.g. for a node that really runs keepalived.

export interface ExportOptions {
  /** Values for secret references, keyed by env name (or by "file:PATH"). */
  secrets?: ReadonlyMap<string, string>;
  /** A line saying where the view came from, written as a comment. */
  origin?: string;
}

const secs = (ms: number): string => {
  const s = ms / 1000;
  return Number.isInteger(s) ? String(s) : String(Number(s.toFixed(6)));
};

/** Quote a value keepalived would otherwise split or read as a comment. */
export function kaQuote(v: string): string {
  return /[\s"!#{}]/.test(v) || v === '' ? `"${v.replace(/"/g, '\\"')}"` : v;
}

class Writer {
  readonly lines: string[] = [];
  private depth = 0;
  line(text: string): void {
    this.lines.push(`${'    '.repeat(this.depth)}${text}`);
  }
  opt(keyword: string, value: string | number | boolean | undefined): void {
    if (value === undefined || value === false) return;
    this.line(value === true ? keyword : `${keyword} ${typeof value === 'string' ? kaQuote(value) : value}`);
  }
  block(head: string, body: () => void): void {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    this.line('}');
  }
}

/** The environment variable name a secret reference is exported as. */
export function secretParameter(ref: { env: string } | { file: string }, instance: string): string {
  if ('env' in ref) return ref.env;
  return `KEEPGIT_VRRP_PASS_${instance.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function vipLine(v: ViewVip): string {
  const parts = [v.address];
  if (v.brd) parts.push('brd', v.brd);
  if (v.dev) parts.push('dev', v.dev);
  if (v.scope) parts.push('scope', v.scope);
  if (v.label) parts.push('label', v.label);
  return parts.join(' ');
}

function trackBlock(w: Writer, keyword: string, refs: readonly ViewTrack[]): void {
  if (refs.length === 0) return;
  w.block(keyword, () => {
    for (const r of refs) {
      const extra = [r.weight === undefined ? '' : ` weight ${r.weight}`, r.reverse ? ' reverse' : ''].join(
        '',
      );
      w.line(`${r.name}${extra}`);
    }
  });
}

function tracks(w: Writer, t: ViewInstance['track']): void {
  trackBlock(w, 'track_interface', t.interfaces);
  trackBlock(w, 'track_script', t.scripts);
  trackBlock(w, 'track_process', t.processes);
  trackBlock(w, 'track_file', t.files);
}

function notifies(w: Writer, n: ViewInstance['notify']): void {
  w.opt('notify_master', n.master);
  w.opt('notify_backup', n.backup);
  w.opt('notify_fault', n.fault);
  w.opt('notify_stop', n.stop);
  w.opt('notify_deleted', n.deleted);
  w.opt('notify_master_rx_lower_pri', n.masterRxLowerPri);
  w.opt('notify', n.notify);
}

function instance(w: Writer, i: ViewInstance, secretNotes: string[]): void {
  w.block(`vrrp_instance ${i.name}`, () => {
    w.opt('state', i.state);
    w.opt('interface', i.interface);
    w.opt('virtual_router_id', i.vrid);
    w.opt('priority', i.priority);
    w.opt('version', i.version);
    w.opt('advert_int', secs(i.advertIntervalMs));
    w.opt('nopreempt', !i.preempt);
    if (i.preemptDelayMs > 0) w.opt('preempt_delay', secs(i.preemptDelayMs));
    if (i.auth) {
      const auth = i.auth;
      w.block('authentication', () => {
        w.opt('auth_type', auth.type);
        if (auth.secretRef) {
          const name = secretParameter(auth.secretRef, i.name);
          w.line(`auth_pass $${name}`);
          if ('file' in auth.secretRef)
            secretNotes.push(`${name}: contents of ${auth.secretRef.file} on the node`);
        }
      });
    }
    if (i.unicast) {
      w.opt('unicast_src_ip', i.unicast.source);
      const peers = i.unicast.peers;
      w.block('unicast_peer', () => {
        for (const p of peers) w.line(p);
      });
    }
    w.block('virtual_ipaddress', () => {
      for (const v of i.vips) w.line(vipLine(v));
    });
    if (i.excludedVips.length > 0)
      w.block('virtual_ipaddress_excluded', () => {
        for (const v of i.excludedVips) w.line(vipLine(v));
      });
    const g = i.garp;
    const d = VRRP_DEFAULTS.garp;
    if (g.masterDelayMs !== d.masterDelayMs) w.opt('garp_master_delay', secs(g.masterDelayMs));
    if (g.masterRepeat !== d.masterRepeat) w.opt('garp_master_repeat', g.masterRepeat);
    if (g.masterRefreshMs !== 0) w.opt('garp_master_refresh', secs(g.masterRefreshMs));
    if (g.masterRefreshRepeat !== d.masterRefreshRepeat)
      w.opt('garp_master_refresh_repeat', g.masterRefreshRepeat);
    if (g.intervalMs !== 0) w.opt('garp_interval', secs(g.intervalMs));
    if (g.naIntervalMs !== 0) w.opt('gna_interval', secs(g.naIntervalMs));
    if (g.lowerPrioDelayMs !== g.masterDelayMs) w.opt('garp_lower_prio_delay', secs(g.lowerPrioDelayMs));
    if (g.lowerPrioRepeat !== g.masterRepeat) w.opt('garp_lower_prio_repeat', g.lowerPrioRepeat);
    w.opt('strict_mode', i.flags.strict ? 'on' : undefined);
    w.opt('skip_check_adv_addr', i.flags.skipCheckAdvAddr);
    w.opt('check_unicast_src', i.flags.checkUnicastSrc);
    w.opt('lower_prio_no_advert', i.flags.lowerPrioNoAdvert);
    w.opt('higher_prio_send_advert', i.flags.higherPrioSendAdvert);
    w.opt('accept', i.flags.acceptVips);
    w.opt('dont_track_primary', i.flags.dontTrackPrimary);
    tracks(w, i.track);
    notifies(w, i.notify);
  });
}

function check(w: Writer, c: ViewCheck): void {
  const kw = {
    tcp: 'TCP_CHECK',
    http: 'HTTP_GET',
    https: 'SSL_GET',
    misc: 'MISC_CHECK',
    dns: 'DNS_CHECK',
    udp: 'UDP_CHECK',
    ping: 'PING_CHECK',
    smtp: 'SMTP_CHECK',
    file: 'FILE_CHECK',
  }[c.type];
  const s = c.spec as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof s[k] === 'string' ? (s[k] as string) : undefined);
  const num = (k: string): number | undefined => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const flag = (k: string): boolean => s[k] === true;
  w.block(kw, () => {
    if (c.type === 'misc') {
      w.opt('misc_path', str('script'));
      const timeout = str('timeout');
      if (timeout) w.opt('misc_timeout', secs(msOf(timeout)));
      w.opt('misc_dynamic', flag('dynamic'));
      w.opt('user', str('user'));
    }
    if (c.type === 'http' || c.type === 'https') {
      for (const u of (s.urls as Record<string, unknown>[] | undefined) ?? []) {
        w.block('url', () => {
          w.opt('path', u.path as string);
          w.opt('digest', u.digest as string | undefined);
          w.opt('status_code', u.statusCode as string | number | undefined);
          w.opt('regex', u.regex as string | undefined);
          w.opt('regex_no_match', u.regexNoMatch === true);
          w.opt('virtualhost', u.virtualhost as string | undefined);
        });
      }
      w.opt('virtualhost', str('virtualhost'));
      w.opt('enable_sni', flag('sni'));
      w.opt('http_protocol', str('httpProtocol'));
    }
    if (c.type === 'dns') {
      w.opt('type', str('queryType'));
      w.opt('name', str('queryName'));
    }
    if (c.type === 'udp') {
      w.opt('payload', str('payload'));
      const rr = s.requireReply;
      if (rr === true) w.line('require_reply');
      else if (typeof rr === 'string') w.opt('require_reply', rr);
    }
    if (c.type === 'smtp') w.opt('helo_name', str('heloName'));
    if (c.type === 'file') {
      w.opt('track_file', str('file'));
      w.opt('weight', num('weight'));
      w.opt('reverse', flag('reverse'));
    }
    w.opt('connect_ip', str('connectIp'));
    w.opt('connect_port', num('connectPort'));
    w.opt('bindto', str('bindTo'));
    w.opt('bind_port', num('bindPort'));
    w.opt('bind_if', str('bindIf'));
    w.opt('fwmark', num('fwmark'));
    w.opt('alpha', flag('alpha'));
    w.opt('connect_timeout', secs(c.connectTimeoutMs));
    w.opt('retry', c.retry);
    w.opt('delay_before_retry', secs(c.delayBeforeRetryMs));
    w.opt('delay_loop', secs(c.delayLoopMs));
    if (c.warmupMs > 0) w.opt('warmup', secs(c.warmupMs));
  });
}

function virtualServer(w: Writer, vs: ViewVirtualServer): void {
  const head =
    vs.fwmark !== undefined
      ? `virtual_server fwmark ${vs.fwmark}`
      : vs.group !== undefined
        ? `virtual_server group ${vs.group}`
        : `virtual_server ${vs.address} ${vs.port}`;
  w.block(head, () => {
    if (vs.family) w.opt('ip_family', vs.family === 6 ? 'inet6' : 'inet');
    w.opt('lb_algo', vs.scheduler);
    for (const f of vs.schedulerFlags) w.line(f);
    w.opt('lb_kind', vs.forwarding.toUpperCase());
    w.opt('protocol', vs.protocol);
    if (vs.persistence) {
      w.opt('persistence_timeout', secs(vs.persistence.timeoutMs));
      w.opt('persistence_granularity', vs.persistence.granularity);
    }
    w.opt('persistence_engine', vs.persistenceEngine);
    if (vs.sorryServer) {
      const s = vs.sorryServer;
      w.line(`sorry_server ${s.address} ${s.port ?? vs.port}`);
      if (s.forwarding) w.opt('sorry_server_lvs_method', s.forwarding.toUpperCase());
      w.opt('sorry_server_inhibit', s.inhibit === true);
    }
    if (vs.quorum) {
      w.opt('quorum', vs.quorum.value);
      w.opt('hysteresis', vs.quorum.hysteresis);
      w.opt('quorum_up', vs.quorum.up);
      w.opt('quorum_down', vs.quorum.down);
    }
    w.opt('alpha', vs.alpha);
    w.opt('omega', vs.omega);
    w.opt('ops', vs.opsScheduling);
    w.opt('ha_suspend', vs.haSuspend);
    w.opt('virtualhost', vs.virtualhost);
    for (const rs of vs.realServers) {
      w.block(`real_server ${rs.address} ${rs.port}`, () => {
        w.opt('weight', rs.weight);
        if (rs.forwarding !== vs.forwarding) w.opt('lb_kind', rs.forwarding.toUpperCase());
        w.opt('inhibit_on_failure', rs.inhibitOnFailure);
        w.opt('notify_up', rs.notifyUp);
        w.opt('notify_down', rs.notifyDown);
        w.opt('uthreshold', rs.upperThreshold);
        w.opt('lthreshold', rs.lowerThreshold);
        for (const c of rs.checks) check(w, c);
      });
    }
  });
}

export function exportKeepalived(view: NodeView, options: ExportOptions = {}): string {
  const w = new Writer();
  w.line(`! keepalived.conf for node ${view.node}, generated by keepgit export`);
  if (options.origin) w.line(`! from ${options.origin}`);
  const secretNotes: string[] = [];
  const body = new Writer();
  body.block('global_defs', () => {
    body.opt('router_id', view.routerId);
    body.opt('enable_script_security', view.enableScriptSecurity);
    body.opt('script_user', view.scriptUser);
  });
  for (const s of view.scripts) {
    body.block(`vrrp_script ${s.name}`, () => {
      body.opt('script', s.script);
      if (s.interval) body.opt('interval', secs(msOf(s.interval)));
      if (s.timeout) body.opt('timeout', secs(msOf(s.timeout)));
      body.opt('weight', s.weight);
      body.opt('rise', s.rise);
      body.opt('fall', s.fall);
      body.opt('user', s.user);
      body.opt('init_fail', s.initFail === true);
    });
  }
  for (const p of view.trackProcesses) {
    body.block(`vrrp_track_process ${p.name}`, () => {
      body.line(`process ${kaQuote(p.process)}${p.args ? ` ${kaQuote(p.args)}` : ''}`);
      body.opt('param_match', p.paramMatch);
      body.opt('weight', p.weight);
      body.opt('quorum', p.quorum);
      body.opt('quorum_max', p.quorumMax);
      if (p.forkDelay) body.opt('fork_delay', secs(msOf(p.forkDelay)));
      if (p.terminateDelay) body.opt('terminate_delay', secs(msOf(p.terminateDelay)));
      if (p.delay) body.opt('delay', secs(msOf(p.delay)));
      body.opt('full_command', p.fullCommand === true);
    });
  }
  for (const f of view.trackFiles) {
    body.block(`vrrp_track_file ${f.name}`, () => {
      body.opt('file', f.file);
      body.opt('weight', f.weight);
      const init = f.initFile;
      if (init === true) body.line('init_file');
      else if (init && typeof init === 'object')
        body.line(
          ['init_file', init.value ?? '', init.overwrite ? 'overwrite' : ''].filter(String).join(' '),
        );
    });
  }
  for (const i of view.instances) instance(body, i, secretNotes);
  for (const g of view.syncGroups) {
    body.block(`vrrp_sync_group ${g.name}`, () => {
      body.block('group', () => {
        for (const n of g.instances) body.line(n);
      });
      tracks(body, g.track);
      notifies(body, g.notify);
    });
  }
  for (const g of view.virtualServerGroups) {
    body.block(`virtual_server_group ${g.name}`, () => {
      for (const m of g.members) {
        if ('fwmark' in m) body.line(`fwmark ${m.fwmark}`);
        else
          body.line(
            `${m.address}${m.range !== undefined ? `-${m.range}` : ''}${m.port !== undefined ? ` ${m.port}` : ''}`,
          );
      }
    });
  }
  for (const vs of view.virtualServers) virtualServer(body, vs);

  const params = new Set(
    view.instances.flatMap((i) => (i.auth?.secretRef ? [secretParameter(i.auth.secretRef, i.name)] : [])),
  );
  for (const p of [...params].sort()) {
    const value = options.secrets?.get(p);
    if (value !== undefined) w.line(`$${p}=${value}`);
    else w.line(`! auth_pass comes from $${p}: define it on the first line as $${p}=PASSWORD`);
  }
  for (const n of secretNotes) w.line(`! ${n}`);
  w.lines.push('', ...body.lines, '');
  return w.lines.join('\n');
}

const msOf = (d: string): number => parseDuration(d) ?? 0;
