// A typed admission refusal as the ERR packet a MySQL client expects (error code, SQLSTATE).
import type { AdmissionRefusal } from '../../session/admission.ts';

export function mysqlRefusal(r: AdmissionRefusal): { code: number; sqlState: string; message: string } {
  switch (r.kind) {
    case 'rate_limited':
      return { code: 1045, sqlState: '28000', message: r.message };
    case 'bad_credential':
      return { code: 1045, sqlState: '28000', message: `access denied (${r.message})` };
    case 'unknown_connection':
      return { code: 1044, sqlState: '42000', message: `${r.message} (connect with -u <connection name>)` };
    case 'access_denied':
      return { code: 1044, sqlState: '42000', message: r.message };
  }
}
