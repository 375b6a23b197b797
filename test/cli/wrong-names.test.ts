// Messages that named the wrong thing (issue 34): each names what the operator set, or can set.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { freePort } from '../infra/setup/services.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { cli } from './run.js'

describe('messages name the right thing', () => {
  it(
    "an fs replica whose root is missing: the replica's variable, and no createRoot option (there is " + 'none for it)',
    async () => {
      const root = await tempDir()
      const env = {
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_REPLICAS: 'fs',
        SAI_IMAGE_STORAGE_REPLICA_PATH: join(root, 'not-mounted')
      }
      const frame = join(root, 'frame.jpg')
      await writeFile(frame, testJpeg('replica root'))
      expect(cli(['store', frame], { env }).code).toBe(0)
      const run = cli(['replicate'], { env })
      expect(run.stderr).toContain("an fs replica's root is never created: is the array mounted?")
      expect(run.stderr).toContain('SAI_IMAGE_STORAGE_REPLICA_PATH')
      expect(run.stderr).not.toMatch(/createRoot|CREATE_ROOT/)
    }
  )

  it('evict --min-copies beyond the replicas: the flag, and how many replicas there are', async () => {
    const root = await tempDir()
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir()
    }
    const run = cli(['evict', '--older-than', '30d', '--min-copies', '2'], { env })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(
      '--min-copies 2: 2 replica copies cannot be proved: there is one replica (fs); expected 1'
    )
    expect(run.stderr).not.toMatch(/minCopies|1 to 1/)
    expect(cli(['evict', '--older-than', '30d', '--min-copies', '0'], { env }).stderr).toContain('--min-copies 0:')
  })

  it('a database that cannot be reached: a sentence', async () => {
    const root = await tempDir()
    const run = cli(['prune', '--older-than', '30d', '--keep-sql', 'SELECT hash FROM keep', '--dry-run'], {
      env: { SAI_IMAGE_STORAGE_PATH: root, DATABASE_URL: `postgres://sai:secret@127.0.0.1:${await freePort()}/db` }
    })
    expect(run.stderr).toMatch(/Database unavailable at /)
    expect(run.stderr).not.toMatch(/The database unavailable|secret/)
  })
})
