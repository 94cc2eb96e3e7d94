// What a caller's rules let it do, in the coarse terms of MCP tool annotations: probe
// the policy with representative statements for every connection the caller may use.
// Hints only: nothing relies on them, the pipeline decides each command.
import type { Identity } from '../identity/types.ts';
import { classifyPostgres } from '../sql/postgres.ts';
import type { Policy, PolicyConnection } from './policy.ts';

const WRITES = ['INSERT INTO warden_probe VALUES (1)', 'UPDATE warden_probe SET a = 1 WHERE a = 1'];
const DESTRUCTIVE = ['DELETE FROM warden_probe', 'DROP TABLE warden_probe', 'TRUNCATE warden_probe'];

export interface WriteHints {
  /** every write the probes try is blocked on every connection */
  readOnly: boolean;
  /** some destructive statement would run without a human's approval somewhere */
  destructive: boolean;
}

export function writeHints(policy: Policy, identity: Identity, connections: PolicyConnection[]): WriteHints {
  let readOnly = true;
  let destructive = false;
  for (const connection of connections) {
    const decide = (text: string) => policy.decide({ identity, connection, command: { text }, classification: classifyPostgres(text) }).action;
    for (const text of [...WRITES, ...DESTRUCTIVE]) {
      const action = decide(text);
      if (action !== 'block') readOnly = false;
      if (action === 'allow' && DESTRUCTIVE.includes(text)) destructive = true;
    }
  }
  return { readOnly, destructive };
}
