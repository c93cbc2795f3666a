import { describe, expect, it } from "vitest";
import { template } from "./helm.js";

/** values.schema.json refuses a bad value before anything renders, and says which and why. */
describe("values.schema.json", () => {
  const refused = async (set: string[]) => {
    const err = await template({ set }).then(() => undefined, (e: Error) => e);
    expect(err, `accepted ${set.join(" ")}`).toBeInstanceOf(Error);
    return err!.message;
  };

  it("refuses a wrong type, naming the value", async () => {
    const message = await refused(["operator.replicas=two"]);
    expect(message).toContain("values don't meet the specifications of the schema");
    expect(message).toContain("at '/operator/replicas': got string, want integer");
  });

  it("refuses an unknown key (a typo)", async () => {
    expect(await refused(["opertor.replicas=1"])).toContain("additional properties 'opertor' not allowed");
  });

  it("refuses an image pull policy Kubernetes does not know", async () => {
    expect(await refused(["image.pullPolicy=Sometimes"])).toContain("at '/image/pullPolicy': value must be one of 'IfNotPresent', 'Always', 'Never'");
  });

  it("refuses a storage URL the processes would refuse at start", async () => {
    expect(await refused(["storage.url=http://bucket"])).toContain("at '/storage/url': 'http://bucket' does not match pattern");
  });

  it("accepts the defaults", async () => {
    await expect(template()).resolves.toContain("kind: Deployment");
  });
});
