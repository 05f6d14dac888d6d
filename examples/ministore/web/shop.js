// The H5 storefront: the customer API's first client, doing what the
// Mini Program does. No framework and no build step: it renders from the
// API's JSON into the elements shop.html lays out, and every failed call
// shows its error (kind and message) in #error.
'use strict';

const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const state = {
  demo: null,
  batch: null, // the demo coupon batch's terms
  name: '',
  token: '',
  products: [],
  skus: new Map(), // sku id → {product, sku}
  cart: { lines: [] },
  coupons: [],
  member: null,
  orders: [],
  gifts: { sent: [], received: [] },
  giftToken: '',
  giftLink: null,
  activity: null, // the demo's group-buying activity
  groupToken: '',
  group: null, // the group the page's share link names
  groupForm: null, // what the group sheet buys: {sku, activity} or {sku, link}
  groupKey: '',
  checkoutKey: '', // the Idempotency-Key of the order being placed
  giftKey: '',
  quoteSeq: 0,
};

// ---------- the API ----------

const shop = (p) => `/api/shops/${state.demo.merchant}${p}`;

// Reads and writes of one thing (the cart, the orders…) may overlap: a
// tab's onShow reload and a click's. latest numbers them so only the
// newest one started is shown; an older reply that lands later is STALE.
const STALE = Symbol('stale');
const seqs = {};
async function latest(name, fetch) {
  const n = (seqs[name] = (seqs[name] || 0) + 1);
  const v = await fetch();
  return n === seqs[name] ? v : STALE;
}

// ---------- showing things ----------

const orderLabels = {
  pending_payment: '待付款 awaiting payment',
  awaiting_recipient: '待好友领取 awaiting the friend',
  awaiting_group: '待成团 awaiting the group',
  paid: '已付款 to ship',
  shipped: '已发货 on its way',
  received: '已收货 received',
  completed: '已完成 done',
  cancelled: '已取消 closed',
  refunded: '已退款 refunded',
};
const giftLabels = { unpaid: '待付款', sent: '待领取 waiting for a friend', accepted: '已领取', expired: '已过期' };
const refundLabels = { pending: '处理中 processing', succeeded: '已退款 done', failed: '失败' };
const couponLabels = { valid: '可用', used: '已使用', expired: '已过期', transferred: '已转赠', void: '已作废' };

function statusBadge(status, labels, testName) {
  const cls = { paid: 'warn', pending_payment: 'warn', shipped: 'ok', received: 'ok', completed: 'ok', accepted: 'ok', valid: 'ok',
    succeeded: 'ok', cancelled: 'off', expired: 'off', refunded: 'off', used: 'off' }[status] || '';
  return h('span', { class: `badge ${cls}`, 'data-test': testName, 'data-status': status },
    labels[status] ? `${status} · ${labels[status]}` : status);
}

// ---------- views ----------

function show(view) {
  for (const s of $$('body > section')) s.hidden = s.id !== `view-${view}`;
  for (const b of $$('nav.tabs button')) b.classList.toggle('active', b.dataset.view === view);
  window.scrollTo(0, 0);
  // Like a Mini Program page's onShow: what it shows is read afresh.
  const reload = { shop: [loadProducts], cart: [loadCart], orders: [loadOrders], me: [loadMember, loadCoupons, loadGifts],
    group: state.groupToken ? [loadGroup] : [] }[view];
  if (state.token && reload) {
    Promise.all(reload.map((f) => f())).then(() => { if (view === 'cart') quote(); }, showError);
  }
}

// ---------- login ----------

async function login(name) {
  const { code } = await call('POST', '/dev/login', { name }, { auth: false });
  const s = await call('POST', '/login', { code }, { auth: false });
  state.name = name;
  state.token = s.token;
  sessionStorage.setItem('ministore.session', JSON.stringify({ name, token: s.token }));
  $('#login-name').value = name;
  $('#gift-sent').hidden = true;
  $('#notice').hidden = true;
  state.checkoutKey = '';
  fillAddress($('#checkout'), savedAddress());
  await refreshAll();
  loggedIn(name);
}

// loggedIn says who the page is for, once it shows their things.
function loggedIn(name) {
  $('#whoami').textContent = `Hi ${name} · 已登录`;
  document.body.dataset.user = name;
}

async function refreshAll() {
  const products = loadActivity().then(loadProducts);
  const jobs = [products, loadCart(), loadCoupons(), loadMember(), loadOrders(), loadGifts()];
  if (state.giftToken) jobs.push(loadGiftLink());
  if (state.groupToken) jobs.push(products.then(loadGroup));
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) showError(failed.reason);
}

// ---------- products ----------

async function loadProducts() {
  const items = await latest('products', async () => {
    const all = [];
    let after = '';
    do {
      const page = await call('GET', shop(`/products?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`));
      all.push(...page.items);
      after = page.next;
    } while (after);
    return all;
  });
  if (items === STALE) return;
  state.products = items;
  state.skus = new Map();
  for (const p of items) for (const s of p.skus) state.skus.set(s.id, { product: p, sku: s });
  renderProducts();
}

