// Latency that means latency: the round trip of a no-op on an open connection. We send what OpenSSH's
// ServerAliveInterval sends — a `keepalive@openssh.com` global request wanting a reply — and time the
// answer (servers answer it with REQUEST_FAILURE; either answer is the round trip). No process is
// started and no channel opened, so the figure is the network path plus sshd, nothing else.
//
// ssh2 has no public call for this; its own keepalive uses two private fields, and so do we, here and
// nowhere else. test/unit/healthRtt.test.ts fails when an ssh2 upgrade changes them.
import type { Client } from 'ssh2';

interface Ssh2Internals {
  _callbacks: Array<(hadErr: unknown, data?: unknown) => void>;
  _protocol: { ping(): void };
  _sock?: { writable?: boolean };
}

export class RoundTripUnsupported extends Error {}

function internals(client: Client): Ssh2Internals {
  const c = client as unknown as Partial<Ssh2Internals>;
  if (!Array.isArray(c._callbacks) || typeof c._protocol?.ping !== 'function') {
    throw new RoundTripUnsupported('this ssh2 version does not expose the keepalive request Flotilla times (Client._callbacks / _protocol.ping)');
  }
  return c as Ssh2Internals;
}

/** Round trip in ms (0.1 ms resolution). Rejects when no answer comes within `timeoutMs` or the connection is gone. */
export function measureRoundTrip(client: Client, timeoutMs = 5000): Promise<number> {
  const c = internals(client);
  if (c._sock && c._sock.writable === false) return Promise.reject(new Error('connection is closed'));
  return new Promise((resolve, reject) => {
    let done = false;
    const t0 = performance.now();
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`no answer to a keepalive within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref?.();
    // Global replies arrive in request order; ours is answered in its turn, like ssh2's own keepalive.
    // The server's answer calls back with `true` (failure) or `false` (success); an Error means the
    // connection closed before any answer came.
    c._callbacks.push((hadErr) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (hadErr instanceof Error) reject(new Error(`connection closed before the keepalive was answered (${hadErr.message})`));
      else resolve(Math.round((performance.now() - t0) * 10) / 10);
    });
    c._protocol.ping();
  });
}
