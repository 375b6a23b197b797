/**
 * A start of `sai-images` loads what every start needs (the parser, the commands' specs and help), and the work
 * of the commands (with the factory and the drivers) only when a command runs (src/cli/specs/index.ts). A module
 * hook in the child records every file of the package it loads; each file's source map names the sources in it.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadRecorder, recordedLoads } from '../infra/helpers/load-hook.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { CLI, PACKAGE } from './run.js'

/**
 * The files of dist that `sai-images args` loaded, and the source files (src/...) bundled into them, by the
 * loaded files' source maps.
 */
async function loaded(
  args: string[],
  env: Record<string, string> = {}
): Promise<{ files: string[]; sources: string[] }> {
  const dir = await tempDir('lazy-load')
  const list = join(dir, 'loaded.txt')
  const run = spawnSync(process.execPath, ['--import', await loadRecorder(dir), CLI, ...args], {
    env: { ...process.env, ...env, SAI_LOADED_LIST: list },
    encoding: 'utf8'
  })
  expect({ code: run.status, stderr: run.stderr }).toMatchObject({ code: 0 })
  const dist = realpathSync(join(PACKAGE, 'dist')) // (the tests' build links dist to the folder it built)
  const files = recordedLoads(list)
    .map(url => fileURLToPath(url))
    .filter(file => file.startsWith(dist))
  expect(files).toContain(realpathSync(CLI))
  const sources = files.flatMap(file => {
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }
    return map.sources.map(source => resolve(dirname(file), source)).map(path => path.slice(path.indexOf('/src/') + 1))
  })
  return { files, sources }
}

const under = (sources: string[], folder: string): string[] => sources.filter(source => source.startsWith(folder))

describe('what a start of sai-images loads', () => {
  it('--version and help load no command, driver or feature', async () => {
    for (const args of [['--version'], ['help'], ['help', 'replicate']]) {
      const { sources } = await loaded(args)
      expect(sources).toContain('src/cli/index.ts')
      expect(sources).toContain('src/cli/specs/replicate.ts')
      expect(
        [...under(sources, 'src/drivers/'), ...under(sources, 'src/features/replication/')],
        args.join(' ')
      ).toEqual([])
      expect(under(sources, 'src/cli/commands/'), args.join(' ')).toEqual([])
    }
  })

  it("a command loads the commands' chunk: its work, the factory and the drivers, in three files at most", async () => {
    const root = join(await tempDir('lazy-load-store'), 'store')
    const { files, sources } = await loaded(['stats', '--root', root, '--allow-empty'])
    expect(sources).toContain('src/cli/commands/stats.ts')
    expect(sources).toContain('src/drivers/fs/index.ts')
    // each module is a cost of every start (bench/RESULTS-replication-cli.md): cli.js, what it shares, the work
    expect(files.length).toBeLessThanOrEqual(3)
  })
})
