// OpenSSH match.c semantics: `*` = any run, `?` = exactly one character, case-sensitive.

/** match_pattern(): whole-string wildcard match. */
export function matchPattern(text: string, pattern: string): boolean {
  // Iterative wildcard match with backtracking on the last `*`.
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * match_pattern_list(): comma-separated patterns, `!` negates; a matching negated pattern vetoes.
 * `caseInsensitive` lower-cases both sides, as match_hostname() does for `Match host/originalhost`.
 */
export function matchPatternList(text: string, list: string, caseInsensitive: boolean): boolean {
  let positive = false;
  if (caseInsensitive) text = text.toLowerCase();
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    let pattern = negated ? raw.slice(1) : raw;
    if (caseInsensitive) pattern = pattern.toLowerCase();
    if (matchPattern(text, pattern)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

/** A `Host` line: whitespace-separated patterns (commas are literal), `!` vetoes the whole line. */
export function hostLineMatches(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (matchPattern(host, pattern)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** True for a Host pattern naming exactly one host (no wildcard, no negation). */
export function isConcreteHostPattern(pattern: string): boolean {
  return !/[*?!]/.test(pattern);
}

/** glob(3) path-segment match: like matchPattern plus `[...]` classes; a leading dot must be literal. */
export function matchGlobSegment(name: string, pattern: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.')) return false;
  return globSegmentRegExp(pattern).test(name);
}

function globSegmentRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += escapeRegExp(pattern[++i]!);
    } else re += escapeRegExp(c);
  }
  return new RegExp(re + '$', 's');
}

export function hasGlobMagic(s: string): boolean {
  return /[*?[]/.test(s);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
