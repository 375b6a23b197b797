// Errors met at run time carry the option they are about (`error.option`) and name it as code gives it;
// the factory names the variable when the value came from the environment (features/factory/settings.ts).
// Real parts: a missing or wrong root on disk, a port nobody listens on, a socket that never answers.
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { ImageStorageError, StorageUnavailableError, TooLargeError } from '../../../src/core/errors.js'
import { PrefixSharding } from '../../../src/core/sharding.js'
import type { ImageStorage } from '../../../src/core/types.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { replicasFromEnv } from '../../../src/features/factory/replicated.js'
import { testJpeg } from '../../../src/testing/index.js'
import { freePort } from '../../infra/setup/services.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const HASH = '0'.repeat(64)
const failure = async (work: () => Promise<unknown>): Promise<ImageStorageError> => {
  const err: unknown = await work().then(
    () => undefined,
    (e: unknown) => e
  )
  if (err instanceof ImageStorageError) return err
  throw new Error(`expected an ImageStorageError, got ${inspect(err)}`)
}

// a real socket that accepts and then says nothing: a service that never answers
const sockets = new Set<Socket>()
const silent: Server = createServer(socket => {
  sockets.add(socket)
  socket.on('error', () => {})
})
const silentUrl = new Promise<string>(resolve => {
  silent.listen(0, '127.0.0.1', () => {
    resolve(`http://127.0.0.1:${(silent.address() as { port: number }).port}`)
  })
})
afterAll(() => {
  for (const socket of sockets) socket.destroy()
  silent.close()
})

