import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { ConfigError } from '../../../src/core/errors.js'
import { createImageStorage, imageStorage } from '../../../src/features/factory/index.js'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('createImageStorage', () => {
  it('defaults to the filesystem driver at ./data/images, like storage.py', () => {
    const storage = createImageStorage({}, {})
    expect(storage).toBeInstanceOf(FilesystemDriver)
    expect((storage as FilesystemDriver).root).toBe(resolve('data/images'))
  })

  it('reads every SAI_IMAGE_STORAGE_* variable', async () => {
    const root = join(await tempDir(), 'env-root')
    const storage = createImageStorage(
      {},
      {
        SAI_IMAGE_STORAGE_DRIVER: 'fs',
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_SHARD_DEPTH: '1',
        SAI_IMAGE_STORAGE_SHARD_WIDTH: '3',
        SAI_IMAGE_STORAGE_FILE_MODE: '0640',
        SAI_IMAGE_STORAGE_DIR_MODE: '02750',
        SAI_IMAGE_STORAGE_FSYNC: 'false',
        SAI_IMAGE_STORAGE_MAX_BYTES: '5000'
      }
    ) as FilesystemDriver
    expect(storage.root).toBe(root)
    expect(storage.sharding).toMatchObject({ depth: 1, width: 3 })
    const { key } = await storage.store(testJpeg('env', 4000))
    expect(key).toMatch(/^[0-9a-f]{3}\/[0-9a-f]{64}\.jpg$/)
    await expect(storage.store(testJpeg('env big', 5001))).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
  })

  it('lets options win over the environment', () => {
    const storage = createImageStorage({ driver: 'memory' }, { SAI_IMAGE_STORAGE_DRIVER: 'fs' })
    expect(storage).toBeInstanceOf(MemoryDriver)
    expect(createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 'memory' })).toBeInstanceOf(MemoryDriver)
    const sharding = new PrefixSharding({ depth: 3 })
    expect(
      (createImageStorage({ sharding }, { SAI_IMAGE_STORAGE_SHARD_DEPTH: '1' }) as FilesystemDriver).sharding
    ).toBe(sharding)
  })

  it.each([
    ['SAI_IMAGE_STORAGE_DRIVER', 'ftp'],
    ['SAI_IMAGE_STORAGE_FSYNC', 'maybe'],
    ['SAI_IMAGE_STORAGE_FILE_MODE', '999'],
    ['SAI_IMAGE_STORAGE_DIR_MODE', 'rwxr-xr-x'],
    ['SAI_IMAGE_STORAGE_MAX_BYTES', '50MB'],
    ['SAI_IMAGE_STORAGE_MAX_BYTES', '0'],
    ['SAI_IMAGE_STORAGE_SHARD_DEPTH', '9'],
    ['SAI_IMAGE_STORAGE_SHARD_WIDTH', '-1']
  ])('a malformed %s=%s is ERR_CONFIG naming the variable', (name, value) => {
    const error = (() => {
      try {
        createImageStorage({}, { [name]: value })
      } catch (err) {
        return err
      }
    })()
    expect(error).toBeInstanceOf(ConfigError)
    expect(error).toMatchObject({ code: 'ERR_CONFIG', variable: name })
    expect((error as Error).message).toContain(name)
  })

  it('treats empty variables as unset', () => {
    expect(createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: '', SAI_IMAGE_STORAGE_FSYNC: ' ' })).toBeInstanceOf(
      FilesystemDriver
    )
  })

  it('refuses a SAI_IMAGE_STORAGE_* variable it does not read (a typo), naming the closest one', () => {
    const typo = () => createImageStorage({ driver: 'memory' }, { SAI_IMAGE_STORAGE_FSNYC: 'false' })
    expect(typo).toThrow(ConfigError)
    expect(typo).toThrow(
      'SAI_IMAGE_STORAGE_FSNYC: is no setting of sai-image-storage: did you mean SAI_IMAGE_STORAGE_FSYNC?'
    )
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_SHARD_DEPHT: '3' })).toThrow(
      /did you mean SAI_IMAGE_STORAGE_SHARD_DEPTH/
    )
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_COLOUR: 'blue' })).toThrow(
      /^SAI_IMAGE_STORAGE_COLOUR: is no setting/
    )
  })

  it('refuses SAI_IMAGE_STORAGE_ACK other than 1 or 2 with replicas or without', () => {
    expect(() => createImageStorage({ driver: 'memory' }, { SAI_IMAGE_STORAGE_ACK: '3' })).toThrow(
      /SAI_IMAGE_STORAGE_ACK: expected one of 1, 2/
    )
  })

  it.each([Number.NaN, 0, -1, 1.5])('refuses maxBytes %s when the store is made, not at its first store', maxBytes => {
    expect(() => createImageStorage({ driver: 'memory', maxBytes })).toThrow(
      /maxBytes.*expected a whole number of bytes/
    )
  })

  it('touches no disk until the first call', async () => {
    const root = join(await tempDir(), 'lazy')
    createImageStorage({}, { SAI_IMAGE_STORAGE_PATH: root })
    await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe('imageStorage, the default instance', () => {
  it('is created from process.env on first use', async () => {
    const root = join(await tempDir(), 'default')
    process.env.SAI_IMAGE_STORAGE_PATH = root
    try {
      await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' })
      const result = await imageStorage.store(testJpeg('default'))
      expect(result.path.startsWith(root)).toBe(true)
      expect(imageStorage.driver).toBe('fs')
      expect(await imageStorage.exists(result.hash)).toBe(true)
    } finally {
      delete process.env.SAI_IMAGE_STORAGE_PATH
      await imageStorage.close()
    }
  })
})
