/**
 * The impairment suite's client namespace: the helper itself lives in bot/netns/netnsClient.ts, where the
 * bot's `--netns-profile` uses it too; tests import it from here.
 */
export {
  NetnsClient,
  NETNS_PREFIX,
  sweepStaleNetns,
  type Impairment,
  type VethLink,
} from '../../bot/netns/netnsClient.js';
