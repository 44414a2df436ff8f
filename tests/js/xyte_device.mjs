// A Xyte device on MQTT.js (docs/protocols.md section 9): protocolVersion 5, username = clientId = the device id,
// password = the access key. It subscribes to its command topic, sends one telemetry message, waits for one
// command, reports it done on the command's response topic and exits. Every step is one JSON line on stdout.
// Environment: MQTT_URL, DEVICE_ID, ACCESS_KEY.
import mqtt from 'mqtt';

const { MQTT_URL, DEVICE_ID, ACCESS_KEY } = process.env;
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const fail = (error) => {
  say({ event: 'error', message: String(error && error.message ? error.message : error) });
  process.exit(1);
};

const client = mqtt.connect(MQTT_URL, {
  protocolVersion: 5,
  username: DEVICE_ID,
  password: ACCESS_KEY,
  clientId: DEVICE_ID,
  reconnectPeriod: 0,
});
client.on('error', fail);

client.on('message', async (topic, payload, packet) => {
  try {
    const command = JSON.parse(payload.toString());
    const responseTopic = packet.properties && packet.properties.responseTopic;
    say({ event: 'command', topic, command, responseTopic });
    const ack = await client.publishAsync(
      responseTopic,
      JSON.stringify({ id: command.id, status: 'done', message: 'done by MQTT.js' }),
      { qos: 1, properties: { userProperties: { device_id: DEVICE_ID, access_key: ACCESS_KEY } } },
    );
    say({ event: 'updated', reasonCode: ack ? ack.reasonCode ?? 0 : null });
    await client.endAsync();
    process.exit(0);
  } catch (error) {
    fail(error);
  }
});

client.on('connect', async (connack) => {
  try {
    say({ event: 'connected', reasonCode: connack.reasonCode ?? 0 });
    const granted = await client.subscribeAsync(`v1/device/${DEVICE_ID}/command`, { qos: 1 });
    say({ event: 'subscribed', granted: granted.map((g) => g.qos) });
    const ack = await client.publishAsync(
      `v1/device/${DEVICE_ID}/telemetry`,
      JSON.stringify({ status: 'online', telemetries: { fan_speed: 5.5, input: 'hdmi' } }),
      { qos: 1, properties: { userProperties: { device_id: DEVICE_ID, access_key: ACCESS_KEY } } },
    );
    say({ event: 'telemetry', reasonCode: ack ? ack.reasonCode ?? 0 : null });
  } catch (error) {
    fail(error);
  }
});
