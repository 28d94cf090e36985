// src/core/ssh/ssh2.ts loads ssh2's client side from its lib files (the package's index also loads the server
// and key generation); an ssh2 upgrade that moves them must fail here, not in a user's connection.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { BaseAgent, Client, createAgent, parseKey } from '../../src/core/ssh/ssh2';

const ssh2 = createRequire(import.meta.url)('ssh2') as typeof import('ssh2');

describe("ssh2's client side from its lib files", () => {
  it('are the very objects ssh2 exports', () => {
    expect(Client).toBe(ssh2.Client);
    expect(BaseAgent).toBe(ssh2.BaseAgent);
    expect(createAgent).toBe(ssh2.createAgent);
    expect(parseKey).toBe(ssh2.utils.parseKey);
  });
});
