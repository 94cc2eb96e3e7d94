// Who is on the other end of a session. Every front door turns a credential into one
// of these through the identity module; nothing downstream looks at raw credentials.
export interface Identity {
  /** how the caller proved who they are */
  kind: 'apikey' | 'user' | 'service';
  /** stable id: api key id, OIDC `sub`, or service account id */
  subject: string;
  /** what people read in replays and audit: key name, email, account name */
  name: string;
  groups: string[];
  /** id of the credential used (api key id, token jti); lets revocation reach open sessions */
  credentialId?: string;
  /** what the credential was derived from (the API key or IdP token a gateway token was exchanged for); revoking it reaches this one too */
  sourceCredentialId?: string;
  /** when the credential stops being valid (ms since epoch) */
  expiresAt?: number;
}
