/** One object at a time: store, fetch, exists, stat. */
import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { ImageStorageError, InvalidInputError } from '../../core/errors.js'
import type { Command } from '../context.js'

export const store: Command = {
  name: 'store',
  usage: 'store <file|->',
  summary: 'store an image (- reads standard input)',
  async run (cli) {
    const file = cli.arg(0, 'file|-')
    const result = await cli.storage().store(file === '-' ? process.stdin : { path: file })
    cli.out(`${result.hash} ${result.key} ${result.size} ${result.mimeType}${result.isDuplicate ? ' (duplicate)' : ''}`, result)
    return 0
  }
}

export const fetch: Command = {
  name: 'fetch',
  usage: 'fetch <ref> [-o file]',
  summary: 'write the verified bytes to a file or standard output',
  options: { output: { type: 'string', short: 'o' } },
  async run (cli) {
    const output = cli.string('output')
    if (output === undefined) {
      // a pipe cannot take bytes back: nothing is written until all of them are verified
      const bytes = await cli.storage().fetch(cli.arg(0, 'ref'))
      await new Promise<void>((resolve, reject) => process.stdout.write(bytes, err => { if (err == null) resolve(); else reject(err) }))
      return 0
    }
    const stream = await cli.storage().fetchStream(cli.arg(0, 'ref'))
    // written next to the target and renamed: a failed check leaves no file behind
    const temp = `${output}.partial`
    try {
      await pipeline(stream, createWriteStream(temp)).catch((err: unknown) => {
        throw err instanceof ImageStorageError ? err : InvalidInputError.unreadable(output, err, 'write')
      })
      await rename(temp, output)
    } finally {
      await rm(temp, { force: true })
    }
    return 0
  }
}

export const exists: Command = {
  name: 'exists',
  usage: 'exists <ref>',
  summary: 'exit 0 if stored, 1 if not',
  async run (cli) {
    const exists = await cli.storage().exists(cli.arg(0, 'ref'))
    cli.out(String(exists), { exists })
    return exists ? 0 : 1
  }
}

export const stat: Command = {
  name: 'stat',
  usage: 'stat <ref>',
  summary: 'size, type and place of one object',
  async run (cli) {
    const stat = await cli.storage().stat(cli.arg(0, 'ref'))
    cli.out(Object.entries(stat).map(([k, v]) => `${k.padEnd(9)} ${v instanceof Date ? v.toISOString() : String(v)}`).join('\n'), stat)
    return 0
  }
}
