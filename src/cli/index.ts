/**
 * sai-images: check, repair, back-fill and move the store without writing code. Configured by the
 * same SAI_IMAGE_STORAGE_* / SAI_IPFS_* environment as the library, and by flags.
 */
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { FilesystemDriver } from '../../drivers/fs/index.js'
import { forEachConcurrent } from '../concurrency.js'
import { ImageStorageError, type ErrorCode } from '../errors.js'
import { createImageStorage, DRIVERS, type CreateImageStorageOptions } from '../factory.js'
import type { ImageStorage } from '../types.js'
import { importTree, migrate, type JobSummary } from './jobs.js'

const USAGE = `Usage: sai-images <command> [options]

Commands:
  store <file|->               store an image (- reads standard input)
  fetch <ref> [-o file]        write the verified bytes to a file or standard output
  exists <ref>                 exit 0 if stored, 1 if not
  stat <ref>                   size, type and place of one object
  stats                        objects, bytes, and counts by type
  verify [--repair]            re-hash every object; report (and with --repair quarantine) bad
                               objects and remove stray temps; exit 0 only if the store is clean
  import <dir> --mapping F     store every file below <dir>; F (JSONL) maps source to hash and key;
                               run it again to resume
  migrate --from D --to D --mapping F [--dry-run]
                               copy every object to another driver and check it there; resumable

Options:
  --driver fs|ipfs|memory      default: SAI_IMAGE_STORAGE_DRIVER, or fs
  --root DIR                   the filesystem store (default: SAI_IMAGE_STORAGE_PATH, or ./data/images)
  --to-root DIR                the filesystem store migrate writes to, when --to fs
  --concurrency N              default 4
  --json                       machine-readable output
  -o, --output FILE            for fetch
  -h, --help

Exit codes: 0 done, 1 not found / not clean / some items failed, 2 usage, 3 bad input or ref,
4 integrity, 5 storage unavailable, 6 configuration, 130 interrupted.`

const EXIT: Record<ErrorCode, number> = {
  ERR_NOT_FOUND: 1,
  ERR_INVALID_INPUT: 3,
  ERR_INVALID_REF: 3,
  ERR_TOO_LARGE: 3,
  ERR_INTEGRITY: 4,
  ERR_STORAGE_UNAVAILABLE: 5,
  ERR_CONFIG: 6
}

