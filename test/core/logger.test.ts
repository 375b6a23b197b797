/**
 * The `logger` option: nothing is logged unless one is given; every failure of work nobody waits
 * on reaches it once, with its event and code, and no secret. The faults are real: a directory
 * made append-only (`chattr +a`, which binds root too: names may be added, none removed), so a
 * temp file's removal fails with EPERM from the kernel; a close of a descriptor that is not open.
 */
import { execFile, execFileSync } from 'node:child_process'
import { close as closeCallback } from 'node:fs'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { Background } from '../../src/core/background.js'
import { log, type LogFields, type Logger } from '../../src/core/logger.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { createImageStorage } from '../../src/features/factory/index.js'
import { createVariants } from '../../src/features/variants/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'

type Line = { level: string; fields: LogFields; message: string }

/** A logger that keeps what it is told. */
function keeping(): Logger & { lines: Line[] } {
  const lines: Line[] = []
  const at = (level: string) => (fields: LogFields, message: string) => {
    lines.push({ level, fields, message })
  }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/** Runs `work` with `dir` append-only, then makes it ordinary again (so that it can be removed). */
async function appendOnly<T>(dir: string, work: () => Promise<T>): Promise<T> {
  execFileSync('chattr', ['+a', dir], { stdio: 'pipe' })
  try {
    return await work()
  } finally {
    execFileSync('chattr', ['-a', dir], { stdio: 'pipe' })
  }
}

const shardOf = (sha256: string): string => `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}`

describe('Background', () => {
  it('logs a failed task once, at warn, with its event, its fields and the OS code; settle waits for all', async () => {
    const logger = keeping()
    const background = new Background(logger)
    background.add(promisify(closeCallback)(987_654), 'test.close-failed', { path: '/some/temp' })
    background.add(Promise.resolve(), 'test.never')
    expect(background.size).toBe(2)
    await background.settle()
    expect(background.size).toBe(0)
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        fields: {
          event: 'test.close-failed',
          path: '/some/temp',
          code: 'EBADF',
          error: expect.stringContaining('bad file descriptor')
        },
        message: expect.stringMatching(/^test\.close-failed: /)
      }
    ])
  })

  it("without a logger, or with one that throws, a failure is no one's problem", async () => {
    for (const logger of [
      undefined,
      {
        warn() {
          throw new Error('the logger broke')
        }
      }
    ]) {
      const background = new Background(logger)
      background.add(promisify(closeCallback)(987_655), 'test.close-failed')
      await expect(background.settle()).resolves.toBeUndefined()
    }
    expect(() =>
      log(
        {
          error() {
            throw new Error('no')
          }
        },
        'error',
        { event: 'x' },
        'x'
      )
    ).not.toThrow()
  })
})

describe("the filesystem driver's logger", () => {
  // without fsync the temp's removal is made on the event loop, its failure logged there (write.ts)
  it.each([true, false])(
    'a temp file that cannot be removed after its store (append-only .tmp): the store succeeds, one fs.temp-remove-failed with EPERM (fsync %s)',
    async fsync => {
      const root = await tempDir('sai-log-fs')
      const logger = keeping()
      const storage = createImageStorage({ driver: 'fs', root, logger, fsync }) as FilesystemDriver
      await storage.store(testJpeg(`first ${Date.now()}`)) // the root and its .tmp exist
      const jpeg = testJpeg(`kept temp ${Date.now()}`, 4096)
      const result = await appendOnly(join(root, '.tmp'), async () => {
        const stored = await storage.store(jpeg) // a new shard: staged in .tmp
        await storage.close()
        return stored
      })
      expect(result.isDuplicate).toBe(false)
      expect(Buffer.compare(await storage.fetch(result.hash), jpeg)).toBe(0) // stored, durable, whole
      expect(logger.lines).toHaveLength(1)
      const [line] = logger.lines
      expect(line).toMatchObject({
        level: 'warn',
        fields: { event: 'fs.temp-remove-failed', code: 'EPERM', path: expect.stringContaining(join(root, '.tmp')) }
      })
      expect(line!.message).toContain('operation not permitted')
      const left = await readdir(join(root, '.tmp'))
      expect(left).toHaveLength(1)
      expect(line!.fields.path).toBe(join(root, '.tmp', left[0]!))
      // and verify finds the stray temp that the log named
      const report = await storage.verify({ tempMinAgeMs: 0 })
      expect(report.problems.map(p => p.reason)).toEqual(['stray-temp'])
    }
  )

  it('nothing is logged without a logger: a process with the same fault prints nothing', async () => {
    const root = await tempDir('sai-log-silent')
    const script = `
      import { FilesystemDriver } from ${JSON.stringify(join(ROOT, 'dist/drivers/fs.js'))}
      import { testJpeg } from ${JSON.stringify(join(ROOT, 'dist/testing.js'))}
      import { execFileSync } from 'node:child_process'
      const storage = new FilesystemDriver({ root: ${JSON.stringify(root)} })
      await storage.store(testJpeg('first'))
      execFileSync('chattr', ['+a', ${JSON.stringify(join(root, '.tmp'))}])
      try {
        await storage.store(testJpeg('second', 4096))
        await storage.close()
      } finally {
        execFileSync('chattr', ['-a', ${JSON.stringify(join(root, '.tmp'))}])
      }
    `
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8'
    })
    expect(stdout + stderr).toBe('')
    expect(await readdir(join(root, '.tmp'))).toHaveLength(1) // the fault was there: the temp is left
  })
})

