'use strict';
// ws (Node) as a benchmark peer: echo sends every message back, chat relays it to every open
// client (the sender included), as the ws README shows. No compression (the ws default).
//
//   NODE_PATH=bench/.peers/node_modules node bench/peers/node_server.js echo|chat PORT

const { WebSocketServer, WebSocket } = require('ws');

const [mode = 'echo', port = '19100'] = process.argv.slice(2);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(port),
  backlog: 511,
  maxPayload: 16 * 1024 * 1024,
});

wss.on('connection', (ws) => {
  if (mode === 'chat') {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${port}/`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
