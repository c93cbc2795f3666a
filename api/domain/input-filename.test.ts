import { describe, expect, it } from "vitest";
import { MAX_INPUT_FILENAME, sanitizeFilename, stem } from "./input-filename.js";

describe("sanitizeFilename", () => {
  it("keeps the base name of a POSIX or Windows path, without control characters", () => {
    expect(sanitizeFilename("/home/me/cat.png")).toBe("cat.png");
    expect(sanitizeFilename("C:\\Users\\me\\évening cat.png")).toBe("évening cat.png");
    expect(sanitizeFilename("ca\u0000t\r\n\u0085.png")).toBe("cat.png");
    expect(sanitizeFilename("  猫.webp  ")).toBe("猫.webp");
  });

  it("gives nothing for an empty name, a bare folder or dots", () => {
    for (const name of [undefined, null, "", "   ", "dir/", "..", ".", "../..", "\u0007"]) expect(sanitizeFilename(name), String(name)).toBeUndefined();
  });

  it("cuts at 255 characters without splitting a character in two", () => {
    expect(sanitizeFilename("a".repeat(300))).toHaveLength(MAX_INPUT_FILENAME);
    const emoji = sanitizeFilename("😀".repeat(300))!;
    expect(Array.from(emoji)).toHaveLength(MAX_INPUT_FILENAME);
    expect(emoji.endsWith("😀")).toBe(true);
  });
});

describe("stem", () => {
  it("drops the last extension only", () => {
    expect(stem("cat.photo.png")).toBe("cat.photo");
    expect(stem("cat")).toBe("cat");
    expect(stem(".env")).toBe(".env");
  });
});
