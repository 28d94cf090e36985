// A disposal scope per connection: resources that only make sense while one ssh connection lives (a
// followed pane capture, a terminal's channel, a remote watcher) are added to that connection's scope
// and disposed when it closes — dropped, closed, idle, or retired after new settings — not when some
// later connection to the same host does. Facts learned about the host over it live as long.

export interface Disposable {
  dispose(): void;
}

export class DisposalScope {
  private readonly items = new Set<Disposable>();
  /**
   * What has been learned about the host over this connection (its find has -printf, its home is /home/u,
   * ...): forgotten with it.
   */
  private readonly facts = new Map<string, string>();
  private closedAt: number | undefined;

  knows(fact: string): boolean {
    return this.facts.has(fact);
  }

  /** The value learned with `fact`, if it was. */
  recall(fact: string): string | undefined {
    return this.facts.get(fact);
  }

  learn(fact: string, value = ''): void {
    if (!this.closed) this.facts.set(fact, value);
  }

  /** Adds a resource; the returned handle takes it out again (the resource ended on its own). A closed scope disposes it at once. */
  add(resource: Disposable): Disposable {
    if (this.closed) {
      safeDispose(resource);
      return { dispose: () => {} };
    }
    this.items.add(resource);
    return { dispose: () => void this.items.delete(resource) };
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  get size(): number {
    return this.items.size;
  }

  /** Disposes every resource, once; one that throws does not keep the others alive. */
  close(): void {
    if (this.closed) return;
    this.closedAt = Date.now();
    const items = [...this.items];
    this.items.clear();
    for (const r of items) safeDispose(r);
  }
}

function safeDispose(r: Disposable): void {
  try {
    r.dispose();
  } catch {
    /* the resource's problem */
  }
}
