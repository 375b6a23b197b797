// One primary per Kubo node (drivers/ipfs/marks.ts): an IPFS replica is the whole node (its listing,
// verify and prune cover every pin on it), so its owner mark is the node's, `/.sai-image-storage/owner.json`
// in MFS, whatever the index path. Before, the mark was per index folder: host B with another index
// path on A's node was let in, and A's prune unpinned a frame B had evicted (B's fetch: ERR_NOT_FOUND).
// Now B is refused at its first write, naming A, before anything is written; a node whose marks an
// older version left in an index folder keeps that owner, whichever host upgrades first.
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { createReplicatedStorage, type ReplicatedStorage, takeOver } from '../../../src/features/replication/index.js'
import { prune } from '../../../src/features/retention/prune.js'
import { testJpeg } from '../../../src/testing/index.js'
import { rpc, useKubo } from '../../drivers/ipfs/helpers.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const node = useKubo({ flatfsSync: true }) // a node of this file's own: each test empties it first
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

interface Host {
  storage: ReplicatedStorage
  primary: FilesystemDriver
  replica: IpfsDriver
}

async function host(indexPath: string, root?: string): Promise<Host> {
  const primary = new FilesystemDriver({ root: root ?? (await tempDir('sai-ipfs-owner')) })
  const replica = new IpfsDriver({ url: node.url, indexPath, timeoutMs: 10_000 })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'kubo', storage: replica }],
    background: false
  })
  return { storage, primary, replica }
}

const idOf = async (h: Host): Promise<string> =>
  JSON.parse(await readFile(join(h.primary.root, '.replication', 'host-id'), 'utf8')).id

/** No pins and an empty MFS: a node as new. */
async function emptyNode(): Promise<void> {
  for (const cid of Object.keys((await rpc(node.url, 'pin/ls', { type: 'recursive' })).json.Keys ?? {}))
    await rpc(node.url, 'pin/rm', { arg: cid })
  for (const entry of (await rpc(node.url, 'files/ls', { arg: '/' })).json.Entries ?? [])
    await rpc(node.url, 'files/rm', { arg: `/${entry.Name}`, recursive: true })
}

/** Every file in the node's MFS and every pin: what a refused host must leave as it was. */
async function everything(dir = '/'): Promise<string[]> {
  const files: string[] = []
  for (const entry of (await rpc(node.url, 'files/ls', { arg: dir, long: true })).json.Entries ?? []) {
    const path = `${dir === '/' ? '' : dir}/${entry.Name}`
    if (entry.Type === 1) files.push(...(await everything(path)))
    else files.push(path)
  }
  if (dir !== '/') return files
  const pins = Object.keys((await rpc(node.url, 'pin/ls', { type: 'recursive' })).json.Keys ?? {})
  return [...files, ...pins.map(cid => `pin ${cid}`)].sort()
}

/** Moves the node's mark into the index folder `indexPath`, as builds before the node mark kept it: its text. */
async function asAnOlderBuildLeftIt(indexPath: string): Promise<string> {
  const mark = (await rpc(node.url, 'files/read', { arg: '/.sai-image-storage/owner.json' })).text
  await rpc(node.url, 'files/mkdir', { arg: `${indexPath}/.marks`, parents: true })
  await rpc(node.url, 'files/mv', { arg: ['/.sai-image-storage/owner.json', `${indexPath}/.marks/owner.json`] })
  await rpc(node.url, 'files/rm', { arg: '/.sai-image-storage', recursive: true })
  return mark
}

