import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportKeepalived, secretParameter } from '../../src/config/export-keepalived.ts';
import { importKeepalived } from '../../src/config/import-keepalived.ts';
import { parseKeepalivedConf } from '../../src/config/keepalived-parse.ts';
import { nodeView } from '../../src/model/node-view.ts';
import { addInterface, deleteNamespace, labUnavailable, newNamespace, sh } from '../lab/netns.ts';
import { FIXTURE_SETS } from '../unit/fixture-sets.ts';

// Debian's keepalived is the judge of `keepgit export`: each exported node configuration
// must pass `keepalived -t` (parse and check, no daemon) inside a namespace that has the
// interfaces it names, or draw no complaint that keepalived does not also make about the
// operator's original file. Nothing is sent on any network.

const why = labUnavailable(['keepalived']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

/** keepalived's messages without the "(file: Line N)" prefix, which differs between files. */
const messages = (out: string): string[] =>
  out
    .split('\n')
    .map((l) => l.replace(/^\([^)]*Line \d+\)\s*/, '').trim())
    .filter(Boolean);

describe('keepalived -t accepts what keepgit export writes', { skip }, () => {
  let ns = '';
  let dir = '';
  before(() => {
    if (why) assert.fail(`interop test cannot run: ${why}`);
    ns = newNamespace('ka');
    for (const i of ['eth0', 'eth1', 'ens9']) addInterface(ns, i);
    dir = mkdtempSync(join(tmpdir(), 'keepgit-interop-'));
  });
  after(() => {
    if (ns) deleteNamespace(ns);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const check = (file: string) => sh('ip', ['netns', 'exec', ns, 'keepalived', '-t', '-l', '-f', file]);

  for (const set of FIXTURE_SETS) {
    it(Object.values(set).join(' + '), () => {
      const inputs = Object.entries(set).map(([node, f]) => {
        const file = `test/fixtures/keepalived/${f}`;
        const r = parseKeepalivedConf(readFileSync(file, 'utf8'), file);
        assert.ok(r.ok);
        return { node, file, statements: r.statements, notices: r.notices };
      });
      const m = importKeepalived(inputs);
      for (const input of inputs) {
        const view = nodeView(m.cluster, m.nodes, input.node);
        const secrets = new Map(
          view.instances.flatMap((i) =>
            i.auth?.secretRef ? [[secretParameter(i.auth.secretRef, i.name), 'pw-test']] : [],
          ),
        ) as Map<string, string>;
        const out = join(dir, `${input.node}.conf`);
        writeFileSync(out, exportKeepalived(view, { secrets }));
        const ours = check(out);
        if (ours.status === 0) continue;
        const original = new Set(messages(check(input.file).stderr + check(input.file).stdout));
        const extra = messages(ours.stderr + ours.stdout).filter((msg) => !original.has(msg));
        assert.deepEqual(
          extra,
          [],
          `keepalived -t exit ${ours.status} on the export of ${input.file}:\n${readFileSync(out, 'utf8')}`,
        );
      }
    });
  }
});
