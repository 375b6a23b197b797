// publint and Are the Types Wrong (attw) on the tarball npm would publish: every entry point
// resolves, for require() and import and for each TypeScript resolution, to a file of the right
// module kind with its own types.
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { ENTRY_POINTS, PACKAGE } from './package.js'

/**
 * The package's tarball, packed from a copy of the tree with the `dist` link the test setup makes
 * resolved (npm pack does not follow it), node_modules and git aside, so that npm applies the
 * `files` globs itself; without the build.
 */
async function pack(): Promise<string> {
  const copy = await tempDir('sai-pack')
  for (const name of readdirSync(PACKAGE).filter(name => !/^(node_modules|\.git|\.dist-build.*)$/.test(name))) {
    cpSync(join(PACKAGE, name), join(copy, name), { recursive: true, dereference: true })
  }
  const out = await tempDir('sai-tarball')
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], {
      cwd: copy,
      encoding: 'utf8'
    })
  )
  return join(out, packed.filename)
}

function run(bin: string, args: string[]): { status: number; stdout: string } {
  try {
    return { status: 0, stdout: execFileSync(join(ROOT, 'node_modules/.bin', bin), args, { encoding: 'utf8' }) }
  } catch (err) {
    return { status: (err as { status: number }).status, stdout: (err as { stdout: string }).stdout }
  }
}

describe('the packed package', () => {
  let tarball: string
  beforeAll(async () => {
    tarball = await pack()
  })

  it('publint --strict finds nothing', () => {
    expect(run('publint', ['run', tarball, '--strict'])).toEqual({
      status: 0,
      stdout: expect.stringContaining('All good!')
    })
  })

  it('attw finds no problem at any entry point', () => {
    const { status, stdout } = run('attw', [tarball, '--format', 'json'])
    const { analysis } = JSON.parse(stdout)
    expect(Object.keys(analysis.entrypoints)).toEqual([...ENTRY_POINTS, './package.json'])
    expect(analysis.problems).toEqual([])
    expect(status).toBe(0)
  })
})
