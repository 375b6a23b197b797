/**
 * `marks` on S3: `{prefix}.marks/<name>`, a small object. `create` is a PUT with `If-None-Match: *`,
 * `swap` a PUT with `If-Match: <the ETag read>`: the store's own conditional writes, so that of N
 * hosts creating or swapping one mark, one wins and the others get 412 and read the winner's. Ceph's
 * RGW (16) honours both, but compares If-Match with the bare ETag: a quoted one (as RFC 9110 and AWS
 * write it) never matches there. The bare form goes first, the quoted one if the mark is unchanged
 * after a 412; a server that refuses both is `ERR_CONFIG`, never an unconditional write. Each write that won is
 * asked again, and must be refused: a server that ignores the conditions is `ERR_CONFIG` too. Never listed
 * as a frame: the key is not in the layout.
 */
import { createHash } from 'node:crypto'
import { ConfigError } from '../../core/errors.js'
import type { StoreMarks } from '../../core/marks.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { S3Connection } from './client.js'
import type { S3Objects } from './objects.js'

export function s3Marks(
  objects: S3Objects,
  connection: S3Connection,
  bucket: string,
  prefix: string,
  uri: (key: string) => string
): StoreMarks {
  const key = (name: string): string => `${prefix}${SPECIAL_DIRS.marks}/${name}`
  const tagged = async (name: string, signal?: AbortSignal) => await taggedMark(connection, bucket, key(name), signal)
  return {
    location: uri(`${prefix}${SPECIAL_DIRS.marks}/`),
    async read(name, options = {}) {
      return (await objects.read(key(name), options.signal))?.bytes.toString('utf8')
    },
    async create(name, text, options = {}) {
      const bytes = Buffer.from(text)
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      const put = async (): Promise<boolean> =>
        await objects.put(key(name), sha256, bytes, 'application/json', new Date(), true, options.signal)
      if (!(await put())) return false
      // a server that ignores If-None-Match would let two hosts both create the mark and both own the replica: the
      // same create, asked again, must be refused (it writes the same bytes if it is not)
      if (await put()) throw ignored(connection, uri(key(name)), 'If-None-Match')
      return true
    },
    async swap(name, from, text, options = {}) {
      const { signal } = options
      const now = await tagged(name, signal)
      if (now === undefined || now.text !== from) return false
      for (const etag of [now.etag, `"${now.etag}"`]) {
        if (await putIfMatch(connection, bucket, key(name), text, etag, signal)) {
          // the ETag just replaced must not match any more (a server that ignores If-Match lets two take-overs win)
          if (await putIfMatch(connection, bucket, key(name), text, etag, signal))
            throw ignored(connection, uri(key(name)), 'If-Match')
          return true
        }
        if ((await tagged(name, signal))?.etag !== now.etag) return false // another writer's swap won
      }
      throw ConfigError.forOption(
        'endpoint',
        `the S3 server at ${connection.endpoint} refused a PUT of ${uri(key(name))} with If-Match and the ` +
          "object's own ETag, bare and quoted: a take-over needs a server that honours conditional writes " +
          '(Ceph RGW, AWS S3, MinIO); nothing was changed'
      )
    }
  }
}

/** A server that ignores a conditional write: the marks cannot keep two primaries apart there. */
function ignored(connection: S3Connection, where: string, header: string): ConfigError {
  return ConfigError.forOption(
    'endpoint',
    `the S3 server at ${connection.endpoint} ignores ${header}: a second conditional PUT of ${where} was accepted, ` +
      'so two primaries could both own this replica; use a server that honours conditional writes (Ceph RGW, ' +
      'AWS S3, MinIO)'
  )
}

/** The text and its ETag (unquoted), or undefined if there is no mark. */
async function taggedMark(
  connection: S3Connection,
  bucket: string,
  key: string,
  signal?: AbortSignal
): Promise<{ text: string; etag: string } | undefined> {
  return await connection.request(
    'GetObject',
    key,
    signal,
    async (sdk, send) => {
      const answer = await send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }))
      return { text: await answer.Body!.transformToString('utf8'), etag: String(answer.ETag).replace(/"/g, '') }
    },
    404
  )
}

/** A PUT only if the mark's ETag is `etag`: false on 412. */
async function putIfMatch(
  connection: S3Connection,
  bucket: string,
  key: string,
  text: string,
  etag: string,
  signal?: AbortSignal
): Promise<boolean> {
  const put = await connection.request(
    'PutObject',
    key,
    signal,
    async (sdk, send) =>
      await send(
        new sdk.PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: Buffer.from(text),
          ContentType: 'application/json',
          IfMatch: etag
        })
      ),
    412
  )
  return put !== undefined
}
