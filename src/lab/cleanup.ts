// Tear-down that must happen however the process ends: normal exit, an uncaught error,
// SIGINT, SIGTERM or SIGHUP. Each hook is synchronous (an 'exit' listener cannot wait) and
// runs once. Signal listeners are installed only while a hook is pending, and after the
// hooks ran the signal is raised again when nobody else listens, so the default action
// (and the exit status it gives) is kept.

const hooks = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function runAll(): void {
  for (const h of [...hooks]) {
    hooks.delete(h);
    try {
      h();
    } catch {
      // Best effort: the other hooks must still run.
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runAll();
  uninstall();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}
function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', runAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Runs `hook` when the process ends unless the returned function is called first. */
export function onProcessEnd(hook: () => void): () => void {
  hooks.add(hook);
  install();
  return () => {
    hooks.delete(hook);
    if (hooks.size === 0) uninstall();
  };
}
