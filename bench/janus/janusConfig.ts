/**
 * A throw-away Janus configuration: only the VideoRoom plugin and the WebSocket transport
 * (folders of symlinks to Debian's modules), ICE on the benchmark's veth interface only, the
 * admin API on WebSocket for reading each PeerConnection's SRTP profile, and the event loop
 * setting under comparison.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const JANUS_LIB_DIR = '/usr/lib/x86_64-linux-gnu/janus';
export const JANUS_WS_PORT = 8188;
export const JANUS_ADMIN_WS_PORT = 7188;
export const JANUS_ADMIN_SECRET = 'calling-bench-admin';

export interface JanusConfigOptions {
  /** Address Janus listens and gathers ICE candidates on. */
  address: string;
  /** Interface that address is on (Janus's ICE enforce list). */
  iface: string;
  /** 0: Janus's default of one thread per handle; n: n shared event loops. */
  eventLoops: number;
}

/** Writes the configuration into a new temp folder and returns it (for `janus -F`). */
export function writeJanusConfig(opts: JanusConfigOptions): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'calling-bench-janus-'));
  const link = (kind: string, files: string[]): string => {
    const sub = path.join(dir, kind);
    mkdirSync(sub);
    for (const f of files) symlinkSync(path.join(JANUS_LIB_DIR, kind, f), path.join(sub, f));
    return sub;
  };
  const plugins = link('plugins', ['libjanus_videoroom.so']);
  const transports = link('transports', ['libjanus_websockets.so']);
  const events = link('events', []);
  const loggers = link('loggers', []);
  writeFileSync(
    path.join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${plugins}"
  transports_folder = "${transports}"
  events_folder = "${events}"
  loggers_folder = "${loggers}"
  debug_level = 3
  admin_secret = "${JANUS_ADMIN_SECRET}"
  session_timeout = 60
  ${opts.eventLoops > 0 ? `event_loops = ${opts.eventLoops}` : '# event_loops unset: one thread per handle'}
}
certificates: {
}
media: {
  ipv6 = false
  rtp_port_range = "20000-40000"
}
nat: {
  nice_debug = false
  ignore_mdns = true
  ice_enforce_list = "${opts.iface}"
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
  broadcast = false
}
`,
  );
  writeFileSync(path.join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\n');
  writeFileSync(
    path.join(dir, 'janus.transport.websockets.jcfg'),
    `general: {
  json = "compact"
  ws = true
  ws_port = ${JANUS_WS_PORT}
  ws_ip = "${opts.address}"
  wss = false
}
admin: {
  admin_ws = true
  admin_ws_port = ${JANUS_ADMIN_WS_PORT}
  admin_ws_ip = "${opts.address}"
  admin_wss = false
}
`,
  );
  return dir;
}
