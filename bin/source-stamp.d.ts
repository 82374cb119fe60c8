// Types for bin/source-stamp.js (plain JavaScript: it runs before any TypeScript loader).

/** The stamp file, relative to the package root. */
export const STAMP_FILE: string;
/** The hash of the sources under `root`, as the build records it. */
export function sourceHash(root: string): string;
/** True when dist/ under `root` holds a build of exactly the current sources. */
export function distIsFresh(root: string): boolean;
