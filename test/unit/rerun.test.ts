import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../src/core/rerun';

describe('oneAtATime', () => {
  it('runs one at a time; calls during a run share it and make exactly one more run after it', async () => {
    let runs = 0;
    let active = 0;
    let release!: () => void;
    const gates: Array<Promise<void>> = [];
    const work = oneAtATime(async () => {
      active++;
      expect(active).toBe(1);
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
      active--;
    });
    const first = work();
    gates.push(work(), work(), work());
    expect(gates.every((g) => g === first)).toBe(true);
    release();
    await first;
    expect(runs).toBe(2);
    await work();
    expect(runs).toBe(3);
  });

  it('a failed run rejects its callers and the next call runs afresh', async () => {
    let n = 0;
    const work = oneAtATime(async () => { if (++n === 1) throw new Error('broken'); });
    await expect(work()).rejects.toThrow('broken');
    await work();
    expect(n).toBe(2);
  });
});
