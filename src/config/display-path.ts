import type { PathSeg } from '../model/repository.ts';

// A field path as a person reads it: list items by the name they were given rather than
// by position, so "instances.www-http.priority" instead of "instances[3].priority".

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** How a list item is referred to: by name (or id), else by address[:port], else by index. */
function itemLabel(item: unknown, index: number): string {
  if (isRecord(item)) {
    const { name, id, address, port } = item;
    if (typeof name === 'string' && name !== '') return `.${name}`;
    // Policy rules are known by their id.
    if (typeof id === 'string' && id !== '') return `.${id}`;
    if (typeof address === 'string' && address !== '') {
      if (typeof port !== 'number') return `[${address}]`;
      return address.includes(':') ? `[[${address}]:${port}]` : `[${address}:${port}]`;
    }
  }
  return `[${index}]`;
}

export function displayPath(doc: unknown, path: readonly PathSeg[]): string {
  let out = '';
  let node: unknown = doc;
  for (const seg of path) {
    if (typeof seg === 'number' && Array.isArray(node)) {
      const label = itemLabel(node[seg], seg);
      out += out === '' && label.startsWith('.') ? label.slice(1) : label;
      node = node[seg];
    } else {
      out += out === '' ? String(seg) : `.${String(seg)}`;
      node = isRecord(node) ? node[String(seg)] : undefined;
    }
  }
  return out;
}
