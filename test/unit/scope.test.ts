import { describe, expect, it } from 'vitest';
import { DisposalScope } from '../../src/core/ssh/scope';

describe('a connection\'s disposal scope', () => {
  it('disposes what was added once, when it closes, past one that throws; after that at once', () => {
    const scope = new DisposalScope();
    const disposed: string[] = [];
    scope.add({ dispose: () => { disposed.push('a'); throw new Error('a fails'); } });
    const b = { dispose: () => disposed.push('b') };
    scope.add(b);
    const handle = scope.add({ dispose: () => disposed.push('ended on its own') });
    handle.dispose();
    expect(scope.size).toBe(2);
    scope.close();
    scope.close();
    expect(disposed).toEqual(['a', 'b']);
    scope.add({ dispose: () => disposed.push('late') });
    expect(disposed).toEqual(['a', 'b', 'late']);
  });

  it('knows the facts learned over it (and the value learned with one), and learns none once closed', () => {
    const scope = new DisposalScope();
    expect(scope.knows('find has -printf')).toBe(false);
    scope.learn('find has -printf');
    expect(scope.knows('find has -printf')).toBe(true);
    expect(new DisposalScope().knows('find has -printf')).toBe(false);
    scope.learn('home', '/home/u');
    scope.learn('home', '/home/v');
    expect(scope.recall('home')).toBe('/home/v');
    expect(scope.recall('find has -printf')).toBe('');
    expect(scope.recall('sha256sum takes -z')).toBeUndefined();
    scope.close();
    scope.learn('sha256sum takes -z');
    expect(scope.knows('sha256sum takes -z')).toBe(false);
  });
});
