// The memory driver keeps nothing past the command: `store` and `import` into it are refused before
// they write anything (issue 34: `migrate --to memory` reported "26 done" and recorded them in its
// mapping; `import --driver memory` did the same, and `store --driver memory` printed a hash, exit 0).
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

describe('the memory driver in the CLI', () => {
  it('store and import into it are refused before they write: by the flag (exit 2) or the variable (exit 6)', async () => {
    const dir = await tempDir('sai-tree')
    await writeFile(join(dir, 'a.jpg'), testJpeg(`memory ${dir}`))
    const mapping = join(await tempDir(), 'import.jsonl')
    const byFlag = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--driver', 'memory', '--json'])
    expect(byFlag.code).toBe(2)
    expect(answer(byFlag).error.message).toContain(
      '--driver memory keeps nothing: its frames would vanish when import exits (use fs, s3 or ipfs)'
    )
    const byVariable = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], {
      env: { SAI_IMAGE_STORAGE_DRIVER: 'memory' }
    })
    expect(byVariable.code).toBe(6)
    expect(answer(byVariable).error).toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('SAI_IMAGE_STORAGE_DRIVER: memory keeps nothing')
    })
    await expect(readFile(mapping)).rejects.toMatchObject({ code: 'ENOENT' }) // no record of a frame kept nowhere
    const store = cli(['store', join(dir, 'a.jpg'), '--driver', 'memory'])
    expect(store).toMatchObject({ code: 2, stdout: '' })
    expect(store.stderr).toContain('--driver memory keeps nothing: its frames would vanish when store exits')
    // reading it tells no lie: nothing is there
    expect(cli(['exists', 'a'.repeat(64), '--driver', 'memory']).code).toBe(1)
  })
})
