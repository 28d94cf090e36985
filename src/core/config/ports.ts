// misc.c a2port(): a decimal port 0-65535, or a TCP service name from the services database.
import { readFileSync } from 'node:fs';

let services: Map<string, number> | undefined;

function serviceTable(): Map<string, number> {
  if (services) return services;
  services = new Map();
  let text = '';
  try {
    text = readFileSync('/etc/services', 'utf8');
  } catch {
    return services;
  }
  for (const line of text.split('\n')) {
    const [entry] = line.split('#');
    const fields = entry!.trim().split(/\s+/);
    const m = /^(\d+)\/tcp$/.exec(fields[1] ?? '');
    if (!m) continue;
    for (const name of [fields[0]!, ...fields.slice(2)]) if (name && !services.has(name)) services.set(name, Number(m[1]));
  }
  return services;
}

/** The port number, or -1 when `text` is neither a number in 0-65535 nor a known service. */
export function a2port(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n <= 65535 ? n : -1;
  }
  return serviceTable().get(text) ?? -1;
}
