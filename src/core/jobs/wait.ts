// Waiting on a run from any process (cancel from the CLI, an agent's cancel_run): the record is re-read on
// every change of its directory, so a run owned elsewhere is followed as closely as one owned here.
import type { RunDoc, RunStore } from './store';

/** Resolves with the run once `until(doc)` holds or the run is done; undefined on timeout or abort. */
export function waitForRun(store: RunStore, id: string, until: (d: RunDoc) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<RunDoc | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    let checking = false;
    const finish = (d: RunDoc | undefined) => {
      if (settled) return;
      settled = true;
      stop();
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(d);
    };
    const check = async () => {
      if (checking || settled) return;
      checking = true;
      const d = await store.read(id).catch(() => undefined);
      checking = false;
      if (d && (until(d) || d.state === 'done')) finish(d);
    };
    const onAbort = () => finish(undefined);
    const timer = setTimeout(onAbort, timeoutMs);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const stop = store.watchRun(id, () => void check());
  });
}
