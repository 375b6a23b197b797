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
import { checkWhole } from '../../core/checks.js'
import { untilAborted } from '../../core/concurrency.js'
import { readInteger, readString } from '../../core/config.js'
import { ConfigError, InvalidRefError, NotFoundError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { asSha256 } from '../../core/ref.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import { traced } from '../../core/tracing.js'
import type { AbortOptions, ImageStorage } from '../../core/types.js'
import type { VerifyReport } from '../../core/verify-report.js'
import { VariantCache, type PendingEntry } from './cache.js'
import { imageSize } from './image-size.js'
import { DEFAULT_PRESETS, mimeTypeOf, resolvePresets, type ResolvedPreset, type VariantPreset } from './presets.js'
import { Renderer, renderVerified } from './render.js'

export { DEFAULT_PRESETS, type VariantFormat, type VariantPreset } from './presets.js'

export interface VariantsInit {
  /** More presets, or other settings for `thumb` and `webp`. */
  presets?: Record<string, VariantPreset>
  /** The cache's folder. Default: `SAI_IMAGE_VARIANTS_PATH`, else `{root}/.variants` on the filesystem driver. */
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
  /** Told of cache cleanups that failed (`variants.*` events, docs/observability.md); silent without one. */
  logger?: Logger
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

/** @deprecated The variant cache's verify gives the same `VerifyReport` as every store. */
export type VariantsVerifyReport = VerifyReport

export class Variants {
  readonly presets: ReadonlyMap<string, ResolvedPreset>
  readonly cache: VariantCache
  private readonly renderer: Renderer
  private readonly making = new Map<string, Promise<Variant>>()

  constructor(
    readonly storage: ImageStorage,
    init: VariantsInit = {},
    env: NodeJS.ProcessEnv = process.env
  ) {
    this.presets = resolvePresets({ ...DEFAULT_PRESETS, ...init.presets })
    // from JavaScript: a concurrency of 0 would hold every get for ever; sharp refuses a timeout over an hour
    checkWhole('concurrency', init.concurrency)
    checkWhole('timeoutSeconds', init.timeoutSeconds, { min: 0, max: 3600, of: 'seconds' })
    checkWhole('maxInputPixels', init.maxInputPixels, { of: 'pixels' })
    const dir =
      init.path ??
      readString(env, 'SAI_IMAGE_VARIANTS_PATH') ??
      (storage.root === undefined ? undefined : join(storage.root, SPECIAL_DIRS.variants))
    if (dir === undefined)
      throw new ConfigError(
        'SAI_IMAGE_VARIANTS_PATH',
        `the ${storage.driver} driver has no local folder: say where variants are cached`
      )
    this.cache = new VariantCache(dir, init.fsync ?? false, init.logger)
    this.renderer = new Renderer({
      concurrency: init.concurrency ?? availableParallelism(),
      timeoutSeconds: init.timeoutSeconds ?? 30,
      maxInputPixels: init.maxInputPixels ?? readInteger(env, 'SAI_IMAGE_VARIANTS_MAX_PIXELS', 1) ?? 100_000_000
    })
  }

  /** The preset called `name`, or `ERR_NOT_FOUND`. */
  preset(name: string): ResolvedPreset {
    const preset = this.presets.get(name)
    if (preset === undefined)
      throw new NotFoundError(
        name,
        undefined,
        `that is no preset; the presets are ${[...this.presets.keys()].join(', ')}`
      )
    return preset
  }

  /** The strong ETag of a variant, without reading anything. */
  etagOf(sha256: string, preset: ResolvedPreset): string {
    return `"${sha256}.${preset.name}.${preset.id}"`
  }

  /** The variant, from the cache, or made from the verified source (once, however many ask at once). */
  async get(ref: string, presetName: string, options: AbortOptions = {}): Promise<Variant> {
    const summary = ({ size, cached, width, height, mimeType }: Variant): Record<string, unknown> => ({
      size,
      cached,
      width,
      height,
      mimeType
    })
    const trace = { driver: this.storage.driver, ref, summary, fields: { preset: presetName } }
    return await traced('variant', trace, async () => await this.getVariant(ref, presetName, options))
  }

  /** Waits for the cache's closes that nothing waited for. */
  async close(): Promise<void> {
    await this.cache.settle()
  }

  private async getVariant(ref: string, presetName: string, options: AbortOptions): Promise<Variant> {
    const preset = this.preset(presetName)
    const sha256 = asSha256(ref) ?? (await this.sha256Of(ref, options))
    const name = this.cache.lookup(sha256, preset) // a miss (a new variant) costs no promise here
    const cached = name === undefined ? undefined : await this.cache.read(sha256, preset, name)
    if (cached !== undefined) return await this.describe(sha256, preset, cached.bytes, cached.entry.key, true)
    const job = `${sha256}/${preset.name}`
    let making = this.making.get(job)
    const started = making === undefined
    if (making === undefined) {
      // shared by every caller: no one caller's signal ends it (each stops waiting on its own)
      making = this.make(ref, sha256, preset, {}).finally(() => this.making.delete(job))
      this.making.set(job, making)
    }
    const made = await untilAborted(making, options.signal)
    return started ? made : { ...made, cached: true } // made by the call that started it
  }

  /**
   * True if the variant is cached: what a pre-generation run can skip, at the cost of a lookup (its
   * bytes are checked when it is read, and by `verify`).
   */
  async has(ref: string, presetName: string, options: AbortOptions = {}): Promise<boolean> {
    return this.cache.holds(await this.sha256Of(ref, options), this.preset(presetName))
  }

  /**
   * `has` for a SHA-256 hex (as a listing gives it), at once: a run over millions asks it per
   * object, with no promise each.
   */
  isCached(sha256: string, presetName: string): boolean {
    const hex = asSha256(sha256)
    if (hex === undefined) throw new InvalidRefError(sha256, 'expected a SHA-256 hex')
    return this.cache.holds(hex, this.preset(presetName))
  }

  /** Removes every cached variant of `ref`'s image; how many there were. */
  async remove(ref: string, options: AbortOptions = {}): Promise<number> {
    const sha256 = asSha256(ref) ?? (await this.sha256Of(ref, options))
    return await this.cache.remove(sha256)
  }

  /**
   * Checks every cache file: a damaged entry (`corrupt`), a file that is no entry (`stray`: a temp
   * a crash left), an entry whose source is no longer stored (`orphan`). `repair` removes them
   * (they are made again on the next request).
   */
  async verify(options: AbortOptions & { repair?: boolean } = {}): Promise<VerifyReport> {
    // a source whose place cannot be read (a folder under its name: the store's verify names it) is not gone
    const isStored = async (source: string): Promise<boolean> =>
      await this.storage
        .exists(source, options)
        .catch((err: unknown) => (err as { code?: string }).code === 'ERR_STORAGE_UNAVAILABLE' || Promise.reject(err))
    return await this.cache.verify(isStored, options)
  }

  private async make(ref: string, sha256: string, preset: ResolvedPreset, options: AbortOptions): Promise<Variant> {
    // The verified bytes only (their check overlaps sharp's work: renderVerified). The cache's temp
    // file is opened while sharp works, once the source proved right (so that waiting jobs hold no files).
    let pending: Promise<PendingEntry> | undefined
    const { signal } = options
    const fetch = async (onUnverified: (bytes: Buffer) => void): Promise<Buffer> => {
      const bytes = await this.storage.fetch(ref, { signal, onUnverified })
      signal?.throwIfAborted()
      pending = this.cache.begin(sha256, preset)
      pending.catch(() => {}) // reported below, once the render is done
      return bytes
    }
    let rendered
    try {
      rendered = await this.renderer.job(preset, signal, async render => await renderVerified(fetch, render))
    } catch (err) {
      await (await pending?.catch(() => undefined))?.abandon()
      throw err
    }
    const entry = await (await pending!).commit(rendered.bytes)
    return {
      bytes: rendered.bytes,
      mimeType: mimeTypeOf(preset.format),
      width: rendered.width,
      height: rendered.height,
      size: rendered.bytes.length,
      etag: this.etagOf(sha256, preset),
      cached: false,
      key: entry.key
    }
  }

  /** Width and height of a cached variant, from its header. */
  private async describe(
    sha256: string,
    preset: ResolvedPreset,
    bytes: Buffer,
    key: string,
    cached: boolean
  ): Promise<Variant> {
    const { width, height } = imageSize(bytes)
    return {
      bytes,
      mimeType: mimeTypeOf(preset.format),
      width,
      height,
      size: bytes.length,
      etag: this.etagOf(sha256, preset),
      cached,
      key
    }
  }

  /** A SHA-256 hex is its own answer (a miss then fetches the source, which says if it is gone). */
  private async sha256Of(ref: string, options: AbortOptions): Promise<string> {
    const hex = asSha256(ref)
    if (hex !== undefined) return hex
    const { sha256 } = await this.storage.stat(ref, options)
    if (sha256 === undefined) throw new NotFoundError(ref, this.storage.pathOf(ref))
    return sha256
  }
}

export function createVariants(storage: ImageStorage, init?: VariantsInit): Variants {
  return new Variants(storage, init)
}
