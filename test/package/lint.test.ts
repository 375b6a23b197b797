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
 * The package's tarball, without a build: packed from a copy of the tree with the `dist` link that
 * the test setup makes resolved (npm pack does not follow it), as tarball.test.ts does.
 */
async function pack (): Promise<string> {
  const out = await tempDir('sai-lint')
  const tree = join(out, 'tree')
  for (const name of readdirSync(PACKAGE).filter(name => !/^(node_modules|\.git|\.dist-build.*)$/.test(name))) {
    cpSync(join(PACKAGE, name), join(tree, name), { recursive: true, dereference: true })
  }
  const args = ['pack', '--ignore-scripts', '--json', '--pack-destination', out]
  const [packed] = JSON.parse(execFileSync('npm', args, { cwd: tree, encoding: 'utf8' }))
  return join(out, packed.filename)
}

function run (bin: string, args: string[]): { status: number, stdout: string } {
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
    const { status, stdout } = run('publint', ['run', tarball, '--strict'])
    expect({ status, stdout }).toEqual({ status: 0, stdout: expect.stringContaining('All good!') })
  })

  it('attw finds no problem at any entry point', () => {
    const { status, stdout } = run('attw', [tarball, '--format', 'json', '--no-definitely-typed'])
    const { analysis } = JSON.parse(stdout)
    expect(Object.keys(analysis.entrypoints)).toEqual([...ENTRY_POINTS, './package.json'])
    expect(analysis.problems).toEqual([])
    expect(status).toBe(0)
  })
})
