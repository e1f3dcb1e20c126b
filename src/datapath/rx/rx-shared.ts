// Layout of the memory the main-thread receive loop shares with its poll waiter.
export const RX_ARMED = 0;
export const RX_FIRED = 1;
export const RX_STOP = 2;
export const RX_FDS_OFS = 16;
export const RX_MAX_FDS = 1024;
export const RX_SAB_BYTES = (RX_FDS_OFS + RX_MAX_FDS) * 4;
