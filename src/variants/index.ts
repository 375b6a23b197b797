/**
 * Variants by hash: a thumbnail or a WebP copy is a pure function of (source SHA-256, preset), so
 * it is made once, cached on disk under both, and served with an immutable URL and a strong ETag
 * that no later change can break (a changed preset is a new name).
 *
 * @example
 * ```ts
 * import { createVariants } from 'sai-image-storage/variants'
 *
 * const variants = createVariants(storage) // presets thumb (400 px wide) and webp, WebP quality 80
 * const thumb = await variants.get(hash, 'thumb') // { bytes, mimeType, width, height, size, etag, cached }
 * ```
 */
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { ConfigError, NotFoundError } from '../core/errors.js'
import type { AbortOptions, ImageStorage } from '../core/types.js'
import { VariantCache, type PendingEntry } from './cache.js'
import { DEFAULT_PRESETS, mimeTypeOf, resolvePresets, type ResolvedPreset, type VariantPreset } from './presets.js'
import { Renderer } from './render.js'

export { DEFAULT_PRESETS, type VariantFormat, type VariantPreset } from './presets.js'

export interface VariantsInit {
  /** More presets, or other settings for `thumb` and `webp`. */
  presets?: Record<string, VariantPreset>
  /** The cache's folder. Default: `{root}/.variants` on the filesystem driver, else `SAI_IMAGE_VARIANTS_PATH`. */
  path?: string
  /** Sources with more pixels are refused (`ERR_TOO_LARGE`) from their header. Default 100 megapixels. */
  maxInputPixels?: number
  /** sharp jobs at once. Default: the number of cores. */
  concurrency?: number
  /** A job taking longer fails (`ERR_INVALID_INPUT`). Default 30 s. */
  timeoutSeconds?: number
  /**
   * Default false. An entry's name holds its own digest, so one that a power cut left empty or
   * short is found on read and made again: the cache needs no fsync to stay correct.
   */
  fsync?: boolean
}

export interface Variant {
  bytes: Buffer
  mimeType: string
  width: number
  height: number
  size: number
  /** Strong, and known before the variant is made: `"<sha256>.<preset>.<preset id>"`. */
  etag: string
  /** False only for the call that made it. */
  cached: boolean
  /** The cache file, relative to the cache's folder (for `X-Accel-Redirect`). */
  key: string
}

export interface VariantsVerifyReport {
  checked: number
  bytes: number
  problems: Array<{ path: string, key: string, reason: 'corrupt' | 'stray' | 'orphan' }>
  clean: boolean
}

export class Variants {
  readonly presets: ReadonlyMap<string, ResolvedPreset>
  readonly cache: VariantCache
  private readonly renderer: Renderer
  private readonly making = new Map<string, Promise<Variant>>()

  constructor (readonly storage: ImageStorage, init: VariantsInit = {}, env: NodeJS.ProcessEnv = process.env) {
    this.presets = resolvePresets({ ...DEFAULT_PRESETS, ...init.presets })
    const root = storage.driver === 'fs' ? (storage as { root?: unknown }).root : undefined
    const dir = init.path ?? nonEmpty(env.SAI_IMAGE_VARIANTS_PATH) ?? (typeof root === 'string' ? join(root, '.variants') : undefined)
    if (dir === undefined) throw new ConfigError('SAI_IMAGE_VARIANTS_PATH', `the ${storage.driver} driver has no folder of its own: say where variants are cached`)
    this.cache = new VariantCache(dir, init.fsync ?? false)
    this.renderer = new Renderer({
      concurrency: init.concurrency ?? availableParallelism(),
      timeoutSeconds: init.timeoutSeconds ?? 30,
      maxInputPixels: init.maxInputPixels ?? positive(env.SAI_IMAGE_VARIANTS_MAX_PIXELS, 'SAI_IMAGE_VARIANTS_MAX_PIXELS') ?? 100_000_000
    })
  }

  /** The preset called `name`, or `ERR_NOT_FOUND`. */
  preset (name: string): ResolvedPreset {
    const preset = this.presets.get(name)
    if (preset === undefined) throw new NotFoundError(name, undefined, `that is no preset; the presets are ${[...this.presets.keys()].join(', ')}`)
    return preset
  }

  /** The strong ETag of a variant, without reading anything. */
  etagOf (sha256: string, preset: ResolvedPreset): string {
    return `"${sha256}.${preset.name}.${preset.id}"`
  }

  /** The variant, from the cache, or made from the verified source (once, however many ask at once). */
  async get (ref: string, presetName: string, options: AbortOptions = {}): Promise<Variant> {
    const preset = this.preset(presetName)
    const sha256 = await this.sha256Of(ref, options)
    const cached = await this.cache.read(sha256, preset)
    if (cached !== undefined) return await this.describe(sha256, preset, cached.bytes, cached.entry.key, true)
    const job = `${sha256}/${preset.name}`
    let making = this.making.get(job)
    if (making === undefined) {
      making = this.make(ref, sha256, preset, options).finally(() => this.making.delete(job))
      this.making.set(job, making)
      return await making
    }
    return { ...await making, cached: true } // made by the call that started it
  }

