// The pure parts of the push plan that decide what the apply will do: REMOTE rules for files, parents to
// create, the space estimate, mtime precision, outcomes in the run engine's words, describing items.
import { describe, expect, it } from 'vitest';
import { hostOutcomeOf, PARTIAL_EXIT } from '../../src/core/push/apply';
import { describeItem, missingParents, planTarget, sameMtime, SPACE_MARGIN, spaceNeeded } from '../../src/core/push/plan';
import { DestinationError } from '../../src/core/push/remotePath';
import type { PlanItem, ScanResult } from '../../src/core/push/types';

const oneFile = (name: string): ScanResult => ({ root: '/w', entries: new Map([[name, { type: 'file', size: 3, mtimeMs: 1000, mode: 0o644 }]]), skipped: [], errors: [] });
const item = (p: Partial<PlanItem>): PlanItem => ({ path: 'x', action: 'create', type: 'file', size: 0, changes: {}, ...p });

describe('push plan target (REMOTE rules)', () => {
  it('a folder mirrors onto REMOTE; REMOTE may not be ~ or / itself', () => {
    expect(planTarget(oneFile('a'), '~/app', {}).request).toEqual({ dest: { spec: '~/app', homeRelative: true, parts: ['app'] } });
    expect(() => planTarget(oneFile('a'), '~/', {})).toThrow(DestinationError);
  });
  it('a file goes into REMOTE when it ends in /, else to REMOTE itself unless it is a directory on the host', () => {
    expect(planTarget(oneFile('a.txt'), '~/etc/', { files: ['a.txt'] }).request).toEqual({ dest: { spec: '~/etc', homeRelative: true, parts: ['etc'] }, names: ['a.txt'] });
    const t = planTarget(oneFile('a.txt'), '~/etc/b.conf', { files: ['a.txt'] });
    expect(t.request.fileAt).toEqual({ parent: { spec: '~/etc', homeRelative: true, parts: ['etc'] }, leaf: 'b.conf' });
    expect([...t.renamed!.entries.keys()]).toEqual(['b.conf']);
    expect(t.renamed!.sources!.get('b.conf')).toBe('/w/a.txt');
    // Straight into the home directory is fine for a file.
    expect(planTarget(oneFile('a.txt'), '~/a.txt', { files: ['a.txt'] }).request.fileAt?.parent.parts).toEqual([]);
    expect(planTarget(oneFile('a.txt'), '~/', { files: ['a.txt'] }).request.names).toEqual(['a.txt']);
    expect(() => planTarget(oneFile('a.txt'), '/etc/x', { files: ['a.txt'], root: '~/deploy' })).toThrow(/outside the configured push root/);
  });
});

describe('push plan predictions', () => {
  it('missing parents run from the nearest existing ancestor down to the destination', () => {
    expect(missingParents('/home/u', '/home/u/a/b/c')).toEqual(['/home/u/a', '/home/u/a/b']);
    expect(missingParents('/', '/srv/app')).toEqual(['/srv']);
    expect(missingParents('/srv/app', '/srv/app')).toEqual([]);
    expect(missingParents('/', '/srv/x/app')).toEqual(['/srv', '/srv/x']);
  });
  it('space: files in whole 4 KiB blocks, a block per new directory, metadata-only updates free, plus a margin', () => {
    const need = spaceNeeded({
      create: [item({ size: 1 }), item({ type: 'dir' })],
      update: [item({ action: 'update', size: 5000, changes: { content: true } }), item({ action: 'update', size: 1e9, changes: { time: true } })],
    });
    expect(need).toEqual({ bytes: 5001, disk: 4096 + 4096 + 8192 + SPACE_MARGIN });
  });
  it('mtimes compare at microseconds when the remote keeps fractions, else at whole seconds', () => {
    const l = { type: 'file' as const, size: 1, mode: 0o644, mtimeMs: 1_700_000_000_500.25, mtimeNsec: 500_250_123 };
    expect(sameMtime(l, { kind: 'f', size: 1, mode: 0o644, mtime: 1_700_000_000, mtimeNsec: 500_250_999 })).toBe(true);
    expect(sameMtime(l, { kind: 'f', size: 1, mode: 0o644, mtime: 1_700_000_000, mtimeNsec: 100_000_000 })).toBe(false);
    expect(sameMtime(l, { kind: 'f', size: 1, mode: 0o644, mtime: 1_700_000_000, mtimeNsec: 0 })).toBe(true);
    expect(sameMtime(l, { kind: 'f', size: 1, mode: 0o644, mtime: 1_700_000_001 })).toBe(false);
  });
  it('items in words', () => {
    expect(describeItem(item({}))).toBe('new file');
    expect(describeItem(item({ action: 'update', changes: { content: true, size: true } }))).toBe('content changed (size differs)');
    expect(describeItem(item({ action: 'update', type: 'dir', changes: { time: true } }))).toBe('time only');
    expect(describeItem(item({ action: 'delete', type: 'symlink' }))).toBe('delete link');
  });
});

describe('push results as HostOutcome', () => {
  const r = (state: 'ok' | 'partial' | 'failed' | 'cancelled' | 'unreachable', reason?: string) => ({ host: 'h', state, reason, results: [], bytes: 0, durationMs: 7 });
  it('maps every push state', () => {
    expect(hostOutcomeOf(r('ok'))).toEqual({ state: 'ok', exit: 0, durationMs: 7 });
    expect(hostOutcomeOf(r('partial', '1 of 2 failed'))).toMatchObject({ state: 'failed', exit: PARTIAL_EXIT });
    expect(hostOutcomeOf(r('failed', 'connection lost during the push; run it again to converge'))).toMatchObject({ state: 'lost', remoteStopped: true });
    expect(hostOutcomeOf(r('failed', 'not enough space'))).toMatchObject({ state: 'failed', exit: 1, reason: 'not enough space' });
    expect(hostOutcomeOf(r('cancelled'))).toMatchObject({ state: 'cancelled' });
    expect(hostOutcomeOf(r('unreachable', 'refused'))).toMatchObject({ state: 'unreachable', reason: 'refused' });
  });
});
