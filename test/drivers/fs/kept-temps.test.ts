import { watch } from 'node:fs'
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const DAY_MS = 86_400_000

/** The names made in `folder` while `work` runs (inotify, by node:fs's watch). */
async function namesMade(folder: string, work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = []
  const watcher = watch(folder, (_event, name) => {
    if (name !== null) seen.push(name)
  })
  try {
    await work()
    await sleep(100) // the events of the last calls
  } finally {
    watcher.close()
  }
  return seen
}

describe('a store that keeps a copy times (migrate) against a concurrent verify --repair', () => {
  it('writes its temp under a name of its own, in .tmp and beside the frame, with its times set back', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const old = new Date(Date.now() - 3 * DAY_MS)
    // a first frame makes .tmp; a new shard folder's frame is written in .tmp
    await storage.store(testJpeg('kept temps, first'))
    const fresh = testJpeg('kept temps, in .tmp')
    const inTemp = await namesMade(join(root, '.tmp'), () => storage.store(fresh, { keepTimes: { lastStoredAt: old } }))
    expect(inTemp.filter(name => name.endsWith('.kept.tmp'))).not.toEqual([])
    expect(inTemp.filter(name => name.endsWith('.tmp') && !name.endsWith('.kept.tmp'))).toEqual([])
    // a frame whose shard folder exists is written beside its name
    const { path, hash } = await storage.store(testJpeg('kept temps, beside'))
    await storage.delete(hash) // its folder stays
    const beside = await namesMade(dirname(path), () =>
      storage.store(testJpeg('kept temps, beside'), { keepTimes: { lastStoredAt: old } })
    )
    expect(beside.filter(name => name.endsWith('.kept.tmp'))).not.toEqual([])
    expect(Math.round((await stat(path)).mtimeMs)).toBe(old.getTime()) // (futimes keeps microseconds)
  })

  it('verify --repair leaves a live kept temp (its change time is young), and takes it once it is old', async () => {
    const root = await tempDir()
    const driver = new FilesystemDriver({ root })
    const { path } = await driver.store(testJpeg('kept temps, verify'))
    const old = new Date(Date.now() - 3 * DAY_MS)
    const kept = [join(root, '.tmp', 'live.kept.tmp'), `${path}.live.kept.tmp`]
    const plain = [join(root, '.tmp', 'left.tmp'), `${path}.left.tmp`]
    for (const file of [...kept, ...plain]) {
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, 'x')
      await utimes(file, old, old) // a keep-times store sets them back; an operator's `touch -d` ages a leftover
    }
    const report = await driver.verify({ repair: true })
    expect(report.problems.map(p => [p.path, p.reason, p.action]).sort()).toEqual(
      plain.map(file => [file, 'stray-temp', 'removed']).sort()
    )
    for (const file of kept) expect((await stat(file)).isFile()).toBe(true)
    // a kept temp a crash left: old by its change time (0 here: any change time is old enough)
    const later = await driver.verify({ repair: true, tempMinAgeMs: 0 })
    expect(later.problems.map(p => [p.path, p.reason, p.action]).sort()).toEqual(
      kept.map(file => [file, 'stray-temp', 'removed']).sort()
    )
    expect((await readdir(join(root, '.tmp'))).filter(name => name.endsWith('.tmp'))).toEqual([])
  })
})
