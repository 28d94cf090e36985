// Flotilla lab "blackhole" host: accepts TCP connections and never sends a byte.
// Usage: node blackhole.mjs ADDRESS PORT LABDIR   (LABDIR only tags the command line for cleanup scans)
import { createServer } from 'node:net';

const [address, portText] = process.argv.slice(2);
const port = Number(portText);
if (!address || !Number.isInteger(port)) {
  console.error('usage: node blackhole.mjs ADDRESS PORT LABDIR');
  process.exit(2);
}
const sockets = new Set();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('data', () => {}); // swallow whatever the client says
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
});
server.on('error', (error) => {
  console.error(`blackhole: ${error.message}`);
  process.exit(1);
});
server.listen({ host: address, port, exclusive: true }, () => console.log(`blackhole listening on ${address}:${port}`));
const stop = () => {
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
