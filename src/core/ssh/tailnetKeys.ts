// Host keys a tailnet publishes for its peers (`sshHostKeys` in `tailscale status --json`): what the
// host-key review offers to trust, marked as coming from the tailnet, beside the key the host presented.
import type { TailscalePeer } from '../config/tailscale';
import { parseKeyBlob } from './knownHosts';

export interface PublishedKey {
  keyType: string;
  /** `SHA256:…` as ssh-keygen -l prints it. */
  fingerprint: string;
  blob: Buffer;
}

export interface TailnetKeyOffer {
  /** The peer that publishes them. */
  peer: string;
  keys: PublishedKey[];
  /** The key the host presented is one of them: trusting them is trusting what the tailnet vouches for. */
  presentedIsPublished: boolean;
}

/** Reads `type base64 [comment]` lines; a line whose blob does not say the type it is labelled with is left out. */
export function publishedKeys(lines: readonly string[]): PublishedKey[] {
  const keys: PublishedKey[] = [];
  for (const line of lines) {
    const [type, base64] = line.trim().split(/\s+/);
    if (!type || !base64 || !/^[A-Za-z0-9+/]+=*$/.test(base64)) continue;
    const blob = Buffer.from(base64, 'base64');
    try {
      const parsed = parseKeyBlob(blob);
      if (parsed.keyType !== type || keys.some((k) => k.blob.equals(blob))) continue;
      keys.push({ keyType: parsed.keyType, fingerprint: parsed.fingerprint, blob });
    } catch {
      continue;
    }
  }
  return keys;
}

/** What the tailnet says about a host's key; undefined when the host is no tailnet peer or its peer publishes no readable key. */
export function tailnetKeyOffer(peer: TailscalePeer | undefined, presented: Buffer): TailnetKeyOffer | undefined {
  const keys = publishedKeys(peer?.sshHostKeys ?? []);
  if (!peer || !keys.length) return undefined;
  return { peer: peer.name, keys, presentedIsPublished: keys.some((k) => k.blob.equals(presented)) };
}
