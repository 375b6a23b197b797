import { createHash } from 'node:crypto'
import { pipeline, Transform, type Readable } from 'node:stream'
import { IntegrityError } from './errors.js'

/**
 * `source` checked against `sha256` as it flows. The last chunk is held back until the bytes
 * check out, so a consumer never receives all of wrong bytes (an HTTP client that got the whole
 * Content-Length would take them as good): on a mismatch the stream errors with `ERR_INTEGRITY`.
 */
export function verifiedStream(source: Readable, sha256: string, path: string): Readable {
  const hash = createHash('sha256')
  let held: Buffer | undefined
  const verify = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      const previous = held
      held = chunk
      done(null, previous)
    },
    flush(done) {
      const actual = hash.digest('hex')
      if (actual !== sha256) return done(new IntegrityError(sha256, actual, path))
      done(null, held)
    }
  })
  pipeline(source, verify, () => {})
  return verify
}
