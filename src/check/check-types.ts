// What every health checker shares. A probe is one attempt against one real server: it
// resolves (never rejects) with an outcome, honours the abort signal, and keeps to its
// timeout. Retries, delay_loop, warmup, alpha and the up/down decision belong to the
// scheduler, so a probe file holds only the protocol it speaks.

export interface CheckTarget {
  /** connect_ip (or the real server's address), without brackets. */
  address: string;
  /** connect_port (or the real server's port). */
  port: number;
  family: 4 | 6;
  /** bindto / bind_port / bind_if: where the probe's own socket is bound, when set. */
  bindAddress?: string;
  bindPort?: number;
  bindInterface?: string;
}

export type CheckOutcome =
  | {
      ok: true;
      latencyMs: number;
      /** misc_dynamic: the weight the script's exit code asks for. */
      weight?: number;
      detail?: string;
    }
  | {
      ok: false;
      latencyMs: number;
      /** Short and specific: "connect ECONNREFUSED", "status 503, expected 200-299", "timeout after 3000 ms". */
      reason: string;
    };

export interface ProbeContext {
  /** The hard timeout of this attempt (connect_timeout, or misc_timeout). */
  timeoutMs: number;
  /** Aborted when the agent stops or the check is removed: the probe ends at once. */
  signal: AbortSignal;
  /** Monotonic milliseconds, injected so that latency is testable. */
  now: () => number;
}

/** One attempt of one kind of check; `spec` is the check's kind-specific fields as validated. */
export type ProbeFn<Spec> = (spec: Spec, target: CheckTarget, ctx: ProbeContext) => Promise<CheckOutcome>;
