import * as tokenizers from "@huggingface/tokenizers";
import { DiffusionModelError } from "./errors.js";

/**
 * The part of @huggingface/tokenizers' Tokenizer used here. The package's .d.ts files import one
 * another without file extensions, which NodeNext resolution does not follow, so TypeScript sees
 * the class as untyped; this states the signature relied on (the one its README documents).
 */
interface BpeTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
}
const Tokenizer = (tokenizers as { Tokenizer: unknown }).Tokenizer as new (tokenizerJson: object, tokenizerConfig: object) => BpeTokenizer;

/** CLIP's context: every Stable Diffusion text encoder takes exactly this many ids. */
export const CLIP_CONTEXT = 77;

/** A tokenizer/ folder of a diffusers export, as bytes or text. */
export interface ClipTokenizerFiles {
  "vocab.json": string | Uint8Array;
  "merges.txt": string | Uint8Array;
  "tokenizer_config.json": string | Uint8Array;
  /** Older exports keep the special tokens here; tokenizer_config.json wins where both name one. */
  "special_tokens_map.json"?: string | Uint8Array;
}

export interface EncodedPrompt {
  /** CLIP_CONTEXT ids: bos, the prompt's tokens, eos, then padding. */
  ids: number[];
  /** The prompt had more tokens than fit, and the rest were dropped (diffusers warns the same). */
  truncated: boolean;
}

/**
 * CLIP's byte-level BPE, from the export's own vocab.json and merges.txt, run by
 * @huggingface/tokenizers (ADR 0020). Those files are the slow CLIPTokenizer's; the library
 * takes the fast tokenizer.json, so this builds that document the way transformers'
 * CLIPConverter does: NFC, runs of whitespace to one space, lower case; CLIP's split pattern;
 * bytes to printable characters; BPE with "</w>" closing each word.
 */
