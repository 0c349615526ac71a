// Socket.IO 4 peer for parley-bench (issue 4): websocket transport only, rooms in memory.
//   node socketio-server.js [PORT]      (or PORT=...; 0 picks a free port)
// Events: `join` (room[, ack]) puts the socket in the room; `send` ({room, payload, id}, ack)
// broadcasts {room, payload} as `msg` to the room (sender included) and acks {id}.
// Prints "socketio-server: listening on http://127.0.0.1:PORT pid PID" when ready.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] ?? process.env.PORT ?? 3001);
const httpServer = http.createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 1 << 20,
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    if (typeof room !== 'string' || room.length === 0) {
      if (typeof ack === 'function') ack({ error: 'room must be a non-empty string' });
      return;
    }
    socket.join(room);
    if (typeof ack === 'function') ack({ room });
  });
  socket.on('send', (msg, ack) => {
    if (!msg || typeof msg.room !== 'string' || typeof msg.payload !== 'string') {
      if (typeof ack === 'function') ack({ error: 'send needs {room, payload}' });
      return;
    }
    io.to(msg.room).emit('msg', { room: msg.room, payload: msg.payload });
    if (typeof ack === 'function') ack({ id: msg.id ?? null });
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  const actual = httpServer.address().port;
  console.log(`socketio-server: listening on http://127.0.0.1:${actual} pid ${process.pid}`);
});
const stop = () => { io.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
