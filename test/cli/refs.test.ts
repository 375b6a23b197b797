// Refs on the command line as git takes them: a unique prefix of 4+ hex digits works in fetch,
// stat, exists, delete and whereis; an ambiguous one is ERR_INVALID_REF naming the candidates.
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Two frames whose SHA-256 share their first 4 hex digits (found by trying seeds), and a third. */
function twins(): Buffer[] {
  const seen = new Map<string, Buffer>()
  for (let i = 0; ; i++) {
    const frame = testJpeg(`twin ${i}`)
    const twin = seen.get(sha256(frame).slice(0, 4))
    if (twin !== undefined) return [twin, frame]
    seen.set(sha256(frame).slice(0, 4), frame)
  }
}

describe('a unique prefix of a hash is a ref in the CLI', () => {
  it('fetch, stat, exists, whereis and delete take it; an ambiguous one lists the candidates; 3 digits ' +
    'are no ref', async () => {
    const root = await tempDir()
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir(),
      SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false'
    }
    const storage = new FilesystemDriver({ root })
    const [a, b] = twins()
    const [ha, hb] = [sha256(a!), sha256(b!)]
    for (const frame of [a!, b!]) await storage.store(frame)
    // the shortest prefix of a that b has not
    const unique = ha.slice(0, ha.split('').findIndex((c, i) => hb[i] !== c) + 1)
    const prefixOfA = unique.length >= 4 ? unique : ha.slice(0, 6)

    expect(Buffer.compare(cli(['fetch', prefixOfA], { env }).bytes, a!)).toBe(0)
    expect(Buffer.compare(cli(['fetch', prefixOfA.toUpperCase()], { env }).bytes, a!)).toBe(0)
    expect(answer(cli(['stat', prefixOfA, '--json'], { env }))).toMatchObject({ sha256: ha, size: a!.length })
    expect(cli(['exists', prefixOfA], { env })).toMatchObject({ code: 0, stdout: 'true\n' })
    expect(answer(cli(['whereis', prefixOfA, '--json'], { env }))).toMatchObject({ sha256: ha })
    const none = ['0000', 'ffff', '1234', 'abcd'].find(p => !ha.startsWith(p) && !hb.startsWith(p))!
    expect(cli(['exists', none], { env })).toMatchObject({ code: 1, stdout: 'false\n' })
    expect(answer(cli(['stat', none, '--json'], { env }))).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } })

    const ambiguous = cli(['fetch', ha.slice(0, 4), '--json'], { env })
    expect(ambiguous.code).toBe(3) // ERR_INVALID_REF
    const error = answer(ambiguous, 'stderr').error
    expect(error.code).toBe('ERR_INVALID_REF')
    expect(error.message).toContain('ambiguous: 2 stored objects start with it')
    for (const hash of [ha, hb]) expect(error.message).toContain(hash)
    expect(cli(['delete', ha.slice(0, 4)], { env }).code).toBe(3) // nothing deleted on an ambiguous prefix
    expect((await storage.exists(ha)) && (await storage.exists(hb))).toBe(true)
    expect(answer(cli(['exists', ha.slice(0, 3), '--json'], { env }))).toMatchObject({
      error: { code: 'ERR_INVALID_REF', message: expect.stringContaining('give 4 or more hex digits') }
    })

    expect(cli(['delete', prefixOfA], { env }).code).toBe(0)
    expect([await storage.exists(ha), await storage.exists(hb)]).toEqual([false, true])
    expect(Buffer.compare(cli(['fetch', hb.slice(0, 4)], { env }).bytes, b!)).toBe(0) // unique now
  }, 60_000)

  it('a command that needs replicas, on a store without them, is ERR_CONFIG (exit 6) naming the variable', async () => {
    const env = { SAI_IMAGE_STORAGE_PATH: await tempDir() }
    for (const command of [['status'], ['evict', '--older-than', '30d'], ['whereis', 'a'.repeat(64)]]) {
      const run = cli(command, { env })
      expect(run.code).toBe(6)
      expect(run.stderr).toContain('SAI_IMAGE_STORAGE_REPLICAS')
      expect(run.stderr).not.toMatch(/^Usage:/m)
    }
  })

  it('exists where the root does not exist answers false and says so, with the store line', async () => {
    const root = join(await tempDir(), 'data', 'images') // a cron job in the wrong folder
    const run = cli(['exists', 'a'.repeat(64)], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(run).toMatchObject({ code: 1, stdout: 'false\n' })
    expect(run.stderr).toContain('the root does not exist')
    expect(run.stderr).toContain(`store: ${root}`)
    expect(answer(cli(['exists', 'a'.repeat(64), '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } }))).toEqual({
      ref: 'a'.repeat(64),
      exists: false,
      rootExists: false,
      store: root
    })
  })

  it('a prefix of a quarantined frame gets the quarantine hint and its restore, as the whole hash does', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const storage = new FilesystemDriver({ root })
    const { hash } = await storage.store(testJpeg(`quarantined ${root}`, 4000))
    await storage.store(testJpeg(`kept ${root}`, 4000))
    await writeFile(storage.pathOf(hash), testJpeg('other bytes', 4000)) // corrupt: no copy to heal it from
    expect(answer(cli(['verify', '--repair', '--json'], { env }))).toMatchObject({ quarantined: 1 })
    const id = answer(cli(['quarantine', '--json'], { env })).entries[0].id
    for (const ref of [hash, hash.slice(0, 8)]) {
      for (const args of [
        ['fetch', ref, '-o', join(root, 'out.jpg')],
        ['stat', ref]
      ]) {
        const run = cli(args, { env })
        expect({ args, code: run.code }).toEqual({ args, code: 1 })
        expect(run.stderr).toContain('a repair quarantined it on')
        expect(run.stderr).toContain(`sai-images quarantine restore ${id}`)
      }
      const exists = cli(['exists', ref], { env })
      expect(exists.code).toBe(1)
      expect(exists.stdout).toContain(`false (a repair quarantined it on`)
    }
    const none = cli(['fetch', 'ffff0000'], { env })
    expect(none.stderr).toContain("no stored object's SHA-256 starts with these digits")
  })
})
