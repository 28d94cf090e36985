// Durations as people write them: `90` (seconds), `90s`, `500ms`, `10m`, `1h30m`, `2d`.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

export class DurationError extends Error {}

/** Milliseconds; throws DurationError naming the text and the accepted forms. */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim();
  const bad = () => new DurationError(`${what} ${JSON.stringify(text)} is not a duration: write 90 (seconds), 90s, 500ms, 10m, 1h30m or 2d`);
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (!t) throw bad();
  let total = 0;
  PART.lastIndex = 0;
  let last = 0;
  for (let m = PART.exec(t); m; m = PART.exec(t)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    last = PART.lastIndex;
  }
  if (last !== t.length) throw bad();
  return Math.round(total);
}
