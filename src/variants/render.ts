/**
 * Runs sharp, loaded on first use (an optional peer), at most `concurrency` jobs at once, each
 * with a time limit, and with a pixel limit that refuses decompression bombs from their header.
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ConfigError, ImageStorageError, InvalidInputError, TooLargeError } from '../core/errors.js'
import type { ResolvedPreset } from './presets.js'

export interface Rendered {
  bytes: Buffer
  width: number
  height: number
}

type Sharp = typeof import('sharp').default

export class Renderer {
  private sharp?: Promise<Sharp>
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor (private readonly limits: { concurrency: number, timeoutSeconds: number, maxInputPixels: number }) {}

  /**
   * Renders from a stream, so that reading and verifying the source overlap the decoding: the
   * source's stream errors at its end if its bytes are wrong, and then there is no variant.
   */
  async render (source: () => Promise<Readable>, preset: ResolvedPreset, signal?: AbortSignal): Promise<Rendered> {
    const sharp = await this.load()
    await this.slot(signal)
    try {
      signal?.throwIfAborted()
      const transform = sharp({ limitInputPixels: this.limits.maxInputPixels, failOn: 'error' })
        .resize({ width: preset.width, height: preset.height, fit: preset.fit, withoutEnlargement: true })
        .toFormat(preset.format, { quality: preset.quality })
        .timeout({ seconds: this.limits.timeoutSeconds })
      const [{ data, info }] = await Promise.all([
        transform.toBuffer({ resolveWithObject: true }),
        source().then(async input => { await pipeline(input, transform) })
      ])
      return { bytes: data, width: info.width, height: info.height }
    } catch (err) {
      if (err instanceof ImageStorageError) throw err // the source: not found, damaged, unavailable
      const message = (err as Error).message
      if (/pixel limit/i.test(message)) throw new TooLargeError(this.limits.maxInputPixels, `Image has more pixels than the limit of ${this.limits.maxInputPixels} (option maxInputPixels, env SAI_IMAGE_VARIANTS_MAX_PIXELS)`)
      if (/timeout/i.test(message)) throw new InvalidInputError(`Making the variant took longer than ${this.limits.timeoutSeconds} s`, { cause: err })
      throw new InvalidInputError(`Cannot make a variant of this image: ${message}`, { cause: err })
    } finally {
      this.release()
    }
  }

  private async load (): Promise<Sharp> {
    this.sharp ??= import('sharp').then(module => module.default, (err: unknown) => {
      this.sharp = undefined
      throw new ConfigError('variants', `variants need the sharp package: npm install sharp (${(err as Error).message})`)
    })
    return await this.sharp
  }

  private async slot (signal?: AbortSignal): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running++
      return
    }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => { signal?.removeEventListener('abort', quit); resolve() }
      const quit = (): void => { this.waiting.splice(this.waiting.indexOf(go), 1); reject(signal!.reason) }
      signal?.addEventListener('abort', quit, { once: true })
      this.waiting.push(go)
    })
  }

  private release (): void {
    const next = this.waiting.shift()
    if (next !== undefined) next() // the slot passes on
    else this.running--
  }
}
