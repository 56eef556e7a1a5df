// The embedding messenger's backend, as small as it gets (node:http, no framework). It serves the
// page and hands the page calling tokens for "its" users through the calling service's server API
// (docs/server-api.md). Run: CALLING_URL=http://127.0.0.1:3000 CALLING_API_KEY=id:secret node server.mjs
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';

const { CALLING_URL = 'http://127.0.0.1:3000', CALLING_API_KEY, PORT = '8080' } = process.env;
const here = new URL('.', import.meta.url);

// ---- the ten lines that matter: our user → a calling access token (the account is made on first use)
async function callingToken(user) {
  const res = await fetch(`${CALLING_URL}/api/v1/server/users/${encodeURIComponent(user)}/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CALLING_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: user[0].toUpperCase() + user.slice(1) }),
  });
  if (!res.ok) throw new Error(`calling service answered ${res.status}`);
  const { accessToken, user: account } = await res.json();
  return { accessToken, userId: account.userId, signalingUrl: `${CALLING_URL.replace(/^http/, 'ws')}/ws` };
}
// ----

const files = { '/': ['index.html', 'text/html'], '/app.js': ['app.js', 'text/javascript'] };

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    const user = url.searchParams.get('user') ?? '';
    const valid = /^[a-z]{1,32}$/.test(user);
    // A real messenger knows who is signed in from its own session cookie; here the page says so.
    if (url.pathname === '/calling-token' && valid) {
      return send(res, 200, 'application/json', JSON.stringify(await callingToken(user)));
    }
    // Whom to call: only the calling user id, never someone else's token. (A real messenger stores
    // the userId from its users' first token instead of asking again.)
    if (url.pathname === '/calling-user-id' && valid) {
      const { userId } = await callingToken(user);
      return send(res, 200, 'application/json', JSON.stringify({ userId }));
    }
    const file = files[url.pathname];
    if (!file) return send(res, 404, 'text/plain', 'not found');
    send(res, 200, file[1], await readFile(new URL(file[0], here)));
  } catch (err) {
    send(res, 502, 'text/plain', String(err instanceof Error ? err.message : err));
  }
});
server.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
server.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`embed example on http://127.0.0.1:${server.address().port}`);
});

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type }).end(body);
}
