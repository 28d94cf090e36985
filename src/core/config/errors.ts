/** An ssh_config problem the user can fix; `file`/`line` point at the offending line when known. */
export class SshConfigError extends Error {
  readonly file?: string;
  readonly line?: number;

  constructor(message: string, where?: { file?: string; line?: number }) {
    super(where?.file ? `${where.file}${where.line ? `:${where.line}` : ''}: ${message}` : message);
    this.name = 'SshConfigError';
    this.file = where?.file;
    this.line = where?.line;
  }
}
