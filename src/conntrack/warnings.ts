// Conntrack's per-packet warnings, rate-limited (src/packet/log.ts): one
// limit per kind of message and thread, so a flood of new connections into
// a full table costs a counter increment per packet, not a log line.

import { RateLimitedLog } from '../packet/log.ts';

/** A commit refused: the global limit (maxconns) or a zone's limit. */
export const tableFullLog = new RateLimitedLog('conntrack', 'warn');
/** A NAT commit dropped: no free address/port in the range. */
export const natExhaustedLog = new RateLimitedLog('conntrack', 'warn');
