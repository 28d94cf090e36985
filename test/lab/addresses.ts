import { createServer } from 'node:net';

/** Every lab listener uses this port, each on its own loopback address. */
export const LAB_PORT = 2222;

/** Last octets of the special hosts (in the lab's first /24); normal hosts use 1..HOSTS_PER_BLOCK of each block. */
export const SPECIAL_OCTET = {
  bastion: 201,
  unknownKey: 202,
  oneSession: 203,
  dead: 204,
  blackhole: 205,
} as const;
/** Normal hosts per /24: lab-1..200 on 127.A.B.1..200, lab-201..400 on 127.A.(B+1).1..200, and so on. */
export const HOSTS_PER_BLOCK = 200;
export const MAX_NORMAL_HOSTS = 500;

/** How many consecutive /24 blocks a lab of `hosts` normal hosts spans. */
export const blocksFor = (hosts: number) => Math.max(1, Math.ceil(hosts / HOSTS_PER_BLOCK));

/** The address of normal host `lab-i` (1-based) in a lab whose prefix is "127.A.B". */
export function normalHostAddress(prefix: string, i: number): string {
  const [, a, b] = prefix.split('.').map(Number);
  const block = Math.floor((i - 1) / HOSTS_PER_BLOCK);
  return `127.${a}.${b! + block}.${((i - 1) % HOSTS_PER_BLOCK) + 1}`;
}

/** Resolves true when address:port can be bound right now (nothing listens there, also not on 0.0.0.0). */
export function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Picks a "127.A.B" prefix where none of the addresses `addressesOf(prefix)` has a listener on `port`, so
 * that concurrent labs (other test files, a demo) do not collide. `blocks` /24s from B on must exist.
 */
export async function pickLoopbackPrefix(addressesOf: (prefix: string) => string[], blocks = 1, port = LAB_PORT): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const a = 64 + Math.floor(Math.random() * 190); // 64..253, away from 127.0.x.x
    const b = Math.floor(Math.random() * (257 - blocks));
    const prefix = `127.${a}.${b}`;
    const free = await Promise.all(addressesOf(prefix).map((address) => canBind(address, port)));
    if (free.every(Boolean)) return prefix;
  }
  throw new Error(`no free 127.A.B.0/24 found for port ${port} after 50 attempts`);
}