function renderProducts() {
  const box = $('#products');
  box.replaceChildren();
  if (!state.products.length) add(box, h('p', { class: 'muted' }, 'No products yet 暂无商品'));
  for (const p of state.products) {
    const icon = p.category === 'teaware' ? '🫖' : '🍵';
    add(box, h('div', { class: 'product', 'data-test': 'product', 'data-product': p.id },
      h('div', { class: 'row' },
        h('div', { class: 'pic' }, icon),
        h('div', { class: 'grow' },
          h('h3', { 'data-test': 'product-title' }, p.title),
          h('div', { class: 'desc' }, p.description || ''))),
      p.skus.map((s) => h('div', { class: 'sku', 'data-test': 'sku', 'data-sku': s.id },
        h('div', { class: 'attrs' },
          h('div', { 'data-test': 'sku-attrs' }, attrs(s.attributes) || 'Standard 标准'),
          h('span', { class: 'price', 'data-test': 'sku-price' }, money(s.price)), ' ',
          h('span', { class: 'stock', 'data-test': 'sku-stock' }, s.stock > 0 ? `stock 库存 ${s.stock}` : 'sold out 售罄')),
        h('button', { type: 'button', 'data-test': 'add-to-cart', disabled: s.stock <= 0,
          onclick: (e) => guard(e.currentTarget, () => addToCart(s.id)) }, 'Add 加购'),
        h('button', { type: 'button', class: 'plain', 'data-test': 'send-gift', disabled: s.stock <= 0,
          onclick: () => openGiftForm(s.id) }, 'Gift 送礼'),
        groupOffer(s)))));
  }
}

// ---------- cart ----------

async function loadCart() {
  const cart = await latest('cart', () => call('GET', shop('/cart')));
  if (cart === STALE) return;
  state.cart = cart;
  renderCart();
}

async function setQuantity(sku, qty) {
  const cart = await latest('cart', () => (qty <= 0
    ? call('DELETE', shop(`/cart/items/${sku}`))
    : call('PUT', shop(`/cart/items/${sku}`), { quantity: qty })));
  if (cart === STALE) return;
  state.cart = cart;
  state.checkoutKey = '';
  renderCart();
  quote();
}

async function addToCart(sku) {
  const line = state.cart.lines.find((l) => l.sku === sku);
  await setQuantity(sku, (line ? line.quantity : 0) + 1);
  const it = state.skus.get(sku);
  notice(`Added to cart 已加入购物车: ${it ? it.product.title : sku}`);
}

function renderCart() {
  const box = $('#cart');
  box.replaceChildren();
  const count = state.cart.lines.reduce((n, l) => n + l.quantity, 0);
  const badge = $('#cart-count');
  badge.textContent = String(count);
  badge.hidden = count === 0;
  $('#checkout').hidden = count === 0; // nothing to check out
  if (!state.cart.lines.length) {
    add(box, h('p', { class: 'muted', 'data-test': 'cart-empty' }, 'Your cart is empty 购物车是空的'));
    return;
  }
  for (const l of state.cart.lines) {
    const it = state.skus.get(l.sku);
    const title = it ? it.product.title : l.sku;
    const input = h('input', { type: 'number', min: '0', value: l.quantity, 'data-test': 'qty', 'aria-label': 'quantity',
      onchange: (e) => guard(null, () => setQuantity(l.sku, parseInt(e.target.value, 10) || 0)) });
    add(box, h('div', { class: 'cart-line', 'data-test': 'cart-line', 'data-sku': l.sku },
      h('div', { class: 'grow' },
        h('div', { 'data-test': 'cart-title' }, title),
        h('small', {}, it ? attrs(it.sku.attributes) : ''), ' ',
        h('span', { class: 'price' }, it ? money(it.sku.price) : '')),
      h('div', { class: 'qty' },
        h('button', { type: 'button', 'data-test': 'qty-dec', onclick: (e) => guard(e.currentTarget, () => setQuantity(l.sku, l.quantity - 1)) }, '−'),
        input,
        h('button', { type: 'button', 'data-test': 'qty-inc', onclick: (e) => guard(e.currentTarget, () => setQuantity(l.sku, l.quantity + 1)) }, '+')),
      h('button', { type: 'button', class: 'plain', 'data-test': 'cart-remove', onclick: (e) => guard(e.currentTarget, () => setQuantity(l.sku, 0)) }, 'Remove 删除')));
  }
}

// ---------- checkout ----------

const addressFields = ['name', 'phone', 'province', 'city', 'district', 'detail'];

function readAddress(form) {
  const a = {};
  for (const f of addressFields) a[f] = form.elements[f].value.trim();
  return a;
}

function fillAddress(form, a) {
  for (const f of addressFields) form.elements[f].value = (a && a[f]) || '';
}

function savedAddress() {
  try { return JSON.parse(sessionStorage.getItem(`ministore.address.${state.name}`) || 'null'); } catch { return null; }
}

