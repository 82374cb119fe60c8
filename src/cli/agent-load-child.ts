import { type Desired, loadDesiredDir, loadDesiredFiles } from '../agent/load-desired.ts';
import type { LoadReply } from './agent-load.ts';

// The other end of agent-load.ts: a short-lived process that reads, validates and
// policy-checks the repository, sends the node's view (or the diagnostics) to the agent
// over the IPC channel, and exits. Run as `node agent-load-child.js DIR NODE` by fork(), or
// with `-` for DIR and `{files}` or `{dir}` sent as the first message.

const [dir, node] = process.argv.slice(2);
const send = (reply: LoadReply): void => {
  process.send?.(reply, () => process.exit(0));
};

if (dir === undefined || node === undefined || !process.send) {
  process.stderr.write('agent-load-child: run by `keepgit agent` (fork with an IPC channel, DIR|- NODE)\n');
  process.exit(2);
}
// "-": the input comes over the IPC channel — a Git revision's files, or a directory — so
// that the agent can start this process ahead of time (modules loaded, waiting) and a new
// revision does not wait for a Node process to start. An agent that goes away takes it along.
process.once('disconnect', () => process.exit(0));
const loading: Promise<Desired> =
  dir === '-'
    ? new Promise((resolve, reject) =>
        process.once('message', (m) => {
          try {
            const input = m as { files?: Map<string, string>; dir?: string };
            resolve(
              input.files ? loadDesiredFiles(input.files, node) : loadDesiredDir(input.dir ?? '.', node),
            );
          } catch (e) {
            reject(e);
          }
        }),
      )
    : loadDesiredDir(dir, node);
loading.then(
  (d) =>
    send(
      d.ok
        ? {
            ok: true,
            cluster: { file: d.repository.cluster.file, doc: d.repository.cluster.doc },
            nodes: d.repository.nodes.map((n) => ({ file: n.file, doc: n.doc })),
            policies: d.repository.policies.map((p) => ({ file: p.file, doc: p.doc })),
            view: d.view,
            warnings: d.warnings,
          }
        : { ok: false, diagnostics: d.diagnostics },
    ),
  (e: unknown) => send({ ok: 'crashed', message: e instanceof Error ? e.message : String(e) }),
);
