// fuelpay operators' console: plain JS, no build step. Speaks the console
// protocol of proto/src/console.ts over /v1/console/ws. Money is shown only
// as the server-formatted text (amountText, priceText): no money arithmetic
// here. Every value from the server is put in the page with textContent.
// biome-ignore lint/suspicious/noRedundantUseStrict: the page loads this as a classic script, not a module
'use strict'
;(() => {
  const WS_PATH = '/v1/console/ws'
  const KEY_STORE = 'fuelpay.console.apiKey'
  const STALE_AFTER_MS = 25_000
  const PING_EVERY_MS = 10_000
  const BACKOFF_MIN_MS = 500
  const BACKOFF_MAX_MS = 30_000
  const NO_RETRY = new Set([4001, 4003])

  const $ = (id) => document.getElementById(id)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') el.className = v
      else if (k === 'dataset') Object.assign(el.dataset, v)
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
    for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)))
    return el
  }
  /** replaceChildren without the null/false holes that conditional children leave. */
  const fill = (el, ...kids) => el.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false))
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '')

  const state = {
    ws: null,
    apiKey: sessionStorage.getItem(KEY_STORE) || localStorage.getItem(KEY_STORE) || '',
    operator: null,
    stations: new Map(),
    sessions: new Map(),
    alerts: new Map(),
    pending: new Map(),
    lastFrameAt: 0,
    lostAt: 0,
    attempt: 0,
    retryAt: 0,
    retryTimer: 0,
    live: false,
    seq: 0,
  }

  // Connection ---------------------------------------------------------------

  function connect() {
    clearTimeout(state.retryTimer)
    if (!state.apiKey) return showLogin()
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${WS_PATH}`
    setStatus('connecting', state.attempt ? `Reconnecting (try ${state.attempt + 1})` : 'Connecting')
    let ws
    try {
      ws = new WebSocket(url)
    } catch {
      return scheduleReconnect()
    }
    state.ws = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', v: 1, apiKey: state.apiKey }))
    ws.onmessage = (ev) => {
      state.lastFrameAt = Date.now()
      let frame
      try {
        frame = JSON.parse(ev.data)
      } catch {
        return
      }
      onFrame(frame)
    }
    ws.onclose = (ev) => {
      if (state.ws !== ws) return
      state.ws = null
      goStale()
      for (const [, p] of state.pending) p.reject(new Error('connection lost'))
      state.pending.clear()
      if (NO_RETRY.has(ev.code)) {
        forgetKey()
        showLogin(ev.code === 4003 ? 'This key is not an operator key.' : 'The API key was not accepted.')
        return
      }
      scheduleReconnect()
    }
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempt)
    const delay = Math.round(base / 2 + Math.random() * (base / 2))
    state.attempt++
    state.retryAt = Date.now() + delay
    state.retryTimer = setTimeout(connect, delay)
    renderStale()
  }

  function goStale() {
    if (state.live) state.lostAt = Date.now()
    state.live = false
    document.body.classList.add('stale')
    renderStale()
  }

  function renderStale() {
    const banner = $('stale')
    if (state.live || !state.operator) {
      banner.hidden = true
      return
    }
    const wait = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))
    banner.hidden = false
    banner.textContent = `STALE: connection lost at ${new Date(state.lostAt || Date.now()).toLocaleTimeString()}. What you see may be out of date. ${state.ws ? 'Reconnecting now…' : `Reconnecting in ${wait} s.`}`
    setStatus('stale', 'Stale')
  }

  function setStatus(kind, text) {
    const el = $('status')
    el.className = `status ${kind}`
    el.textContent = text
  }

  function send(frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false
    state.ws.send(JSON.stringify(frame))
    return true
  }

  /** Sends a request with an id; resolves with its result/session-detail/error frame. */
  function request(frame) {
    const id = `r${Date.now().toString(36)}${(state.seq++).toString(36)}`
    return new Promise((resolve, reject) => {
      if (!send({ ...frame, id })) return reject(new Error('not connected'))
      const timer = setTimeout(() => {
        state.pending.delete(id)
        reject(new Error('no answer in 20 s'))
      }, 20_000)
      state.pending.set(id, {
        resolve: (f) => {
          clearTimeout(timer)
          resolve(f)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
    })
  }

  // Frames -------------------------------------------------------------------

  function onFrame(f) {
    switch (f.type) {
      case 'welcome':
        state.operator = { id: f.operatorId, name: f.operatorName }
        $('operator').textContent = `${f.operatorName} (${f.operatorId})`
        $('logout').hidden = false
        return
      case 'snapshot':
        state.stations = new Map(f.stations.map((s) => [s.id, s]))
        state.sessions = new Map(f.sessions.map((s) => [s.sessionId, s]))
        state.alerts = new Map(f.alerts.map((a) => [a.id, a]))
        state.live = true
        state.attempt = 0
        state.lostAt = 0
        document.body.classList.remove('stale', 'disconnected')
        setStatus('live', 'Live')
        renderStale()
        renderAll()
        return
      case 'pump':
        return onPump(f.pump)
      case 'station': {
        const s = state.stations.get(f.stationId)
        if (!s) return
        Object.assign(s, { online: f.online, backlog: f.backlog, statusAt: f.statusAt })
        renderStationHead(s)
        // Its pumps' numbers stop being live when it goes offline, and are again when it returns.
        for (const p of s.pumps) renderPump(p)
        return
      }
      case 'prices': {
        const s = state.stations.get(f.stationId)
        if (!s) return
        for (const p of f.pumps) {
          const pump = s.pumps.find((x) => x.pump === p.pump)
          if (pump) {
            pump.grades = p.grades
            renderPump(pump)
          }
        }
        return
      }
      case 'session':
        state.sessions.set(f.session.sessionId, f.session)
        return renderSessions()
      case 'alert':
        if (f.alert.active) state.alerts.set(f.alert.id, f.alert)
        else {
          const a = state.alerts.get(f.alert.id)
          if (a) {
            a.active = false
            a.clearedAt = new Date().toISOString()
            setTimeout(() => {
              if (state.alerts.get(f.alert.id) === a) {
                state.alerts.delete(f.alert.id)
                renderAlerts()
              }
            }, 60_000)
          }
        }
        return renderAlerts()
      case 'result':
      case 'session-detail':
      case 'error': {
        const p = f.id && state.pending.get(f.id)
        if (p) {
          state.pending.delete(f.id)
          p.resolve(f)
        } else if (f.type === 'error') toast(`${f.reason.code}: ${f.reason.message}`, 'bad')
        return
      }
      case 'pong':
        return
    }
  }

  function onPump(p) {
    const s = state.stations.get(p.stationId)
    if (!s) return
    const i = s.pumps.findIndex((x) => x.pump === p.pump)
    if (i >= 0) s.pumps[i] = p
    else s.pumps.push(p)
    renderPump(p)
  }

  // Rendering ----------------------------------------------------------------

  function renderAll() {
    const root = $('stations')
    root.replaceChildren()
    if (state.stations.size === 0) root.append(h('p', { class: 'empty' }, 'No stations yet for this operator.'))
    for (const s of state.stations.values()) {
      root.append(
        h(
          'article',
          { class: 'station', id: `station-${s.id}`, dataset: { station: s.id } },
          h('div', { class: 'station-head' }),
          h('div', { class: 'pumps' }, s.pumps.map((p) => h('div', { class: 'pump', id: pumpDomId(p), dataset: { pump: `${p.stationId}/${p.pump}` } }))),
        ),
      )
      renderStationHead(s)
      for (const p of s.pumps) renderPump(p)
    }
    renderAlerts()
    renderSessions()
  }

  const pumpDomId = (p) => `pump-${p.stationId}-${p.pump}`

  function renderStationHead(s) {
    const card = document.getElementById(`station-${s.id}`)
    if (!card) return
    card.classList.toggle('offline', s.online === false)
    const online = s.online === true ? h('span', { class: 'badge on' }, 'online') : s.online === false ? h('span', { class: 'badge off' }, 'offline') : h('span', { class: 'badge unknown' }, 'no report yet')
    fill(card.querySelector('.station-head'),
      h('h2', {}, s.name),
      h('span', { class: 'sid mono' }, s.id),
      online,
      s.backlog > 0 ? h('span', { class: 'badge backlog' }, `${s.backlog} unsent sale${s.backlog === 1 ? '' : 's'}`) : null,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'price-btn', onclick: () => openPrice(s) }, 'Change price'),
    )
  }

  function renderPump(p) {
    const el = document.getElementById(pumpDomId(p))
    if (!el) return renderAll()
    el.dataset.state = p.state
    const grade = p.grade ? p.grades.find((g) => g.grade === p.grade) : undefined
    const session = p.sessionId ? state.sessions.get(p.sessionId) : undefined
    // An offline station sends nothing: what its pump shows is its last report, not what it is doing now.
    const station = state.stations.get(p.stationId)
    const unheard = station?.online === false && p.state !== 'offline'
    el.classList.toggle('unheard', unheard)
    fill(
      el,
      h('div', { class: 'pump-top' }, h('span', { class: 'pump-no' }, p.pump), h('span', { class: 'state' }, p.state), p.inService ? null : h('span', { class: 'badge off' }, 'out of service')),
      unheard ? h('div', { class: 'unheard-note' }, `Station offline: last report ${p.updatedAt ? time(p.updatedAt) : 'unknown'}`) : null,
      h('div', { class: 'amount' }, p.amountText),
      h('div', { class: 'volume' }, p.volumeText),
      p.grade ? h('div', { class: 'grade' }, h('strong', {}, p.grade), grade ? ` @ ${grade.priceText}` : '') : h('div', { class: 'prices' }, p.grades.map((g) => `${g.grade} ${g.priceText}`).join(' · ')),
      p.reason && p.state !== 'idle' ? h('div', { class: 'why' }, p.reason.message) : null,
      h(
        'div',
        { class: 'pump-actions' },
        p.state === 'suspended'
          ? h('button', { type: 'button', class: 'resume', onclick: () => pumpCommand('resume-pump', p) }, 'Resume')
          : h('button', { type: 'button', class: 'estop', disabled: p.state === 'offline' ? true : undefined, onclick: () => pumpCommand('emergency-stop', p) }, 'Stop'),
        p.sessionId ? h('button', { type: 'button', class: 'ghost', onclick: () => openDetail(p.sessionId) }, session ? 'Session' : 'Session…') : null,
      ),
    )
  }

  function renderAlerts() {
    const list = [...state.alerts.values()].sort((a, b) => Number(b.active) - Number(a.active) || (a.severity === 'critical' ? -1 : 1) || b.since.localeCompare(a.since))
    const active = list.filter((a) => a.active).length
    const count = $('alert-count')
    count.textContent = String(active)
    count.classList.toggle('hot', active > 0)
    $('alerts').replaceChildren(
      ...(list.length === 0
        ? [h('li', { class: 'hint' }, 'No alerts.')]
        : list.map((a) =>
            h(
              'li',
              { class: `alert ${a.severity}${a.active ? '' : ' cleared'}`, dataset: { kind: a.kind } },
              h('div', {}, a.active ? '' : '✓ cleared: ', a.message),
              h('div', { class: 'when' }, `${a.kind} · since ${time(a.since)}`),
              // A declined late capture stays until someone has dealt with the unpaid fuel.
              a.active && a.kind === 'settlement-failed' && a.reasonCode
                ? h('button', { type: 'button', class: 'ack', onclick: () => acknowledge(a) }, 'Acknowledge')
                : false,
            ),
          )),
    )
  }

  function renderSessions() {
    const list = [...state.sessions.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, 40)
    $('sessions').replaceChildren(
      ...(list.length === 0
        ? [h('li', { class: 'hint' }, 'No sessions yet.')]
        : list.map((s) =>
            h(
              'li',
              { class: 'session', tabindex: 0, onclick: () => openDetail(s.sessionId), onkeydown: (e) => e.key === 'Enter' && openDetail(s.sessionId) },
              h('span', { class: 'st' }, `${s.stationId} · pump ${s.pump} · ${s.state}${s.settling ? ' (settling)' : ''}`),
              h('span', { class: 'amt' }, s.state === 'captured' ? s.capturedText : s.holdText),
              h('span', { class: 'sid' }, s.sessionId),
              h('span', { class: 'amt hint' }, time(s.updatedAt)),
            ),
          )),
    )
    for (const st of state.stations.values()) for (const p of st.pumps) if (p.sessionId) renderPump(p)
  }

  // Commands -----------------------------------------------------------------

  function confirmDialog(title, text, yesLabel) {
    const d = $('confirm')
    $('confirm-title').textContent = title
    $('confirm-text').textContent = text
    $('confirm-yes').textContent = yesLabel
    return new Promise((resolve) => {
      d.addEventListener('close', () => resolve(d.returnValue === 'yes'), { once: true })
      d.returnValue = ''
      d.showModal()
      $('confirm-no').focus()
    })
  }

  async function run(frame, okText) {
    try {
      const r = await request(frame)
      if (r.type === 'result' && r.ok) toast(okText, 'ok')
      else toast(`Refused: ${r.reason ? `${r.reason.code} (${r.reason.message})` : 'unknown'}`, 'bad')
      return r
    } catch (e) {
      toast(`Not sent: ${e.message}`, 'bad')
      return undefined
    }
  }

  async function acknowledge(a) {
    const yes = await confirmDialog('Acknowledge alert', `${a.message}\n\nMark this as dealt with? It clears for every console of your company.`, 'Acknowledge')
    if (yes) await run({ type: 'acknowledge-alert', alertId: a.id }, 'Alert acknowledged')
  }

  async function pumpCommand(type, p) {
    const s = state.stations.get(p.stationId)
    const stop = type === 'emergency-stop'
    const yes = await confirmDialog(
      stop ? 'Emergency stop' : 'Resume pump',
      stop ? `Stop pump ${p.pump} at ${s ? s.name : p.stationId} now? Fuel flow stops immediately.` : `Let pump ${p.pump} at ${s ? s.name : p.stationId} sell again?`,
      stop ? `Stop pump ${p.pump}` : 'Resume',
    )
    if (!yes) return
    await run({ type, stationId: p.stationId, pump: p.pump }, stop ? `Pump ${p.pump} stopped` : `Pump ${p.pump} resumed`)
  }

  /** "1.859" or "1,859" -> 1859 thousandths, by string arithmetic only (no floats for money). */
  function parsePriceMilli(text) {
    const m = /^(\d{1,6})(?:[.,](\d{1,3}))?$/.exec(String(text).trim())
    if (!m) return undefined
    const milli = Number(m[1]) * 1000 + Number((m[2] || '').padEnd(3, '0'))
    return milli >= 1 ? milli : undefined
  }

  function openPrice(s) {
    const grades = new Map()
    for (const p of s.pumps) for (const g of p.grades) if (!grades.has(g.grade)) grades.set(g.grade, g)
    $('price-station').textContent = s.name
    $('price-grade').replaceChildren(...[...grades.keys()].map((g) => h('option', { value: g }, g)))
    $('price-pump').replaceChildren(h('option', { value: '' }, 'all pumps selling it'), ...s.pumps.map((p) => h('option', { value: String(p.pump) }, `pump ${p.pump}`)))
    const showCurrent = () => {
      const g = grades.get($('price-grade').value)
      $('price-current').textContent = g ? `Current: ${g.priceText}` : ''
    }
    $('price-grade').onchange = showCurrent
    showCurrent()
    $('price-error').textContent = ''
    $('price-value').value = ''
    const d = $('price')
    d.returnValue = ''
    d.showModal()
    d.addEventListener(
      'close',
      async () => {
        if (d.returnValue !== 'ok') return
        const grade = $('price-grade').value
        const milli = parsePriceMilli($('price-value').value)
        if (!milli) return toast('Not a price: use digits with up to three decimals, e.g. 1.859', 'bad')
        const pump = $('price-pump').value ? Number($('price-pump').value) : undefined
        const text = `${String(Math.floor(milli / 1000))}.${String(milli % 1000).padStart(3, '0')} ${s.currency}/${s.volumeUnit}`
        const yes = await confirmDialog('Change price', `Set ${grade} to ${text} at ${pump ? `pump ${pump}` : 'every pump selling it'} of ${s.name}?`, 'Change price')
        if (!yes) return
        await run({ type: 'set-price', stationId: s.id, ...(pump ? { pump } : {}), grade, unitPriceMilli: milli }, `${grade} now ${text}`)
      },
      { once: true },
    )
  }

  /** "completed: 20.000 L diesel = 36.98 EUR at 1.849 EUR/L (held at 1.799 EUR/L)". */
  function saleText(sale) {
    const grade = sale.grade ? ` ${sale.grade}` : ''
    const price = sale.priceText ? ` at ${sale.priceText}` : ''
    const changed = sale.authorizedPriceText ? ` (held at ${sale.authorizedPriceText})` : ''
    return `${sale.outcome}: ${sale.volumeText}${grade} = ${sale.amountText}${price}${changed}`
  }

  async function openDetail(sessionId) {
    const d = $('detail')
    $('detail-id').textContent = sessionId
    $('detail-facts').replaceChildren()
    $('detail-ledger').replaceChildren()
    $('detail-error').textContent = 'Loading…'
    $('detail-void').hidden = true
    if (!d.open) d.showModal()
    let f
    try {
      f = await request({ type: 'session-detail', sessionId })
    } catch (e) {
      $('detail-error').textContent = e.message
      return
    }
    if (f.type === 'error') {
      $('detail-error').textContent = `${f.reason.code}: ${f.reason.message}`
      return
    }
    $('detail-error').textContent = ''
    const s = f.session
    const facts = [
      ['State', `${s.state}${s.settling ? ' (settling)' : ''}`],
      ['Station / pump', `${s.stationId} / ${s.pump}`],
      ['Vehicle', s.vehicleId],
      ['Hold', s.holdText],
      ['Captured', s.capturedText],
      ['Sale', f.sale ? saleText(f.sale) : 'none yet'],
      ['Reason', s.reasonCode ? `${s.reasonCode}: ${s.reasonMessage || ''}` : ''],
      ['Created', new Date(s.createdAt).toLocaleString()],
      ['Updated', new Date(s.updatedAt).toLocaleString()],
    ]
    $('detail-facts').replaceChildren(...facts.filter(([, v]) => v).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))
    const rows = f.ledger.flatMap((e) => e.postings.map((p, i) => h('tr', {}, h('td', { class: 'mono' }, i === 0 ? e.entryId : ''), h('td', {}, i === 0 ? e.kind : ''), h('td', { class: 'mono' }, p.account), h('td', { class: 'num' }, p.amountText), h('td', {}, i === 0 ? time(e.createdAt) : ''))))
    $('detail-ledger').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'No ledger entries.'))]))
    const voidable = (s.state === 'held' || s.state === 'pump_authorized') && !s.settling
    const btn = $('detail-void')
    btn.hidden = !voidable
    btn.onclick = async () => {
      const yes = await confirmDialog('Void session', `Void session ${s.sessionId} at ${s.stationId} pump ${s.pump} and release its hold of ${s.holdText}?`, 'Void session')
      if (!yes) return
      const r = await run({ type: 'void-session', sessionId: s.sessionId }, 'Session voided')
      if (r?.ok) openDetail(s.sessionId)
    }
  }

  function toast(text, kind) {
    const el = h('div', { class: `toast ${kind || ''}`, role: 'status' }, text)
    $('toasts').append(el)
    setTimeout(() => el.remove(), 6000)
  }

  // Login --------------------------------------------------------------------

  function forgetKey() {
    state.apiKey = ''
    sessionStorage.removeItem(KEY_STORE)
    localStorage.removeItem(KEY_STORE)
  }

  function showLogin(error) {
    setStatus('', 'Not connected')
    $('login-error').textContent = error || ''
    const d = $('login')
    if (!d.open) d.showModal()
    $('api-key').focus()
  }

  $('login-form').addEventListener('submit', () => {
    state.apiKey = $('api-key').value.trim()
    $('api-key').value = ''
    if ($('remember').checked) localStorage.setItem(KEY_STORE, state.apiKey)
    else sessionStorage.setItem(KEY_STORE, state.apiKey)
    state.attempt = 0
    if (state.ws) state.ws.close()
    connect()
  })
  $('logout').addEventListener('click', () => {
    forgetKey()
    const ws = state.ws
    state.ws = null
    if (ws) ws.close()
    location.reload()
  })

  // Liveness: a ping keeps the path warm; silence past STALE_AFTER_MS means the data is stale.
  setInterval(() => {
    $('clock').textContent = new Date().toLocaleTimeString()
    if (state.ws && state.live) {
      if (Date.now() - state.lastFrameAt > STALE_AFTER_MS) {
        const ws = state.ws
        goStale()
        ws.close()
      }
    } else renderStale()
  }, 1000)
  setInterval(() => {
    if (state.live) send({ type: 'ping', id: `p${Date.now().toString(36)}` })
  }, PING_EVERY_MS)

  connect()
})()
