/**
 * Profile photos need the Bearer token, so `<img src>` cannot load them: they are fetched with the
 * AccountClient and shown through object URLs, one per photo URL and version (ETag).
 */
import type { AccountClient, UserPhoto } from '@calling/sdk';
import { initials } from './dom.js';

interface Cached {
  etag: string;
  objectUrl: Promise<{ url: string; type: string }>;
}

export class PhotoLoader {
  readonly #account: AccountClient;
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new WeakMap<HTMLImageElement, { wanted: string; done: Promise<void> }>();

  constructor(account: AccountClient) {
    this.#account = account;
  }

  /**
   * Shows one size of a user's photo in `img` (data-etag and data-type tell which version is on
   * screen once it has decoded), or their initials in `fallback` when there is none.
   */
  show(
    img: HTMLImageElement,
    fallback: HTMLElement,
    photo: UserPhoto | null,
    size: 'full' | 'thumb',
    name: string,
  ): Promise<void> {
    fallback.textContent = initials(name);
    const wanted = photo ? `${photo.etag}:${size}` : '';
    // The same picture asked for again while it loads: share the load (setting src again would abort it).
    const inFlight = this.#inFlight.get(img);
    if (inFlight?.wanted === wanted) return inFlight.done;
    img.dataset.wanted = wanted;
    if (!photo) {
      this.#hide(img, fallback);
      return Promise.resolve();
    }
    if (img.dataset.shown === wanted && !img.hidden) return Promise.resolve();
    const done = this.#display(img, fallback, photo, size, wanted).finally(() => {
      if (this.#inFlight.get(img)?.done === done) this.#inFlight.delete(img);
    });
    this.#inFlight.set(img, { wanted, done });
    return done;
  }

  async #display(
    img: HTMLImageElement,
    fallback: HTMLElement,
    photo: UserPhoto,
    size: 'full' | 'thumb',
    wanted: string,
  ): Promise<void> {
    try {
      const { url, type } = await this.#load(size === 'full' ? photo.url : photo.thumbUrl, photo.etag);
      if (img.dataset.wanted !== wanted) return; // a newer photo was asked for meanwhile
      img.src = url;
      await img.decode();
      if (img.dataset.wanted !== wanted) return;
      img.dataset.shown = wanted;
      img.dataset.etag = photo.etag;
      img.dataset.type = type;
      img.hidden = false;
      fallback.hidden = true;
    } catch (err) {
      console.warn('cannot load photo', err);
      if (img.dataset.wanted === wanted) this.#hide(img, fallback);
    }
  }

  /** Forgets every photo (after sign-out). */
  clear(): void {
    for (const c of this.#cache.values()) void c.objectUrl.then(({ url }) => URL.revokeObjectURL(url), noop);
    this.#cache.clear();
  }

  #hide(img: HTMLImageElement, fallback: HTMLElement): void {
    img.hidden = true;
    img.removeAttribute('src');
    delete img.dataset.shown;
    delete img.dataset.etag;
    delete img.dataset.type;
    fallback.hidden = false;
  }

  #load(url: string, etag: string): Promise<{ url: string; type: string }> {
    const cached = this.#cache.get(url);
    if (cached?.etag === etag) return cached.objectUrl;
    if (cached) void cached.objectUrl.then(({ url: old }) => URL.revokeObjectURL(old), noop);
    const objectUrl = this.#account
      .fetchPhoto(url)
      .then((blob) => ({ url: URL.createObjectURL(blob), type: blob.type }));
    objectUrl.catch(() => {
      if (this.#cache.get(url)?.objectUrl === objectUrl) this.#cache.delete(url);
    });
    this.#cache.set(url, { etag, objectUrl });
    return objectUrl;
  }
}

const noop = (): void => undefined;
