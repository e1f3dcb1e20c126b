// [ofmeter] Meters over the wire (OpenFlow 1.3, 1.4, 1.5): OFPT_METER_MOD
// and the METER, METER_CONFIG (1.5: METER_DESC) and METER_FEATURES
// multipart requests, decoded by src/openflow/meter-mod.ts and applied
// through the bridge's MeterCommands, the same as swctl's add-meter,
// dump-meters and meter-stats, so a meter added one way shows the other.
// A request is decoded whole before anything changes; a refusal is the
// OFPMMFC_* (or OFPBRC_BAD_LEN) error OVS sends for it.

import type { Reader } from '../openflow/buffer.ts';
import { OFPT_METER_MOD } from '../openflow/header.ts';
import {
  checkMeterFeaturesRequest, decodeMeterMod, decodeMeterRequest, encodeMeterConfig, encodeMeterFeatures, encodeMeterStats,
} from '../openflow/meter-mod.ts';
import { OFPMP_METER, OFPMP_METER_CONFIG, OFPMP_METER_FEATURES } from '../openflow/multipart.ts';
import { METER_FEATURES } from '../ofproto/meter-commands.ts';
import type { OfBridge } from './of-bridge.ts';

/** OFPT_METER_MOD; false for any other message type. */
export function dispatchMeter(br: OfBridge, msg: Buffer, type: number): boolean {
  if (type !== OFPT_METER_MOD) return false;
  br.meterMod(decodeMeterMod(msg));
  return true;
}

/** The entries of a meter multipart reply; null for any other multipart type. */
export function meterMultipart(br: OfBridge, type: number, body: Reader): Buffer[] | null {
  switch (type) {
    case OFPMP_METER:
      return br.meterStats(decodeMeterRequest(body)).map(encodeMeterStats);
    case OFPMP_METER_CONFIG:
      return br.meterConfigs(decodeMeterRequest(body)).map(encodeMeterConfig);
    case OFPMP_METER_FEATURES:
      checkMeterFeaturesRequest(body);
      return [encodeMeterFeatures(METER_FEATURES)];
    default:
      return null;
  }
}
