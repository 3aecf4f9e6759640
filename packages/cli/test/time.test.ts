import { describe, expect, it } from 'vitest';
import { CliFailure } from '../src/errors.js';
import { parseMoment, parseSpan } from '../src/time.js';

const now = new Date('2024-05-01T12:00:00Z');

describe('parseSpan', () => {
  it.each([
    ['30s', 30],
    ['15m', 900],
    ['24h', 86_400],
    ['7d', 604_800],
    ['2w', 1_209_600],
    ['1h30m', 5_400],
    ['15M', 900],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseSpan(text)).toBe(seconds);
  });

  it.each(['', 'm', '15', '15x', '-15m', '1.5h', '15 m', 'h15'])('%j is not a span', (text) => {
    expect(parseSpan(text)).toBeNull();
  });
});

describe('parseMoment', () => {
  it('reads a span as that long before now', () => {
    expect(parseMoment('15m', '--since', now).toISOString()).toBe('2024-05-01T11:45:00.000Z');
    expect(parseMoment('7d', '--since', now).toISOString()).toBe('2024-04-24T12:00:00.000Z');
  });

  it('reads ISO times, UTC unless they name a zone', () => {
    expect(parseMoment('2024-04-30T08:15:00Z', '--since', now).toISOString()).toBe('2024-04-30T08:15:00.000Z');
    expect(parseMoment('2024-04-30T08:15', '--since', now).toISOString()).toBe('2024-04-30T08:15:00.000Z');
    expect(parseMoment('2024-04-30 08:15:30', '--since', now).toISOString()).toBe('2024-04-30T08:15:30.000Z');
    expect(parseMoment('2024-04-30T08:15:00+02:00', '--since', now).toISOString()).toBe('2024-04-30T06:15:00.000Z');
    expect(parseMoment('2024-04-30', '--since', now).toISOString()).toBe('2024-04-30T00:00:00.000Z');
    expect(parseMoment('2024-04-30T08:15:00.123Z', '--since', now).toISOString()).toBe('2024-04-30T08:15:00.123Z');
  });

  it('reads now', () => {
    expect(parseMoment('now', '--until', now)).toEqual(now);
  });

  it.each(['yesterday', '2024-13-45', '01/05/2024', '12:00', '2024-05-01T25:00Z'])('refuses %j as wrong usage naming the flag', (text) => {
    let caught: unknown;
    try {
      parseMoment(text, '--until', now);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliFailure);
    expect((caught as CliFailure).exit).toBe(2);
    expect((caught as CliFailure).message).toContain('--until');
  });
});
