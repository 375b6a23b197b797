// Copies counted from every source of truth, as an operator meets them through the CLI on the real
// filesystem: a lost last copy is never "clean" (verify, verify --subset, replicate, status,
// whereis), a repair with a wrong layout or an empty root changes nothing, a repair claims only
// the restores it made, status exits non-zero per condition, and a second copier says who holds the lock.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const DAY = 24 * 3600 * 1000

async function replicated(
  count: number
): Promise<{ env: Record<string, string>; root: string; copy: string; hashes: string[] }> {
  const root = await tempDir('sai-primary')
  const copy = await tempDir('sai-copy')
  const env = { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: copy }
  const storage = new FilesystemDriver({ root })
  const hashes = []
  for (let i = 0; i < count; i++) hashes.push((await storage.store(testJpeg(`copies ${root} ${i}`, 5000))).hash)
  // stored outside the replicated store: the outbox learns of them from the reconcile
  expect(cli(['replicate'], { env }).code).toBe(0)
  return { env, root, copy, hashes }
}

/** The first frame aged and evicted: its replica copy is the last one. */
async function evictFirst(env: Record<string, string>, root: string, hash: string): Promise<void> {
  const path = new FilesystemDriver({ root }).pathOf(hash)
  await utimes(path, new Date(Date.now() - 40 * DAY), new Date(Date.now() - 40 * DAY))
  expect(answer(cli(['evict', '--older-than', '30d', '--json'], { env }))).toMatchObject({ evicted: 1 })
}

async function flip(path: string): Promise<void> {
  const bytes = await readFile(path)
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 1
  await writeFile(path, bytes)
}

describe('migrate of a replicated store', () => {
  it('takes the frames evicted from the primary from its replica: every frame reaches the target', async () => {
    const { env, root, hashes } = await replicated(3)
    await evictFirst(env, root, hashes[0]!)
    const target = await tempDir('sai-target')
    const mapping = join(await tempDir(), 'migrate.jsonl')
    const run = cli(['migrate', '--from', 'fs', '--to', 'fs', '--to-root', target, '--mapping', mapping], { env })
    expect(run.code).toBe(0)
    const moved = new FilesystemDriver({ root: target })
    for (const hash of hashes) expect({ hash, there: await moved.exists(hash) }).toEqual({ hash, there: true })
  })
})

