/**
 * Runs sharp, loaded on first use (an optional peer), at most `concurrency` jobs at once, each
 * with a time limit, and with a pixel limit that refuses decompression bombs from their header.
 */
import { InvalidInputError, TooLargeError } from '../../core/errors.js'
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
  load: async () => (await import('sharp')).default,
  require: () => require('sharp')
})
type Sharp = Awaited<ReturnType<typeof loadSharp>>

export class Renderer {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor(private readonly limits: { concurrency: number; timeoutSeconds: number; maxInputPixels: number }) {}

  /**
   * Runs `work` in a job slot (at most `concurrency` at once), with sharp loaded first (a missing peer
   * fails before anything is read); `work` renders with the function it is given.
   */
  async job<T>(
    preset: ResolvedPreset,
    signal: AbortSignal | undefined,
    work: (render: (input: Buffer) => Promise<Rendered>) => Promise<T>
  ): Promise<T> {
    const sharp = await loadSharp()
    await this.slot(signal)
    try {
      signal?.throwIfAborted()
      return await work(async input => await this.run(sharp, input, preset))
    } finally {
      this.release()
    }
  }

  /** sharp decodes from memory, which it does faster than from a stream (it gathers a stream anyway). */
  private async run(sharp: Sharp, input: Buffer, preset: ResolvedPreset): Promise<Rendered> {
    try {
      const { data, info } = await sharp(input, { limitInputPixels: this.limits.maxInputPixels, failOn: 'error' })
        .resize({ width: preset.width, height: preset.height, fit: preset.fit, withoutEnlargement: true })
        .toFormat(preset.format, { quality: preset.quality })
        .timeout({ seconds: this.limits.timeoutSeconds })
        .toBuffer({ resolveWithObject: true })
      return { bytes: data, width: info.width, height: info.height }
    } catch (err) {
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

/**
 * The variant of the source's verified bytes, with the check overlapping the render: `fetch` hands
 * the bytes as read to `onUnverified` (where the driver reads them whole before hashing them),
 * sharp starts on them, and that render is kept only if `fetch` then resolves with that very
 * Buffer. Any other outcome throws the fetch's error (`ERR_INTEGRITY`...) or renders again from
 * the bytes it resolved with (a replica's): never a variant of wrong bytes. The render of wrong
 * bytes is waited for, so that a job slot never holds two renders.
 */
export async function renderVerified(
  fetch: (onUnverified: (bytes: Buffer) => void) => Promise<Buffer>,
  render: (input: Buffer) => Promise<Rendered>
): Promise<Rendered> {
  let early = undefined as { bytes: Buffer; rendered: Promise<Rendered> } | undefined
  const onUnverified = (bytes: Buffer): void => {
    if (early !== undefined) return // a replica's bytes after a damaged copy: rendered once verified
    early = { bytes, rendered: render(bytes) }
    early.rendered.catch(() => {}) // its failure counts only if the bytes prove right
  }
  let source: Buffer
  try {
    source = await fetch(onUnverified)
  } catch (err) {
    await early?.rendered.catch(() => {})
    throw err
  }
  if (early?.bytes === source) return await early.rendered
  await early?.rendered.catch(() => {})
  return await render(source)
}
