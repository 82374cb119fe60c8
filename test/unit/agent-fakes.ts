import assert from 'node:assert/strict';
import { desiredFor } from '../../src/agent/load-desired.ts';
import type { AgentDeps } from '../../src/agent/run-agent.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import type { NodeView } from '../../src/model/node-view.ts';
import type { Repository } from '../../src/model/repository.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import type { FakeTime } from '../../src/vrrp/instance-timers.ts';

// What the agent's unit tests share: a repository from YAML texts, a node's gated view, and
// the dependencies of an agent on fakes.

/** keepgit.yaml plus one bare Node document per name; fails the test on any diagnostic. */
export function repositoryOf(cluster: string, nodes: readonly string[] = ['lb1']): Repository {
  const loaded = loadRepository(
    new Map([
      ['keepgit.yaml', cluster],
      ...nodes.map((n): [string, string] => [
        `nodes/${n}.yaml`,
        `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${n} }\n`,
      ]),
    ]),
  );
  assert.ok(loaded.repository, JSON.stringify(loaded.diagnostics));
  return loaded.repository;
}

/** The node's view after the policy gate; fails the test when the gate refuses. */
export function viewOf(repository: Repository, node: string): NodeView {
  const desired = desiredFor(repository, node);
  assert.ok(desired.ok, JSON.stringify(desired));
  return desired.view;
}

/** An agent's dependencies on fakes: scripts run as the agent itself (no keepalived_script user). */
export function fakeAgentDeps(
  time: FakeTime,
  logs: LogEntry[],
  rest: Pick<AgentDeps, 'openTransport' | 'addresses'> & Partial<AgentDeps>,
): AgentDeps {
  return {
    clock: time,
    timers: time,
    log: (e) => logs.push(e),
    secrets: { env: {}, readFile: () => '' },
    getent: async () => undefined,
    self: { user: 'agent', uid: 1234, gid: 1234 },
    ...rest,
  };
}

/** A repository and its node's gated view: what a revision source hands the agent. */
export function gated(repository: Repository, node = 'lb1'): { repository: Repository; view: NodeView } {
  return { repository, view: viewOf(repository, node) };
}
