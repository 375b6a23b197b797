// Real camera frames of mixed sizes for the benches: decodable JPEGs made from the synthetic camera
// frames of examples/frames.mjs (2880x1616), resized and re-encoded with sharp to the spread a
// dashboard stores (about 20-520 KB, mean about 160 KB). Cached under BENCH_DIR (or the temp dir).
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { cameraFrame } from '../examples/frames.mjs'

const WIDTHS = [640, 960, 1280, 1600, 1920, 2240, 2560, 2880, 2880]
const QUALITIES = [55, 75, 90]
const cache = join(process.env.BENCH_DIR ?? tmpdir(), 'sai-bench-frames-v1')

/** The 27 base frames: 9 sizes by 3 qualities, from 3 scenes. */
export async function baseFrames() {
  if (existsSync(join(cache, 'done'))) {
    const names = (await readdir(cache)).filter(n => n.endsWith('.jpg')).sort()
    return await Promise.all(names.map(async n => await readFile(join(cache, n))))
  }
  await mkdir(cache, { recursive: true })
  const frames = []
  for (let scene = 0; scene < 3; scene++) {
    const full = Buffer.from(cameraFrame(scene + 1))
    for (const [i, width] of WIDTHS.entries()) {
      const quality = QUALITIES[(i + scene) % QUALITIES.length]
      frames.push(await sharp(full).resize(width).jpeg({ quality }).toBuffer())
    }
  }
  await Promise.all(frames.map(async (f, i) => await writeFile(join(cache, `${String(i).padStart(2, '0')}.jpg`), f)))
  await writeFile(join(cache, 'done'), '')
  return frames
}

/**
 * `count` distinct frames: the base frames in turn, each with a JPEG comment segment naming its
 * number right after the start marker (still a valid, decodable JPEG; different bytes, another hash).
 */
export async function frames(count, label = 'frame') {
  const base = await baseFrames()
  return Array.from({ length: count }, (_, i) => {
    const frame = base[i % base.length]
    const text = Buffer.from(`${label} ${i}`)
    const segment = Buffer.alloc(4 + text.length)
    segment.writeUInt16BE(0xfffe, 0)
    segment.writeUInt16BE(2 + text.length, 2)
    text.copy(segment, 4)
    return Buffer.concat([frame.subarray(0, 2), segment, frame.subarray(2)])
  })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const all = await baseFrames()
  const sizes = all.map(f => f.length).sort((a, b) => a - b)
  console.log(
    `${all.length} frames, ${sizes[0]}..${sizes.at(-1)} B, mean ` +
      `${Math.round(sizes.reduce((a, b) => a + b) / sizes.length)} B`
  )
}
