/**
 * A start of `sai-images` loads only what the command uses: its own module, the drivers its store names, and
 * replication only with replicas (specs/index.ts, features/factory/open.ts). A module hook in the child records
 * every file of the package it loads; each file's source map names the source files bundled into it.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { CLI, PACKAGE } from './run.js'

/** Registers a resolve hook that appends every file the child loads from the package's dist to $LOADED. */
async function hook(dir: string): Promise<string> {
  await writeFile(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs'\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const resolved = await next(specifier, context)\n' +
      "  if (resolved.url.startsWith('file:')) appendFileSync(process.env.LOADED, resolved.url + '\\n')\n" +
      '  return resolved\n' +
      '}\n'
  )
  const register = join(dir, 'register.mjs')
  await writeFile(register, "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n")
  return pathToFileURL(register).href
}

/** The source files (src/...) bundled into what `sai-images args` loaded, by the loaded files' source maps. */
async function sourcesLoaded(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const dir = await tempDir('lazy-load')
  const loaded = join(dir, 'loaded.txt')
  const run = spawnSync(process.execPath, ['--import', await hook(dir), CLI, ...args], {
    env: { ...process.env, ...env, LOADED: loaded },
    encoding: 'utf8'
  })
  expect({ code: run.status, stderr: run.stderr }).toMatchObject({ code: 0 })
  const dist = join(PACKAGE, 'dist')
  const files = [...new Set(readFileSync(loaded, 'utf8').split('\n'))]
    .filter(url => url !== '')
    .map(url => fileURLToPath(url))
    .filter(file => file.startsWith(dist))
  expect(files).toContain(CLI)
  return files.flatMap(file => {
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }
    return map.sources.map(source => resolve(dirname(file), source)).map(path => path.slice(path.indexOf('/src/') + 1))
  })
}

const under = (sources: string[], folder: string): string[] => sources.filter(source => source.startsWith(folder))

describe('what a start of sai-images loads', () => {
  it('--version and help load no command, driver or feature', async () => {
    for (const args of [['--version'], ['help'], ['help', 'replicate']]) {
      const sources = await sourcesLoaded(args)
      expect(sources).toContain('src/cli/index.ts')
      expect(sources).toContain('src/cli/specs/replicate.ts')
      expect(
        [...under(sources, 'src/drivers/'), ...under(sources, 'src/features/replication/')],
        args.join(' ')
      ).toEqual([])
      expect(under(sources, 'src/cli/commands/'), args.join(' ')).toEqual([])
    }
  })

  it('a command on the filesystem loads its own module and the fs driver, no other driver or command', async () => {
    const root = join(await tempDir('lazy-load-store'), 'store')
    const sources = await sourcesLoaded(['stats', '--root', root, '--allow-empty'])
    expect(sources).toContain('src/cli/commands/stats.ts')
    expect(sources).toContain('src/drivers/fs/index.ts')
    expect(under(sources, 'src/cli/commands/').filter(s => !s.endsWith('/stats.ts'))).toEqual([])
    for (const other of ['src/drivers/s3/', 'src/drivers/ipfs/', 'src/drivers/memory/', 'src/features/replication/'])
      expect(under(sources, other)).toEqual([])
  })

  it("replicate loads replication and the replica's driver, not the others", async () => {
    const dir = await tempDir('lazy-load-replicated')
    const [primary, replica] = [join(dir, 'primary'), join(dir, 'replica')]
    await mkdir(replica)
    const image = join(dir, 'frame.jpg')
    await writeFile(image, testJpeg('lazy load', 2_000))
    const env = {
      SAI_IMAGE_STORAGE_PATH: primary,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica
    }
    expect(spawnSync(process.execPath, [CLI, 'store', image], { env: { ...process.env, ...env } }).status).toBe(0)
    const sources = await sourcesLoaded(['replicate'], env)
    expect(sources).toContain('src/cli/commands/replicate.ts')
    expect(sources).toContain('src/features/replication/index.ts')
    expect(sources).toContain('src/drivers/fs/index.ts')
    for (const other of ['src/drivers/s3/', 'src/drivers/ipfs/', 'src/features/variants/', 'src/features/jobs/'])
      expect(under(sources, other)).toEqual([])
  })
})
