import { describe, expect, it } from "vitest";
import { readDemand } from "./demand-reading.js";

/** A queue with one job and a worker that takes it the moment the first of the two reads is answered. */
function raceOneTake() {
  const state = { waiting: 1, inFlight: 0 };
  let reads = 0;
  const afterRead = <T>(value: T): T => {
    if (++reads === 1) Object.assign(state, { waiting: 0, inFlight: 1 }); // the take lands between the reads
    return value;
  };
  return {
    readPresence: () => Promise.resolve(afterRead(state.inFlight)),
    readWaiting: () => Promise.resolve(afterRead(state.waiting)),
  };
}

describe("readDemand", () => {
  it("never counts a job a worker takes between the reads twice", async () => {
    const { readPresence, readWaiting } = raceOneTake();
    const { presence, waiting } = await readDemand(readPresence, readWaiting);
    expect(presence + waiting).toBeLessThanOrEqual(1);
  });

  it("reads presence before the queues", async () => {
    const order: string[] = [];
    await readDemand(() => Promise.resolve(order.push("presence")), () => Promise.resolve(order.push("waiting")));
    expect(order).toEqual(["presence", "waiting"]);
  });
});
