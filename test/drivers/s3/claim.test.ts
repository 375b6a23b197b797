/**
 * A prune's claims (claim.ts): renewal against a racing prune, against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { prune } from '../../../src/features/retention/prune.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { all, bucket, claimWindow, damage, forward, fresh, init, listen, raw, sha256, useBucket } from './helpers.js'

useBucket()

describe("a prune's claims (claim.ts): renewal against a racing prune", () => {
  it(
    'prune by age on S3, from the listing alone; stores racing in another process keep ' + 'every object they stored',
    async () => {
      const seen = { renewed: 0, deleted: 0, stores: 0 }
      for (let round = 0; round < 3; round++) {
        const storage = fresh()
        const seeds = Array.from({ length: 16 }, (_, i) => `s3 prune ${round} ${i} ${Date.now()}`)
        for (const seed of seeds) await storage.store(testJpeg(seed, 20_000))
        // Last-Modified is the server's, and cannot be set back: the objects are made old by waiting
        await new Promise(resolve => setTimeout(resolve, 2500))
        const restored = seeds.filter((_, i) => i % 2 === 0)
        const startAt = Date.now() + 300
        const storer = startChild('restore', {
          s3: { ...init, prefix: storage.prefix },
          seeds: restored,
          size: 20_000,
          startAt,
          until: startAt + 1500
        })
        await new Promise(resolve => setTimeout(resolve, startAt - Date.now()))
        const report = await prune(storage, { olderThan: 2000, minAgeMs: 0 })
        const code = await storer.done
        const stores = storer.lines()
        expect({ code, errors: stores.filter(s => s.error !== undefined) }).toEqual({ code: 0, errors: [] })
        expect(stores.length).toBeGreaterThan(0)
        // every image whose store resolved is there, intact
        for (const seed of restored) {
          const jpeg = testJpeg(seed, 20_000)
          if (stores.some(s => s.sha256 === sha256(jpeg)))
            expect(Buffer.compare(await storage.fetch(sha256(jpeg)), jpeg)).toBe(0)
        }
        // those never stored again are gone
        for (const seed of seeds.filter((_, i) => i % 2 === 1))
          expect(await storage.exists(sha256(testJpeg(seed, 20_000)))).toBe(false)
        expect(report.deleted).toBeGreaterThanOrEqual(8)
        expect((await storage.verify()).clean).toBe(true) // no claim left behind
        seen.renewed += report.renewed
        seen.deleted += report.deleted
        seen.stores += stores.length
      }
      console.log(
        `s3 prune race: ${seen.stores} stores during 3 prunes; ${seen.deleted} deleted, ` +
          `${seen.renewed} found renewed and kept`
      )
    }
  )

  it(
    'a duplicate store moves Last-Modified to a later second, so that a prune comparing ' +
      'whole seconds always sees it',
    async () => {
      const storage = fresh()
      const jpeg = testJpeg(`renewal second ${Date.now()}`, 5000)
      const first = await storage.store(jpeg)
      const before = (await storage.stat(first.hash)).lastStoredAt!
      expect((await storage.store(jpeg)).isDuplicate).toBe(true) // at once: within the same second, most often
      const after = (await storage.stat(first.hash)).lastStoredAt!
      expect(Math.floor(after.getTime() / 1000)).toBeGreaterThan(Math.floor(before.getTime() / 1000))
      // and a prune that listed it before the renewal keeps it
      expect(await storage.deleteIfNotRenewed(first.hash, before)).toBe(false)
      expect(await storage.exists(first.hash)).toBe(true)
      expect(await storage.deleteIfNotRenewed(first.hash, after)).toBe(true)
    }
  )

  it('a store that replaces a damaged object while a prune of it is under way keeps the new object', async () => {
    const storer = fresh()
    const jpeg = testJpeg(`replaced under a prune ${Date.now()}`, 20_000)
    const { hash } = await storer.store(jpeg)
    await damage(storer, hash, 100)
    await new Promise(resolve => setTimeout(resolve, 1100)) // the damaged object's second is over
    const [listed] = await all(storer.list())
    // a proxy that holds the prune's delete of the object (not of its claim) until the test lets it go
    let held: (() => void) | undefined
    let reached!: () => void
    const deleting = new Promise<void>(resolve => (reached = resolve))
    const proxy = createServer((req, res) => {
      if (req.method === 'DELETE' && req.url?.includes('.jpg') === true && !req.url.includes('.pruning')) {
        held = () => forward(req, res)
        reached()
      } else forward(req, res)
    })
    servers.push(proxy)
    const pruner = fresh({ endpoint: `http://127.0.0.1:${await listen(proxy)}`, prefix: storer.prefix })
    const pruning = pruner.deleteIfNotRenewed(hash, listed!.lastStoredAt!)
    await deleting // the prune has claimed it and read its time: the damaged object's
    const storing = storer.store(jpeg) // replaces the damaged object, then finds the claim and waits
    await new Promise(resolve => setTimeout(resolve, 300))
    held!()
    expect(await pruning).toBe(true) // it deleted what it saw as the damaged object
    expect((await storing).isDuplicate).toBe(false)
    expect((await storer.fetch(hash)).equals(jpeg)).toBe(true)
  })
})

describe("a prune's claims judged by the gateway's clock, and a prune held up past its window", () => {
  const skewed = ['faketime', '-f', '+120s'] // a host whose clock is two minutes ahead: a real process, its clock off

  it('a duplicate store on a host whose clock is ahead waits for a live prune, then stores again', async () => {
    const storer = fresh()
    const seed = `skewed store ${Date.now()}`
    const jpeg = testJpeg(seed, 20_000)
    const { hash } = await storer.store(jpeg)
    await new Promise(resolve => setTimeout(resolve, 1100)) // the store's second is over
    const [listed] = await all(storer.list())
    const { url, release, reached } = await holding(req => req.method === 'DELETE' && isObject(req.url))
    const pruning = fresh({ endpoint: url, prefix: storer.prefix }).deleteIfNotRenewed(hash, listed!.lastStoredAt!)
    await reached // claimed, its time read: the delete held
    const child = startChild('store', { s3: { ...init, prefix: storer.prefix }, seed, size: 20_000 }, skewed)
    // time for the store's renewal to find the claim, a second old: two minutes by the child's clock
    const early = await Promise.race([child.done, new Promise(resolve => setTimeout(() => resolve('waiting'), 3000))])
    release()
    expect(await pruning).toBe(true)
    expect(await child.done).toBe(0)
    expect(early).toBe('waiting')
    expect(child.lines()).toEqual([expect.objectContaining({ sha256: hash, isDuplicate: false })]) // written anew
    expect((await storer.fetch(hash)).equals(jpeg)).toBe(true)
  })

  it("verify --repair on a host whose clock is ahead leaves a live prune's claim", async () => {
    const storage = fresh()
    const claim = `${storage.prefix}.pruning/${'ab'.repeat(32)}`
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: claim, Body: Buffer.alloc(0) }))
    const child = startChild('verify', { s3: { ...init, prefix: storage.prefix }, repair: true }, skewed)
    expect(await child.done).toBe(0)
    expect(child.lines()).toEqual([expect.objectContaining({ clean: true, problems: [] })])
    expect(await exists(claim)).toBe(true)
  })

  it('a prune held up for half the window between its claim and its delete gives up and keeps the object', async () => {
    const storer = fresh()
    const jpeg = testJpeg(`stalled prune ${Date.now()}`, 20_000)
    const { hash } = await storer.store(jpeg)
    await new Promise(resolve => setTimeout(resolve, 1100))
    const [listed] = await all(storer.list())
    // the prune's HEAD of the object answered 1.2 s late: past half of a 2 s window
    const { url, release } = await holding(req => req.method === 'HEAD' && isObject(req.url))
    const pruner = fresh({ endpoint: url, prefix: storer.prefix })
    const pruning = claimWindow(pruner, 2000).deleteIfNotRenewed(
      storer.prefix + storer.keyOf(hash),
      hash,
      listed!.lastStoredAt!
    )
    setTimeout(release, 1200)
    expect(await pruning).toBe(false)
    expect((await storer.fetch(hash)).equals(jpeg)).toBe(true)
    expect(await exists(`${storer.prefix}.pruning/${hash}`)).toBe(false) // dropped: nothing was sent
  })

  it('a prune whose delete is not answered within the window fails, and keeps its claim for stores to wait out', async () => {
    const storer = fresh()
    const { hash } = await storer.store(testJpeg(`unanswered delete ${Date.now()}`, 20_000))
    await new Promise(resolve => setTimeout(resolve, 1100))
    const [listed] = await all(storer.list())
    const { url, release } = await holding(req => req.method === 'DELETE' && isObject(req.url))
    const pruner = fresh({ endpoint: url, prefix: storer.prefix })
    const key = storer.prefix + storer.keyOf(hash)
    const pruning = claimWindow(pruner, 2000).deleteIfNotRenewed(key, hash, listed!.lastStoredAt!)
    await expect(pruning).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    release()
    // the delete may still land: a store must not take the claim for gone before the window is over
    expect(await exists(`${storer.prefix}.pruning/${hash}`)).toBe(true)
  })
})

const isObject = (url: string | undefined): boolean => url?.includes('.jpg') === true && !url.includes('.pruning')
const exists = async (key: string): Promise<boolean> =>
  await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    () => false
  )

/** A proxy to the gateway that holds the requests `held` picks until the test releases them. */
async function holding(
  held: (req: IncomingMessage) => boolean
): Promise<{ url: string; release: () => void; reached: Promise<void> }> {
  const waiting: (() => void)[] = []
  let released = false
  let reached!: () => void
  const first = new Promise<void>(resolve => (reached = resolve))
  const proxy = createServer((req, res) => {
    if (released || !held(req)) return forward(req, res)
    waiting.push(() => forward(req, res))
    reached()
  })
  servers.push(proxy)
  const release = (): void => {
    released = true
    for (const go of waiting.splice(0)) go()
  }
  return { url: `http://127.0.0.1:${await listen(proxy)}`, release, reached: first }
}

const servers: Server[] = []
afterAll(() => {
  for (const server of servers) server.close()
})
