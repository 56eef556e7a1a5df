/**
 * Who is asking, as far as abuse limits are concerned: the client's address as express resolved it
 * (honouring TRUST_PROXY). An IPv6 client counts as its /64, because one subscriber usually holds a
 * whole /64 and could otherwise take a fresh address for every request.
 */
import net from 'node:net';

export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (net.isIPv4(ip)) return ip;
  if (!net.isIPv6(ip)) return ip || 'unknown';
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without "::" shortening or leading zeros. */
function expandIPv6(ip: string): string[] {
  const [head = '', tail] = ip.split('%')[0]!.split('::') as [string, string | undefined];
  const parse = (part: string): string[] =>
    part === '' ? [] : part.split(':').map((g) => parseInt(g, 16).toString(16));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...zeros, ...right];
}
