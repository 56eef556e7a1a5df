/**
 * Signed out: phone number → "Send code" → code → (new number) name and optional photo → signed in.
 * The AccountClient's `session` event tells the page when this flow has signed someone in.
 */
import { ApiError, type AccountClient } from '@calling/sdk';
import { $, busy, coolDown, deviceLabel, showError } from './dom.js';
import { describeError } from './messages.js';
import { checkPhoto } from './profile.js';

type Step = 'phone' | 'code' | 'register';

export class SignInView {
  readonly #account: AccountClient;
  readonly #onRegistered: (photoError: string | undefined) => void;
  readonly #error = $('authError');
  readonly #forms: Record<Step, HTMLFormElement> = {
    phone: $<HTMLFormElement>('phoneForm'),
    code: $<HTMLFormElement>('codeForm'),
    register: $<HTMLFormElement>('registerForm'),
  };
  readonly #phoneInput = $<HTMLInputElement>('phone');
  readonly #codeInput = $<HTMLInputElement>('code');
  readonly #sendCode = $<HTMLButtonElement>('sendCode');
  readonly #verify = $<HTMLButtonElement>('verify');
  readonly #resend = $<HTMLButtonElement>('resendCode');
  readonly #register = $<HTMLButtonElement>('register');
  readonly #regPhoto = $<HTMLInputElement>('regPhoto');
  readonly #regPreview = $<HTMLImageElement>('regPhotoPreview');
  /** The number as the server normalised it. */
  #phone = '';
  #registrationToken = '';
  #stopCoolDowns: (() => void)[] = [];

  /** `onRegistered` runs after a new account is created (with the photo upload's error, if any). */
  constructor(account: AccountClient, onRegistered: (photoError: string | undefined) => void) {
    this.#account = account;
    this.#onRegistered = onRegistered;
    this.#forms.phone.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(this.#sendCode, () => this.#requestCode(this.#phoneInput.value));
    });
    this.#resend.addEventListener(
      'click',
      () => void busy(this.#resend, () => this.#requestCode(this.#phone)),
    );
    $('changeNumber').addEventListener('click', () => this.reset());
    this.#forms.code.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(this.#verify, () => this.#verifyCode());
    });
    this.#regPhoto.addEventListener('change', () => this.#previewPhoto());
    this.#forms.register.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(this.#register, () => this.#createAccount());
    });
  }

  /** Back to the first step, optionally explaining why (e.g. "you were signed out"). */
  reset(message = ''): void {
    for (const stop of this.#stopCoolDowns.splice(0)) stop();
    this.#registrationToken = '';
    this.#codeInput.value = '';
    this.#regPhoto.value = '';
    this.#previewPhoto();
    this.#show('phone');
    showError(this.#error, message);
  }

  #show(step: Step): void {
    for (const [name, form] of Object.entries(this.#forms)) form.hidden = name !== step;
  }

  async #requestCode(phone: string): Promise<void> {
    showError(this.#error, '');
    try {
      const sent = await this.#account.requestCode(phone);
      this.#phone = sent.phone;
      $('codeSentTo').textContent =
        `We sent a 6-digit code to ${sent.phone}. It is valid for ${Math.round(sent.expiresInSeconds / 60)} minutes.`;
      this.#codeInput.value = '';
      this.#show('code');
      this.#codeInput.focus();
      this.#stopCoolDowns.push(coolDown(this.#resend, sent.resendAfterSeconds, 'Send a new code'));
    } catch (err) {
      showError(this.#error, describeError(err, 'phone'));
      if (err instanceof ApiError && err.retryAfterSeconds && err.status === 429) {
        const button = this.#forms.code.hidden ? this.#sendCode : this.#resend;
        this.#stopCoolDowns.push(
          coolDown(button, err.retryAfterSeconds, button === this.#resend ? 'Send a new code' : 'Send code'),
        );
      }
    }
  }

  async #verifyCode(): Promise<void> {
    showError(this.#error, '');
    try {
      const result = await this.#account.verify(this.#phone, this.#codeInput.value.trim(), deviceLabel());
      if (result.status === 'registration-required') {
        this.#registrationToken = result.registrationToken;
        this.#show('register');
        $<HTMLInputElement>('regName').focus();
      }
      // signed-in: the account's session event switches the page over
    } catch (err) {
      showError(this.#error, describeError(err, 'code'));
      this.#codeInput.select();
    }
  }

  #previewPhoto(): void {
    if (this.#regPreview.src) URL.revokeObjectURL(this.#regPreview.src);
    const file = this.#regPhoto.files?.[0];
    const problem = file ? checkPhoto(file) : undefined;
    showError(this.#error, problem ?? '');
    if (!file || problem) {
      this.#regPreview.hidden = true;
      this.#regPreview.removeAttribute('src');
      return;
    }
    this.#regPreview.src = URL.createObjectURL(file);
    this.#regPreview.hidden = false;
  }

  async #createAccount(): Promise<void> {
    showError(this.#error, '');
    const file = this.#regPhoto.files?.[0];
    const problem = file ? checkPhoto(file) : undefined;
    if (problem) {
      showError(this.#error, problem);
      return;
    }
    try {
      await this.#account.register(
        this.#registrationToken,
        $<HTMLInputElement>('regName').value.trim(),
        deviceLabel(),
      );
    } catch (err) {
      showError(this.#error, describeError(err, 'register'));
      if (err instanceof ApiError && err.code === 'REGISTRATION_TOKEN_INVALID')
        this.reset(describeError(err));
      return;
    }
    let photoError: string | undefined;
    if (file) {
      try {
        await this.#account.uploadPhoto(file);
      } catch (err) {
        photoError = `Your account is ready, but the photo was not saved: ${describeError(err, 'photo')}`;
      }
    }
    this.reset();
    this.#onRegistered(photoError);
  }
}
