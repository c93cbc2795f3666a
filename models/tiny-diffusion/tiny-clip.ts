/**
 * A CLIP tokenizer small enough to check by hand. Its vocab.json is laid out exactly as OpenAI's
 * (and so Hugging Face's) CLIP vocabulary is built: the 256 byte symbols of bytes_to_unicode in
 * that function's order, the same 256 with "</w>", one token per merge in rank order, then
 * <|startoftext|> and <|endoftext|>. So single characters have CLIP's real ids ("!" 0, "a</w>"
 * 320, ",</w>" 267); only the merges are ours (9 instead of 48,894), so merged words and the
 * two special tokens get small ids instead of CLIP's (49406 and 49407 for the specials).
 * No package we may install ships CLIP's real vocab.json, so tests use this one.
 */

/** Merges in rank order; the token each makes has id 512 + its rank. */
export const TINY_MERGES = [
  "p h", //       512 ph
  "o t", //       513 ot
  "ph ot", //     514 phot
  "phot o</w>", // 515 photo</w>
  "o f</w>", //   516 of</w>
  "c a", //       517 ca
  "ca t</w>", //  518 cat</w>
  "d o", //       519 do
  "do g</w>", //  520 dog</w>
] as const;

export const TINY_BOS = 512 + TINY_MERGES.length; // 521
export const TINY_EOS = TINY_BOS + 1; // 522
export const TINY_VOCAB_SIZE = TINY_EOS + 1;

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map to U+0100 onwards. */
export function byteSymbols(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const symbols = printable.map((b) => String.fromCodePoint(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) symbols.push(String.fromCodePoint(256 + extra++));
  return symbols;
}

export function tinyVocab(): Record<string, number> {
  const bytes = byteSymbols();
  const tokens = [...bytes, ...bytes.map((s) => `${s}</w>`), ...TINY_MERGES.map((m) => m.replace(" ", "")), "<|startoftext|>", "<|endoftext|>"];
  return Object.fromEntries(tokens.map((t, id) => [t, id]));
}

export function tinyMergesText(): string {
  return `#version: 0.2\n${TINY_MERGES.join("\n")}\n`;
}

/**
 * tokenizer_config.json as transformers writes it for SD's tokenizer (pads with eos) or SDXL's
 * tokenizer_2 (pads with "!", id 0).
 */
export function tinyTokenizerConfig(pad: "eos" | "bang"): Record<string, unknown> {
  const added = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true });
  return {
    add_prefix_space: false,
    added_tokens_decoder: { [TINY_BOS]: added("<|startoftext|>"), [TINY_EOS]: added("<|endoftext|>"), ...(pad === "bang" ? { 0: added("!") } : {}) },
    bos_token: "<|startoftext|>",
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: "<|endoftext|>",
    errors: "replace",
    model_max_length: 77,
    pad_token: pad === "eos" ? "<|endoftext|>" : "!",
    tokenizer_class: "CLIPTokenizer",
    unk_token: "<|endoftext|>",
  };
}

/** special_tokens_map.json, with AddedToken objects as transformers writes them. */
export function tinySpecialTokensMap(pad: "eos" | "bang"): Record<string, unknown> {
  const token = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  return { bos_token: token("<|startoftext|>"), eos_token: token("<|endoftext|>"), pad_token: pad === "eos" ? "<|endoftext|>" : "!", unk_token: token("<|endoftext|>") };
}

/** The four files of a tokenizer/ folder, as text. */
export function tinyTokenizerFiles(pad: "eos" | "bang"): Record<"vocab.json" | "merges.txt" | "tokenizer_config.json" | "special_tokens_map.json", string> {
  return {
    "vocab.json": JSON.stringify(tinyVocab()),
    "merges.txt": tinyMergesText(),
    "tokenizer_config.json": JSON.stringify(tinyTokenizerConfig(pad), null, 2),
    "special_tokens_map.json": JSON.stringify(tinySpecialTokensMap(pad), null, 2),
  };
}
