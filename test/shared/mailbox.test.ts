import { expect, test } from "bun:test";
import { Mailbox } from "../../src/shared/mailbox";

test("commands posted in one turn are delivered together, in order; later ones in a delivery of their own", async () => {
  const deliveries: number[][] = [];
  const mailbox = new Mailbox<number>((commands) => deliveries.push(commands));
  mailbox.post(1);
  mailbox.post(2);
  mailbox.post(3);
  expect(deliveries).toEqual([]);
  await Promise.resolve();
  mailbox.post(4);
  await new Promise((resolve) => setImmediate(resolve));
  expect(deliveries).toEqual([[1, 2, 3], [4]]);
});
