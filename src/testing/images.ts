/**
 * Real, decodable test images made in code: an 8x8 baseline JPEG (made with jpeg-js), grown to
 * any size and made unique with comment segments, and PNGs of any size.
 */
import { createHash } from 'node:crypto'
import { deflateSync } from 'node:zlib'

const BASE_JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wCEABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2MBERISGBUYLxoaL2NCOEJjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY//AABEIAAgACAMBEQACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEAAhEDEQA/ANBbD2rwnVOOOX+R/9k=',
  'base64'
)
const MAX_SEGMENT = 0xffff - 2

/** Deterministic bytes: the same seed gives the same stream. */
export function seededBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size)
  let block = createHash('sha256').update(seed).digest()
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

/**
 * A valid JPEG of exactly `size` bytes (at least 630), unique per `seed`: the base image with
 * comment (COM) segments of seeded bytes inserted after the start marker.
 */
export function testJpeg(seed: string, size = 2048): Buffer {
  let padding = size - BASE_JPEG.length
  if (padding < 10) throw new RangeError(`testJpeg needs size >= ${BASE_JPEG.length + 10}`)
  const filler = seededBytes(padding, seed)
  const segments: Buffer[] = []
  while (padding > 0) {
    // a segment is 4 bytes of header plus its payload; never leave less than a header behind
    let payload = Math.min(MAX_SEGMENT, padding - 4)
    if (padding - 4 - payload > 0 && padding - 4 - payload < 5) payload -= 5
    const header = Buffer.from([0xff, 0xfe, (payload + 2) >> 8, (payload + 2) & 0xff])
    segments.push(header, filler.subarray(padding - payload, padding))
    padding -= payload + 4
  }
  return Buffer.concat([BASE_JPEG.subarray(0, 2), ...segments, BASE_JPEG.subarray(2)])
}

/** A valid RGB PNG of `width` x `height` seeded pixels. */
export function testPng(seed: string, width = 4, height = 4): Buffer {
  const pixels = seededBytes((width * 3 + 1) * height, seed)
  for (let row = 0; row < height; row++) pixels[row * (width * 3 + 1)] = 0 // filter: none
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(pixels)),
    pngChunk('IEND', Buffer.alloc(0))
  ])
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