// couponChoice is the quote's and the order's coupon fields from the select.
function couponChoice() {
  const v = $('#coupon-select').value;
  if (v === 'none') return { no_coupon: true };
  if (v === 'auto' || v === '') return {};
  return { coupon: v };
}

function renderCouponSelect() {
  const sel = $('#coupon-select');
  const was = sel.value;
  sel.replaceChildren(
    h('option', { value: 'auto' }, 'Best available 自动选择最优'),
    h('option', { value: 'none' }, 'No coupon 不使用优惠券'),
    ...state.coupons.filter((c) => c.status === 'valid').map((c) => h('option', { value: c.id, 'data-test': 'coupon-option' },
      `${c.batch.name} (until ${c.valid_until.slice(0, 10)})`)));
  if ([...sel.options].some((o) => o.value === was)) sel.value = was;
}

// quote prices the cart as checkout would now, with the chosen coupon.
async function quote() {
  const box = $('#quote');
  const seq = ++state.quoteSeq;
  if (!state.cart.lines.length) {
    box.replaceChildren();
    $('#checkout-total').textContent = '—';
    return;
  }
  let q;
  try {
    q = await call('POST', shop('/quote'), { from_cart: true, ...couponChoice() });
  } catch (e) {
    if (seq === state.quoteSeq) {
      box.replaceChildren(h('p', { class: 'muted' }, 'No quote 无法报价'));
      showError(e);
    }
    return;
  }
  if (seq !== state.quoteSeq) return; // a newer quote is on its way
  box.replaceChildren(h('table', {},
    q.lines.map((l) => h('tr', { 'data-test': 'quote-line' },
      h('td', {}, `${l.title} ${attrs(l.attributes)} × ${l.quantity}`), h('td', {}, money(l.total)))),
    h('tr', {}, h('td', {}, 'Subtotal 商品金额'), h('td', { 'data-test': 'quote-subtotal' }, money(q.subtotal))),
    q.adjustments.map((a) => h('tr', { 'data-test': 'quote-adjustment' },
      h('td', {}, `${a.label} (${a.kind})`), h('td', { class: 'price' }, `−${money(a.amount)}`))),
    h('tr', {}, h('td', {}, 'Shipping 运费'), h('td', {}, money(q.shipping))),
    h('tr', { class: 'total' }, h('td', {}, 'Total 应付'), h('td', { 'data-test': 'quote-total' }, money(q.total)))));
  $('#checkout-total').textContent = money(q.total);
}

async function placeOrder(form) {
  if (!state.cart.lines.length) throw new APIError(0, { kind: 'invalid', field: 'cart', message: 'the cart is empty 购物车是空的' }, 'checkout');
  const address = readAddress(form);
  sessionStorage.setItem(`ministore.address.${state.name}`, JSON.stringify(address));
  // One key per order being placed: a retry after a lost reply gets
  // the same order back, not a second one.
  state.checkoutKey = state.checkoutKey || newKey();
  const body = { from_cart: true, address, ...couponChoice() };
  const note = form.elements.note.value.trim();
  if (note) body.note = note;
  let order;
  try {
    order = await call('POST', shop('/orders'), body, { key: state.checkoutKey });
  } catch (e) {
    if (e.status >= 400 && e.status < 500) state.checkoutKey = '';
    throw e;
  }
  state.checkoutKey = '';
  form.elements.note.value = '';
  await Promise.all([loadCart(), loadCoupons(), loadOrders()]);
  show('orders');
  notice(`Order placed 已下单: ${order.id}`);
  await pay(order, 'Order 订单');
}

// ---------- paying: the order's payment, then the (local) WeChat cashier ----------

let cashierDone = null;

async function pay(order, what) {
  const p = await call('POST', shop(`/orders/${order.id}/pay`), {});
  $('#cashier-amount').textContent = money(p.amount);
  $('#cashier-what').textContent = `${what} ${order.id} · payment ${p.payment_no}`;
  $('#cashier').hidden = false;
  const confirmed = await new Promise((resolve) => { cashierDone = resolve; });
  $('#cashier').hidden = true;
  if (!confirmed) {
    notice('Payment cancelled; pay it from My orders 已取消支付，可在订单中继续支付');
    return false;
  }
  // What wx.requestPayment does: the customer pays in WeChat, and WeChat
  // Pay notifies the shop's notify URL.
  await call('POST', '/dev/wechatpay/pay', { payment_no: p.payment_no }, { auth: false });
  await Promise.all([loadOrders(), loadMember(), loadGifts(), loadProducts()]);
  notice(`Paid 支付成功 ${money(p.amount)}`);
  return true;
}

// ---------- orders ----------

async function loadOrders() {
  const page = await latest('orders', () => call('GET', shop('/orders?limit=100')));
  if (page === STALE) return;
  state.orders = page.items.slice().reverse(); // newest first
  renderOrders();
}

async function orderAction(o, verb) {
  await call('POST', shop(`/orders/${o.id}/${verb}`), verb === 'cancel' ? { reason: 'changed my mind' } : undefined);
  await Promise.all([loadOrders(), loadMember()]);
}