describe('a lost last copy is never "clean"', () => {
  it(
    'evicted, then its replica copy deleted: verify, verify --subset, replicate and status say lost, ' +
      'exit non-zero; whereis MISSING',
    async () => {
      const { env, root, copy, hashes } = await replicated(3)
      await evictFirst(env, root, hashes[0]!)
      await rm(new FilesystemDriver({ root: copy }).pathOf(hashes[0]!))
      for (const args of [['verify'], ['verify', '--subset', '0/1']]) {
        const run = cli([...args, '--json'], { env })
        expect({ args, code: run.code }).toEqual({ args, code: 1 })
        const report = answer(run)
        expect(report).toMatchObject({ clean: false, copies: { lost: 1, belowWanted: 1 } })
        expect(report.problems).toContainEqual(
          expect.objectContaining({ reason: 'lost', key: expect.stringContaining(hashes[0]!) })
        )
        expect(cli(args, { env }).stdout).toMatch(/1 frame LOST: no good copy is left anywhere/)
      }
      const status = cli(['status', '--json'], { env })
      expect(status.code).toBe(13)
      expect(answer(status)).toMatchObject({
        lost: 1,
        belowWantedCopies: 1,
        // only the loss: "below the wanted copies" would advise a `replicate` that cannot help
        alerts: [expect.objectContaining({ condition: 'lost', exit: 13 })]
      })
      expect(cli(['status'], { env }).stdout).toMatch(/ALERT \(exit 13\): 1 frame LOST/)
      const replicate = cli(['replicate', '--json'], { env })
      expect(replicate.code).toBe(1)
      expect(answer(replicate)).toMatchObject({ lost: 1 })
      expect(cli(['whereis', hashes[0]!], { env }).stdout).toMatch(/fs\s+MISSING/)
      // a read says what happened, not only "not found" (still ERR_NOT_FOUND, exit 1)
      const fetched = cli(['fetch', hashes[0]!, '--json'], { env })
      expect(fetched.code).toBe(1)
      expect(answer(fetched, 'stderr').error).toMatchObject({
        code: 'ERR_NOT_FOUND',
        message: expect.stringContaining('evicted from the primary, and no copy holds it any more: the frame is LOST')
      })
    }
  )

  it(
    'a replicated frame removed from every copy by hand: lost in verify, replicate and status at every pass, ' +
      'until `delete` forgets it; a frame deleted through the store is never lost',
    async () => {
      const { env, root, copy, hashes } = await replicated(3)
      expect(cli(['delete', hashes[1]!], { env }).code).toBe(0) // on purpose, through the store
      for (const dir of [root, copy]) await rm(new FilesystemDriver({ root: dir }).pathOf(hashes[0]!))
      for (let pass = 0; pass < 2; pass++) {
        // each replicate's reconcile compacts the ledger: the record that knows the frame must outlive it
        const replicate = cli(['replicate', '--json'], { env })
        expect({ pass, code: replicate.code, lost: answer(replicate).lost }).toEqual({ pass, code: 1, lost: 1 })
        const run = cli(['verify', '--json'], { env })
        expect(run.code).toBe(1)
        expect(answer(run)).toMatchObject({ clean: false, copies: { lost: 1, belowWanted: 1 } })
        expect(answer(run).problems).toContainEqual(
          expect.objectContaining({ reason: 'lost', key: expect.stringContaining(hashes[0]!) })
        )
        expect(cli(['status'], { env }).code).toBe(13)
      }
      const fetched = cli(['fetch', hashes[0]!, '--json'], { env })
      expect(fetched.code).toBe(1)
      expect(answer(fetched, 'stderr').error.message).toContain(
        'once held by fs, and no copy holds it any more: the frame is LOST'
      )
      expect(cli(['delete', '--dry-run', hashes[0]!], { env }).code).toBe(1) // a dry run forgets nothing
      const forgotten = cli(['delete', hashes[0]!, '--json'], { env })
      expect(forgotten.code).toBe(0)
      expect(answer(forgotten).results).toEqual([expect.objectContaining({ action: 'forgotten (lost)', size: 0 })])
      expect(answer(cli(['verify', '--json'], { env }))).toMatchObject({ clean: true, copies: { lost: 0 } })
      expect(answer(cli(['replicate', '--json'], { env }))).toMatchObject({ lost: 0 })
      expect(cli(['status'], { env }).code).toBe(0)
      expect(cli(['delete', hashes[0]!], { env }).code).toBe(1) // forgotten: not found now
    }
  )

  it(
    'evicted, then its replica copy flipped: verify --subset re-hashes it and says lost; fetch is ' +
      'ERR_INTEGRITY (exit 4); the damage is kept: a plain verify, whereis and status say so',
    async () => {
      const { env, root, copy, hashes } = await replicated(2)
      await evictFirst(env, root, hashes[0]!)
      await flip(new FilesystemDriver({ root: copy }).pathOf(hashes[0]!))
      const run = cli(['verify', '--subset', '0/1', '--json'], { env })
      expect(run.code).toBe(1)
      const report = answer(run)
      expect(report).toMatchObject({ clean: false, copies: { lost: 1 } })
      expect(report.problems).toContainEqual(expect.objectContaining({ reason: 'corrupt', copy: 'fs' }))
      expect(report.checked).toBeGreaterThanOrEqual(2) // the primary's frame and the replica's good copy of it
      const fetched = cli(['fetch', hashes[0]!, '-o', join(await tempDir('sai-out'), `${hashes[0]}.out`)], { env })
      expect(fetched.code).toBe(4)
      expect(fetched.stderr).toContain('no good copy')
      // the damage found is kept (the ledger's `damaged`): a plain verify, which reads no replica copy back,
      // still counts the frame lost, whereis names the copy DAMAGED, and status exits 13
      const plain = cli(['verify', '--json'], { env })
      expect(plain.code).toBe(1)
      expect(answer(plain)).toMatchObject({ clean: false, copies: { lost: 1 } })
      const where = cli(['whereis', hashes[0]!], { env })
      expect(where.code).toBe(1)
      expect(where.stdout).toMatch(/fs\s+DAMAGED/)
      expect(cli(['status'], { env }).code).toBe(13)
      // the reconcile (replicate's, the service's), which goes by listings, counts the damaged copy as none: its
      // newer scan never tells status "0 lost"
      for (let pass = 0; pass < 2; pass++) {
        const replicate = cli(['replicate', '--json'], { env })
        expect({ pass, code: replicate.code, lost: answer(replicate).lost }).toEqual({ pass, code: 1, lost: 1 })
        expect(cli(['status'], { env }).code).toBe(13)
      }
    }
  )

  it('a replica copy a subset found damaged is no good copy until a repair copies it again', async () => {
    const { env, copy, hashes } = await replicated(1)
    await flip(new FilesystemDriver({ root: copy }).pathOf(hashes[0]!))
    expect(cli(['verify', '--subset', '0/1'], { env }).code).toBe(1)
    const plain = cli(['verify', '--json'], { env })
    expect(plain.code).toBe(1)
    expect(answer(plain).problems).toContainEqual(expect.objectContaining({ reason: 'corrupt', copy: 'fs' }))
    expect(cli(['whereis', hashes[0]!], { env }).stdout).toMatch(/fs\s+DAMAGED/)
    expect(answer(cli(['verify', '--repair', '--json'], { env }))).toMatchObject({ clean: true, restored: 1 })
    expect(cli(['whereis', hashes[0]!], { env }).stdout).toMatch(/fs\s+present .*\(upload\)/)
    expect(cli(['verify', '--subset', '0/1'], { env }).code).toBe(0)
  })
})

