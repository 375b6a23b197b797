// Faults between the driver and Kubo: wrong bytes, a wrong URL, errors after the body started,
// a missing block, a node that is down or hung, connections closed under a request, credentials.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { IpfsDriver, parseIpfsRef } from '../../../src/drivers/ipfs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { keepTrailers, MiB, proxy, rpc, sha256, useKubo } from './helpers.js'

const node = useKubo()
const closers: Array<() => Promise<void>> = []
afterAll(async () => {
  await Promise.all(closers.map(async close => await close()))
})
const via = async (hooks: Parameters<typeof proxy>[1]): Promise<Awaited<ReturnType<typeof proxy>>> => {
  const server = await proxy(node.url, hooks)
  closers.push(server.close)
  return server
}

describe('IpfsDriver faults on Kubo', () => {
  it('bytes corrupted on the way from cat are ERR_INTEGRITY, never returned', async () => {
    const jpeg = testJpeg(`corrupt ${Date.now()}`, 50_000)
    const { hash } = await new IpfsDriver({ url: node.url }).store(jpeg)
    const bad = await via({
      rewrite: (path, body) => {
        if (path === '/api/v0/cat' && body.length > 100) body[100] = body[100]! ^ 0xff
        return body
      }
    })
    await expect(new IpfsDriver({ url: bad.url }).fetch(hash)).rejects.toMatchObject({
      code: 'ERR_INTEGRITY',
      expected: hash
    })
  })

  it('an index entry that names another object (edited by hand, or by another tool): fetch by SHA-256 is ERR_INTEGRITY, never those bytes', async () => {
    const driver = new IpfsDriver({ url: node.url })
    const [wanted, other] = await Promise.all(
      [1, 2].map(async i => await driver.store(testJpeg(`swapped entry ${i} ${Date.now()}`, MiB + 10)))
    )
    const entry = `/sai-images/${wanted!.sha256.slice(0, 2)}/${wanted!.sha256.slice(2, 4)}/${wanted!.sha256}`
    expect((await rpc(node.url, 'files/rm', { arg: entry })).status).toBe(200)
    expect((await rpc(node.url, 'files/cp', { arg: [`/ipfs/${other!.hash}`, entry] })).status).toBe(200)
    await expect(driver.fetch(wanted!.sha256)).rejects.toMatchObject({
      code: 'ERR_INTEGRITY',
      expected: wanted!.sha256,
      actual: other!.sha256
    })
    // the other object is still served by its own entry
    expect((await driver.fetch(other!.sha256)).length).toBe(MiB + 10)
  })

  it('an add that answers with another CID is ERR_INTEGRITY', async () => {
    const other = parseIpfsRef(sha256(Buffer.from('something else'))).cid
    const lying = await via({
      rewrite: (path, body) =>
        path === '/api/v0/add' ? Buffer.from(body.toString().replace(/"Hash":"[^"]+"/, `"Hash":"${other}"`)) : body
    })
    const error = await new IpfsDriver({ url: lying.url }).store(testJpeg(`lie ${Date.now()}`)).catch(err => err)
    expect(error).toMatchObject({ code: 'ERR_INTEGRITY', actual: other })
  })

  it('where the trailers arrive, an add that answers with another CID is ERR_INTEGRITY too, and leaves no entry naming that CID', async () => {
    const other = parseIpfsRef(sha256(Buffer.from('yet something else'))).cid
    const lying = await via({
      trailers: keepTrailers,
      rewrite: (path, body) =>
        path === '/api/v0/add' ? Buffer.from(body.toString().replace(/"Hash":"[^"]+"/, `"Hash":"${other}"`)) : body
    })
    const jpeg = testJpeg(`lie with trailers ${Date.now()}`, MiB + 3)
    const error = await new IpfsDriver({ url: lying.url }).store(jpeg).catch(err => err)
    expect(error).toMatchObject({ code: 'ERR_INTEGRITY', actual: other })
    const hex = sha256(jpeg)
    expect(
      (await rpc(node.url, 'files/stat', { arg: `/sai-images/${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}` })).message
    ).toBe('file does not exist')
  })

  it('a URL that is not the RPC API (the gateway, a proxy path answering "404 page not found") is ERR_STORAGE_UNAVAILABLE in every call, never "not found" or an empty listing', async () => {
    const stored = await new IpfsDriver({ url: node.url }).store(testJpeg(`wrong url ${Date.now()}`, MiB + 1))
    const proxied = await via({})
    for (const url of [node.gatewayUrl, `${proxied.url}/wrong-prefix`]) {
      const wrong = new IpfsDriver({ url })
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['exists', async () => await wrong.exists(stored.sha256)],
        ['exists by CID', async () => await wrong.exists(stored.hash)],
        ['fetch', async () => await wrong.fetch(stored.sha256)],
        ['stat', async () => await wrong.stat(stored.sha256)],
        ['delete', async () => await wrong.delete(stored.sha256)],
        ['store', async () => await wrong.store(testJpeg(`wrong url store ${Date.now()}`))],
        [
          'list',
          async () => {
            for await (const _ of wrong.list()) return 'listed'
          }
        ]
      ]
      for (const [name, call] of calls) {
        const outcome = await call().then(
          value => ({ value }),
          (err: { code?: string; message?: string }) => ({ code: err.code, message: err.message })
        )
        expect({ url, name, outcome }).toMatchObject({
          url,
          name,
          outcome: { code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('404') }
        })
      }
    }
    expect(await new IpfsDriver({ url: node.url }).exists(stored.sha256)).toBe(true) // still there
  })

  it("an error after the add's Hash line (the X-Stream-Error trailer) fails the store; nothing is reported stored", async () => {
    // the node is told not to pin, and the answer ends with the trailer Kubo sends when pinning fails
    const failing = await via({
      query: url => {
        if (url.pathname === '/api/v0/add') url.searchParams.set('pin', 'false')
      },
      trailers: (path): Record<string, string> =>
        path === '/api/v0/add' ? { 'X-Stream-Error': 'pinning failed: no space left on device' } : {}
    })
    const jpeg = testJpeg(`trailer ${Date.now()}`, MiB + 2)
    await expect(new IpfsDriver({ url: failing.url }).store(jpeg)).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('pinning failed')
    })
    expect(await new IpfsDriver({ url: node.url }).exists(sha256(jpeg))).toBe(false)
  })

  it('a pin checked after add: behind a proxy that drops trailers, an add that did not pin is pinned before the store resolves', async () => {
    const silent = await via({
      query: url => {
        if (url.pathname === '/api/v0/add') url.searchParams.set('pin', 'false')
      }
    })
    const jpeg = testJpeg(`unpinned add ${Date.now()}`, 80_000)
    const stored = await new IpfsDriver({ url: silent.url }).store(jpeg)
    expect(stored.isDuplicate).toBe(false)
    expect((await rpc(node.url, 'pin/ls', { arg: stored.hash, type: 'recursive' })).status).toBe(200)
    expect(await new IpfsDriver({ url: node.url }).exists(stored.hash)).toBe(true)
  })

  it('a pinned object with a block gone from the node is ERR_INTEGRITY at once, not a wait for the network', async () => {
    const jpeg = testJpeg(`missing block ${Date.now()}`, 3 * MiB)
    const { hash } = await new IpfsDriver({ url: node.url }).store(jpeg)
    const refs = (await rpc(node.url, 'refs', { arg: hash })).text
      .trim()
      .split('\n')
      .map(line => JSON.parse(line).Ref as string)
    const { CID } = await import('multiformats/cid')
    const { base32 } = await import('multiformats/bases/base32')
    // flatfs names a block by its multihash in base32 (upper case, no prefix), in a folder of the next-to-last two
    // characters

    const key = base32.baseEncode(CID.parse(refs[1]!).multihash.bytes).toUpperCase()
    const folder = join(node.repo, 'blocks', key.slice(-3, -1))
    expect(await readdir(folder)).toContain(`${key}.data`)
    await rm(join(folder, `${key}.data`))
    const started = Date.now()
    await expect(new IpfsDriver({ url: node.url }).fetch(hash)).rejects.toMatchObject({
      code: 'ERR_INTEGRITY',
      expected: hash
    })
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('a node that is down is ERR_STORAGE_UNAVAILABLE, fast, naming the URL without credentials', async () => {
    const down = await proxy(node.url)
    await down.close()
    const driver = new IpfsDriver({ url: down.url.replace('http://', 'http://admin:hunter2@'), timeoutMs: 5000 })
    const started = Date.now()
    for (const call of [
      async () => await driver.exists(sha256(Buffer.from('x'))),
      async () => await driver.store(testJpeg('down')),
      async () => await driver.fetch(sha256(Buffer.from('x')))
    ]) {
      const error = await call().catch(err => err)
      expect(error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', path: down.url })
      expect(error.message).toContain(down.url)
      expect(error.message).toContain('ECONNREFUSED')
      expect(inspect(error, { depth: 10 })).not.toContain('hunter2')
    }
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('a read is made once more when the node closes the connection under it (an idle kept-alive one, as the request goes out); a write is not', async () => {
    const jpeg = testJpeg(`closed connection ${Date.now()}`)
    const { hash } = await new IpfsDriver({ url: node.url }).store(jpeg)
    let armed = false
    let dropAdds = false
    const dropped: string[] = []
    const closing = await via({
      drop: req => {
        const path = new URL(req.url!, node.url).pathname
        if (!(dropAdds ? path === '/api/v0/add' : armed)) return false
        armed = false
        dropped.push(path)
        return true
      }
    })
    const through = new IpfsDriver({ url: closing.url })
    for (const read of [
      async () => expect(await through.exists(hash)).toBe(true),
      async () => expect(Buffer.compare(await through.fetch(hash), jpeg)).toBe(0)
    ]) {
      armed = true
      await read()
      expect(armed).toBe(false) // a request was closed under it, and it was made again
    }
    expect(dropped.length).toBeGreaterThanOrEqual(2)
    dropAdds = true
    await expect(through.store(testJpeg(`not added ${Date.now()}`))).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE'
    })
    expect(closing.seen.filter(req => req.url!.startsWith('/api/v0/add'))).toHaveLength(1)
  })

  it('a hung node aborts at the timeout', async () => {
    const hung = await via({ rewrite: () => 'hang' })
    const timeoutMs = 700
    const started = Date.now()
    const error = await new IpfsDriver({ url: hung.url, timeoutMs }).exists(sha256(Buffer.from('x'))).catch(err => err)
    const elapsed = Date.now() - started
    expect(error).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining(`no answer within ${timeoutMs} ms`)
    })
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(elapsed).toBeLessThan(timeoutMs + 3000)
  })

  it("a caller's AbortSignal stops a call to a hung node", async () => {
    const hung = await via({ rewrite: () => 'hang' })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 200)
    await expect(
      new IpfsDriver({ url: hung.url }).exists(sha256(Buffer.from('x')), { signal: controller.signal })
    ).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('a cat cut part-way (a reset) is unavailable, never damage: no second answer is appended to the first part', async () => {
    const jpeg = testJpeg(`cut ${Date.now()}`, 400_000)
    const { hash } = await new IpfsDriver({ url: node.url }).store(jpeg)
    let cuts = 0
    const cutting = await via({ cut: path => (path === '/api/v0/cat' && cuts++ === 0 ? 100_000 : undefined) })
    const driver = new IpfsDriver({ url: cutting.url })
    await expect(driver.fetch(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    expect(cuts).toBe(1) // not sent again
    expect(await driver.fetch(hash)).toEqual(jpeg)
  })

  it('sends the Authorization header, and never prints it', async () => {
    const watched = await via({})
    const token = 'secret-token-123'
    const driver = new IpfsDriver({ url: watched.url, auth: `Bearer ${token}` })
    await driver.store(testJpeg(`auth ${Date.now()}`))
    expect(watched.seen.length).toBeGreaterThan(0)
    expect(watched.seen.every(req => req.headers.authorization === `Bearer ${token}`)).toBe(true)
    const basic = await via({})
    await new IpfsDriver({ url: basic.url.replace('http://', 'http://user:pa%3Ass@') }).exists(sha256(Buffer.from('x')))
    expect(basic.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('user:pa:ss').toString('base64')}`)
    // an error from the node carries no secret either
    await watched.close()
    const error = await driver.exists(sha256(Buffer.from('x'))).catch(err => err)
    expect(error.code).toBe('ERR_STORAGE_UNAVAILABLE')
    expect(
      inspect(error, { depth: 10 }) + String(error.stack) + JSON.stringify(driver) + inspect(driver, { depth: 10 })
    ).not.toContain(token)
  })
})
