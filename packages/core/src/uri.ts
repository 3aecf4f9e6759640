import type { Algorithm, Digits, Period } from './policy.js';

export interface KeyUriParams {
  /** base32, no padding */
  readonly secret: string;
  readonly issuer: string;
  readonly accountName: string;
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  readonly period: Period;
}

/**
 * The otpauth Key URI (Google Authenticator "Key Uri Format"): the label is `Issuer:account`,
 * each part percent-encoded on its own so that a colon inside either part cannot move the
 * separator, and the issuer is repeated as a parameter, which apps prefer over the prefix.
 */
export function buildKeyUri(p: KeyUriParams): string {
  const label = `${encodeURIComponent(p.issuer)}:${encodeURIComponent(p.accountName)}`;
  const query = [
    `secret=${p.secret}`,
    `issuer=${encodeURIComponent(p.issuer)}`,
    `algorithm=${p.algorithm}`,
    `digits=${p.digits}`,
    `period=${p.period}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}
