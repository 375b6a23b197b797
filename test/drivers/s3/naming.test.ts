// On the real gateway: a bucket that does not exist and credentials it refuses are ERR_STORAGE_UNAVAILABLE
// from every call, naming the option (`error.option`) and, through the factory, its variable; never a miss
// ("not stored"), never the secret.
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { ImageStorage } from '../../../src/core/types.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { env, init, s3, useBucket } from './helpers.js'

useBucket()
const HASH = 'ab'.repeat(32)

/** What each call answers: its error's code, option and variable, or the value. */
async function answers(storage: ImageStorage): Promise<Record<string, unknown>> {
  const calls: Record<string, () => Promise<unknown>> = {
    store: async () => await storage.store(testJpeg('naming')),
    exists: async () => await storage.exists(HASH),
    stat: async () => await storage.stat(HASH),
    fetch: async () => await storage.fetch(HASH),
    delete: async () => await storage.delete(HASH),
    list: async () => {
      for await (const entry of storage.list()) return entry
      return 'empty'
    }
  }
  const out: Record<string, unknown> = {}
  for (const [name, call] of Object.entries(calls)) {
    out[name] = await call().then(
      value => value,
      (err: { code?: string; option?: string; setting?: string; message: string; stack?: string }) => {
        for (const shown of [err.message, err.stack, inspect(err, { depth: 9, showHidden: true }), JSON.stringify(err)])
          expect(shown).not.toContain(s3.secretAccessKey)
        return `${err.code} ${err.option} (${err.setting})`
      }
    )
  }
  return out
}

const each = (answer: string): Record<string, string> =>
  Object.fromEntries(['store', 'exists', 'stat', 'fetch', 'delete', 'list'].map(call => [call, answer]))

describe('a bucket or credentials the gateway refuses', () => {
  it('a missing bucket: the bucket option in code, SAI_S3_BUCKET from the environment, on every call', async () => {
    const missing = `${init.bucket}-missing`
    const direct = new S3Driver({ ...init, bucket: missing })
    expect(await answers(direct)).toEqual(each('ERR_STORAGE_UNAVAILABLE bucket (the bucket option)'))
    await direct.close()
    const fromEnv = createImageStorage({}, { ...env, SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: missing })
    expect(await answers(fromEnv)).toEqual(each('ERR_STORAGE_UNAVAILABLE bucket (SAI_S3_BUCKET)'))
    await fromEnv.close()
  })

  it('a wrong secret: the credentials, named by their variables, and the secret shown nowhere', async () => {
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: `${s3.secretAccessKey}x` }
    const direct = new S3Driver({ ...init, credentials })
    expect(await answers(direct)).toEqual(each('ERR_STORAGE_UNAVAILABLE credentials (the credentials option)'))
    await direct.close()
    const variables = 'SAI_S3_ACCESS_KEY_ID and SAI_S3_SECRET_ACCESS_KEY'
    const fromEnv = createImageStorage(
      {},
      { ...env, SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey }
    )
    expect(await answers(fromEnv)).toEqual(each(`ERR_STORAGE_UNAVAILABLE credentials (${variables})`))
    await fromEnv.close()
  })
})
