import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendWebhook } from "../../src/webhooks/send.js";
import { classifyAddress, isAllowedAddress, resolveSafeAddresses, type Resolver } from "../../src/core/net/guard.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import { resolverOf } from "../helpers/resolver.js";

/**
 * The outbound guard (src/core/net/guard.ts) as webhooks use it, on its own (no database): every address class, the URL rules, resolution through an injected
 * resolver, and the sender connecting only to the address the guard checked.
 */

describe("SSRF guard: address classes", () => {
  const cases: [string, string][] = [
    // IPv4
    ["93.184.215.14", "public"],
    ["8.8.8.8", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "metadata"],
    ["169.254.10.1", "link_local"],
    ["100.64.0.1", "shared"],
    ["100.127.255.254", "shared"],
    ["100.128.0.1", "public"],
    ["100.100.100.200", "metadata"],
    ["168.63.129.16", "metadata"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["192.0.2.10", "reserved"],
    ["198.18.0.1", "reserved"],
    // IPv6
    ["2606:4700:4700::1111", "public"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "private"],
    ["fd12:3456:789a::1", "private"],
    ["fd00:ec2::254", "metadata"],
    ["fe80::1", "link_local"],
    ["fe80::1%eth0", "link_local"],
    ["febf:ffff::1", "link_local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    // IPv4 inside IPv6: judged by the IPv4 address
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:100.64.1.1", "shared"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::8.8.8.8", "public"],
    ["2002:7f00:1::", "loopback"],
    ["2002:a9fe:a9fe::1", "metadata"],
    // not an address at all
    ["not-an-ip", "reserved"],
    ["1.2.3", "reserved"],
  ];
  for (const [address, expected] of cases) {
    it(`${address} is ${expected}`, () => {
      expect(classifyAddress(address)).toBe(expected);
    });
  }

  it("allows loopback only when told to, and never private or metadata addresses", () => {
    expect(isAllowedAddress("127.0.0.1", false)).toBe(false);
    expect(isAllowedAddress("127.0.0.1", true)).toBe(true);
    expect(isAllowedAddress("::1", true)).toBe(true);
    expect(isAllowedAddress("10.0.0.1", true)).toBe(false);
    expect(isAllowedAddress("169.254.169.254", true)).toBe(false);
    expect(isAllowedAddress("8.8.8.8", false)).toBe(true);
  });
});

describe("SSRF guard: URLs", () => {
  const resolve = resolverOf({
    "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "mixed.example.com": ["93.184.215.14", "10.0.0.7"],
    "rebind.example.com": ["169.254.169.254"],
    "v6-internal.example.com": ["fd00::1"],
  });
  const cloud = { allowLoopback: false, resolve };
  const local = { allowLoopback: true, resolve };

  it("accepts an https URL whose every address is public", async () => {
    const { addresses } = await resolveSafeAddresses("https://hooks.example.com/webhook", cloud);
    expect(addresses).toHaveLength(2);
  });

  const refused: [string, RegExp][] = [
    ["http://hooks.example.com/webhook", /must use https/],
    ["ftp://hooks.example.com/webhook", /must use https/],
    ["https://user:pass@hooks.example.com/webhook", /credentials/],
    ["https://mixed.example.com/webhook", /resolves to a private, loopback or reserved address/],
    ["https://rebind.example.com/webhook", /resolves to a private, loopback or reserved address/],
    ["https://v6-internal.example.com/webhook", /resolves to a private, loopback or reserved address/],
    ["https://nowhere.example.com/webhook", /could not be resolved/],
    ["https://127.0.0.1/webhook", /loopback/],
    ["https://[::1]/webhook", /loopback/],
    ["https://[::ffff:127.0.0.1]/webhook", /loopback/],
    ["https://169.254.169.254/latest/meta-data", /cloud metadata/],
    ["https://[fe80::1]/webhook", /link-local/],
    ["https://100.64.0.1/webhook", /carrier-grade NAT/],
    ["https://0x7f.1/webhook", /loopback/], // the URL parser normalises 0x7f.1 to 127.0.0.1
    ["https://2130706433/webhook", /loopback/],
    ["https://localhost/webhook", /localhost/],
    ["https://metadata.google.internal/computeMetadata/v1", /internal name/],
    ["not a url", /valid absolute URL/],
  ];
  for (const [url, reason] of refused) {
    it(`refuses ${url}`, async () => {
      await expect(resolveSafeAddresses(url, cloud)).rejects.toThrow(reason);
    });
  }

  it("never names the address a host resolved to (no port-scan oracle for internal names; issue 9, finding 12)", async () => {
    for (const url of ["https://mixed.example.com/webhook", "https://rebind.example.com/webhook", "https://v6-internal.example.com/webhook"]) {
      const error = await resolveSafeAddresses(url, cloud).then(() => undefined, (e: Error) => e);
      expect(error?.message).toBeDefined();
      expect(error!.message).not.toMatch(/10\.0\.0\.7|169\.254|fd00/);
    }
  });

  it("with the loopback setting on, accepts loopback http but still refuses private addresses and public http", async () => {
    await expect(resolveSafeAddresses("http://127.0.0.1:3000/webhook", local)).resolves.toBeTruthy();
    await expect(resolveSafeAddresses("http://localhost:3000/webhook", { allowLoopback: true })).resolves.toBeTruthy();
    await expect(resolveSafeAddresses("http://[::1]:3000/webhook", local)).resolves.toBeTruthy();
    await expect(resolveSafeAddresses("http://10.0.0.1/webhook", local)).rejects.toThrow(/private/);
    await expect(resolveSafeAddresses("http://hooks.example.com/webhook", local)).rejects.toThrow(/must use https/);
  });
});

describe("SSRF guard: the sender", () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  const send = (url: string, resolve?: Resolver, allowLoopback = true) =>
    sendWebhook({ url, body: "{}", headers: { "content-type": "application/json" }, timeoutMs: 2000, allowLoopback, resolve });

  it("connects to the address the guard checked, never resolving the name again", async () => {
    // This name resolves nowhere but through the injected resolver: reaching the receiver proves the pinned lookup.
    const result = await send(`http://receiver.test:${receiver.port}/webhook`, resolverOf({ "receiver.test": ["127.0.0.1"] }));
    expect(result).toMatchObject({ ok: true, status: 200, excerpt: "OK", error: null });
    expect(receiver.received.at(-1)!.headers.host).toBe(`receiver.test:${receiver.port}`);
  });

  it("speaks TLS to https URLs, verifying the peer, through the same pinned address", async () => {
    // The receiver speaks plain HTTP: a TLS client pinned to it fails the handshake instead of sending anything.
    const before = receiver.received.length;
    const result = await send(`https://receiver.test:${receiver.port}/webhook`, resolverOf({ "receiver.test": ["127.0.0.1"] }));
    expect(result).toMatchObject({ ok: false, status: null, error: "TLS handshake failed" });
    expect(receiver.received.length).toBe(before);
  });

  it("refuses before connecting when any address is not allowed", async () => {
    const before = receiver.received.length;
    const result = await send(`http://receiver.test:${receiver.port}/webhook`, resolverOf({ "receiver.test": ["127.0.0.1", "10.0.0.1"] }));
    expect(result).toMatchObject({ ok: false, status: null, error: expect.stringMatching(/^Refused: .*resolves to a private, loopback or reserved address/) });
    expect(result.error).not.toContain("10.0.0.1");
    const inCloud = await send(`http://127.0.0.1:${receiver.port}/webhook`, undefined, false);
    expect(inCloud).toMatchObject({ ok: false, status: null, error: expect.stringMatching(/^Refused/) });
    expect(receiver.received.length).toBe(before);
  });

  it("does not follow redirects, keeps only an excerpt of the answer, and reads Retry-After", async () => {
    receiver.script({ kind: "redirect", location: "http://169.254.169.254/latest/meta-data" });
    const redirected = await send(receiver.url);
    expect(redirected).toMatchObject({ ok: false, status: 302, error: "Redirect to http://169.254.169.254/latest/meta-data not followed" });
    receiver.script({ kind: "status", status: 503, body: "x".repeat(5000), headers: { "retry-after": "7" } });
    const busy = await send(receiver.url);
    expect(busy).toMatchObject({ ok: false, status: 503, retryAfterSeconds: 7 });
    expect(busy.excerpt).toHaveLength(1024);
  });

  it("gives up after the timeout", async () => {
    receiver.script({ kind: "timeout" });
    const result = await sendWebhook({ url: receiver.url, body: "{}", headers: {}, timeoutMs: 300, allowLoopback: true });
    expect(result).toMatchObject({ ok: false, status: null, error: "No response within 0.3 s" });
    expect(result.latencyMs).toBeGreaterThanOrEqual(290);
    expect(result.latencyMs).toBeLessThan(2000);
  });
});
