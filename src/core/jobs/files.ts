// `run --file PATH`: the paths go into a fresh private temp directory on each host, the command runs
// there, and the directory is removed afterwards (or kept, and named, with keepFiles).
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Workdir } from '../exec/run';
import { END_OF_ARCHIVE, entryHeader, padding } from '../push/tarStream';
import type { Pool } from '../ssh/pool';
import { shQuote } from '../ssh/quote';
import { runScript } from '../ssh/script';

/** Files for a run are held in memory once and sent to every host: keep them to what a command needs. */
export const MAX_RUN_FILES_BYTES = 256 * 1024 * 1024;

export class RunFilesError extends Error {}

/** A tar archive of the paths, each under its own base name (directories recursively, symlinks as links). */
export async function archiveRunFiles(paths: readonly string[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  const names = new Set<string>();
  const add = async (local: string, name: string) => {
    const st = await lstat(local).catch((err: NodeJS.ErrnoException) => {
      throw new RunFilesError(`--file ${local}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    });
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isSymbolicLink()) {
      parts.push(entryHeader(name, { type: 'symlink', size: 0, mode: 0o777, mtime, linkTarget: await readlink(local) }));
    } else if (st.isDirectory()) {
      parts.push(entryHeader(name, { type: 'dir', size: 0, mode: st.mode, mtime }));
      for (const child of (await readdir(local)).sort()) await add(join(local, child), `${name}/${child}`);
    } else if (st.isFile()) {
      total += st.size;
      if (total > MAX_RUN_FILES_BYTES) throw new RunFilesError(`--file: more than ${MAX_RUN_FILES_BYTES >> 20} MiB in all; push large trees with flotilla push instead`);
      const data = await readFile(local);
      parts.push(entryHeader(name, { type: 'file', size: data.length, mode: st.mode, mtime }), data, padding(data.length));
    } else {
      throw new RunFilesError(`--file ${local}: not a regular file, directory or symlink`);
    }
  };
  for (const p of paths) {
    const abs = resolve(p);
    const name = basename(abs);
    if (names.has(name)) throw new RunFilesError(`--file: two paths are named ${JSON.stringify(name)}; the temp directory holds each under its base name`);
    names.add(name);
    await add(abs, name);
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** The Workdir hook for startRun: one archive, extracted into `mktemp -d` on each host. */
export function filesWorkdir(pool: Pool, archive: Buffer, opts: { keep?: boolean; onKept?: (host: string, dir: string) => void } = {}): Workdir {
  return {
    async prepare(host, signal) {
      const script =
        'umask 077; d=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-run.XXXXXXXX") || exit 1; ' +
        'cd "$d" && tar -x -o -f - || { cd /; rm -rf "$d"; exit 1; }; printf "%s\\n" "$d"';
      const r = await runScript(pool, host, script, { stdin: archive, signal });
      const dir = r.stdout.toString('utf8').trim().split('\n').pop() ?? '';
      if (r.code !== 0 || !dir.startsWith('/')) throw new Error(r.stderr.toString('utf8').trim() || `exit ${r.code}`);
      return dir;
    },
    async cleanup(host, dir) {
      if (opts.keep) return opts.onKept?.(host, dir);
      await runScript(pool, host, `rm -rf -- ${shQuote(dir)}`);
    },
  };
}
