// The network view in Chromium: a network created from the Network tab, two
// guests attached to it from the create dialog take DHCP leases and ping each
// other by name from their consoles, and move 8 MiB over TCP through their
// NICs' offloads; the capture started there lists the pings, and the pcapng
// it downloads parses frame for frame; a mirror port is added from the
// view's form.
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readPcapng } from '../../src/core/net/pcapng.ts';
import { checkUntilPassed, fillCreate, typeInto, waitForStates, waitForTerminal } from './lab-page.ts';
import { openLabPage, type LabPage } from './page.ts';

describe('guests on a network, in the browser', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('two guests take leases, ping each other by name and move 8 MiB over TCP through their NICs\' offloads; the capture shows it and downloads as pcapng', async () => {
    const { page } = lab;
    await page.getByTestId('tab-network').click();
    const view = page.getByTestId('network-view');
    await view.getByTestId('net-name').fill('lan');
    await view.getByTestId('net-create').click();
    const net = view.locator('[data-testid="network"][data-network="lan"]');
    await expect.poll(() => net.count()).toBe(1);
    expect(await net.locator('h3').textContent()).toMatch(/VLAN 10 · 10\.0\.10\.0\/24 · host 10\.0\.10\.1/);
    await net.getByTestId('net-capture-start').click();
    await net.getByTestId('net-capture-stop').waitFor();

    await page.getByTestId('tab-dashboard').click();
    const dialog = await fillCreate(page, { count: 2, name: 'w', memoryMiB: 96, boot: 'clone' });
    await dialog.getByTestId('create-network').selectOption('lan');
    await dialog.getByTestId('create-submit').click();
    await waitForStates(page, ['w1', 'w2'], 'running', 120_000);
    for (const name of ['w1', 'w2']) {
      await typeInto(page, name, 'udhcpc -i eth0 -q -t 5 -T 1');
      await waitForTerminal(page, name, /lease of 10\.0\.10\.1\d\d obtained/, 30_000);
    }
    // The cards say where each guest is plugged in, and the address it took.
    await expect.poll(() => page.locator('[data-testid="vm-card"][data-vm="w2"] [data-testid="vm-net"]').textContent()).toMatch(/^lan 10\.0\.10\.1\d\d$/);
    await typeInto(page, 'w1', 'ping -c 2 w2');
    await waitForTerminal(page, 'w1', /2 packets transmitted, 2 packets received/, 30_000);

    await page.getByTestId('tab-network').click();
    const packets = net.getByTestId('net-packets');
    await expect.poll(async () => (await packets.textContent()) ?? '', { timeout: 10_000 }).toMatch(/w1 in .*ICMP echo request/);
    expect(await packets.textContent()).toMatch(/w2 in .*ICMP echo reply/);
    expect(await view.getByTestId('net-leases').textContent()).toMatch(/w1.*10\.0\.10\.1\d\d/s);
    expect(await view.getByTestId('net-ports').locator('tr[data-vm="w2"]').textContent()).toMatch(/lan \(VLAN 10\)/);

    await page.getByTestId('tab-dashboard').click();
    // TCP through the NICs' offloads in the browser's guest workers: every byte checked by the receiver.
    const w2Ip = /10\.0\.10\.1\d\d/.exec((await page.locator('[data-testid="vm-card"][data-vm="w2"] [data-testid="vm-net"]').textContent()) ?? '')![0];
    await typeInto(page, 'w2', 'hv-tcp recv 5001 &');
    await page.waitForTimeout(500);
    await typeInto(page, 'w1', `hv-tcp send ${w2Ip} 5001 8`);
    await waitForTerminal(page, 'w2', /HV-TCP received bytes=8388608 ms=\d+ mbps=[\d.]+ pattern=ok/, 60_000);
    await page.getByTestId('tab-network').click();
    // The sender's NIC cut its TCP packets into frames, the receiver's merged them back.
    const offload = (vm: string) => view.getByTestId('net-ports').locator(`tr[data-vm="${vm}"] [data-testid="net-offload"]`).textContent();
    await expect.poll(offload.bind(null, 'w1')).toMatch(/TSO [1-9]\d* → [1-9]\d* frames/);
    expect(await offload('w2')).toMatch(/LRO [1-9]\d* frames → [1-9]\d*/);
    // Each port's traffic over the last polls, as a rate and a sparkline.
    await expect.poll(() => view.getByTestId('net-ports').locator('tr[data-vm="w1"] polyline').count()).toBe(1);
    expect(await view.getByTestId('net-ports').locator('tr[data-vm="w1"] [data-testid="net-rate"]').textContent()).toMatch(/^\d+(\.\d)? (kbit|Mbit)\/s$/);

    // A mirror port made from the form: w1's frames copied to w2's port.
    const mirrorForm = view.getByTestId('mirror-form');
    await mirrorForm.getByLabel('Copy').selectOption('vm:w1');
    await mirrorForm.getByLabel('To the port of').selectOption('w2');
    await mirrorForm.getByRole('button', { name: 'Add mirror' }).click();
    // (A refusal would show in net-error: the poll reports it instead of timing out on a missing list.)
    const mirrorsOrError = async (): Promise<string> => ((await view.getByTestId('net-error').count()) ? `refused: ${await view.getByTestId('net-error').textContent()}` : ((await view.getByTestId('net-mirrors').count()) ? ((await view.getByTestId('net-mirrors').textContent()) ?? '') : ''));
    await expect.poll(mirrorsOrError).toMatch(/span: w1 \(both\) → w2/);

    await net.getByTestId('net-capture-stop').click();
    const [download] = await Promise.all([page.waitForEvent('download'), net.getByTestId('net-capture-download').click()]);
    expect(download.suggestedFilename()).toBe('lan.pcapng');
    const saved = join(mkdtempSync(join(tmpdir(), 'hv-net-')), 'lan.pcapng');
    await download.saveAs(saved);
    const file = readPcapng(new Uint8Array(await readFile(saved)));
    expect(file.interfaces.map((i) => i.name)).toEqual(expect.arrayContaining(['w1', 'w2']));
    expect(file.packets.length).toBeGreaterThan(4);
    expect(lab.pageErrors).toEqual([]);
  });

  it('runs the switch lab in the page: a lease taken in the console passes the first step', async () => {
    const { page } = lab;
    await page.goto(`${inject('siteUrl')}?lab=labs/switch-vlans.yaml`);
    const root = page.getByTestId('lab');
    await expect.poll(() => root.getAttribute('data-phase'), { timeout: 60_000 }).toBe('ready');
    expect(await page.getByTestId('lab-step').getAttribute('data-step')).toBe('lease');
    await page.locator('[data-testid="guest-console"][data-guest="web1"] .xterm').click();
    await page.keyboard.type('udhcpc -i eth0 -q -t 5 -T 1');
    await page.keyboard.press('Enter');
    await checkUntilPassed(page, 30_000);
    expect(await page.getByTestId('lab-results').textContent()).toMatch(/web1 asked the DHCP server/);
    expect(lab.pageErrors).toEqual([]);
  });
});