export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  /** SD's tokenizer pads with eos; SDXL's tokenizer_2 with "!" (id 0): whatever the config says. */
  readonly padId: number;

  private constructor(private readonly bpe: BpeTokenizer, ids: { bos: number; eos: number; pad: number }) {
    this.bosId = ids.bos;
    this.eosId = ids.eos;
    this.padId = ids.pad;
  }

  static fromFiles(files: ClipTokenizerFiles): ClipTokenizer {
    const vocab = readVocab(files["vocab.json"]);
    const merges = readMerges(files["merges.txt"], vocab);
    const config = { ...readSpecialTokens(files["special_tokens_map.json"], "special_tokens_map.json"), ...readSpecialTokens(files["tokenizer_config.json"], "tokenizer_config.json") };
    const idOf = (role: "bos_token" | "eos_token" | "pad_token", fallback: string): { token: string; id: number } => {
      const token = config[role] ?? fallback;
      const id = vocab[token];
      if (id === undefined) throw new DiffusionModelError(`tokenizer: the ${role} ${JSON.stringify(token)} is not in vocab.json`);
      return { token, id };
    };
    // CLIPTokenizer's defaults, for configs that leave a token out.
    const bos = idOf("bos_token", "<|startoftext|>");
    const eos = idOf("eos_token", "<|endoftext|>");
    const pad = idOf("pad_token", "<|endoftext|>");
    const special = (t: { token: string; id: number }) => ({ id: t.id, content: t.token, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
    const tokenizerJson = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [special(bos), special(eos)],
      normalizer: { type: "Sequence", normalizers: [{ type: "NFC" }, { type: "Replace", pattern: { Regex: "\\s+" }, content: " " }, { type: "Lowercase" }] },
      pre_tokenizer: {
        type: "Sequence",
        pretokenizers: [
          { type: "Split", pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: "Removed", invert: true },
          { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: "BPE", dropout: null, unk_token: eos.token, continuing_subword_prefix: "", end_of_word_suffix: "</w>", fuse_unk: false, byte_fallback: false, vocab, merges },
    };
    return new ClipTokenizer(new Tokenizer(tokenizerJson, {}), { bos: bos.id, eos: eos.id, pad: pad.id });
  }

  /** The prompt's tokens, without bos and eos. */
  tokenize(prompt: string): number[] {
    return this.bpe.encode(prompt, { add_special_tokens: false }).ids;
  }

  /** [bos, tokens…, eos, pad…] of exactly CLIP_CONTEXT ids; tokens beyond 75 are dropped, eos kept. */
  encode(prompt: string): EncodedPrompt {
    const tokens = this.tokenize(prompt);
    const room = CLIP_CONTEXT - 2;
    const kept = tokens.slice(0, room);
    const ids = [this.bosId, ...kept, this.eosId];
    while (ids.length < CLIP_CONTEXT) ids.push(this.padId);
    return { ids, truncated: tokens.length > room };
  }
}

/** Rows of ids as a text encoder's input_ids data: int64 in current exports, int32 in some older ones. */
export function inputIdsData(rows: readonly (readonly number[])[], type: "int64"): BigInt64Array;
export function inputIdsData(rows: readonly (readonly number[])[], type: "int32"): Int32Array;
export function inputIdsData(rows: readonly (readonly number[])[], type: "int64" | "int32"): BigInt64Array | Int32Array;
export function inputIdsData(rows: readonly (readonly number[])[], type: "int64" | "int32"): BigInt64Array | Int32Array {
  const flat = rows.flat();
  return type === "int64" ? BigInt64Array.from(flat, (id) => BigInt(id)) : Int32Array.from(flat);
}

function text(file: string | Uint8Array): string {
  return typeof file === "string" ? file : new TextDecoder("utf-8", { fatal: false }).decode(file);
}

function json(file: string | Uint8Array, name: string): unknown {
  try {
    return JSON.parse(text(file));
  } catch (err) {
    throw new DiffusionModelError(`tokenizer: ${name} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

function readVocab(file: string | Uint8Array): Record<string, number> {
  const vocab = json(file, "vocab.json");
  if (typeof vocab !== "object" || vocab === null || Array.isArray(vocab)) throw new DiffusionModelError("tokenizer: vocab.json is not an object of tokens to ids");
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) throw new DiffusionModelError(`tokenizer: vocab.json gives ${JSON.stringify(token)} the id ${JSON.stringify(id)}, not a whole number`);
  }
  return vocab as Record<string, number>;
}

/** merges.txt: an optional "#version" line, then one "left right" pair a line, in rank order. */
function readMerges(file: string | Uint8Array, vocab: Record<string, number>): string[] {
  const merges: string[] = [];
  text(file).split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line === "" || (i === 0 && line.startsWith("#version"))) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new DiffusionModelError(`tokenizer: merges.txt line ${i + 1} is not a pair of tokens: ${JSON.stringify(line.slice(0, 80))}`);
    if (vocab[parts[0] + parts[1]] === undefined) throw new DiffusionModelError(`tokenizer: merges.txt line ${i + 1} makes ${JSON.stringify(parts[0] + parts[1])}, which vocab.json lacks`);
    merges.push(line);
  });
  if (merges.length === 0) throw new DiffusionModelError("tokenizer: merges.txt has no merges");
  return merges;
}

type SpecialTokens = Partial<Record<"bos_token" | "eos_token" | "pad_token", string>>;

/** The special tokens a config names, each a string or an AddedToken object ({ content }). */
function readSpecialTokens(file: string | Uint8Array | undefined, name: string): SpecialTokens {
  if (file === undefined) return {};
  const config = json(file, name);
  if (typeof config !== "object" || config === null) throw new DiffusionModelError(`tokenizer: ${name} is not a JSON object`);
  const out: SpecialTokens = {};
  for (const role of ["bos_token", "eos_token", "pad_token"] as const) {
    const value = (config as Record<string, unknown>)[role];
    if (value === undefined || value === null) continue;
    const token = typeof value === "string" ? value : (value as { content?: unknown }).content;
    if (typeof token !== "string") throw new DiffusionModelError(`tokenizer: ${name} ${role} is neither a string nor an object with content`);
    out[role] = token;
  }
  return out;
}