  /** True if the variant is cached (and intact): what a pre-generation run can skip. */
  async has (ref: string, presetName: string, options: AbortOptions = {}): Promise<boolean> {
    return await this.cache.read(await this.sha256Of(ref, options), this.preset(presetName)) !== undefined
  }

  /** Removes every cached variant of `ref`'s image; how many there were. */
  async remove (ref: string, options: AbortOptions = {}): Promise<number> {
    const sha256 = /^[0-9a-fA-F]{64}$/.test(ref) ? ref.toLowerCase() : await this.sha256Of(ref, options)
    return await this.cache.remove(sha256)
  }

  /**
   * Checks every cache file: a damaged entry (`corrupt`), a file that is no entry (`stray`: a temp
   * a crash left), an entry whose source is no longer stored (`orphan`). `repair` removes them.
   */
  async verify (options: AbortOptions & { repair?: boolean } = {}): Promise<VariantsVerifyReport> {
    const { createHash } = await import('node:crypto')
    const { readFile, unlink } = await import('node:fs/promises')
    const report: VariantsVerifyReport = { checked: 0, bytes: 0, problems: [], clean: true }
    const sources = new Map<string, boolean>()
    for await (const file of this.cache.walk()) {
      options.signal?.throwIfAborted()
      let reason: VariantsVerifyReport['problems'][number]['reason'] | undefined
      if (file.entry === undefined) reason = 'stray'
      else {
        const bytes = await readFile(file.path)
        report.checked++
        report.bytes += bytes.length
        if (createHash('sha256').update(bytes).digest('hex') !== file.entry.sha256) reason = 'corrupt'
        else {
          if (!sources.has(file.entry.source)) sources.set(file.entry.source, await this.storage.exists(file.entry.source, options))
          if (sources.get(file.entry.source) === false) reason = 'orphan'
        }
      }
      if (reason === undefined) continue
      report.problems.push({ path: file.path, key: file.key, reason })
      if (options.repair === true) await unlink(file.path).catch(() => {})
    }
    report.clean = options.repair === true || report.problems.length === 0
    return report
  }

  private async make (ref: string, sha256: string, preset: ResolvedPreset, options: AbortOptions): Promise<Variant> {
    // The cache's temp file is made while sharp works (once a job slot is free, so that waiting
    // jobs hold no files). The verified bytes: never a variant of wrong bytes.
    let pending: Promise<PendingEntry> | undefined
    const source = async (): Promise<Buffer> => {
      const bytes = await this.storage.fetch(ref, options)
      pending = this.cache.begin(sha256, preset)
      pending.catch(() => {}) // reported below, once the render is done
      return bytes
    }
    let rendered
    try {
      rendered = await this.renderer.render(source, preset, options.signal)
    } catch (err) {
      await (await pending?.catch(() => undefined))?.abandon()
      throw err
    }
    const entry = await (await pending!).commit(rendered.bytes)
    return { bytes: rendered.bytes, mimeType: mimeTypeOf(preset.format), width: rendered.width, height: rendered.height, size: rendered.bytes.length, etag: this.etagOf(sha256, preset), cached: false, key: entry.key }
  }

  /** Width and height of a cached variant, from its header. */
  private async describe (sha256: string, preset: ResolvedPreset, bytes: Buffer, key: string, cached: boolean): Promise<Variant> {
    const { width, height } = imageSize(bytes)
    return { bytes, mimeType: mimeTypeOf(preset.format), width, height, size: bytes.length, etag: this.etagOf(sha256, preset), cached, key }
  }

  /** A SHA-256 hex is its own answer (a miss then fetches the source, which says if it is gone). */
  private async sha256Of (ref: string, options: AbortOptions): Promise<string> {
    if (/^[0-9a-fA-F]{64}$/.test(ref)) return ref.toLowerCase()
    const { sha256 } = await this.storage.stat(ref, options)
    if (sha256 === undefined) throw new NotFoundError(ref, this.storage.pathOf(ref))
    return sha256
  }
}

export function createVariants (storage: ImageStorage, init?: VariantsInit): Variants {
  return new Variants(storage, init)
}

/** Width and height from a WebP, JPEG or AVIF header, without decoding. */
function imageSize (bytes: Buffer): { width: number, height: number } {
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = bytes.toString('latin1', 12, 16)
    if (chunk === 'VP8X') return { width: 1 + bytes.readUIntLE(24, 3), height: 1 + bytes.readUIntLE(27, 3) }
    if (chunk === 'VP8L') {
      const bits = bytes.readUInt32LE(21)
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) }
    }
    return { width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff }
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    for (let at = 2; at + 9 < bytes.length;) {
      const marker = bytes[at + 1]!
      const length = bytes.readUInt16BE(at + 2)
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: bytes.readUInt16BE(at + 7), height: bytes.readUInt16BE(at + 5) }
      at += 2 + length
    }
  }
  const ispe = bytes.indexOf('ispe') // AVIF: the image spatial extents property
  if (ispe > 0) return { width: bytes.readUInt32BE(ispe + 8), height: bytes.readUInt32BE(ispe + 12) }
  return { width: 0, height: 0 }
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function positive (value: string | undefined, variable: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(variable, `expected a whole number above 0, got ${JSON.stringify(value)}`)
  return n
}
