/**
 * Port mapping protocols with real clients behind `masq gateway`
 * (docs/portmap.md): natpmpc (libnatpmp) and upnpc (miniupnpc) from Debian,
 * and masq's own PCP client. Each: the mapping is created, a host on the
 * internet reaches the inside service through it, the gateway lists it
 * (status endpoint and `masq conntrack`), and it is deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { prerequisites } from './prereq.js';
import { LAB, LabTopology, type Role } from './topology.js';
import { tunMissing } from './fixtures/gateway-probes.js';
import { PYTHON, statusJson } from './fixtures/state-lab.js';

const pre = prerequisites({ root: true, tools: ['ip', 'natpmpc', 'upnpc', '/usr/bin/python3'] });
const tun = tunMissing();
const skip = pre.skip || (tun !== undefined && process.env.CI !== 'true' ? tun : false);

const H1 = LAB.lan1.h1;
const GW = LAB.lan1.gateway;
const PUB = LAB.gw1.public;

interface PortMappingJson {
  proto: string;
  public: { address: string; port: number };
  inside: { address: string; port: number };
  owner: string;
}

/** A UDP or TCP service on h1 that answers each datagram or connection with "hello <port>". */
const SERVICE = `
import socket, sys, time
proto, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == 'udp' else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('${H1}', port)); s.settimeout(0.5)
if proto == 'tcp': s.listen(4)
end = time.time() + 60
while time.time() < end:
    try:
        if proto == 'udp':
            d, a = s.recvfrom(2048); s.sendto(b'hello %d' % port, a)
        else:
            c, a = s.accept(); c.sendall(b'hello %d' % port); c.close()
    except socket.timeout:
        pass
`;

/** From the internet: one datagram or connection to the public endpoint; the answer, or '' after the timeout. */
const CLIENT = `
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == 'udp' else socket.SOCK_STREAM)
s.settimeout(2)
try:
    if proto == 'udp':
        s.sendto(b'hi', (host, port)); print(s.recvfrom(2048)[0].decode())
    else:
        s.connect((host, port)); print(s.recv(2048).decode())
except OSError as e:
    print('')
`;

