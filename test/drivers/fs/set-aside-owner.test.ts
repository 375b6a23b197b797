// A frame a prune set aside ({root}/.pruning) when the prune was killed or the power went: `verify --repair` puts it
// back at once, as an operator runs it after a reboot, not only an hour later; a live prune's is left to it.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdir, readdir, rename, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const BOOT8 = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8)

/** A pid that no process has now (its process ran and ended). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await once(child, 'exit')
  return child.pid!
}

describe('a set-aside frame whose name says which prune set it aside', () => {
  it("a dead prune's, set aside a moment ago, is put back by verify --repair; a live prune's is left", async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const [dead, live] = await Promise.all(['dead', 'live'].map(async s => await storage.store(testJpeg(`aside ${s}`))))
    await mkdir(join(root, '.pruning'))
    const asides = {
      dead: join(root, '.pruning', `${dead!.hash}.p${await deadPid()}_${BOOT8}.x`),
      live: join(root, '.pruning', `${live!.hash}.p${process.pid}_${BOOT8}.x`)
    }
    await rename(dead!.path, asides.dead)
    await rename(live!.path, asides.live)
    const report = await storage.verify({ repair: true }) // the default age (1 h): both are seconds old
    expect(report.problems.map(p => [p.reason, p.action, p.path])).toEqual([['set-aside', 'restored', asides.dead]])
    expect((await stat(dead!.path)).isFile()).toBe(true)
    expect(await storage.fetch(dead!.hash)).toEqual(testJpeg('aside dead'))
    expect(await readdir(join(root, '.pruning'))).toEqual([asides.live.split('/').pop()])
  })
})
