// Kubo itself, as the driver meets it: the test node dials nothing outside loopback, a node on the
// unixfs-v1-2025 profile gives our CIDs, what a resolved store survives (kill -9; the flatfs sync
// the driver reports), and how Kubo treats flags it does not know.
import { randomBytes } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { cidOf } from '../../../src/drivers/ipfs/cid.js'
import { testJpeg } from '../../../src/testing/index.js'
import { flatfsMount, startKubo, type KuboNode } from '../../infra/kubo/node.mjs'
import { ensureDebianPackages } from '../../infra/setup/services.js'
import { addRaw, MiB, rpc, sha256, useKubo } from './helpers.js'

const binary = (): string => inject('kuboBinary')

/** Every IPv4/IPv6 address a traced connect, bind or send named (strace -e trace=…). */
async function addressesIn(trace: string): Promise<string[]> {
  const text = await readFile(trace, 'utf8')
  return [...text.matchAll(/inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"/g)].map(
    match => match[1] ?? match[2]!
  )
}
const loopback = (address: string): boolean =>
  /^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address)

describe('the Kubo test node', () => {
  it('dials nothing outside loopback (traced), while a default `ipfs init` node would', async () => {
    ensureDebianPackages('/usr/bin/strace', ['strace'], 'the IPFS test that traces what Kubo dials')
    const trace = join(tmpdir(), `sai-kubo-trace-${process.pid}-${Date.now()}`)
    const strace = (file: string, inject = false): string[] => [
      'strace',
      '-f',
      '-qq',
      '--seccomp-bpf',
      '-e',
      'trace=connect,bind,sendto,sendmsg,sendmmsg',
      ...(inject ? ['-e', 'inject=connect,sendto,sendmsg,sendmmsg:error=ENETUNREACH'] : []),
      '-o',
      file
    ]
    const isolated = await startKubo({ binary: binary(), command: strace(`${trace}-test`) })
    try {
      const storage = new IpfsDriver({ url: isolated.url, timeoutMs: 3000 })
      const image = testJpeg(`isolated ${Date.now()}`, MiB + 3)
      const stored = await storage.store(image)
      expect(Buffer.compare(await storage.fetch(stored.sha256), image)).toBe(0)
      // a CID the node does not have, asked online: the node would look for it on the network if it could
      const absent = await rpc(isolated.url, 'block/stat', {
        arg: 'bafkreigaknpexyvxt76zgkitavbwx6ejgfheup5oybpm77f3pxzrvwpfdi',
        timeout: '2s'
      })
      expect(absent.message).toMatch(/context deadline exceeded|not found/)
      expect((await rpc(isolated.url, 'swarm/peers')).json).toMatchObject({ Peers: null })
      await new Promise(resolve => setTimeout(resolve, 2000))
    } finally {
      await rpc(isolated.url, 'shutdown')
      await isolated.stop()
    }
    const seen = await addressesIn(`${trace}-test`)
    expect(seen.length).toBeGreaterThan(0) // the API and gateway listeners were traced
    expect(seen.filter(address => !loopback(address))).toEqual([])

    // the same trace of a node from a plain `ipfs init` (its dials made to fail at once: nothing leaves)
    const plain = await startKubo({
      binary: binary(),
      defaults: true,
      config: config => ({ ...config, Addresses: { ...config.Addresses, Swarm: ['/ip4/127.0.0.1/tcp/0'] } }),
      command: strace(`${trace}-plain`, true)
    })
    try {
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline && (await addressesIn(`${trace}-plain`)).every(loopback))
        await new Promise(resolve => setTimeout(resolve, 200))
    } finally {
      await rpc(plain.url, 'shutdown')
      await plain.stop()
    }
    expect((await addressesIn(`${trace}-plain`)).filter(address => !loopback(address)).length).toBeGreaterThan(0)
    await Promise.all([rm(`${trace}-test`, { force: true }), rm(`${trace}-plain`, { force: true })])
  }, 60_000)
})

describe('a node on the unixfs-v1-2025 profile (1024 links per node)', () => {
  const node = useKubo({ profiles: ['unixfs-v1-2025'] })

  it('gives the same CIDs as ours, a file over 174 MiB included, because max-file-links=174 is sent', async () => {
    const big = randomBytes(174 * MiB + 1) // one link more than a node of 174 links holds
    const ours = await cidOf(big)
    // the node's own defaults give another CID: what the driver got before it sent the flag
    expect(await addRaw(node.url, big, { 'cid-version': 1, pin: false })).not.toBe(ours)
    const storage = new IpfsDriver({ url: node.url, maxBytes: 200 * MiB, timeoutMs: 120_000 })
    const stored = await storage.store(big, { allowNonImage: true })
    expect(stored.hash).toBe(ours)
    for (const size of [1000, MiB + 1, 3 * MiB]) {
      const jpeg = testJpeg(`profile ${size} ${Date.now()}`, size)
      expect((await storage.store(jpeg)).hash).toBe(await cidOf(jpeg, sha256(jpeg)))
    }
    await storage.delete(stored.hash)
    await rpc(node.url, 'repo/gc')
  }, 120_000)

  it('Kubo ignores a flag it does not know (so a Kubo before 0.35, which has no max-file-links, uses its fixed 174)', async () => {
    const bytes = testJpeg(`unknown flag ${Date.now()}`, MiB + 5)
    expect(await addRaw(node.url, bytes, { trickle: false, 'max-file-linkz': 174, 'max-file-links': 174 })).toBe(
      await cidOf(bytes)
    )
  })
})

