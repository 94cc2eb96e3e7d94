// Types for the `aws4` signer (it ships none): only what the tests call, to check the gateway's
// SigV4 signatures against an implementation that is not ours.
declare module 'aws4' {
  interface Aws4Request {
    method?: string;
    host?: string;
    path?: string;
    service?: string;
    region?: string;
    headers?: Record<string, string>;
    body?: string;
  }
  interface Aws4Credentials {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  }
  const aws4: { sign(request: Aws4Request, credentials: Aws4Credentials): Aws4Request & { headers: Record<string, string> } };
  export default aws4;
}
