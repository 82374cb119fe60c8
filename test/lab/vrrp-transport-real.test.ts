import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { type ContractHarness, type Exchange, transportContract } from '../unit/vrrp-transport-contract.ts';
import { deleteNamespace, labUnavailable } from './netns.ts';
import { A, B, counters, kill, killAll, receiver, run, twoHosts } from './vrrp-transport-lab.ts';
import { receivedFromJson, stepToJson } from './vrrp-transport-wire.ts';

// The real VRRP transport on raw sockets, held to the same contract as the fake: two
// namespaces joined by one veth pair, one runner process per end (a raw socket belongs
// to the namespace of the process that opens it). Documentation addresses only; nothing
// is created in the root namespace, and everything is removed in `after`.

const why = labUnavailable();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

describe('VRRP transport contract: raw sockets in network namespaces', { skip }, () => {
  let nsA = '';
  let nsB = '';
  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    ({ nsA, nsB } = twoHosts('vt'));
  });
  after(() => {
    killAll();
    if (nsA) deleteNamespace(nsA);
    if (nsB) deleteNamespace(nsB);
  });

  const harness: ContractHarness = {
    a: A,
    b: B,
    async exchange(x: Exchange) {
      const timeoutMs = x.expect === 0 ? 1500 : 5000;
      const rx = receiver(nsB, { role: 'receive', options: x.receiver, expect: x.expect, timeoutMs });
      await rx.ready;
      const tx = await run(nsA, {
        role: 'send',
        options: x.sender,
        steps: x.steps.map(stepToJson),
      }).done.catch(async (e: unknown) => {
        kill(rx.child);
        await rx.done.catch(() => []);
        throw e;
      });
      const lines = await rx.done;
      return {
        received: lines.filter((l) => l.event === 'advert').map(receivedFromJson),
        receiver: counters(lines),
        sender: counters(tx),
      };
    },
  };
  transportContract(() => harness);
});
