// Read-only remote files for the diff editor: `flotilla-remote://<alias>/<absolute path>`, read over the
// core (readRemoteFile). Big or binary files are described, not shown; nothing here ever writes remotely.
import * as vscode from 'vscode';
import { sanitizeForView } from '../../core/exec/output';
import { readRemoteFile } from '../../core/push/remoteFile';
import { sftpErrorText } from '../../core/push/sftp';
import type { Fleet } from '../fleet';
import type { Pool } from '../../core/ssh/pool';

export const REMOTE_SCHEME = 'flotilla-remote';
/** Larger remote files are not loaded into the diff editor. */
export const MAX_REMOTE_BYTES = 4 * 1024 * 1024;

export function remoteFileUri(alias: string, absPath: string): vscode.Uri {
  // The alias also travels in the query: an authority is case-folded by some URI consumers.
  return vscode.Uri.from({ scheme: REMOTE_SCHEME, authority: alias, path: absPath, query: new URLSearchParams({ host: alias }).toString() });
}

export function parseRemoteUri(uri: vscode.Uri): { alias: string; path: string } {
  const alias = new URLSearchParams(uri.query).get('host') ?? uri.authority;
  return { alias, path: uri.path };
}

/** Does the text look binary (a NUL in the first 8 KiB, as git decides)? */
export function looksBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8192).includes(0);
}

export class RemoteFileProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly fleet: Fleet, private readonly pool: Pool) {}

  /** Re-reads the open remote documents of these hosts (after a push changed them). */
  refresh(hosts: readonly string[]): void {
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme === REMOTE_SCHEME && hosts.includes(parseRemoteUri(doc.uri).alias)) this.changed.fire(doc.uri);
    }
  }

  dispose(): void {
    this.changed.dispose();
  }

  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    const { alias, path } = parseRemoteUri(uri);
    if (!this.fleet.aliases.includes(alias)) return `[flotilla: ${sanitizeForView(alias)} is not a host of this fleet]`;
    const cancel = new AbortController();
    token.onCancellationRequested(() => cancel.abort());
    try {
      const file = await readRemoteFile(this.pool, alias, path, MAX_REMOTE_BYTES, cancel.signal);
      if (file.kind === 'not-a-file') return `[flotilla: ${sanitizeForView(path)} on ${alias} is not a regular file]`;
      if (file.kind === 'too-big') return `[flotilla: ${sanitizeForView(path)} on ${alias} is ${file.size} bytes; files over ${MAX_REMOTE_BYTES} bytes are not shown]`;
      if (looksBinary(file.data)) return `[flotilla: binary file, ${file.data.length} bytes; not shown]`;
      return file.data.toString('utf8');
    } catch (err) {
      if (cancel.signal.aborted) return '';
      return `[flotilla: cannot read ${sanitizeForView(path)} on ${alias}: ${sanitizeForView(sftpErrorText(err))}]`;
    }
  }
}
