/**
 * Reading an object's file under the store's root (the `root` capability: `{root}/{key}`) and
 * checking its bytes against their address, with the file's identity before and after.
 */
import { createHash } from 'node:crypto'
import { close, createReadStream, fstatSync, open, read } from 'node:fs'
import { pipeline, type Readable, Transform } from 'node:stream'
import { IntegrityError } from '../../core/errors.js'
import { fileIdentity } from '../../core/file-identity.js'

/** An open object file and its identity when opened. */
export interface LocalFile {
  fd: number
  id: string
  size: number
}

export async function openLocal(path: string): Promise<LocalFile> {
  const fd = await new Promise<number>((resolve, reject) => {
    open(path, 'r', (err, fd) => (err === null ? resolve(fd) : reject(err)))
  })
  try {
    const stats = fstatSync(fd, { bigint: true }) // of an open file: no lookup, no disk
    return { fd, id: fileIdentity(stats), size: Number(stats.size) }
  } catch (err) {
    closeLocal({ fd, id: '', size: 0 })
    throw err
  }
}

export function closeLocal(file: LocalFile): void {
  close(file.fd, () => {})
}

/** Whether the file is as it was when opened (nothing wrote, truncated or touched it since). */
export function unchanged(file: LocalFile): boolean {
  return fileIdentity(fstatSync(file.fd, { bigint: true })) === file.id
}

async function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    read(fd, buffer, 0, buffer.length, position, (err, n) => (err === null ? resolve(n) : reject(err)))
  })
}

/** The whole file, or undefined if it is not what was opened (shorter, or changed meanwhile). */
export async function readWhole(file: LocalFile): Promise<Buffer | undefined> {
  const bytes = Buffer.allocUnsafe(file.size)
  for (let done = 0; done < file.size; ) {
    const n = await readAt(file.fd, bytes.subarray(done), done)
    if (n === 0) return undefined
    done += n
  }
  return unchanged(file) ? bytes : undefined
}

const CHUNK = 1024 * 1024

/**
 * Whether the file holds the bytes named `sha256`, unchanged while they were read; `keep`: and
 * them (undefined if not). A large file is hashed a slice at a time, never held whole.
 */
export async function verifyLocal(
  file: LocalFile,
  sha256: string,
  keep: boolean
): Promise<{ ok: boolean; bytes?: Buffer }> {
  if (keep) {
    const bytes = await readWhole(file)
    const ok = bytes !== undefined && createHash('sha256').update(bytes).digest('hex') === sha256
    return ok ? { ok, bytes } : { ok }
  }
  const hash = createHash('sha256')
  const slice = Buffer.allocUnsafe(Math.min(CHUNK, file.size))
  for (let done = 0; done < file.size; ) {
    const n = await readAt(file.fd, slice.subarray(0, Math.min(CHUNK, file.size - done)), done)
    if (n === 0) return { ok: false }
    hash.update(slice.subarray(0, n))
    done += n
  }
  return { ok: unchanged(file) && hash.digest('hex') === sha256 }
}

/**
 * Bytes `start`..`end` (inclusive) of the open file of `sha256`; closes it when done. The last chunk goes out only
 * if the file is still as it was opened (as `readWhole` checks): a write while the bytes went out (after their hash,
 * or the record's check) fails the stream, so the answer is cut short of its length, never whole with other bytes.
 */
export function streamLocal(file: LocalFile, sha256: string, start: number, end: number): Readable {
  let held: Buffer | undefined
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const out = held
      held = chunk
      done(null, out)
    },
    flush(done) {
      if (unchanged(file)) done(null, held)
      else done(new IntegrityError(sha256, 'other bytes: its file changed while they were sent'))
    }
  })
  return pipeline(createReadStream('', { fd: file.fd, start, end, autoClose: false }), checked, () => closeLocal(file))
}
