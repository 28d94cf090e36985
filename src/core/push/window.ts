// A sliding window: at most `limit` tasks in flight, the next one starts as soon as any finishes.

export async function runWindow<T>(
  items: readonly T[], limit: number, task: (item: T) => Promise<void>, shouldStart: () => boolean = () => true,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && shouldStart()) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
