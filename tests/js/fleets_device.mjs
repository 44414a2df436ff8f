// An EMQX Fleets thing on MQTT.js (docs/protocols.md section 10): MQTT 5 with the thing's credential and client
// id. It subscribes to its shadow's update/accepted and update/delta and to its command requests, reports its
// state, applies the delta it is sent (reporting the desired state), answers one command on the request's
// Response Topic and exits. Every step is one JSON line on stdout.
// Environment: MQTT_URL, THING_NAME, CLIENT_ID, USERNAME, PASSWORD.
import mqtt from 'mqtt';

const { MQTT_URL, THING_NAME, CLIENT_ID, USERNAME, PASSWORD } = process.env;
const shadow = `$emqx/things/${THING_NAME}/shadow`;
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const fail = (error) => {
  say({ event: 'error', message: String(error && error.message ? error.message : error) });
  process.exit(1);
};

const client = mqtt.connect(MQTT_URL, {
  protocolVersion: 5,
  username: USERNAME,
  password: PASSWORD,
  clientId: CLIENT_ID,
  reconnectPeriod: 0,
});
client.on('error', fail);

const report = async (reported) => {
  const ack = await client.publishAsync(`${shadow}/update`, JSON.stringify({ state: { reported } }), { qos: 1 });
  return ack ? ack.reasonCode ?? 0 : null;
};

client.on('message', async (topic, payload, packet) => {
  try {
    const document = JSON.parse(payload.toString());
    if (topic === `${shadow}/update/accepted`) {
      say({ event: 'accepted', version: document.version, state: document.state });
    } else if (topic === `${shadow}/update/delta`) {
      say({ event: 'delta', version: document.version, state: document.state });
      say({ event: 'reported', reasonCode: await report(document.state) });
    } else {
      const responseTopic = packet.properties && packet.properties.responseTopic;
      say({ event: 'command', topic, command: document, responseTopic });
      const ack = await client.publishAsync(
        responseTopic,
        JSON.stringify({ status: 'SUCCEEDED', result: { by: 'MQTT.js' } }),
        { qos: 1 },
      );
      say({ event: 'answered', reasonCode: ack ? ack.reasonCode ?? 0 : null });
      await client.endAsync();
      process.exit(0);
    }
  } catch (error) {
    fail(error);
  }
});

client.on('connect', async (connack) => {
  try {
    say({ event: 'connected', reasonCode: connack.reasonCode ?? 0 });
    const granted = await client.subscribeAsync(
      [`${shadow}/update/accepted`, `${shadow}/update/delta`, `$emqx/commands/things/${THING_NAME}/executions/+/request`],
      { qos: 1 },
    );
    say({ event: 'subscribed', granted: granted.map((g) => g.qos) });
    say({ event: 'reported', reasonCode: await report({ temperature: 21.5, mode: 'eco' }) });
  } catch (error) {
    fail(error);
  }
});
