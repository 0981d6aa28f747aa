// What checking a message costs at the NATS boundary, in isolation: the compiled TypeBox checkers of the hot path's
// requests (occupy, queue enter, queue status) against the hand-written checks they replaced, in the same run, and
// the JSON parse every request pays anyway, for scale. Run: bun bench/checkers.ts
import { SeatRequest, UserRequest, QueueTokenRequest, checkerOf } from "../src/shared/messages";

const ROUNDS = 2_000_000;

/** The hand-written checks as they were before the schemas (idOf, queueIdOf, tokenOf in the hosts). */
function asId(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new Error("invalid_request");
  return value;
}
const queueId = (value: unknown) => (value === 0 ? 0 : asId(value));
function token(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 160) throw new Error("invalid_token");
  return value;
}

/** Distinct payloads as the boundary gets them, fresh from JSON.parse, so no call sees a constant the JIT could fold. */
const decoded = <T>(make: (i: number) => T): T[] => Array.from({ length: 1024 }, (_, i) => JSON.parse(JSON.stringify(make(i))) as T);
const occupy = decoded((i) => ({ userId: 1000 + i, admittedTo: i % 3, seatId: 1 + i }));
const enter = decoded((i) => ({ userId: 1000 + i }));
const status = decoded((i) => ({ userId: 1000 + i, token: `${1 + (i % 7)}.Xq3kTqz0XyP1mW8aB2cD${String(i).padStart(4, "0")}` }));
const occupyJson = occupy.map((payload) => new TextEncoder().encode(JSON.stringify(payload)));
const decoder = new TextDecoder();

/** Nanoseconds per call of `work` over the payloads: the best of five runs after a warm-up, as the machine is shared. */
function measure<T>(payloads: T[], work: (payload: T) => unknown): number {
  let sink = 0;
  const run = () => {
    const started = Bun.nanoseconds();
    for (let i = 0; i < ROUNDS; i++) if (work(payloads[i & 1023]!)) sink++;
    return (Bun.nanoseconds() - started) / ROUNDS;
  };
  run();
  const best = Math.min(...Array.from({ length: 5 }, run));
  if (sink < 0) console.log(sink);
  return best;
}

const checkOccupy = checkerOf(SeatRequest);
const checkEnter = checkerOf(UserRequest);
const checkStatus = checkerOf(QueueTokenRequest);
const rows: [string, number][] = [
  ["occupy: hand-written (idOf, queueIdOf, idOf)", measure(occupy, (r) => asId(r.userId) + queueId(r.admittedTo) + asId(r.seatId))],
  ["occupy: compiled checker (SeatRequest)", measure(occupy, (r) => checkOccupy.Check(r))],
  ["queue enter: hand-written (idOf)", measure(enter, (r) => asId(r.userId))],
  ["queue enter: compiled checker (UserRequest)", measure(enter, (r) => checkEnter.Check(r))],
  ["queue status: hand-written (idOf, tokenOf)", measure(status, (r) => asId(r.userId) + token(r.token).length)],
  ["queue status: compiled checker (QueueTokenRequest, token pattern)", measure(status, (r) => checkStatus.Check(r))],
  ["for scale: decoding an occupy payload (UTF-8 + JSON.parse)", measure(occupyJson, (bytes) => JSON.parse(decoder.decode(bytes)))],
];
for (const [what, ns] of rows) console.log(`${ns.toFixed(1).padStart(8)} ns  ${what}`);
console.log(`JIT-compiled checkers: ${[checkOccupy, checkEnter, checkStatus].every((c) => c.IsAccelerated())}`);