describe('a missing or wrong root', () => {
  it('names the root and createRoot options in code, their variables from the environment', async () => {
    const missing = join(await tempDir(), 'not-mounted')
    const inCode = await failure(
      async () => await createImageStorage({ root: missing, createRoot: false }, {}).stat(HASH)
    )
    expect(inCode).toBeInstanceOf(StorageUnavailableError)
    expect(inCode).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', option: 'root', setting: 'the root option' })
    expect(inCode.message).toMatch(/the createRoot option is false: .*Check the mount or set the root option\.$/)
    const env = { SAI_IMAGE_STORAGE_PATH: missing, SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' }
    const fromEnv = await failure(async () => await createImageStorage({}, env).stat(HASH))
    expect(fromEnv).toBeInstanceOf(StorageUnavailableError)
    expect(fromEnv).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      option: 'root',
      setting: 'SAI_IMAGE_STORAGE_PATH'
    })
    expect(fromEnv.message).toBe(
      `Image storage unavailable: the root ${missing} does not exist (SAI_IMAGE_STORAGE_CREATE_ROOT is false: ` +
        'is the array mounted?). Check the mount or set SAI_IMAGE_STORAGE_PATH.'
    )
    // the stack says what the message says; the cause and the class are kept
    expect(fromEnv.stack!.split('\n')[0]).toBe(`StorageUnavailableError: ${fromEnv.message}`)
    // a root in code, createRoot from the environment: each named where it came from
    const mixed = await failure(
      async () => await createImageStorage({ root: missing }, { SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' }).stat(HASH)
    )
    expect(mixed.message).toMatch(/SAI_IMAGE_STORAGE_CREATE_ROOT is false.*set the root option\./)
  })

  it('the same for a root that is a file, met while listing and in the marks', async () => {
    const file = join(await tempDir(), 'a-file')
    await writeFile(file, 'not a folder')
    const fromEnv = createImageStorage({}, { SAI_IMAGE_STORAGE_PATH: file })
    const listing = await failure(async () => {
      for await (const entry of fromEnv.list()) expect(entry).toBeUndefined()
    })
    expect(listing).toMatchObject({ option: 'root', setting: 'SAI_IMAGE_STORAGE_PATH' })
    expect(listing.message).toContain(
      `the root ${file} is not a directory. Check the mount or set SAI_IMAGE_STORAGE_PATH`
    )
    const missing = join(await tempDir(), 'not-mounted')
    const unmounted = createImageStorage(
      {},
      { SAI_IMAGE_STORAGE_PATH: missing, SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' }
    )
    const marked = await failure(async () => await unmounted.marks!.read('owner'))
    expect(marked).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', setting: 'SAI_IMAGE_STORAGE_PATH' })
    const inCode = await failure(async () => await new FilesystemDriver({ root: file }).stat(HASH))
    expect(inCode).toMatchObject({ option: 'root', setting: 'the root option' })
    expect(inCode.message).not.toContain('SAI_IMAGE_STORAGE')
  })

  it("an fs replica's root is named by SAI_IMAGE_STORAGE_REPLICA_PATH", async () => {
    const missing = join(await tempDir(), 'replica-not-mounted')
    const primary = createImageStorage({ driver: 'memory' }, {})
    const env = { SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: missing }
    const [replica] = replicasFromEnv(primary, env)!
    const error = await failure(async () => await replica!.storage.stat(HASH))
    expect(error).toMatchObject({ option: 'root', setting: 'SAI_IMAGE_STORAGE_REPLICA_PATH' })
    expect(error.message).toContain("(an fs replica's root is never created: is the array mounted?)")
  })

  it('a store written with another sharding: the sharding option in code, the two variables from the environment', async () => {
    const root = await tempDir()
    await new FilesystemDriver({ root, sharding: new PrefixSharding({ depth: 1, width: 3 }) }).store(testJpeg('deep'))
    const sharding = new PrefixSharding()
    const inCode = await failure(async () => await createImageStorage({ root, sharding }, {}).stat(HASH))
    expect(inCode).toMatchObject({ code: 'ERR_CONFIG', option: 'sharding', setting: 'the sharding option' })
    const fromEnv = await failure(async () => await createImageStorage({}, { SAI_IMAGE_STORAGE_PATH: root }).stat(HASH))
    expect(fromEnv).toMatchObject({
      code: 'ERR_CONFIG',
      option: 'sharding',
      setting: 'SAI_IMAGE_STORAGE_SHARD_DEPTH and SAI_IMAGE_STORAGE_SHARD_WIDTH',
      variable: 'SAI_IMAGE_STORAGE_SHARD_DEPTH and SAI_IMAGE_STORAGE_SHARD_WIDTH'
    })
    expect(fromEnv.message).toBe(`${fromEnv.setting}: ${inCode.message.slice('the sharding option: '.length)}`)
  })
})

describe('the input limits', () => {
  it('maxBytes: its variable from the environment, the option in code, the store option per call', async () => {
    const root = await tempDir()
    const big = testJpeg('big', 2000)
    const fromEnv = await failure(
      async () => await createImageStorage({ root }, { SAI_IMAGE_STORAGE_MAX_BYTES: '1000' }).store(big)
    )
    expect(fromEnv).toBeInstanceOf(TooLargeError)
    expect(fromEnv).toMatchObject({ code: 'ERR_TOO_LARGE', limit: 1000, option: 'maxBytes' })
    expect(fromEnv.message).toBe('Image is larger than the limit of 1000 bytes (SAI_IMAGE_STORAGE_MAX_BYTES)')
    const inCode = await failure(async () => await createImageStorage({ root, maxBytes: 1000 }, {}).store(big))
    expect(inCode.message).toBe('Image is larger than the limit of 1000 bytes (the maxBytes option)')
    const direct = await failure(async () => await new FilesystemDriver({ root, maxBytes: 1000 }).store(big))
    expect(direct).toMatchObject({ option: 'maxBytes', setting: 'the maxBytes option', message: inCode.message })
    const perCall = await failure(
      async () =>
        await createImageStorage({ root }, { SAI_IMAGE_STORAGE_MAX_BYTES: '5000' }).store(big, { maxBytes: 10 })
    )
    expect(perCall.message).toBe('Image is larger than the limit of 10 bytes (the store option maxBytes)')
    expect(perCall).toMatchObject({ option: 'maxBytes', setting: 'the store option maxBytes' })
  })
})

describe('a service that cannot be reached', () => {
  it('IPFS: the url option in code, SAI_IPFS_API_URL from the environment; the timeout likewise', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const inCode = await failure(async () => await createImageStorage({ driver: 'ipfs', url: dead }, {}).exists(HASH))
    expect(inCode).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', option: 'url', setting: 'the url option' })
    expect(inCode.message).toMatch(/Check the node or set the url option$/)
    const env = { SAI_IMAGE_STORAGE_DRIVER: 'ipfs', SAI_IPFS_API_URL: dead }
    const fromEnv = await failure(async () => await createImageStorage({}, env).exists(HASH))
    expect(fromEnv).toBeInstanceOf(StorageUnavailableError)
    expect(fromEnv).toMatchObject({ option: 'url', setting: 'SAI_IPFS_API_URL' })
    expect(fromEnv.message).toBe(inCode.message.replace('the url option', 'SAI_IPFS_API_URL'))

    const url = await silentUrl
    const slow = { SAI_IMAGE_STORAGE_DRIVER: 'ipfs', SAI_IPFS_API_URL: url, SAI_IPFS_TIMEOUT_MS: '300' }
    const timedOut = await failure(async () => await createImageStorage({}, slow).exists(HASH))
    expect(timedOut).toMatchObject({ option: 'timeoutMs', setting: 'SAI_IPFS_TIMEOUT_MS' })
    expect(timedOut.message).toMatch(
      /no answer within 300 ms \(SAI_IPFS_TIMEOUT_MS\)\. Check the node or set SAI_IPFS_API_URL$/
    )
    const inCodeTimeout = await failure(async () => await new IpfsDriver({ url, timeoutMs: 300 }).exists(HASH))
    expect(inCodeTimeout.message).toMatch(/\(the timeoutMs option\)\. Check the node or set the url option$/)
  })

  it('IPFS: url() without a gateway names the gatewayUrl option, or SAI_IPFS_GATEWAY_URL', () => {
    const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const thrown = (storage: ImageStorage): unknown => {
      try {
        return storage.url!(cid)
      } catch (err) {
        return err
      }
    }
    const fromEnv = thrown(createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 'ipfs' }))
    expect(fromEnv).toMatchObject({ code: 'ERR_CONFIG', option: 'gatewayUrl', setting: 'SAI_IPFS_GATEWAY_URL' })
    expect(thrown(new IpfsDriver({}))).toMatchObject({ code: 'ERR_CONFIG', setting: 'the gatewayUrl option' })
  })

  it('S3: the timeoutMs option in code, SAI_S3_TIMEOUT_MS from the environment; no key shown anywhere', async () => {
    const secret = 'names-test-secret-Wq93ZpL'
    const endpoint = await silentUrl
    const env = {
      SAI_IMAGE_STORAGE_DRIVER: 's3',
      SAI_S3_ENDPOINT: endpoint,
      SAI_S3_BUCKET: 'frames',
      SAI_S3_TIMEOUT_MS: '300',
      SAI_S3_ACCESS_KEY_ID: 'AKIANAMESTEST',
      SAI_S3_SECRET_ACCESS_KEY: secret
    }
    const storage = createImageStorage({}, env)
    const fromEnv = await failure(async () => await storage.exists(HASH))
    expect(fromEnv).toBeInstanceOf(StorageUnavailableError)
    expect(fromEnv).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      option: 'timeoutMs',
      setting: 'SAI_S3_TIMEOUT_MS'
    })
    expect(fromEnv.message).toContain('no answer within 300 ms (SAI_S3_TIMEOUT_MS)')
    for (const shown of [fromEnv.message, fromEnv.stack, inspect(fromEnv, { depth: 9, showHidden: true })])
      expect(shown).not.toContain(secret)
    expect(JSON.stringify(fromEnv)).not.toContain(secret)
    await storage.close()
    const credentials = { accessKeyId: 'AKIANAMESTEST', secretAccessKey: secret }
    const direct = new S3Driver({ endpoint, bucket: 'frames', timeoutMs: 300, credentials })
    const inCode = await failure(async () => await direct.exists(HASH))
    expect(inCode).toMatchObject({ option: 'timeoutMs', setting: 'the timeoutMs option' })
    expect(inCode.message).toContain('no answer within 300 ms (the timeoutMs option)')
    expect(inCode.message).not.toContain('SAI_S3')
    await direct.close()
  })
})

describe('the factory names errors without changing the store', () => {
  it('keeps its class, its capabilities and one function per method', async () => {
    const root = join(await tempDir(), 'store')
    await mkdir(root)
    const storage = createImageStorage({ root }, {})
    expect(storage).toBeInstanceOf(FilesystemDriver)
    expect(storage.fetch).toBe(storage.fetch)
    expect(storage.root).toBe(root)
    expect('verify' in storage && storage.verify !== undefined).toBe(true)
    expect(createImageStorage({ driver: 'memory' }, {}).root).toBeUndefined()
    const stored = await storage.store(testJpeg('kept'))
    expect(Buffer.compare(await storage.fetch(stored.hash), testJpeg('kept'))).toBe(0)
    const chunks: Buffer[] = []
    for await (const chunk of await storage.fetchStream(stored.hash)) chunks.push(chunk as Buffer)
    expect(Buffer.compare(Buffer.concat(chunks), testJpeg('kept'))).toBe(0)
    const keys: string[] = []
    for await (const entry of storage.list()) keys.push(entry.key)
    expect(keys).toEqual([stored.key])
  })
})
