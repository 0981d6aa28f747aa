// An actor's mailbox on the host side. Commands that reach an actor in one turn of the event loop (a NATS read brings
// dozens during a rush) go to it as one `commands` event at the turn's microtask checkpoint: XState's cost is per
// event, and the machine handles the batch exactly as it would the commands one by one.
export class Mailbox<Command> {
  private pending: Command[] = [];

  /** `deliver` is looked up at delivery time, so commands posted for an actor that restarted reach the new one. */
  constructor(private readonly deliver: (commands: Command[]) => void) {}

  post(command: Command): void {
    if (this.pending.length === 0) queueMicrotask(() => this.flush());
    this.pending.push(command);
  }

  private flush(): void {
    const commands = this.pending;
    this.pending = [];
    this.deliver(commands);
  }
}
