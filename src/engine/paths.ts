// Output locations checked before anything is written: a directory the user names (--out) must be creatable and
// writable, and not under a kernel file system (Node's recursive mkdir loops forever under /proc).
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Why `dir` cannot be created or written, or undefined when it can. */
export function writableDirProblem(dir: string): string | undefined {
  let d = resolve(dir);
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  const real = realpathSync(d);
  if (/^\/(proc|sys)(\/|$)/.test(real)) return `cannot write under ${real} (a kernel file system)`;
  if (!statSync(real).isDirectory()) return `${d} is a file, not a directory`;
  try {
    accessSync(real, constants.W_OK);
  } catch {
    return `${d} is not writable`;
  }
  return undefined;
}

/** Errno codes of a file system that refused a write, with what they mean, for one-line CLI messages. */
export const FS_ERRORS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EEXIST: 'a file is in the way',
  ENOTDIR: 'a path component is a file, not a directory',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
};
