/** `fetch`: verified bytes to standard output, to a file, or (several refs) into a folder. */
import { createWriteStream, statSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { ImageStorageError, InvalidInputError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { storeLine, UsageError, type Context } from '../context.js'
import { eachOperand, reportOutcomes } from '../operands.js'

/** The file name extension of each type a store sniffs: `DIR/<hash>.<ext>`. */
const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
  'image/tiff': 'tif',
  'image/heic': 'heic',
  'image/avif': 'avif'
}

export async function fetch(cli: Context): Promise<number> {
  const output = cli.string('output')
  const refs = cli.operands('ref')
  const folder = output !== undefined && (output.endsWith('/') || isFolder(output))
  if (refs.length > 1 && !folder)
    throw new UsageError(
      'several refs are written into a folder: -o DIR ' +
        `(${output === undefined ? 'standard output would mix them' : `${output} is not a folder`})`
    )
  const storage = await cli.storage()
  if (output === undefined) return await toStdout(cli, storage, refs[0]!)
  // a name ending in / says "a folder": made as mkdir -p does, once, before any ref is looked up
  if (folder && output.endsWith('/'))
    await mkdir(output, { recursive: true }).catch((err: unknown) => {
      throw InvalidInputError.unreadable(output, err, 'create')
    })
  if (!folder) {
    const size = await writeVerified(storage, refs[0]!, output)
    cli.out(`${size} bytes written to ${output}\n${storeLine(storage)}`, {
      ref: refs[0],
      size,
      written: output,
      store: storage.location
    })
    return 0
  }
  const outcomes = await eachOperand(refs, async ref => {
    const { hash, mimeType } = await storage.stat(ref)
    const file = join(output, `${hash}.${EXTENSIONS[mimeType] ?? 'bin'}`)
    return { ref, size: await writeVerified(storage, ref, file), written: file }
  })
  if (refs.length === 1 && 'result' in outcomes[0]!) {
    const { result } = outcomes[0]
    cli.out(`${result.size} bytes written to ${result.written}\n${storeLine(storage)}`, {
      ...result,
      store: storage.location
    })
    return 0
  }
  if (refs.length === 1 && 'error' in outcomes[0]!) throw outcomes[0].error
  return reportOutcomes(cli, storage, outcomes, {
    verb: 'written',
    human: r => `${r.size} bytes written to ${r.written}`,
    json: r => r
  })
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** A pipe cannot take bytes back: nothing is written until all of them are verified. */
async function toStdout(cli: Context, storage: ImageStorage, ref: string): Promise<number> {
  if (process.stdout.isTTY === true && cli.flags.force !== true)
    throw new UsageError('refusing to write image bytes to a terminal: use -o FILE, a pipe, or --force')
  const bytes = await storage.fetch(ref)
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(bytes, err => {
      if (err == null) resolve()
      else reject(err)
    })
  )
  // the answer goes to stderr (stdout holds the bytes): only with --json, a summary line would be noise
  if (cli.json) cli.out('', { ref, size: bytes.length, written: '-', store: storage.location })
  return 0
}

/** Streams `ref` into `file`, written beside it and renamed: a failed check leaves no file behind. */
async function writeVerified(storage: ImageStorage, ref: string, file: string): Promise<number> {
  const stream = await storage.fetchStream(ref)
  const temp = `${file}.partial`
  let size = 0
  stream.on('data', (chunk: Buffer) => {
    size += chunk.length
  })
  try {
    await pipeline(stream, createWriteStream(temp)).catch((err: unknown) => {
      throw err instanceof ImageStorageError ? err : InvalidInputError.unreadable(file, err, 'write')
    })
    await rename(temp, file).catch((err: unknown) => {
      throw InvalidInputError.unreadable(file, err, 'write')
    })
  } finally {
    await rm(temp, { force: true })
  }
  return size
}
