/**
 * The walk's worker threads: each runs `scan` (walk-scan.ts) from its source text, for one unit at a
 * time, and writes its files into a shared slot (`pack`), which the main thread reads by index
 * (`unpack`) and hands back when the unit is done. Nothing of a unit reaches the main thread's
 * heap but what its consumer makes of it: a cloned array per unit lives long enough to be promoted
 * (figures: bench/RESULTS-scale.md).
 */
import { Worker } from 'node:worker_threads'
import { hashOfDecodedKey, prefixKeys, type ShardingDescriptor } from '../../core/sharding.js'
import { SCAN_PARTS, scan } from './walk-scan.js'

/** A unit to walk: a first-level folder, what to keep of it, whether to hash its files. */
export interface UnitJob {
  root: string
  unit: string
  /** The sharding, written down; none for a custom one (walked inline only). */
  sharding?: ShardingDescriptor
  hash: boolean
  subset?: { index: number; count: number }
  after?: string
  prefix: string
}

/**
 * The files of a unit, read by index: their keys, digests (hashed units) and per file five numbers
 * (size, mtime, kind, first and last two bytes); kind 0 is a file above the objects' depth, 1 one
 * at that depth, 2 one whose key the walk decoded (a described sharding's: `hashOfDecodedKey`), 3
 * one decoded whose bytes (a hashed unit's) hash to that name (its digest is not carried: the name's),
 * 4 a folder at that depth (hashed units only: no digest, size or mtime).
 * A worker's unit is read in its slot (`unpack`): valid until the next unit is asked for.
 */
export interface UnitResult {
  count: number
  key: (i: number) => string
  actual: (i: number) => string
  numbers: Float64Array
  hash: boolean
  slot?: SharedArrayBuffer
}

/** A slot's first size: a unit of a 2,000,000-object store fits; a larger unit's worker grows it. */
const SLOT_BYTES = 1 << 20

/**
 * A unit's columns in a slot: per file five numbers (Float64), then the keys' end offsets (Uint32,
 * one more than the files), then 32 bytes of digest per file when hashed, then the keys in UTF-8.
 * Returns the slot written, a larger one if it did not fit. Self-contained: it runs in the worker.
 */
export function pack(
  slot: SharedArrayBuffer,
  keys: string[],
  actual: string[],
  numbers: Float64Array
): SharedArrayBuffer {
  const n = keys.length
  const digestsAt = n * 40 + (n + 1) * 4
  const keysAt = digestsAt + (actual.length > 0 ? n * 32 : 0)
  let keyBytes = 0
  for (const key of keys) keyBytes += Buffer.byteLength(key)
  if (keysAt + keyBytes > slot.byteLength) slot = new SharedArrayBuffer(Math.ceil((keysAt + keyBytes) * 1.25))
  new Float64Array(slot, 0, n * 5).set(numbers)
  const ends = new Uint32Array(slot, n * 40, n + 1)
  const bytes = Buffer.from(slot)
  let end = 0
  for (let i = 0; i < n; i++) {
    end += bytes.write(keys[i], keysAt + end)
    ends[i + 1] = end
    if (actual.length > 0) bytes.write(actual[i], digestsAt + i * 32, 'hex')
  }
  ends[0] = 0
  return slot
}

/** The unit a worker packed into `slot`, read in place until it is handed back. */
export function unpack(slot: SharedArrayBuffer, count: number, hash: boolean): UnitResult {
  const numbers = new Float64Array(slot, 0, count * 5)
  const ends = new Uint32Array(slot, count * 40, count + 1)
  const bytes = Buffer.from(slot)
  const digestsAt = count * 40 + (count + 1) * 4
  const keysAt = digestsAt + (hash ? count * 32 : 0)
  const key = (i: number): string => bytes.toString('utf8', keysAt + ends[i]!, keysAt + ends[i + 1]!)
  const digest = (i: number): string =>
    numbers[i * 5 + 2] === 3
      ? hashOfDecodedKey(key(i))
      : bytes.toString('hex', digestsAt + i * 32, digestsAt + i * 32 + 32)
  return { count, numbers, hash, slot, key, actual: i => (hash ? digest(i) : '') }
}

/**
 * The worker runs `scan` from its source (a bundle needs no extra file, and the ESM and CommonJS
 * builds share it; `__name` is the helper the bundler's keepNames wraps named functions in). Its
 * parts are declarations, so that each keeps the name the bundle gave it and `scan` calls it by.
 */
const workerSource = (): string => `
const __name = (f) => f
const { parentPort } = require('node:worker_threads')
const deps = { ...require('node:fs'), ...require('node:crypto'), join: require('node:path').join, inWorker: true }
const scan = ${scan.toString()}
${SCAN_PARTS.map(part => part.toString()).join('\n')}
const pack = ${pack.toString()}
const prefixKeys = ${prefixKeys.toString()}
parentPort.on('message', ({ id, job, slot }) => {
  try {
    const { keys, actual, numbers } = scan(job, { ...deps, sharding: prefixKeys(job.sharding) })
    parentPort.postMessage({ id, count: keys.length, slot: pack(slot, keys, actual, numbers) })
  } catch (err) {
    parentPort.postMessage({ id, slot, error: { message: err.message, code: err.code } })
  }
})
`

/** Worker threads running units, each answered in its own promise, into slots used again. */
export class Pool {
  private readonly workers: Worker[]
  private readonly pending = new Map<
    number,
    { resolve: (result: UnitResult) => void; reject: (err: unknown) => void; job: UnitJob }
  >()
  private readonly free: SharedArrayBuffer[] = []
  private nextId = 0
  private turn = 0

  constructor(readonly size: number) {
    this.workers = Array.from({ length: size }, () => {
      // (a young generation of 6 MB: by default it grows to 48 MB a worker while the walk allocates)
      // (and none of the process's flags: `--input-type=module` would make its script a module, without `require`)
      const worker = new Worker(workerSource(), {
        eval: true,
        execArgv: [],
        resourceLimits: { maxYoungGenerationSizeMb: 6 }
      })
      worker.on('message', message => {
        this.answer(message)
      })
      worker.on('error', err => {
        for (const p of this.pending.values()) p.reject(err)
      })
      return worker
    })
  }

  async run(job: UnitJob): Promise<UnitResult> {
    const id = this.nextId++
    const worker = this.workers[this.turn++ % this.workers.length]!
    const slot = this.free.pop() ?? new SharedArrayBuffer(SLOT_BYTES)
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, job })
      worker.postMessage({ id, job, slot })
    })
  }

  /** A unit's slot, free again: its consumer has read what it needs. */
  release(unit: UnitResult): void {
    if (unit.slot !== undefined) this.free.push(unit.slot)
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(async worker => await worker.terminate()))
  }

  private answer(message: {
    id: number
    count: number
    slot: SharedArrayBuffer
    error?: { message: string; code?: string }
  }): void {
    const waiting = this.pending.get(message.id)
    if (waiting === undefined) return
    this.pending.delete(message.id)
    if (message.error !== undefined) {
      this.free.push(message.slot)
      waiting.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
      return
    }
    waiting.resolve(unpack(message.slot, message.count, waiting.job.hash))
  }
}
