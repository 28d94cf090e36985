// The flotilla CLI's main() in this process, with stdout and stderr captured: for tests that check a
// verb's output through the real argument parser without building the bundle.
import { Writable } from 'node:stream';
import { CliIo } from '../../src/cli/io';
import { main } from '../../src/cli/main';

export async function cliInProcess(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { append(String(chunk)); cb(); } });
  const code = await main([...args], new CliIo(sink((s) => (stdout += s)), sink((s) => (stderr += s))));
  return { code, stdout, stderr };
}
