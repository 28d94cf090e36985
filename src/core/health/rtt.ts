// Latency that means latency: the round trip of a no-op on an open connection. We send what OpenSSH's
// ServerAliveInterval sends — a `keepalive@openssh.com` global request wanting a reply — and time the
// answer (servers answer it with REQUEST_FAILURE; either answer is the round trip). No process is
// started and no channel opened, so the figure is the network path plus sshd, nothing else.
//
// ssh2 has no public call for this; its own keepalive uses two private fields, and so do we, through
// ssh2Internals.ts (sendKeepalive).
import type { Client } from 'ssh2';
import { sendKeepalive } from '../ssh/ssh2Internals';

/** Round trip in ms (0.1 ms resolution). Rejects when no answer comes within `timeoutMs` or the connection is gone. */
export function measureRoundTrip(client: Client, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const t0 = performance.now();
    // Global replies arrive in request order; ours is answered in its turn, like ssh2's own keepalive.
    // The server's answer calls back with `true` (failure) or `false` (success); an Error means the
    // connection closed before any answer came.
    const sent = sendKeepalive(client, (hadErr) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (hadErr instanceof Error) reject(new Error(`connection closed before the keepalive was answered (${hadErr.message})`));
      else resolve(Math.round((performance.now() - t0) * 10) / 10);
    });
    if (!sent) {
      reject(new Error('connection is closed'));
      return;
    }
    timer = setTimeout(() => {
      done = true;
      reject(new Error(`no answer to a keepalive within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref?.();
  });
}
