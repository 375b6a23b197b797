/**
 * `marks` on S3: `{prefix}.marks/<name>`, a small object. `create` is a PUT with `If-None-Match: *`
 * (the store's own conditional write, which Ceph's RGW honours: of two hosts creating one mark, one
 * gets 412 and reads the winner's). Never listed as a frame: the key is not in the layout.
 */
import { createHash } from 'node:crypto'
import type { StoreMarks } from '../../core/marks.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { S3Objects } from './objects.js'

export function s3Marks(objects: S3Objects, prefix: string, uri: (key: string) => string): StoreMarks {
  const key = (name: string): string => `${prefix}${SPECIAL_DIRS.marks}/${name}`
  const put = async (name: string, text: string, ifAbsent: boolean, signal?: AbortSignal): Promise<boolean> => {
    const bytes = Buffer.from(text)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    return await objects.put(key(name), sha256, bytes, 'application/json', new Date(), ifAbsent, signal)
  }
  return {
    location: uri(`${prefix}${SPECIAL_DIRS.marks}/`),
    async read(name, options = {}) {
      return (await objects.read(key(name), options.signal))?.bytes.toString('utf8')
    },
    async create(name, text, options = {}) {
      return await put(name, text, true, options.signal)
    },
    async replace(name, text, options = {}) {
      await put(name, text, false, options.signal)
    }
  }
}
