/**
 * The listing without the SDK (list.ts, sent by direct.ts): keys that need escaping, pages, an empty prefix, failures,
 * against a real Ceph RADOS Gateway (or the S3 that SAI_TEST_S3_* names); and its XML reader on answers made by hand.
 */
import { createServer } from 'node:http'
import { inspect } from 'node:util'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { S3Connection } from '../../../src/drivers/s3/client.js'
import { readListing } from '../../../src/drivers/s3/list.js'
import { S3Objects } from '../../../src/drivers/s3/objects.js'
import { all, bucket, credentials, forward, listen, raw, s3, useBucket } from './helpers.js'

useBucket()

const connect = (extra: Partial<ConstructorParameters<typeof S3Connection>[0]> = {}): S3Connection =>
  new S3Connection({
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials,
    forcePathStyle: true,
    timeoutMs: 5000,
    pathOf: subject => subject,
    ...extra
  })
const put = async (Key: string, Bucket = bucket): Promise<void> => {
  await raw.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from(Key) }))
}
let prefixes = 0
const prefix = (): string => `l${++prefixes}-${Date.now().toString(36)}/`

describe('the listing without the SDK (list.ts)', () => {
  it('lists keys that need escaping in a URL and in XML exactly as stored, with their sizes and times', async () => {
    const p = prefix()
    const names = ['a b', 'a+b', 'a%2Bb', 'a&b<c>"d\'e', 'ü/ñ/日本語', 'tab\there', 'ctrl\u0001\u001f', 'x=y?z#w']
    const keys = names.map(name => `${p}${name}`)
    const before = Date.now()
    for (const key of keys) await put(key)
    const objects = new S3Objects(connect(), bucket, () => 1e9)
    const listed = await all(objects.list(p))
    // in the order of their UTF-8 bytes, as S3 lists them
    const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))
    const sorted = [...keys].sort(byBytes)
    expect(listed.map(o => o.Key)).toEqual(sorted)
    for (const object of listed) {
      expect(object.Size).toBe(Buffer.byteLength(object.Key))
      expect(Math.abs(object.LastModified!.getTime() - before)).toBeLessThan(60_000)
    }
    // a prefix with such characters, and start-after
    expect((await all(objects.list(`${p}a`))).map(o => o.Key)).toEqual(sorted.slice(0, 4))
    expect((await all(objects.list(`${p}a&b<`))).map(o => o.Key)).toEqual([`${p}a&b<c>"d'e`])
    const after = sorted.filter(key => byBytes(key, `${p}tab`) > 0)
    expect(after).toHaveLength(3)
    expect((await all(objects.list(p, undefined, `${p}tab`))).map(o => o.Key)).toEqual(after)
  })

  it('follows the continuation token over pages (max-keys 2, and the server default of 1000)', async () => {
    const connection = connect()
    const p = prefix()
    const keys = Array.from({ length: 1003 }, (_, i) => `${p}k${String(i).padStart(4, '0')}+&`)
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map(key => put(key)))
    const small: string[] = []
    let pages = 0
    let token: string | undefined
    do {
      const page = await connection.listPage(p, { token, maxKeys: 2, startAfter: keys[990] }, undefined)
      expect(page.objects.length).toBeLessThanOrEqual(2)
      small.push(...page.objects.map(o => o.Key))
      token = page.next
      pages++
    } while (token !== undefined)
    expect(small).toEqual(keys.slice(991))
    expect(pages).toBe(6)
    const whole = await all(new S3Objects(connection, bucket, () => 1e9).list(p))
    expect(whole.map(o => o.Key)).toEqual(keys)
    connection.destroy()
  })

  it('lists a whole bucket with an empty prefix; an empty bucket lists nothing', async () => {
    const other = `${bucket}-all`
    await raw.send(new CreateBucketCommand({ Bucket: other }))
    const connection = connect({ bucket: other })
    const objects = new S3Objects(connection, other, () => 1e9)
    expect(await all(objects.list(''))).toEqual([])
    for (const key of ['top', 'dir/in', 'zz z']) await put(key, other)
    expect((await all(objects.list(''))).map(o => o.Key)).toEqual(['dir/in', 'top', 'zz z'])
    for (const key of ['top', 'dir/in', 'zz z']) await raw.send(new DeleteObjectCommand({ Bucket: other, Key: key }))
    await raw.send(new DeleteBucketCommand({ Bucket: other }))
    connection.destroy()
  })

  it(
    'makes failures ours: a wrong secret (not shown), no such bucket, ' +
      'a 503 asked once more, an answer not a listing',
    async () => {
      const secret = 'wrong-secret-for-a-list-4aF0'
      const wrong = connect({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret } })
      const denied = await wrong.listPage('', {}).catch(err => err)
      expect(denied).toMatchObject({
        code: 'ERR_STORAGE_UNAVAILABLE',
        message: expect.stringContaining('access denied')
      })
      for (const shown of [denied.message, denied.stack, inspect(denied, { depth: 9 }), JSON.stringify(denied)])
        expect(shown).not.toContain(secret)
      await expect(connect({ bucket: `${bucket}-none` }).listPage('', {})).rejects.toMatchObject({
        code: 'ERR_STORAGE_UNAVAILABLE',
        message: expect.stringContaining('the bucket does not exist')
      })

      let unavailable = 0
      let broken = false
      const proxy = createServer((req, res) => {
        if (unavailable > 0) {
          unavailable--
          req.resume()
          res
            .writeHead(503)
            .end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
        } else if (broken) res.writeHead(200).end('<html>a captive portal</html>')
        else forward(req, res)
      })
      const port = await listen(proxy)
      try {
        const p = prefix()
        await put(`${p}one`)
        const proxied = connect({ endpoint: `http://127.0.0.1:${port}` })
        unavailable = 1
        expect((await proxied.listPage(p, {})).objects.map(o => o.Key)).toEqual([`${p}one`])
        unavailable = 2
        await expect(proxied.listPage(p, {})).rejects.toMatchObject({
          code: 'ERR_STORAGE_UNAVAILABLE',
          message: expect.stringMatching(/SlowDown \(HTTP 503\): Please reduce/)
        })
        broken = true
        await expect(proxied.listPage(p, {})).rejects.toMatchObject({
          code: 'ERR_STORAGE_UNAVAILABLE',
          message: expect.stringContaining('no ListBucketResult')
        })
        proxied.destroy()
      } finally {
        proxy.close()
      }
    }
  )
})