describe('a damaged replica copy and the reconcile', () => {
  it('replicate counts a copy a verify found damaged as none, and copies it again', async () => {
    const { env, copy, hashes } = await replicated(1)
    const path = new FilesystemDriver({ root: copy }).pathOf(hashes[0]!)
    await flip(path)
    expect(cli(['verify', '--subset', '0/1'], { env }).code).toBe(1)
    const replicate = cli(['replicate', '--json'], { env })
    expect(replicate.code).toBe(0)
    expect(answer(replicate)).toMatchObject({ copied: 1, pending: 0, lost: 0 })
    expect(cli(['whereis', hashes[0]!], { env }).stdout).toMatch(/fs\s+present .*\(upload\)/)
    expect(cli(['verify', '--subset', '0/1'], { env }).code).toBe(0) // the copy is whole again
  })
})

describe('repairs that cannot do harm', () => {
  it(
    'a wrong SAI_IMAGE_STORAGE_SHARD_DEPTH: verify --repair changes nothing and says why in text and JSON, ' +
      'with and without replicas, with and without the layout record; --force is in help',
    async () => {
      for (const withReplica of [false, true])
        for (const withRecord of [true, false]) {
          const {
            env: base,
            root,
            hashes
          } = withReplica
            ? await replicated(21)
            : await (async () => {
                const root = await tempDir()
                const storage = new FilesystemDriver({ root })
                const hashes = []
                for (let i = 0; i < 21; i++)
                  hashes.push((await storage.store(testJpeg(`layout ${root} ${i}`, 3000))).hash)
                return { env: { SAI_IMAGE_STORAGE_PATH: root } as Record<string, string>, root, hashes }
              })()
          // a store of storage.py's has no record: its first shard folders tell its layout
          if (!withRecord) await rm(join(root, '.sai-layout.json'))
          const env = { ...base, SAI_IMAGE_STORAGE_SHARD_DEPTH: '3' }
          const json = cli(['verify', '--repair', '--json'], { env })
          const at = { withReplica, withRecord }
          // the store's layout refuses the setting outright (ERR_CONFIG), before any repair: the storm guard's
          // own wrong-layout case is the library's (test/drivers/fs/verify.test.ts)
          expect({ ...at, code: json.code }).toEqual({ ...at, code: 6 })
          expect(answer(json).error).toMatchObject({
            code: 'ERR_CONFIG',
            message: expect.stringContaining('SAI_IMAGE_STORAGE_SHARD_DEPTH')
          })
          expect(cli(['verify', '--repair'], { env }).stderr).toMatch(/shard depth 2 .* the settings say depth 3/)
          const listed = cli(['list', '--json'], { env: base })
          expect(listed.stdout.trim().split('\n')).toHaveLength(hashes.length)
          expect(cli(['quarantine', '--json'], { env: base }).stdout).toContain('"objects":0')
        }
      expect(cli(['help', 'verify']).stdout).toContain('--force')
    }
  )

  it('an emptied primary root with replicas: verify --repair refuses, naming the unmounted root', async () => {
    const { env, root } = await replicated(12)
    await rm(root, { recursive: true }) // a disk not mounted: an empty folder in its place
    await mkdir(root)
    // the state folder went with the root, and this primary's host id with it: the replica's owner mark
    // refuses first (owner.ts), before the storm guard would, and says why
    const run = cli(['verify', '--repair', '--json'], { env })
    expect(run.code).toBe(6)
    expect(run.stdout + run.stderr).toContain('an array that is not mounted?')
    // no frame restored into the empty folder (only the state folder, with this host's new id)
    expect((await readdir(root)).filter(name => !name.startsWith('.'))).toEqual([])
  })

  it('an intact frame in another shard folder, or under an upper-case name, in a replicated store: moved into place, not healed', async () => {
    const { env, root, hashes } = await replicated(2)
    const [moved, upper] = hashes.map(h => new FilesystemDriver({ root }).pathOf(h)) as [string, string]
    await mkdir(join(root, 'aa', 'bb'), { recursive: true })
    await rename(moved, join(root, 'aa', 'bb', `${hashes[0]}.jpg`))
    await rename(upper, join(dirname(upper), `${hashes[1]!.toUpperCase()}.jpg`))
    const run = cli(['verify', '--repair', '--json'], { env })
    expect(run.code).toBe(0)
    const report = answer(run)
    expect(report.problems.map((p: { reason: string; action: string }) => [p.reason, p.action])).toEqual([
      ['misplaced', 'moved'],
      ['misplaced', 'moved']
    ])
    expect(report).toMatchObject({ clean: true, copies: { belowWanted: 0, madeWhole: 2 } })
    // nothing healed over the moved copies: no quarantine entry of their intact bytes
    expect(answer(cli(['quarantine', '--json'], { env }))).toMatchObject({ objects: 0 })
    expect(answer(cli(['verify', '--json'], { env }))).toMatchObject({ clean: true, checked: 2 })
  })

  it('bytes that match no good source: a repair quarantines them and claims no restore', async () => {
    const { env, root } = await replicated(1)
    const bogus = join(root, '11', '11', `${'1'.repeat(64)}.jpg`)
    await mkdir(join(root, '11', '11'), { recursive: true })
    await writeFile(bogus, testJpeg('not 1111', 2000))
    const run = cli(['verify', '--repair', '--json'], { env })
    expect(run.code).toBe(1)
    const report = answer(run)
    expect(report).toMatchObject({ clean: false, restored: 0, quarantined: 1 })
    expect(report.problems.filter((p: { action?: string }) => p.action === 'restored')).toEqual([])
  })
})

