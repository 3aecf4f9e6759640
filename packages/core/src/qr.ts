import type QRCodeModule from 'qrcode';

// Medium error correction: scans from a screen or a terminal, keeps the symbol small.
const options = { errorCorrectionLevel: 'M', margin: 2 } as const;

// Loaded on first use: importing the core for codes alone (the CLI's `code`) skips the QR
// renderer and its PNG encoder.
let qrcode: Promise<typeof QRCodeModule> | undefined;
const load = () => (qrcode ??= import('qrcode').then((m) => m.default));

/** The QR code of `text` as a `data:image/png;base64,…` URL. */
export async function qrPngDataUrl(text: string): Promise<string> {
  return (await load()).toDataURL(text, { ...options, type: 'image/png', width: 256 });
}

/** The QR code of `text` as PNG bytes. */
export async function qrPng(text: string): Promise<Buffer> {
  return (await load()).toBuffer(text, { ...options, type: 'png', width: 256 });
}

/** The QR code of `text` as a standalone `<svg …>` document. */
export async function qrSvg(text: string): Promise<string> {
  return (await load()).toString(text, { ...options, type: 'svg' });
}

/**
 * The QR code of `text` for a terminal. `small` packs two rows into one line of half blocks,
 * so a typical otpauth URI fits in 80 columns and scans from the screen.
 */
export async function qrTerminal(text: string, small = true): Promise<string> {
  return (await load()).toString(text, { ...options, type: 'terminal', small });
}
