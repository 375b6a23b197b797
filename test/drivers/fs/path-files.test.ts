/**
 * Issue 29: a store of a new frame on the filesystem crosses at most 8 source files of ours,
 * measured, not counted by hand: src/ built one output file per source file, a real child `node`
 * process stores frames through the FilesystemDriver and V8's precise coverage (call counts, reset
 * around each operation) names every file with a function that ran. One frame is stored first as a
 * warm-up: the root, the layout record and the modules' loading happen once per process, not per store.
 */
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../infra/helpers/tmp.js'

const SRC = new URL('../../../src', import.meta.url).pathname
const CHILD = new URL('./path-files.mjs', import.meta.url).pathname

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter(name => name.endsWith('.ts'))
    .map(name => join(dir, name))
}

/** Every file of src/ built on its own (bundle: false), in `out`, with the tree's shape. */
async function buildFileByFile(out: string): Promise<void> {
  const entryPoints = sources(SRC)
  await build({
    entryPoints,
    outdir: out,
    outbase: SRC,
    bundle: false,
    format: 'esm',
    platform: 'node',
    logLevel: 'error'
  })
  expect(readdirSync(out, { recursive: true }).filter(name => String(name).endsWith('.js')).length).toBe(
    entryPoints.length
  )
}

describe('the files one filesystem store crosses', () => {
  it('a store of a new frame, in a new shard folder or not, runs code in at most 8 files', async () => {
    const dir = await tempDir('path-files')
    const out = join(dir, 'build')
    await symlink(join(SRC, '../node_modules'), join(dir, 'node_modules')) // the build's imports of packages
    await buildFileByFile(out)
    const { stdout } = await promisify(execFile)(process.execPath, [CHILD, out, join(dir, 'store')])
    const crossed = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string[]>
    for (const [operation, files] of Object.entries(crossed))
      process.stdout.write(`${operation}: ${files.length} files: ${files.join(', ')}\n`)
    // the measure finds the driver's own files (it cannot pass by finding nothing)
    expect(crossed.newFrame).toContain('core/front.js')
    expect(crossed.fetch).toContain('core/front.js')
    expect(crossed.newFrame!.length, crossed.newFrame!.join(', ')).toBeLessThanOrEqual(8)
    expect(crossed.newFrameInShard!.length, crossed.newFrameInShard!.join(', ')).toBeLessThanOrEqual(8)
    // without fsync, alone and among others (64 KB: hashed first), and over one hash slice (its own write path:
    // the temp written while hashing)
    expect(crossed.newFrameNoFsync).toContain('drivers/fs/store.js')
    expect(crossed.newFrameNoFsync!.length, crossed.newFrameNoFsync!.join(', ')).toBeLessThanOrEqual(8)
    expect(crossed.newFramesNoFsync!.length, crossed.newFramesNoFsync!.join(', ')).toBeLessThanOrEqual(8)
    expect(crossed.largeFrameNoFsync).toContain('drivers/fs/store.js')
    expect(crossed.largeFrameNoFsync!.length, crossed.largeFrameNoFsync!.join(', ')).toBeLessThanOrEqual(8)
  }, 30_000)
})
