// A minimal POSIX (pax) tar writer, enough for the fast first-push path: regular files, directories and
// symlinks, with a pax header whenever a name or link text does not fit ustar's fields.

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, opts: { size: number; mode: number; mtime: number; typeflag: string; linkname?: string }): Buffer {
  const buf = Buffer.alloc(BLOCK);
  buf.write(name, 0, 100, 'utf8');
  buf.write(octal(opts.mode & 0o7777, 8), 100, 'ascii');
  buf.write(octal(0, 8), 108, 'ascii');
  buf.write(octal(0, 8), 116, 'ascii');
  buf.write(octal(opts.size, 12), 124, 'ascii');
  buf.write(octal(Math.max(0, Math.floor(opts.mtime)), 12), 136, 'ascii');
  buf.write('        ', 148, 'ascii');
  buf.write(opts.typeflag, 156, 'ascii');
  if (opts.linkname) buf.write(opts.linkname, 157, 100, 'utf8');
  buf.write('ustar\0', 257, 'ascii');
  buf.write('00', 263, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i]!;
  buf.write(octal(sum, 7) + ' ', 148, 'ascii');
  return buf;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (Buffer.byteLength(`${len}${body}`) !== len) len++;
  return `${len}${body}`;
}

const needsPax = (s: string) => Buffer.byteLength(s) >= 100 || /[^\x20-\x7e]/.test(s);

export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/**
 * Header block(s) for one entry; for a file, its data and padding() follow. With `mtimeNsec` the mtime's
 * fraction travels in a pax record (GNU tar restores it); without, the entry gets whole seconds.
 */
export function entryHeader(path: string, e: { type: 'file' | 'dir' | 'symlink'; size: number; mode: number; mtime: number; mtimeNsec?: number; linkTarget?: string }): Buffer {
  const name = e.type === 'dir' ? `${path}/` : path;
  const typeflag = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
  const size = e.type === 'file' ? e.size : 0;
  const parts: Buffer[] = [];
  const records = (needsPax(name) ? paxRecord('path', name) : '') + (e.linkTarget && needsPax(e.linkTarget) ? paxRecord('linkpath', e.linkTarget) : '') +
    (e.mtimeNsec ? paxRecord('mtime', `${Math.max(0, Math.floor(e.mtime))}.${String(e.mtimeNsec).padStart(9, '0')}`) : '');
  if (records) {
    const data = Buffer.from(records, 'utf8');
    parts.push(header('PaxHeader', { size: data.length, mode: 0o644, mtime: e.mtime, typeflag: 'x' }), data, padding(data.length));
  }
  parts.push(header(needsPax(name) ? name.replace(/[^\x20-\x7e]/g, '_').slice(0, 99) : name, { size, mode: e.mode, mtime: e.mtime, typeflag, linkname: e.linkTarget && !needsPax(e.linkTarget) ? e.linkTarget : undefined }));
  return Buffer.concat(parts);
}

/** Two zero blocks end the archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);
