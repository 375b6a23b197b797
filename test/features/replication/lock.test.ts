// The copier's lock (lock.ts): overlapping drains in one process share it and the file goes with the
// last of them (CI once saw a kick and the watcher race on one temp name: ENOENT, ERR_INTERNAL); a live
// process's lock is respected, a dead or torn one is taken over.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DrainLock } from '../../../src/features/replication/lock.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const BOOT = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
const MINE = `${process.pid} ${BOOT}`

describe('DrainLock', () => {
  it(
    'overlapping acquires in one process all hold it, leave no ' + 'temp file, and the last release removes it',
    async () => {
      const dir = await tempDir('sai-lock')
      const path = join(dir, 'drain.lock')
      const lock = new DrainLock(path)
      for (let round = 0; round < 20; round++) {
        const held = await Promise.all(Array.from({ length: 8 }, async () => await lock.acquire()))
        expect(held).toEqual(Array(8).fill(true))
        expect(await readFile(path, 'utf8')).toBe(MINE)
        for (let i = 0; i < 7; i++) await lock.release()
        expect(existsSync(path)).toBe(true) // one drain still runs
        await lock.release()
        expect(existsSync(path)).toBe(false)
      }
      expect(await readdir(dir)).toEqual([])
    }
  )

  it("a live process holds it; a dead one's or an empty one is taken over", async () => {
    const dir = await tempDir('sai-lock')
    const path = join(dir, 'drain.lock')
    const lock = new DrainLock(path)
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'])
    try {
      await writeFile(path, String(live.pid))
      expect(await lock.acquire()).toBe(false)
      expect(lock.holder()).toBe(live.pid)
    } finally {
      live.kill('SIGKILL')
      await new Promise(resolve => live.on('exit', resolve))
    }
    expect(await lock.acquire()).toBe(true) // its process is gone
    await lock.release()
    await writeFile(path, '')
    expect(await lock.acquire()).toBe(true)
    expect(await readFile(path, 'utf8')).toBe(MINE)
    await lock.release()
    expect(await readdir(dir)).toEqual([])
  })

  it('a lock taken before a reboot is abandoned, though a live process has its pid now; one of this boot is held', async () => {
    const dir = await tempDir('sai-lock')
    const path = join(dir, 'drain.lock')
    const lock = new DrainLock(path)
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'])
    try {
      await writeFile(path, `${live.pid} ${BOOT}`) // this boot: a live holder
      expect(await lock.acquire()).toBe(false)
      expect(lock.holder()).toBe(live.pid)
      await writeFile(path, String(live.pid)) // written by an older version: the pid alone tells
      expect(await lock.acquire()).toBe(false)
      await writeFile(path, `${live.pid} 00000000-0000-0000-0000-000000000000`) // another boot
      expect(lock.holder()).toBeUndefined()
      expect(await lock.acquire()).toBe(true)
      expect(await readFile(path, 'utf8')).toBe(MINE)
      await lock.release()
    } finally {
      live.kill('SIGKILL')
      await new Promise(resolve => live.on('exit', resolve))
    }
    expect(await readdir(dir)).toEqual([])
  })

  it('a lock whose pid a process that started after it was made has now is abandoned, and never waited on', async () => {
    // a container's PID 1 is always alive: after a restart, a lock its killed predecessor left names a live pid
    const dir = await tempDir('sai-lock')
    const path = join(dir, 'compaction.lock')
    const lock = new DrainLock(path)
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'])
    try {
      await new Promise(resolve => live.once('spawn', resolve))
      await writeFile(path, `${live.pid} ${BOOT}`) // made now, by that very process: held
      expect(lock.isHeld()).toBe(true)
      expect(await lock.acquire()).toBe(false)
      const before = new Date(Date.now() - 60_000) // made a minute before that process started: another's
      await utimes(path, before, before)
      expect(lock.isHeld()).toBe(false)
      expect(await lock.acquire()).toBe(true)
      expect(await readFile(path, 'utf8')).toBe(MINE)
      await lock.release()
    } finally {
      live.kill('SIGKILL')
      await new Promise(resolve => live.on('exit', resolve))
    }
    expect(await readdir(dir)).toEqual([])
  })

  it('a lock made per holder is that object’s alone: another in this process finds it held (a shared one does not)', async () => {
    const dir = await tempDir('sai-lock')
    const path = join(dir, 'compaction.lock')
    const [one, two] = [new DrainLock(path, { perHolder: true }), new DrainLock(path, { perHolder: true })]
    expect(await one.acquire()).toBe(true)
    expect(await two.acquire()).toBe(false)
    expect(two.holder()).toBe(process.pid)
    expect(await one.acquire()).toBe(true) // (counted within the object, as a shared one)
    await one.release()
    expect(await two.acquire()).toBe(false)
    await one.release()
    expect(await two.acquire()).toBe(true)
    expect(await new DrainLock(path).acquire()).toBe(true) // a shared lock takes this process's as its own
    await two.release()
    expect(await readdir(dir)).toEqual([])
  })
})
