/**
 * Layer rules, checked by `npm run depcruise` (part of `npm run check`). They keep the design a
 * newcomer reads in docs/ true in the code: sfu/ knows media only, signaling/ maps the protocol
 * to owners and never talks to Redis itself, the browser/bot client shares only protocol/ with the
 * server, and nothing imports in a circle. lib/ (the logger) may be imported by every layer.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two modules own one concept; the parent should inject what the child needs.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'sfu-knows-media-only',
      severity: 'error',
      comment:
        'sfu/ deals in routers, transports, producers and consumers; people, calls and state live above it.',
      from: { path: '^sfu/' },
      to: { path: '^(accounts|calls|state|signaling|rooms|server)/' },
    },
    {
      name: 'signaling-has-no-redis',
      severity: 'error',
      comment: 'signaling/ maps protocol messages to owners; stores are reached through their owners.',
      from: { path: '^signaling/' },
      to: { path: 'node_modules/ioredis/' },
    },
    {
      name: 'client-shares-only-protocol',
      severity: 'error',
      comment: 'The SDK, web page and bot run elsewhere: from the server side they may use protocol/ only.',
      from: { path: '^(client|bot)/' },
      to: { path: '^(server|signaling|sfu|state|rooms|calls|accounts|auth|lib)/' },
    },
    {
      name: 'sdk-package-self-contained',
      severity: 'error',
      comment:
        'client/sdk is the @calling/sdk package: besides itself it may use protocol/ (inlined by scripts/build-sdk.mjs) and its declared dependencies only.',
      from: { path: '^client/sdk/' },
      to: { pathNot: '^(client/sdk/|protocol/|node_modules/(mediasoup-client|zod)/)' },
    },
    {
      name: 'web-uses-sdk-package',
      severity: 'error',
      comment:
        'The web page is an SDK user like any embedding app: it imports @calling/sdk by name, never the files in client/sdk/.',
      from: { path: '^client/web/' },
      to: { path: '^client/sdk/', dependencyTypesNot: ['aliased-workspace'] },
    },
    {
      name: 'lib-points-nowhere',
      severity: 'error',
      comment: 'lib/ is imported by every layer, so it must not import any of them.',
      from: { path: '^lib/' },
      to: { path: '^(server|signaling|sfu|state|rooms|calls|accounts|auth|client|bot|protocol)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      // '@calling/source': in this repository the SDK package resolves to its TypeScript (client/sdk/package.json).
      conditionNames: ['@calling/source', 'import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
