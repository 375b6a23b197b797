// The ledger (ledger.ts) on a real folder: a line per record, the last for a hash winning, a torn
// last line passed over; the eviction marks in SHA-256 order; a shard rewritten whole.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { appendFile, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { known } from '../../../src/features/replication/known.js'
import { HOW, lastRecord, Ledger, PRIMARY, VERIFIED } from '../../../src/features/replication/ledger.js'
import { roundTrips } from '../../infra/helpers/round-trips.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const A1 = `ab${'1'.repeat(62)}`
const A2 = `ab${'2'.repeat(62)}`
const C1 = `cd${'1'.repeat(62)}`

async function ledger(): Promise<{ ledger: Ledger; state: string }> {
  const state = await tempDir('sai-ledger')
  return { ledger: new Ledger(new StateLayout(state)), state }
}

describe('Ledger', () => {
  it('its names: the primary copy, and how a copy was seen; the verified ones', () => {
    expect(PRIMARY).toBe('primary')
    expect(Object.values(HOW).sort()).toEqual([
      'damaged',
      'evicted',
      'gone',
      'listed',
      'lost',
      'rehash',
      'restored',
      'upload'
    ])
    expect([...VERIFIED].sort()).toEqual(['listed', 'rehash', 'upload'])
  })

  it("appends a line per record to the copy's shard file; lookup gives the last record of a hash", async () => {
    const { ledger: book, state } = await ledger()
    await book.append('s3', [
      { sha256: A1, at: 1, how: HOW.upload },
      { sha256: C1, at: 2, how: HOW.upload }
    ])
    await book.append('s3', [{ sha256: A1, at: 3, how: HOW.rehash }])
    await book.append(PRIMARY, [{ sha256: A1, at: 4, how: HOW.evicted, lastStoredAt: 0 }])
    expect(await readFile(join(state, 'ledger', 's3', 'ab.log'), 'utf8')).toBe(`${A1} 1 upload\n${A1} 3 rehash\n`)
    expect(await readFile(join(state, 'ledger', 'primary', 'ab.log'), 'utf8')).toBe(`${A1} 4 evicted 0\n`)
    expect(book.lookup('s3', A1)).toEqual({ sha256: A1, at: 3, how: 'rehash', lastStoredAt: undefined })
    expect(book.lookup('s3', C1)).toMatchObject({ at: 2, how: 'upload' })
    expect(book.lookup('s3', A2)).toBeUndefined()
    expect(book.lookup('ipfs', A1)).toBeUndefined()
    expect(book.lookup(PRIMARY, A1)).toEqual({ sha256: A1, at: 4, how: 'evicted', lastStoredAt: 0 })
  })

  it('a torn last line (a crash mid-append) is passed over, the records before it kept', async () => {
    const { ledger: book, state } = await ledger()
    await book.append('s3', [{ sha256: A1, at: 1, how: HOW.upload }])
    await appendFile(join(state, 'ledger', 's3', 'ab.log'), `${A2} 2`)
    await appendFile(join(state, 'ledger', 's3', 'ab.log'), `\n${A2.slice(0, 30)}`)
    expect([...book.shard('s3', 'ab').keys()]).toEqual([A1])
  })

  it("a copy's plain append takes no thread-pool round trip, and starts a new line after a torn one", async () => {
    const { ledger: book, state } = await ledger()
    await book.append('s3', [{ sha256: A1, at: 1, how: HOW.upload }]) // the folder made (asynchronously)
    await appendFile(join(state, 'ledger', 's3', 'ab.log'), `${A2} 2`) // torn
    // a drain appends once per copy: through the pool, its five calls cost 62 ms of CPU per 400 copies, 8 here
    expect(await roundTrips(async () => await book.append('s3', [{ sha256: A2, at: 3, how: HOW.upload }]))).toBe(0)
    expect(await readFile(join(state, 'ledger', 's3', 'ab.log'), 'utf8')).toBe(
      `${A1} 1 upload\n${A2} 2\n${A2} 3 upload\n`
    )
    expect(book.lookup('s3', A2)).toMatchObject({ at: 3, how: 'upload' })
  })

  it('isEvicted: the primary copy evicted and not stored again since', async () => {
    const { ledger: book } = await ledger()
    expect(book.isEvicted(A1)).toBe(false)
    await book.append(PRIMARY, [{ sha256: A1, at: 1, how: HOW.evicted, lastStoredAt: 0 }])
    await book.append('s3', [{ sha256: A2, at: 1, how: HOW.evicted, lastStoredAt: 0 }])
    expect([book.isEvicted(A1), book.isEvicted(A2)]).toEqual([true, false]) // (a replica's record is not the primary's)
    await book.append(PRIMARY, [{ sha256: A1, at: 2, how: HOW.restored }])
    expect(book.isEvicted(A1)).toBe(false)
  })

  it('known lists the evicted frames and those a replica was last seen holding, in SHA-256 order', async () => {
    const { ledger: book } = await ledger()
    const B1 = `b1${'0'.repeat(62)}`
    const D1 = `d1${'0'.repeat(62)}` // on both replicas
    await book.append(PRIMARY, [
      { sha256: C1, at: 1, how: HOW.evicted, lastStoredAt: 0 },
      { sha256: A2, at: 1, how: HOW.evicted, lastStoredAt: 0 },
      { sha256: A1, at: 1, how: HOW.restored },
      { sha256: B1, at: 5, how: HOW.gone } // deleted on purpose after its copy was seen: a delete stopped midway
    ])
    await book.append('s3', [
      { sha256: A1, at: 2, how: HOW.upload },
      { sha256: C1, at: 2, how: HOW.listed },
      { sha256: B1, at: 3, how: HOW.rehash },
      { sha256: D1, at: 3, how: HOW.upload }
    ])
    await book.append('fs', [
      { sha256: A1, at: 2, how: HOW.upload },
      { sha256: A1, at: 3, how: HOW.gone }, // deleted from this copy
      { sha256: B1, at: 6, how: HOW.listed }, // seen again after the delete: stored again since
      { sha256: C1, at: 2, how: HOW.upload },
      { sha256: D1, at: 4, how: HOW.listed }
    ])
    const listed = async (replicas: string[], after?: string): Promise<Array<[string?, boolean?]>> => {
      const out: Array<[string?, boolean?]> = []
      for await (const entry of known(book, replicas, { after })) out.push([entry.sha256, entry.evicted])
      return out
    }
    expect(await listed(['s3', 'fs'])).toEqual([
      [A1, false],
      [A2, true],
      [B1, false],
      [C1, true],
      [D1, false]
    ])
    expect(await listed(['fs', 's3'])).toEqual(await listed(['s3', 'fs']))
    expect(await listed(['fs'])).toEqual([
      [A2, true],
      [B1, false],
      [C1, true],
      [D1, false]
    ])
    expect(await listed(['s3'], A2)).toEqual([
      [C1, true],
      [D1, false]
    ])
    expect(await listed(['s3'], `e0${'0'.repeat(62)}`)).toEqual([])
    // a pass that began at 3: a frame known only by copies recorded since is left out (D1 at 3 and 4, B1 at 3 and
    // 6), one an older record knows stays (A1, uploaded at 2), and an eviction or loss mark is known whenever made
    const since = async (replicas: string[], at: number): Promise<string[]> => {
      const out: string[] = []
      for await (const entry of known(book, replicas, { since: at })) out.push(entry.sha256!)
      return out
    }
    expect(await since(['s3', 'fs'], 3)).toEqual([A1, A2, C1])
    expect(await since(['s3', 'fs'], 7)).toEqual([A1, A2, B1, C1, D1])
  })

  it('lastRecord finds a hash in a shard text as shard() would, parsing only its lines', async () => {
    const { ledger: book } = await ledger()
    await book.append('s3', [
      { sha256: A1, at: 1, how: HOW.upload },
      { sha256: A2, at: 2, how: HOW.listed },
      { sha256: A1, at: 3, how: HOW.gone },
      { sha256: A1, at: 4, how: HOW.rehash, lastStoredAt: 9 }
    ])
    const text = `${book.shardText('s3', 'ab')}${A1} 5` // a torn last line for A1
    expect(lastRecord(text, A1)).toEqual({ sha256: A1, at: 4, how: 'rehash', lastStoredAt: 9 })
    expect(lastRecord(text, A2)).toEqual({ sha256: A2, at: 2, how: 'listed', lastStoredAt: undefined })
    for (const sha256 of [A1, A2]) expect(lastRecord(text, sha256)).toEqual(book.shard('s3', 'ab').get(sha256))
    expect(lastRecord(text, C1)).toBeUndefined()
    expect(lastRecord(`x${A2} 1 listed\n`, A2)).toBeUndefined() // only at a line's start
    expect(book.shardText('s3', 'ef')).toBe('')
  })

  it('rewrite replaces a shard file with only the records given', async () => {
    const { ledger: book, state } = await ledger()
    await book.append('s3', [
      { sha256: A1, at: 1, how: HOW.upload },
      { sha256: A2, at: 2, how: HOW.upload }
    ])
    const { length } = book.shardRead('s3', 'ab')
    await book.rewrite('s3', 'ab', [{ sha256: A2, at: 5, how: HOW.listed }], length)
    expect(await readFile(join(state, 'ledger', 's3', 'ab.log'), 'utf8')).toBe(`${A2} 5 listed\n`)
    expect(book.lookup('s3', A1)).toBeUndefined()
    await book.rewrite('ipfs', 'cd', [], 0)
    expect(await readFile(join(state, 'ledger', 'ipfs', 'cd.log'), 'utf8')).toBe('')
  })

  it('rewrite keeps the lines appended after the bytes its records came from, by this process or another', async () => {
    const { ledger: book, state } = await ledger()
    await book.append('primary', [{ sha256: A1, at: 1, how: HOW.evicted, lastStoredAt: 1 }])
    const { length } = book.shardRead('primary', 'ab')
    // appended while the reconcile's pass went on: by another process (a real child), and by this one, durably
    const child = spawnSync(process.execPath, [
      '-e',
      `require('fs').appendFileSync(${JSON.stringify(
        join(state, 'ledger', 'primary', 'ab.log')
      )}, '${A2} 3 evicted 2\\n')`
    ])
    expect(child.status).toBe(0)
    await book.append('primary', [{ sha256: A1, at: 4, how: HOW.restored }], { durable: true })
    await book.rewrite('primary', 'ab', [], length) // the pass dropped A1's old mark (it listed A1 on the primary)
    expect(book.lookup('primary', A2)).toEqual({ sha256: A2, at: 3, how: HOW.evicted, lastStoredAt: 2 })
    expect(book.lookup('primary', A1)).toMatchObject({ at: 4, how: HOW.restored })
    expect(await readFile(join(state, 'ledger', 'primary', 'ab.log'), 'utf8')).not.toContain(' 1 evicted')
  })

  it('one compaction at a time per state folder: another process holding it, or this ledger, and a cut one taken over', async () => {
    const { ledger: book, state } = await ledger()
    await book.append('primary', [{ sha256: A1, at: 1, how: HOW.evicted, lastStoredAt: 1 }])
    const leftover = join(state, 'ledger', 'primary', 'ab.log.4242.0badcafe.tmp')
    await writeFile(leftover, 'a compaction cut short')
    const release = await book.lockCompaction()
    expect(release).toBeTypeOf('function')
    expect(existsSync(leftover)).toBe(false) // a cut compaction's temp, removed under the lock
    expect(await book.lockCompaction()).toBeUndefined()
    // a real other process holds it: the lock is the file, not this ledger's flag
    await release!()
    const other = new Ledger(new StateLayout(state))
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    try {
      await writeFile(join(state, 'compaction.lock'), String(holder.pid))
      expect(await book.lockCompaction()).toBeUndefined()
    } finally {
      holder.kill('SIGKILL')
      await once(holder, 'exit')
    }
    const again = await other.lockCompaction() // its holder is dead: taken over
    expect(again).toBeTypeOf('function')
    await again!()
  })

  it('a compaction marker a killed compactor left, whose pid a later process has, does not hold appends for ever', async () => {
    // in a container the killed compactor's pid (1) is alive again after a restart: only its start time tells
    const { ledger: book, state } = await ledger()
    await book.append('primary', [{ sha256: A1, at: 1, how: HOW.evicted, lastStoredAt: 1 }])
    const later = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    try {
      await once(later, 'spawn')
      const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
      const before = new Date(Date.now() - 60_000) // made a minute before that process started
      for (const file of [join(state, 'ledger', 'primary', 'ab.log.compacting'), join(state, 'compaction.lock')]) {
        await writeFile(file, `${later.pid} ${boot}`)
        await utimes(file, before, before)
      }
      const appended = book.append('primary', [{ sha256: A1, at: 2, how: HOW.gone }], { durable: true })
      const timeout = new Promise(resolve => setTimeout(resolve, 5000, 'still waiting'))
      expect(await Promise.race([appended.then(() => 'appended'), timeout])).toBe('appended')
      expect(book.lookup(PRIMARY, A1)?.how).toBe(HOW.gone)
    } finally {
      later.kill('SIGKILL')
      await once(later, 'exit')
    }
  })
})
