// The ministore's story, told in a browser as people would: Amy shops on
// the storefront, Ben accepts her gift, the merchant ships and refunds in
// the console, and each page shows what happened.
//
//	node story.mjs <baseURL> <artifactDir>
//
// TestBrowserStory (../browser_test.go) runs it against an in-process
// server. The browser is the machine's Chromium (MINISHOP_CHROMIUM,
// /usr/bin/chromium by default), driven by playwright-core, which never
// downloads one. On a failure each open page's full-page screenshot goes
// to <artifactDir>, and the script exits 1. MINISHOP_SCREENSHOT=<path>
// also saves the storefront at phone size for the README.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, artifacts] = process.argv.slice(2);
if (!base || !artifacts) {
  console.error('usage: node story.mjs <baseURL> <artifactDir>');
  process.exit(2);
}
const executablePath = process.env.MINISHOP_CHROMIUM || '/usr/bin/chromium';
const screenshotPath = process.env.MINISHOP_SCREENSHOT || '';
const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);

const pages = new Map(); // name → page, for the failure screenshots
const pageErrors = [];

// ---------- assertions on what the pages show ----------

// banner fails fast when the page shows an API error it should not have.
async function banner(page) {
  const box = page.locator('[data-test=error]');
  if (await box.isVisible()) return (await box.innerText()).replace(/\s+/g, ' ').trim();
  return '';
}

// see waits until locator's text matches want (a string it contains or a
// RegExp), failing with what it showed instead.
async function see(page, locator, want, what) {
  const deadline = Date.now() + 10_000;
  let last = '(nothing)';
  for (;;) {
    if (pageErrors.length) throw new Error(`script error on a page: ${pageErrors.join('; ')}`);
    const err = await banner(page);
    if (err) throw new Error(`${what}: the page shows an error: ${err}`);
    try {
      if (await locator.count() > 0) {
        last = (await locator.first().innerText({ timeout: 1000 })).replace(/\s+/g, ' ').trim();
        if (typeof want === 'string' ? last.includes(want) : want.test(last)) return last;
      }
    } catch (e) { last = `(${e.message.split('\n')[0]})`; }
    if (Date.now() > deadline) throw new Error(`${what}: want ${want}, the page shows ${JSON.stringify(last)}`);
    await page.waitForTimeout(100);
  }
}

// count waits until locator matches n elements.
async function count(page, locator, n, what) {
  const deadline = Date.now() + 10_000;
  let got = -1;
  for (;;) {
    const err = await banner(page);
    if (err) throw new Error(`${what}: the page shows an error: ${err}`);
    got = await locator.count();
    if (got === n) return;
    if (Date.now() > deadline) throw new Error(`${what}: want ${n}, the page shows ${got}`);
    await page.waitForTimeout(100);
  }
}

async function noError(page, what) {
  const err = await banner(page);
  if (err) throw new Error(`${what}: the page shows an error: ${err}`);
}

async function open(browser, name, path, options = {}) {
  const ctx = await browser.newContext(options);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  // The pages log each API error they show; a 404 of /member before
  // joining is how the API says "not a member", not a failure.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) log(`${name} console:`, m.text().split('\n')[0]);
  });
  pages.set(name, page);
  await page.goto(base + path);
  await page.locator('body[data-ready=true]').waitFor();
  return page;
}

const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: screenshotPath ? 2 : 1 };

async function fillAddress(scope, a) {
  for (const [k, v] of Object.entries(a)) await scope.locator(`[data-test=addr-${k}]`).fill(v);
}

const amyAddress = { name: '安小美', phone: '13800000001', province: '浙江省', city: '杭州市', district: '西湖区', detail: '龙井路 1 号' };
const benAddress = { name: 'Ben Li', phone: '13900000002', province: '上海市', city: '上海市', district: '徐汇区', detail: '天钥桥路 2 号' };

// ---------- the story ----------

