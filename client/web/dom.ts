/** Small DOM helpers shared by the page's modules. */

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

/** Shows `message` in a `role=alert` element (announced by screen readers); empty clears it. */
export function showError(el: HTMLElement, message: string): void {
  el.textContent = message;
}

/**
 * Runs `fn` with `button` disabled and marked busy, so a request cannot be sent twice.
 * The button stays disabled afterwards if something else (a cool-down) disabled it meanwhile.
 */
export async function busy<T>(button: HTMLButtonElement, fn: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.removeAttribute('aria-busy');
    if (!button.dataset.coolingDown) button.disabled = false;
  }
}

/**
 * Keeps `button` disabled for `seconds`, showing the time left in its label; returns a function
 * that ends the cool-down early.
 */
export function coolDown(button: HTMLButtonElement, seconds: number, label: string): () => void {
  const until = Date.now() + seconds * 1000;
  button.dataset.coolingDown = 'true';
  button.disabled = true;
  const tick = (): void => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) {
      button.textContent = `${label} (${left} s)`;
      return;
    }
    stop();
  };
  const timer = setInterval(tick, 1000);
  const stop = (): void => {
    clearInterval(timer);
    delete button.dataset.coolingDown;
    button.textContent = label;
    if (!button.hasAttribute('aria-busy')) button.disabled = false;
  };
  tick();
  return stop;
}

/** Initials for an avatar placeholder: "Zoë Ångström" → "ZÅ". */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]!, parts[parts.length - 1]!] : parts;
  return letters.map((p) => [...p][0]!.toUpperCase()).join('');
}

/** A label for this browser in the devices list, e.g. "Chrome on Linux". */
export function deviceLabel(ua = navigator.userAgent): string {
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined;
  return os ? `${browser} on ${os}` : browser;
}
