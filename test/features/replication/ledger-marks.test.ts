// Eviction marks that must not be lost (review 7): a durable append racing a compaction of its file (a real child
// process evicting while this one reconciles), an append after a line a power cut tore, junk lines, the compaction
// lock held twice in one process, and an old mark whose frame the primary still lists (its delete is slow).
import { spawn } from 'node:child_process'
import { readlinkSync, realpathSync } from 'node:fs'
import { appendFile, type FileHandle, open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { HOW, lastRecord, Ledger, PRIMARY } from '../../../src/features/replication/ledger.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { pair } from './helpers.js'

const DIST = new URL('../../../dist/', import.meta.url).href
const A1 = `ab${'1'.repeat(62)}`
const A2 = `ab${'2'.repeat(62)}`

/** The built package's eviction of every frame, in a process of its own; resolves to its exit code. */
function evictInChild(primary: string, replica: string): Promise<number | null> {
  const script = `
    import { FilesystemDriver } from '${DIST}drivers/fs.js'
    import { createReplicatedStorage } from '${DIST}replication.js'
    const storage = createReplicatedStorage({
      primary: new FilesystemDriver({ root: process.argv[1] }),
      replicas: [{ name: 'copy', storage: new FilesystemDriver({ root: process.argv[2] }) }],
      background: false
    })
    const report = await storage.evict({ olderThan: 0, now: new Date(Date.now() + 86_400_000) })
    await storage.close()
    process.exit(report.evicted === 1 ? 0 : 3)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, primary, replica], { stdio: 'inherit' })
  return new Promise(resolve => child.on('exit', code => resolve(code)))
}

/** Each read of `path` whole through a FileHandle (a compaction's read) runs `during` once before it returns. */
async function afterRead(path: string, during: () => Promise<void>): Promise<() => void> {
  const probe = await open(path, 'r')
  const proto = Object.getPrototypeOf(probe) as { readFile: FileHandle['readFile'] }
  await probe.close()
  const original = proto.readFile
  const real = realpathSync(path)
  let armed = true
  proto.readFile = async function (this: FileHandle, ...args: Parameters<FileHandle['readFile']>) {
    const bytes = await original.apply(this, args)
    if (armed && readlinkSync(`/proc/self/fd/${this.fd}`) === real) {
      armed = false
      await during()
    }
    return bytes
  } as FileHandle['readFile']
  return () => {
    proto.readFile = original
  }
}

describe('eviction marks', () => {
  it('an eviction in another process while a reconcile compacts its ledger file returns only once its mark is in the new file', async () => {
    const { storage, primary, replica, state } = await pair()
    const frame = await storage.store(testJpeg('evicted mid-compaction'))
    await storage.drain()
    await partsOf(storage).background.settle()
    // a record of a frame no copy holds, in the frame's ledger file: the reconcile drops it, rewriting the file
    const file = join(state, 'ledger', PRIMARY, `${frame.sha256.slice(0, 2)}.log`)
    await appendFile(file, `${frame.sha256.slice(0, 2)}${'e'.repeat(62)} 1 restored\n`)
    let returnedMidway: boolean | undefined
    const evicting: Array<Promise<number | null>> = []
    const restore = await afterRead(file, async () => {
      // the compaction has read the file: the eviction marks the frame now, then deletes it
      const exited = evictInChild(primary.root, replica.root)
      evicting.push(exited)
      let done = false
      void exited.then(() => {
        done = true
      })
      for (let waited = 0; !done && waited < 60_000; waited += 20) {
        if ((await readFile(file, 'utf8')).includes(`${frame.sha256} `)) break // marked: give it time to return
        await sleep(20)
      }
      await Promise.race([exited, sleep(2000)])
      returnedMidway = done
    })
    try {
      await storage.reconcile()
    } finally {
      restore()
    }
    expect(await evicting[0]).toBe(0)
    // before, it returned (its frame deleted) while the file at its path was one a power cut could replace by the
    // compacted file without the mark, the mark following only later
    expect(returnedMidway).toBe(false)
    expect(await primary.exists(frame.sha256)).toBe(false)
    const ledger = new Ledger(new StateLayout(state))
    expect(ledger.isEvicted(frame.sha256)).toBe(true)
    await replica.delete(frame.sha256) // its replica copy lost: the frame is lost, and said so
    expect(await storage.reconcile()).toMatchObject({ lost: 1, replicas: [{ extra: 0 }] })
    await storage.close()
  })

  it('an append after a line a power cut tore starts a line of its own', async () => {
    const state = await tempDir('sai-ledger')
    const book = new Ledger(new StateLayout(state))
    const file = join(state, 'ledger', PRIMARY, 'ab.log')
    await book.append(PRIMARY, [{ sha256: A1, at: 1, how: HOW.evicted, lastStoredAt: 1 }], { durable: true })
    await appendFile(file, `${A1} 2`) // a restored line, torn
    await book.append(PRIMARY, [{ sha256: A2, at: 3, how: HOW.evicted, lastStoredAt: 2 }], { durable: true })
    // before, the two were one line: A2's mark lost, and A1's hidden by a junk record
    expect(book.lookup(PRIMARY, A2)).toEqual({ sha256: A2, at: 3, how: HOW.evicted, lastStoredAt: 2 })
    expect(book.isEvicted(A1)).toBe(true)
    await appendFile(file, A2.slice(0, 20)) // torn early, a plain append after it
    await book.append(PRIMARY, [{ sha256: A1, at: 4, how: HOW.restored }])
    expect(book.lookup(PRIMARY, A1)).toMatchObject({ at: 4, how: HOW.restored })
    expect(await readFile(file, 'utf8')).toBe(
      `${A1} 1 evicted 1\n${A1} 2\n${A2} 3 evicted 2\n${A2.slice(0, 20)}\n${A1} 4 restored\n`
    )
  })

  it('a line with an unknown how, a field too many or a number that is not one is no record', async () => {
    const state = await tempDir('sai-ledger')
    const book = new Ledger(new StateLayout(state))
    const mark = { sha256: A1, at: 1, how: HOW.evicted, lastStoredAt: 5 }
    await book.append(PRIMARY, [mark])
    const junk = [`${A1} 2 3`, `${A1} 2 bogus`, `${A1} 2 listed 4 extra`, `${A1} x rehash`, `${A1} 2 evicted y`]
    await appendFile(join(state, 'ledger', PRIMARY, 'ab.log'), `${junk.join('\n')}\n`)
    expect(book.lookup(PRIMARY, A1)).toEqual(mark)
    expect(lastRecord(book.shardText(PRIMARY, 'ab'), A1)).toEqual(mark)
  })

  it('the compaction lock is one holder’s: another ledger on the same state folder in this process finds it held', async () => {
    const state = await tempDir('sai-ledger')
    const [one, two] = [new Ledger(new StateLayout(state)), new Ledger(new StateLayout(state))]
    const release = await one.lockCompaction()
    expect(release).toBeTypeOf('function')
    expect(await two.lockCompaction()).toBeUndefined()
    await release!()
    const again = await two.lockCompaction()
    expect(again).toBeTypeOf('function')
    expect(await one.lockCompaction()).toBeUndefined()
    await again!()
  })

  it('a durable append waits while a live process holds its file’s compaction marker, not a dead one; the next compaction clears a leftover one', async () => {
    const state = await tempDir('sai-ledger')
    const book = new Ledger(new StateLayout(state))
    await book.append(PRIMARY, [{ sha256: A1, at: 1, how: HOW.listed }], { durable: true })
    const marker = join(state, 'ledger', PRIMARY, 'ab.log.compacting')
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
    // a compaction cut short by a SIGKILL (the lock file's form: pid and boot): its marker holds nothing
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise(resolve => dead.on('exit', resolve))
    await writeFile(marker, `${dead.pid} ${boot}`)
    await book.append(PRIMARY, [{ sha256: A1, at: 2, how: HOW.rehash }], { durable: true })
    // one whose pid a live process has now
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      await writeFile(marker, `${live.pid} ${boot}`)
      let appended = false
      const appending = book
        .append(PRIMARY, [{ sha256: A2, at: 2, how: HOW.evicted, lastStoredAt: 1 }], { durable: true })
        .then(() => {
          appended = true
        })
      await sleep(300)
      expect(appended).toBe(false) // the compaction may have read the file before the mark
      const release = await book.lockCompaction()
      await appending
      expect(book.isEvicted(A2)).toBe(true)
      await release!()
    } finally {
      live.kill('SIGKILL')
    }
  })

  it('a mark stays while the primary lists its copy as it was when marked, however old; stored again, it goes', async () => {
    const { storage, primary, replica } = await pair()
    const [slow, renewed] = [await storage.store(testJpeg('slow delete')), await storage.store(testJpeg('renewed'))]
    await storage.drain()
    const { ledger, background } = partsOf(storage)
    await background.settle() // (the stores' `restored` records written)
    const stat = async (sha256: string): Promise<number> => (await primary.stat(sha256)).lastStoredAt!.getTime()
    const marks = [
      // an eviction five minutes ago whose delete is still under way (a GC-bound unpin, a stopped process)
      { sha256: slow.sha256, at: Date.now() - 300_000, how: HOW.evicted, lastStoredAt: await stat(slow.sha256) },
      // one whose frame a store renewed since (its delete refused)
      {
        sha256: renewed.sha256,
        at: Date.now() - 300_000,
        how: HOW.evicted,
        lastStoredAt: (await stat(renewed.sha256)) - 1
      }
    ]
    await ledger.append(PRIMARY, marks, { durable: true })
    expect(await storage.reconcile()).toMatchObject({ primary: 2, lost: 0 })
    expect([ledger.isEvicted(slow.sha256), ledger.isEvicted(renewed.sha256)]).toEqual([true, false])
    await primary.delete(slow.sha256) // the delete completes
    await replica.delete(slow.sha256) // then the replica loses the frame's only copy
    expect(await storage.reconcile()).toMatchObject({ primary: 1, lost: 1, replicas: [{ extra: 0 }] })
    await storage.close()
  })
})
