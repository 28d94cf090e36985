declare module 'ssh2/lib/protocol/constants.js' {
  export const DEFAULT_SERVER_HOST_KEY: string[];
  export const SUPPORTED_SERVER_HOST_KEY: string[];
  export const DEFAULT_KEX: string[];
  export const SUPPORTED_KEX: string[];
  export const DEFAULT_CIPHER: string[];
  export const SUPPORTED_CIPHER: string[];
  export const DEFAULT_MAC: string[];
  export const SUPPORTED_MAC: string[];
  export const COMPAT: Readonly<Record<string, number>> & { readonly IMPLY_RSA_SHA2_SIGALGS: number };
}
