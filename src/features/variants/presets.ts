/**
 * A preset says how a variant is made from its source. Its parameters, written out in full, are
 * hashed into the variant's name and ETag: a changed preset is a new variant, never a stale one.
 */
import { createHash } from 'node:crypto'
import { ConfigError } from '../../core/errors.js'

export type VariantFormat = 'webp' | 'jpeg' | 'avif'

export interface VariantPreset {
  /** Largest width in pixels; the aspect ratio is kept. Default: the source's. */
  width?: number
  /** Largest height in pixels. Default: the source's. */
  height?: number
  /** How to fit both `width` and `height`: sharp's `inside` (default), `cover`, `contain`, `fill`, `outside`. */
  fit?: 'inside' | 'cover' | 'contain' | 'fill' | 'outside'
  /** Default `webp`. */
  format?: VariantFormat
  /** 1 to 100; default 80. */
  quality?: number
}

/** The dashboard's two copies: a 400 px wide thumbnail and a full-size WebP, both quality 80. */
export const DEFAULT_PRESETS: Readonly<Record<string, VariantPreset>> = Object.freeze({
  thumb: { width: 400, format: 'webp', quality: 80 },
  webp: { format: 'webp', quality: 80 }
})

export interface ResolvedPreset {
  name: string
  width?: number
  height?: number
  fit: NonNullable<VariantPreset['fit']>
  format: VariantFormat
  quality: number
  /** 12 hex characters of the SHA-256 of every parameter. */
  id: string
}

const FITS = ['inside', 'cover', 'contain', 'fill', 'outside']
const MIME: Record<VariantFormat, string> = { webp: 'image/webp', jpeg: 'image/jpeg', avif: 'image/avif' }

export function mimeTypeOf(format: VariantFormat): string {
  return MIME[format]
}

/** Checks and completes every preset; a bad one is `ERR_CONFIG` at once, not at the first request. */
export function resolvePresets(presets: Record<string, VariantPreset>): Map<string, ResolvedPreset> {
  const resolved = new Map<string, ResolvedPreset>()
  for (const [name, preset] of Object.entries(presets)) {
    const bad = (why: string): ConfigError => new ConfigError(`presets.${name}`, why)
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(name))
      throw bad('a preset name is 1 to 32 lower-case letters, digits, - or _')
    for (const side of ['width', 'height'] as const) {
      const value = preset[side]
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 16384))
        throw bad(`${side} must be a whole number from 1 to 16384`)
    }
    const format = preset.format ?? 'webp'
    if (!(format in MIME)) throw bad(`format must be one of ${Object.keys(MIME).join(', ')}`)
    const quality = preset.quality ?? 80
    if (!Number.isInteger(quality) || quality < 1 || quality > 100)
      throw bad('quality must be a whole number from 1 to 100')
    const fit = preset.fit ?? 'inside'
    if (!FITS.includes(fit)) throw bad(`fit must be one of ${FITS.join(', ')}`)
    const params = {
      width: preset.width ?? null,
      height: preset.height ?? null,
      fit,
      format,
      quality,
      withoutEnlargement: true
    }
    const id = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 12)
    resolved.set(name, { name, width: preset.width, height: preset.height, fit, format, quality, id })
  }
  return resolved
}
