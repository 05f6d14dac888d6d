// The merchant console: the merchant API's first client. Products and
// stock, orders (open, ship, refund lines) and the promoters' statements.
// Every failed call shows its error (kind and message) in #error.
'use strict';

const state = { demo: null, token: '', products: [], orders: [], open: null, promoters: [] };

const admin = (p) => `/admin/merchants/${state.demo.merchant}${p}`;

function when(t) { return t ? new Date(t).toLocaleString() : '—'; }

function badge(status, testName) {
  const cls = { shipped: 'ok', received: 'ok', completed: 'ok', succeeded: 'ok', paid: 'warn', pending: 'warn',
    pending_payment: 'warn', cancelled: 'off', refunded: 'off', failed: 'off' }[status] || '';
  return h('span', { class: `badge ${cls}`, 'data-test': testName, 'data-status': status }, status);
}

// all pages through a list endpoint.
async function all(path) {
  const items = [];
  let after = '';
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page = await call('GET', `${path}${sep}limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    items.push(...page.items);
    after = page.next;
  } while (after);
  return items;
}

// ---------- products and stock ----------

async function loadProducts() {
  state.products = await all(admin('/products'));
  const body = $('#products');
  body.replaceChildren();
  for (const p of state.products) {
    p.skus.forEach((s, i) => {
      const input = h('input', { type: 'number', min: '0', class: 'small', value: s.stock, 'data-test': 'stock-input', 'aria-label': 'new stock' });
      add(body, h('tr', { 'data-test': 'stock-row', 'data-sku': s.id, 'data-product': p.id },
        h('td', {}, i === 0 ? [h('div', { 'data-test': 'product-title' }, p.title), h('small', {}, `${p.category} · ${p.state}`)] : ''),
        h('td', {}, attrs(s.attributes) || 'Standard 标准', h('div', { class: 'mono muted' }, s.id)),
        h('td', {}, money(s.price)),
        h('td', { 'data-test': 'stock' }, String(s.stock)),
        h('td', {}, h('form', { class: 'row', onsubmit: (e) => {
          e.preventDefault();
          guard(e.submitter, () => setStock(s, parseInt(input.value, 10)));
        } }, input, h('button', { type: 'submit', 'data-test': 'stock-set' }, 'Set 设置')))));
    });
  }
}

// setStock makes a SKU's stock n: the API takes a delta, from the stock
// this page last read.
async function setStock(sku, n) {
  if (!Number.isInteger(n) || n < 0) throw new APIError(0, { kind: 'invalid', field: 'stock', message: 'a whole number, 0 or more' }, 'set stock');
  const delta = n - sku.stock;
  if (delta === 0) return;
  const r = await call('POST', admin(`/skus/${sku.id}/stock`), { delta });
  notice(`Stock of ${sku.id} is now ${r.stock} 库存已更新`);
  await loadProducts();
}

// ---------- orders ----------

async function loadOrders() {
  const status = $('#order-filter').value;
  const page = await call('GET', admin(`/orders?limit=100${status ? `&status=${status}` : ''}`));
  state.orders = page.items.slice().reverse(); // newest first
  const more = $('#orders-more');
  more.hidden = !page.next;
  more.textContent = page.next ? 'Showing the first 100 orders 仅显示前 100 个订单' : '';
  const body = $('#orders');
  body.replaceChildren();
  if (!state.orders.length) add(body, h('tr', {}, h('td', { colspan: 5, class: 'muted', 'data-test': 'orders-empty' }, 'No orders 暂无订单')));
  for (const o of state.orders) {
    add(body, h('tr', { 'data-test': 'order-row', 'data-order-id': o.id, class: state.open && state.open.id === o.id ? 'selected' : '' },
      h('td', {}, h('div', { class: 'mono', 'data-test': 'order-id' }, o.id), h('small', {}, when(o.created)),
        o.gift ? h('div', {}, h('span', { class: 'tag' }, 'gift 礼物')) : null),
      h('td', {}, badge(o.status, 'order-status')),
      h('td', {}, o.lines.map((l) => h('div', {}, `${l.title} ${attrs(l.attributes)} × ${l.quantity}`))),
      h('td', { 'data-test': 'order-total' }, money(o.total)),
      h('td', {}, h('button', { type: 'button', 'data-test': 'order-open', onclick: (e) => guard(e.currentTarget, () => openOrder(o.id)) }, 'Open 打开'))));
  }
}

let openSeq = 0;

async function openOrder(id) {
  const n = ++openSeq;
  const o = await call('GET', admin(`/orders/${id}`));
  if (n !== openSeq) return; // another order was opened since
  state.open = o;
  renderOrder();
  for (const tr of document.querySelectorAll('[data-test=order-row]')) tr.classList.toggle('selected', tr.dataset.orderId === id);
}

// afterChange shows what a change made: the lists first, the order last,
// so that once the order shows it everything does.
async function afterChange(o) {
  state.open = o;
  await Promise.all([loadOrders(), loadProducts()]);
  renderOrder();
}

async function ship(form) {
  const o = state.open;
  const body = { carrier: form.elements.carrier.value.trim(), tracking_no: form.elements.tracking_no.value.trim() };
  const method = form.elements.method.value;
  if (method) { body.method = method; delete body.carrier; delete body.tracking_no; }
  const shipped = await call('POST', admin(`/orders/${o.id}/ship`), body);
  notice(`Shipped 已发货 ${o.id}`);
  await afterChange(shipped);
}

async function refund(items, reason) {
  const o = state.open;
  const body = items === 'all' ? { all: true } : { items };
  if (reason) body.reason = reason;
  const r = await call('POST', admin(`/orders/${o.id}/refunds`), body, { key: newKey() });
  notice(`Refund 退款 ${money(r.amount)} ${r.status}`);
  await afterChange(await call('GET', admin(`/orders/${o.id}`)));
}

async function finishRefunds(id) {
  const r = await call('POST', '/dev/wechatpay/refunds', { order: id }, { auth: false });
  notice(`WeChat Pay finished ${r.finished} refund(s)`);
  await afterChange(await call('GET', admin(`/orders/${id}`)));
}

const shippable = new Set(['paid']);
const refundable = new Set(['paid', 'shipped', 'received', 'awaiting_recipient', 'awaiting_group']);

function renderOrder() {
  const o = state.open;
  const box = $('#order-detail');
  box.replaceChildren(h('h2', {}, 'Order 订单详情'));
  if (!o) return;
  const a = o.shipping_address;
  const reason = h('input', { name: 'reason', 'data-test': 'refund-reason', value: 'merchant refund 商家退款', size: 24 });
  add(box, 
    h('div', { class: 'row between' }, h('span', { class: 'mono', 'data-test': 'detail-id' }, o.id), badge(o.status, 'detail-status')),
    h('table', { class: 'kv' },
      h('tr', {}, h('td', {}, 'Customer 顾客'), h('td', { class: 'mono' }, o.customer || '—')),
      h('tr', {}, h('td', {}, 'Created 下单'), h('td', {}, when(o.created))),
      o.paid_at ? h('tr', {}, h('td', {}, 'Paid 付款'), h('td', {}, when(o.paid_at))) : null,
      o.shipped_at ? h('tr', {}, h('td', {}, 'Shipped 发货'), h('td', {}, when(o.shipped_at))) : null,
      o.received_at ? h('tr', {}, h('td', {}, 'Received 收货'), h('td', {}, when(o.received_at))) : null,
      h('tr', {}, h('td', {}, 'Ship to 收货地址'), h('td', { 'data-test': 'detail-address' },
        a ? `${a.name} ${a.phone} · ${a.province}${a.city}${a.district} ${a.detail}` : (o.gift ? 'the friend has not accepted yet 待好友填写' : '—'))),
      o.shipment ? h('tr', {}, h('td', {}, 'Shipment 物流'), h('td', { 'data-test': 'detail-shipment' },
        [o.shipment.carrier, o.shipment.tracking_no, o.shipment.method].filter(Boolean).join(' · '))) : null,
      o.note ? h('tr', {}, h('td', {}, 'Note 备注'), h('td', {}, o.note)) : null),
    h('h3', { style: 'margin-top:10px' }, 'Lines 商品'),
    h('table', { class: 'grid' },
      h('tr', {}, h('th', {}, '#'), h('th', {}, 'Item'), h('th', {}, 'Qty'), h('th', {}, 'Payable 实付'), h('th', {}, 'Refunded 已退'), h('th', {}, 'Refund 退款')),
      o.lines.map((l, i) => {
        const left = l.quantity - (l.refunded_quantity || 0);
        const qty = h('input', { type: 'number', min: '1', max: String(left), value: left > 0 ? '1' : '0', class: 'small', 'data-test': 'refund-qty', 'aria-label': 'quantity to refund' });
        return h('tr', { 'data-test': 'detail-line', 'data-line': i },
          h('td', {}, String(i)),
          h('td', {}, `${l.title} ${attrs(l.attributes)}`),
          h('td', {}, String(l.quantity)),
          h('td', {}, money(l.payable)),
          h('td', { 'data-test': 'line-refunded' }, l.refunded_quantity ? `${l.refunded_quantity} · ${money(l.refunded)}` : '—'),
          h('td', {}, refundable.has(o.status) && left > 0 ? h('div', { class: 'row' }, qty,
            h('button', { type: 'button', 'data-test': 'refund-line', onclick: (e) => guard(e.currentTarget,
              () => refund([{ line: i, quantity: parseInt(qty.value, 10) || 0 }], reason.value.trim())) }, 'Refund 退款')) : ''));
      })),
    h('table', { class: 'kv', style: 'margin-top:6px' },
      h('tr', {}, h('td', {}, 'Subtotal 商品金额'), h('td', {}, money(o.subtotal))),
      o.adjustments.map((ad) => h('tr', {}, h('td', {}, `${ad.label} (${ad.kind})`), h('td', {}, `−${money(ad.amount)}`))),
      h('tr', {}, h('td', {}, 'Shipping 运费'), h('td', {}, money(o.shipping))),
      h('tr', {}, h('td', {}, h('b', {}, 'Total 合计')), h('td', { 'data-test': 'detail-total' }, h('b', {}, money(o.total))))),
    refundable.has(o.status) ? h('div', { class: 'row', style: 'margin-top:6px' }, h('span', {}, 'Reason 原因'), reason,
      h('button', { type: 'button', class: 'plain', 'data-test': 'refund-all', onclick: (e) => guard(e.currentTarget, () => refund('all', reason.value.trim())) }, 'Refund all 全部退款')) : null,
    h('h3', { style: 'margin-top:10px' }, 'Refunds 退款记录'),
    h('div', { 'data-test': 'detail-refunds' }, o.refunds.length ? o.refunds.map((r) => h('div', { 'data-test': 'detail-refund', 'data-status': r.status },
      `${money(r.amount)} · `, badge(r.status, 'refund-status'), ` · ${r.reason || ''} · ${when(r.created)}`))
      : h('p', { class: 'muted' }, 'None 无')),
    // WeChat Pay finishes a refund minutes after taking it; the demo's
    // local WeChat Pay does when asked.
    o.refunds.some((r) => r.status === 'pending') ? h('button', { type: 'button', class: 'plain', 'data-test': 'finish-refunds',
      onclick: (e) => guard(e.currentTarget, () => finishRefunds(o.id)) }, 'Dev: WeChat Pay finishes the refunds 微信支付完成退款') : null);
  if (shippable.has(o.status)) {
    const form = h('form', { 'data-test': 'ship-form' },
      h('h3', { style: 'margin-top:10px' }, 'Ship 发货'),
      h('div', { class: 'row' },
        h('label', {}, h('span', {}, 'Method 方式'), h('select', { name: 'method', 'data-test': 'ship-method' },
          h('option', { value: '' }, 'express 快递'), h('option', { value: 'same_city' }, 'same_city 同城配送'),
          h('option', { value: 'pickup' }, 'pickup 到店自提'), h('option', { value: 'virtual' }, 'virtual 虚拟发货'))),
        h('label', {}, h('span', {}, 'Carrier 快递公司'), h('input', { name: 'carrier', list: 'carriers', 'data-test': 'ship-carrier', value: 'SF Express' })),
        h('label', {}, h('span', {}, 'Tracking no. 运单号'), h('input', { name: 'tracking_no', 'data-test': 'ship-tracking' }))),
      h('datalist', { id: 'carriers' }, ['SF Express', 'ZTO Express', 'YTO Express', 'JD Logistics', 'EMS'].map((c) => h('option', { value: c }))),
      h('button', { type: 'submit', class: 'primary', 'data-test': 'ship-submit' }, 'Ship 发货'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      guard(e.submitter, () => ship(form));
    });
    add(box, form);
  }
}

// ---------- promoters ----------

async function loadPromoters() {
  state.promoters = await all(admin('/promoters'));
  const body = $('#promoters');
  body.replaceChildren();
  if (!state.promoters.length) add(body, h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No promoters 暂无推广员')));
  for (const p of state.promoters) {
    add(body, h('tr', { 'data-test': 'promoter-row', 'data-promoter': p.promoter },
      h('td', {}, h('div', { 'data-test': 'promoter-name' }, p.name || '—'), h('div', { class: 'mono muted' }, p.promoter)),
      h('td', {}, when(p.bound_at)),
      h('td', {}, h('button', { type: 'button', 'data-test': 'promoter-statement', onclick: (e) => guard(e.currentTarget, () => statement(p)) }, 'Statement 对账单'))));
  }
}

async function statement(p) {
  const st = await call('GET', admin(`/promoters/${p.promoter}/statement`));
  const box = $('#statement');
  box.replaceChildren(
    h('h3', { style: 'margin-top:10px', 'data-test': 'statement-title' }, `Statement 对账单 · ${p.name || p.promoter}`),
    h('p', { class: 'muted', 'data-test': 'statement-period' }, `${when(st.from)} – ${when(st.to)}`),
    h('table', { class: 'kv', style: 'max-width:420px' },
      h('tr', {}, h('td', {}, 'Orders 订单数'), h('td', { 'data-test': 'statement-orders' }, String(st.orders))),
      h('tr', {}, h('td', {}, 'Pending 待结算'), h('td', { 'data-test': 'statement-pending' }, money(st.pending))),
      h('tr', {}, h('td', {}, 'Settled 已结算'), h('td', { 'data-test': 'statement-settled' }, money(st.settled))),
      h('tr', {}, h('td', {}, 'Cancelled 已取消'), h('td', { 'data-test': 'statement-cancelled' }, money(st.cancelled))),
      h('tr', {}, h('td', {}, 'Clawbacks 追回'), h('td', { 'data-test': 'statement-clawbacks' }, money(st.clawbacks))),
      h('tr', {}, h('td', {}, h('b', {}, 'Payout 应付佣金')), h('td', { 'data-test': 'statement-payout' }, h('b', {}, money(st.payout))))));
  box.hidden = false;
}

// ---------- start ----------

async function loadAll() {
  const results = await Promise.allSettled([loadOrders(), loadProducts(), loadPromoters()]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function start() {
  $('#error [data-test=error-dismiss]').addEventListener('click', clearError);
  $('#orders-refresh').addEventListener('click', (e) => guard(e.currentTarget, loadOrders));
  $('#order-filter').addEventListener('change', () => guard(null, loadOrders));
  $('#products-refresh').addEventListener('click', (e) => guard(e.currentTarget, loadProducts));
  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('#operator-token').value.trim();
    guard(e.submitter, loadAll);
  });
  await guard(null, async () => {
    state.demo = await call('GET', '/demo.json', undefined, { auth: false });
    $('#shop-name').textContent = state.demo.name;
    state.token = state.demo.operator_token;
    $('#operator-token').value = state.token;
    await loadAll();
  });
  document.body.dataset.ready = 'true';
}

start();