function renderOrders() {
  const box = $('#orders');
  box.replaceChildren();
  if (!state.orders.length) add(box, h('p', { class: 'muted', 'data-test': 'orders-empty' }, 'No orders yet 还没有订单'));
  for (const o of state.orders) {
    const ship = o.shipment;
    add(box, h('div', { class: 'card order', 'data-test': 'order', 'data-order-id': o.id, 'data-status': o.status, style: 'margin:8px 0;border:1px solid #eee' },
      h('div', { class: 'row between' },
        h('span', { class: 'mono', 'data-test': 'order-id' }, o.id),
        statusBadge(o.status, orderLabels, 'order-status')),
      o.gift ? h('div', {}, h('span', { class: 'tag', 'data-test': 'order-gift' }, 'Gift 礼物订单')) : null,
      h('div', { class: 'lines' }, o.lines.map((l) => h('div', { class: 'line', 'data-test': 'order-line' },
        h('span', {}, `${l.title} ${attrs(l.attributes)} × ${l.quantity}`,
          l.refunded_quantity ? [' ', h('span', { class: 'tag', 'data-test': 'line-refunded' }, `refunded 已退 ${l.refunded_quantity}`)] : null),
        h('span', {}, money(l.payable))))),
      o.adjustments.map((a) => h('div', { class: 'line muted', 'data-test': 'order-adjustment' }, `${a.label} −${money(a.amount)}`)),
      h('div', { class: 'row between' }, h('small', {}, new Date(o.created).toLocaleString()),
        h('span', {}, 'Total 实付 ', h('span', { class: 'price', 'data-test': 'order-total' }, money(o.total)))),
      ship && (ship.carrier || ship.tracking_no || ship.method)
        ? h('div', { class: 'order-note', 'data-test': 'order-shipment' }, '🚚 Shipped by 承运 ', [ship.carrier, ship.tracking_no, ship.method].filter(Boolean).join(' · '))
        : null,
      (o.refunds || []).map((r) => h('div', { class: 'order-note', 'data-test': 'order-refund', 'data-status': r.status },
        '↩ Refund 退款 ', h('span', { class: 'price' }, money(r.amount)), ' · ', statusBadge(r.status, refundLabels, 'refund-status'),
        r.reason ? ` · ${r.reason}` : '')),
      o.status === 'awaiting_group' ? groupPanel(o) : null,
      h('div', { class: 'actions' },
        o.status === 'pending_payment' ? [
          h('button', { type: 'button', class: 'plain', 'data-test': 'order-cancel', onclick: (e) => guard(e.currentTarget, () => orderAction(o, 'cancel')) }, 'Cancel 取消'),
          h('button', { type: 'button', class: 'wxpay', 'data-test': 'order-pay', onclick: (e) => guard(e.currentTarget, () => pay(o, 'Order 订单')) }, 'Pay 去支付'),
        ] : null,
        o.status === 'shipped'
          ? h('button', { type: 'button', class: 'primary', 'data-test': 'order-receive', onclick: (e) => guard(e.currentTarget, () => orderAction(o, 'receive')) }, 'Confirm receipt 确认收货')
          : null)));
  }
}

// ---------- coupons ----------

async function loadCoupons() {
  const got = await latest('coupons', () => Promise.all([
    call('GET', shop('/coupons?limit=100')),
    state.demo.coupon_batch ? call('GET', shop(`/coupon-batches/${state.demo.coupon_batch}`)) : null,
  ]));
  if (got === STALE) return;
  const [page, batch] = got;
  state.coupons = page.items;
  state.batch = batch;
  renderCoupons();
}

function batchTerms(b) {
  const parts = [];
  if (b.kind === 'threshold_off') parts.push(`${money(b.amount)} off orders from ${money(b.min_amount)}`);
  else if (b.amount) parts.push(`${money(b.amount)} off`);
  if (b.percent_off) parts.push(`${b.percent_off}% off`);
  if (b.per_person) parts.push(`${b.per_person} per person 每人限领${b.per_person}张`);
  return parts.join(' · ');
}

function renderCoupons() {
  const b = state.batch;
  const bbox = $('#coupon-batch');
  bbox.replaceChildren();
  if (b) {
    const mine = state.coupons.filter((c) => c.batch.id === b.id).length;
    const full = b.per_person > 0 && mine >= b.per_person;
    add(bbox, h('div', { class: 'coupon' },
      h('div', { class: 'amount' }, b.amount ? money(b.amount) : `${b.percent_off}%`),
      h('div', { class: 'grow' }, h('div', { 'data-test': 'batch-name' }, b.name), h('small', {}, batchTerms(b))),
      h('button', { type: 'button', class: 'primary', 'data-test': 'claim-coupon', disabled: full || b.status !== 'active',
        onclick: (e) => guard(e.currentTarget, claimCoupon) }, full ? 'Claimed 已领取' : 'Claim 领取')));
  }
  const wbox = $('#wallet');
  wbox.replaceChildren();
  if (!state.coupons.length) add(wbox, h('p', { class: 'muted', 'data-test': 'wallet-empty' }, 'No coupons yet 暂无优惠券'));
  for (const c of state.coupons) {
    add(wbox, h('div', { class: 'coupon', 'data-test': 'wallet-coupon', 'data-coupon': c.id, 'data-status': c.status },
      h('div', { class: 'amount' }, c.batch.amount ? money(c.batch.amount) : `${c.batch.percent_off}%`),
      h('div', { class: 'grow' }, h('div', {}, c.batch.name), h('small', {}, `valid until 有效期至 ${c.valid_until.slice(0, 10)}`)),
      statusBadge(c.status, couponLabels, 'coupon-status')));
  }
  renderCouponSelect();
}

