/** The shared tool finder (test/support/tools.ts) that every test file needing a program uses. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findPyotpPython, findTool, isCI, requireTool } from '../../../test/support/tools.js';

const saved = { PATH: process.env.PATH, CI: process.env.CI };
const dir = mkdtempSync(join(tmpdir(), 'core-tools-'));
const bin = join(dir, 'bin');
const empty = join(dir, 'empty');
mkdirSync(bin);
mkdirSync(empty);
mkdirSync(join(bin, 'zbarimg')); // a directory is not a program
writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\n', { mode: 0o644 }); // nor a file it cannot run
writeFileSync(join(bin, 'oathtool'), '#!/bin/sh\n', { mode: 0o755 });

const restore = (name: 'PATH' | 'CI') => {
  if (saved[name] === undefined) delete process.env[name];
  else process.env[name] = saved[name];
};

describe('test/support/tools', () => {
  beforeEach(() => {
    delete process.env.CI;
  });
  afterEach(() => {
    restore('PATH');
    restore('CI');
    vi.restoreAllMocks();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds executable files on PATH, in PATH order', () => {
    process.env.PATH = [empty, '', bin].join(delimiter);
    expect(findTool('oathtool')).toBe(join(bin, 'oathtool'));
    expect(findTool('zbarimg')).toBeNull();
    expect(findTool('redis-server')).toBeNull();
  });

  it('caches a lookup for as long as PATH stays the same', () => {
    process.env.PATH = [bin, empty].join(delimiter);
    const first = findTool('oathtool');
    expect(first).toBe(join(bin, 'oathtool'));
    rmSync(first!);
    expect(findTool('oathtool')).toBe(first);
    writeFileSync(first!, '#!/bin/sh\n', { mode: 0o755 });
  });

  it('skips with one line naming the Debian package when a tool is missing', () => {
    process.env.PATH = empty;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(requireTool('redis-cli')).toBeNull();
    expect(requireTool('redis-cli')).toBeNull();
    expect(warn).toHaveBeenCalledTimes(1);
    const line = String(warn.mock.calls[0]![0]);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/redis-cli is not on PATH.*apt-get install redis-tools/);
  });

  it('fails instead when CI=true', () => {
    process.env.PATH = empty;
    process.env.CI = 'true';
    expect(isCI()).toBe(true);
    expect(() => requireTool('zbarimg')).toThrow(
      /zbarimg is not on PATH; CI=true requires it \(apt-get install zbar-tools\)/,
    );
  });

  it('treats only CI=true as CI', () => {
    process.env.PATH = empty;
    process.env.CI = 'false';
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(isCI()).toBe(false);
    expect(requireTool('redis-server')).toBeNull();
  });

  it('returns the path of a tool that is there, on CI or not', () => {
    process.env.PATH = bin;
    process.env.CI = 'true';
    expect(requireTool('oathtool')).toBe(join(bin, 'oathtool'));
  });

  it.skipIf(!findPyotpPython())('finds a python3 that can import pyotp, when the machine has one', () => {
    const python = findPyotpPython()!;
    expect(spawnSync(python, ['-c', 'import pyotp'], { stdio: 'ignore' }).status).toBe(0);
  });
});
