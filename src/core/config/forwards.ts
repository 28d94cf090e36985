// LocalForward / RemoteForward / DynamicForward values, printed the way ssh -G does
// (readconf.c parse_forward + dump_cfg_forwards).

interface Endpoint {
  host?: string;
  port?: number;
  path?: string;
}

/** `[bind:]port`, `[bind]:port`, `bind/port` or a Unix socket path. */
function parseEndpoint(spec: string, allowPortOnly: boolean): Endpoint | undefined {
  if (spec.startsWith('/') || spec.startsWith('~')) return { path: spec };
  const bracketed = /^\[([^\]]*)\][:/](\d+)$/.exec(spec);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2]) };
  const separator = spec.includes('/') ? spec.lastIndexOf('/') : spec.lastIndexOf(':');
  if (separator < 0) return allowPortOnly && /^\d+$/.test(spec) ? { port: Number(spec) } : undefined;
  const port = spec.slice(separator + 1);
  if (!/^\d+$/.test(port)) return undefined;
  return { host: spec.slice(0, separator), port: Number(port) };
}

function formatEndpoint(e: Endpoint): string {
  if (e.path !== undefined) return e.path;
  if (e.host === undefined) return String(e.port);
  return `[${e.host}]:${e.port}`;
}

/** The ssh -G form of one forward line (its arguments joined by a space), or the input when unparsable. */
export function formatForward(keyword: 'localforward' | 'remoteforward' | 'dynamicforward', value: string): string {
  const [listen, connect] = value.split(' ');
  const listenEndpoint = listen === undefined ? undefined : parseEndpoint(listen, true);
  if (!listenEndpoint) return value;
  if (keyword === 'dynamicforward' || connect === undefined) return formatEndpoint(listenEndpoint);
  const connectEndpoint = parseEndpoint(connect, false);
  return connectEndpoint ? `${formatEndpoint(listenEndpoint)} ${formatEndpoint(connectEndpoint)}` : value;
}
