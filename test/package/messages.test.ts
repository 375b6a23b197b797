// Messages name a setting the way the application gave it: an option passed in code is named as
// that option, a setting from the environment (or missing there) by its variable.
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { application } from './package.js'

const CASES = `
import { createImageStorage } from 'sai-image-storage'
const missing = '/nonexistent/sai-root'
const cases = {
  'bucket in code': () => createImageStorage({ driver: 's3', bucket: 'Bad_Bucket' }, {}),
  'bucket in env': () => createImageStorage({ driver: 's3' }, { SAI_S3_BUCKET: 'Bad_Bucket' }),
  'no bucket': () => createImageStorage({ driver: 's3' }, {}),
  'index path in code': () => createImageStorage({ driver: 'ipfs', indexPath: 'relative' }, {}),
  'index path in env': () => createImageStorage({ driver: 'ipfs' }, { SAI_IPFS_INDEX_PATH: 'relative' }),
  'root in code': () => createImageStorage({ root: missing, createRoot: false }, {}).stat('0'.repeat(64)),
  'root in env': () => createImageStorage({}, { SAI_IMAGE_STORAGE_PATH: missing, SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' }).stat('0'.repeat(64)),
  'non-image, nothing set': () => createImageStorage({ driver: 'memory' }, {}).store(Buffer.from('hello')),
  'non-image, store option': () => createImageStorage({ driver: 'memory' }, {}).store(Buffer.from('hello'), { allowNonImage: false })
}
const out = {}
for (const [name, make] of Object.entries(cases)) {
  try { await make(); out[name] = 'no error' } catch (err) { out[name] = { code: err.code, variable: err.variable, message: err.message } }
}
console.log(JSON.stringify(out))
`

describe('messages name the setting as the application gave it', () => {
  it('an option in code by its option, the environment by its variable', async () => {
    const app = await application({ 'cases.mjs': CASES })
    const out = JSON.parse(execFileSync(process.execPath, ['cases.mjs'], { cwd: app, encoding: 'utf8' }))
    expect(out['bucket in code']).toMatchObject({
      code: 'ERR_CONFIG',
      variable: 'the bucket option',
      message: expect.not.stringContaining('SAI_S3_BUCKET')
    })
    expect(out['bucket in env']).toMatchObject({ code: 'ERR_CONFIG', variable: 'SAI_S3_BUCKET' })
    expect(out['no bucket']).toMatchObject({ code: 'ERR_CONFIG', variable: 'SAI_S3_BUCKET' })
    expect(out['index path in code']).toMatchObject({ code: 'ERR_CONFIG', variable: 'the indexPath option' })
    expect(out['index path in env']).toMatchObject({ code: 'ERR_CONFIG', variable: 'SAI_IPFS_INDEX_PATH' })
    expect(out['root in code']).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringMatching(/the createRoot option is false.*set the root option/)
    })
    expect(out['root in code'].message).not.toContain('SAI_IMAGE_STORAGE')
    expect(out['root in env']).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringMatching(/SAI_IMAGE_STORAGE_CREATE_ROOT is false.*set SAI_IMAGE_STORAGE_PATH/)
    })
    // allowNonImage is an option of store() as well: a library's caller is told of the option (issue 34)
    expect(out['non-image, nothing set'].message).toContain(
      'set the allowNonImage option (or SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE) to store any bytes'
    )
    expect(out['non-image, store option'].message).toContain('set the store option allowNonImage')
  })
})
