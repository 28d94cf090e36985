// Numeric host addresses as ssh.c treats the final host name: is_addr_fast()/is_addr() decide that a
// name is an address (then it is not lower-cased), resolve_canonicalize() rewrites it to the form
// getnameinfo(NI_NUMERICHOST) prints (glibc inet_aton for IPv4, RFC 5952-style inet_ntop6 for IPv6).

/** ssh.c is_addr_fast(): contains "%" or ":", or only digits and dots. */
export function isAddrFast(name: string): boolean {
  return name.includes('%') || name.includes(':') || /^[0-9.]*$/.test(name);
}

/** glibc inet_aton(): 1-4 parts, each decimal, octal (leading 0) or hex (0x); the last part fills the rest. */
function parseInetAton(name: string): number[] | undefined {
  const parts = name.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(part)) v = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]*$/.test(part)) v = parseInt(part, 8);
    else if (/^[1-9][0-9]*$/.test(part)) v = Number(part);
    else return undefined;
    values.push(v);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255)) return undefined;
  const lastMax = 2 ** (8 * (4 - values.length)) - 1;
  if (last > lastMax) return undefined;
  const bytes = [...values];
  for (let i = 4 - values.length - 1; i >= 0; i--) bytes.push(Math.floor(last / 256 ** i) % 256);
  return bytes;
}

/** glibc inet_pton4(): strictly four decimal parts without leading zeros. */
function parseDottedQuad(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** inet_pton6(): eight 16-bit words, or undefined. */
function parseIpv6(s: string): number[] | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (text: string, allowV4Tail: boolean): number[] | undefined => {
    if (text === '') return [];
    const groups = text.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const quad = parseDottedQuad(g);
        if (!quad) return undefined;
        words.push(quad[0]! * 256 + quad[1]!, quad[2]! * 256 + quad[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) words.push(parseInt(g, 16));
      else return undefined;
    }
    return words;
  };
  if (halves.length === 1) {
    const words = parseGroups(s, true);
    return words && words.length === 8 ? words : undefined;
  }
  const head = parseGroups(halves[0]!, false);
  const tail = parseGroups(halves[1]!, true);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** glibc inet_ntop6(): longest run (>= 2) of zero words as "::", lower-case hex, embedded IPv4 for ::a.b.c.d / ::ffff:a.b.c.d. */
function formatIpv6(words: readonly number[]): string {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = { ...cur };
    } else cur = { base: -1, len: 0 };
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best.base !== -1 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${words[6]! >> 8}.${words[6]! & 255}.${words[7]! >> 8}.${words[7]! & 255}`;
      break;
    }
    out += words[i]!.toString(16);
  }
  if (best.base !== -1 && best.base + best.len === 8) out += ':';
  return out;
}

/** The numeric form getnameinfo() gives for a numeric host, or undefined when `name` is not one (zones are left alone). */
function numericForm(name: string): string | undefined {
  if (name.includes('%')) return undefined;
  if (name.includes(':')) {
    const words = parseIpv6(name);
    return words ? formatIpv6(words) : undefined;
  }
  const bytes = parseInetAton(name);
  return bytes ? bytes.join('.') : undefined;
}

/** ssh.c is_addr(): the name can only be an address. */
export function isAddress(name: string): boolean {
  return isAddrFast(name) || numericForm(name) !== undefined;
}

/**
 * ssh.c main(): the host name after HostName expansion, lower-cased unless it is an address, and
 * numeric addresses rewritten to their canonical form (only when that differs other than in case).
 */
export function normaliseHostName(host: string): string {
  if (!isAddress(host)) return host.toLowerCase();
  const numeric = numericForm(host);
  return numeric !== undefined && numeric.toLowerCase() !== host.toLowerCase() ? numeric : host;
}

/** misc.c valid_domain(): starts with a letter or digit, then letters, digits, ".", "-", "_", no "..". */
export function validDomain(name: string): boolean {
  return /^[A-Za-z0-9]/.test(name) && !name.includes('..') && /^[A-Za-z0-9._-]*$/.test(name);
}
