// A typed admission refusal as an HTTP status and message.
import type { AdmissionRefusal } from '../../session/admission.ts';

export function httpRefusal(r: AdmissionRefusal): { status: number; message: string } {
  switch (r.kind) {
    case 'rate_limited':
      return { status: 429, message: r.message };
    case 'bad_credential':
      return { status: 401, message: `invalid or expired token (${r.message})` };
    case 'unknown_connection':
      return { status: 404, message: `${r.message} (reach it as /proxy/<connection name>/...)` };
    case 'access_denied':
      return { status: 403, message: r.message };
  }
}
