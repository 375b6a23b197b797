/**
 * A `sai-images replicate` to S3 with the credentials given never loads the AWS SDK: its uploads and its reconcile's
 * listing go through the direct client (direct.ts, list.ts), signed by ours (sigv4.ts). With credentials from the
 * SDK's chain it loads the SDK for its signer, and works the same. A module hook in the child records every file it
 * resolves (test/infra/helpers/load-hook.ts). Against a real Ceph RADOS Gateway (or the S3 that SAI_TEST_S3_* names).
 */
import { spawnSync } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DeleteObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { loadRecorder, recordedLoads } from '../../infra/helpers/load-hook.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { bucket, cli, env, fresh, raw, sha256, useBucket } from './helpers.js'

useBucket()

/** The SDK's modules (and its @smithy parts) among those a child recorded in `seen`. */
const sdkModules = (seen: string): string[] =>
  recordedLoads(seen).filter(url => /[\\/]@(aws-sdk|smithy)[\\/]/.test(url))

describe('a replicate to S3 with the credentials given', () => {
  it(
    'never loads the SDK: its uploads and its listing go direct; with credentials from the chain ' +
      'it loads it, and copies the same',
    async () => {
      const dir = await tempDir('sdk-free')
      const register = await loadRecorder(dir)
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
        SAI_LOADED_LIST: seen
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
      expect(sdkModules(seen)).toEqual([])

      // an object gone from the replica behind its back: only the listing can tell, and the reconcile copies it again
      await raw.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(sha256(jpegs[1]!)) })
      )
      expect(replicate(given)).toMatchObject({ copied: 1, pending: 0 })
      expect(await replica.exists(sha256(jpegs[1]!))).toBe(true)
      expect(sdkModules(seen)).toEqual([])

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
      expect(sdkModules(seen).join('\n')).toContain('/@aws-sdk/client-s3/')
      await replica.close()
      await rm(dir, { recursive: true, force: true })
    }
  )
})