async function claimCoupon() {
  await call('POST', shop('/coupons'), { batch: state.demo.coupon_batch }, { key: newKey() });
  await loadCoupons();
  notice(`Coupon claimed 领券成功: ${state.batch ? state.batch.name : ''}`);
}

// ---------- member card ----------

async function loadMember() {
  const m = await latest('member', async () => {
    try {
      return await call('GET', shop('/member'));
    } catch (e) {
      if (e.status !== 404) throw e;
      return null; // not a member
    }
  });
  if (m === STALE) return;
  state.member = m;
  renderMember();
}

function renderMember() {
  const box = $('#member');
  box.replaceChildren();
  const m = state.member;
  if (!m) {
    add(box, h('p', { 'data-test': 'member-none' }, 'Not a member yet 尚未入会'),
      h('button', { type: 'button', class: 'primary', 'data-test': 'member-join', onclick: (e) => guard(e.currentTarget, async () => {
        const m = await latest('member', () => call('POST', shop('/member')));
        if (m === STALE) return;
        state.member = m;
        renderMember();
      }) }, 'Join 免费入会'));
    return;
  }
  add(box, h('div', { class: 'member-card', 'data-test': 'member-card' },
    h('div', { class: 'row between' },
      h('span', { class: 'tier', 'data-test': 'member-tier' }, `${m.tier || 'Member'} · Lv${m.level}`),
      h('span', { 'data-test': 'member-number' }, `No. ${m.number}`)),
    h('div', { style: 'margin-top:8px', 'data-test': 'member-points' },
      `Points 积分 ${m.available} available 可用 · ${m.pending} pending 待入账`),
    h('div', { 'data-test': 'member-experience' }, `Experience 成长值 ${m.experience}`),
    h('small', { style: 'color:#e8d2a8' }, `joined 入会于 ${m.joined_at.slice(0, 10)}`)));
}

// ---------- gifts ----------

let giftSKU = '';

function openGiftForm(sku) {
  giftSKU = sku;
  state.giftKey = '';
  const it = state.skus.get(sku);
  $('#gift-form-item').textContent = it ? `${it.product.title} ${attrs(it.sku.attributes)} · ${money(it.sku.price)}` : sku;
  const f = $('#gift-form');
  f.elements.giver_name.value = state.name;
  f.elements.quantity.value = '1';
  $('#gift-form-sheet').hidden = false;
}

async function sendGift(form) {
  const body = {
    sku: giftSKU,
    quantity: parseInt(form.elements.quantity.value, 10) || 1,
    giver_name: form.elements.giver_name.value.trim(),
    message: form.elements.message.value.trim(),
    no_coupon: true,
  };
  state.giftKey = state.giftKey || newKey();
  const sent = await call('POST', shop('/gifts'), body, { key: state.giftKey });
  state.giftKey = '';
  $('#gift-form-sheet').hidden = true;
  const paid = await pay(sent.order, 'Gift 礼物');
  show('me');
  if (!paid) return;
  const g = await call('GET', shop(`/gifts/${sent.gift.id}`));
  renderGiftSent(g);
}

function claimURL(token) {
  return `${location.origin}/?gift=${encodeURIComponent(token)}`;
}

function linkBox(url, testName) {
  const input = h('input', { readonly: true, value: url, 'data-test': `${testName}-url`, onfocus: (e) => e.target.select() });
  return h('div', {},
    h('a', { href: url, 'data-test': testName, class: 'mono' }, url),
    h('div', { class: 'linkbox' }, input,
      h('button', { type: 'button', class: 'plain', onclick: async () => {
        input.select();
        try { await navigator.clipboard.writeText(url); notice('Link copied 已复制'); } catch { document.execCommand('copy'); }
      } }, 'Copy 复制')));
}

function renderGiftSent(g) {
  const box = $('#gift-sent');
  box.replaceChildren(h('div', { class: 'gift-box', style: 'margin-bottom:10px' },
    h('div', {}, '🎁 Gift sent! Send this link to one friend 礼物已备好，把链接发给一位好友：'),
    g.token ? linkBox(claimURL(g.token), 'gift-share-link') : h('p', { class: 'muted' }, 'No claim link yet: the gift is not paid 尚未付款')));
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
}

