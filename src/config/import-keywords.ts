import { type Sink, unsupported } from './import-types.ts';
import type { KaStatement } from './keepalived-ast.ts';

// keepalived's vocabulary as the importer sees it: which spellings are aliases of one
// keyword (from keepalived's own parsers), and why each keyword keepgit does not map is
// left out. A keyword in neither place, nor handled by an importer, is "unknown" (a typo).

export type KwContext =
  | 'root'
  | 'global'
  | 'instance'
  | 'syncGroup'
  | 'script'
  | 'trackProcess'
  | 'trackFile'
  | 'virtualServer'
  | 'realServer'
  | 'check'
  | 'url';

/** Alias → the keyword the importer handles, per block. */
const ALIASES: Record<KwContext, Record<string, string>> = {
  root: { vrrp_track_file: 'track_file' },
  global: {
    lvs_id: 'router_id', // keepalived 1.x spelling
    vrrp_vmac_garp_intvl: 'vrrp_garp_extra_if',
    lvs_flush_onstop: 'lvs_flush_on_stop',
    vrrp_notify_fifo: 'notify_fifo',
    vrrp_notify_fifo_script: 'notify_fifo_script',
  },
  instance: { vmac_garp_intvl: 'garp_extra_if' },
  syncGroup: {},
  script: {},
  trackProcess: {},
  trackFile: {},
  virtualServer: { lvs_sched: 'lb_algo', lvs_method: 'lb_kind' },
  realServer: { lb_kind: 'lvs_method' },
  // keepalived 1.x accepted nb_get_retry in every checker; 2.x only in HTTP_GET/SSL_GET.
  check: { nb_get_retry: 'retry' },
  url: {},
};

export function canonicalKeyword(ctx: KwContext, keyword: string): string {
  return ALIASES[ctx][keyword] ?? keyword;
}

const EMAIL = 'e-mail alerts are not supported; use notify scripts';
const SNMP = 'SNMP is not supported; use the HTTP API (/status, /metrics)';
const DBUS = 'D-Bus is not supported; use the HTTP API';
const TUNING = "keepalived's own process tuning; the agent does not use it";
const FIFO = 'notify FIFOs are not supported; use notify scripts or the HTTP API';
const VMAC = 'virtual MAC (macvlan/ipvlan) interfaces are not supported';
const ROUTES = 'routes and policy rules are not managed by keepgit';
const BFD = 'BFD is not supported';
const NETNS = 'the network namespace is chosen by how the agent is started';
const DATAPLANE = 'keepgit chooses its dataplane itself (dataplane: auto, ipvs or nftables)';
const SYNCD = 'the IPVS connection sync daemon is not supported';
const STARTUP = 'startup and shutdown scripts are not supported; use the service manager';
const RELOAD = 'keepgit has no reload: it applies Git revisions';
const SNMP_NAME = 'SNMP names are not supported';
const TRACK_BFD = 'track_bfd is not supported (no BFD)';
const NOT_MODELLED = 'not supported by keepgit';

