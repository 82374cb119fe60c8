import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addInterface, deleteNamespace, labUnavailable, newNamespace, sh } from './netns.ts';

// The netlink address driver against a real kernel, in a namespace of its own with a
// veth eth0: the same contract as the fake (test/unit/address-driver-contract.ts), run
// by address-driver-runner.ts inside the namespace. The outside changes the contract
// asks for are made here with `ip -n NS`, so the driver sees them as an operator's.

const why = labUnavailable();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const repo = fileURLToPath(new URL('../..', import.meta.url));
const runner = fileURLToPath(new URL('./address-driver-runner.ts', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;
/** What the runner may ask for: documentation addresses only, eth0 only. */
const DOC_ADDRESS = /^(192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8:)[0-9a-f.:]*\/\d+$/i;

interface HookRequest {
  op: 'addr-del' | 'link';
  ifname: string;
  address?: string;
  up?: boolean;
}

interface RunOutcome {
  code: number | null;
  result?: { passed?: string[]; failed?: string };
  hooks: HookRequest[];
  stderr: string;
}

function outsideChange(ns: string, h: HookRequest): string | undefined {
  if (h.ifname !== 'eth0') return `refused: interface ${h.ifname}`;
  const r =
    h.op === 'addr-del' && h.address && DOC_ADDRESS.test(h.address)
      ? sh('ip', ['-n', ns, 'addr', 'del', h.address, 'dev', h.ifname])
      : h.op === 'link'
        ? sh('ip', ['-n', ns, 'link', 'set', h.ifname, h.up ? 'up' : 'down'])
        : { status: 1, stderr: `refused: ${JSON.stringify(h)}` };
  return r.status === 0 ? undefined : r.stderr.trim() || `exit ${r.status}`;
}

function runContract(ns: string): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', runner], {
      cwd: repo,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const outcome: RunOutcome = { code: null, hooks: [], stderr: '' };
    const timer = setTimeout(() => {
      outcome.stderr += `\n(killed after ${RUN_TIMEOUT_MS} ms: the runner did not end by itself)`;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.stderr.on('data', (b: Buffer) => {
      outcome.stderr += b.toString();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('HOOK ')) {
        const h = JSON.parse(line.slice(5)) as HookRequest;
        outcome.hooks.push(h);
        const err = outsideChange(ns, h);
        child.stdin.write(err === undefined ? 'OK\n' : `ERR ${err.replace(/\n/g, ' ')}\n`);
      } else if (line.startsWith('RESULT ')) {
        outcome.result = JSON.parse(line.slice(7)) as RunOutcome['result'];
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      outcome.code = code;
      resolve(outcome);
    });
  });
}

describe('netlink address driver in a network namespace', { skip }, () => {
  let ns = '';
  let outcome: RunOutcome | undefined;
  before(async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    ns = newNamespace('addr');
    addInterface(ns, 'eth0');
    outcome = await runContract(ns);
  });
  after(() => {
    if (ns) deleteNamespace(ns);
  });

  it('passes the address driver contract, and its sockets let the process end', (t) => {
    assert.ok(outcome);
    for (const name of outcome.result?.passed ?? []) t.diagnostic(`passed: ${name}`);
    assert.deepEqual(outcome.result?.failed, undefined);
    assert.equal(outcome.code, 0, `runner exit ${outcome.code}\n${outcome.stderr}`);
    assert.ok((outcome.result?.passed?.length ?? 0) > 10, JSON.stringify(outcome.result));
  });

  it('saw the outside `ip addr del` and `ip link set eth0 down` the contract asked for', () => {
    assert.ok(outcome);
    const ops = outcome.hooks.map((h) =>
      h.op === 'link' ? `link ${h.up ? 'up' : 'down'}` : `del ${h.address}`,
    );
    for (const op of ['del 192.0.2.10/32', 'del 2001:db8::10/128', 'link down', 'link up'])
      assert.ok(ops.includes(op), `${op} not among ${ops.join(', ')}`);
  });

  it('left eth0 up and without the test addresses', () => {
    const show = sh('ip', ['-n', ns, '-o', 'addr', 'show', 'dev', 'eth0']).stdout;
    assert.doesNotMatch(show, /192\.0\.2\.|2001:db8:/);
    assert.match(sh('ip', ['-n', ns, 'link', 'show', 'eth0']).stdout, /[<,]UP[,>]/);
  });
});
