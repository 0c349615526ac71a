// Plain `ws` peer for parley-bench (issue 4): JSON text frames, rooms in memory.
//   node ws-server.js [PORT]      (or PORT=...; 0 picks a free port)
// Client -> server: {"type":"join","room":R}  -> {"type":"joined","room":R}
//                   {"type":"send","room":R,"payload":P,"id":I}
//                     -> {"type":"ack","id":I} to the sender, then
//                        {"type":"msg","room":R,"payload":P} to every member of R (sender included)
// Anything else -> {"type":"error","message":...}; the connection stays open.
// Prints "ws-server: listening on http://127.0.0.1:PORT pid PID" when ready.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] ?? process.env.PORT ?? 3002);
const rooms = new Map(); // room -> Set of sockets

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false,
                                  maxPayload: 1 << 20 });

function error(ws, message) {
  ws.send(JSON.stringify({ type: 'error', message }));
}

wss.on('connection', (ws) => {
  const joined = new Set();
  ws.on('message', (data, isBinary) => {
    let m;
    try {
      m = JSON.parse(isBinary ? '' : data.toString());
    } catch {
      return error(ws, 'frames must be JSON text');
    }
    if (m && m.type === 'join' && typeof m.room === 'string' && m.room) {
      if (!rooms.has(m.room)) rooms.set(m.room, new Set());
      rooms.get(m.room).add(ws);
      joined.add(m.room);
      ws.send(JSON.stringify({ type: 'joined', room: m.room }));
    } else if (m && m.type === 'send' && typeof m.room === 'string'
               && typeof m.payload === 'string') {
      ws.send(JSON.stringify({ type: 'ack', id: m.id ?? null }));
      // Serialize once, send the same string to every member.
      const frame = JSON.stringify({ type: 'msg', room: m.room, payload: m.payload });
      const members = rooms.get(m.room);
      if (members) for (const peer of members) peer.send(frame);
    } else {
      error(ws, 'expected {"type":"join","room":..} or {"type":"send","room":..,"payload":..}');
    }
  });
  ws.on('close', () => {
    for (const r of joined) {
      const members = rooms.get(r);
      if (!members) continue;
      members.delete(ws);
      if (members.size === 0) rooms.delete(r);
    }
  });
});

wss.on('listening', () => {
  console.log(`ws-server: listening on http://127.0.0.1:${wss.address().port} pid ${process.pid}`);
});
const stop = () => { wss.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
