/**
 * `work` one run at a time: a call while it runs gets that run's promise and makes it run once more after
 * it (however many calls came), so the last call always sees a run that started after it.
 */
export function oneAtATime(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await work();
      } while (again);
    })().finally(() => { running = undefined; });
    return running;
  };
}
