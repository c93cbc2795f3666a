/**
 * Seeded noise for diffusion: the same seed gives the same latents on every worker, CPU or GPU,
 * because the numbers come from JS, not from the execution provider.
 *
 * Generator: xoshiro128** (Blackman and Vigna). Its 128-bit state, period 2^128 - 1 and clean
 * BigCrush results are plenty for a few million normals per image, and it needs only 32-bit
 * integer arithmetic (Math.imul), so it is fast without BigInt. A single 32-bit generator such
 * as mulberry32 would do for pixels in tests but has only 2^32 states, so two seeds' streams
 * overlap after a few billion draws; xoshiro's do not in practice.
 * Seeding: splitmix32 expands the seed into the four state words, as the xoshiro authors advise,
 * so nearby seeds (1, 2, 3) start far apart. Seeds are integers 0..2^53-1 (JSON-safe).
 *
 * Normals: Box–Muller on two 53-bit uniforms, both outputs used, the spare kept for the next
 * draw, so the sequence does not depend on how calls are chunked. Box–Muller is exact (no
 * rejection loop, a fixed number of uniforms per normal) which keeps the stream reproducible
 * from the seed alone. It is not torch's generator: a seed does not give diffusers' image.
 */
export class NoiseRng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | undefined;

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`a seed is an integer from 0 to ${Number.MAX_SAFE_INTEGER}, not ${seed}`);
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const next = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x9e3779b9));
    this.s0 = next();
    this.s1 = next() ^ hi;
    this.s2 = next();
    this.s3 = next();
    // An all-zero state would stay zero forever.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator with the given raw state: for checking against xoshiro128**'s published outputs. */
  static fromState(state: readonly [number, number, number, number]): NoiseRng {
    const rng = new NoiseRng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.map((w) => w >>> 0) as [number, number, number, number];
    return rng;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** One standard normal sample. */
  nextNormal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    // 1 - u is in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.nextFloat()));
    const theta = 2 * Math.PI * this.nextFloat();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `n` standard normal samples (a latent's noise). */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextNormal();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function splitmix32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}
