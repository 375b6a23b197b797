/** Image type from magic bytes. 32 bytes of the head are enough for every type here. */
export const SNIFF_BYTES = 32

export type ImageMimeType =
  | 'image/jpeg'
  | 'image/png'
  | 'image/webp'
  | 'image/gif'
  | 'image/bmp'
  | 'image/tiff'
  | 'image/heic'
  | 'image/avif'

/** Returned for bytes that are stored with `allowNonImage` but match no image signature. */
export const UNKNOWN_MIME_TYPE = 'application/octet-stream'

const ascii = (head: Uint8Array, at: number, text: string): boolean =>
  head.length >= at + text.length &&
  Buffer.from(head.buffer, head.byteOffset + at, text.length).toString('latin1') === text

const startsWith = (head: Uint8Array, bytes: number[]): boolean =>
  head.length >= bytes.length && bytes.every((b, i) => head[i] === b)

const HEIF_BRANDS: Record<string, ImageMimeType> = {
  heic: 'image/heic',
  heix: 'image/heic',
  hevc: 'image/heic',
  hevx: 'image/heic',
  heim: 'image/heic',
  heis: 'image/heic',
  mif1: 'image/heic',
  avif: 'image/avif',
  avis: 'image/avif'
}

export function sniffImageType(head: Uint8Array): ImageMimeType | undefined {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP')) return 'image/webp'
  if (ascii(head, 0, 'GIF87a') || ascii(head, 0, 'GIF89a')) return 'image/gif'
  if (ascii(head, 0, 'BM') && head.length >= 14) return 'image/bmp'
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'image/tiff'
  if (ascii(head, 4, 'ftyp')) return HEIF_BRANDS[Buffer.from(head.subarray(8, 12)).toString('latin1')]
  return undefined
}
