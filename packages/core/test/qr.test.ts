import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildKeyUri,
  encodeBase32,
  generateSecret,
  qrPng,
  qrPngDataUrl,
  qrSvg,
  qrTerminal,
} from '../src/index.js';
import { requireTool } from '../../../test/support/tools.js';

const zbarimg = requireTool('zbarimg');

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const DATA_URL_PREFIX = 'data:image/png;base64,';

const typicalUri = buildKeyUri({
  secret: encodeBase32(generateSecret('SHA1')),
  issuer: 'TOTP Service',
  accountName: 'alice@example.com',
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
});

/** A worst case for symbol size: a 64-byte secret and names that percent-encode to 3-12 bytes a character. */
const longUri = buildKeyUri({
  secret: encodeBase32(generateSecret('SHA512')),
  issuer: 'Ünïcødé Bank — Zürich 東京支店 🔐 '.repeat(3).trim(),
  accountName: 'josé.müller+2fa@例え.jp',
  algorithm: 'SHA512',
  digits: 8,
  period: 60,
});

const dir = mkdtempSync(join(tmpdir(), 'core-qr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pngOf(dataUrl: string): Buffer {
  expect(dataUrl.startsWith(DATA_URL_PREFIX)).toBe(true);
  return Buffer.from(dataUrl.slice(DATA_URL_PREFIX.length), 'base64');
}

describe('qrPngDataUrl and qrPng', () => {
  it('give a PNG data URL, and the same PNG as bytes', async () => {
    const dataUrl = await qrPngDataUrl(typicalUri);
    expect(dataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/);
    const png = pngOf(dataUrl);
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(await qrPng(typicalUri)).toEqual(png);
  });

  describe.skipIf(!zbarimg)('read back by zbarimg', () => {
    const scan = (png: Buffer, name: string) => {
      const file = join(dir, name);
      writeFileSync(file, png);
      // stderr ignored: zbar may complain about D-Bus on a headless machine.
      return execFileSync(zbarimg!, ['--raw', '-q', file], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString('utf8')
        .replace(/\n$/, '');
    };

    it('decodes to exactly the URI, for a typical URI', async () => {
      expect(scan(pngOf(await qrPngDataUrl(typicalUri)), 'typical.png')).toBe(typicalUri);
    });

    it(`decodes to exactly the URI, for a long one (${longUri.length} characters)`, async () => {
      expect(scan(pngOf(await qrPngDataUrl(longUri)), 'long.png')).toBe(longUri);
      expect(scan(await qrPng(longUri), 'long-bytes.png')).toBe(longUri);
    });
  });
});

describe('qrSvg', () => {
  it('is a bare <svg> element (no XML declaration) drawn with a path', async () => {
    const svg = await qrSvg(typicalUri);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toMatch(/<path [^>]*d="M/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toContain(typicalUri);
  });

  it('draws a bigger symbol for a longer text', async () => {
    const side = (svg: string) => Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
    expect(side(await qrSvg(longUri))).toBeGreaterThan(side(await qrSvg(typicalUri)));
  });
});

describe('qrTerminal', () => {
  // eslint-disable-next-line no-control-regex -- ANSI colour sequences are what we strip
  const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
  /** Width in terminal columns: one per code point (the half blocks are one column each). */
  const columns = (line: string) => [...stripAnsi(line)].length;

  it('fits a typical SHA1 URI in 80 columns with the small renderer', async () => {
    const text = await qrTerminal(typicalUri);
    const lines = text.split('\n').filter((l) => stripAnsi(l).length > 0);
    expect(lines.length).toBeGreaterThan(10);
    const widths = lines.map(columns);
    expect(Math.max(...widths)).toBeLessThanOrEqual(80);
    // Half blocks: about as many lines as half the columns.
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(Math.max(...widths) / 2) + 1);
    // The bytes are another matter: each block is three bytes of UTF-8.
    expect(Buffer.byteLength(stripAnsi(lines[1]!))).toBeGreaterThan(columns(lines[1]!));
  });

  it('draws only blocks and spaces between the colour codes', async () => {
    expect(stripAnsi(await qrTerminal(typicalUri))).toMatch(/^[ ▀▄█\n]+$/);
  });

  it('is twice as tall without the small renderer', async () => {
    const height = (t: string) => t.split('\n').filter((l) => stripAnsi(l).length > 0).length;
    const small = height(await qrTerminal(typicalUri, true));
    const large = height(await qrTerminal(typicalUri, false));
    expect(large).toBeGreaterThanOrEqual(2 * small - 2);
  });
});
