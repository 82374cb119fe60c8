// A small Prometheus registry: counters, gauges and histograms with labels, written in the
// text exposition format 0.0.4. No dependency: the format is a page of rules, and a client
// library would bring a default process collector and global state we do not want in an
// agent that also runs in unit tests many times per process.
//
// Values that the agent already counts (adverts, drops) are not mirrored by hooks: a
// collect callback copies them from a snapshot at scrape time, with `set`, so the numbers in
// /metrics and in /status can never disagree.

export type Labels = Readonly<Record<string, string>>;

export interface Family {
  readonly name: string;
  /** Drops every sample: a collect callback that rebuilds a family from a snapshot starts here. */
  reset(): void;
}

export interface Counter extends Family {
  inc(labels?: Labels, by?: number): void;
  /** For counters kept elsewhere (a transport's `sent`): the snapshot's cumulative value. */
  set(labels: Labels, value: number): void;
}

export interface Gauge extends Family {
  set(labels: Labels, value: number): void;
}

export interface Histogram extends Family {
  observe(labels: Labels, value: number): void;
}

export interface Registry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  histogram(
    name: string,
    help: string,
    labelNames?: readonly string[],
    buckets?: readonly number[],
  ): Histogram;
  /** Runs before every exposition, in the order added. */
  onCollect(collect: () => void): void;
  /** The text exposition format 0.0.4, ending in a newline. */
  expose(): string;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus' client default: 5 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Sample {
  labels: Labels;
  value: number;
}

interface HistogramSample {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

type Writer = (lines: string[]) => void;

export function createRegistry(): Registry {
  const names = new Set<string>();
  const writers: Writer[] = [];
  const collectors: (() => void)[] = [];

  const register = (name: string, labelNames: readonly string[], reserved: readonly string[]) => {
    // Programming errors, not user input: the names are constants in the agent's code.
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    if (names.has(name)) throw new Error(`metric ${name} registered twice`);
    for (const l of labelNames)
      if (!LABEL_NAME.test(l) || l.startsWith('__') || reserved.includes(l))
        throw new Error(`invalid label name ${JSON.stringify(l)} for ${name}`);
    names.add(name);
  };

  const scalar = (type: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[]) => {
    register(name, labelNames, []);
    const samples = new Map<string, Sample>();
    const slot = (labels: Labels): Sample => {
      const key = labelKey(name, labelNames, labels);
      let s = samples.get(key);
      if (!s) {
        s = { labels: pick(labelNames, labels), value: 0 };
        samples.set(key, s);
      }
      return s;
    };
    writers.push((lines) => {
      lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
      for (const s of samples.values())
        lines.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    });
    return {
      name,
      reset: () => samples.clear(),
      set: (labels: Labels, value: number) => {
        slot(labels).value = value;
      },
      inc: (labels: Labels = {}, by = 1) => {
        if (by < 0) throw new Error(`counter ${name} cannot decrease`);
        slot(labels).value += by;
      },
    };
  };

  return {
    counter: (name, help, labelNames = []) => scalar('counter', name, help, labelNames),
    gauge: (name, help, labelNames = []) => {
      const { inc: _inc, ...g } = scalar('gauge', name, help, labelNames);
      return g;
    },
    histogram: (name, help, labelNames = [], buckets = DEFAULT_BUCKETS) => {
      register(name, labelNames, ['le']);
      const bounds = [...buckets].sort((a, b) => a - b).filter((b) => b !== Number.POSITIVE_INFINITY);
      const samples = new Map<string, HistogramSample>();
      writers.push((lines) => {
        lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
        for (const s of samples.values()) {
          // Buckets are cumulative: each counts every observation at or below its bound.
          let cumulative = 0;
          bounds.forEach((b, i) => {
            cumulative += s.counts[i] ?? 0;
            lines.push(`${name}_bucket${formatLabels({ ...s.labels, le: formatValue(b) })} ${cumulative}`);
          });
          lines.push(`${name}_bucket${formatLabels({ ...s.labels, le: '+Inf' })} ${s.count}`);
          lines.push(`${name}_sum${formatLabels(s.labels)} ${formatValue(s.sum)}`);
          lines.push(`${name}_count${formatLabels(s.labels)} ${s.count}`);
        }
      });
      return {
        name,
        reset: () => samples.clear(),
        observe: (labels, value) => {
          const key = labelKey(name, labelNames, labels);
          let s = samples.get(key);
          if (!s) {
            s = { labels: pick(labelNames, labels), counts: bounds.map(() => 0), sum: 0, count: 0 };
            samples.set(key, s);
          }
          const i = bounds.findIndex((b) => value <= b);
          if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
          s.sum += value;
          s.count++;
        },
      };
    },
    onCollect: (collect) => {
      collectors.push(collect);
    },
    expose: () => {
      for (const c of collectors) c();
      const lines: string[] = [];
      for (const w of writers) w(lines);
      return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    },
  };
}

function labelKey(metric: string, labelNames: readonly string[], labels: Labels): string {
  for (const k of Object.keys(labels))
    if (!labelNames.includes(k)) throw new Error(`metric ${metric} has no label ${k}`);
  return JSON.stringify(labelNames.map((n) => labels[n] ?? ''));
}

/** Every declared label, in declaration order; a missing one is the empty string (as absent). */
function pick(labelNames: readonly string[], labels: Labels): Labels {
  return Object.fromEntries(labelNames.map((n) => [n, labels[n] ?? '']));
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Label values: backslash, double quote and line feed are escaped (format 0.0.4). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed are escaped; a double quote is not. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
