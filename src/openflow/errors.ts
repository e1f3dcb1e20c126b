// OpenFlow errors as the switch sends them (OFPT_ERROR type and code, the
// numbers of OpenFlow 1.3 section A.4.4, which OVS uses for 1.2 and later),
// and the one exception the codec throws: OfError. A decoder that meets
// bytes it cannot accept throws OfError with the error OVS would send, so
// the connection answers with exactly that error and applies nothing.

export const OFPET_HELLO_FAILED = 0;
export const OFPET_BAD_REQUEST = 1;
export const OFPET_BAD_ACTION = 2;
export const OFPET_BAD_INSTRUCTION = 3;
export const OFPET_BAD_MATCH = 4;
export const OFPET_FLOW_MOD_FAILED = 5;
export const OFPET_GROUP_MOD_FAILED = 6;
export const OFPET_PORT_MOD_FAILED = 7;
export const OFPET_QUEUE_OP_FAILED = 9;
export const OFPET_SWITCH_CONFIG_FAILED = 10;
export const OFPET_ROLE_REQUEST_FAILED = 11;
export const OFPET_METER_MOD_FAILED = 12;
export const OFPET_BAD_PROPERTY = 14;

export const OFPHFC_INCOMPATIBLE = 0;

export const OFPBRC_BAD_VERSION = 0;
export const OFPBRC_BAD_TYPE = 1;
export const OFPBRC_BAD_MULTIPART = 2;
export const OFPBRC_BAD_EXPERIMENTER = 3;
export const OFPBRC_BAD_EXP_TYPE = 4;
export const OFPBRC_EPERM = 5;
export const OFPBRC_BAD_LEN = 6;
export const OFPBRC_BUFFER_UNKNOWN = 8;
export const OFPBRC_BAD_TABLE_ID = 9;
export const OFPBRC_IS_SLAVE = 10;
export const OFPBRC_BAD_PORT = 11;
export const OFPBRC_BAD_PACKET = 12;

export const OFPBAC_BAD_TYPE = 0;
export const OFPBAC_BAD_LEN = 1;
export const OFPBAC_BAD_EXPERIMENTER = 2;
export const OFPBAC_BAD_EXP_TYPE = 3;
export const OFPBAC_BAD_OUT_PORT = 4;
export const OFPBAC_BAD_ARGUMENT = 5;
export const OFPBAC_BAD_OUT_GROUP = 9;
export const OFPBAC_BAD_SET_TYPE = 13;
export const OFPBAC_BAD_SET_LEN = 14;
export const OFPBAC_BAD_SET_ARGUMENT = 15;

export const OFPBIC_UNKNOWN_INST = 0;
export const OFPBIC_UNSUP_INST = 1;
export const OFPBIC_BAD_TABLE_ID = 2;
export const OFPBIC_BAD_EXPERIMENTER = 5;
export const OFPBIC_BAD_LEN = 7;

export const OFPBMC_BAD_TYPE = 0;
export const OFPBMC_BAD_LEN = 1;
export const OFPBMC_BAD_WILDCARDS = 5;
export const OFPBMC_BAD_FIELD = 6;
export const OFPBMC_BAD_VALUE = 7;
export const OFPBMC_BAD_MASK = 8;
export const OFPBMC_BAD_PREREQ = 9;
export const OFPBMC_DUP_FIELD = 10;

export const OFPFMFC_UNKNOWN = 0;
export const OFPFMFC_TABLE_FULL = 1;
export const OFPFMFC_BAD_TABLE_ID = 2;
export const OFPFMFC_OVERLAP = 3;
export const OFPFMFC_EPERM = 4;
export const OFPFMFC_BAD_TIMEOUT = 5;
export const OFPFMFC_BAD_COMMAND = 6;
export const OFPFMFC_BAD_FLAGS = 7;

