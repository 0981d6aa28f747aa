// Reads of one large answer (an event's seat list) that arrive together share one request to the actor. At a sale's
// opening hundreds of admitted buyers list the same 2,000 seats within a few milliseconds; each list is one NATS
// round trip of 150 KB and its decoding, and together they starved the checkout they lead to.
//
// A read that arrives while a request for its key is in flight does not take that request's answer, which may
// predate the reader's own last write; it joins the next request, sent when the one in flight is answered. So every
// answer reflects the actor's state after the reader arrived (a buyer who just took a seat never sees it on offer),
// and a key has at most one request in flight and one batch waiting: group commit, for reads.

interface Batch<T> {
  read: () => Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
  promise: Promise<T>;
}

/** A key with a request in flight, and the batch waiting to be sent next once a reader has joined it. */
interface Lane<T> {
  next?: Batch<T>;
}

export class CoalescedReads<T> {
  private readonly lanes = new Map<string, Lane<T>>();

  read(key: string, read: () => Promise<T>): Promise<T> {
    const lane = this.lanes.get(key);
    if (!lane) {
      const fresh: Lane<T> = {};
      this.lanes.set(key, fresh);
      return this.send(key, fresh, read);
    }
    if (!lane.next) {
      const { promise, resolve, reject } = Promise.withResolvers<T>();
      lane.next = { read, resolve, reject, promise };
    }
    return lane.next.promise;
  }

  /** Keys with a request in flight: none once every read has been answered. */
  get inFlight(): number {
    return this.lanes.size;
  }

  private send(key: string, lane: Lane<T>, read: () => Promise<T>): Promise<T> {
    const answer = read();
    const handOn = () => {
      const batch = lane.next;
      if (!batch) return void this.lanes.delete(key);
      lane.next = undefined;
      this.send(key, lane, batch.read).then(batch.resolve, batch.reject);
    };
    answer.then(handOn, handOn);
    return answer;
  }
}
