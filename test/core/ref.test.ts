import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { InvalidRefError } from '../../src/core/errors.js'
import { parseImageRef, sha256ToCid } from '../../src/core/ref.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'

const hex = createHash('sha256').update('x').digest('hex')

describe('parseImageRef', () => {
  it('accepts SHA-256 hex in either case and the CIDv1 (raw, sha2-256) of the same digest', () => {
    expect(parseImageRef(hex)).toEqual({ sha256: hex })
    expect(parseImageRef(hex.toUpperCase())).toEqual({ sha256: hex })
    const cid = sha256ToCid(hex)
    expect(cid).toMatch(/^bafkrei[a-z2-7]{52}$/)
    expect(parseImageRef(cid)).toEqual({ sha256: hex })
  })

  it.each([
    ['too short', hex.slice(1)],
    ['too long', hex + '0'],
    ['not hex', 'z' + hex.slice(1)],
    ['traversal', `../${hex.slice(3)}`],
    ['a slash', `${hex.slice(0, 2)}/${hex.slice(3)}`],
    ['NUL', `${hex.slice(1)}\0`],
    ['with extension', `${hex}.jpg`],
    ['whitespace', ` ${hex}`],
    ['fullwidth digits', '０'.repeat(64)],
    ['CIDv0 (dag-pb)', 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'],
    ['CIDv1 dag-pb', 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'],
    ['CIDv1 identity hash', 'bafkqaaa'],
    ['empty', ''],
    ['a number', 42],
    ['null', null]
  ])('rejects %s with ERR_INVALID_REF', (_name, ref) => {
    expect(() => parseImageRef(ref)).toThrow(InvalidRefError)
    expect(() => parseImageRef(ref)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REF' }))
  })
})

describe('fuzzed refs never reach the filesystem outside the root', () => {
  it('5000 fuzzed refs: each is rejected, or names a path inside the root', async () => {
    const base = await tempDir()
    const root = join(base, 'store')
    const sentinel = join(base, 'sentinel.jpg')
    await writeFile(sentinel, 'must survive')
    const storage = new FilesystemDriver({ root })
    const kept = await storage.store(testJpeg('fuzz kept'))
    const alphabet = '0123456789abcdefABCDEF./\\\0%~ -_:bafkreiQm'
    const random = (length: number): string =>
      Array.from(randomBytes(length), b => alphabet[b % alphabet.length]).join('')
    const mutate = (ref: string): string => {
      const at = randomBytes(1)[0]! % ref.length
      const inserts = ['../', '/', '\0', '..', '%2e%2e%2f', sep, '', ref[at]!.toUpperCase()]
      return ref.slice(0, at) + inserts[randomBytes(1)[0]! % inserts.length] + ref.slice(at + 1)
    }
    let rejected = 0
    let accepted = 0
    for (let i = 0; i < 5000; i++) {
      const ref =
        i % 3 === 0 ? random(randomBytes(1)[0]! % 80) : mutate(i % 2 === 0 ? kept.hash : sha256ToCid(kept.hash))
      let path: string
      try {
        path = storage.pathOf(ref)
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidRefError)
        for (const call of [storage.exists, storage.fetch, storage.stat, storage.delete]) {
          await expect((call as (ref: string) => Promise<unknown>).call(storage, ref)).rejects.toBeInstanceOf(
            InvalidRefError
          )
        }
        rejected++
        continue
      }
      accepted++
      expect(path.startsWith(root + sep)).toBe(true)
      expect(path).toMatch(/\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/)
    }
    expect(rejected).toBeGreaterThan(4000)
    expect(accepted).toBeGreaterThan(0) // an upper-cased hex digit is still the same ref
    expect(await readFile(sentinel, 'utf8')).toBe('must survive')
    expect(await storage.exists(kept.hash)).toBe(true)
  })
})