async function loadGifts() {
  const got = await latest('gifts', () => Promise.all([
    call('GET', shop('/gifts?role=sent&limit=100')),
    call('GET', shop('/gifts?role=received&limit=100')),
  ]));
  if (got === STALE) return;
  const [sent, received] = got;
  state.gifts = { sent: sent.items.slice().reverse(), received: received.items.slice().reverse() };
  renderGifts();
}

function giftCard(g) {
  return h('div', { class: 'gift-box', 'data-test': 'gift', 'data-gift': g.id, 'data-status': g.status, style: 'margin:6px 0' },
    h('div', { class: 'row between' },
      h('span', {}, g.lines.map((l) => `${l.title} ${attrs(l.attributes)} × ${l.quantity}`).join(', ')),
      statusBadge(g.status, giftLabels, 'gift-status')),
    h('small', {}, [g.giver_name ? `from ${g.giver_name}` : '', g.message ? `“${g.message}”` : '', `order ${g.order_status}`].filter(Boolean).join(' · ')),
    g.shipment && g.shipment.tracking_no ? h('div', { 'data-test': 'gift-shipment' }, `🚚 ${g.shipment.carrier || ''} ${g.shipment.tracking_no}`) : null,
    g.giver && g.token && g.status === 'sent' ? linkBox(claimURL(g.token), 'gift-link') : null);
}

function renderGifts() {
  const s = $('#gifts-sent');
  s.replaceChildren(...(state.gifts.sent.length ? state.gifts.sent.map(giftCard) : [h('p', { class: 'muted' }, 'None yet 暂无')]));
  const r = $('#gifts-received');
  r.replaceChildren(...(state.gifts.received.length ? state.gifts.received.map(giftCard) : [h('p', { class: 'muted' }, 'None yet 暂无')]));
}

// The claim link's page: what the friend who opens it sees.
async function loadGiftLink() {
  try {
    state.giftLink = await call('GET', shop(`/gift-links/${encodeURIComponent(state.giftToken)}`));
  } catch (e) {
    state.giftLink = null;
    renderGiftClaim(e);
    throw e;
  }
  renderGiftClaim();
}

function renderGiftClaim(err) {
  const box = $('#gift-claim');
  box.replaceChildren();
  const g = state.giftLink;
  if (!g) {
    add(box, h('h2', {}, 'A gift 礼物'), h('p', { 'data-test': 'gift-claim-missing' }, `This gift link cannot be opened 无法打开此礼物链接${err ? `: ${err.message}` : ''}`));
    return;
  }
  add(box, 
    h('h2', {}, `🎁 ${g.giver_name || 'A friend'} sent you a gift 送你一份礼物`),
    h('div', { class: 'row' }, h('div', { class: 'product' }, h('div', { class: 'pic' }, '🎁')),
      h('div', { class: 'grow' },
        h('h3', { 'data-test': 'gift-title' }, g.title),
        h('small', {}, attrs(g.attributes)),
        h('div', { 'data-test': 'gift-from' }, `From 来自: ${g.giver_name || '—'}`),
        g.message ? h('div', { 'data-test': 'gift-message-shown' }, `“${g.message}”`) : null)),
    h('p', {}, 'Status 状态: ', statusBadge(g.status, giftLabels, 'gift-link-status'),
      g.expires_at ? h('small', {}, ` · accept by 领取截止 ${new Date(g.expires_at).toLocaleString()}`) : null));
  if (g.status !== 'sent') {
    add(box, h('p', { 'data-test': 'gift-claim-closed' }, g.status === 'accepted'
      ? 'This gift has been accepted 礼物已被领取' : 'This gift can no longer be accepted 礼物已不可领取'));
    return;
  }
  if (g.yours) {
    add(box, h('p', { 'data-test': 'gift-claim-yours' }, 'You sent this gift: send the link to your friend 这是你送出的礼物，把链接发给好友'));
    return;
  }
  if (g.kind === 'lottery') {
    add(box, h('button', { type: 'button', class: 'primary', 'data-test': 'gift-enter', onclick: (e) => guard(e.currentTarget, async () => {
      state.giftLink = await call('POST', shop(`/gift-links/${encodeURIComponent(state.giftToken)}/enter`));
      renderGiftClaim();
      notice('Entered the draw 已参与抽奖');
    }) }, 'Enter the draw 参与抽奖'));
    return;
  }
  const form = h('form', { 'data-test': 'gift-accept-form' },
    g.options && g.options.length > 1 ? h('label', {}, h('span', {}, 'Choose 选择款式'),
      h('select', { name: 'sku', 'data-test': 'gift-option' }, g.options.map((o) => h('option', { value: o.sku }, attrs(o.attributes) || o.sku)))) : null,
    h('div', { class: 'addr' },
      h('label', {}, h('span', {}, 'Name 收货人'), h('input', { name: 'name', 'data-test': 'addr-name', required: true })),
      h('label', {}, h('span', {}, 'Phone 手机号'), h('input', { name: 'phone', 'data-test': 'addr-phone', required: true })),
      h('label', {}, h('span', {}, 'Province 省'), h('input', { name: 'province', 'data-test': 'addr-province', required: true })),
      h('label', {}, h('span', {}, 'City 市'), h('input', { name: 'city', 'data-test': 'addr-city', required: true })),
      h('label', {}, h('span', {}, 'District 区'), h('input', { name: 'district', 'data-test': 'addr-district', required: true })),
      h('label', { class: 'wide' }, h('span', {}, 'Address 详细地址'), h('input', { name: 'detail', 'data-test': 'addr-detail', required: true }))),
    h('button', { type: 'submit', class: 'primary', 'data-test': 'gift-accept' }, g.kind === 'single' ? 'Accept 收下礼物' : 'Claim 领取'));
  fillAddress(form, savedAddress());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    guard(e.submitter, () => acceptGift(form));
  });
  add(box, form);
}

