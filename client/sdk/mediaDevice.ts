/**
 * The loaded mediasoup-client Device, once per page (per device options), ahead of any join.
 *
 * Every router of the service is made from the same codec list, so its RTP capabilities are the same
 * for every room: the server answers them to `mediaCapabilities` without a room. A Device loaded from
 * them at sign-in lets a join carry `mediaSetup` (capabilities in, transports out: no
 * setRtpCapabilities or createTransport round trips) and keeps the Device's load off the path
 * between answering a call and its first frame. A Device holds capabilities only, so one serves any
 * number of sessions.
 */
import { Device, type types } from 'mediasoup-client';
import type { Method, RequestData, ResponseData } from '../../protocol/signaling.js';

interface Requester {
  request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]>;
}

/** Devices by the options they were made with (`undefined`: the browser's own handler). */
const loaded = new Map<types.DeviceOptions | undefined, Promise<Device>>();

/** A Device loaded with the router's capabilities (the same Device for the same options). */
export function loadDevice(
  routerRtpCapabilities: types.RtpCapabilities,
  deviceOptions: types.DeviceOptions | undefined,
): Promise<Device> {
  let device = loaded.get(deviceOptions);
  if (!device) {
    device = (async () => {
      const d = await Device.factory(deviceOptions);
      await d.load({ routerRtpCapabilities });
      return d;
    })();
    // A failed load is not kept: the next attempt tries again.
    device.catch(() => loaded.delete(deviceOptions));
    loaded.set(deviceOptions, device);
  }
  return device;
}

/**
 * Asks the server for the routers' capabilities and loads the Device. Resolves undefined on a server
 * that does not know `mediaCapabilities` (older): the caller then joins the old way.
 */
export async function preloadDevice(
  signaling: Requester,
  deviceOptions: types.DeviceOptions | undefined,
): Promise<Device | undefined> {
  const known = loaded.get(deviceOptions);
  if (known) return known.catch(() => undefined);
  let caps: types.RtpCapabilities;
  try {
    caps = (await signaling.request('mediaCapabilities', {})).routerRtpCapabilities;
  } catch {
    return undefined;
  }
  return loadDevice(caps, deviceOptions);
}
