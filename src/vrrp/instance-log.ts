// What a VRRP instance tells the operator. One entry is one event, written by the agent's
// logger as one JSON line (or one human line); the instance never formats or writes.
// Fields beyond the fixed ones are event-specific and must never carry a secret.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  level: LogLevel;
  /** A stable, greppable name: "transition", "vip-added", "advert-dropped", ... */
  event: string;
  /** The instance's name, when the event belongs to one. */
  instance?: string;
  from?: string;
  to?: string;
  reason?: string;
  /** A sentence for a person. */
  message?: string;
  [field: string]: string | number | boolean | null | undefined | readonly string[];
}

export type Log = (entry: LogEntry) => void;

export const silentLog: Log = () => {};
