declare module 'ssh2/lib/protocol/constants.js' {
  export const DEFAULT_SERVER_HOST_KEY: string[];
  export const SUPPORTED_SERVER_HOST_KEY: string[];
}
