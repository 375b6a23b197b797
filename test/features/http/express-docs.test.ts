// The Express setup docs/http.md shows, run as written (NODE_ENV unset): a damaged object is a 500
// whose body holds no stack and no path of the server.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('docs/http.md: the Express setup', () => {
  it('answers a damaged object 500 without a stack or a server path; a whole one 200', async () => {
    const docs = await readFile(join(ROOT, 'docs/http.md'), 'utf8')
    const snippet = /```js\n([\s\S]*?)```/.exec(docs)![1]!
    expect(snippet).toContain('app.use((err, req, res, next)')
    const script =
      'const requireLogin = (req, res, next) => next()\n' +
      snippet
        .replace("require('sai-image-storage')", `require(${JSON.stringify(join(ROOT, 'dist/index.cjs'))})`)
        .replace('app.listen(3000)', 'const server = app.listen(0, () => console.log(server.address().port))')
    const dir = await tempDir()
    await writeFile(join(dir, 'server.cjs'), script)
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const whole = await storage.store(testJpeg(`express ${root} whole`))
    const damaged = await storage.store(testJpeg(`express ${root} damaged`))
    const bytes = await readFile(damaged.path)
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 1
    await writeFile(damaged.path, bytes)
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SAI_IMAGE_STORAGE_PATH: root,
      NODE_PATH: join(ROOT, 'node_modules')
    }
    delete env.NODE_ENV
    const child = spawn(process.execPath, [join(dir, 'server.cjs')], {
      env,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let logged = ''
    child.stderr.on('data', d => {
      logged += d
    })
    try {
      const [port] = (await once(createInterface({ input: child.stdout }), 'line')) as [string]
      const ok = await fetch(`http://127.0.0.1:${port}/images/${whole.hash}`)
      expect(ok.status).toBe(200)
      expect(Buffer.from(await ok.arrayBuffer()).equals(await readFile(whole.path))).toBe(true)
      const bad = await fetch(`http://127.0.0.1:${port}/images/${damaged.hash}`)
      expect(bad.status).toBe(500)
      const body = await bad.text()
      expect(body).toBe('Internal Server Error')
      expect(body).not.toContain(root)
      expect(logged).toContain('ERR_INTEGRITY') // the operator still sees it
    } finally {
      child.kill()
    }
  })
})
