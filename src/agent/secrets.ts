import type { ClusterDoc } from '../model/cluster-schema.ts';
import type { ViewInstance } from '../model/node-view.ts';

// The v2 PASS password of an instance, read where the repository says it lives: an
// environment variable or a file on the node (secrets never live in Git). A plaintext
// password in Git is used only when policy let it through. The value goes to the
// instance and nowhere else: messages here name the reference, never the secret.

export type PasswordResult = { ok: true; password?: string } | { ok: false; message: string };

export interface SecretSources {
  env: Readonly<Record<string, string | undefined>>;
  /** Throws when the file cannot be read. */
  readFile: (path: string) => string;
}

export function instancePassword(
  view: ViewInstance,
  cluster: ClusterDoc,
  src: SecretSources,
): PasswordResult {
  const auth = view.auth;
  // VRRPv3 has no authentication (RFC 5798 dropped it); keepalived ignores auth there too.
  if (auth === undefined || view.version !== 2) return { ok: true };
  const ref = auth.secretRef;
  if (ref !== undefined && 'env' in ref) {
    const value = src.env[ref.env];
    if (value === undefined || value === '')
      return {
        ok: false,
        message: `instance ${view.name}: auth PASS reads its password from the environment variable ${ref.env}, which is not set; set it in the agent's environment (systemd: Environment= or EnvironmentFile=)`,
      };
    return { ok: true, password: value };
  }
  if (ref !== undefined && 'file' in ref) {
    let text: string;
    try {
      text = src.readFile(ref.file);
    } catch (e) {
      const why =
        e instanceof Error && 'code' in e ? String((e as NodeJS.ErrnoException).code) : 'unreadable';
      return {
        ok: false,
        message: `instance ${view.name}: auth PASS reads its password from ${ref.file}, which cannot be read (${why}); create it (mode 0600, owned by the agent's user)`,
      };
    }
    // A file written by `echo` ends with a newline that is not part of the password.
    const password = text.replace(/\r?\n$/, '');
    if (password === '')
      return { ok: false, message: `instance ${view.name}: the password file ${ref.file} is empty` };
    return { ok: true, password };
  }
  const plain = cluster.instances?.find((i) => i.name === view.name)?.auth?.password;
  if (plain === undefined || plain === '')
    return {
      ok: false,
      message: `instance ${view.name}: auth PASS has neither a secretRef nor a password; add auth.secretRef: { env: NAME } or { file: PATH }`,
    };
  return { ok: true, password: plain };
}