async function story(browser) {
  // Amy opens the shop: she is logged in, the products show with their
  // SKUs, prices and stock.
  const shop = await open(browser, 'storefront-amy', '/', phone);
  await shop.locator('body[data-user=amy]').waitFor();
  await see(shop, shop.locator('[data-test=whoami]'), 'amy', 'the storefront logs Amy in');
  await see(shop, shop.locator('[data-test=shop-name]'), '西湖茶舍', 'the shop name');
  await count(shop, shop.locator('[data-test=product]'), 4, 'products listed');
  const longjing = shop.locator('[data-test=product]', { hasText: '西湖龙井' });
  const tin = longjing.locator('[data-test=sku]', { hasText: '100 g' });
  await see(shop, tin.locator('[data-test=sku-price]'), '¥139.00', 'the 100 g tin’s price');
  await see(shop, tin.locator('[data-test=sku-stock]'), '500', 'the 100 g tin’s stock');
  log('storefront: products shown');

  // She puts two tins in the cart and changes her mind about a third.
  await tin.locator('[data-test=add-to-cart]').click();
  await see(shop, shop.locator('[data-test=cart-count]'), /^1$/, 'cart badge after one add');
  await tin.locator('[data-test=add-to-cart]').click();
  await see(shop, shop.locator('[data-test=cart-count]'), /^2$/, 'cart badge after two adds');
  if (screenshotPath) {
    await shop.locator('[data-test=products]').scrollIntoViewIfNeeded();
    await shop.evaluate(() => window.scrollTo(0, 0));
    await shop.screenshot({ path: screenshotPath });
    log('screenshot of the storefront saved to', screenshotPath);
  }
  await shop.locator('[data-test=tab-cart]').click();
  const line = shop.locator('[data-test=cart-line]', { hasText: '西湖龙井' });
  await line.locator('[data-test=qty-inc]').click();
  await see(shop, shop.locator('[data-test=cart-count]'), /^3$/, 'cart badge after +');
  await line.locator('[data-test=qty-dec]').click();
  await see(shop, shop.locator('[data-test=cart-count]'), /^2$/, 'cart badge after −');
  if (await line.locator('[data-test=qty]').inputValue() !== '2') throw new Error('the cart line’s quantity is not 2');
  log('storefront: cart has 2 tins');

  // She joins the member programme and claims the shop's coupon.
  await shop.locator('[data-test=tab-me]').click();
  await see(shop, shop.locator('[data-test=member-none]'), 'Not a member', 'Amy is not a member yet');
  await shop.locator('[data-test=member-join]').click();
  await see(shop, shop.locator('[data-test=member-tier]'), '茶友', 'the member card’s tier');
  await see(shop, shop.locator('[data-test=wallet-empty]'), 'No coupons', 'an empty wallet');
  await see(shop, shop.locator('[data-test=batch-name]'), '满100减15', 'the coupon batch');
  await shop.locator('[data-test=claim-coupon]').click();
  const coupon = shop.locator('[data-test=wallet-coupon]', { hasText: '满100减15' });
  await see(shop, coupon.locator('[data-test=coupon-status]'), 'valid', 'the claimed coupon in the wallet');
  await see(shop, shop.locator('[data-test=claim-coupon]'), 'Claimed', 'the claim button after claiming');
  log('storefront: member card and coupon');

  // Checkout: an address, the quote without and with the coupon, then
  // the order and WeChat Pay.
  await shop.locator('[data-test=tab-cart]').click();
  const checkout = shop.locator('[data-test=checkout]');
  await fillAddress(checkout, amyAddress);
  await shop.locator('[data-test=coupon-select]').selectOption('none');
  await see(shop, shop.locator('[data-test=quote-total]'), '¥278.00', 'the quote without a coupon');
  await count(shop, shop.locator('[data-test=quote-adjustment]'), 0, 'no discount without a coupon');
  // The wallet's coupon is one of the checkout's choices.
  await shop.locator('[data-test=coupon-select]').selectOption(await coupon.getAttribute('data-coupon'));
  await see(shop, shop.locator('[data-test=quote-adjustment]'), '满100减15', 'the coupon in the quote');
  await see(shop, shop.locator('[data-test=quote-total]'), '¥263.00', 'the quote with the coupon');
  await see(shop, shop.locator('[data-test=checkout-total]'), '¥263.00', 'the checkout total');
  await shop.locator('[data-test=place-order]').click();
  await see(shop, shop.locator('[data-test=cashier-amount]'), '¥263.00', 'the cashier’s amount');
  // Before paying, the order waits for payment.
  const amyOrder = shop.locator('[data-test=order]', { hasText: '西湖龙井' });
  await see(shop, amyOrder.locator('[data-test=order-status]'), 'pending_payment', 'the placed order before paying');
  await shop.locator('[data-test=cashier-pay]').click();
  await see(shop, amyOrder.locator('[data-test=order-status]'), /^paid\b/, 'the order after paying');
  await see(shop, amyOrder.locator('[data-test=order-total]'), '¥263.00', 'the paid order’s total');
  await see(shop, amyOrder.locator('[data-test=order-adjustment]'), '满100减15', 'the coupon on the order');
  const orderID = await amyOrder.getAttribute('data-order-id');
  await shop.locator('[data-test=cart-count]').waitFor({ state: 'hidden' }); // the cart was checked out
  await shop.locator('[data-test=tab-me]').click();
  await see(shop, coupon.locator('[data-test=coupon-status]'), 'used', 'the coupon after the order');
  await see(shop, shop.locator('[data-test=member-experience]'), '263', 'the member’s experience after paying');
  log('storefront: order', orderID, 'paid');

  // Amy sends Ben a cake of white tea.
  await shop.locator('[data-test=tab-shop]').click();
  const cake = shop.locator('[data-test=product]', { hasText: '福鼎白茶饼' });
  await cake.locator('[data-test=send-gift]').click();
  await shop.locator('[data-test=gift-message]').fill('Happy birthday, Ben! 生日快乐');
  await shop.locator('[data-test=gift-buy]').click();
  await see(shop, shop.locator('[data-test=cashier-amount]'), '¥88.00', 'the gift’s cashier amount');
  await shop.locator('[data-test=cashier-pay]').click();
  const shareLink = shop.locator('[data-test=gift-share-link]');
  await see(shop, shareLink, /\?gift=/, 'the gift’s claim link');
  const claimURL = await shareLink.getAttribute('href');
  const sentGift = shop.locator('[data-test=gifts-sent] [data-test=gift]', { hasText: '福鼎白茶饼' });
  await see(shop, sentGift.locator('[data-test=gift-status]'), 'sent', 'the sent gift before Ben accepts');
  log('storefront: gift sent,', claimURL);

  // Amy opening her own link sees her gift, not a form to accept it.
  const amyLink = await open(browser, 'storefront-amy-link', new URL(claimURL).pathname + new URL(claimURL).search, phone);
  await amyLink.locator('[data-test=login-name]').fill('amy');
  await amyLink.locator('[data-test=login-button]').click();
  await amyLink.locator('body[data-user=amy]').waitFor();
  await see(amyLink, amyLink.locator('[data-test=gift-claim-yours]'), 'You sent this gift', 'the giver’s view of her link');
  await count(amyLink, amyLink.locator('[data-test=gift-accept]'), 0, 'no accept button for the giver');

  // Ben opens the link on his phone, logs in as himself, and accepts it
  // with his own address.
  const ben = await open(browser, 'storefront-ben', new URL(claimURL).pathname + new URL(claimURL).search, phone);
  await ben.locator('[data-test=login-name]').fill('ben');
  await ben.locator('[data-test=login-button]').click();
  await ben.locator('body[data-user=ben]').waitFor();
  await see(ben, ben.locator('[data-test=whoami]'), 'ben', 'Ben logged in');
  const claim = ben.locator('[data-test=gift-claim]');
  await see(ben, claim.locator('[data-test=gift-title]'), '福鼎白茶饼 2019', 'the gift’s title on the claim page');
  await see(ben, claim.locator('[data-test=gift-from]'), 'amy', 'who the gift is from');
  await see(ben, claim.locator('[data-test=gift-message-shown]'), 'Happy birthday, Ben!', 'the gift’s message');
  await see(ben, claim.locator('[data-test=gift-link-status]'), 'sent', 'the gift before accepting');
  await fillAddress(claim, benAddress);
  await claim.locator('[data-test=gift-accept]').click();
  await see(ben, claim.locator('[data-test=gift-claim-result]'), 'Accepted', 'the accepted notice');
  await see(ben, claim.locator('[data-test=gift-link-status]'), 'accepted', 'the gift after accepting');
  await count(ben, claim.locator('[data-test=gift-accept]'), 0, 'no accept button once accepted');
  await ben.locator('[data-test=tab-me]').click();
  await see(ben, ben.locator('[data-test=gifts-received] [data-test=gift] [data-test=gift-status]'), 'accepted', 'Ben’s received gift');
  log('ben: gift accepted');

  // Amy sees it accepted.
  await shop.locator('[data-test=tab-orders]').click();
  await shop.locator('[data-test=orders-refresh]').click();
  await shop.locator('[data-test=tab-me]').click();
  await see(shop, sentGift.locator('[data-test=gift-status]'), 'accepted', 'Amy’s sent gift after Ben accepted');

  // Group buying: Amy opens a two-person group for a celadon cup at the
  // leader's price; Ben joins through her share link; it forms.
  await shop.locator('[data-test=tab-shop]').click();
  const cup = shop.locator('[data-test=product]', { hasText: '青瓷品茗杯' }).locator('[data-test=sku]', { hasText: '梅子青' });
  await see(shop, cup.locator('[data-test=group-offer]'), '¥35.00', 'the cup’s group price');
  await cup.locator('[data-test=group-start]').click();
  const groupForm = shop.locator('[data-test=group-form]');
  await fillAddress(groupForm, amyAddress);
  await groupForm.locator('[data-test=group-buy]').click();
  await see(shop, shop.locator('[data-test=cashier-amount]'), '¥32.00', 'the leader’s price at the cashier');
  await shop.locator('[data-test=cashier-pay]').click();
  const cupOrder = shop.locator('[data-test=order]', { hasText: '青瓷品茗杯' });
  await see(shop, cupOrder.locator('[data-test=order-status]'), 'awaiting_group', 'the leader’s order waits for the group');
  await see(shop, cupOrder.locator('[data-test=group-places]'), /^1$/, 'one place left in the group');
  const groupURL = await cupOrder.locator('[data-test=group-share-link]').getAttribute('href');
  log('storefront: group opened,', groupURL);
  await ben.goto(groupURL);
  await ben.locator('body[data-user=ben]').waitFor();
  const groupPage = ben.locator('[data-test=group-page]');
  await see(ben, groupPage.locator('[data-test=group-title]'), '青瓷杯两人团', 'the group page');
  await see(ben, groupPage.locator('[data-test=group-places]'), /^1$/, 'the place Ben can take');
  await see(ben, groupPage.locator('[data-test=group-members]'), 'amy · leader', 'Amy leads the group');
  await groupPage.locator('[data-test=group-join]').click();
  await fillAddress(ben.locator('[data-test=group-form]'), benAddress);
  await ben.locator('[data-test=group-form] [data-test=group-buy]').click();
  await see(ben, ben.locator('[data-test=cashier-amount]'), '¥35.00', 'the member’s price at the cashier');
  await ben.locator('[data-test=cashier-pay]').click();
  await see(ben, groupPage.locator('[data-test=group-state]'), 'formed', 'the group after Ben paid');
  await see(ben, groupPage.locator('[data-test=group-members]'), 'ben', 'Ben in the group');
  await ben.locator('[data-test=tab-orders]').click();
  await see(ben, ben.locator('[data-test=order]', { hasText: '青瓷品茗杯' }).locator('[data-test=order-status]'), /^paid\b/, 'Ben’s group order');
  await shop.locator('[data-test=orders-refresh]').click();
  await see(shop, cupOrder.locator('[data-test=order-status]'), /^paid\b/, 'Amy’s group order once the group formed');
  log('group: formed');

  // The merchant's console: both orders, Amy's shipped and a line refunded.
  const con = await open(browser, 'console', '/console', { viewport: { width: 1280, height: 900 } });
  await see(con, con.locator('[data-test=demo-note]'), 'operator token', 'the console says it uses the demo token');
  const row = con.locator(`[data-test=order-row][data-order-id="${orderID}"]`);
  await see(con, row.locator('[data-test=order-status]'), /^paid$/, 'Amy’s order in the console');
  const giftRow = con.locator('[data-test=order-row]', { hasText: '福鼎白茶饼' });
  await see(con, giftRow.locator('[data-test=order-status]'), /^paid$/, 'the gift’s order once Ben accepted');
  await giftRow.locator('[data-test=order-open]').click();
  const detail = con.locator('[data-test=order-detail]');
  await see(con, detail.locator('[data-test=detail-address]'), 'Ben Li', 'the gift ships to Ben');
  await row.locator('[data-test=order-open]').click();
  await see(con, detail.locator('[data-test=detail-id]'), orderID, 'the opened order');
  await see(con, detail.locator('[data-test=detail-address]'), '龙井路 1 号', 'Amy’s address on her order');
  await detail.locator('[data-test=ship-carrier]').fill('SF Express');
  await detail.locator('[data-test=ship-tracking]').fill('SF1234567890');
  await detail.locator('[data-test=ship-submit]').click();
  await see(con, detail.locator('[data-test=detail-status]'), /^shipped$/, 'the order after shipping');
  await see(con, detail.locator('[data-test=detail-shipment]'), 'SF1234567890', 'the tracking number');
  await see(con, row.locator('[data-test=order-status]'), /^shipped$/, 'the orders list after shipping');
  // Refunding more than was bought is refused, visibly.
  log('console: refunding 5 tins of 2, which the API refuses');
  const dline = detail.locator('[data-test=detail-line]').first();
  await dline.locator('[data-test=refund-qty]').fill('5');
  await dline.locator('[data-test=refund-line]').click();
  const err = con.locator('[data-test=error]');
  await err.waitFor({ state: 'visible' });
  const errText = await err.innerText();
  if (!/failed_precondition/.test(errText) || !/refund/i.test(errText)) throw new Error(`the refused refund’s error: ${errText}`);
  await con.locator('[data-test=error-dismiss]').click();
  await dline.locator('[data-test=refund-qty]').fill('1');
  await detail.locator('[data-test=refund-reason]').fill('one tin was crushed');
  await dline.locator('[data-test=refund-line]').click();
  await see(con, detail.locator('[data-test=detail-refund]'), '¥131.50', 'the refund’s amount');
  await see(con, detail.locator('[data-test=detail-refund]'), 'one tin was crushed', 'the refund’s reason');
  await see(con, dline.locator('[data-test=line-refunded]'), '1 · ¥131.50', 'the line’s refunded quantity');
  await see(con, detail.locator('[data-test=refund-status]'), /^pending$/, 'the refund before WeChat Pay finishes it');
  await detail.locator('[data-test=finish-refunds]').click();
  await see(con, detail.locator('[data-test=refund-status]'), /^succeeded$/, 'the refund once WeChat Pay’s notification came');
  log('console: shipped and refunded');

  // Stock: two tins sold; the merchant sets it to 600.
  const stockRow = con.locator(`[data-test=stock-row][data-sku="${await tin.getAttribute('data-sku')}"]`);
  await see(con, stockRow.locator('[data-test=stock]'), /^498$/, 'the tin’s stock after the sale');
  await stockRow.locator('[data-test=stock-input]').fill('600');
  await stockRow.locator('[data-test=stock-set]').click();
  await see(con, stockRow.locator('[data-test=stock]'), /^600$/, 'the tin’s stock after setting it');

  // Lily's statement renders (she has no orders yet).
  const lily = con.locator('[data-test=promoter-row]', { hasText: 'Lily' });
  await lily.locator('[data-test=promoter-statement]').click();
  await see(con, con.locator('[data-test=statement-title]'), 'Lily 的茶话会', 'the statement’s promoter');
  await see(con, con.locator('[data-test=statement-orders]'), /^0$/, 'Lily’s orders');
  await see(con, con.locator('[data-test=statement-payout]'), '¥0.00', 'Lily’s payout');
  await noError(con, 'the console at the end');
  log('console: stock and statement');

  // Back on Amy's phone: shipped with its tracking number, the refund,
  // then she confirms receipt.
  await shop.locator('[data-test=tab-orders]').click();
  await shop.locator('[data-test=orders-refresh]').click();
  await see(shop, amyOrder.locator('[data-test=order-status]'), /^shipped\b/, 'Amy’s order shipped');
  await see(shop, amyOrder.locator('[data-test=order-shipment]'), 'SF Express · SF1234567890', 'the tracking number on Amy’s order');
  await see(shop, amyOrder.locator('[data-test=order-refund]'), '¥131.50', 'the refund on Amy’s order');
  await see(shop, amyOrder.locator('[data-test=order-refund]'), '已退款 done', 'the refund paid back on Amy’s order');
  await see(shop, amyOrder.locator('[data-test=line-refunded]'), '1', 'the refunded tin on Amy’s order');
  await amyOrder.locator('[data-test=order-receive]').click();
  await see(shop, amyOrder.locator('[data-test=order-status]'), /^received\b/, 'Amy’s order after confirming receipt');
  await shop.locator('[data-test=tab-shop]').click();
  await see(shop, tin.locator('[data-test=sku-stock]'), '600', 'the storefront shows the new stock');
  await noError(shop, 'the storefront at the end');
  await noError(ben, 'Ben’s storefront at the end');
  log('storefront: shipped, refunded, received');
}

let browser;
try {
  browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
} catch (e) {
  console.error(`FAIL: cannot launch Chromium at ${executablePath}: ${e.message.split('\n')[0]}`);
  process.exit(1);
}
let failed = false;
try {
  await story(browser);
  log('the story passed');
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack || e}`);
  mkdirSync(artifacts, { recursive: true });
  for (const [name, page] of pages) {
    const path = join(artifacts, `${name}.png`);
    try {
      await page.screenshot({ path, fullPage: true });
      console.error(`screenshot of ${name} (${page.url()}): ${path}`);
    } catch (se) {
      console.error(`no screenshot of ${name}: ${se.message}`);
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