describe('status and replicate for machines', () => {
  it('a failing replica exits 11; the next successful copy clears it, and status exits 0', async () => {
    const root = await tempDir('sai-primary')
    const copy = join(await tempDir(), 'not-yet')
    const env = { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: copy }
    expect(cli(['store', '-'], { env, input: testJpeg('failing', 3000) }).code).toBe(0)
    expect(cli(['replicate'], { env }).code).not.toBe(0)
    const failing = cli(['status', '--json'], { env })
    expect(answer(failing).replicas[0].failing).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    expect(failing.code).toBe(11)
    await mkdir(copy)
    expect(cli(['replicate'], { env }).code).toBe(0)
    const after = cli(['status', '--json'], { env })
    expect(answer(after).replicas[0].failing).toBeUndefined()
    expect(after.code).toBe(0)
  })

  it("a folder in one frame's place on the replica: replicate copies the others and names that frame, exit 1", async () => {
    const { env, root, copy } = await replicated(1)
    const frames = [1, 2].map(n => testJpeg(`one bad place ${root} ${n}`, 5000))
    const blocked = new FilesystemDriver({ root: copy }).pathOf(createHash('sha256').update(frames[0]!).digest('hex'))
    await mkdir(blocked, { recursive: true }) // a folder where the replica's copy would go
    // stored into the primary alone: the reconcile finds them, the drain copies what it can
    const [bad, good] = await Promise.all(frames.map(async f => await new FilesystemDriver({ root }).store(f)))
    const run = cli(['replicate'], { env })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('1 copy made, 1 pending')
    expect(run.stdout).toContain(`copy to fs failed: ${bad!.hash}: ERR_STORAGE_UNAVAILABLE: `)
    expect(await new FilesystemDriver({ root: copy }).exists(good!.hash)).toBe(true)
    const json = answer(cli(['replicate', '--json'], { env }))
    expect(json.failed).toEqual([
      expect.objectContaining({ sha256: bad!.hash, replica: 'fs', code: 'ERR_STORAGE_UNAVAILABLE' })
    ])
    // a monitor hears of it at once (the reconcile counted it below its copies), and again once its copy waits longer
    // than --max-backlog-age; each alert says where to look
    const status = cli(['status'], { env })
    expect(status.code).toBe(12)
    expect(status.stdout).toContain(
      'ALERT (exit 12): 1 frame below the wanted copies at the last scan: `sai-images replicate` copies them again ' +
        '(and names each frame whose copy fails)'
    )
    await new Promise(resolve => setTimeout(resolve, 1100))
    const later = cli(['status', '--max-backlog-age', '1s'], { env })
    expect(later.code).toBe(12)
    expect(later.stdout).toContain(
      'ALERT (exit 10): copies waiting longer than --max-backlog-age for fs: is `sai-images replicate --watch` ' +
        'running? (`sai-images replicate` names each frame whose copy fails)'
    )
    await rm(blocked, { recursive: true }) // moved aside: the next round copies it
    expect(cli(['replicate'], { env }).code).toBe(0)
    expect(await new FilesystemDriver({ root: copy }).exists(bad!.hash)).toBe(true)
    expect(cli(['status', '--max-backlog-age', '1s'], { env }).code).toBe(0)
  })

  it("store: a copy that fails for one frame's place on the replica is named before exit; the frame is stored", async () => {
    const { env, root, copy } = await replicated(1)
    const frame = testJpeg(`store one bad place ${root}`, 5000)
    const hash = createHash('sha256').update(frame).digest('hex')
    await mkdir(new FilesystemDriver({ root: copy }).pathOf(hash), { recursive: true })
    const run = cli(['store', '-'], { env, input: frame })
    expect(run.code).toBe(0) // acknowledged on the primary; its copy waits
    expect(run.stderr).toContain('replication: 1 pending')
    expect(run.stderr).toContain(`copy to fs failed: ${hash}: ERR_STORAGE_UNAVAILABLE: `)
    expect(await new FilesystemDriver({ root }).exists(hash)).toBe(true)
  })

  it('an empty lock (its pid lost to a power cut) is taken over: the copier drains', async () => {
    const { env, root, copy } = await replicated(1)
    const { hash } = await new FilesystemDriver({ root }).store(testJpeg(`after the cut ${root}`, 5000))
    const lock = join(root, '.replication', 'drain.lock')
    await writeFile(lock, '') // linked, its contents never synced: found by test/crash
    const run = cli(['replicate', '--json'], { env })
    expect(run.code).toBe(0)
    expect(await new FilesystemDriver({ root: copy }).exists(hash)).toBe(true)
  })

  it('a second copier says that another holds the lock, exit 75; with --wait it waits and copies', async () => {
    const { env, root } = await replicated(1)
    const lock = join(root, '.replication', 'drain.lock')
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 4000)'])
    try {
      await writeFile(lock, String(holder.pid))
      const run = cli(['replicate', '--json'], { env })
      expect(run.code).toBe(75)
      expect(answer(run)).toMatchObject({ busy: true, heldBy: holder.pid })
      expect(cli(['replicate'], { env }).stdout).toContain(`process ${holder.pid} holds the copier's lock`)
      // the holder lets go while the second copier waits (a process of its own: cli() blocks this one)
      spawn('sh', ['-c', `sleep 1.5; rm -f '${lock}'`], { stdio: 'ignore' }).unref()
      const waited = cli(['replicate', '--wait'], { env })
      expect(waited.code).toBe(0)
    } finally {
      holder.kill()
    }
  })
})