/** Known keepalived keywords that the model has no place for, with the reason. */
const UNSUPPORTED: Record<KwContext, Record<string, string>> = {
  root: {
    static_ipaddress:
      'static addresses are not managed by keepgit; configure them with the host network setup',
    static_routes: ROUTES,
    static_rules: ROUTES,
    track_group: 'track_group only applies to static addresses, which keepgit does not manage',
    garp_group: 'per-interface GARP rate limits (garp_group) are not supported; use vrrp_garp_interval',
    linkbeat_interfaces: 'linkbeat polling is not supported; the agent uses netlink link events',
    linkbeat_use_polling: 'linkbeat polling is not supported; the agent uses netlink link events',
    interface_up_down_delays: 'interface up/down debounce delays are not supported',
    bfd_instance: BFD,
    SSL: 'SSL client certificates for SSL_GET are not supported',
    net_namespace: NETNS,
    net_namespace_ipvs: NETNS,
    namespace_with_ipsets: NETNS,
    use_pid_dir: TUNING,
    instance: TUNING,
    child_wait_time: TUNING,
    include: 'include was not resolved',
  },
  global: {
    notification_email: EMAIL,
    notification_email_from: EMAIL,
    smtp_server: EMAIL,
    smtp_helo_name: EMAIL,
    smtp_connect_timeout: EMAIL,
    smtp_alert: EMAIL,
    smtp_alert_vrrp: EMAIL,
    smtp_alert_checker: EMAIL,
    no_email_faults: EMAIL,
    no_checker_emails: EMAIL,
    lvs_sync_daemon: SYNCD,
    lvs_timeouts: 'IPVS connection timeouts are not supported; set them with ipvsadm --set or sysctl',
    lvs_flush: 'the agent manages only the virtual servers it owns and never flushes IPVS',
    lvs_flush_on_stop: 'the agent manages only the virtual servers it owns and never flushes IPVS',
    vrrp_mcast_group4: 'alternative VRRP multicast groups are not supported',
    vrrp_mcast_group6: 'alternative VRRP multicast groups are not supported',
    vrrp_garp_extra_if: 'periodic GARPs on extra interfaces are not supported',
    vrrp_min_garp: 'vrrp_min_garp is not supported; set the garp_* values explicitly',
    vrrp_down_timer_adverts: 'a non-RFC master down timer is not supported',
    vrrp_iptables: 'iptables/ipset rules for VIPs are not supported',
    vrrp_ipsets: 'iptables/ipset rules for VIPs are not supported',
    nftables: 'nftables rules blocking VIP traffic are not supported',
    nftables_priority: 'nftables rules blocking VIP traffic are not supported',
    nftables_ifindex: 'nftables rules blocking VIP traffic are not supported',
    nftables_counters: 'nftables rules blocking VIP traffic are not supported',
    nftables_ipvs: DATAPLANE,
    nftables_ipvs_priority: DATAPLANE,
    nftables_ipvs_start_fwmark: DATAPLANE,
    notify_fifo: FIFO,
    notify_fifo_script: FIFO,
    vrrp_notify_priority_changes: FIFO,
    fifo_write_vrrp_states_on_reload: FIFO,
    lvs_notify_fifo: FIFO,
    lvs_notify_fifo_script: FIFO,
    snmp_socket: SNMP,
    enable_traps: SNMP,
    enable_snmp_vrrp: SNMP,
    enable_snmp_keepalived: SNMP,
    enable_snmp_rfc: SNMP,
    enable_snmp_rfcv2: SNMP,
    enable_snmp_rfcv3: SNMP,
    enable_snmp_checker: SNMP,
    snmp_vs_stats_update_interval: SNMP,
    snmp_rs_stats_update_interval: SNMP,
    enable_dbus: DBUS,
    dbus_service_name: DBUS,
    dbus_no_interface_name: DBUS,
    startup_script: STARTUP,
    startup_script_timeout: STARTUP,
    shutdown_script: STARTUP,
    shutdown_script_timeout: STARTUP,
    dynamic_interfaces: 'the agent always follows interfaces appearing and disappearing',
    default_interface: 'VIPs go on their instance interface or their own dev',
    disable_local_igmp: 'not supported',
    v3_checksum_as_v2: 'the agent always uses the RFC 5798 VRRPv3 checksum',
    vrrp_owner_ignore_adverts: NOT_MODELLED,
    log_unknown_vrids: 'the agent reports unknown VRIDs in its status',
    vmac_prefix: VMAC,
    vmac_addr_prefix: VMAC,
    net_namespace: NETNS,
    net_namespace_ipvs: NETNS,
    namespace_with_ipsets: NETNS,
    reload_check_config: RELOAD,
    reload_time_file: RELOAD,
    reload_repeat: RELOAD,
    reload_file: RELOAD,
    config_save_dir: RELOAD,
    tmp_config_directory: RELOAD,
    include_check: 'include checking is done at import time',
    state_dump_file: 'the agent reports its state on the HTTP API',
    stats_dump_file: 'the agent reports its state on the HTTP API',
    json_dump_file: 'the agent reports its state on the HTTP API',
    json_version: 'the agent reports its state on the HTTP API',
    data_use_instance: TUNING,
    checker_log_all_failures: 'the agent logs check failures itself',
    rs_init_notifies: 'notify_up/notify_down run on changes only',
    max_auto_priority: TUNING,
    min_auto_priority_delay: TUNING,
    iproute_usr_dir: TUNING,
    iproute_etc_dir: TUNING,
    umask: TUNING,
    random_seed: TUNING,
    use_symlink_paths: TUNING,
    set_supplementary_groups: TUNING,
    linkbeat_use_polling: 'linkbeat polling is not supported; the agent uses netlink link events',
    use_pid_dir: TUNING,
    instance: TUNING,
    child_wait_time: TUNING,
    process_names: TUNING,
    process_name: TUNING,
    vrrp_process_name: TUNING,
    checker_process_name: TUNING,
    lvs_process_name: TUNING,
    bfd_process_name: TUNING,
    vrrp_startup_delay: TUNING,
    vrrp_delay_after_boot: TUNING,
    vrrp_rx_bufs_policy: TUNING,
    vrrp_rx_bufs_multiplier: TUNING,
  },
  instance: {
    use_vmac: VMAC,
    use_vmac_addr: VMAC,
    vmac_xmit_base: VMAC,
    use_ipvlan: VMAC,
    virtual_routes: ROUTES,
    virtual_rules: ROUTES,
    smtp_alert: EMAIL,
    debug: 'per-instance debug levels are not supported',
    lvs_sync_daemon_interface: SYNCD,
    mcast_dst_ip: 'alternative VRRP multicast groups are not supported',
    vrf: 'VRFs are not supported',
    unicast_ttl: 'the unicast TTL is not configurable (255, as RFC 5798 requires)',
    unicast_fault_no_peer: 'an instance in unicast mode always needs peers',
    old_unicast_checksum: 'the agent always uses the RFC 5798 VRRPv3 checksum',
    v3_checksum_as_v2: 'the agent always uses the RFC 5798 VRRPv3 checksum',
    track_src_ip: NOT_MODELLED,
    track_bfd: TRACK_BFD,
    down_timer_adverts: 'a non-RFC master down timer is not supported',
    timer_expired_backup: NOT_MODELLED,
    thread_timer_expired: NOT_MODELLED,
    garp_extra_if: 'periodic GARPs on extra interfaces are not supported',
    notify_priority_changes: FIFO,
    promote_secondaries: NOT_MODELLED,
    linkbeat_use_polling: 'linkbeat polling is not supported; the agent uses netlink link events',
    kernel_rx_buf_size: TUNING,
    owner_ignore_adverts: NOT_MODELLED,
    no_virtual_ipaddress: 'the model requires at least one VIP per instance',
    auth_hmac: 'HMAC authentication is not supported; only PASS',
    global_tracking: 'global_tracking is deprecated; put track_* on the sync group',
    sync_group_tracking_weight: NOT_MODELLED,
  },
  syncGroup: {
    smtp_alert: EMAIL,
    track_bfd: TRACK_BFD,
    global_tracking: 'global_tracking is deprecated; put track_* on the sync group',
    sync_group_tracking_weight: NOT_MODELLED,
    notify_priority_changes: FIFO,
  },
  script: {},
  trackProcess: {},
  trackFile: {},
  virtualServer: {
    smtp_alert: EMAIL,
    snmp_name: SNMP_NAME,
    'flag-3': 'scheduler flag-3 is not supported',
    sorry_server_lvs_method: 'a sorry server uses the forwarding method of its virtual server',
    weight: 'a virtual server weight is not supported',
  },
  realServer: {
    smtp_alert: EMAIL,
    snmp_name: SNMP_NAME,
    BFD_CHECK: BFD,
  },
  check: {
    log_all_failures: 'the agent logs check failures itself',
    fast_recovery: NOT_MODELLED,
    tls_compliant: NOT_MODELLED,
    sni_name: 'a TLS SNI name other than the virtualhost is not supported',
    min_reply_length: NOT_MODELLED,
    max_reply_length: NOT_MODELLED,
    host: 'SMTP_CHECK host blocks are not supported; use one SMTP_CHECK per host with connect_ip',
    dynamic: 'dynamic FILE_CHECK weights are not supported',
  },
  url: {
    regex_options: 'regex options are not supported',
    regex_stack: NOT_MODELLED,
    regex_min_offset: NOT_MODELLED,
    regex_max_offset: NOT_MODELLED,
    tls_compliant: NOT_MODELLED,
  },
};

