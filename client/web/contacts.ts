/**
 * Contacts: registered people found by phone number (a browser has no address book, so the user
 * types or pastes numbers). Kept per account in localStorage, refreshed from the server on open.
 */
import type { AccountClient, CallMedia, ContactMatch, User } from '@calling/sdk';
import { $, busy, showError } from './dom.js';
import { describeError } from './messages.js';
import type { PhotoLoader } from './photos.js';

export interface Contact {
  phone: string;
  userId: string;
  name: string;
  photo: User['photo'];
}

/** "+1 (201) 555-0101" → "+12015550101"; undefined when it cannot be an E.164 number. */
export function toE164(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (!trimmed.startsWith('+')) return undefined;
  const digits = trimmed.slice(1).replace(/[\s().\-/]/g, '');
  return /^[1-9]\d{7,14}$/.test(digits) ? `+${digits}` : undefined;
}

export class ContactsView {
  readonly #account: AccountClient;
  readonly #photos: PhotoLoader;
  readonly #onCall: (userIds: string[], media: CallMedia) => void;
  readonly #list = $<HTMLUListElement>('contactList');
  readonly #status = $('contactsStatus');
  readonly #error = $('contactsError');
  readonly #input = $<HTMLTextAreaElement>('contactPhones');
  #contacts: Contact[] = [];
  readonly #selected = new Set<string>();
  #userId = '';

