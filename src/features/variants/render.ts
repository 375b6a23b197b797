/**
 * Runs sharp, loaded on first use (an optional peer), at most `concurrency` jobs at once, each
 * with a time limit, and with a pixel limit that refuses decompression bombs from their header.
 */
import { ImageStorageError, InvalidInputError, TooLargeError } from '../../core/errors.js'
import { optionalPeer } from '../../core/optional-peer.js'
import type { ResolvedPreset } from './presets.js'

export interface Rendered {
  bytes: Buffer
  width: number
  height: number
}

const loadSharp = optionalPeer({
  neededBy: 'variants',
  setting: 'variants',
  install: 'sharp',
  load: async () => (await import('sharp')).default
})

export class Renderer {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor(private readonly limits: { concurrency: number; timeoutSeconds: number; maxInputPixels: number }) {}

  /**
   * Renders from the source's verified bytes: the source is read and checked first (a fetch of a
   * frame is one read and its hash), then sharp decodes from memory, which it does faster than
   * from a stream (it gathers a stream into memory anyway). Wrong bytes never become a variant.
   */
  async render(source: () => Promise<Buffer>, preset: ResolvedPreset, signal?: AbortSignal): Promise<Rendered> {
    const sharp = await loadSharp()
    await this.slot(signal)
    try {
      signal?.throwIfAborted()
      const input = await source()
      signal?.throwIfAborted()
      const { data, info } = await sharp(input, { limitInputPixels: this.limits.maxInputPixels, failOn: 'error' })
        .resize({ width: preset.width, height: preset.height, fit: preset.fit, withoutEnlargement: true })
        .toFormat(preset.format, { quality: preset.quality })
        .timeout({ seconds: this.limits.timeoutSeconds })
        .toBuffer({ resolveWithObject: true })
      return { bytes: data, width: info.width, height: info.height }
    } catch (err) {
      if (err instanceof ImageStorageError) throw err // the source: not found, damaged, unavailable
      const message = (err as Error).message
      if (/pixel limit/i.test(message))
        throw new TooLargeError(
          this.limits.maxInputPixels,
          `Image has more pixels than the limit of ${this.limits.maxInputPixels} ` +
            '(option maxInputPixels, env SAI_IMAGE_VARIANTS_MAX_PIXELS)'
        )
      if (/timeout/i.test(message))
        throw new InvalidInputError(`Making the variant took longer than ${this.limits.timeoutSeconds} s`, {
          cause: err
        })
      throw new InvalidInputError(`Cannot make a variant of this image: ${message}`, { cause: err })
    } finally {
      this.release()
    }
  }

  private async slot(signal?: AbortSignal): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running++
      return
    }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', quit)
        resolve()
      }
      const quit = (): void => {
        this.waiting.splice(this.waiting.indexOf(go), 1)
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', quit, { once: true })
      this.waiting.push(go)
    })
  }

  private release(): void {
    const next = this.waiting.shift()
    if (next !== undefined)
      next() // the slot passes on
    else this.running--
  }
}
