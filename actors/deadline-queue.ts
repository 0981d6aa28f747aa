// A min-heap of deadlines, so an actor finds its next expiry in O(log n) instead of scanning every seat or token.
// Entries are never removed when their subject changes; the owner checks each popped entry against its state
// ("is this hold still live, with this expiry?") and drops the stale ones.

export interface Deadline<T> {
  at: number;
  subject: T;
}

export class DeadlineQueue<T> {
  private readonly heap: Deadline<T>[] = [];

  push(at: number, subject: T): void {
    this.heap.push({ at, subject });
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.heap[parent]!.at <= this.heap[i]!.at) break;
      [this.heap[parent], this.heap[i]] = [this.heap[i]!, this.heap[parent]!];
      i = parent;
    }
  }

  /** The earliest entry still live according to `live`, dropping stale ones on the way. */
  peek(live: (entry: Deadline<T>) => boolean): Deadline<T> | undefined {
    while (this.heap.length > 0 && !live(this.heap[0]!)) this.pop();
    return this.heap[0];
  }

  pop(): Deadline<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (this.heap.length === 0 || !last) return top;
    this.heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && this.heap[left]!.at < this.heap[smallest]!.at) smallest = left;
      if (right < this.heap.length && this.heap[right]!.at < this.heap[smallest]!.at) smallest = right;
      if (smallest === i) return top;
      [this.heap[smallest], this.heap[i]] = [this.heap[i]!, this.heap[smallest]!];
      i = smallest;
    }
  }
}
