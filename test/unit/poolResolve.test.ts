import { describe, expect, it } from 'vitest';
import { Pool } from '../../src/core/ssh/pool';
import { refusingPrompter } from '../../src/core/types';

describe('Pool.resolve', () => {
  it('shares a resolution in flight (a probe asks beside its connect) and resolves afresh afterwards', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pool = new Pool({
      resolve: async (alias) => { calls++; await gate; throw new Error(`no such host ${alias}`); },
      prompter: refusingPrompter, env: {}, connectTimeoutMs: 1000,
    });
    try {
      const connecting = pool.connection('x', { interactive: false });
      const resolving = pool.resolve('x');
      release();
      await expect(connecting).rejects.toThrow(/no such host x/);
      await expect(resolving).rejects.toThrow(/no such host x/);
      expect(calls).toBe(1);
      await expect(pool.resolve('x')).rejects.toThrow();
      expect(calls).toBe(2);
    } finally {
      await pool.dispose();
    }
  });
});
