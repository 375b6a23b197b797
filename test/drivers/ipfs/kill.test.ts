// A kill -9 of the Kubo node under load, right after stores resolved, many times over: every store
// that was acknowledged before the kill must be there after a restart on the same repo (its bytes,
// its pin, its index entry, its time marker). Stores that were in flight at the kill may fail.
// SAI_TEST_IPFS_KILL_ROUNDS sets the number of rounds (default 50).
import { describe, expect, it } from 'vitest'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { MfsIndex } from '../../../src/drivers/ipfs/mfs-index.js'
import type { StorageResult } from '../../../src/core/types.js'
import { testJpeg } from '../../../src/testing/index.js'
import { addRaw, keepTrailers, MiB, proxy, rpc, sha256, useKubo } from './helpers.js'

const ROUNDS = Number(process.env.SAI_TEST_IPFS_KILL_ROUNDS ?? 50)
const node = useKubo()

interface Acknowledged {
  bytes: Buffer
  result: StorageResult
}

/**
 * `count` frames of about `size` bytes whose SHA-256 share the first byte (the index's top folder,
 * as stores into one busy folder do), from `seed`.
 */
function framesInOneFolder(seed: string, count: number, size: (i: number) => number): Buffer[] {
  const frames: Buffer[] = []
  let top: string | undefined
  for (let n = 0; frames.length < count; n++) {
    const frame = testJpeg(`${seed} ${n}`, size(frames.length))
    const first = sha256(frame).slice(0, 2)
    top ??= first
    if (first === top) frames.push(frame)
  }
  return frames
}

/**
 * A proxy's hook that holds each `files/flush` until `count` of them wait or 20 ms passed, then
 * lets them all go: flushes that meet at the node, as those of stores that end together do.
 */
function flushesTogether(count: number): (path: string) => Promise<void> | undefined {
  const waiting: Array<() => void> = []
  let timer: NodeJS.Timeout | undefined
  const release = (): void => {
    clearTimeout(timer)
    timer = undefined
    for (const go of waiting.splice(0)) go()
  }
  return path => {
    if (path !== '/api/v0/files/flush') return undefined
    return new Promise<void>(resolve => {
      waiting.push(resolve)
      if (waiting.length >= count) release()
      else timer ??= setTimeout(release, 20)
    })
  }
}

/**
 * A batch of stores started together (half of them into one top folder), through a proxy that
 * makes their flushes meet, and in some rounds two writers that keep storing: once
 * every store of the batch resolved, the node is killed in the same tick, restarted when the
 * requests in flight have failed, and what was acknowledged returned.
 */
async function storeUntilKilled(round: number, indexPath: string): Promise<Acknowledged[]> {
  const count = 8 + (round % 9)
  const via = await proxy(node.url, { before: flushesTogether(count), trailers: keepTrailers })
  const storage = new IpfsDriver({ url: via.url, timeoutMs: 10_000, indexPath })
  const seed = `kill ${round} ${Date.now()}`
  // small frames of about one size, so that their flushes meet; now and then one over 1 MiB
  const size = (i: number): number =>
    i === 0 && round % 5 === 4 ? MiB + round : 2000 + ((round * 7919 + i * 1297) % 3000)
  const half = Math.floor(count / 2)
  const batch = [
    ...framesInOneFolder(seed, half, size),
    ...Array.from({ length: count - half }, (_, i) => testJpeg(`${seed} other ${i}`, size(half + i)))
  ]
  const acknowledged: Acknowledged[] = []
  let crashed: Promise<void> | undefined
  const kill = (): void => {
    crashed ??= node.crash(async () => await Promise.allSettled([...stores, ...load]))
  }
  const store = async (bytes: Buffer): Promise<void> => {
    try {
      acknowledged.push({ bytes, result: await storage.store(bytes) })
    } catch (err) {
      if (crashed === undefined) throw err // a store failed before the kill: a bug, not the kill
      expect(err).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    }
  }
  const stores = batch.map(async bytes => await store(bytes))
  const load =
    round % 4 < 2
      ? []
      : [0, 1].map(async w => {
          for (let i = 0; crashed === undefined; i++) await store(testJpeg(`${seed} load ${w} ${i}`, 3000 + i))
        })
  await Promise.all(stores)
  kill()
  await Promise.all(load)
  await crashed
  await storage.close()
  await via.close()
  return acknowledged
}

