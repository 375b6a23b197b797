/**
 * A store on S3 (store.ts): one writer per image, against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { fresh, useBucket, init } from './helpers.js'

useBucket()

describe('a store on S3 (store.ts): one writer per image', () => {
  it(
    'three processes storing one new image at once: exactly one writes it ' +
      '(If-None-Match), the others are duplicates',
    async () => {
      for (let round = 0; round < 3; round++) {
        const storage = fresh()
        const seed = `s3 race ${round} ${Date.now()}`
        const startAt = Date.now() + 1500
        const children = [0, 1, 2].map(() =>
          startChild('race', { s3: { ...init, prefix: storage.prefix }, seed, size: 300_000, count: 2, startAt })
        )
        expect(await Promise.all(children.map(async c => await c.done))).toEqual([0, 0, 0])
        const results = children.flatMap(c => c.lines())
        expect(results).toHaveLength(6)
        expect(results.filter(r => r.isDuplicate === false)).toHaveLength(1)
        expect(Buffer.compare(await storage.fetch(results[0].sha256), testJpeg(seed, 300_000))).toBe(0)
      }
    }
  )
})
