// The walk's scan of a unit (walk-scan.ts) on a real store folder: a file removed while the walk goes is passed over,
// but a file that cannot be read (EIO from a failing disk, EMFILE) stops the scan with its error, so that a verify
// never reports clean over frames it did not read. The failing open is injected (the scan takes its fs calls as
// arguments): a bad sector cannot be made on this machine.
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { type ScanDeps, scan } from '../../../src/drivers/fs/walk-scan.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

async function storeOfThree(): Promise<{ root: string; keys: string[] }> {
  const root = await tempDir('sai-scan')
  const storage = new FilesystemDriver({ root })
  const keys: string[] = []
  for (let i = 0; i < 3; i++) keys.push((await storage.store(testJpeg(`scan ${i}`, 3000))).key)
  await storage.close()
  return { root, keys: keys.sort() }
}

/** The real calls, but opening `failing` throws `code`. */
function deps(failing: string, code: string): ScanDeps {
  const openSync = ((path: fs.PathLike, flags?: fs.OpenMode) => {
    if (String(path).endsWith(failing)) throw Object.assign(new Error(`${code}: ${path}`), { code })
    return fs.openSync(path, flags ?? 'r')
  }) as typeof fs.openSync
  const { readdirSync, lstatSync, readSync, closeSync } = fs
  const sharding = new PrefixSharding()
  return {
    readdirSync,
    lstatSync,
    openSync,
    readSync,
    closeSync,
    createHash: crypto.createHash,
    join,
    sharding
  }
}

describe('the scan of a unit, hashing', () => {
  it('a file removed while the walk goes is passed over; one that cannot be read throws', async () => {
    const { root, keys } = await storeOfThree()
    const job = { root, unit: '', hash: true, prefix: '' }
    expect(scan(job, deps('none', 'EIO')).keys).toEqual(keys)
    expect(scan(job, deps(keys[1]!, 'ENOENT')).keys).toEqual([keys[0], keys[2]])
    for (const code of ['EIO', 'EMFILE', 'EACCES'])
      expect(() => scan(job, deps(keys[1]!, code))).toThrow(expect.objectContaining({ code }))
  })
})