/** What is wrong with an acknowledged store after the restart (nothing: an empty list). */
async function problemsOf(storage: IpfsDriver, indexPath: string, { bytes, result }: Acknowledged): Promise<string[]> {
  const problems: string[] = []
  const fetched = await storage.fetch(result.hash).catch((err: Error) => err)
  if (fetched instanceof Error) problems.push(`fetch: ${fetched.message}`)
  else if (!fetched.equals(bytes)) problems.push('fetch: other bytes')
  if (!(await storage.exists(result.hash))) problems.push('not pinned')
  const entry = await rpc(node.url, 'files/stat', {
    arg: new MfsIndex(indexPath, undefined as never).entryOf(result.sha256),
    hash: true
  })
  if (entry.json?.Hash !== result.hash) problems.push(`index entry: ${entry.message ?? entry.json?.Hash}`)
  const stat = await storage.stat(result.sha256).catch((err: Error) => err)
  if (stat instanceof Error) problems.push(`stat: ${stat.message}`)
  else {
    if (stat.lastStoredAt?.getTime() !== result.storedAt.getTime())
      problems.push(`lastStoredAt: ${String(stat.lastStoredAt?.toISOString())}`)
    if (stat.storedAt?.getTime() !== result.storedAt.getTime())
      problems.push(`storedAt: ${String(stat.storedAt?.toISOString())}`)
  }
  return problems
}

describe('a kill -9 of the node under load', () => {
  it(`every store acknowledged before the kill is intact, pinned, indexed and timed after a restart (${ROUNDS} rounds)`, async () => {
    const failures: string[] = []
    let checked = 0
    for (let round = 0; round < ROUNDS; round++) {
      // a fresh index in every other round: the first stores into it make every folder of their path
      const indexPath = round % 4 < 2 ? `/kill-${round}` : '/sai-images'
      const acknowledged = await storeUntilKilled(round, indexPath)
      expect(acknowledged.length).toBeGreaterThanOrEqual(4)
      const after = new IpfsDriver({ url: node.url, indexPath })
      for (const stored of acknowledged) {
        const problems = await problemsOf(after, indexPath, stored)
        if (problems.length > 0)
          failures.push(`round ${round}, ${stored.result.sha256} (${stored.bytes.length} B): ${problems.join('; ')}`)
        checked++
      }
      await after.close()
    }
    expect(checked).toBeGreaterThanOrEqual(4 * ROUNDS)
    expect(failures).toEqual([])
  }, 600_000)
})

describe('the index changes other than a store survive a kill -9 right after they resolve', () => {
  it('reindex: the entries it counts as indexed', async () => {
    const images = [0, 1, 2].map(i => testJpeg(`reindexed ${i} ${Date.now()}`, i === 0 ? MiB + 11 : 4000 + i))
    const cids = await Promise.all(
      images.map(async image => await addRaw(node.url, image, { trickle: false, 'max-file-links': 174 }))
    )
    const indexPath = `/reindexed-${Date.now()}`
    const storage = new IpfsDriver({ url: node.url, indexPath })
    expect((await storage.reindex()).indexed).toBeGreaterThanOrEqual(3)
    await storage.close()
    await node.crash()
    for (const [i, image] of images.entries()) {
      expect(
        (
          await rpc(node.url, 'files/stat', {
            arg: new MfsIndex(indexPath, undefined as never).entryOf(sha256(image)),
            hash: true
          })
        ).json?.Hash
      ).toBe(cids[i])
    }
  })

  it('deleteIfNotRenewed: the entry it puts back for a store that ran during its removal', async () => {
    const indexPath = `/put-back-${Date.now()}`
    const image = testJpeg(`put back ${Date.now()}`, 5000)
    const storage = new IpfsDriver({ url: node.url, indexPath })
    const first = await storage.store(image)
    // the prune's removal of the entry waits until a store of the same bytes has resolved
    let removing!: () => void
    const removalHeld = new Promise<void>(resolve => {
      removing = resolve
    })
    let stored!: () => void
    const storeDone = new Promise<void>(resolve => {
      stored = resolve
    })
    const held = await proxy(node.url, {
      trailers: keepTrailers,
      before: path => {
        if (path !== '/api/v0/files/rm') return undefined
        removing()
        return storeDone
      }
    })
    const pruner = new IpfsDriver({ url: held.url, indexPath })
    const pruned = pruner.deleteIfNotRenewed(first.sha256, first.storedAt)
    await removalHeld
    await new Promise(resolve => setTimeout(resolve, 5))
    expect((await storage.store(image)).isDuplicate).toBe(true)
    stored()
    expect(await pruned).toBe(false)
    await Promise.all([storage.close(), pruner.close(), held.close()])
    await node.crash()
    expect(
      (
        await rpc(node.url, 'files/stat', {
          arg: new MfsIndex(indexPath, undefined as never).entryOf(first.sha256),
          hash: true
        })
      ).json?.Hash
    ).toBe(first.hash)
    expect(await new IpfsDriver({ url: node.url, indexPath }).exists(first.hash)).toBe(true)
  })
})
