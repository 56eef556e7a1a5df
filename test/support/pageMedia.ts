/** Small helpers the browser tests share: bounded polling and "is this video really showing something". */
import type { Page } from 'playwright-core';
import { untilValue } from './poll.js';

/** Polls `read` until `ok` holds, or fails with `what` and the last value after `timeoutMs`. */
export function poll<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  return untilValue(read, ok, { what, timeoutMs, intervalMs });
}

/** Mean brightness (0-255) of the video matched by `selector`, drawn onto a canvas (0 if none yet). */
export function videoBrightness(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const video = document.querySelector<HTMLVideoElement>(sel);
    if (!video || video.videoWidth === 0) return 0;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0);
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += (data[i]! + data[i + 1]! + data[i + 2]!) / 3;
    return sum / (data.length / 4);
  }, selector);
}
