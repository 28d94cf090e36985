// The CLI's Prompter: asks on the terminal when there is one, refuses otherwise (scripts and agents
// must never hang on a question nobody sees). A pending question ends when the CLI is signalled.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { refusingPrompter, type HostKeyQuestion, type Prompter } from '../core/types';

function ask(question: string, hidden: boolean, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    // readline echoes what is typed to its output; a secret's echo goes nowhere once the question is out.
    let muted = false;
    const output = new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (!muted) process.stderr.write(chunk);
        done();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    const end = (answer: string | undefined) => {
      signal?.removeEventListener('abort', onAbort);
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    };
    const onAbort = () => end(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    rl.question(question, (answer) => end(answer));
    muted = hidden;
    rl.on('SIGINT', () => { process.kill(process.pid, 'SIGINT'); end(undefined); });
  });
}

export interface TerminalPrompterOptions {
  acceptNewHostKeys?: boolean;
  signal?: AbortSignal;
  /** false: never ask, even on a terminal (a detached run). */
  interactive?: boolean;
}

export function terminalPrompter(opts: TerminalPrompterOptions = {}): Prompter {
  if (opts.interactive === false || !process.stdin.isTTY || !process.stderr.isTTY) {
    return opts.acceptNewHostKeys ? { ...refusingPrompter, confirmHostKey: async () => true } : refusingPrompter;
  }
  const { signal } = opts;
  return {
    async confirmHostKey(q: HostKeyQuestion) {
      if (opts.acceptNewHostKeys) return true;
      const via = q.via ? ` via ${q.via}` : '';
      const answer = await ask(
        `The authenticity of host '${q.lookupName}'${via} (${q.alias}) can't be established.\n` +
          `${q.keyType} key fingerprint is ${q.fingerprint}.\nAdd it to ${q.knownHostsFile} and continue (yes/no)? `,
        false,
        signal,
      );
      return answer?.trim().toLowerCase() === 'yes';
    },
    passphrase: (keyPath, attempt) => ask(`${attempt > 1 ? 'Wrong passphrase. ' : ''}Enter passphrase for key '${keyPath}': `, true, signal),
    password: (user, host) => ask(`${user}@${host}'s password: `, true, signal),
    async keyboardInteractive(_user, _host, prompts) {
      const answers: string[] = [];
      for (const p of prompts) {
        const a = await ask(p.prompt, !p.echo, signal);
        if (a === undefined) return undefined;
        answers.push(a);
      }
      return answers;
    },
  };
}