const TYPE_NAMES = ['OFPET_HELLO_FAILED', 'OFPET_BAD_REQUEST', 'OFPET_BAD_ACTION', 'OFPET_BAD_INSTRUCTION', 'OFPET_BAD_MATCH', 'OFPET_FLOW_MOD_FAILED'];
const CODE_NAMES: Record<number, Record<number, string>> = {
  [OFPET_HELLO_FAILED]: { [OFPHFC_INCOMPATIBLE]: 'OFPHFC_INCOMPATIBLE' },
  [OFPET_BAD_REQUEST]: {
    [OFPBRC_BAD_VERSION]: 'OFPBRC_BAD_VERSION', [OFPBRC_BAD_TYPE]: 'OFPBRC_BAD_TYPE', [OFPBRC_BAD_MULTIPART]: 'OFPBRC_BAD_MULTIPART',
    [OFPBRC_BAD_EXPERIMENTER]: 'OFPBRC_BAD_EXPERIMENTER', [OFPBRC_BAD_EXP_TYPE]: 'OFPBRC_BAD_EXP_TYPE', [OFPBRC_EPERM]: 'OFPBRC_EPERM',
    [OFPBRC_BAD_LEN]: 'OFPBRC_BAD_LEN', [OFPBRC_BUFFER_UNKNOWN]: 'OFPBRC_BUFFER_UNKNOWN', [OFPBRC_BAD_TABLE_ID]: 'OFPBRC_BAD_TABLE_ID', [OFPBRC_IS_SLAVE]: 'OFPBRC_IS_SLAVE',
    [OFPBRC_BAD_PORT]: 'OFPBRC_BAD_PORT', [OFPBRC_BAD_PACKET]: 'OFPBRC_BAD_PACKET',
  },
  [OFPET_BAD_ACTION]: {
    [OFPBAC_BAD_TYPE]: 'OFPBAC_BAD_TYPE', [OFPBAC_BAD_LEN]: 'OFPBAC_BAD_LEN', [OFPBAC_BAD_EXPERIMENTER]: 'OFPBAC_BAD_EXPERIMENTER',
    [OFPBAC_BAD_EXP_TYPE]: 'OFPBAC_BAD_EXP_TYPE', [OFPBAC_BAD_OUT_PORT]: 'OFPBAC_BAD_OUT_PORT', [OFPBAC_BAD_ARGUMENT]: 'OFPBAC_BAD_ARGUMENT',
    [OFPBAC_BAD_OUT_GROUP]: 'OFPBAC_BAD_OUT_GROUP', [OFPBAC_BAD_SET_TYPE]: 'OFPBAC_BAD_SET_TYPE', [OFPBAC_BAD_SET_LEN]: 'OFPBAC_BAD_SET_LEN',
    [OFPBAC_BAD_SET_ARGUMENT]: 'OFPBAC_BAD_SET_ARGUMENT',
  },
  [OFPET_BAD_INSTRUCTION]: {
    [OFPBIC_UNKNOWN_INST]: 'OFPBIC_UNKNOWN_INST', [OFPBIC_UNSUP_INST]: 'OFPBIC_UNSUP_INST', [OFPBIC_BAD_TABLE_ID]: 'OFPBIC_BAD_TABLE_ID',
    [OFPBIC_BAD_LEN]: 'OFPBIC_BAD_LEN', [OFPBIC_BAD_EXPERIMENTER]: 'OFPBIC_BAD_EXPERIMENTER',
  },
  [OFPET_BAD_MATCH]: {
    [OFPBMC_BAD_TYPE]: 'OFPBMC_BAD_TYPE', [OFPBMC_BAD_LEN]: 'OFPBMC_BAD_LEN', [OFPBMC_BAD_WILDCARDS]: 'OFPBMC_BAD_WILDCARDS',
    [OFPBMC_BAD_FIELD]: 'OFPBMC_BAD_FIELD', [OFPBMC_BAD_VALUE]: 'OFPBMC_BAD_VALUE', [OFPBMC_BAD_MASK]: 'OFPBMC_BAD_MASK',
    [OFPBMC_BAD_PREREQ]: 'OFPBMC_BAD_PREREQ', [OFPBMC_DUP_FIELD]: 'OFPBMC_DUP_FIELD',
  },
  [OFPET_FLOW_MOD_FAILED]: {
    [OFPFMFC_UNKNOWN]: 'OFPFMFC_UNKNOWN', [OFPFMFC_TABLE_FULL]: 'OFPFMFC_TABLE_FULL', [OFPFMFC_BAD_TABLE_ID]: 'OFPFMFC_BAD_TABLE_ID',
    [OFPFMFC_OVERLAP]: 'OFPFMFC_OVERLAP', [OFPFMFC_EPERM]: 'OFPFMFC_EPERM', [OFPFMFC_BAD_TIMEOUT]: 'OFPFMFC_BAD_TIMEOUT',
    [OFPFMFC_BAD_COMMAND]: 'OFPFMFC_BAD_COMMAND', [OFPFMFC_BAD_FLAGS]: 'OFPFMFC_BAD_FLAGS',
  },
  [OFPET_PORT_MOD_FAILED]: { 0: 'OFPPMFC_BAD_PORT', 1: 'OFPPMFC_BAD_HW_ADDR', 2: 'OFPPMFC_BAD_CONFIG', 3: 'OFPPMFC_BAD_ADVERTISE', 4: 'OFPPMFC_EPERM' },
  [OFPET_QUEUE_OP_FAILED]: { 0: 'OFPQOFC_BAD_PORT', 1: 'OFPQOFC_BAD_QUEUE', 2: 'OFPQOFC_EPERM' },
  [OFPET_METER_MOD_FAILED]: {
    0: 'OFPMMFC_UNKNOWN', 1: 'OFPMMFC_METER_EXISTS', 2: 'OFPMMFC_INVALID_METER', 3: 'OFPMMFC_UNKNOWN_METER', 4: 'OFPMMFC_BAD_COMMAND',
    5: 'OFPMMFC_BAD_FLAGS', 6: 'OFPMMFC_BAD_RATE', 7: 'OFPMMFC_BAD_BURST', 8: 'OFPMMFC_BAD_BAND', 9: 'OFPMMFC_BAD_BAND_VALUE',
    10: 'OFPMMFC_OUT_OF_METERS', 11: 'OFPMMFC_OUT_OF_BANDS',
  },
  // OpenFlow 1.3 numbers the property errors (13, 2..4); 1.4+ gave them their own type.
  13: { 2: 'OFPBPC_BAD_TYPE', 3: 'OFPBPC_BAD_LEN', 4: 'OFPBPC_BAD_VALUE' },
  [OFPET_BAD_PROPERTY]: { 0: 'OFPBPC_BAD_TYPE', 1: 'OFPBPC_BAD_LEN', 2: 'OFPBPC_BAD_VALUE' },
};