class UsageError extends Error {}

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        driver: { type: 'string' },
        root: { type: 'string' },
        'to-root': { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        mapping: { type: 'string' },
        concurrency: { type: 'string', default: '4' },
        repair: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h', default: false }
      }
    })
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`)
    process.exit(2)
  }
})()

const out = (human: string, json: unknown): void => {
  process.stdout.write(flags.json ? JSON.stringify(json) + '\n' : human + '\n')
}

function storageFor (driver: string | undefined, root?: string): ImageStorage {
  if (driver !== undefined && !(DRIVERS as readonly string[]).includes(driver)) throw new UsageError(`unknown driver ${driver}: expected ${DRIVERS.join(', ')}`)
  return createImageStorage({ ...(driver === undefined ? {} : { driver }), ...(root === undefined ? {} : { root }) } as CreateImageStorageOptions)
}

function arg (index: number, name: string): string {
  const value = positionals[index]
  if (value === undefined) throw new UsageError(`missing <${name}>`)
  return value
}

function concurrency (): number {
  const n = Number(flags.concurrency)
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError('--concurrency takes a whole number from 1 to 256')
  return n
}

/** Ctrl-C: the first asks the job to stop cleanly, a second one ends the process. */
function stopSignal (): AbortSignal {
  const controller = new AbortController()
  process.once('SIGINT', () => {
    process.stderr.write('\nstopping: letting work under way finish (Ctrl-C again to quit at once)\n')
    controller.abort()
    process.once('SIGINT', () => process.exit(130))
  })
  process.once('SIGTERM', () => controller.abort())
  return controller.signal
}

function report (name: string, summary: JobSummary & { bytes?: number }): number {
  const state = summary.interrupted ? `interrupted after ${summary.done} of ${summary.total - summary.skipped}` : 'complete'
  out(`${name} ${state}: ${summary.done} done, ${summary.skipped} already done earlier, ${summary.failed.length} failed, of ${summary.total}` +
    (summary.bytes === undefined ? '' : `, ${summary.bytes} bytes`) + `; mapping: ${summary.mapping}` +
    summary.failed.map(f => `\n  ${f.code} ${f.item}: ${f.message}`).join(''), { command: name, ...summary })
  if (summary.interrupted) return 130
  return summary.failed.length > 0 ? 1 : 0
}

async function main (): Promise<number> {
  const [command] = positionals
  if (flags.help || command === undefined) {
    process.stdout.write(USAGE + '\n')
    return command === undefined && !flags.help ? 2 : 0
  }
  const storage = (): ImageStorage => storageFor(flags.driver, flags.root)
  switch (command) {
    case 'store': {
      const file = arg(1, 'file|-')
      const result = await storage().store(file === '-' ? process.stdin : { path: file })
      out(`${result.hash} ${result.key} ${result.size} ${result.mimeType}${result.isDuplicate ? ' (duplicate)' : ''}`, result)
      return 0
    }
    case 'fetch': {
      const stream = await storage().fetchStream(arg(1, 'ref'))
      if (flags.output === undefined) {
        await pipeline(stream, process.stdout)
        return 0
      }
      // written next to the target and renamed: a failed check leaves no file behind
      const temp = `${flags.output}.partial`
      try {
        await pipeline(stream, createWriteStream(temp))
        await rename(temp, flags.output)
      } finally {
        await rm(temp, { force: true })
      }
      return 0
    }
    case 'exists': {
      const exists = await storage().exists(arg(1, 'ref'))
      out(String(exists), { exists })
      return exists ? 0 : 1
    }
    case 'stat': {
      const stat = await storage().stat(arg(1, 'ref'))
      out(Object.entries(stat).map(([k, v]) => `${k.padEnd(9)} ${v instanceof Date ? v.toISOString() : String(v)}`).join('\n'), stat)
      return 0
    }
    case 'stats': {
      const store = storage()
      const byType: Record<string, { objects: number, bytes: number }> = {}
      let objects = 0
      let bytes = 0
      await forEachConcurrent(store.list(), concurrency(), async entry => {
        const { size, mimeType } = await store.stat(entry.hash)
        objects++
        bytes += size
        byType[mimeType] ??= { objects: 0, bytes: 0 }
        byType[mimeType].objects++
        byType[mimeType].bytes += size
      })
      out(`${objects} objects, ${bytes} bytes` + Object.entries(byType).map(([type, t]) => `\n  ${type.padEnd(26)} ${t.objects} objects, ${t.bytes} bytes`).join(''), { objects, bytes, byType })
      return 0
    }
    case 'verify': {
      const store = storage()
      if (!(store instanceof FilesystemDriver)) throw new UsageError('verify works on the filesystem driver')
      const result = await store.verify({ repair: flags.repair, concurrency: concurrency() })
      out(`${result.checked} objects checked, ${result.bytes} bytes: ${result.problems.length === 0 ? 'clean' : `${result.problems.length} problems${flags.repair ? ', repaired' : ''}`}` +
        result.problems.map(p => `\n  ${p.reason.padEnd(10)} ${p.path}${p.movedTo === undefined ? '' : ` -> ${p.movedTo}`}`).join(''), result)
      return result.clean ? 0 : 1
    }
    case 'import': {
      const dir = arg(1, 'dir')
      if (flags.mapping === undefined) throw new UsageError('import needs --mapping FILE (JSONL), which also makes it resumable')
      const summary = await importTree(storage(), dir, { mapping: flags.mapping, concurrency: concurrency(), progress: !flags.json && process.stderr.isTTY === true, stop: stopSignal() })
      return report('import', summary)
    }
    case 'migrate': {
      if (flags.from === undefined || flags.to === undefined || flags.mapping === undefined) throw new UsageError('migrate needs --from, --to and --mapping')
      const from = storageFor(flags.from, flags.root)
      const to = storageFor(flags.to, flags['to-root'])
      const summary = await migrate(from, to, { mapping: flags.mapping, concurrency: concurrency(), progress: !flags.json && process.stderr.isTTY === true, stop: stopSignal(), dryRun: flags['dry-run'] })
      if (flags['dry-run']) {
        out(`dry run: ${summary.total - summary.skipped} objects (${summary.bytes} bytes) to copy, ${summary.skipped} already copied`, { dryRun: true, ...summary })
        return 0
      }
      return report('migrate', summary)
    }
    default:
      throw new UsageError(`unknown command ${command}`)
  }
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`sai-images: ${err.message}\n\n${USAGE}\n`)
    process.exitCode = 2
  } else if (err instanceof ImageStorageError) {
    process.stderr.write(`sai-images: ${err.code}: ${err.message}\n`)
    if (flags.json) process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n')
    process.exitCode = EXIT[err.code]
  } else if ((err as Error)?.name === 'AbortError') {
    process.exitCode = 130
  } else {
    process.stderr.write(`sai-images: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = 70
  }
})
