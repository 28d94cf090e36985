// `flotilla mcp --http HOST:PORT`: Streamable HTTP at /mcp (the SDK's transport, one session per client).
// Loopback by default; every request's Host (and Origin, when a browser sends one) must name this server,
// which defeats DNS rebinding; a non-loopback bind needs a bearer token, compared in constant time.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { GuardRailsError } from './config';

export const MCP_PATH = '/mcp';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HttpOptions {
  host: string;
  port: number;
  /** Required for a non-loopback bind. */
  token?: string;
  /** More names clients may use in Host (a DNS name of a non-loopback bind). */
  allowedHostnames?: readonly string[];
}

export interface HttpServing {
  url: string;
  close(): Promise<void>;
}

/** `HOST:PORT`, `[v6]:PORT` or `PORT` (loopback). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? (/^\d+$/.test(text) ? [text, undefined, '127.0.0.1', text] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new GuardRailsError(`--http ${JSON.stringify(text)}: expected HOST:PORT (e.g. 127.0.0.1:8765), [::1]:PORT or a port alone`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

const sha = (s: string) => createHash('sha256').update(s).digest();

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '').toLowerCase();

function hostnameOf(hostHeader: string): string {
  try {
    return bare(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return '';
  }
}

/** '' for anything that is not an http(s) URL (`null`, garbage): never allowed. */
function originHostname(origin: string): string {
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' || u.protocol === 'https:' ? bare(u.hostname) : '';
  } catch {
    return '';
  }
}

function reject(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export async function serveHttp(newServer: () => McpServer, opts: HttpOptions): Promise<HttpServing> {
  const loopback = isLoopback(opts.host);
  if (!loopback && !opts.token) {
    throw new GuardRailsError(
      `refusing to serve MCP on ${opts.host}, which is not a loopback address, without a token`,
    );
  }
  const wildcard = opts.host === '0.0.0.0' || opts.host === '::';
  const allowed = new Set(['localhost', '127.0.0.1', '::1', ...(wildcard ? [] : [opts.host.toLowerCase()]), ...(opts.allowedHostnames ?? []).map((h) => h.toLowerCase())]);
  const expected = opts.token ? sha(`Bearer ${opts.token}`) : undefined;
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== MCP_PATH) return reject(res, 404, `not found: the MCP endpoint is ${MCP_PATH}`);
    if (!allowed.has(hostnameOf(req.headers.host ?? ''))) return reject(res, 403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this server's`);
    // A browser page of another site (or a sandboxed one, Origin: null) may not talk to the server.
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.has(originHostname(origin))) return reject(res, 403, `Origin ${JSON.stringify(origin)} is not allowed`);
    if (expected) {
      const given = sha(req.headers.authorization ?? '');
      if (!timingSafeEqual(given, expected)) return reject(res, 401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
    }
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (req.method === 'POST') {
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: `parse error: ${(err as Error).message}` }, id: null }));
        return;
      }
      if (existing) return existing.transport.handleRequest(req, res, body);
      if (sessionId !== undefined) return reject(res, 404, 'unknown or ended session: initialize again');
      if (!isInitializeRequest(body)) return reject(res, 400, 'no session: the first request must be initialize');
      const server = newServer();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { sessions.set(id, { transport, server }); },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
        void server.close().catch(() => {});
      };
      await server.connect(transport);
      return transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (!existing) return reject(res, sessionId === undefined ? 400 : 404, sessionId === undefined ? 'missing Mcp-Session-Id header' : 'unknown or ended session');
      return existing.transport.handleRequest(req, res);
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return reject(res, 405, `method ${req.method} not allowed`);
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reject(res, 500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, rejectListen) => {
    http.once('error', rejectListen);
    http.listen(opts.port, opts.host, () => { http.off('error', rejectListen); resolve(); });
  });
  const { port } = http.address() as AddressInfo;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shownHost}:${port}${MCP_PATH}`,
    async close() {
      for (const { transport } of [...sessions.values()]) await transport.close().catch(() => {});
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
