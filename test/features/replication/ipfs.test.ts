// Replication from a filesystem primary to a real Kubo node: copies addressed by SHA-256 on both
// sides, healing from the node, eviction that checks the node's copy first, and a reconcile that
// lists the node's index (a few requests, none per object).
import { createHash, randomUUID } from 'node:crypto'
import { createServer, request } from 'node:http'
import { readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { useKubo } from '../../drivers/ipfs/helpers.js'
import { startKubo } from '../../infra/kubo/node.mjs'
import { asHost } from './helpers.js'

const DAY = 24 * 3600 * 1000
// a node of its own: a replica's listing holds every pin on the node, and other files' would be extra copies; its
// flatfs syncs, as a replica's must for an eviction to count its copies
const node = useKubo({ flatfsSync: true })
let made = 0
// every pair's primary is one host: the node's owner mark is the node's, and each test makes a new primary
const HOST = randomUUID()

/** A filesystem primary (this file's one host) and an IPFS replica on the node, in an index folder of its own. */
async function pair(
  url = node.url
): Promise<{ storage: ReplicatedStorage; primary: FilesystemDriver; replica: IpfsDriver }> {
  const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
  await asHost(primary.root, HOST)
  const replica = new IpfsDriver({ url, indexPath: `/sai-replication-${made++}` })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'kubo', storage: replica }],
    background: false
  })
  return { storage, primary, replica }
}