  constructor(
    account: AccountClient,
    photos: PhotoLoader,
    onCall: (userIds: string[], media: CallMedia) => void,
  ) {
    this.#account = account;
    this.#photos = photos;
    this.#onCall = onCall;
    $<HTMLFormElement>('contactsForm').addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy($<HTMLButtonElement>('addContacts'), () => this.#add(this.#input.value));
    });
    for (const [id, media] of [
      ['groupCallAudio', 'audio'],
      ['groupCallVideo', 'video'],
    ] as const) {
      $(id).addEventListener('click', () => {
        if (this.#selected.size === 0) return;
        const userIds = [...this.#selected];
        // The group call is placed: untick, so the next call starts from a clean list.
        this.#selected.clear();
        this.render();
        this.#onCall(userIds, media);
      });
    }
  }

  get contacts(): readonly Contact[] {
    return this.#contacts;
  }

  find(userId: string): Contact | undefined {
    return this.#contacts.find((c) => c.userId === userId);
  }

  /** Loads the signed-in account's contacts and refreshes their names and photos. */
  async load(userId: string): Promise<void> {
    this.#userId = userId;
    this.#contacts = this.#read();
    this.#selected.clear();
    this.render();
    if (this.#contacts.length === 0) return;
    try {
      const matches = await this.#account.lookupContacts(this.#contacts.map((c) => c.phone));
      if (this.#userId !== userId) return;
      const byPhone = new Map(matches.map((m) => [m.phone, m]));
      // Numbers whose account is gone drop out; the others get fresh names and photos.
      this.#contacts = this.#contacts.flatMap((c) => {
        const m = byPhone.get(c.phone);
        return m ? [toContact(m)] : [];
      });
      this.#save();
      this.render();
    } catch (err) {
      console.warn('contacts refresh', describeError(err));
    }
  }

  clear(): void {
    this.#userId = '';
    this.#contacts = [];
    this.#selected.clear();
    this.#list.replaceChildren();
    this.#status.textContent = '';
    showError(this.#error, '');
  }

  async #add(text: string): Promise<void> {
    showError(this.#error, '');
    this.#status.textContent = '';
    const parts = text
      .split(/[,;\n]+/)
      .map((p) => p.trim())
      .filter(Boolean);
    if (parts.length === 0) {
      showError(this.#error, 'Enter at least one phone number.');
      return;
    }
    const phones = parts.map(toE164);
    const bad = parts.filter((_, i) => phones[i] === undefined);
    if (bad.length > 0) {
      showError(
        this.#error,
        `Not a phone number with a country code: ${bad.join(', ')}. Numbers start with +, e.g. +1 201 555 0101.`,
      );
      return;
    }
    const own = this.#account.user?.phone;
    const wanted = [...new Set(phones as string[])].filter((p) => p !== own);
    try {
      const matches = await this.#account.lookupContacts(wanted);
      const found = new Set(matches.map((m) => m.phone));
      for (const m of matches) {
        const contact = toContact(m);
        const i = this.#contacts.findIndex((c) => c.userId === contact.userId);
        if (i >= 0) this.#contacts[i] = contact;
        else this.#contacts.push(contact);
      }
      this.#contacts.sort((a, b) => a.name.localeCompare(b.name));
      this.#save();
      this.render();
      const missing = wanted.filter((p) => !found.has(p));
      const added = matches.map((m) => m.user.name);
      this.#status.textContent = [
        added.length > 0 ? `Added ${added.join(', ')}.` : '',
        missing.length > 0 ? `No account for ${missing.join(', ')}.` : '',
      ]
        .filter(Boolean)
        .join(' ');
      if (missing.length === 0) this.#input.value = '';
    } catch (err) {
      showError(this.#error, describeError(err, 'other'));
    }
  }

  #remove(userId: string): void {
    this.#contacts = this.#contacts.filter((c) => c.userId !== userId);
    this.#selected.delete(userId);
    this.#save();
    this.render();
  }

  render(): void {
    this.#list.replaceChildren(...this.#contacts.map((c) => this.#item(c)));
    $('noContacts').hidden = this.#contacts.length > 0;
    for (const id of [...this.#selected]) if (!this.find(id)) this.#selected.delete(id);
    this.#updateGroupButtons();
  }

  #updateGroupButtons(): void {
    const n = this.#selected.size;
    for (const id of ['groupCallAudio', 'groupCallVideo']) $<HTMLButtonElement>(id).disabled = n < 2;
    $('groupHint').textContent =
      n < 2 ? 'Tick several contacts for a group call.' : `${n} people selected for a group call.`;
  }

  #item(c: Contact): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'contact';
    li.dataset.userId = c.userId;
    li.dataset.phone = c.phone;
    const select = document.createElement('input');
    select.type = 'checkbox';
    select.className = 'contact-select';
    select.checked = this.#selected.has(c.userId);
    select.setAttribute('aria-label', `Select ${c.name} for a group call`);
    select.addEventListener('change', () => {
      if (select.checked) this.#selected.add(c.userId);
      else this.#selected.delete(c.userId);
      this.#updateGroupButtons();
    });
    const avatar = document.createElement('span');
    avatar.className = 'avatar small';
    const img = document.createElement('img');
    img.className = 'contact-photo';
    img.alt = '';
    img.hidden = true;
    const initials = document.createElement('span');
    initials.className = 'initials';
    initials.setAttribute('aria-hidden', 'true');
    avatar.append(img, initials);
    void this.#photos.show(img, initials, c.photo, 'thumb', c.name);
    const who = document.createElement('span');
    who.className = 'contact-who';
    const name = document.createElement('span');
    name.className = 'contact-name';
    name.textContent = c.name;
    const phone = document.createElement('small');
    phone.className = 'contact-phone';
    phone.textContent = c.phone;
    who.append(name, ' ', phone);
    const audio = button('call-audio', 'Audio', `Audio call ${c.name}`, () =>
      this.#onCall([c.userId], 'audio'),
    );
    const video = button('call-video', 'Video', `Video call ${c.name}`, () =>
      this.#onCall([c.userId], 'video'),
    );
    const remove = button('remove-contact link', 'Remove', `Remove ${c.name} from contacts`, () =>
      this.#remove(c.userId),
    );
    li.append(select, avatar, who, audio, video, remove);
    return li;
  }

  get #key(): string {
    return `calling.contacts.${this.#userId}`;
  }

  #read(): Contact[] {
    try {
      const raw = localStorage.getItem(this.#key);
      const list = raw ? (JSON.parse(raw) as Contact[]) : [];
      return Array.isArray(list)
        ? list.filter((c) => typeof c?.userId === 'string' && typeof c.phone === 'string')
        : [];
    } catch {
      return [];
    }
  }

  #save(): void {
    if (this.#userId) localStorage.setItem(this.#key, JSON.stringify(this.#contacts));
  }
}

function toContact(m: ContactMatch): Contact {
  return { phone: m.phone, userId: m.user.userId, name: m.user.name, photo: m.user.photo };
}

function button(className: string, text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}
