// Summarises a V8 .cpuprofile: self time by function (and by package/source area), for the bench's `#` lines.
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }

function area(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (m) return m[1] === 'ssh2' ? `ssh2/${m[2]!.replace(/\.js$/, '')}` : m[1]!;
  const src = /\/(src\/.*|bench\/.*)$/.exec(url);
  return src ? src[1]!.replace(/\.ts$/, '') : url ? url.replace(/^node:/, 'node:') : '(native/gc/idle)';
}

export function topCosts(file: string, n = 8): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; startTime: number; endTime: number };
  const total = p.samples.length;
  const byNode = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<number, number>();
  for (const s of p.samples) self.set(s, (self.get(s) ?? 0) + 1);
  const fn = new Map<string, number>();
  const ar = new Map<string, number>();
  for (const [id, hits] of self) {
    const { callFrame: c } = byNode.get(id)!;
    const name = c.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      fn.set(name, (fn.get(name) ?? 0) + hits);
      ar.set(name, (ar.get(name) ?? 0) + hits);
      continue;
    }
    const a = area(c.url);
    fn.set(`${name} (${a}:${c.lineNumber + 1})`, (fn.get(`${name} (${a}:${c.lineNumber + 1})`) ?? 0) + hits);
    ar.set(a, (ar.get(a) ?? 0) + hits);
  }
  const pct = (h: number) => `${((100 * h) / total).toFixed(1)}%`;
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, h]) => `${pct(h)} ${k}`).join(', ');
  return [`${((p.endTime - p.startTime) / 1000).toFixed(0)} ms profiled; self time by area: ${top(ar)}`, `top functions: ${top(fn)}`];
}

if (require.main === module) for (const l of topCosts(process.argv[2]!, Number(process.argv[3] ?? 15))) console.log(l);