/** OVS's name of an error (OFPBAC_BAD_OUT_PORT, ...). */
export function errorName(type: number, code: number): string {
  return CODE_NAMES[type]?.[code] ?? `${TYPE_NAMES[type] ?? `type ${type}`}/${code}`;
}

/** A message or part of one the switch refuses, with the OpenFlow error to answer. */
export const OFPET_EXPERIMENTER = 0xffff;
export const NX_VENDOR = 0x00002320;
export const ONF_VENDOR = 0x4f4e4600;
/** Errors OpenFlow 1.2+ carries as experimenter errors: [vendor, code, name]. */
export const NXBRC_MUST_BE_ZERO: [number, number] = [NX_VENDOR, 4];
export const OFPBIC_DUP_INST: [number, number] = [ONF_VENDOR, 2600];
export const OFPBAC_BAD_SET_MASK: [number, number] = [ONF_VENDOR, 4250];
const EXP_NAMES: Record<string, string> = { [`${NX_VENDOR}:4`]: 'NXBRC_MUST_BE_ZERO', [`${ONF_VENDOR}:2600`]: 'OFPBIC_DUP_INST', [`${ONF_VENDOR}:4250`]: 'OFPBAC_BAD_SET_MASK' };

export class OfError extends Error {
  readonly code = 'EOPENFLOW';
  /** For experimenter errors (ofType 0xffff): the vendor id. */
  experimenter?: number;
  constructor(
    readonly ofType: number,
    readonly ofCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'OfError';
  }

  /** OVS's name for the error, e.g. OFPBAC_BAD_OUT_PORT. */
  get label(): string {
    if (this.ofType === OFPET_EXPERIMENTER) return EXP_NAMES[`${this.experimenter}:${this.ofCode}`] ?? `experimenter 0x${(this.experimenter ?? 0).toString(16)}/${this.ofCode}`;
    return errorName(this.ofType, this.ofCode);
  }
}

/** An experimenter error (NXBRC_MUST_BE_ZERO, OFPBIC_DUP_INST, ...). */
export function expError([vendor, code]: [number, number], message: string): OfError {
  const e = new OfError(OFPET_EXPERIMENTER, code, message);
  e.experimenter = vendor;
  return e;
}

export const badLen = (what: string) => new OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, `${what}: bad length`);
