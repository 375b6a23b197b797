/**
 * The behaviour every `ImageStorage` driver must have, as one suite: ours run it (filesystem,
 * memory, S3, IPFS, replicated), and so can yours. Works with vitest and Jest: pass their
 * `describe`, `it` and `expect`, or leave them out where they are globals.
 *
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest'
 * import { describeImageStorage } from 'sai-image-storage/testing'
 *
 * describeImageStorage({ name: 'my driver', create: () => new MyDriver() }, { describe, it, expect })
 * ```
 */
import { createHash, randomUUID } from 'node:crypto'
import type { ImageStorage } from '../../core/types.js'
import { testJpeg as makeJpeg, testPng as makePng } from '../images.js'
import { damageCases } from './damage.js'
import { listCases } from './list.js'
import { lostCases } from './lost.js'
import { marksCases } from './marks.js'
import { readCases } from './read.js'
import { storeCases } from './store.js'

export interface TestApi {
  describe: (name: string, body: () => void) => void
  it: (name: string, body: () => Promise<void>, timeout?: number) => void
  expect: any
}

export interface ConformanceInit {
  name: string
  /** A new, empty store for one test. */
  create: () => ImageStorage | Promise<ImageStorage>
  /** Removes what `create` made. Default: `storage.close()`. */
  destroy?: (storage: ImageStorage) => Promise<void>
  /** Per-test timeout in ms, for drivers behind a network. Default: the runner's. */
  timeout?: number
  /**
   * Damages the stored object behind the outside of the driver (a writer that died, bit rot):
   * leaves 0 bytes under its name, or its first `keep` bytes. Without it, the damage cases are skipped.
   */
  damage?: (storage: ImageStorage, hash: string, keep: number) => Promise<void>
  /**
   * The same store opened with another layout (as a wrong SAI_IMAGE_STORAGE_SHARD_DEPTH would), for
   * the storm case: a repair through it must change nothing. Without it, that case is skipped.
   */
  withLayout?: (storage: ImageStorage, layout: { depth: number; width: number }) => ImageStorage | Promise<ImageStorage>
}

/** What the cases of one part of the suite are given. */
export interface Suite {
  init: ConformanceInit
  expect: any
  /** A test on a new store, closed (or destroyed) afterwards. */
  test: (name: string, body: (storage: ImageStorage) => Promise<void>) => void
  testJpeg: (seed: string, size?: number) => Buffer
  testPng: (seed: string) => Buffer
  countObjects: (storage: ImageStorage) => Promise<number>
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

export async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield new Uint8Array(bytes.subarray(at, at + size))
}

export const BAD_REFS = [
  '',
  '..',
  '../../etc/passwd',
  '/etc/passwd',
  'a'.repeat(63),
  'a'.repeat(65),
  'g'.repeat(64),
  `${'a'.repeat(62)}/x`,
  `${'a'.repeat(63)}\0`,
  `..${'a'.repeat(62)}`,
  'a'.repeat(64) + '.jpg',
  'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', // dag-cbor
  'not a ref'
]

export function describeImageStorage(init: ConformanceInit, api: TestApi = globalThis as unknown as TestApi): void {
  const test = (name: string, body: (storage: ImageStorage) => Promise<void>): void => {
    api.it(
      name,
      async () => {
        const storage = await init.create()
        try {
          await body(storage)
        } finally {
          await (init.destroy ?? (async s => await s.close()))(storage)
        }
      },
      init.timeout
    )
  }
  // The store may be shared and long-lived (a real IPFS node): images are unique to this run, and
  // counts are taken before and after rather than assumed to start at zero.
  const run = randomUUID()
  const suite: Suite = {
    init,
    expect: api.expect,
    test,
    testJpeg: (seed, size) => makeJpeg(`${run} ${seed}`, size),
    testPng: seed => makePng(`${run} ${seed}`),
    countObjects: async storage => {
      let count = 0
      for await (const _ of storage.list()) count++
      return count
    }
  }
  api.describe(`ImageStorage conformance: ${init.name}`, () => {
    storeCases(suite)
    readCases(suite)
    listCases(suite)
    damageCases(suite)
    lostCases(suite)
    marksCases(suite)
  })
}
