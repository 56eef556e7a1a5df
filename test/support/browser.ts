/**
 * Debian's Chromium driven by playwright-core. Never downloads a browser; the flags are the ones
 * this machine needs for loopback WebRTC with fake camera and microphone.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `executablePath`: e.g. a wrapper that runs Chromium inside a network namespace (netnsClient.ts). */
export async function launchChromium(
  opts: { executablePath?: string; extraArgs?: string[] } = {},
): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: run scripts/setup.sh --test (installs Debian's chromium)`,
    );
  }
  // playwright's launch() creates and removes a fresh, empty profile directory itself.
  return chromium.launch({
    executablePath: opts.executablePath ?? CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      ...(opts.extraArgs ?? []),
      ...(process.env.CHROMIUM_EXTRA_ARGS ? process.env.CHROMIUM_EXTRA_ARGS.split(' ') : []),
    ],
  });
}