async function acceptGift(form) {
  const address = readAddress(form);
  sessionStorage.setItem(`ministore.address.${state.name}`, JSON.stringify(address));
  const body = { address };
  if (form.elements.sku) body.sku = form.elements.sku.value;
  const verb = state.giftLink.kind === 'single' ? 'accept' : 'claim';
  await call('POST', shop(`/gift-links/${encodeURIComponent(state.giftToken)}/${verb}`), body);
  await Promise.allSettled([loadGiftLink(), loadGifts()]);
  const box = $('#gift-claim');
  add(box, h('div', { class: 'notice', 'data-test': 'gift-claim-result', style: 'margin:10px 0 0' },
    'Accepted! The shop ships it to your address 领取成功，商家将发货到你的地址'));
}

// ---------- group buying ----------

async function loadActivity() {
  if (!state.demo.group_activity) return;
  try {
    state.activity = await call('GET', shop(`/group-activities/${state.demo.group_activity}`));
  } catch (e) {
    state.activity = null;
    if (e.status !== 404) throw e; // over, or not started
  }
}

// groupOffer is a SKU's group-buying price and the button to open a group.
function groupOffer(s) {
  const item = state.activity && state.activity.items.find((i) => i.sku === s.id);
  if (!item) return null;
  const a = state.activity;
  return h('div', { class: 'group-offer', 'data-test': 'group-offer' },
    h('span', { class: 'grow' }, `👥 ${a.title}: ${a.size} people 人 · `, h('span', { class: 'price' }, money(item.group_price)),
      ` · leader 团长 ${money(item.leader_price)}`),
    h('button', { type: 'button', class: 'primary', 'data-test': 'group-start',
      onclick: () => openGroupForm({ sku: s.id, activity: a.id }, `Start a group 发起拼团 · ${a.title}`, money(item.leader_price)) }, 'Start group 开团'));
}

function openGroupForm(what, title, price) {
  state.groupForm = what;
  state.groupKey = '';
  const it = state.skus.get(what.sku);
  $('#group-form-title').textContent = title;
  $('#group-form-item').textContent = `${it ? `${it.product.title} ${attrs(it.sku.attributes)}` : what.sku} · ${price}`;
  const f = $('#group-form');
  fillAddress(f, savedAddress());
  f.elements.display_name.value = state.name;
  $('#group-form-sheet').hidden = false;
}

async function buyInGroup(form) {
  const what = state.groupForm;
  const address = readAddress(form);
  sessionStorage.setItem(`ministore.address.${state.name}`, JSON.stringify(address));
  const body = { lines: [{ sku: what.sku, quantity: 1 }], address, display_name: form.elements.display_name.value.trim(), no_coupon: true };
  if (what.activity) body.group_activity = what.activity;
  else body.group_link = what.link;
  state.groupKey = state.groupKey || newKey();
  const order = await call('POST', shop('/orders'), body, { key: state.groupKey });
  state.groupKey = '';
  $('#group-form-sheet').hidden = true;
  show(what.link ? 'group' : 'orders');
  await pay(order, 'Group order 拼团订单');
  if (state.groupToken) await loadGroup();
}

function groupURL(token) {
  return `${location.origin}/?group=${encodeURIComponent(token)}`;
}

// groupPanel shows an order's group while it waits for members: the
// share link and the places left. It loads after the order card.
function groupPanel(o) {
  const box = h('div', { class: 'order-note', 'data-test': 'order-group' }, 'Group 拼团…');
  call('GET', shop(`/orders/${o.id}/group`)).then((g) => {
    box.replaceChildren();
    add(box, h('div', {}, `👥 ${g.title} · `, statusBadge(g.state, groupLabels, 'group-state'),
      ` · places left 还差 `, h('b', { 'data-test': 'group-places' }, String(g.places_left)), ' 人'),
    g.state === 'open' ? [h('small', {}, 'Invite friends with this link 邀请好友参团：'), linkBox(groupURL(g.link), 'group-share-link')] : null);
  }, (e) => { box.textContent = `Group 拼团: ${e.message}`; });
  return box;
}

const groupLabels = { pending: '待支付 pending', open: '拼团中 open', formed: '已成团 formed', failed: '未成团 failed' };

