import { createServer } from 'node:net';

/** Every lab listener uses this port, each on its own loopback address. */
export const LAB_PORT = 2222;

/** Last octets of the special hosts; normal hosts use 1..MAX_NORMAL_HOSTS. */
export const SPECIAL_OCTET = {
  bastion: 201,
  unknownKey: 202,
  oneSession: 203,
  dead: 204,
  blackhole: 205,
} as const;
export const MAX_NORMAL_HOSTS = 200;

/** Resolves true when address:port can be bound right now (nothing listens there, also not on 0.0.0.0). */
export function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Picks a "127.A.B" prefix where none of the given last octets has a listener on `port`,
 * so that concurrent labs (other test files, a demo) do not collide.
 */
export async function pickLoopbackPrefix(octets: readonly number[], port = LAB_PORT): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const a = 64 + Math.floor(Math.random() * 190); // 64..253, away from 127.0.x.x
    const b = Math.floor(Math.random() * 256);
    const prefix = `127.${a}.${b}`;
    const free = await Promise.all(octets.map((octet) => canBind(`${prefix}.${octet}`, port)));
    if (free.every(Boolean)) return prefix;
  }
  throw new Error(`no free 127.A.B.0/24 found for port ${port} after 50 attempts`);
}
