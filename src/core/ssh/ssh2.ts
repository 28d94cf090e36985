// ssh2, loaded on first use (src/core/ssh/ssh2Lib.cjs says which parts and why from its lib files). Types are
// @types/ssh2's; the algorithm tables' are src/types/ssh2-constants.d.ts.
import type * as lib from 'ssh2';
import type * as constants from 'ssh2/lib/protocol/constants.js';

export interface Ssh2 {
  Client: typeof lib.Client;
  BaseAgent: typeof lib.BaseAgent;
  createAgent: typeof lib.createAgent;
  parseKey: typeof lib.utils.parseKey;
  constants: typeof constants;
}
export type Client = lib.Client;
export type BaseAgent<K extends string | Buffer | lib.ParsedKey = string | Buffer | lib.ParsedKey> = lib.BaseAgent<K>;

let loaded: Ssh2 | undefined;

export function ssh2(): Ssh2 {
  return (loaded ??= require('./ssh2Lib.cjs') as Ssh2);
}