describe("the variant cache's logger", () => {
  async function setUp(): Promise<{
    root: string
    storage: FilesystemDriver
    logger: ReturnType<typeof keeping>
    variants: ReturnType<typeof createVariants>
  }> {
    const root = await tempDir('sai-log-variants')
    const storage = new FilesystemDriver({ root })
    const logger = keeping()
    return { root, storage, logger, variants: createVariants(storage, { logger }) }
  }

  it('a variant that cannot be made leaves a temp that cannot be removed: one variants.temp-remove-failed', async () => {
    const { root, storage, logger, variants } = await setUp()
    // a JPEG's first bytes, then nothing sharp can decode
    const broken = await storage.store(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(3000, 7)]))
    const folder = join(root, '.variants', shardOf(broken.sha256!))
    await mkdir(folder, { recursive: true })
    const error = await appendOnly(folder, async () => await variants.get(broken.hash, 'thumb').catch(err => err))
    expect(error.code).toBe('ERR_INVALID_INPUT')
    await variants.close()
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        fields: {
          event: 'variants.temp-remove-failed',
          code: 'EPERM',
          path: expect.stringMatching(new RegExp(`^${folder}/\\..+\\.tmp$`)),
          error: expect.any(String)
        },
        message: expect.any(String)
      }
    ])
    expect(await readdir(folder)).toEqual([(logger.lines[0]!.fields.path as string).slice(folder.length + 1)])
  })

  it('a damaged entry that cannot be removed: variants.damaged-remove-failed, then the temp of its remake', async () => {
    const { root, storage, logger, variants } = await setUp()
    const { hash, sha256 } = await storage.store(testJpeg(`damaged variant ${Date.now()}`, 4096))
    const made = await variants.get(hash, 'thumb')
    const folder = join(root, '.variants', shardOf(sha256!))
    await writeFile(join(root, '.variants', made.key), Buffer.from('not the variant'))
    const error = await appendOnly(folder, async () => await variants.get(hash, 'thumb').catch(err => err))
    // the remake cannot take the damaged entry's name either: a cache that cannot be written, typed
    expect({ code: error.code, cause: error.cause?.code }).toEqual({ code: 'ERR_STORAGE_UNAVAILABLE', cause: 'EPERM' })
    await variants.close()
    expect(logger.lines.map(l => [l.fields.event, l.fields.code])).toEqual([
      ['variants.damaged-remove-failed', 'EPERM'],
      ['variants.temp-remove-failed', 'EPERM']
    ])
    expect(logger.lines[0]!.fields.path).toBe(join(root, '.variants', made.key))
  })

  it('verify --repair of a file it cannot remove says "left", not "removed", and logs variants.remove-failed', async () => {
    const { root, storage, logger, variants } = await setUp()
    const { hash, sha256 } = await storage.store(testJpeg(`stray variant ${Date.now()}`, 4096))
    await variants.get(hash, 'thumb')
    const folder = join(root, '.variants', shardOf(sha256!))
    await writeFile(join(folder, 'stray.bin'), 'left by someone')
    const hoursAgo = new Date(Date.now() - 2 * 3_600_000) // (a younger file may be a render's temp under way)
    await utimes(join(folder, 'stray.bin'), hoursAgo, hoursAgo)
    const report = await appendOnly(folder, async () => await variants.verify({ repair: true }))
    expect(report.problems).toEqual([
      expect.objectContaining({ key: `${shardOf(sha256!)}/stray.bin`, reason: 'stray', action: 'left' })
    ])
    expect(report).toMatchObject({ removed: 0, clean: false })
    expect(logger.lines.map(l => [l.fields.event, l.fields.code, l.fields.path])).toEqual([
      ['variants.remove-failed', 'EPERM', join(folder, 'stray.bin')]
    ])
    // once the folder is ordinary again, a repair removes it
    expect(await variants.verify({ repair: true })).toMatchObject({ removed: 1, clean: true })
  })

  it('without a logger the same faults are silent, and nothing else changes', async () => {
    const root = await tempDir('sai-log-variants-silent')
    const storage = new FilesystemDriver({ root })
    const variants = createVariants(storage)
    const broken = await storage.store(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(3000, 9)]))
    const folder = join(root, '.variants', shardOf(broken.sha256!))
    await mkdir(folder, { recursive: true })
    const printed: unknown[] = []
    const write = process.stderr.write
    const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const
    const originals = consoleMethods.map(name => console[name])
    process.stderr.write = ((chunk: unknown) => {
      printed.push(chunk)
      return true
    }) as typeof write
    for (const name of consoleMethods)
      console[name] = (...args: unknown[]) => {
        printed.push(args)
      }
    let error
    try {
      error = await appendOnly(folder, async () => await variants.get(broken.hash, 'thumb').catch(err => err))
      await variants.close()
    } finally {
      process.stderr.write = write
      consoleMethods.forEach((name, i) => {
        console[name] = originals[i]!
      })
    }
    expect(error.code).toBe('ERR_INVALID_INPUT')
    expect(await readdir(folder)).toHaveLength(1) // the fault was there: the temp is left
    expect(printed).toEqual([])
  })
})
