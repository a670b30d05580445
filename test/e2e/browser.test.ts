import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { makeImage } from '../helpers/images.ts';
import { CHROMIUM, inferenceMissing, startAugment, startInference, type Running } from './servers.ts';

const noBrowser = existsSync(CHROMIUM) ? undefined : `Chromium is not installed at ${CHROMIUM}: browser tests skipped (.ci/run installs it; Debian: apt-get install chromium)`;
const ARTIFACTS = 'test-artifacts';

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page that fails the test on an uncaught script error. */
async function open(browser: Browser, url: string): Promise<{ page: Page; errors: Error[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  // Playwright's 30 s default per action was reached on a CI host kept busy on purpose: the
  // bound only guards against a hang, so it sits far beyond any machine's time for one click.
  page.setDefaultTimeout(120_000);
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(url);
  return { page, errors };
}

/** Swagger UI's live answer to the last Execute of an operation: its status and details cell. */
async function executeAndRead(operation: Locator): Promise<{ status: string; details: Locator }> {
  await operation.locator('button.execute').click();
  const row = operation.locator('.live-responses-table tr.response').first();
  await row.waitFor({ timeout: 120_000 }); // a guard against a hang, not a speed claim
  return { status: (await row.locator('.response-col_status').innerText()).trim(), details: row.locator('.response-col_description') };
}

describe('Swagger UI of the augment service in Chromium', { skip: noBrowser, timeout: 300_000 }, () => {
  let browser: Browser;
  let augment: Running;

  before(async () => {
    [browser, augment] = await Promise.all([launch(), startAugment()]);
  });
  after(async () => {
    await browser?.close();
    await augment?.app.close();
  });

  test('"Try it out" on flip uploads a file and shows the returned image and X-Augment-Params', async () => {
    const { page, errors } = await open(browser, `${augment.url}/docs#/augment/augmentFlip`);
    const operation = page.locator('#operations-augment-augmentFlip');
    await operation.locator('tr[data-property-name=image] input[type=file]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await makeImage(64, 48) });
    // Swagger UI pre-fills optional fields with sample values; ask for a lossless answer.
    await operation.locator('tr[data-property-name=format] select').selectOption('png');
    await operation.locator('tr[data-property-name=direction] select').selectOption('vertical');
    const { status, details } = await executeAndRead(operation);
    assert.equal(status, '200');
    const image = details.locator('img');
    await image.waitFor();
    const size = await image.evaluate(async (img: HTMLImageElement) => {
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    });
    assert.deepEqual(size, [64, 48]);
    const headers = await details.locator('.microlight').innerText();
    assert.match(headers, /x-augment-params: \{"op":"flip","seed":\d+,"params":\{"direction":"vertical"\}\}/);
    assert.deepEqual(errors, []);
  });
});

describe('Swagger UI and demo page of the inference service in Chromium', { skip: noBrowser ?? inferenceMissing(), timeout: 300_000 }, () => {
  let browser: Browser;
  let augment: Running;
  let inference: Running;

  before(async () => {
    [browser, augment, inference] = await Promise.all([launch(), startAugment({}, { cors: true }), startInference({}, { demoPage: true })]);
  });
  after(async () => {
    await browser?.close();
    await augment?.app.close();
    await inference?.app.close();
  });

  test('"Try it out" on a model\'s classify uploads a file and shows predictions', async () => {
    const { page, errors } = await open(browser, `${inference.url}/docs`);
    const operation = page.locator('.opblock-post').filter({ has: page.locator('[data-path="/v1/models/{name}/classify"]') });
    await operation.locator('.opblock-summary').click();
    const tryItOut = operation.locator('button.try-out__btn:not(.cancel):not(.reset)');
    if (await tryItOut.isVisible()) await tryItOut.click();
    const models = await (await fetch(`${inference.url}/v1/models`)).json() as { models: Array<{ name: string }> };
    const name = models.models[0]?.name;
    assert.ok(name, 'the inference service lists no model');
    await operation.locator('tr[data-param-name="name"] input').fill(name);
    const contentType = operation.locator('.opblock-section-request-body select.content-type');
    if (await contentType.count()) await contentType.selectOption('multipart/form-data');
    const file = operation.locator('tr[data-property-name=image] input[type=file]');
    await file.setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await makeImage(40, 40) });
    const { status, details } = await executeAndRead(operation);
    assert.equal(status, '200');
    const body = await details.locator('pre').first().innerText();
    const answer = JSON.parse(body) as { model: string; results: Array<{ predictions: Array<{ probability: number }> }> };
    assert.equal(answer.model, name);
    assert.ok(answer.results[0]!.predictions.length > 0);
    assert.deepEqual(errors, []);
  });

  test('the demo page shows twelve augmentations and the ensemble\'s bars for a picked, then a dropped, image', async () => {
    const { page, errors } = await open(browser, `${inference.url}/?augment=${encodeURIComponent(augment.url)}`);
    const settled = async () => {
      await page.waitForFunction(() => document.querySelectorAll('#augmentations figure[data-state=done]').length === 12 && document.querySelector('#ensemble')?.getAttribute('data-state') === 'done', null, { timeout: 120_000 }).catch(async (error) => {
        throw new Error(`${(error as Error).message}\nstatus: ${await page.locator('#status').innerText()}\naugmentations: ${await page.locator('#augmentations').innerText()}\nensemble: ${await page.locator('#ensemble').innerText()}`);
      });
    };

    await page.locator('#file').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await makeImage(320, 200) });
    await settled();
    const ops = await page.locator('#augmentations figure').evaluateAll((figures) => figures.map((f) => [(f as HTMLElement).dataset.op, (f.querySelector('img') as HTMLImageElement).naturalWidth > 0]));
    assert.deepEqual(ops, ['flip', 'rotate', 'crop', 'scale', 'cutout', 'cutmix', 'mixup', 'mosaic', 'affine', 'color_jitter', 'gaussian_blur', 'randaugment'].map((op) => [op, true]));
    const cards = page.locator('#ensemble .card');
    assert.ok((await cards.count()) >= 2, 'expected the ensemble and at least one member');
    assert.ok((await page.locator('#ensemble .card.ensemble .bar').count()) > 0);
    assert.ok((await page.locator('#ensemble .card.member .bar').count()) > 0);
    const widths = await page.locator('#ensemble .card.ensemble .bar .fill').evaluateAll((fills) => fills.map((f) => parseFloat((f as HTMLElement).style.width)));
    assert.ok(widths.every((w) => w >= 0 && w <= 100) && widths.some((w) => w > 0), `bar widths ${widths}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/demo.png`, fullPage: true });

    // Drop a second image onto the drop zone, as a file dragged from the desktop would be.
    const bytes = [...(await makeImage(120, 160, 'jpeg'))];
    const before = await page.locator('#augmentations figure[data-op=flip] code').innerText();
    await page.evaluate((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], 'dropped.jpg', { type: 'image/jpeg' }));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction((old) => document.querySelector('#augmentations figure[data-op=flip] code')?.textContent !== old, before);
    await settled();
    assert.match(await page.locator('#augmentations figure[data-op=flip] code').innerText(), /^120×160/);
    assert.deepEqual(errors, []);
  });

  test('the demo page\'s sample sends its two objects: each tile draws the moved boxes and instance mask', async () => {
    const { page, errors } = await open(browser, `${inference.url}/?augment=${encodeURIComponent(augment.url)}`);
    await page.locator('#seed').fill('3');
    await page.locator('#sample').click();
    await page.waitForFunction(() => document.querySelectorAll('#augmentations figure[data-state=done]').length === 12, null, { timeout: 120_000 }).catch(async (error) => {
      throw new Error(`${(error as Error).message}\naugmentations: ${await page.locator('#augmentations').innerText()}`);
    });
    const tiles = await page.locator('#augmentations figure').evaluateAll((figures) =>
      figures.map((f) => {
        const canvas = f.querySelector('.picture canvas') as HTMLCanvasElement | null;
        const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
        const colours = new Set<string>();
        for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0) colours.add(data[i + 2]! > data[i]! ? 'blue' : 'red');
        return { op: (f as HTMLElement).dataset.op, boxes: Number((f as HTMLElement).dataset.boxes), colours: [...colours].sort() };
      }),
    );
    // Flip keeps both objects whole; every tile shows some of the mask.
    assert.deepEqual(tiles.find((t) => t.op === 'flip'), { op: 'flip', boxes: 2, colours: ['blue', 'red'] });
    for (const tile of tiles) assert.ok(tile.colours.length > 0 && tile.boxes > 0, JSON.stringify(tile));
    await page.screenshot({ path: `${ARTIFACTS}/demo-targets.png`, fullPage: true });
    assert.deepEqual(errors, []);
  });

  test('the services serve the demo without stand-ins from the test', (t) => {
    const missing = [...augment.shims, ...inference.shims];
    if (missing.length) t.todo(`wiring not there yet, the test stood in for: ${missing.join('; ')}`);
  });
});
