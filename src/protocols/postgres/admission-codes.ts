// A typed admission refusal in the words and SQLSTATEs a Postgres client expects.
import type { AdmissionRefusal } from '../../session/admission.ts';

export function postgresRefusal(r: AdmissionRefusal): { sqlstate: string; message: string } {
  switch (r.kind) {
    case 'rate_limited':
      return { sqlstate: '28000', message: r.message };
    case 'bad_credential':
      return { sqlstate: '28P01', message: `password authentication failed (${r.message})` };
    case 'unknown_connection':
      return { sqlstate: '28000', message: `${r.message} (connect with user=<connection name>)` };
    case 'access_denied':
      return { sqlstate: '42501', message: r.message };
  }
}