describe('two primaries, each with its own index path, on one Kubo node', () => {
  it('the second is refused at every call that would write, naming the first; the first loses nothing', async () => {
    await emptyNode()
    const a = await host('/host-a')
    const b = await host('/host-b')
    const shared = testJpeg('shared frame')
    await a.storage.store(shared)
    await a.storage.store(testJpeg('a only'))
    expect(await a.storage.drain()).toMatchObject({ copied: 2, pending: 0 })
    const aId = await idOf(a)
    const before = await everything()
    expect(before.filter(f => f.includes('owner.json'))).toEqual(['/.sai-image-storage/owner.json'])
    expect(JSON.parse((await b.replica.marks.read('owner.json'))!)).toMatchObject({ id: aId })

    const refusal = {
      code: 'ERR_CONFIG',
      message: expect.stringMatching(
        new RegExp(
          `replica kubo \\(${node.url} MFS /\\.sai-image-storage/\\) belongs to another primary: ${hostname()} ` +
            `\\(host id ${aId}.*its own Kubo node.*take-over --from ${aId}`
        )
      )
    }
    // the order: B stores the shared frame and one of its own, evicts them, A prunes; B is refused first
    await expect(b.storage.store(shared)).rejects.toMatchObject(refusal)
    await expect(b.storage.store(testJpeg('b only'))).rejects.toMatchObject(refusal)
    await expect(b.storage.drain()).rejects.toMatchObject(refusal)
    await expect(b.storage.reconcile()).rejects.toMatchObject(refusal)
    await expect(b.storage.verify({ repair: true, force: true })).rejects.toMatchObject(refusal)
    await expect(b.storage.evict({ olderThan: 0 })).rejects.toMatchObject(refusal)
    await expect(b.storage.delete(sha256(shared))).rejects.toMatchObject(refusal)
    expect(await readdir(join(b.primary.root, '.replication'))).toEqual(['host-id']) // its identity, nothing else
    // B's prune lists A's frames from the node with no store time in B's index: it chooses none, deletes nothing
    // (its stats of them read the node, as any read may: reads are not refused)
    expect(await prune(b.storage, { olderThan: 0, minAgeMs: 0 })).toMatchObject({ examined: 2, deleted: 0 })
    expect(await everything()).toEqual(before)

    // A: verify clean (no frame of another host read as missing), evict, then every frame fetchable
    expect((await a.storage.verify()).problems).toEqual([])
    expect(await a.storage.evict({ olderThan: 0 })).toMatchObject({ evicted: 2, unsafe: 0 })
    for (const frame of [shared, testJpeg('a only')])
      expect(sha256(await a.storage.fetch(sha256(frame)))).toBe(sha256(frame))
    for (const h of [a, b]) await h.storage.close()
  }, 60_000)

  it('four primaries with four index paths marking one new node at the same moment: exactly one wins', async () => {
    await emptyNode()
    const hosts = await Promise.all([0, 1, 2, 3].map(async i => await host(`/race-${i}`)))
    const results = await Promise.allSettled(hosts.map(async h => await h.storage.store(testJpeg('race'))))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results.filter(r => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CONFIG' })
    const winner = hosts[results.findIndex(r => r.status === 'fulfilled')]!
    expect(JSON.parse((await hosts[0]!.replica.marks.read('owner.json'))!)).toMatchObject({ id: await idOf(winner) })
    expect((await everything()).filter(f => f.includes('owner.json'))).toEqual(['/.sai-image-storage/owner.json'])
    for (const h of hosts) await h.storage.close()
  }, 60_000)

  // a path whose first folder has a shard's name (two hex digits) too: the search passes over an index's shard folders
  // only, not every folder so named
  it.each(['/old/index-a', '/ca/frames'])(
    'a node whose owner an older version marked in its index folder (%s) keeps that owner after the upgrade',
    async indexPath => {
      await emptyNode()
      const a = await host(indexPath)
      await a.storage.store(testJpeg('stored before the upgrade'))
      expect(await a.storage.drain()).toMatchObject({ copied: 1, pending: 0 })
      await a.storage.close()
      const mark = await asAnOlderBuildLeftIt(indexPath)

      // a new host with another index path upgrades first: refused, naming A
      const c = await host('/host-c')
      const aId = JSON.parse(mark).id
      await expect(c.storage.store(testJpeg('c'))).rejects.toMatchObject({
        code: 'ERR_CONFIG',
        message: expect.stringContaining(`host id ${aId}`)
      })
      // the old mark is the node's now; A, upgraded, carries on
      expect((await rpc(node.url, 'files/read', { arg: '/.sai-image-storage/owner.json' })).text).toBe(mark)
      const again = await host(indexPath, a.primary.root)
      await again.storage.store(testJpeg('stored after the upgrade'))
      expect(await again.storage.drain()).toMatchObject({ copied: 1, pending: 0 })
      expect((await again.storage.verify()).problems).toEqual([])
      for (const h of [c, again]) await h.storage.close()
    },
    60_000
  )

  it('a rebuilt host takes over a node whose owner an older build marked in its index folder', async () => {
    await emptyNode()
    const a = await host('/index')
    const frame = testJpeg('the old host stored it')
    await a.storage.store(frame)
    expect(await a.storage.drain()).toMatchObject({ copied: 1, pending: 0 })
    await a.storage.close()
    const aId = JSON.parse(await asAnOlderBuildLeftIt('/index')).id
    // A's disk dies; the rebuilt host (a new identity, the same index path) is refused until it takes over
    const d = await host('/index')
    await expect(d.storage.store(testJpeg('d'))).rejects.toMatchObject({ code: 'ERR_CONFIG' })
    const { replicas } = await takeOver(d.storage, aId)
    expect(replicas).toMatchObject([{ state: 'other', owner: { id: aId } }])
    const dId = await idOf(d)
    expect(JSON.parse((await d.replica.marks.read('owner.json'))!)).toMatchObject({
      id: dId,
      takenOverFrom: { id: aId }
    })
    expect((await everything()).filter(f => f.includes('owner.json'))).toEqual([
      '/.sai-image-storage/owner.json',
      '/.sai-image-storage/owner.json.1',
      '/index/.marks/owner.json' // the older build's, left as it was
    ])
    expect((await d.storage.verify({ repair: true, force: true })).problems).toMatchObject([
      { copy: 'primary', reason: 'missing', action: 'restored' }
    ])
    expect(sha256(await d.primary.fetch(sha256(frame)))).toBe(sha256(frame))
    await d.storage.close()
  }, 60_000)
})