// keepalived's scheduling, memory and buffer knobs for its own processes.
for (const daemon of ['vrrp', 'checker', 'bfd']) {
  for (const knob of [
    'priority',
    'no_swap',
    'rt_priority',
    'cpu_affinity',
    'rlimit_rttime',
    'rlimit_rtime',
  ]) {
    UNSUPPORTED.global[`${daemon}_${knob}`] = TUNING;
  }
}
for (const sock of [
  'vrrp_netlink_cmd',
  'vrrp_netlink_monitor',
  'process_monitor',
  'lvs_netlink_cmd',
  'lvs_netlink_monitor',
]) {
  UNSUPPORTED.global[`${sock}_rcv_bufs`] = TUNING;
  UNSUPPORTED.global[`${sock}_rcv_bufs_force`] = TUNING;
}

/** Reports a statement no importer handled: a known keepalived keyword with its reason, or a typo. */
export function reportUnhandled(stmt: KaStatement, ctx: KwContext, sink: Sink): void {
  const reason = UNSUPPORTED[ctx][canonicalKeyword(ctx, stmt.keyword)];
  unsupported(sink, stmt, reason ?? 'unknown keyword');
}

/** Dispatches each statement of a block to its handler by canonical keyword. */
export function dispatch<C>(
  stmts: readonly KaStatement[],
  ctx: KwContext,
  handlers: Record<string, (stmt: KaStatement, c: C) => void>,
  c: C,
  sink: Sink,
): void {
  for (const stmt of stmts) {
    const key = canonicalKeyword(ctx, stmt.keyword);
    const h = Object.hasOwn(handlers, key) ? handlers[key] : undefined;
    if (h) h(stmt, c);
    else reportUnhandled(stmt, ctx, sink);
  }
}