/** An HTTP proxy in front of the node that counts the RPC commands it passes. */
async function countingProxy(to: string): Promise<{ url: string; commands: Map<string, number>; close: () => void }> {
  const target = new URL(to)
  const commands = new Map<string, number>()
  const server = createServer((req, res) => {
    const command = new URL(req.url ?? '/', 'http://x').pathname.replace('/api/v0/', '')
    commands.set(command, (commands.get(command) ?? 0) + 1)
    req.pipe(
      request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        answer => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
    )
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    commands,
    close: () => {
      server.close()
    }
  }
}

describe('replication to a real Kubo node', () => {
  it(
    'a drain pins each frame on the node; the copy is found by its ' +
      'SHA-256, byte for byte, also a 3 MB one (a DAG)',
    async () => {
      const { storage, replica } = await pair()
      const frames = [testJpeg('kubo small', 40_000), testJpeg('kubo large', 3_000_000)]
      const stored = []
      for (const frame of frames) stored.push(await storage.store(frame))
      expect(await storage.drain()).toMatchObject({ copied: 2, failed: [], pending: 0 })
      for (const [i, frame] of frames.entries()) {
        expect(Buffer.compare(await replica.fetch(stored[i]!.sha256), frame)).toBe(0)
        const where = await storage.whereis(stored[i]!.hash)
        expect(where.copies).toMatchObject([
          { name: 'primary', present: true },
          { name: 'kubo', present: true, how: 'upload' }
        ])
      }
      await storage.close()
    }
  )

  it(
    'a deleted and a flipped primary copy are healed from the ' + 'node on the next fetch, with the exact bytes',
    async () => {
      const { storage, primary } = await pair()
      const frames = [testJpeg('kubo heal deleted', 60_000), testJpeg('kubo heal flipped', 1_500_000)]
      const stored = []
      for (const frame of frames) stored.push(await storage.store(frame))
      await storage.drain()
      await unlink(stored[0]!.path)
      const bytes = await readFile(stored[1]!.path)
      bytes[1_200_000] ^= 0x04
      await writeFile(stored[1]!.path, bytes)
      for (const [i, frame] of frames.entries()) {
        expect(Buffer.compare(await storage.fetch(stored[i]!.hash), frame)).toBe(0)
        expect(Buffer.compare(await primary.fetch(stored[i]!.hash), frame)).toBe(0) // written back
      }
      expect(storage.status().heals.healed).toBe(2)
      await storage.close()
    }
  )

  it(
    'evict frees the primary only where the node serves the right bytes now: not ' +
      'where its index points at other bytes, nor where the copy is gone',
    async () => {
      const { storage, primary, replica } = await pair()
      // over 1 MiB: found through the index alone
      const frames = [0, 1, 2].map(i => testJpeg(`kubo evict ${i}`, 1_200_000))
      const stored = []
      for (const frame of frames) stored.push(await storage.store(frame))
      await storage.drain()
      const old = new Date(Date.now() - 40 * DAY)
      for (const s of stored) await utimes(s.path, old, old)
      // the node's index entry of frame 1 made to point at frame 0's CID (a hand-edited or damaged index)
      const url = node.url
      const { index } = replica as unknown as { index: { entryOf: (sha: string) => string } }
      const entry = `${index.entryOf(stored[1]!.sha256)}`
      const cid0 = (await replica.stat(stored[0]!.sha256)).hash
      for (const [command, args] of [
        ['files/rm', [entry]],
        ['files/cp', [`/ipfs/${cid0}`, entry]]
      ] as const) {
        const answer = await fetch(
          `${url}/api/v0/${command}?${args.map(a => `arg=${encodeURIComponent(a)}`).join('&')}`,
          { method: 'POST' }
        )
        expect(answer.status, await answer.text()).toBe(200)
      }
      await replica.delete(stored[2]!.sha256)
      const report = await storage.evict({ olderThan: 30 * DAY })
      expect(report).toMatchObject({ evicted: 1, unsafe: 2 })
      expect(report.unsafeObjects.map(u => u.copies.kubo).sort()).toEqual(['ERR_INTEGRITY', 'missing'])
      expect(await Promise.all(stored.map(async s => await primary.exists(s.hash)))).toEqual([false, true, true])
      // the evicted frame is served from the node, verified; the others from the primary, unchanged
      for (const [i, frame] of frames.entries())
        expect(Buffer.compare(await storage.fetch(stored[i]!.hash), frame)).toBe(0)
      await storage.close()
    }
  )

  it("evict refuses, reading and deleting nothing, when the node's flatfs does not sync (Kubo's default): a copy it just made would not survive a power cut, and the primary's would be gone", async () => {
    const unsynced = await startKubo({ binary: inject('kuboBinary') })
    try {
      const { storage, primary } = await pair(unsynced.url)
      const { sha256, path } = await storage.store(testJpeg('kubo evict unsynced'))
      await storage.drain()
      const old = new Date(Date.now() - 40 * DAY)
      await utimes(path, old, old)
      for (const dryRun of [true, false]) {
        const refused = storage.evict({ olderThan: 30 * DAY, dryRun })
        await expect(refused).rejects.toMatchObject({ code: 'ERR_CONFIG', setting: 'replicas' })
        await expect(refused).rejects.toThrow(/kubo would not keep its copies through a power cut: set "sync": true/)
      }
      expect(await primary.exists(sha256)).toBe(true)
      await storage.close()
    } finally {
      await unsynced.stop()
    }
  })

  it('ack: 2 counts no copy on a node whose flatfs does not sync: the store fails, its frame queued on the primary', async () => {
    const unsynced = await startKubo({ binary: inject('kuboBinary') })
    try {
      const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
      await asHost(primary.root, HOST)
      const replica = new IpfsDriver({ url: unsynced.url, indexPath: `/sai-replication-${made++}` })
      const storage = createReplicatedStorage({
        primary,
        replicas: [{ name: 'kubo', storage: replica }],
        background: false,
        ack: 2,
        ackTimeoutMs: 5000
      })
      const jpeg = testJpeg('ack 2 on an unsynced node')
      for (let attempt = 0; attempt < 2; attempt++) {
        const refused = storage.store(jpeg) // the second: a duplicate, refused alike
        await expect(refused).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
        await expect(refused).rejects.toThrow(/kubo would not keep its copy through a power cut: set "sync": true/)
      }
      expect(storage.status().replicas[0]!.pending).toBe(1)
      expect(await replica.exists(createHash('sha256').update(jpeg).digest('hex'))).toBe(false) // not even tried
      await storage.close()
    } finally {
      await unsynced.stop()
    }
  })

  it("reconcile lists the node's index, reading no object: what the outbox lost is found and copied", async () => {
    // the raw pins the earlier tests left on the node (outside this pair's index) are listed as extra copies
    const pins = (await (await fetch(`${node.url}/api/v0/pin/ls?type=recursive`, { method: 'POST' })).json()) as {
      Keys: Record<string, unknown>
    }
    const extra = Object.keys(pins.Keys).filter(cid => cid.startsWith('bafkrei')).length
    const proxy = await countingProxy(node.url)
    try {
      const { storage, primary, replica } = await pair(proxy.url)
      const stored = []
      for (let i = 0; i < 30; i++) stored.push(await storage.store(testJpeg(`kubo reconcile ${i}`)))
      await storage.drain()
      // 10 more, whose outbox entries are lost
      for (let i = 30; i < 40; i++) stored.push(await storage.store(testJpeg(`kubo reconcile ${i}`)))
      await rm(join(primary.root, '.replication', 'outbox'), { recursive: true })
      proxy.commands.clear()
      const report = await storage.reconcile()
      expect(report).toMatchObject({
        primary: 40,
        belowWantedCopies: 10 + extra,
        replicas: [{ name: 'kubo', missing: 10, present: 30, extra }]
      })
      const requests = [...proxy.commands.values()].reduce((a, b) => a + b, 0)
      expect(requests).toBeLessThanOrEqual(8) // a stat of the index, a few batched ls, the pin list
      for (const command of proxy.commands.keys()) expect(command).toMatch(/^(files\/stat|ls|pin\/ls)$/)
      await storage.drain()
      for (const s of stored) expect(await replica.exists(s.sha256)).toBe(true)
      expect(await storage.reconcile()).toMatchObject({ belowWantedCopies: extra })
      await storage.close()
    } finally {
      proxy.close()
    }
  })
})
