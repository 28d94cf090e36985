import { describe, expect, it } from 'vitest';
import { AttentionPatternError, classify, classifyPane, compilePatterns, screenTail } from '../../src/core/tmux/attention';

// Screens as `tmux capture-pane -p -J` prints them (trailing spaces kept, blank rows below the output).
const blank = '\n'.repeat(12);

const CLAUDE_PERMISSION = `● I'll remove the stale build directory.

╭──────────────────────────────────────────────────────────────╮
│ Bash command                                                 │
│                                                              │
│   rm -rf build                                               │
│   Remove stale build output                                  │
│                                                              │
│ Do you want to proceed?                                      │
│ ❯ 1. Yes                                                     │
│   2. Yes, and don't ask again for rm commands in /srv/app    │
│   3. No, and tell Claude what to do differently (esc)        │
╰──────────────────────────────────────────────────────────────╯
${blank}`;

const CLAUDE_WORKING = `> refactor the payment module

● Reading src/payments/index.ts

✻ Cogitating… (14s · ↑ 1.2k tokens · esc to interrupt)

╭──────────────────────────────────────────────────────────────╮
│ >                                                            │
╰──────────────────────────────────────────────────────────────╯
  ⏵⏵ accept edits on (shift+tab to cycle)
${blank}`;

const CLAUDE_DONE = `● Done. The payment module now uses the new client.

╭──────────────────────────────────────────────────────────────╮
│ > Try "write a test for payments"                            │
╰──────────────────────────────────────────────────────────────╯
  ? for shortcuts
${blank}`;

const CODEX_APPROVAL = `codex
I need to run the test suite.

$ npm test

Allow command?
  y Yes   a Always   n No
${blank}`;

const CODEX_COMPOSER = `codex
Finished: added the retry wrapper.

▌ Ask Codex to do anything
 ⏎ send   Ctrl+J newline   Ctrl+C quit
${blank}`;

const AIDER_CONFIRM = `Aider v0.80.0
Main model: sonnet with diff edit format
Add src/app.py to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: ${blank}`;

const AIDER_PROMPT = `Applied edit to src/app.py
Commit 1a2b3c4 fix: handle empty input
────────────────────────────────
architect> ${blank}`;

const SHELL_PROMPT = `$ make
cc -o app main.c
flotilla@lab-1:~/proj$ ${blank}`;

const BUILD_OUTPUT = `$ make
cc -c a.c
cc -c b.c
[ 42%] Building CXX object src/CMakeFiles/core.dir/x.cpp.o
Downloading... 100%
${blank}`;

describe('classify', () => {
  it.each([
    ['Claude Code permission dialog', CLAUDE_PERMISSION],
    ['Claude Code input box after finishing', CLAUDE_DONE],
    ['Codex approval', CODEX_APPROVAL],
    ['Codex composer', CODEX_COMPOSER],
    ['aider confirmation', AIDER_CONFIRM],
    ['aider prompt', AIDER_PROMPT],
    ['shell prompt', SHELL_PROMPT],
    ['generic [Y/n]', 'Install 3 packages? [Y/n] \n\n'],
    ['generic (y/n)', 'Overwrite config.yaml? (y/n): '],
  ])('%s → waiting, whether or not the screen just changed', (_name, screen) => {
    expect(classify(screen, undefined)).toBe('waiting');
    expect(classify(screen, 'something else')).toBe('waiting');
    expect(classify(screen, screen)).toBe('waiting');
  });

  it('Claude Code working shows its input box but is working (the busy marker wins)', () => {
    expect(classify(CLAUDE_WORKING, CLAUDE_WORKING)).toBe('working');
  });

  it('output that changed since the last look is working; unchanged is idle', () => {
    const later = BUILD_OUTPUT.replace('Downloading... 100%', 'Downloading... 100%\ncc -o app a.o b.o');
    expect(classify(later, BUILD_OUTPUT)).toBe('working');
    expect(classify(later, later)).toBe('idle');
    expect(classify(later, undefined)).toBe('idle'); // no earlier look: cannot call it working
  });

  it('ignores trailing spaces and blank rows when deciding whether output changed', () => {
    expect(classify('building...\n', 'building...   \n\n\n\n')).toBe('idle');
  });

  it('does not take "100%" or a prompt long scrolled away for a prompt', () => {
    expect(classify(BUILD_OUTPUT, BUILD_OUTPUT)).toBe('idle');
    const answered = `Do you want to proceed? (y/n) y\n${Array.from({ length: 12 }, (_, i) => `applying change ${i + 1}`).join('\n')}\n`;
    expect(classify(answered, answered)).toBe('idle');
    expect(classify('Continue? (y/n) y\nworking on it\n', undefined)).toBe('idle'); // answered: no longer at the end
  });

  it('an empty pane is idle', () => {
    expect(classify('\n\n\n', '\n\n')).toBe('idle');
  });
});

describe('compilePatterns', () => {
  it('uses the given patterns instead of the defaults', () => {
    const p = compilePatterns({ prompts: ['READY>$'], busy: ['thinking'] });
    expect(classify('log\nREADY>', undefined, p)).toBe('waiting');
    expect(classify(SHELL_PROMPT, SHELL_PROMPT, p)).toBe('idle');
    expect(classify('thinking\nREADY>', undefined, p)).toBe('working');
  });

  it('rejects an invalid regular expression, naming it', () => {
    expect(() => compilePatterns({ prompts: ['ok', '(unclosed'] })).toThrow(AttentionPatternError);
    expect(() => compilePatterns({ prompts: ['ok', '(unclosed'] })).toThrow(/prompt pattern #2 "\(unclosed" is not a valid regular expression/);
  });

  it('rejects patterns that match everything, and empty ones', () => {
    expect(() => compilePatterns({ busy: ['.*'] })).toThrow(/busy pattern #1 "\.\*" matches an empty screen/);
    expect(() => compilePatterns({ prompts: [''] })).toThrow(/must be a non-empty string/);
    expect(() => compilePatterns({}, 0)).toThrow(/tailLines/);
  });
});

describe('screenTail', () => {
  it('keeps the last non-empty lines with their trailing spaces', () => {
    expect(screenTail('a\n\nb\nc$ \n\n\n', 2)).toBe('b\nc$ ');
  });
});

describe('classifyPane: a plain shell is not an agent waiting for input (issue 19, point 3)', () => {
  it.each(['bash', '-bash', 'sh', 'zsh', 'fish', '/bin/dash'])('%s at its prompt → idle', (command) => {
    expect(classifyPane('user@host:~$ ', 'user@host:~$ ', command)).toBe('idle');
    expect(classifyPane('make\nuser@host:~$ ', 'user@host:~$ ', command)).toBe('working');
  });
  it('a question still waits in a shell (a script agent runs as sh), and a shell-like prompt waits in an agent', () => {
    expect(classifyPane('Do you want to proceed? (y/n) ', undefined, 'sh')).toBe('waiting');
    expect(classifyPane('$ ', undefined, 'claude')).toBe('waiting');
  });
});