describe('port mapping with natpmpc, upnpc and masq portmap behind masq gateway', { skip }, () => {
  let lab: LabTopology;

  before(async () => {
    pre.assert();
    if (tun) assert.fail(`TUN gateway prerequisite: ${tun}`);
    lab = LabTopology.create('pmap');
    // Filtering address-and-port-dependent: nothing gets in unless a mapping lets it.
    await lab.startMasq('gw1', lab.masqConfig('gw1', `filtering: apdf\nportmap:\n  listen: [${GW}]\n`));
  });
  after(async () => {
    await lab?.destroy();
  });

  const serve = (proto: 'udp' | 'tcp', port: number) => lab.spawn('h1', [PYTHON, '-c', SERVICE, proto, String(port)], `${proto} service ${port}`);
  const reach = (proto: 'udp' | 'tcp', port: number) => lab.exec('srv', [PYTHON, '-c', CLIENT, proto, PUB, String(port)]).stdout.trim();
  const mappings = () => statusJson<{ portMappings: PortMappingJson[] }>(lab, 'gw1', '/portmappings').portMappings;
  const conntrack = () => lab.exec('gw1', lab.masqArgv('conntrack')).stdout;
  const run = (role: Role, argv: string[]) => lab.exec(role, argv, { timeoutMs: 30_000 });

  test('natpmpc: map UDP, reached from outside, listed, deleted', async () => {
    const svc = serve('udp', 9000);
    assert.equal(reach('udp', 19000), '', 'nothing gets in before the mapping');
    const out = run('h1', ['natpmpc', '-g', GW, '-a', '19000', '9000', 'udp', '600']).stdout;
    assert.match(out, /Mapped public port 19000 protocol UDP to local port 9000 (?:lifetime|liftime) 600/, out);
    assert.match(out, new RegExp(`Public IP address : ${PUB.replace(/\./g, '\\.')}`));
    assert.equal(reach('udp', 19000), 'hello 9000');
    const m = mappings().find((x) => x.public.port === 19000);
    assert.deepEqual(m && [m.proto, m.inside.address, m.inside.port, m.owner], ['udp', H1, 9000, 'natpmp']);
    assert.match(conntrack(), /udp\s+17 \d+ src=\* dst=203\.0\.113\.1 dport=19000 to=10\.0\.1\.2:9000 \[PORTMAP\] by=natpmp/);
    run('h1', ['natpmpc', '-g', GW, '-a', '19000', '9000', 'udp', '0']);
    assert.equal(mappings().filter((x) => x.public.port === 19000).length, 0, 'deleted');
    await svc.stop('SIGTERM');
  });

  test('upnpc: discovered by SSDP, map TCP, reached from outside, listed, deleted', async () => {
    const svc = serve('tcp', 8080);
    assert.equal(reach('tcp', 18080), '', 'nothing gets in before the mapping');
    // -i: miniupnpc takes a gateway whose external address is in a reserved range (the lab's RFC 5737
    // addresses) for "not connected"; the option makes it go on.
    const add = run('h1', ['upnpc', '-i', '-e', 'lab web', '-a', H1, '8080', '18080', 'TCP', '600']);
    assert.match(add.stdout, /external 203\.0\.113\.1:18080 TCP is redirected to internal 10\.0\.1\.2:8080/, add.stdout + add.stderr);
    assert.equal(reach('tcp', 18080), 'hello 8080');
    const list = run('h1', ['upnpc', '-i', '-l']).stdout;
    assert.match(list, /ExternalIPAddress = 203\.0\.113\.1/, list);
    assert.match(list, /TCP\s+18080->10\.0\.1\.2:8080\s+'lab web'/, list);
    assert.match(conntrack(), /dport=18080 to=10\.0\.1\.2:8080 \[PORTMAP\] by=upnp description="lab web"/);
    const del = run('h1', ['upnpc', '-i', '-d', '18080', 'TCP']);
    assert.match(del.stdout + del.stderr, /UPNP_DeletePortMapping\(\) returned : 0/, del.stdout + del.stderr);
    assert.equal(mappings().filter((x) => x.public.port === 18080).length, 0);
    assert.equal(reach('tcp', 18080), '', 'closed again');
    await svc.stop('SIGTERM');
  });

  test('masq portmap (PCP): map, reached from outside, deleted; a host cannot map for another', async () => {
    const svc = serve('udp', 7000);
    const out = run('h1', lab.masqArgv('portmap', 'map', '--gateway', GW, '--via', 'pcp', '--proto', 'udp', '--port', '7000', '--external', '17000', '--lifetime', '600', '--json')).stdout;
    const r = JSON.parse(out.trim().split('\n').pop()!) as { via: string; external: { address: string; port: number }; lifetime: number; epoch: number; nonce: string };
    assert.deepEqual([r.via, r.external, r.lifetime], ['pcp', { address: PUB, port: 17000 }, 600]);
    assert.equal(reach('udp', 17000), 'hello 7000');
    assert.equal(mappings().find((x) => x.public.port === 17000)?.owner, 'pcp');
    // h1 claiming to be h2 (another client address in the request): refused.
    const forged = lab.exec('h1', lab.masqArgv('portmap', 'map', '--gateway', GW, '--via', 'pcp', '--client', LAB.lan1.h2, '--port', '7001'), { allowFail: true });
    assert.notEqual(forged.status, 0);
    assert.match(forged.stderr, /addressMismatch/);
    // PCP deletes only with the mapping's nonce (RFC 6887 11.3).
    const wrong = lab.exec('h1', lab.masqArgv('portmap', 'delete', '--gateway', GW, '--via', 'pcp', '--port', '7000'), { allowFail: true });
    assert.match(wrong.stderr, /notAuthorized/);
    run('h1', lab.masqArgv('portmap', 'delete', '--gateway', GW, '--via', 'pcp', '--port', '7000', '--nonce', r.nonce));
    assert.equal(mappings().filter((x) => x.public.port === 17000).length, 0);
    assert.equal(reach('udp', 17000), '', 'closed again');
    await svc.stop('SIGTERM');
  });
});
