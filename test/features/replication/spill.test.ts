// A verify pass's findings spilled to files (spill.ts): counted as they come, read back in order,
// the files named by the layout and removed at the end.
import { spawnSync } from 'node:child_process'
import { readdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { Spill } from '../../../src/features/replication/spill.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('Spill', () => {
  it('counts and reads back each list in order; remove leaves nothing', async () => {
    const dir = await tempDir('sai-spill')
    const spill = new Spill(new StateLayout(dir), 2)
    const hashes = Array.from({ length: 5000 }, (_, i) => i.toString(16).padStart(64, '0'))
    for (const sha256 of hashes) await spill.add(0, sha256, 'missing')
    await spill.add(1, 'f'.repeat(64), 'corrupt')
    await spill.close()
    expect(spill.counts).toEqual([5000, 1])
    expect((await readdir(dir)).filter(name => /^verify-\d+-\d+-[01]\.tmp$/.test(name))).toHaveLength(2)
    const read = []
    for await (const finding of spill.read(0)) read.push(finding.sha256)
    expect(read).toEqual(hashes)
    const other = []
    for await (const finding of spill.read(1)) other.push(finding)
    expect(other).toEqual([{ sha256: 'f'.repeat(64), reason: 'corrupt' }])
    await spill.remove()
    expect(await readdir(dir)).toEqual([])
  })
})

describe('Spill: what a verify killed mid-pass left', () => {
  it('a spill file of a process that is gone is removed when the next verify spills; a live one is kept', async () => {
    const dir = await tempDir('sai-spill-stale')
    const gone = spawnSync(process.execPath, ['-e', '0']).pid
    const stale = join(dir, `verify-${gone}-1700000000000-0.tmp`)
    const live = join(dir, `verify-${process.pid}-1700000000000-0.tmp`)
    const other = join(dir, 'verify-notes.tmp')
    for (const path of [stale, live, other]) await writeFile(path, `${'a'.repeat(64)} corrupt\n`)
    const spill = new Spill(new StateLayout(dir), 1)
    await spill.close()
    await spill.remove()
    expect((await readdir(dir)).sort()).toEqual([basename(live), basename(other)].sort())
  })
})
