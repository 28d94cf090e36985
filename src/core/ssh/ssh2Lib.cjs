// The part of ssh2 Flotilla uses, loaded from its lib files: ssh2's index also loads its SSH server, key
// generation and HTTP agents, which Flotilla never uses. These paths are ssh2's private layout:
// test/unit/ssh2.test.ts fails when an upgrade moves them (they must give the very objects require('ssh2')
// exports). Known to hold for ssh2 1.17. esbuild.mjs builds this file on its own as dist/ssh2.js, which the
// bundles require on first use (src/core/ssh/ssh2.ts), so activating the extension does not parse ssh2.
'use strict';
const agent = require('ssh2/lib/agent.js');

module.exports = {
  Client: require('ssh2/lib/client.js'),
  BaseAgent: agent.BaseAgent,
  createAgent: agent.createAgent,
  parseKey: require('ssh2/lib/protocol/keyParser.js').parseKey,
  constants: require('ssh2/lib/protocol/constants.js'),
};
