// The AWS SDK's notice that its later releases need Node 22 stays out of the test log (it came once
// per process that loaded the SDK: 13 times a run), and out of every sai-images command's output.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { PACKAGE } from './package.js'

const NOTICE = /NodeVersionSupportWarning/
const MAKE_CLIENT = "const { S3Client } = require('@aws-sdk/client-s3'); new S3Client({ region: 'us-east-1' })"
const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _silenced, ...withoutSilencing } = process.env

describe("the AWS SDK's Node-version notice", () => {
  it('a process of the test run that loads the SDK prints no notice; without the setting it would', () => {
    const inTests = spawnSync(process.execPath, ['-e', MAKE_CLIENT], { cwd: ROOT, env: process.env, encoding: 'utf8' })
    expect(inTests.status).toBe(0)
    expect(inTests.stderr).not.toMatch(NOTICE)
    if (Number(process.versions.node.split('.')[0]) < 22) {
      // the SDK warns on Node 20 and 21 only
      const bare = spawnSync(process.execPath, ['-e', MAKE_CLIENT], {
        cwd: ROOT,
        env: withoutSilencing,
        encoding: 'utf8'
      })
      expect(bare.stderr).toMatch(NOTICE)
    }
  })

  it('sai-images silences it for operators, whatever their environment', async () => {
    const run = spawnSync(
      process.execPath,
      [join(PACKAGE, 'dist/cli.js'), 'exists', '0'.repeat(64), '--driver', 's3'],
      {
        env: {
          ...withoutSilencing,
          SAI_S3_BUCKET: 'frames',
          SAI_S3_ENDPOINT: 'http://127.0.0.1:1',
          SAI_S3_REGION: 'us-east-1',
          SAI_S3_ACCESS_KEY_ID: 'k',
          SAI_S3_SECRET_ACCESS_KEY: 's',
          SAI_S3_TIMEOUT_MS: '2000',
          HOME: await tempDir()
        },
        encoding: 'utf8'
      }
    )
    expect(run.status).toBe(5) // the endpoint is not there: the client was made, and asked
    expect(run.stderr).toMatch(/ERR_STORAGE_UNAVAILABLE/)
    expect(run.stderr).not.toMatch(NOTICE)
  })
})
