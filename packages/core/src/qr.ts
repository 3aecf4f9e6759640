import QRCode from 'qrcode';

// Medium error correction: scans from a screen or a terminal, keeps the symbol small.
const options = { errorCorrectionLevel: 'M', margin: 2 } as const;

/** The QR code of `text` as a `data:image/png;base64,…` URL. */
export function qrPngDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { ...options, type: 'image/png', width: 256 });
}

/** The QR code of `text` as PNG bytes. */
export function qrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { ...options, type: 'png', width: 256 });
}

/** The QR code of `text` as a standalone `<svg …>` document. */
export function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { ...options, type: 'svg' });
}

/**
 * The QR code of `text` for a terminal. `small` packs two rows into one line of half blocks,
 * so a typical otpauth URI fits in 80 columns and scans from the screen.
 */
export function qrTerminal(text: string, small = true): Promise<string> {
  return QRCode.toString(text, { ...options, type: 'terminal', small });
}
