// Ansible host patterns: `web[01:03].example.com`, `db-[a:c]`, `host:2222`, `[::1]:22`
// (ansible-core plugins/inventory/__init__.py expand_hostname_range and parsing/utils/addresses.py).

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const RANGE = /\[[^\]]*\]/g;
const HOST_LABEL = /^[\w\u00c0-\uffff](?:[\w\u00c0-\uffff-]*[\w\u00c0-\uffff])?$/u;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|[01]?\d{1,2})\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d{1,2})$/;

/** A name Ansible's address parser accepts as a host (ranges stand in as digits). */
function isAddress(pattern: string): boolean {
  const plain = pattern.replace(RANGE, '0');
  if (IPV4.test(plain)) return true;
  if (/^[0-9a-f:.]+$/i.test(plain) && plain.includes(':')) return true;
  return plain.split('.').every((label) => HOST_LABEL.test(label));
}

/** Splits an optional `:port` off the way parse_address does; an unparsable pattern keeps its colon. */
export function splitHostPort(pattern: string): { host: string; port?: number } {
  const bracketed = /^\[(.+)\]:(\d+)$/.exec(pattern);
  const plain = bracketed ?? /^((?:[^:[\]]|\[[^\]]*\])*):(\d+)$/.exec(pattern);
  const host = plain ? plain[1]! : pattern;
  const port = plain ? Number(plain[2]) : undefined;
  return isAddress(host) ? { host, port } : { host: pattern };
}

/** Expands every `[begin:end(:step)]` range; errors are messages without position (the caller adds it). */
export function expandHostRange(pattern: string): string[] {
  const open = pattern.indexOf('[');
  if (open < 0) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close < 0) throw new Error(`unclosed "[" in host pattern ${JSON.stringify(pattern)}`);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new Error('host range must be begin:end or begin:end:step');
  const [rawBegin, end, rawStep] = bounds as [string, string, string?];
  const begin = rawBegin || '0';
  const step = rawStep === undefined ? 1 : Number(rawStep);
  if (!end) throw new Error('host range must specify end value');
  if (!Number.isInteger(step) || step <= 0) throw new Error(`host range step must be a positive integer, got ${JSON.stringify(rawStep)}`);
  let seq: string[];
  if (begin.length === 1 && end.length === 1 && LETTERS.includes(begin) && LETTERS.includes(end)) {
    const a = LETTERS.indexOf(begin);
    const b = LETTERS.indexOf(end);
    if (a > b) throw new Error('host range must have begin <= end');
    seq = [];
    for (let i = a; i <= b; i += step) seq.push(LETTERS[i]!);
  } else {
    if (!/^\d+$/.test(begin) || !/^\d+$/.test(end)) throw new Error(`host range [${bounds.join(':')}] is neither numeric nor one letter to one letter`);
    const width = begin.length > 1 && begin.startsWith('0') ? begin.length : 0;
    if (width && width !== end.length) throw new Error('host range must specify equal-length begin and end formats');
    seq = [];
    for (let i = Number(begin); i <= Number(end); i += step) seq.push(String(i).padStart(width, '0'));
  }
  return seq.flatMap((s) => expandHostRange(`${head}${s}${tail}`));
}

/** Host names and the port a host key of an inventory stands for. */
export function expandHostPattern(pattern: string): { names: string[]; port?: number } {
  const { host, port } = splitHostPort(pattern);
  return { names: host.includes('[') ? expandHostRange(host) : [host], port };
}
