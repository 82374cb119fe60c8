import { Hono } from 'hono';
import { dashboardPage } from './dashboard.ts';
import { CONTENT_TYPE } from './metrics.ts';
import type { NodeStatus } from './node-status.ts';

// The agent's HTTP face: what it runs and whether it is well (GET /status, /healthz,
// /readyz, /metrics, the dashboard at /) and, when configured, the Git webhook. Every read
// route is side-effect free, so exposing it on a management network is low risk. Every
// answer that is not a page or metrics is JSON, errors included ({ error }), so scripts
// never have to parse HTML to learn what went wrong.

export interface StatusSource {
  status(): NodeStatus;
  /** The Prometheus text exposition (format 0.0.4). */
  metrics(): string;
}

export interface StatusAppOptions {
  /** Routes mounted beside the read-only ones: the webhook (hookRoutes). */
  hooks?: Hono;
  /** Told of an unexpected error (a bug) while answering; the client only hears that one happened. */
  onError?: (error: unknown) => void;
}

const ROUTES = ['/', '/status', '/healthz', '/readyz', '/metrics'] as const;
const HOOK_PATHS = ['/hooks/git'] as const;

export function statusApp(source: StatusSource, options: StatusAppOptions = {}): Hono {
  const app = new Hono();
  app.get('/', (c) => c.html(dashboardPage(source.status())));
  app.get('/status', (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(source.status());
  });
  // Alive: the process runs its event loop and answers. Whether it is fit to carry traffic
  // is /readyz's question.
  app.get('/healthz', (c) => c.json({ alive: true }));
  app.get('/readyz', (c) => {
    const ready = source.status().conditions.find((x) => x.type === 'Ready');
    const body = {
      ready: ready?.status === 'True',
      reason: ready?.reason ?? 'Unknown',
      message: ready?.message ?? 'the agent reports no Ready condition',
    };
    return c.json(body, body.ready ? 200 : 503);
  });
  app.get('/metrics', (c) => c.body(source.metrics(), 200, { 'Content-Type': CONTENT_TYPE }));
  if (options.hooks) app.route('/', options.hooks);

  for (const path of ROUTES)
    app.all(path, (c) => {
      c.header('Allow', 'GET, HEAD');
      return c.json({ error: `${c.req.method} is not allowed on ${path}: use GET` }, 405);
    });
  if (options.hooks)
    for (const path of HOOK_PATHS)
      app.all(path, (c) => {
        c.header('Allow', 'POST');
        return c.json({ error: `${c.req.method} is not allowed on ${path}: use POST` }, 405);
      });
  app.notFound((c) =>
    c.json({ error: `no such endpoint: ${c.req.path} (try ${ROUTES.slice(1).join(', ')} or /)` }, 404),
  );
  // A bug while building a document must not show a stack to whoever asked.
  app.onError((e, c) => {
    options.onError?.(e);
    return c.json({ error: 'internal error while answering: see the agent log' }, 500);
  });
  return app;
}
