import { describe, expect, it } from "vitest";
import { TINY_BOS, TINY_EOS, tinyTokenizerFiles, tinyVocab } from "../../../models/tiny-diffusion/tiny-clip.js";
import { DiffusionModelError } from "./errors.js";
import { CLIP_CONTEXT, ClipTokenizer, inputIdsData } from "./tokenizer.js";

// Expected ids are derived by hand from models/tiny-diffusion/tiny-clip.ts: a printable ASCII character c
// is id (code(c) - 33), or that + 256 at the end of a word ("</w>"); merged tokens are 512 + rank.
const char = (c: string): number => c.codePointAt(0)! - 33;
const end = (c: string): number => char(c) + 256;
const PHOTO = 515;
const OF = 516;
const CA = 517;
const CAT = 518;
const DOG = 520;

const sd = ClipTokenizer.fromFiles(tinyTokenizerFiles("eos"));
const sdxl2 = ClipTokenizer.fromFiles(tinyTokenizerFiles("bang"));

function withoutPadding(ids: number[], pad: number): number[] {
  let n = ids.length;
  while (n > 0 && ids[n - 1] === pad) n--;
  // The eos that ends the prompt is kept even when it is also the pad.
  return ids.slice(0, pad === TINY_EOS ? n + 1 : n);
}

describe("ClipTokenizer", () => {
  it("reads the special tokens from tokenizer_config.json", () => {
    expect([sd.bosId, sd.eosId, sd.padId]).toEqual([TINY_BOS, TINY_EOS, TINY_EOS]);
    // SDXL's tokenizer_2 pads with "!", which is id 0 in CLIP's layout.
    expect([sdxl2.bosId, sdxl2.eosId, sdxl2.padId]).toEqual([TINY_BOS, TINY_EOS, 0]);
  });

  it("encodes words through the merges, in rank order", () => {
    expect(sd.tokenize("a photo of a cat")).toEqual([end("a"), PHOTO, OF, end("a"), CAT]);
    // "cats": c a t s</w>; "ca" merges, but "ca t</w>" needs t to end the word, so t and s</w> stay apart.
    expect(sd.tokenize("cats")).toEqual([CA, char("t"), end("s")]);
    // "it's": the pattern splits off "'s"; punctuation runs are words of their own.
    expect(sd.tokenize("it's a dog!!")).toEqual([char("i"), end("t"), char("'"), end("s"), end("a"), DOG, char("!"), end("!")]);
    expect(sd.tokenize("42")).toEqual([end("4"), end("2")]);
  });

  it("lowercases and folds whitespace before splitting", () => {
    expect(sd.tokenize("  A\tPHOTO \n\n of  A CaT  ")).toEqual(sd.tokenize("a photo of a cat"));
  });

  it("encodes bytes beyond ASCII as CLIP's byte symbols", () => {
    // é is C3 A9 in UTF-8: Ã (id 127 in bytes_to_unicode's order) and © (102), + 256 as the word's end.
    expect(sd.tokenize("é")).toEqual([127, 102 + 256]);
    const vocab = tinyVocab();
    expect([vocab["Ã"], vocab["©</w>"]]).toEqual([127, 358]);
  });

  it("pads to 77 with the configured pad token, bos first and eos after the prompt", () => {
    const a = sd.encode("a photo of a cat");
    expect(a.ids).toHaveLength(CLIP_CONTEXT);
    expect(a.truncated).toBe(false);
    expect(a.ids.slice(0, 8)).toEqual([TINY_BOS, end("a"), PHOTO, OF, end("a"), CAT, TINY_EOS, TINY_EOS]);
    const b = sdxl2.encode("a photo of a cat");
    expect(b.ids.slice(0, 8)).toEqual([TINY_BOS, end("a"), PHOTO, OF, end("a"), CAT, TINY_EOS, 0]);
    expect(b.ids.slice(7).every((id) => id === 0)).toBe(true);
  });

  it("encodes an empty prompt as bos, eos and padding", () => {
    expect(withoutPadding(sd.encode("").ids, TINY_EOS)).toEqual([TINY_BOS, TINY_EOS]);
    expect(withoutPadding(sdxl2.encode("   ").ids, 0)).toEqual([TINY_BOS, TINY_EOS]);
  });

  it("truncates to 75 prompt tokens and keeps eos last", () => {
    const long = Array.from({ length: 100 }, () => "cat").join(" ");
    const { ids, truncated } = sdxl2.encode(long);
    expect(truncated).toBe(true);
    expect(ids).toHaveLength(CLIP_CONTEXT);
    expect(ids[0]).toBe(TINY_BOS);
    expect(ids.slice(1, 76).every((id) => id === CAT)).toBe(true);
    expect(ids[76]).toBe(TINY_EOS);
    // Exactly 75 tokens fit without truncation.
    expect(sdxl2.encode(Array.from({ length: 75 }, () => "dog").join(" ")).truncated).toBe(false);
  });

  it("builds input_ids data of either integer type", () => {
    const rows = [sd.encode("a cat").ids, sd.encode("").ids];
    const int64 = inputIdsData(rows, "int64");
    expect(int64).toBeInstanceOf(BigInt64Array);
    expect(int64).toHaveLength(2 * CLIP_CONTEXT);
    expect(Number(int64[CLIP_CONTEXT + 1])).toBe(TINY_EOS);
    expect(Array.from(inputIdsData(rows, "int32").slice(0, 4))).toEqual([TINY_BOS, end("a"), CAT, TINY_EOS]);
  });

  it("refuses broken tokenizer files with the file and the reason", () => {
    const files = tinyTokenizerFiles("eos");
    const broken = (patch: Partial<typeof files>) => () => ClipTokenizer.fromFiles({ ...files, ...patch });
    expect(broken({ "vocab.json": "{not json" })).toThrow(/vocab\.json is not JSON/);
    expect(broken({ "vocab.json": "[1, 2]" })).toThrow(/vocab\.json is not an object/);
    expect(broken({ "merges.txt": "#version: 0.2\np h\nthree part line\n" })).toThrow(/merges\.txt line 3 is not a pair/);
    expect(broken({ "merges.txt": "#version: 0.2\nx y\n" })).toThrow(/merges\.txt line 2 makes "xy", which vocab\.json lacks/);
    expect(broken({ "tokenizer_config.json": JSON.stringify({ pad_token: "<pad>" }) })).toThrow(/pad_token "<pad>" is not in vocab\.json/);
    expect(broken({ "tokenizer_config.json": JSON.stringify({ eos_token: 7 }) })).toThrow(DiffusionModelError);
  });

  it("takes the special tokens from special_tokens_map.json where the config has none", () => {
    const files = tinyTokenizerFiles("bang");
    const tok = ClipTokenizer.fromFiles({ ...files, "tokenizer_config.json": "{}" });
    expect(tok.padId).toBe(0);
    const neither = ClipTokenizer.fromFiles({ ...files, "tokenizer_config.json": "{}", "special_tokens_map.json": undefined });
    // CLIPTokenizer's own default pads with eos.
    expect(neither.padId).toBe(TINY_EOS);
  });
});
