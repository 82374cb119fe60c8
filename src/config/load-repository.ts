import type { z } from 'zod';
import {
  type ClusterDoc,
  clusterDoc,
  type NodeDoc,
  nodeDoc,
  type PolicyDoc,
  policyDoc,
} from '../model/cluster-schema.ts';
import { type Diagnostic, hasErrors, sortDiagnostics } from '../model/diagnostic.ts';
import type { Repository } from '../model/repository.ts';
import { checkReferences, type SourceDoc } from './check-references.ts';
import { parseYamlDocument, type YamlDocument } from './yaml-document.ts';
import { checkSchema } from './zod-diagnostics.ts';

// The whole desired-state repository from its files' text: every document parsed and
// checked against its schema, then against each other. Pure: the caller reads the files.
// All problems in all files are reported at once, so one push fixes them all.

export interface LoadResult {
  /** Present when no error was found (warnings may be). */
  repository?: Repository;
  /** Sorted by file, line and column. */
  diagnostics: Diagnostic[];
}

const CLUSTER_FILES = ['keepgit.yaml', 'keepgit.yml'];
const IN_DIR = /^(nodes|policies)\/([^/]+)\.ya?ml$/;

type Kind = 'Cluster' | 'Node' | 'Policy';

const SCHEMAS = { Cluster: clusterDoc, Node: nodeDoc, Policy: policyDoc } as const;

/**
 * @param files repository-relative path → text. keepgit.yaml, nodes/*.yaml and
 *   policies/*.yaml are read (.yml too); any other file is ignored.
 */
export function loadRepository(files: ReadonlyMap<string, string>): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const fail = (file: string, message: string, at?: { line: number; col: number }) =>
    diagnostics.push({ severity: 'error', file, message, ...(at ?? {}) });

  const clusterFiles = CLUSTER_FILES.filter((f) => files.has(f));
  if (clusterFiles.length === 0) {
    fail(
      'keepgit.yaml',
      'missing keepgit.yaml: a repository needs one Cluster document (apiVersion: keepgit/v1, kind: Cluster) at its top',
    );
  }
  if (clusterFiles.length > 1) fail('keepgit.yml', 'both keepgit.yaml and keepgit.yml exist; keep one');

  const nodeFiles: [string, string][] = [];
  const policyFiles: string[] = [];
  for (const file of [...files.keys()].sort()) {
    const m = IN_DIR.exec(file);
    if (m?.[1] === 'nodes') nodeFiles.push([file, m[2] as string]);
    else if (m?.[1] === 'policies') policyFiles.push(file);
  }

  const load = <K extends Kind>(
    file: string,
    kind: K,
  ): SourceDoc<z.output<(typeof SCHEMAS)[K]>> | undefined => {
    const parsed = parseYamlDocument(files.get(file) ?? '', file);
    diagnostics.push(...parsed.diagnostics);
    if (parsed.doc === undefined) return undefined;
    const found = checkDocument(parsed.doc, kind);
    diagnostics.push(...found.diagnostics);
    if (found.data === undefined) return undefined;
    const { locate, locateKey } = parsed.doc;
    return { file, doc: found.data as z.output<(typeof SCHEMAS)[K]>, locate, locateKey };
  };

  const clusterFile = clusterFiles[0];
  const cluster = clusterFile === undefined ? undefined : load(clusterFile, 'Cluster');

  const nodes: SourceDoc<NodeDoc>[] = [];
  const nodeNames = new Map<string, string>();
  for (const [file, name] of nodeFiles) {
    const other = nodeNames.get(name);
    if (other !== undefined) {
      fail(file, `node "${name}" is already defined by ${other}; keep one of the two files`, {
        line: 1,
        col: 1,
      });
      continue;
    }
    nodeNames.set(name, file);
    const node = load(file, 'Node');
    if (node === undefined) continue;
    if (node.doc.metadata.name !== name) {
      const at = node.locate(['metadata', 'name']);
      diagnostics.push({
        severity: 'error',
        file,
        ...(at ?? {}),
        path: 'metadata.name',
        message: `"${node.doc.metadata.name}" differs from the file name ${file}; a node file is named for its node (nodes/${node.doc.metadata.name}.yaml)`,
      });
      continue;
    }
    nodes.push(node);
  }
  if (nodeFiles.length === 0) {
    fail(
      'nodes/',
      'no nodes: add nodes/NAME.yaml (apiVersion: keepgit/v1, kind: Node, metadata: { name: NAME }) for each node',
    );
  }

  const policies: SourceDoc<PolicyDoc>[] = [];
  for (const file of policyFiles) {
    const policy = load(file, 'Policy');
    if (policy !== undefined) policies.push(policy);
  }

  if (cluster !== undefined) {
    diagnostics.push(...checkReferences({ cluster, nodes, nodeNames: new Set(nodeNames.keys()) }));
  }

  sortDiagnostics(diagnostics);
  if (cluster === undefined || hasErrors(diagnostics)) return { diagnostics };
  nodes.sort((a, b) => a.doc.metadata.name.localeCompare(b.doc.metadata.name));
  return { repository: { cluster: cluster as SourceDoc<ClusterDoc>, nodes, policies }, diagnostics };
}

/**
 * A document of the wrong kind fails nearly every field of the expected schema; saying
 * that once is clearer than listing them all.
 */
function checkDocument(doc: YamlDocument, kind: Kind): { data?: unknown; diagnostics: Diagnostic[] } {
  const err = (message: string, path: string[] = []): Diagnostic[] => {
    const at = doc.locate(path);
    return [
      {
        severity: 'error',
        file: doc.file,
        line: at.line,
        col: at.col,
        message,
        ...(path.length ? { path: path.join('.') } : {}),
      },
    ];
  };
  const v = doc.value;
  if (v === null || v === undefined) {
    return {
      diagnostics: err(`empty file: expected a ${kind} document (apiVersion: keepgit/v1, kind: ${kind})`),
    };
  }
  if (
    typeof v === 'object' &&
    !Array.isArray(v) &&
    'kind' in v &&
    typeof v.kind === 'string' &&
    v.kind !== kind
  ) {
    const where =
      kind === 'Cluster'
        ? 'keepgit.yaml'
        : kind === 'Node'
          ? 'a file under nodes/'
          : 'a file under policies/';
    return {
      diagnostics: err(`expected kind: ${kind} in ${where}, got ${JSON.stringify(v.kind)}`, ['kind']),
    };
  }
  return checkSchema(SCHEMAS[kind], doc);
}
