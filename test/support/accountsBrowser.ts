/** Helpers for driving the web page's account screens in Chromium. */
import { randomInt } from 'node:crypto';
import type { Page } from 'playwright-core';
import sharp from 'sharp';

/** The code every test number accepts (docs/accounts-api.md). */
export const TEST_CODE = '123456';

/**
 * One of the fictional test numbers +12015550100..+12015550199, not handed out before in this
 * process. The account store is shared by everything that runs against the same Redis, so a
 * random start keeps parallel suites off each other's numbers.
 */
const used = new Set<number>();
export function testPhone(): { e164: string; typed: string } {
  let n = randomInt(100, 200);
  while (used.has(n)) n = n === 199 ? 100 : n + 1;
  used.add(n);
  return { e164: `+12015550${n}`, typed: `+1 201-555-0${n}` };
}

/** A plain-colour test picture. */
export function makePhoto(
  format: 'png' | 'jpeg',
  size: { width: number; height: number },
  rgb: { r: number; g: number; b: number },
): Promise<Buffer> {
  const img = sharp({ create: { ...size, channels: 3, background: rgb } });
  return (format === 'png' ? img.png() : img.jpeg({ quality: 90 })).toBuffer();
}

export interface ShownImage {
  naturalWidth: number;
  naturalHeight: number;
  /** The Blob's type behind the object URL the page shows. */
  type: string;
  bytes: number[];
  /** Colour of the centre pixel as decoded by the browser. */
  centre: [number, number, number];
  etag: string | undefined;
}

/** What an `<img>` on the page shows, read back through its object URL and a canvas. */
export function shownImage(page: Page, selector: string): Promise<ShownImage> {
  return page.evaluate(async (sel) => {
    const img = document.querySelector<HTMLImageElement>(sel);
    if (!img?.src) throw new Error(`${sel} shows nothing`);
    await img.decode();
    const blob = await (await fetch(img.src)).blob();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(Math.floor(canvas.width / 2), Math.floor(canvas.height / 2), 1, 1).data;
    return {
      naturalWidth: img.naturalWidth,
      naturalHeight: img.naturalHeight,
      type: blob.type,
      bytes: Array.from(new Uint8Array(await blob.arrayBuffer())),
      centre: [px[0]!, px[1]!, px[2]!] as [number, number, number],
      etag: img.dataset.etag,
    };
  }, selector);
}

/** RIFF....WEBP */
export function isWebp(bytes: ArrayLike<number>): boolean {
  const ascii = (from: number, to: number): string =>
    String.fromCharCode(...Array.from({ length: to - from }, (_, i) => bytes[from + i]!));
  return ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP';
}

/** Phone → code → (registration with name and optional photo) through the sign-in screen. */
export async function signInThroughUi(
  page: Page,
  phone: string,
  register?: { name: string; photo?: { name: string; mimeType: string; buffer: Buffer } },
): Promise<'signed-in' | 'registration-required'> {
  await page.fill('#phone', phone);
  await page.click('#sendCode');
  await page.waitForSelector('#codeForm:not([hidden])');
  await page.fill('#code', TEST_CODE);
  const verified = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/verify'));
  await page.click('#verify');
  const status = ((await (await verified).json()) as { status: 'signed-in' | 'registration-required' })
    .status;
  if (status === 'registration-required') {
    if (!register) throw new Error(`${phone} has no account`);
    await page.waitForSelector('#registerForm:not([hidden])');
    await page.fill('#regName', register.name);
    if (register.photo) await page.setInputFiles('#regPhoto', register.photo);
    await page.click('#register');
  }
  await page.waitForSelector('#account:not([hidden])');
  return status;
}
