// zod's mini build for every schema of the agent tools and the server settings (only what is used gets
// bundled: 27 KiB of the extension, 97 with the classic build), with the English messages the classic
// build sets up on import: without them every problem of an agent's call or a config file is "Invalid input".
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
