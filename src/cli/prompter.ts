// The CLI's Prompter: asks on the terminal when there is one, refuses otherwise (scripts and agents
// must never hang on a question nobody sees).
import { createInterface } from 'node:readline';
import { refusingPrompter, type HostKeyQuestion, type Prompter } from '../core/types';

function ask(question: string, hidden = false): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      const write = (rl as unknown as { _writeToOutput: (s: string) => void });
      write._writeToOutput = (s: string) => { if (s.includes(question)) process.stderr.write(s); };
    }
    rl.question(question, (answer) => { rl.close(); if (hidden) process.stderr.write('\n'); resolve(answer); });
    rl.on('SIGINT', () => { rl.close(); resolve(undefined); });
  });
}

export function terminalPrompter(opts: { acceptNewHostKeys?: boolean } = {}): Prompter {
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    return opts.acceptNewHostKeys ? { ...refusingPrompter, confirmHostKey: async () => true } : refusingPrompter;
  }
  return {
    async confirmHostKey(q: HostKeyQuestion) {
      if (opts.acceptNewHostKeys) return true;
      const via = q.via ? ` via ${q.via}` : '';
      const answer = await ask(
        `The authenticity of host '${q.lookupName}'${via} (${q.alias}) can't be established.\n` +
          `${q.keyType} key fingerprint is ${q.fingerprint}.\nAdd it to ${q.knownHostsFile} and continue (yes/no)? `,
      );
      return answer?.trim().toLowerCase() === 'yes';
    },
    passphrase: (keyPath, attempt) => ask(`${attempt > 1 ? 'Wrong passphrase. ' : ''}Enter passphrase for key '${keyPath}': `, true),
    password: (user, host) => ask(`${user}@${host}'s password: `, true),
    async keyboardInteractive(_user, _host, prompts) {
      const answers: string[] = [];
      for (const p of prompts) {
        const a = await ask(p.prompt, !p.echo);
        if (a === undefined) return undefined;
        answers.push(a);
      }
      return answers;
    },
  };
}
