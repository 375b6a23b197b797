// The IPFS driver on a Kubo node of this file's own: CIDs, refs, the SHA-256 index from the
// outside, the factory, CommonJS and the migrate command.
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver, parseIpfsRef } from '../../../src/drivers/ipfs/index.js'
import { cidOf } from '../../../src/drivers/ipfs/cid.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { toInferenceFields } from '../../../src/core/inference-fields.js'
import { testJpeg } from '../../../src/testing/index.js'
import { consumerApp } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { MiB, sha256, useKubo } from './helpers.js'

const node = useKubo()
const cli = new URL('../../../dist/cli.js', import.meta.url).pathname

describe('IpfsDriver on Kubo', () => {
  const driver = (): IpfsDriver => new IpfsDriver({ url: node.url })

  it.each([
    ['1 B', 1],
    ['1 MiB', MiB],
    ['1 MiB + 1 B', MiB + 1],
    ['5 MB', 5_000_000]
  ])('computes the same CID as the node for %s', async (_name, size) => {
    const storage = driver()
    const bytes =
      size < 700 ? Buffer.from([0xff, 0xd8, 0xff].slice(0, size)) : testJpeg(`parity ${size} ${Date.now()}`, size)
    const local = await cidOf(bytes, sha256(bytes))
    const result = await storage.store(bytes, { allowNonImage: true })
    expect(result.hash).toBe(local)
    expect(result.hash).toMatch(size <= MiB ? /^bafkrei/ : /^bafybei/)
    expect(result.sha256).toBe(sha256(bytes))
    expect(result.path).toBe(`ipfs://${local}`)
    expect(Buffer.compare(await storage.fetch(result.hash), bytes)).toBe(0)
    // streamed in pieces, one across the end of the first chunk (whose SHA-256 comes from the input's pass)
    const pieces = async function* (): AsyncGenerator<Buffer> {
      for (let at = 0; at < bytes.length; at += 65_537) yield bytes.subarray(at, at + 65_537)
    }
    expect((await storage.store(pieces(), { allowNonImage: true })).hash).toBe(local)
  })

  it('answers in CIDv1 base32 whatever spelling it is given', async () => {
    const storage = driver()
    const big = await storage.store(testJpeg(`v0 ${Date.now()}`, 2 * MiB))
    const { CID } = await import('multiformats/cid')
    const v0 = CID.parse(big.hash).toV0().toString()
    expect(v0).toMatch(/^Qm/)
    expect(parseIpfsRef(v0).cid).toBe(big.hash)
    expect(storage.pathOf(v0)).toBe(big.path)
    expect(await storage.exists(v0)).toBe(true)
  })

  it('a SHA-256 hex finds every image, over 1 MiB too, through the index; stat, list and toInferenceFields carry the SHA-256', async () => {
    const storage = driver()
    const small = testJpeg(`hex small ${Date.now()}`, 10_000)
    await storage.store(small)
    expect((await storage.fetch(sha256(small))).length).toBe(small.length)
    const large = testJpeg(`hex large ${Date.now()}`, MiB + 100)
    const stored = await storage.store(large)
    expect(stored.hash).toMatch(/^bafybei/)
    expect(Buffer.compare(await storage.fetch(sha256(large)), large)).toBe(0)
    expect(await storage.exists(sha256(large))).toBe(true)
    expect(await storage.stat(sha256(large))).toMatchObject({
      hash: stored.hash,
      sha256: sha256(large),
      size: large.length,
      mimeType: 'image/jpeg',
      lastStoredAt: stored.storedAt
    })
    // by its CID: the bytes tell
    expect(await storage.stat(stored.hash)).toMatchObject({ hash: stored.hash, sha256: sha256(large) })
    expect(toInferenceFields(stored)).toEqual({ image_hash: sha256(large), image_path: `ipfs://${stored.hash}` })
    const listed = []
    for await (const entry of storage.list()) if (entry.hash === stored.hash) listed.push(entry)
    expect(listed).toEqual([
      {
        hash: stored.hash,
        sha256: sha256(large),
        key: stored.hash,
        path: stored.path,
        url: `ipfs://${stored.hash}`,
        size: large.length,
        lastStoredAt: stored.storedAt
      }
    ])
  })

  it('delete unpins: exists is false, and the next store is not a duplicate', async () => {
    const storage = driver()
    const jpeg = testJpeg(`unpin ${Date.now()}`)
    const { hash } = await storage.store(jpeg)
    expect(await storage.delete(hash)).toBe(true)
    expect(await storage.exists(hash)).toBe(false)
    expect((await storage.store(jpeg)).isDuplicate).toBe(false)
  })

  it('gives a gateway URL that serves the image, and says when none is configured', async () => {
    const jpeg = testJpeg(`gateway ${Date.now()}`)
    const { hash } = await new IpfsDriver({ url: node.url }).store(jpeg)
    const url = new IpfsDriver({ url: node.url, gatewayUrl: `${node.gatewayUrl}/` }).url(hash)
    expect(url).toBe(`${node.gatewayUrl}/ipfs/${hash}`)
    expect(Buffer.compare(Buffer.from(await (await fetch(url)).arrayBuffer()), jpeg)).toBe(0)
    expect(() => driver().url(hash)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
  })

  it('works from CommonJS: the built package loads the ESM-only importer (images over 1 MiB) with import()', async () => {
    const app = await consumerApp(['consumer-ipfs.cjs'])
    const out = execFileSync(process.execPath, ['consumer-ipfs.cjs', node.url], { cwd: app, encoding: 'utf8' })
    expect(JSON.parse(out)).toMatchObject({
      ok: true,
      small: expect.stringMatching(/^bafkrei/),
      large: expect.stringMatching(/^bafybei/)
    })
  })

  it('is chosen by the factory with SAI_IMAGE_STORAGE_DRIVER=ipfs', async () => {
    const fromEnv = createImageStorage(
      {},
      { SAI_IMAGE_STORAGE_DRIVER: 'ipfs', SAI_IPFS_API_URL: node.url, SAI_IPFS_TIMEOUT_MS: '5000' }
    )
    expect(fromEnv).toBeInstanceOf(IpfsDriver)
    expect((await fromEnv.store(testJpeg(`factory ${Date.now()}`))).path).toMatch(/^ipfs:\/\/bafkrei/)
  })

  it('stops a fetch over maxBytes mid-answer (ERR_TOO_LARGE) and fetches again on the same connections', async () => {
    const big = testJpeg(`too large ${Date.now()}`, 300_000)
    const small = testJpeg(`small enough ${Date.now()}`, 20_000)
    const { hash: bigCid } = await driver().store(big)
    const { hash: smallCid } = await driver().store(small)
    const limited = new IpfsDriver({ url: node.url, maxBytes: 100_000 })
    for (let i = 0; i < 3; i++) {
      await expect(limited.fetch(bigCid)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
      expect(Buffer.compare(await limited.fetch(smallCid), small)).toBe(0)
    }
  })

  it('rejects refs no IPFS image can have', async () => {
    for (const ref of ['bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '../etc', 'ab'.repeat(4)]) {
      await expect(driver().exists(ref)).rejects.toMatchObject({ code: 'ERR_INVALID_REF' })
    }
  })
})

describe('sai-images migrate with the IPFS driver', () => {
  it('--from fs --to ipfs copies, verifies on the node, maps sha256 to CID, and resumes', async () => {
    const root = await tempDir()
    const fs = new FilesystemDriver({ root })
    const images = [testJpeg(`migrate small ${Date.now()}`, 40_000), testJpeg(`migrate large ${Date.now()}`, 3 * MiB)]
    for (let i = 0; i < 10; i++) images.push(testJpeg(`migrate ${i} ${Date.now()}`, 5000))
    for (const image of images) await fs.store(image)
    const mapping = join(await tempDir(), 'migrate.jsonl')
    const run = (...extra: string[]): string =>
      execFileSync(
        process.execPath,
        [cli, 'migrate', '--from', 'fs', '--to', 'ipfs', '--root', root, '--mapping', mapping, '--json', ...extra],
        { env: { ...process.env, SAI_IPFS_API_URL: node.url }, encoding: 'utf8' }
      )
    expect(JSON.parse(run('--dry-run'))).toMatchObject({ wouldCopy: 12, alreadyCopied: 0 })
    expect(JSON.parse(run())).toMatchObject({ total: 12, done: 12, failed: [], interrupted: false })
    const entries = (await readFile(mapping, 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
      .filter(entry => entry.checkpoint === undefined && entry.mapping === undefined)
    expect(entries).toHaveLength(12)
    const storage = new IpfsDriver({ url: node.url })
    for (const entry of entries) {
      expect(entry.path).toBe(`ipfs://${entry.hash}`)
      const bytes = await storage.fetch(entry.hash)
      expect(sha256(bytes)).toBe(entry.sha256)
      expect(entry.hash.startsWith(bytes.length > MiB ? 'bafybei' : 'bafkrei')).toBe(true)
    }
    expect(JSON.parse(run())).toMatchObject({ total: 12, done: 0, skipped: 12 })
  })

  it('--from ipfs --to fs resumes by the source CID, objects over 1 MiB included', async () => {
    await new IpfsDriver({ url: node.url }).store(testJpeg(`migrate back large ${Date.now()}`, 2 * MiB))
    const root = await tempDir()
    const mapping = join(await tempDir(), 'back.jsonl')
    const run = (): { total: number; done: number; skipped: number; failed: unknown[] } =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [cli, 'migrate', '--from', 'ipfs', '--to', 'fs', '--to-root', root, '--mapping', mapping, '--json'],
          { env: { ...process.env, SAI_IPFS_API_URL: node.url }, encoding: 'utf8' }
        )
      )
    const first = run()
    expect(first).toMatchObject({ failed: [], done: first.total, skipped: 0 })
    const entries = (await readFile(mapping, 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
      .filter(entry => entry.mapping === undefined)
    expect(entries.some(entry => entry.source.startsWith('bafybei'))).toBe(true)
    expect(run()).toMatchObject({ total: first.total, done: 0, skipped: first.total })
    expect((await new FilesystemDriver({ root }).verify()).problems).toEqual([])
  })
})

describe('IpfsDriver configuration', () => {
  it.each([
    ['SAI_IPFS_API_URL', 'ftp://node'],
    ['SAI_IPFS_API_URL', 'not a url'],
    ['SAI_IPFS_TIMEOUT_MS', 'soon'],
    ['SAI_IPFS_GATEWAY_URL', '://'],
    ['SAI_IPFS_AUTH', 's3cr3t with spaces']
  ])('a malformed %s is ERR_CONFIG naming it, without echoing the value', (name, value) => {
    const error = (() => {
      try {
        createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 'ipfs', [name]: value })
      } catch (err) {
        return err
      }
    })() as Error
    expect(error).toMatchObject({ code: 'ERR_CONFIG', variable: name })
    if (name !== 'SAI_IPFS_TIMEOUT_MS') expect(error.message).not.toContain(value)
  })
})