describe("the listing's XML reader", () => {
  const page = (contents: string, tail = '<IsTruncated>false</IsTruncated>'): string =>
    `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>b</Name><Prefix>p%2F</Prefix><KeyCount>1</KeyCount>${contents}${tail}</ListBucketResult>`
  const contents = (key: string): string =>
    `<Contents><Key>${key}</Key><LastModified>2026-12-05T09:43:03.123Z</LastModified>` +
    `<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>17</Size><StorageClass>STANDARD</StorageClass>` +
    `<Owner><ID>o</ID><DisplayName>o</DisplayName></Owner></Contents>`

  it('decodes entities, then the URL encoding (+ is a space, as AWS sends it)', () => {
    const read = readListing(page(contents('a+b%2Bc%26%3C&amp;&#x41;&#66;%E6%97%A5')))
    expect(read).toEqual({
      objects: [{ Key: 'a b+c&<&AB日', Size: 17, LastModified: new Date('2026-12-05T09:43:03.123Z') }]
    })
  })

  it('gives the next token of a cut page, from outside its objects', () => {
    const tail = '<IsTruncated>true</IsTruncated><NextContinuationToken>1/a&amp;b=</NextContinuationToken>'
    expect(readListing(page(contents('k1') + contents('k2'), tail))).toMatchObject({
      objects: [{ Key: 'k1' }, { Key: 'k2' }],
      next: '1/a&b='
    })
    expect(readListing(page(''))).toEqual({ objects: [] })
  })

  it.each([
    ['not a listing', '<Error><Code>x</Code></Error>', 'no ListBucketResult'],
    ['a cut page without its token', page('', '<IsTruncated>true</IsTruncated>'), 'without NextContinuationToken'],
    ['an object without a key', page('<Contents><Size>1</Size></Contents>'), 'without a Key'],
    ['a size that is no number', page(contents('k').replace('<Size>17', '<Size>-1')), 'not a number'],
    ['a time that is none', page(contents('k').replace('2026-12-05', 'yesterday')), 'not a time'],
    ['an unknown entity', page(contents('a&nbsp;b')), 'unknown entity'],
    ['a key that is not URL-encoded UTF-8', page(contents('%E6%97')), 'not URL-encoded'],
    ['a character reference out of range', page(contents('&#0;')), 'out of range']
  ])('refuses %s', (_name, xml, message) => {
    expect(() => readListing(xml)).toThrow(
      expect.objectContaining({ name: 'MalformedListing', message: expect.stringContaining(message) })
    )
  })
})
