// Does an agent pane need the user? Decided from what the pane shows, the way claude-squad does
// (anchors §2.19): prompts in the last lines of the screen, a busy marker, or output that changed.
// Patterns are matched against the tail of the screen (last non-empty lines joined by "\n", each line
// as tmux printed it, trailing spaces included): `$` means "at the very end of the screen", where the
// cursor waits; `(^|\n)` means "at a line start".

export type Attention = 'waiting' | 'working' | 'idle';

export interface AttentionPatternSource {
  /** Screen endings that ask the user something (a question, an input box, a shell prompt). */
  prompts?: readonly string[];
  /** Markers an agent shows only while it works, even with its input box on screen. */
  busy?: readonly string[];
  /** Shell-like prompts: ignored in panes whose program is a shell. */
  shellPrompts?: readonly string[];
}

export interface AttentionPatterns {
  readonly prompts: readonly RegExp[];
  readonly busy: readonly RegExp[];
  readonly shellPrompts: readonly RegExp[];
  /** How many non-empty lines at the bottom of the screen the patterns look at. */
  readonly tailLines: number;
}

export const DEFAULT_PROMPT_PATTERNS: readonly string[] = [
  // Claude Code: permission dialog, its numbered choices, and the input box (│ > …).
  'Do you want to proceed\\?',
  '❯ 1\\. Yes',
  'No, and tell Claude what to do differently',
  '(^|\\n)\\s*│ > ',
  // Codex: approval questions and its "▌" composer line.
  'Allow command\\?',
  'Would you like to run the following command\\?',
  '(^|\\n)\\s*▌',
  // aider: its confirmation and its "> " / "architect> " input prompt on the last line.
  '\\(Y\\)es/\\(N\\)o',
  '(^|\\n)([\\w-]+)?> ?$',
  // A generic yes/no question waiting at the end of the screen.
  '(\\((y/n|Y/n|y/N|yes/no)\\)|\\[(y/n|Y/n|y/N)\\])[:?]? *$',
];

/**
 * A shell prompt at the end of the screen: waiting only when the pane's program is not itself a shell
 * (an agent with a shell-like prompt). A plain shell at its prompt — no agent, or one that exited —
 * asks nothing of anyone.
 */
export const DEFAULT_SHELL_PROMPT_PATTERNS: readonly string[] = ['[$#%] $'];

export const DEFAULT_BUSY_PATTERNS: readonly string[] = [
  // Claude Code and Codex print this next to their spinner while they work.
  '[Ee]sc to interrupt',
];

const DEFAULT_TAIL_LINES = 10;

export class AttentionPatternError extends Error {}

function compileList(kind: string, sources: readonly string[]): RegExp[] {
  return sources.map((source, i) => {
    if (typeof source !== 'string' || source === '') {
      throw new AttentionPatternError(`${kind} pattern #${i + 1} must be a non-empty string`);
    }
    let re: RegExp;
    try {
      re = new RegExp(source, 'u');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new AttentionPatternError(`${kind} pattern #${i + 1} ${JSON.stringify(source)} is not a valid regular expression: ${why}`);
    }
    if (re.test('')) {
      throw new AttentionPatternError(`${kind} pattern #${i + 1} ${JSON.stringify(source)} matches an empty screen, so every pane would match`);
    }
    return re;
  });
}

/** Compiles user-supplied patterns (defaults for what is not given); throws AttentionPatternError with the culprit. */
export function compilePatterns(src: AttentionPatternSource = {}, tailLines = DEFAULT_TAIL_LINES): AttentionPatterns {
  if (!Number.isInteger(tailLines) || tailLines < 1) throw new AttentionPatternError(`tailLines must be a positive integer, got ${tailLines}`);
  return {
    prompts: compileList('prompt', src.prompts ?? DEFAULT_PROMPT_PATTERNS),
    busy: compileList('busy', src.busy ?? DEFAULT_BUSY_PATTERNS),
    // Given prompts replace the defaults, the shell prompt among them.
    shellPrompts: compileList('shell prompt', src.shellPrompts ?? (src.prompts ? [] : DEFAULT_SHELL_PROMPT_PATTERNS)),
    tailLines,
  };
}

export const DEFAULT_PATTERNS: AttentionPatterns = compilePatterns();

function lines(capture: string): string[] {
  return capture.replace(/\r/g, '').split('\n');
}

/** The last `n` non-empty lines, as printed (trailing spaces kept: a prompt ends with "$ "). */
export function screenTail(capture: string, n: number): string {
  return lines(capture).filter((l) => l.trim() !== '').slice(-n).join('\n');
}

/** What "changed" compares: trailing spaces and blank lines at the bottom say nothing about progress. */
export function normalizeCapture(capture: string): string {
  const ls = lines(capture).map((l) => l.trimEnd());
  while (ls.length > 0 && ls[ls.length - 1] === '') ls.pop();
  return ls.join('\n');
}

/**
 * `changed`: whether the pane's output changed since the previous look (undefined: no previous look).
 * A busy marker wins over an input box (Claude Code shows both while it works); a prompt wins over
 * changed output (the question that just appeared is the news).
 */
export function classifyScreen(capture: string, changed: boolean | undefined, patterns: AttentionPatterns = DEFAULT_PATTERNS, inShell = false): Attention {
  const tail = screenTail(capture, patterns.tailLines);
  if (patterns.busy.some((re) => re.test(tail))) return 'working';
  if (patterns.prompts.some((re) => re.test(tail))) return 'waiting';
  if (!inShell && patterns.shellPrompts.some((re) => re.test(tail))) return 'waiting';
  return changed ? 'working' : 'idle';
}

/** Programs that are a plain shell: a pane whose foreground program is one of these runs no agent. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'fish', 'tcsh', 'csh', 'ksh', 'mksh', 'ash', 'busybox']);

/** Whether tmux's pane_current_command names a shell (`-bash` for a login shell). */
export function isShellCommand(command: string | undefined): boolean {
  return !!command && SHELLS.has(command.replace(/^-/, '').split('/').pop()!);
}

/**
 * A pane's attention, given its foreground program: a plain shell at its prompt asks nothing of
 * anyone (no agent runs there, or it has exited); a question on its screen still does (a script agent
 * runs as `sh`).
 */
export function classifyPane(captureNow: string, capturePrevious: string | undefined, command: string | undefined, patterns: AttentionPatterns = DEFAULT_PATTERNS): Attention {
  const changed = capturePrevious === undefined ? undefined : normalizeCapture(captureNow) !== normalizeCapture(capturePrevious);
  return classifyScreen(captureNow, changed, patterns, isShellCommand(command));
}

export function classify(captureNow: string, capturePrevious: string | undefined, patterns: AttentionPatterns = DEFAULT_PATTERNS): Attention {
  const changed = capturePrevious === undefined ? undefined : normalizeCapture(captureNow) !== normalizeCapture(capturePrevious);
  return classifyScreen(captureNow, changed, patterns);
}
