/**
 * The connection (client.ts): timeouts, credentials, secrets kept out, against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createServer as createNetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { freePort } from '../../infra/setup/services.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { s3, bucket, env, cli, sha256, fresh, listen, useBucket, init } from './helpers.js'

useBucket()

describe('the connection (client.ts): timeouts, credentials, secrets kept out', () => {
  it(
    'a gateway that never answers, or stalls in the middle of a body, is ' + 'ERR_STORAGE_UNAVAILABLE after timeoutMs',
    async () => {
      // a real socket that accepts and then says nothing (or half a body): faults a healthy Ceph will not
      // make on demand
      const jpeg = testJpeg(`stalled ${Date.now()}`, 50_000)
      const sockets = new Set<Socket>()
      const silent = createNetServer(socket => {
        sockets.add(socket)
        socket.on('error', () => {})
      })
      const stalling = createServer((req, res) => {
        req.resume()
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) })
        res.write(jpeg.subarray(0, 1000)) // then nothing more
      })
      try {
        for (const [server, call] of [
          [silent, 'exists'],
          [stalling, 'fetch']
        ] as const) {
          const port = await listen(server)
          const storage = fresh({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 1000 })
          const started = Date.now()
          const error = await storage[call](sha256(jpeg)).catch(err => err)
          const took = Date.now() - started
          expect(error).toMatchObject({
            code: 'ERR_STORAGE_UNAVAILABLE',
            message: expect.stringContaining('127.0.0.1')
          })
          expect(took).toBeGreaterThanOrEqual(900)
          expect(took).toBeLessThan(5000) // two attempts at most (maxAttempts 2)
          await storage.close()
        }
      } finally {
        for (const socket of sockets) socket.destroy()
        stalling.closeAllConnections()
        silent.close()
        stalling.close()
      }
    }
  )

  it('a dead endpoint fails fast; a wrong secret is a typed error that shows no secret anywhere', async () => {
    const dead = fresh({ endpoint: `http://127.0.0.1:${await freePort()}` })
    const started = Date.now()
    const error = await dead.exists(sha256(testJpeg('dead'))).catch(err => err)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(error).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining(`bucket ${bucket}`)
    })
    expect(error.message).toContain('127.0.0.1')

    const secret = 'wrong-secret-Zq8XvT3pL0'
    const wrong = fresh({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret } })
    const denied = await wrong.store(testJpeg(`denied ${Date.now()}`)).catch(err => err)
    expect(denied).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('access denied') })
    for (const shown of [
      denied.message,
      denied.stack,
      inspect(denied, { depth: 9 }),
      JSON.stringify(denied),
      inspect(wrong, { depth: 9, showHidden: true }),
      JSON.stringify(wrong)
    ]) {
      expect(shown).not.toContain(secret)
    }
    // and from the environment: a malformed setting names the variable, never the value
    expect(() =>
      createImageStorage(
        {},
        { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: bucket, SAI_S3_SECRET_ACCESS_KEY: secret }
      )
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.not.stringContaining(secret) }))
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', variable: 'SAI_S3_BUCKET' })
    )
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: 'Bad_Bucket' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', variable: 'SAI_S3_BUCKET' })
    )
    expect(() =>
      createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: bucket, SAI_S3_TIMEOUT_MS: 'soon' })
    ).toThrow(expect.objectContaining({ variable: 'SAI_S3_TIMEOUT_MS' }))
    expect(() =>
      createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: bucket, SAI_S3_ENDPOINT: 'ftp://x' })
    ).toThrow(expect.objectContaining({ variable: 'SAI_S3_ENDPOINT' }))
  })

  it(
    "without credentials given, stores (and reads) with those the SDK's chain finds: " +
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    async () => {
      const dir = await tempDir('s3-chain')
      const jpeg = testJpeg(`chain ${Date.now()}`, 100_000)
      await writeFile(join(dir, 'frame.jpg'), jpeg)
      const { SAI_S3_ACCESS_KEY_ID, SAI_S3_SECRET_ACCESS_KEY, ...rest } = env
      const chained = {
        ...rest,
        SAI_IMAGE_STORAGE_DRIVER: 's3',
        SAI_S3_PREFIX: `chain-${Date.now()}/`,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_CONFIG_FILE: join(dir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none')
      }
      const stored = JSON.parse(
        execFileSync(process.execPath, [cli, 'store', join(dir, 'frame.jpg'), '--json'], {
          env: chained,
          encoding: 'utf8'
        })
      )
      expect(stored).toMatchObject({ sha256: sha256(jpeg), isDuplicate: false })
      expect((await new S3Driver({ ...init, prefix: chained.SAI_S3_PREFIX }).fetch(sha256(jpeg))).equals(jpeg)).toBe(
        true
      )
      // a wrong secret from the chain is refused, and not shown
      const wrong = spawnSync(process.execPath, [cli, 'store', join(dir, 'frame.jpg'), '--json'], {
        env: {
          ...chained,
          SAI_S3_PREFIX: `chain-wrong-${Date.now()}/`,
          AWS_SECRET_ACCESS_KEY: 'not-the-secret-0123456789'
        },
        encoding: 'utf8'
      })
      expect(wrong.status).toBe(5) // ERR_STORAGE_UNAVAILABLE
      expect(JSON.parse(wrong.stdout)).toMatchObject({
        error: { code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('access denied') }
      })
      expect(wrong.stdout + wrong.stderr).not.toContain('not-the-secret-0123456789')
    }
  )

  it('url() when the SDK chain finds no credentials: ERR_STORAGE_UNAVAILABLE naming them, not the raw SDK error', async () => {
    const dir = await tempDir('s3-none')
    const saved = { ...process.env }
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name]
    Object.assign(process.env, {
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true'
    })
    try {
      const { credentials: _given, ...withoutKeys } = init
      const error = await new S3Driver(withoutKeys).url(sha256(testJpeg('no keys')), {}).catch((err: unknown) => err)
      expect(error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', option: 'credentials' })
      expect((error as Error).message).toContain('no credentials')
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
      Object.assign(process.env, saved)
    }
  })
})
