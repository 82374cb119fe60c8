import { type Settings, type Sink, sited } from './import-types.ts';
import { expectArgs, readBool, readInt, readSeconds } from './import-values.ts';
import type { KaStatement } from './keepalived-ast.ts';

// The VRRP settings keepalived accepts both in global_defs (as defaults, vrrp_ prefixed)
// and per vrrp_instance, with the model field each one fills.

interface VrrpSetting {
  /** The keyword inside vrrp_instance, if it exists there. */
  instance?: string;
  /** The keyword inside global_defs, if it exists there. */
  global?: string;
  /** Dotted path in the model's vrrp settings. */
  path: string;
  /** How many arguments the keyword takes at most. */
  args: number;
  read: (stmt: KaStatement, sink: Sink) => unknown;
}

const secs = (max: number) => (s: KaStatement, k: Sink) => readSeconds(s, k, max);
const repeat = (s: KaStatement, k: Sink) => readInt(s, k, 1, 100);
const flag = (s: KaStatement, k: Sink) => readBool(s, k);

export const VRRP_SETTINGS: readonly VrrpSetting[] = [
  {
    instance: 'version',
    global: 'vrrp_version',
    path: 'version',
    args: 1,
    read: (s, k) => readInt(s, k, 2, 3),
  },
  { instance: 'advert_int', path: 'advertInterval', args: 1, read: secs(255) },
  { instance: 'preempt_delay', path: 'preemptDelay', args: 1, read: secs(1000) },
  {
    instance: 'garp_master_delay',
    global: 'vrrp_garp_master_delay',
    path: 'garp.masterDelay',
    args: 1,
    read: secs(1000),
  },
  {
    instance: 'garp_master_repeat',
    global: 'vrrp_garp_master_repeat',
    path: 'garp.masterRepeat',
    args: 1,
    read: repeat,
  },
  {
    instance: 'garp_master_refresh',
    global: 'vrrp_garp_master_refresh',
    path: 'garp.masterRefresh',
    args: 1,
    read: secs(100_000),
  },
  {
    instance: 'garp_master_refresh_repeat',
    global: 'vrrp_garp_master_refresh_repeat',
    path: 'garp.masterRefreshRepeat',
    args: 1,
    read: repeat,
  },
  {
    instance: 'garp_lower_prio_delay',
    global: 'vrrp_garp_lower_prio_delay',
    path: 'garp.lowerPrioDelay',
    args: 1,
    read: secs(1000),
  },
  {
    instance: 'garp_lower_prio_repeat',
    global: 'vrrp_garp_lower_prio_repeat',
    path: 'garp.lowerPrioRepeat',
    args: 1,
    read: repeat,
  },
  { global: 'vrrp_garp_interval', path: 'garp.interval', args: 1, read: secs(1000) },
  { global: 'vrrp_gna_interval', path: 'garp.naInterval', args: 1, read: secs(1000) },
  { instance: 'strict_mode', global: 'vrrp_strict', path: 'strict', args: 1, read: flag },
  {
    instance: 'skip_check_adv_addr',
    global: 'vrrp_skip_check_adv_addr',
    path: 'skipCheckAdvAddr',
    args: 1,
    read: flag,
  },
  {
    instance: 'check_unicast_src',
    global: 'vrrp_check_unicast_src',
    path: 'checkUnicastSrc',
    args: 1,
    read: flag,
  },
  {
    instance: 'lower_prio_no_advert',
    global: 'vrrp_lower_prio_no_advert',
    path: 'lowerPrioNoAdvert',
    args: 1,
    read: flag,
  },
  {
    instance: 'higher_prio_send_advert',
    global: 'vrrp_higher_prio_send_advert',
    path: 'higherPrioSendAdvert',
    args: 1,
    read: flag,
  },
  { instance: 'accept', path: 'acceptVips', args: 0, read: () => true },
  { instance: 'no_accept', path: 'acceptVips', args: 0, read: () => false },
  { instance: 'dont_track_primary', path: 'dontTrackPrimary', args: 0, read: () => true },
];

/** What each setting is when a file does not write it: writing it explicitly changes nothing. */
export const VRRP_SETTING_DEFAULTS: Readonly<Record<string, unknown>> = {
  advertInterval: '1s',
  preemptDelay: '0s',
  'garp.masterDelay': '5s',
  'garp.masterRepeat': 5,
  'garp.masterRefresh': '0s',
  'garp.masterRefreshRepeat': 1,
  'garp.interval': '0s',
  'garp.naInterval': '0s',
  strict: false,
  skipCheckAdvAddr: false,
  checkUnicastSrc: false,
  lowerPrioNoAdvert: false,
  higherPrioSendAdvert: false,
  acceptVips: false,
  dontTrackPrimary: false,
};

/** Handlers for `scope`'s keywords that store into the settings `pick` finds in the context. */
export function vrrpSettingHandlers<C>(
  scope: 'instance' | 'global',
  pick: (c: C) => { settings: Settings; sink: Sink },
): Record<string, (stmt: KaStatement, c: C) => void> {
  const out: Record<string, (stmt: KaStatement, c: C) => void> = {};
  for (const s of VRRP_SETTINGS) {
    const kw = s[scope];
    if (kw === undefined) continue;
    out[kw] = (stmt, c) => {
      const { settings, sink } = pick(c);
      expectArgs(stmt, sink, s.args);
      const v = s.read(stmt, sink);
      if (v !== undefined) settings.set(s.path, sited(v, stmt));
    };
  }
  return out;
}
