import type { ClusterDoc, NodeDoc, PolicyDoc } from './cluster-schema.ts';

// A loaded desired-state repository: the parsed documents plus, for each, a way back
// from a field path to the line and column a person wrote it on.

export type PathSeg = string | number;

export interface Position {
  line: number;
  col: number;
}

export interface Located<T> {
  /** Repository-relative file name, e.g. "nodes/lb1.yaml". */
  file: string;
  doc: T;
  /** Position of the value at `path`, or of its nearest ancestor that exists. */
  locate(path: readonly PathSeg[]): Position | undefined;
}

export interface Repository {
  cluster: Located<ClusterDoc>;
  /** Sorted by metadata.name. */
  nodes: Located<NodeDoc>[];
  policies: Located<PolicyDoc>[];
}

/** A repository built in memory (importer, tests, benchmarks) has no positions. */
export function unlocated<T>(file: string, doc: T): Located<T> {
  return { file, doc, locate: () => undefined };
}

export function repositoryOf(cluster: ClusterDoc, nodes: NodeDoc[], policies: PolicyDoc[] = []): Repository {
  return {
    cluster: unlocated('keepgit.yaml', cluster),
    nodes: nodes
      .map((n) => unlocated(`nodes/${n.metadata.name}.yaml`, n))
      .sort((a, b) => a.doc.metadata.name.localeCompare(b.doc.metadata.name)),
    policies: policies.map((p, i) => unlocated(`policies/${p.metadata?.name ?? i}.yaml`, p)),
  };
}
