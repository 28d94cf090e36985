// ssh2's client side, loaded from its lib files: ssh2's index also loads its SSH server, key generation and
// HTTP agents, which Flotilla never uses (25 KiB of the extension bundle). These paths are ssh2's private
// layout: test/unit/ssh2.test.ts fails when an upgrade moves them (they must give the very objects
// require('ssh2') exports). Types are @types/ssh2's. Known to hold for ssh2 1.17.
import type * as ssh2 from 'ssh2';

export const Client = require('ssh2/lib/client.js') as typeof ssh2.Client;
export type Client = ssh2.Client;

const agent = require('ssh2/lib/agent.js') as Pick<typeof ssh2, 'BaseAgent' | 'createAgent'>;
export const { BaseAgent, createAgent } = agent;
export type BaseAgent<K extends string | Buffer | ssh2.ParsedKey = string | Buffer | ssh2.ParsedKey> = ssh2.BaseAgent<K>;

/** ssh2's `utils.parseKey`. */
export const parseKey = (require('ssh2/lib/protocol/keyParser.js') as Pick<typeof ssh2.utils, 'parseKey'>).parseKey;
