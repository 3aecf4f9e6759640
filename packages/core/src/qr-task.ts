import { qrPngDataUrl, qrSvg } from './qr.js';

/** Both QR renderings of an otpauth URI: the unit of work a server hands to a worker thread. */
export interface QrImages {
  readonly dataUrl: string;
  readonly svg: string;
}

/** Render the PNG data URL and the SVG of `text` (a worker-thread task: one plain argument in, one out). */
export default async function renderQr(text: string): Promise<QrImages> {
  const [dataUrl, svg] = await Promise.all([qrPngDataUrl(text), qrSvg(text)]);
  return { dataUrl, svg };
}
