// Messages that point the right way: our own line for a wrong flag, with the command's usage; the
// setting named as the operator gave it (a flag, or the variable); help that fits in 100 columns;
// a stat whose values stand in one column.
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { freePort } from '../infra/setup/services.js'
import { answer, cli } from './run.js'

/** The command names that `sai-images help` lists. */
function commandNames(): string[] {
  const help = cli(['help']).stdout
  const list = help.slice(
    help.indexOf('Commands:\n') + 'Commands:\n'.length,
    help.indexOf('\n\n', help.indexOf('Commands:'))
  )
  return list.split('\n').map(line => line.trim().split(' ')[0]!)
}

describe("a wrong flag gets our one-line message and the command's usage", () => {
  it.each([
    [['verify', '--fix'], 'verify takes no --fix', 'Usage: sai-images verify [--repair [--force]]'],
    [['exists', '0'.repeat(64), '--bogus'], 'exists takes no --bogus', 'Usage: sai-images exists <ref>'],
    [['verify', '--repair=yes'], '--repair takes no value', 'Usage: sai-images verify'],
    [['prune', '--older-than'], '--older-than needs a value', 'Usage: sai-images prune'],
    [['--bogus'], 'sai-images takes no --bogus', 'Usage: sai-images <command>']
  ])('%j', (args, message, usage) => {
    const run = cli(args, { env: { SAI_IMAGE_STORAGE_PATH: '/nonexistent/never-touched' } })
    expect(run.code).toBe(2)
    const [first, second] = run.stderr.split('\n')
    expect(first).toMatch(new RegExp(`^sai-images: ${message.replace(/[-[\]]/g, '\\$&')} \\(see sai-images help`))
    expect(second!.startsWith(usage)).toBe(true)
    expect(run.stderr).not.toMatch(/parseArgs|ERR_PARSE_ARGS|Unknown option|To specify a positional/) // not Node's text
    expect(run.stderr.match(/"/g)?.length ?? 0).toBe(0) // no unbalanced quotes
  })
})

describe('help fits in 100 columns', () => {
  it('the command list, and the help of every command it lists', () => {
    const names = commandNames()
    expect(names).toEqual(expect.arrayContaining(['store', 'fetch', 'verify', 'prune', 'import', 'list', 'quarantine']))
    for (const args of [['help'], ['--help'], ...names.map(name => ['help', name])]) {
      const run = cli(args)
      expect({ args, code: run.code }).toEqual({ args, code: 0 })
      const wide = run.stdout.split('\n').filter(line => line.length > 100)
      expect({ args, wide }).toEqual({ args, wide: [] })
    }
  })

  it('a long usage is wrapped between its [...] groups, never inside one', () => {
    const usage = cli(['help', 'prune']).stdout.split('\n\n')[0]!
    const lines = usage.split('\n')
    expect(lines.length).toBeGreaterThan(1)
    expect(lines[1]).toMatch(/^ {24}\[/) // aligned under the first option
    expect(usage.replace(/\n\s+/g, ' ')).toContain('[--dry-run [--list F]]')
  })
})

describe('messages name the setting the operator used', () => {
  it('a missing root given with --root names --root; from the environment, its variable', async () => {
    const missing = join(await tempDir(), 'not-mounted')
    const byFlag = cli(['stat', '0'.repeat(64), '--root', missing], { env: { SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' } })
    expect(byFlag.code).toBe(5)
    expect(byFlag.stderr).toContain('--root')
    expect(byFlag.stderr).not.toContain('SAI_IMAGE_STORAGE_PATH')
    const byEnv = cli(['stat', '0'.repeat(64)], {
      env: { SAI_IMAGE_STORAGE_CREATE_ROOT: 'false', SAI_IMAGE_STORAGE_PATH: missing }
    })
    expect(byEnv.code).toBe(5)
    expect(byEnv.stderr).toContain('SAI_IMAGE_STORAGE_PATH')
  })

  it('a root that is a file: --root when given so, the variable from the environment', async () => {
    const file = join(await tempDir(), 'a-file')
    await writeFile(file, 'not a folder')
    const byFlag = cli(['stat', '0'.repeat(64), '--root', file])
    expect(byFlag.code).toBe(5)
    expect(byFlag.stderr).toContain(`the root ${file} is not a directory. Check the mount or set --root.`)
    const byEnv = cli(['stat', '0'.repeat(64)], { env: { SAI_IMAGE_STORAGE_PATH: file } })
    expect(byEnv.code).toBe(5)
    expect(byEnv.stderr).toContain('is not a directory. Check the mount or set SAI_IMAGE_STORAGE_PATH.')
  })

  it("migrate's target root is named by --to-root, not by its source's --root", async () => {
    const root = await tempDir()
    const file = join(await tempDir(), 'frame.jpg')
    await writeFile(file, testJpeg('migrated frame'))
    expect(cli(['store', file, '--root', root]).code).toBe(0)
    const target = join(await tempDir(), 'not-mounted')
    const mapping = join(await tempDir(), 'migrate.jsonl')
    const args = ['migrate', '--from', 'fs', '--to', 'fs', '--root', root, '--to-root', target, '--mapping', mapping]
    const run = cli(args, { env: { SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' } })
    expect(run.code).not.toBe(0)
    const said = run.stdout + run.stderr
    expect(said).toContain(`the root ${target} does not exist (SAI_IMAGE_STORAGE_CREATE_ROOT is false`)
    expect(said).toContain('Check the mount or set --to-root.')
    expect(said).not.toContain('set --root')
  })

  it('the input limit from the environment names SAI_IMAGE_STORAGE_MAX_BYTES', async () => {
    const env = { SAI_IMAGE_STORAGE_PATH: await tempDir(), SAI_IMAGE_STORAGE_MAX_BYTES: '10' }
    const run = cli(['store', '-', '--json'], { env, input: testJpeg('too big for ten bytes') })
    expect(run.code).toBe(3)
    expect(answer(run).error).toEqual({
      code: 'ERR_TOO_LARGE',
      message: 'Image is larger than the limit of 10 bytes (SAI_IMAGE_STORAGE_MAX_BYTES)'
    })
  })

  it("an IPFS node's URL and an S3 timeout from the environment name their variables", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const ipfs = cli(['exists', '0'.repeat(64), '--driver', 'ipfs'], { env: { SAI_IPFS_API_URL: dead } })
    expect(ipfs.code).toBe(5)
    expect(ipfs.stderr).toMatch(/Check the node or set SAI_IPFS_API_URL\n$/)
    // a socket that accepts and never answers (the kernel accepts while this process waits for the CLI)
    const silent = createServer(socket => socket.on('error', () => {}))
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const env = {
        SAI_S3_ENDPOINT: `http://127.0.0.1:${(silent.address() as { port: number }).port}`,
        SAI_S3_BUCKET: 'frames',
        SAI_S3_TIMEOUT_MS: '300',
        SAI_S3_ACCESS_KEY_ID: 'AKIACLINAMES',
        SAI_S3_SECRET_ACCESS_KEY: 'cli-names-secret-8Jd02'
      }
      const s3 = cli(['exists', '0'.repeat(64), '--driver', 's3'], { env })
      expect(s3.code).toBe(5)
      expect(s3.stderr).toContain('no answer within 300 ms (SAI_S3_TIMEOUT_MS)')
      expect(s3.stderr).not.toContain('cli-names-secret-8Jd02')
    } finally {
      silent.close()
    }
  })

  it('a file that is not an image points at --allow-non-image, which stores it', async () => {
    const root = await tempDir()
    const file = join(await tempDir(), 'notes.txt')
    await writeFile(file, 'not an image')
    const refused = cli(['store', file], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('--allow-non-image')
    expect(refused.stderr).not.toMatch(/set allowNonImage/)
    const stored = cli(['store', file, '--allow-non-image', '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(stored.code).toBe(0)
    expect(answer(stored)).toMatchObject({ mimeType: 'application/octet-stream', size: 12 })
  })
})

describe('stat', () => {
  it('prints its values in one column, whatever the longest name', async () => {
    const root = await tempDir()
    const file = join(await tempDir(), 'frame.jpg')
    await writeFile(file, testJpeg('stat aligned'))
    const { hash } = answer(cli(['store', file, '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } }))
    const lines = cli(['stat', hash], { env: { SAI_IMAGE_STORAGE_PATH: root } })
      .stdout.trim()
      .split('\n')
    expect(lines.map(line => line.split(/\s+/)[0])).toEqual([
      'hash',
      'sha256',
      'path',
      'key',
      'size',
      'storedAt',
      'lastStoredAt',
      'mimeType'
    ])
    const columns = new Set(lines.map(line => line.search(/(?<=\S\s+)\S/)))
    expect(columns.size).toBe(1)
  })
})
