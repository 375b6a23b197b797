/**
 * A `sai-images replicate` to S3 with the credentials given never loads the AWS SDK: its uploads and its reconcile's
 * listing go through the direct client (direct.ts, list.ts), signed by ours (sigv4.ts). With credentials from the
 * SDK's chain it loads the SDK for its signer, and works the same. A module hook in the child records every module of
 * the SDK resolved. Against a real Ceph RADOS Gateway (or the S3 that SAI_TEST_S3_* names).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { bucket, cli, env, fresh, raw, sha256, useBucket } from './helpers.js'

useBucket()

/** Registers a resolve hook that appends every module of the SDK (or its @smithy parts) to the file $SDK_SEEN. */
async function hooks(dir: string): Promise<string> {
  await writeFile(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs'\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const resolved = await next(specifier, context)\n' +
      '  if (/[\\\\/]@(aws-sdk|smithy)[\\\\/]/.test(resolved.url))\n' +
      "    appendFileSync(process.env.SDK_SEEN, resolved.url + '\\n')\n" +
      '  return resolved\n' +
      '}\n'
  )
  const register = join(dir, 'register.mjs')
  await writeFile(register, "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n")
  return pathToFileURL(register).href
}

describe('a replicate to S3 with the credentials given', () => {
  it(
    'never loads the SDK: its uploads and its listing go direct; with credentials from the chain ' +
      'it loads it, and copies the same',
    async () => {
      const dir = await tempDir('sdk-free')
      const register = await hooks(dir)
      const root = join(dir, 'store')
      const replica = fresh()
      const storage = createReplicatedStorage({
        primary: new FilesystemDriver({ root }),
        replicas: [{ name: 's3', storage: replica }],
        background: false
      })
      const jpegs = [1, 2, 3].map(i => testJpeg(`sdk-free ${i} ${Date.now()}`, 20_000))
      for (const jpeg of jpegs) await storage.store(jpeg)
      expect(storage.status().replicas[0]).toMatchObject({ pending: 3 })
      await storage.close()
      const seen = join(dir, 'seen.txt')
      const given = {
        ...env,
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_REPLICAS: 's3',
        SAI_S3_PREFIX: replica.prefix,
        SAI_S3_FORCE_PATH_STYLE: 'true',
        SDK_SEEN: seen
      }
      const replicate = (environment: Record<string, string | undefined>) => {
        const run = spawnSync(process.execPath, ['--import', register, cli, 'replicate', '--json'], {
          env: environment,
          encoding: 'utf8'
        })
        expect({ code: run.status, stderr: run.stderr }).toMatchObject({ code: 0 })
        return JSON.parse(run.stdout)
      }
      expect(replicate(given)).toMatchObject({ copied: 3, pending: 0 })
      for (const jpeg of jpegs) expect(await replica.exists(sha256(jpeg))).toBe(true)
      expect(existsSync(seen) ? await readFile(seen, 'utf8') : '').toBe('')

      // an object gone from the replica behind its back: only the listing can tell, and the reconcile copies it again
      await raw.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(sha256(jpegs[1]!)) })
      )
      expect(replicate(given)).toMatchObject({ copied: 1, pending: 0 })
      expect(await replica.exists(sha256(jpegs[1]!))).toBe(true)
      expect(existsSync(seen) ? await readFile(seen, 'utf8') : '').toBe('')

      // the hook sees the SDK when it is loaded: credentials from the chain need its signer
      const { SAI_S3_ACCESS_KEY_ID, SAI_S3_SECRET_ACCESS_KEY, ...rest } = given
      const chained = {
        ...rest,
        AWS_ACCESS_KEY_ID: SAI_S3_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: SAI_S3_SECRET_ACCESS_KEY,
        AWS_CONFIG_FILE: join(dir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none')
      }
      await raw.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(sha256(jpegs[2]!)) })
      )
      expect(replicate(chained)).toMatchObject({ copied: 1, pending: 0 })
      expect(await replica.exists(sha256(jpegs[2]!))).toBe(true)
      expect(await readFile(seen, 'utf8')).toContain('/@aws-sdk/client-s3/')
      await replica.close()
      await rm(dir, { recursive: true, force: true })
    }
  )
})
