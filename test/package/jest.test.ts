/**
 * The dashboard runs its tests with Jest and ts-jest: the package's CommonJS build in Jest's VM, which
 * refuses import() unless node runs with --experimental-vm-modules. The optional peers that ship
 * CommonJS (sharp, the AWS SDK) must load there; an ES-module-only one must say what to do.
 */
import { execFile } from 'node:child_process'
import { cp, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { inject, it } from 'vitest'
import { env as s3Env, useBucket } from '../drivers/s3/helpers.js'
import { consumerApp, ROOT } from '../infra/helpers/consumer.js'

useBucket()

it("the dashboard's Jest (ts-jest, CommonJS) stores, renders variants, and loads the AWS SDK", async () => {
  const app = await consumerApp([])
  await cp(join(ROOT, 'test/infra/fixtures/consumers/jest'), app, { recursive: true })
  for (const name of ['@jest', 'ts-jest', '@types'])
    await symlink(join(ROOT, 'node_modules', name), join(app, 'node_modules', name))
  const env = { ...s3Env, SAI_IPFS_API_URL: inject('ipfsApiUrl') }
  const jest = join(ROOT, 'node_modules/jest/bin/jest.js')
  // rejects with Jest's report (every test's name and failure) if one test fails
  await promisify(execFile)(process.execPath, [jest, '--ci', '--rootDir', app], { cwd: app, env })
}, 120_000)