async function loadGroup() {
  let g;
  try {
    g = await latest('group', () => call('GET', shop(`/groups/${encodeURIComponent(state.groupToken)}`)));
  } catch (e) {
    state.group = null;
    renderGroup(e);
    throw e;
  }
  if (g === STALE) return;
  state.group = g;
  renderGroup();
}

function renderGroup(err) {
  const box = $('#group-page');
  box.replaceChildren();
  const g = state.group;
  if (!g) {
    add(box, h('h2', {}, 'A group 拼团'), h('p', { 'data-test': 'group-missing' }, `This group link cannot be opened 无法打开此拼团链接${err ? `: ${err.message}` : ''}`));
    return;
  }
  const it = state.skus.get(g.sku);
  add(box,
    h('h2', { 'data-test': 'group-title' }, `👥 ${g.title}`),
    h('p', {}, it ? `${it.product.title} ${attrs(it.sku.attributes)} · ` : '', h('span', { class: 'price', 'data-test': 'group-price' }, money(g.price))),
    h('p', {}, 'Status 状态: ', statusBadge(g.state, groupLabels, 'group-state'),
      ` · ${g.size} people 人团 · places left 还差 `, h('b', { 'data-test': 'group-places' }, String(g.places_left)),
      g.expires_at ? h('small', {}, ` · until 截止 ${new Date(g.expires_at).toLocaleString()}`) : null),
    h('div', { 'data-test': 'group-members' }, g.members.map((m) => h('span', { class: 'badge', 'data-test': 'group-member', style: 'margin-right:4px' },
      `${m.name || 'someone 某人'}${m.leader ? ' · leader 团长' : ''}`))),
    g.state === 'open' && g.places_left > 0
      ? h('button', { type: 'button', class: 'primary', style: 'margin-top:10px', 'data-test': 'group-join',
        onclick: () => openGroupForm({ sku: g.sku, link: state.groupToken }, `Join the group 参团 · ${g.title}`, money(g.price)) }, 'Join 参团')
      : h('p', { 'data-test': 'group-closed' }, g.state === 'formed' ? 'The group is formed 已成团' : 'This group cannot be joined 无法参团'));
}

// ---------- start ----------

async function start() {
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  state.giftToken = params.get('gift') || hash.get('gift') || '';
  state.groupToken = params.get('group') || hash.get('group') || '';

  $('#error [data-test=error-dismiss]').addEventListener('click', clearError);
  for (const b of $$('nav.tabs button')) b.addEventListener('click', () => show(b.dataset.view));
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('#login-name').value.trim();
    guard(e.submitter, () => login(name || 'amy'));
  });
  $('#checkout').addEventListener('submit', (e) => {
    e.preventDefault();
    guard(e.submitter, () => placeOrder(e.target));
  });
  $('#coupon-select').addEventListener('change', () => { state.checkoutKey = ''; quote(); });
  $('#orders-refresh').addEventListener('click', (e) => guard(e.currentTarget, () => Promise.all([loadOrders(), loadGifts()])));
  $('#gift-form').addEventListener('submit', (e) => {
    e.preventDefault();
    guard(e.submitter, () => sendGift(e.target));
  });
  $('#gift-form [data-test=gift-form-cancel]').addEventListener('click', () => { $('#gift-form-sheet').hidden = true; });
  $('#group-form').addEventListener('submit', (e) => {
    e.preventDefault();
    guard(e.submitter, () => buyInGroup(e.target));
  });
  $('#group-form [data-test=group-form-cancel]').addEventListener('click', () => { $('#group-form-sheet').hidden = true; });
  $('#cashier [data-test=cashier-pay]').addEventListener('click', () => cashierDone && cashierDone(true));
  $('#cashier [data-test=cashier-cancel]').addEventListener('click', () => cashierDone && cashierDone(false));

  await guard(null, async () => {
    state.demo = await call('GET', '/demo.json', undefined, { auth: false });
    $('[data-test=shop-name]').textContent = state.demo.name;
    document.title = `${state.demo.name} · Storefront`;
  });
  if (!state.demo) return;
  if (state.groupToken) {
    $('[data-test=tab-group]').hidden = false;
    show('group');
  }
  if (state.giftToken) {
    $('[data-test=tab-gift]').hidden = false;
    show('gift');
  }
  // The session this tab logged in with, else the default user: the Mini
  // Program logs in silently on launch.
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem('ministore.session') || 'null'); } catch { /* none */ }
  await guard(null, async () => {
    if (saved && saved.token) {
      state.name = saved.name;
      state.token = saved.token;
      $('#login-name').value = saved.name;
      fillAddress($('#checkout'), savedAddress());
      try {
        await call('GET', shop('/cart'));
      } catch (e) {
        if (e.status !== 401) throw e;
        await login(saved.name); // the server restarted: a new session
        return;
      }
      await refreshAll();
      loggedIn(saved.name);
    } else {
      await login($('#login-name').value.trim() || 'amy');
    }
  });
  document.body.dataset.ready = 'true';
}

start();
