'use strict';
// MQTT.js as a WebSocket MQTT client for the integration tests (09_support.py's NodeClient).
//
// One client per process. Commands arrive on stdin and events leave on stdout, one JSON
// object per line; payloads are base64 so binary data survives. Closing stdin ends the
// process; the tests kill it (SIGKILL) to drop the connection without DISCONNECT.
//
//   {"cmd":"connect","url":"ws://127.0.0.1:9001/mqtt","options":{...}}
//       -> {"ev":"connect","sessionPresent":false,"reasonCode":0,"properties":{...}}
//   {"cmd":"subscribe","id":1,"topic":"a/#","qos":1}
//       -> {"ev":"reply","id":1,"ok":true,"granted":[1]}
//   {"cmd":"publish","id":2,"topic":"a/b","payload":"aGk=","qos":1,"retain":false}
//       -> {"ev":"reply","id":2,"ok":true}   (QoS 1/2: once acknowledged)
//   {"cmd":"end","id":3}  -> DISCONNECT, {"ev":"reply","id":3,"ok":true}
// Unsolicited: {"ev":"message",...}, {"ev":"error",...}, {"ev":"disconnect",...}, {"ev":"close"}.
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const mqtt = require('mqtt');

let client = null;

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + '\n');
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
const unb64 = (s) => Buffer.from(s || '', 'base64');
const errorInfo = (err) => ({
  message: String((err && err.message) || err),
  code: err && err.code !== undefined ? err.code : null,
});

function reply(cmd, err, extra) {
  emit({ ev: 'reply', id: cmd.id, ok: !err, error: err ? errorInfo(err) : null, ...extra });
}

const handlers = {
  connect(cmd) {
    const o = cmd.options || {};
    const opts = {
      clientId: o.clientId,
      protocolVersion: o.protocolVersion || 5,
      clean: o.clean !== undefined ? o.clean : true,
      keepalive: o.keepalive !== undefined ? o.keepalive : 60,
      reconnectPeriod: 0, // a test decides when to reconnect
      connectTimeout: o.connectTimeout || 5000,
    };
    if (o.username !== undefined) opts.username = o.username;
    if (o.password !== undefined) opts.password = unb64(o.password);
    if (o.properties) opts.properties = o.properties;
    if (o.will) {
      opts.will = {
        topic: o.will.topic,
        payload: unb64(o.will.payload),
        qos: o.will.qos || 0,
        retain: !!o.will.retain,
      };
    }
    if (o.ca) opts.ca = fs.readFileSync(o.ca); // wss: trust the test CA
    client = mqtt.connect(cmd.url, opts);
    client.on('connect', (connack) =>
      emit({
        ev: 'connect',
        sessionPresent: !!connack.sessionPresent,
        reasonCode: connack.reasonCode !== undefined ? connack.reasonCode : connack.returnCode || 0,
        properties: connack.properties || {},
      }),
    );
    client.on('message', (topic, payload, packet) =>
      emit({
        ev: 'message',
        topic,
        payload: b64(payload),
        qos: packet.qos,
        retain: !!packet.retain,
        dup: !!packet.dup,
        properties: packet.properties || {},
      }),
    );
    client.on('error', (err) => emit({ ev: 'error', ...errorInfo(err) }));
    client.on('disconnect', (packet) =>
      emit({ ev: 'disconnect', reasonCode: packet.reasonCode || 0 }),
    );
    client.on('close', () => emit({ ev: 'close' }));
  },

  subscribe(cmd) {
    client.subscribe(cmd.topic, { qos: cmd.qos || 0 }, (err, granted) =>
      reply(cmd, err, { granted: (granted || []).map((g) => g.qos) }),
    );
  },

  publish(cmd) {
    const opts = { qos: cmd.qos || 0, retain: !!cmd.retain };
    client.publish(cmd.topic, unb64(cmd.payload), opts, (err) => reply(cmd, err, {}));
  },

  end(cmd) {
    client.end(false, {}, () => reply(cmd, null, {}));
  },
};

readline
  .createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (!line.trim()) return;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      emit({ ev: 'fatal', message: `bad command line: ${e.message}` });
      return;
    }
    const handler = handlers[cmd.cmd];
    if (!handler) {
      emit({ ev: 'fatal', message: `unknown command ${cmd.cmd}` });
      return;
    }
    try {
      handler(cmd);
    } catch (e) {
      reply(cmd, e, {});
    }
  })
  .on('close', () => {
    if (client) client.end(true);
    process.exit(0);
  });

// The version actually loaded: package.json may not be reachable through require()
// (the package's "exports" decide), so read the file.
const mqttPackage = path.join(path.dirname(require.resolve('mqtt')), '..', 'package.json');
let version = 'unknown';
try {
  version = JSON.parse(fs.readFileSync(mqttPackage, 'utf8')).version;
} catch (e) {
  // the version is informative only
}
emit({ ev: 'ready', mqtt: version, node: process.version });
