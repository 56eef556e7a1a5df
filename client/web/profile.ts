/** Signed in: name, photo (with a preview before upload), and the devices signed in to the account. */
import type { AccountClient, AccountDevice, User } from '@calling/sdk';
import { $, busy, showError } from './dom.js';
import { describeError } from './messages.js';
import type { PhotoLoader } from './photos.js';

const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
const MAX_PHOTO_BYTES = 5 * 1024 * 1024;

/** Why a chosen file cannot be a profile photo, or undefined when it can. */
export function checkPhoto(file: File): string | undefined {
  if (!PHOTO_TYPES.includes(file.type)) return 'Choose a JPEG, PNG or WebP image.';
  if (file.size > MAX_PHOTO_BYTES) return 'That photo is too large: the limit is 5 MB.';
  return undefined;
}

export class ProfileView {
  readonly #account: AccountClient;
  readonly #photos: PhotoLoader;
  readonly #status = $('profileStatus');
  readonly #error = $('profileError');
  readonly #nameInput = $<HTMLInputElement>('profileName');
  readonly #photoInput = $<HTMLInputElement>('photoInput');
  readonly #preview = $<HTMLImageElement>('photoPreview');
  readonly #previewBox = $('photoPreviewBox');
  readonly #upload = $<HTMLButtonElement>('uploadPhoto');
  readonly #devices = $<HTMLUListElement>('devices');

  constructor(account: AccountClient, photos: PhotoLoader) {
    this.#account = account;
    this.#photos = photos;
    $<HTMLFormElement>('nameForm').addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy($<HTMLButtonElement>('saveName'), () => this.#saveName());
    });
    this.#photoInput.addEventListener('change', () => this.#previewPhoto());
    $<HTMLFormElement>('photoForm').addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(this.#upload, () => this.#uploadPhoto()).finally(() => {
        this.#upload.disabled = !this.#photoInput.files?.length;
      });
    });
  }

  /** Called when the screen opens: fresh profile and device list from the server. */
  async open(message = ''): Promise<void> {
    showError(this.#error, message);
    this.#status.textContent = '';
    const user = this.#account.user;
    if (user) this.render(user, true);
    const [me, devices] = await Promise.allSettled([this.#account.me(), this.#loadDevices()]);
    if (me.status === 'rejected') showError(this.#error, describeError(me.reason));
    if (devices.status === 'rejected') showError(this.#error, describeError(devices.reason, 'devices'));
  }

  /** Shows `user`; the name field is only overwritten when asked (not while someone types). */
  render(user: User, resetName = false): void {
    if (resetName || document.activeElement !== this.#nameInput) this.#nameInput.value = user.name;
    $('profilePhone').textContent = user.phone ? `Phone: ${user.phone}` : '';
    void this.#photos.show(
      $<HTMLImageElement>('profilePhoto'),
      $('profileInitials'),
      user.photo,
      'full',
      user.name,
    );
  }

  async #saveName(): Promise<void> {
    showError(this.#error, '');
    this.#status.textContent = '';
    const name = this.#nameInput.value.trim();
    try {
      const user = await this.#account.updateName(name);
      this.#nameInput.value = user.name;
      this.#status.textContent = 'Name saved. People joining your calls from now on see the new name.';
    } catch (err) {
      showError(this.#error, describeError(err, 'name'));
    }
  }

  #previewPhoto(): void {
    if (this.#preview.src) URL.revokeObjectURL(this.#preview.src);
    this.#preview.removeAttribute('src');
    const file = this.#photoInput.files?.[0];
    const problem = file ? checkPhoto(file) : undefined;
    showError(this.#error, problem ?? '');
    this.#status.textContent = '';
    this.#previewBox.hidden = !file || problem !== undefined;
    this.#upload.disabled = !file || problem !== undefined;
    if (file && !problem) this.#preview.src = URL.createObjectURL(file);
  }

  async #uploadPhoto(): Promise<void> {
    const file = this.#photoInput.files?.[0];
    if (!file) return;
    showError(this.#error, '');
    this.#status.textContent = 'Uploading…';
    try {
      const user = await this.#account.uploadPhoto(file);
      this.#photoInput.value = '';
      this.#previewPhoto();
      // Show what the server made of it (re-encoded WebP), not the local file.
      await this.#photos.show(
        $<HTMLImageElement>('profilePhoto'),
        $('profileInitials'),
        user.photo,
        'full',
        user.name,
      );
      this.#status.textContent = 'Photo updated.';
    } catch (err) {
      this.#status.textContent = '';
      showError(this.#error, describeError(err, 'photo'));
    }
  }

  async #loadDevices(): Promise<void> {
    const devices = await this.#account.listDevices();
    devices.sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt);
    this.#devices.replaceChildren(...devices.map((d) => this.#deviceItem(d)));
  }

  #deviceItem(d: AccountDevice): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset.deviceId = d.deviceId;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = d.label || 'Unnamed device';
    const seen = document.createElement('small');
    // When it signed in, to the minute: two "Chrome on Linux" of one day still differ.
    const signedIn = `signed in ${new Date(d.createdAt).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}`;
    seen.textContent = d.current
      ? `This device · ${signedIn}`
      : `Last active ${new Date(d.lastSeenAt).toLocaleString()} · ${signedIn}`;
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'rename link';
    rename.textContent = 'Rename';
    rename.setAttribute('aria-label', `Rename ${label.textContent}`);
    rename.addEventListener('click', () => li.replaceChildren(this.#renameForm(d)));
    li.append(label, ' ', seen, ' ', rename);
    if (d.current) li.classList.add('current');
    else {
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.className = 'revoke';
      revoke.textContent = 'Sign out';
      revoke.setAttribute('aria-label', `Sign out ${label.textContent}`);
      revoke.addEventListener('click', () => void busy(revoke, () => this.#revoke(d)));
      li.append(' ', revoke);
    }
    return li;
  }

  /** An inline form that names the device (the list reloads when saved or cancelled). */
  #renameForm(d: AccountDevice): HTMLFormElement {
    const form = document.createElement('form');
    form.className = 'rename-device row';
    const field = document.createElement('label');
    field.textContent = 'Device name ';
    const input = document.createElement('input');
    input.name = 'label';
    input.required = true;
    input.maxLength = 64;
    input.value = d.label;
    field.append(input);
    const save = document.createElement('button');
    save.type = 'submit';
    save.textContent = 'Save';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'link';
    cancel.textContent = 'Cancel';
    const reload = (): Promise<void> =>
      this.#loadDevices().catch((err: unknown) => showError(this.#error, describeError(err, 'devices')));
    cancel.addEventListener('click', () => void reload());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(save, async () => {
        showError(this.#error, '');
        try {
          await this.#account.renameDevice(d.deviceId, input.value.trim());
          this.#status.textContent = `Renamed to ${input.value.trim()}.`;
          await reload();
        } catch (err) {
          showError(this.#error, describeError(err, 'devices'));
        }
      });
    });
    form.append(field, save, cancel);
    queueMicrotask(() => input.focus());
    return form;
  }

  async #revoke(d: AccountDevice): Promise<void> {
    showError(this.#error, '');
    try {
      await this.#account.revokeDevice(d.deviceId);
      this.#status.textContent = `Signed out ${d.label || 'the device'}.`;
    } catch (err) {
      showError(this.#error, describeError(err, 'devices'));
    }
    await this.#loadDevices().catch((err: unknown) => showError(this.#error, describeError(err, 'devices')));
  }
}
