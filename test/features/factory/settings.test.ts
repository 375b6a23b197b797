// A wrong setting is named one way, decided in features/factory/settings.ts: the error carries the
// option's name in code; the factory names the variable when the value came from the environment.
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/core/errors.js'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { flagNames, named, withNames } from '../../../src/features/factory/settings.js'

const thrown = (make: () => unknown): ConfigError => {
  try {
    make()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('errors carry the option; the factory names where it came from', () => {
  it('a sharding given in code is named by its option, not by a variable nobody set', () => {
    const error = thrown(() => new PrefixSharding({ depth: 9 }))
    expect(error).toMatchObject({ code: 'ERR_CONFIG', option: 'depth', setting: 'the depth option' })
    expect(error.message).toBe('the depth option: expected an integer from 0 to 8')
    expect(thrown(() => new PrefixSharding({ width: 0 })).message).not.toContain('SAI_IMAGE_STORAGE')
  })

  it('a driver made directly names its option; through the factory, from the environment, the variable', () => {
    const direct = thrown(() => new S3Driver({ bucket: 'Bad_Bucket' }))
    expect(direct).toMatchObject({ option: 'bucket', setting: 'the bucket option', variable: 'the bucket option' })
    const fromEnv = thrown(() => createImageStorage({ driver: 's3' }, { SAI_S3_BUCKET: 'Bad_Bucket' }))
    expect(fromEnv).toMatchObject({ option: 'bucket', setting: 'SAI_S3_BUCKET', reason: direct.reason })
    expect(fromEnv.message).toBe(`SAI_S3_BUCKET: ${direct.reason}`)
    const prefix = thrown(() => createImageStorage({ driver: 's3', bucket: 'ok-bucket' }, { SAI_S3_PREFIX: '/abs' }))
    expect(prefix).toMatchObject({ option: 'prefix', setting: 'SAI_S3_PREFIX' })
    const replica = thrown(() =>
      createImageStorage({ driver: 'memory' }, { SAI_IMAGE_STORAGE_REPLICAS: 's3', SAI_S3_BUCKET: 'Bad_Bucket' })
    )
    expect(replica).toMatchObject({ option: 'bucket', setting: 'SAI_S3_BUCKET' })
  })

  it('named() renames only an option it has a name for, and keeps the code', () => {
    const error = ConfigError.forOption('root', 'is a file')
    expect(named(error, {})).toBe(error)
    expect(named(new Error('x'), { root: '--root' })).toBeInstanceOf(Error)
    const renamed = named(error, flagNames({ root: '--root', allowNonImage: false })) as ConfigError
    expect(renamed).toMatchObject({
      code: 'ERR_CONFIG',
      option: 'root',
      setting: '--root',
      message: '--root: is a file'
    })
    expect(flagNames({ allowNonImage: false })).toEqual({
      allowNonImage: '--allow-non-image (or SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE)'
    })
  })

  it('a listing through withNames: its entries, a stop reaching the source, a failure met midway named', async () => {
    const closed: string[] = []
    const store = {
      async *list(fail: boolean) {
        try {
          yield 1
          yield 2
          if (fail) throw ConfigError.forOption('root', 'is a file')
          yield 3
        } finally {
          closed.push(fail ? 'failed' : 'ended')
        }
      }
    }
    const wrapped = withNames(store, { root: 'SAI_IMAGE_STORAGE_PATH' })
    const seen: number[] = []
    for await (const n of wrapped.list(false)) seen.push(n)
    for await (const n of wrapped.list(false)) if (n === 1) break // the source's finally runs now
    expect({ seen, closed }).toEqual({ seen: [1, 2, 3], closed: ['ended', 'ended'] })
    const midway: number[] = []
    const failure = await (async () => {
      for await (const n of wrapped.list(true)) midway.push(n)
    })().catch((err: unknown) => err)
    expect(midway).toEqual([1, 2])
    expect(failure).toMatchObject({ option: 'root', setting: 'SAI_IMAGE_STORAGE_PATH' })
    expect((failure as Error).message).toBe('SAI_IMAGE_STORAGE_PATH: is a file')
    expect(closed).toEqual(['ended', 'ended', 'failed'])
  })
})
