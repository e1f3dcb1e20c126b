// Seed 001's stateful ACL (test/conformance/ct-acl.scen) as the real-traffic
// tests and the end-to-end benchmark run it: port 1 may open connections to
// port 2, port 2 only answers; ARP is switched, and ICMP errors about known
// connections (+rel) pass both ways.

export const FLOWS_ACL = [
  'table=0,priority=1,action=drop',
  'table=0,priority=10,arp,action=normal',
  'table=0,priority=100,ip,ct_state=-trk,action=ct(table=1)',
  'table=1,in_port=1,ip,ct_state=+trk+new,action=ct(commit),2',
  'table=1,in_port=1,ip,ct_state=+trk+est,action=2',
  'table=1,in_port=2,ip,ct_state=+trk+new,action=drop',
  'table=1,in_port=2,ip,ct_state=+trk+est,action=1',
  'table=1,priority=40000,in_port=1,ip,ct_state=+trk+rel,action=2',
  'table=1,priority=40000,in_port=2,ip,ct_state=+trk+rel,action=1',
];
