/**
 * Secrets in the settings of the network drivers never reach a message, `inspect` or JSON: a URL's user and password
 * however the URL standard spells them, a query string that no request sends, a malformed URL, a node's or a
 * gateway's answer that echoes a credential (past the cut a message makes, or a token given as a URL's user), and an
 * S3 key id a gateway names. The echoing servers stand in for what a real Kubo or Ceph never says.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { IpfsDriver } from '../../src/drivers/ipfs/index.js'
import { S3Driver } from '../../src/drivers/s3/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { init as s3Init, sha256 } from './s3/helpers.js'

const SECRET = 'pw-Zq8XvT3pL0secret'
const closers: Array<() => void> = []
afterEach(() => {
  for (const close of closers.splice(0)) close()
})

/** Everything a failure or a driver shows: none may hold `secret`. */
function shown(...things: unknown[]): string {
  return things
    .map(thing => {
      const err = thing as Error
      return `${err?.message} ${err?.stack} ${inspect(thing, { depth: 9, showHidden: true })} ${JSON.stringify(thing)}`
    })
    .join('\n')
}

function refusal(make: () => unknown): unknown {
  try {
    make()
  } catch (err) {
    return err
  }
  throw new Error('expected the setting to be refused')
}

/** A server that answers every request with `answer(req)`, on loopback. */
async function answering(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(answer)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => server.close())
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

describe('S3 endpoint', () => {
  it.each([
    ['a user and password', `http://ana:${SECRET}@127.0.0.1:7480`],
    ['no slashes (the URL standard still reads a password)', `http:ana:${SECRET}@127.0.0.1:7480`],
    ['one slash', `http:/ana:${SECRET}@127.0.0.1:7480`],
    ['a backslash', `http:\\\\ana:${SECRET}@127.0.0.1:7480`],
    ['a leading space', ` http://ana:${SECRET}@127.0.0.1:7480`],
    ['a query string', `http://127.0.0.1:7480/?token=${SECRET}`],
    ['a fragment', `http://127.0.0.1:7480/#${SECRET}`],
    ['no scheme', `ana${SECRET}:7480`]
  ])('with %s is refused (ERR_CONFIG), and the value is not shown', (_, endpoint) => {
    const err = refusal(() => new S3Driver({ ...s3Init, endpoint }))
    expect(err).toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('the value is not shown') })
    expect(shown(err)).not.toContain(SECRET)
  })

  it('a gateway message that names the access key id shows it redacted', async () => {
    const keyId = 'AKIDSHOWNBYGATEWAY42'
    const endpoint = await answering((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'application/xml' })
      res.end(`<?xml version="1.0"?><Error><Code>InternalError</Code><Message>no user ${keyId}</Message></Error>`)
    })
    const driver = new S3Driver({
      ...s3Init,
      endpoint,
      credentials: { accessKeyId: keyId, secretAccessKey: SECRET },
      timeoutMs: 5000
    })
    const err = await driver.fetch(sha256(testJpeg('key id'))).catch(e => e)
    expect(err).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    expect(shown(err, driver)).not.toContain(keyId)
    expect(shown(err, driver)).not.toContain(SECRET)
  })
})

describe('IPFS API URL', () => {
  it.each([
    ['a malformed port', `http://ana:${SECRET}@127.0.0.1:50O1`],
    ['a query string', `http://127.0.0.1:5001/?token=${SECRET}`],
    ['a fragment', `http://127.0.0.1:5001/#${SECRET}`],
    ['another scheme', `ftp://ana:${SECRET}@127.0.0.1:5001`]
  ])('with %s is refused (ERR_CONFIG), and the value is not shown', (_, url) => {
    const err = refusal(() => new IpfsDriver({ url }))
    expect(err).toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('the value is not shown') })
    expect(shown(err)).not.toContain(SECRET)
  })

  it('an answer that echoes a long token across the cut of 80 characters shows no part of it', async () => {
    const token = `${SECRET}-a-long-bearer-token-0123456789abcdef`
    const url = await answering((_req, res) => {
      res.writeHead(403, { 'Content-Type': 'text/plain' })
      res.end(`${'x'.repeat(70)} ${token}`) // the token starts before character 80 and ends after it
    })
    const driver = new IpfsDriver({ url, auth: `Bearer ${token}` })
    const err = await driver.exists(sha256(testJpeg('echo'))).catch(e => e)
    // redacted first, then cut: `xxx… [redacted` (the old order showed the token's first 9 characters)
    expect(err).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining(' [redacted') })
    expect(shown(err, driver)).not.toContain(SECRET.slice(0, 8))
  })

  it("a token given as the URL's user, echoed by a proxy, is redacted", async () => {
    const url = await answering((req, res) => {
      const user = Buffer.from(String(req.headers.authorization).split(' ')[1] ?? '', 'base64').toString()
      res.writeHead(403, { 'Content-Type': 'text/plain' })
      res.end(`no access for ${user.replace(/:$/, '')}`)
    })
    const driver = new IpfsDriver({ url: url.replace('http://', `http://${SECRET}@`) })
    const err = await driver.exists(sha256(testJpeg('user token'))).catch(e => e)
    expect(err).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('[redacted]') })
    expect(shown(err, driver)).not.toContain(SECRET)
  })

  it("inspect and JSON show the API URL without credentials, and not the gateway's URL", () => {
    const driver = new IpfsDriver({
      url: `http://ana:${SECRET}@127.0.0.1:5001`,
      gatewayUrl: `https://viewer:${SECRET}@gateway.example`
    })
    expect(inspect(driver, { depth: 9 })).toBe("IpfsDriver { apiUrl: 'http://127.0.0.1:5001' }")
    expect(JSON.parse(JSON.stringify(driver))).toEqual({ driver: 'ipfs', apiUrl: 'http://127.0.0.1:5001' })
  })
})