describe('what a resolved store survives', () => {
  const node = useKubo()

  it('a kill -9 of the node right after stores resolved: every entry, marker and pin is there after the restart', async () => {
    const storage = new IpfsDriver({ url: node.url })
    const stored = await Promise.all(
      [0, 1, 2, 3].map(
        async i => await storage.store(testJpeg(`crash ${i} ${Date.now()}`, i % 2 === 0 ? MiB + i : 9000 + i))
      )
    )
    await node.crash()
    const after = new IpfsDriver({ url: node.url })
    for (const result of stored) {
      expect(await after.exists(result.sha256)).toBe(true)
      expect((await after.stat(result.sha256)).lastStoredAt).toEqual(result.storedAt)
    }
    const listed = new Set<string>()
    for await (const entry of after.list()) listed.add(entry.hash)
    expect(stored.every(result => listed.has(result.hash))).toBe(true)
  })

  it('(why a store flushes before it resolves: Kubo loses an unflushed MFS change on kill -9)', async () => {
    expect(
      (await rpc(node.url, 'files/cp', { arg: ['/ipfs/bafkqaaa', '/unflushed-probe'], flush: false })).status
    ).toBe(200)
    await node.crash()
    expect((await rpc(node.url, 'files/stat', { arg: '/unflushed-probe' })).message).toBe('file does not exist')
  })

  it("durability() reads the node's flatfs sync: false on a default node (with the advice), true once the advice is applied", async () => {
    const storage = new IpfsDriver({ url: node.url })
    const reported = await storage.durability()
    expect(reported).toMatchObject({
      powerCutSafe: false,
      blocks: 'flatfs',
      flatfsSync: false,
      advice: expect.stringContaining('"sync": true')
    })
    // the advice, as it says: Datastore.Spec.mounts[0].sync = true, then a restart
    const config = JSON.parse(await readFile(join(node.repo, 'config'), 'utf8'))
    expect(config.Datastore.Spec.mounts[0]).toBe(flatfsMount(config))
    config.Datastore.Spec.mounts[0].sync = true
    await writeFile(join(node.repo, 'config'), JSON.stringify(config, null, 2))
    await node.restart()
    expect(await storage.durability()).toEqual({ powerCutSafe: true, blocks: 'flatfs', flatfsSync: true })
    expect((await storage.store(testJpeg(`synced ${Date.now()}`))).isDuplicate).toBe(false)
  })

  it('the first store on a node whose flatfs does not sync warns once per node (IPFS_NOT_POWER_CUT_SAFE, with the advice); on a synced node none', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error): void => {
      if ((warning as { code?: string }).code === 'IPFS_NOT_POWER_CUT_SAFE') warnings.push(warning)
    }
    process.on('warning', onWarning)
    const storeTwice = async (url: string): Promise<void> => {
      for (const i of [0, 1]) {
        const storage = new IpfsDriver({ url })
        await storage.store(testJpeg(`warned ${i} ${Date.now()}`))
        await storage.close() // the check runs beside the first store; close waits for it
      }
      await new Promise(resolve => setImmediate(resolve)) // a warning is emitted on the next tick
    }
    let synced: KuboNode | undefined
    let unsynced: KuboNode | undefined
    try {
      synced = await startKubo({ binary: binary(), flatfsSync: true })
      await storeTwice(synced.url)
      expect(warnings).toEqual([])
      unsynced = await startKubo({ binary: binary() })
      await storeTwice(unsynced.url)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.message).toContain(unsynced.url)
      expect(warnings[0]!.message).toContain('"sync": true')
    } finally {
      process.off('warning', onWarning)
      await Promise.all([synced?.stop(), unsynced?.stop()])
    }
  })

  it('a node made with flatfs sync from the start reports it', async () => {
    let synced: KuboNode | undefined
    try {
      synced = await startKubo({ binary: binary(), flatfsSync: true })
      expect(await new IpfsDriver({ url: synced.url }).durability()).toMatchObject({
        powerCutSafe: true,
        flatfsSync: true
      })
    } finally {
      await synced?.stop()
    }
  })
})
