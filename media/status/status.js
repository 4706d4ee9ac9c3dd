// Leaderless Sync status webview. Plain script, no framework: it renders the
// snapshots the extension posts (src/vscode/status/status-model.ts shapes
// them) and nothing else. Handshake: this script posts {type:'ready'} once it
// runs; the extension answers with {type:'snapshot', snapshot}. The last
// snapshot is kept with setState, so a panel shown again (or restored after a
// reload) renders at once, before the extension answers.
// All text goes in through textContent: nothing the engine says is parsed as HTML.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const root = document.getElementById('root');

  // ---- formatting ----
  const nf = new Intl.NumberFormat();
  function num(n) {
    return typeof n === 'number' && isFinite(n) ? nf.format(Math.round(n)) : '—';
  }
  function duration(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return '—';
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60) + ' s';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' days';
  }
  function days(ms) {
    const d = Math.round((ms / 86400000) * 100) / 100;
    return d + ' day' + (d === 1 ? '' : 's');
  }
  function ago(at, now) {
    if (typeof at !== 'number' || !isFinite(at)) return 'never';
    const d = (now - at) / 1000;
    if (d < 5) return 'just now';
    return duration(d) + ' ago';
  }
  function time(at) {
    if (typeof at !== 'number' || !isFinite(at)) return '—';
    const d = new Date(at);
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
  }
  function iso(at) {
    return typeof at === 'number' && isFinite(at) ? new Date(at).toISOString() : '';
  }
  function pct(p) {
    return typeof p === 'number' && isFinite(p) ? (p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '%' : '—';
  }
  function skew(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '—';
    return duration(Math.abs(ms) / 1000) + (ms >= 0 ? ' ahead' : ' behind');
  }

  // ---- DOM helpers ----
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'text') e.textContent = String(v);
        else if (k === 'className') e.className = v;
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children || []) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function section(id, title, children) {
    const h = el('h2', { id: id + '-h', text: title });
    return el('section', { id: id, 'aria-labelledby': id + '-h' }, [h].concat(children));
  }
  function note(text, kind) {
    return el('p', { className: 'note' + (kind ? ' ' + kind : ''), text: text });
  }
  function table(caption, headers, rows, numeric) {
    const thead = el('thead', null, [el('tr', null, headers.map((h, i) => el('th', { scope: 'col', className: numeric && numeric[i] ? 'num' : null, text: h })))]);
    const tbody = el(
      'tbody',
      null,
      rows.map((r) =>
        el(
          'tr',
          null,
          r.map((c, i) => {
            const cell = i === 0 ? el('th', { scope: 'row' }) : el('td');
            if (numeric && numeric[i]) cell.className = 'num';
            if (c instanceof Node) cell.append(c);
            else cell.textContent = c === null || c === undefined ? '—' : String(c);
            return cell;
          }),
        ),
      ),
    );
    return el('table', null, [el('caption', { className: 'visually-hidden', text: caption }), thead, tbody]);
  }
  function dl(pairs) {
    const d = el('dl');
    for (const [k, v] of pairs) {
      d.append(el('dt', { text: k }));
      const dd = el('dd');
      if (v instanceof Node) dd.append(v);
      else dd.textContent = v === null || v === undefined ? '—' : String(v);
      d.append(dd);
    }
    return d;
  }
  function bar(percent, label) {
    const p = typeof percent === 'number' && isFinite(percent) ? Math.max(0, Math.min(100, percent)) : null;
    const fill = el('div', { className: 'bar-fill' });
    fill.style.width = (p === null ? 0 : p) + '%';
    return el(
      'div',
      { className: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': p === null ? null : p.toFixed(1) },
      [fill],
    );
  }
  function badge(text, kind) {
    return el('span', { className: 'badge ' + (kind || ''), text: text });
  }
  function button(label, command, title, device) {
    const b = el('button', { type: 'button', text: label, title: title || null, 'data-key': command + ':' + (device || '') });
    b.addEventListener('click', () => vscode.postMessage({ type: 'command', command: command, device: device }));
    return b;
  }

  const STATE_KIND = { ready: 'ok', backfilling: 'busy', 'catching-up': 'busy', connecting: 'busy', offline: 'off', paused: 'warn', uninitialized: 'off', failed: 'err' };

  // ---- skeleton (built once: focus and the library picker survive updates) ----
  const liveState = el('p', { id: 'state-live', className: 'state-live', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const picker = el('select', { id: 'library-picker', 'aria-label': 'Library' });
  picker.addEventListener('change', () => {
    vscode.postMessage({ type: 'selectLibrary', library: picker.value || null });
  });
  const pickerWrap = el('label', { className: 'picker', hidden: true }, [el('span', { text: 'Library ' }), picker]);
  const subtitle = el('p', { className: 'subtitle' });
  const banner = el('div', { id: 'engine', className: 'banner', hidden: true });
  const actions = el('div', { className: 'actions' });
  const body = el('div', { id: 'body' });
  root.replaceChildren(el('header', null, [el('h1', { text: 'Sync status' }), subtitle, pickerWrap, liveState, actions]), banner, body);

  let lastLive = '';
  function setLive(text) {
    if (text !== lastLive) {
      lastLive = text;
      liveState.textContent = text;
    }
  }

  function renderPicker(s) {
    const libs = s.libraries || [];
    pickerWrap.hidden = libs.length < 2;
    const key = libs.map((l) => l.library + '\u0000' + l.name).join('\u0001');
    if (picker.dataset.key !== key) {
      picker.dataset.key = key;
      picker.replaceChildren(...libs.map((l) => el('option', { value: l.library, text: l.name })));
    }
    if (s.selected && picker.value !== s.selected) picker.value = s.selected;
  }

  function render(s) {
    root.removeAttribute('aria-busy');
    renderPicker(s);
    const lib = s.library;
    subtitle.textContent = lib
      ? lib.name + ' · this device: ' + (lib.deviceName || lib.device.slice(0, 8)) + (lib.deviceName ? ' (' + lib.device.slice(0, 8) + ')' : '')
      : s.engine.available
        ? ''
        : '';
    if (lib) {
      // What the library holds, from status's counts (models with a name people know).
      const c = lib.counts || {};
      const parts = [['entry', 'entry', 'entries'], ['location', 'location', 'locations'], ['tag', 'tag', 'tags'], ['album', 'album', 'albums'], ['device', 'device', 'devices']]
        .filter(([m]) => typeof c[m] === 'number')
        .map(([m, one, many]) => num(c[m]) + ' ' + (c[m] === 1 ? one : many));
      if (parts.length) subtitle.textContent += ' · ' + parts.join(' · ');
    }
    const current = (s.states || []).find((x) => x.current);
    if (!s.engine.available) setLive(s.engine.message || 'Engine not available');
    else if (!lib) setLive('No library yet: create one, or join one from another device.');
    else setLive('Sync state: ' + (current ? current.label : lib.state));

    // Engine unavailable: the state line itself becomes the (calm) banner, and the actions offer the log.
    liveState.className = 'state-live' + (s.engine.available ? '' : ' banner ' + (s.engine.connection === 'starting' ? 'info' : 'calm'));
    banner.hidden = true;
    // Rebuilt only when they change, so a focused button keeps its focus across updates.
    const suspended = (s.network && s.network.state === 'suspended') || (lib && lib.state === 'paused');
    const actionsKey = s.engine.available ? (lib ? (suspended ? 'paused' : 'running') : 'none') : 'log';
    if (actions.dataset.key !== actionsKey) {
      actions.dataset.key = actionsKey;
      actions.replaceChildren();
    }
    if (actionsKey === 'log' && !actions.firstChild) actions.append(button('Show Log', 'leaderlessSync.showLog'));
    if (actionsKey === 'none' && !actions.firstChild) {
      actions.append(button('Create Library', 'leaderlessSync.createLibrary'), button('Join Library', 'leaderlessSync.joinLibrary', 'Join with an invite code from another device'), button('Show Log', 'leaderlessSync.showLog'));
    }
    if ((actionsKey === 'paused' || actionsKey === 'running') && !actions.firstChild) {
      actions.append(
        suspended ? button('Resume Sync', 'leaderlessSync.resumeSync') : button('Pause Sync', 'leaderlessSync.pauseSync', 'Leave the network until resumed'),
        button('Full Resync', 'leaderlessSync.fullResync', 'Backfill everything again from every partner'),
        button('Show Log', 'leaderlessSync.showLog'),
      );
    }

    const parts = [];
    parts.push(renderStates(s));
    if (s.engine.available) {
      parts.push(renderNetwork(s));
      if (lib) {
        parts.push(renderBackfill(s), renderLog(s), renderPeers(s), renderChanges(s), renderRefused(s), renderErrors(s));
      }
      if (s.problems && s.problems.length) {
        parts.push(section('problems', 'Libraries that could not be opened', [table('Libraries that could not be opened', ['Library', 'Error'], s.problems.map((p) => [p.library, p.error]))]));
      }
    }
    parts.push(el('p', { className: 'updated', text: 'Updated ' + time(s.at) }));
    // The sections are rebuilt on every update: a focused button in them gets its focus back.
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.getAttribute('data-key') : null;
    body.replaceChildren(...parts);
    if (focused) {
      const again = body.querySelector('[data-key="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
  }

  function renderStates(s) {
    const items = (s.states || []).map((x) =>
      el('li', { className: 'step' + (x.current ? ' current ' + (STATE_KIND[x.state] || '') : ''), 'aria-current': x.current ? 'step' : null, title: x.description }, [
        el('span', { className: 'step-label', text: x.label }),
        x.current ? el('span', { className: 'visually-hidden', text: ' (current)' }) : null,
      ]),
    );
    const cur = (s.states || []).find((x) => x.current);
    const why = s.library && s.library.error ? el('p', { className: 'error-text', role: 'alert', text: s.library.error }) : null;
    return section('states', 'Sync state', [el('ol', { className: 'states', 'aria-label': 'Sync states' }, items), cur ? note(cur.description) : note(!s.engine.available ? 'Unknown while the engine is not available.' : s.library ? 'State: ' + s.library.state : 'No library yet.'), why]);
  }

  function renderNetwork(s) {
    const n = s.network;
    if (!n) return section('network', 'Network', [note('Not reported.')]);
    const labels = { up: 'On the swarm', off: 'Off (no networking)', suspended: 'Suspended', unavailable: 'Unavailable' };
    const kinds = { up: 'ok', off: 'off', suspended: 'warn', unavailable: 'err' };
    const pairs = [['State', badge(labels[n.state] || n.state, kinds[n.state])]];
    if (n.announced !== null) pairs.push(['Announced on the DHT', n.announced ? 'yes' : 'not yet']);
    if (n.error) pairs.push(['Error', n.error]);
    pairs.push(['Bootstrap nodes', n.bootstrap && n.bootstrap.length ? n.bootstrap.join(', ') : 'public Hyperswarm nodes']);
    if (s.service && s.service.publicKey) pairs.push(['Device key', el('code', { text: s.service.publicKey.slice(0, 16) + '…', title: s.service.publicKey })]);
    return section('network', 'Network', [dl(pairs)]);
  }

  function renderBackfill(s) {
    const b = s.backfill;
    const lib = s.library;
    if (!b) {
      const msg = lib.backfilled === false ? 'No backfill has run yet: this device has not received its library.' : 'No backfill or catch-up since the engine started.';
      return section('backfill', 'Backfill', [note(msg)]);
    }
    const summary = b.done
      ? 'Done: ' + num(b.received) + ' of ' + num(b.announced) + ' rows.'
      : num(b.received) + ' of ' + num(b.announced) + ' rows (' + pct(b.percent) + ')';
    const pairs = [
      ['Rate', b.rate === null ? (b.done ? '—' : 'measuring…') : (b.rate > 0 && b.rate < 10 ? b.rate.toFixed(1) : num(b.rate)) + ' rows/s (last 10 s)'],
      ['Time left', b.done ? 'none' : b.etaSeconds === null ? (b.rate === 0 ? 'stalled' : 'estimating…') : '≈ ' + duration(b.etaSeconds)],
    ];
    if (b.serving !== null) pairs.push(['Partners serving', num(b.serving)]);
    if (lib.backfilled !== null) pairs.push(['First backfill completed', lib.backfilled ? 'yes' : 'not yet']);
    const children = [el('p', { className: 'summary', text: summary }), bar(b.percent, 'Backfill progress'), dl(pairs)];
    if (b.models.length) {
      children.push(
        table(
          'Backfill progress per model',
          ['Model', 'Received', 'Announced', 'Progress'],
          b.models.map((m) => [m.model, num(m.received), num(m.announced), pct(m.announced > 0 ? (m.received / m.announced) * 100 : null)]),
          [false, true, true, true],
        ),
      );
    }
    return section('backfill', 'Backfill', children);
  }

  function renderLog(s) {
    const l = s.log;
    // The horizon is a count: entries pruned so far (each origin's log is pruned up to a seq every partner acknowledged).
    let horizon = 'nothing pruned yet';
    if (typeof l.horizon === 'number') horizon = num(l.horizon) + ' entr' + (l.horizon === 1 ? 'y' : 'ies') + ' pruned (acknowledged by every partner)';
    const pairs = [
      ['Entries kept', l.size === null ? '—' : num(l.size) + ' shared change' + (l.size === 1 ? '' : 's') + ' not yet acknowledged by every partner'],
      ['Pruning horizon', horizon],
    ];
    if (l.pruneAbsentAfterMs === 'none') pairs.push(['Absent partners', 'hold the log back however long they are away']);
    else if (typeof l.pruneAbsentAfterMs === 'number') {
      pairs.push(['Absent partners', 'a partner not heard from for ' + days(l.pruneAbsentAfterMs) + ' stops holding the log back; it gets a snapshot when it returns (setting leaderlessSync.pruneAbsentAfterDays)']);
    }
    if (l.prunedAt !== null) pairs.push(['Last pruned', el('span', { title: iso(l.prunedAt), text: time(l.prunedAt) + ' (' + ago(l.prunedAt, s.at) + ')' + (l.prunedEntries !== null ? ', ' + num(l.prunedEntries) + ' since the engine started' : '') })]);
    if (s.library.parked !== null) pairs.push(['Parked records', num(s.library.parked) + ' waiting for their parent']);
    const children = [dl(pairs)];
    if (l.origins.length) {
      children.push(table('Pruning horizon per origin device', ['Written by', 'Pruned up to'], l.origins.map((o) => [el('span', { title: o.device, text: o.name }), num(o.pruned)]), [false, true]));
    }
    return section('log', 'Peer log', children);
  }

  function renderPeers(s) {
    const p = s.peers;
    const children = [];
    if (p.note) children.push(note(p.note));
    if (p.available && p.items.length === 0) children.push(note('No partner devices yet. Invite a device to sync with it.'));
    if (p.items.length) {
      const rows = p.items.map((x) => {
        const st = x.paused ? 'paused' : x.state;
        let progress = '—';
        if (x.backfill) progress = el('span', null, [bar(x.backfill.percent, 'Backfill from ' + x.name), el('span', { className: 'small', text: num(x.backfill.received) + ' / ' + num(x.backfill.announced) })]);
        return [
          el('span', { title: x.device, text: x.name }),
          x.cutOffUntil ? el('span', { title: 'It sent more invalid frames or records than allowed: its connections are refused until ' + iso(x.cutOffUntil) + ' (longer each time it happens again). See the activity below for what it sent.' }, [badge('cut off', 'err'), el('span', { className: 'small', text: ' until ' + time(x.cutOffUntil) })]) : badge(st, STATE_KIND[st]),
          x.online ? 'online' : 'offline',
          x.online ? 'now' : el('span', { title: iso(x.lastSeen), text: ago(x.lastSeen, s.at) }),
          progress,
          heldBack(x, s),
          verifiedCell(x),
          p.source === 'peers' ? peerActions(x) : '—',
        ];
      });
      children.push(table('Partner devices', ['Device', 'State', 'Link', 'Last seen', 'Backfill', 'Log held back', 'Its files here', 'Actions'], rows, [false, false, false, false, false, true, false, false]));
    }
    return section('peers', 'Peers', children);
  }

  // The log entries kept for a partner (those it has not acknowledged), and until when if it stays away.
  function heldBack(x, s) {
    if (x.lag === null) return '—';
    if (x.holdsLog === false) {
      const horizon = typeof s.log.pruneAbsentAfterMs === 'number' ? days(s.log.pruneAbsentAfterMs) : 'the horizon';
      const entries = num(x.lag) + ' unacknowledged entr' + (x.lag === 1 ? 'y' : 'ies');
      if (x.online) {
        return el('span', {
          title: 'Connected, but has not acknowledged for longer than ' + horizon + ' (since ' + iso(x.holdsLogUntil) + '): ' + entries + ' may be pruned; it gets a snapshot for them.',
          text: 'none (no acks > ' + horizon + ')',
        });
      }
      return el('span', {
        title: 'Away longer than ' + horizon + ' (since ' + iso(x.holdsLogUntil) + '): ' + entries + ' may be pruned; it gets a snapshot when it returns.',
        text: 'none (away > ' + horizon + ')',
      });
    }
    if (x.online || x.holdsLogUntil === null || x.lag === 0) return num(x.lag);
    return el('span', { title: 'It stops holding the log back at ' + iso(x.holdsLogUntil) + ' unless heard from before (last seen, or its oldest unacknowledged entry, + ' + (typeof s.log.pruneAbsentAfterMs === 'number' ? days(s.log.pruneAbsentAfterMs) : 'the horizon') + ').', text: num(x.lag) + ' until ' + time(x.holdsLogUntil) });
  }

  // Whether what this device holds of the partner's files and folders is exactly what it signed.
  function verifiedCell(x) {
    const v = x.verified;
    if (!v) return '—';
    const rows = num(v.rows) + ' record' + (v.rows === 1 ? '' : 's') + ' here';
    const signed = v.sealedRows === null ? 'no signature of it here' : 'it signed ' + num(v.sealedRows);
    switch (v.state) {
      case 'verified':
        return el('span', { title: 'Exactly what it signed (' + rows + ')' + (v.since !== null ? ', since ' + iso(v.since) : '') + '.' }, [
          badge('verified', 'ok'),
          v.since !== null ? el('span', { className: 'small', text: ' since ' + time(v.since) }) : null,
        ]);
      case 'behind':
        return el('span', { title: 'It has signed newer records than are here (' + rows + ', ' + signed + '): catching up.' }, [badge('not yet', 'busy')]);
      case 'unproven':
        return el('span', { title: 'No signature of it covers the records here yet (' + rows + ', ' + signed + ').' }, [badge('unproven', 'warn')]);
      case 'mismatch':
        return el('span', { title: 'The records here are NOT what it signed (' + rows + ', ' + signed + '): forged or some missing; being repaired.' }, [badge('mismatch', 'err')]);
      case 'none':
        return el('span', { title: 'Nothing of it here yet.', text: 'none yet' });
      default:
        return v.state;
    }
  }

  function peerActions(x) {
    const label = x.name;
    const wrap = el('span', { className: 'row-actions' });
    if (x.paused) wrap.append(button('Resume', 'leaderlessSync.resumePeer', 'Resume syncing with ' + label, x.device));
    else {
      wrap.append(button('Pause', 'leaderlessSync.pausePeer', 'Pause syncing with ' + label, x.device));
      if (x.online) wrap.append(button('Backfill', 'leaderlessSync.backfillFromPeer', 'Backfill everything from ' + label, x.device));
    }
    for (const b of wrap.children) b.setAttribute('aria-label', b.title);
    return wrap;
  }

  function changeTable(caption, sec, s) {
    if (!sec.available) return note(sec.note || 'Not reported.');
    if (!sec.items.length) return note('None yet.');
    return table(
      caption,
      ['Time', 'Device', 'Model', 'Changes'],
      sec.items.map((c) => [el('span', { title: iso(c.at), text: time(c.at) }), who(c.name, c.device), c.model, num(c.count)]),
      [false, false, false, true],
    );
  }

  function renderChanges(s) {
    return section('changes', 'Recent changes', [
      el('h3', { text: 'Received' }),
      changeTable('Changes received', s.received, s),
      el('h3', { text: 'Sent' }),
      changeTable('Changes sent', s.sent, s),
    ]);
  }

  function who(name, device) {
    return el('span', { title: device || '', text: name || (device || '').slice(0, 8) || '—' });
  }

  function renderRefused(s) {
    const r = s.refused;
    let content;
    if (!r.available) content = note(r.note || 'Not reported.');
    else if (!r.items.length) content = note('None: every partner’s clock is within the allowed drift.');
    else
      content = table(
        'Refused stamps',
        ['Time', 'From', 'Record', 'Reason', 'Clock skew'],
        r.items.map((x) => [
          el('span', { title: iso(x.at), text: time(x.at) }),
          who(x.name, x.device),
          (x.model || '—') + (x.origin && x.origin !== x.device ? ' written by ' + x.origin.slice(0, 8) : ''),
          x.reason,
          x.skewMs === null || x.skewMs === undefined ? 'invalid' : skew(x.skewMs),
        ]),
        [false, false, false, false, true],
      );
    return section('refused', 'Refused clock-skewed stamps', [content]);
  }

  function renderErrors(s) {
    const r = s.errors;
    let content;
    if (!r.available) content = note(r.note || 'Not reported.');
    else if (!r.items.length) content = note('No errors.');
    else
      content = table(
        'Errors',
        ['Time', 'Partner', 'Message'],
        r.items.map((x) => [el('span', { title: iso(x.at), text: time(x.at) }), x.device || x.name ? who(x.name, x.device) : '—', el('span', { className: 'error-text', text: x.message })]),
      );
    return section('errors', 'Errors', [content]);
  }

  // ---- messages ----
  let state = vscode.getState() || {};
  function show(snapshot) {
    try {
      render(snapshot);
      return true;
    } catch (e) {
      banner.hidden = false;
      banner.className = 'banner calm';
      banner.textContent = 'Could not show the status: ' + (e && e.message ? e.message : String(e));
      return false;
    }
  }
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || m.type !== 'snapshot' || !m.snapshot) return;
    state = { snapshot: m.snapshot };
    vscode.setState(state);
    if (show(m.snapshot)) {
      // What was rendered, for the extension's tests: the state line, the sections, and whether status.css applied (CSP).
      vscode.postMessage({
        type: 'rendered',
        at: m.snapshot.at,
        state: liveState.textContent,
        sections: Array.from(body.querySelectorAll('section')).map((x) => x.id),
        styled: getComputedStyle(document.body).maxWidth === '980px',
      });
    }
  });
  if (state.snapshot) show(state.snapshot);
  // The library picked before a reload is asked for again.
  vscode.postMessage({ type: 'ready', library: state.snapshot ? state.snapshot.selected || null : null });
})();
