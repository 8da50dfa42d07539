// The etcd browser's page. Keys and values are untrusted: everything from etcd is put on the
// page with textContent or as attribute values, never parsed as markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const state = {
    info: null,
    nodes: new Map(),      // folder or key → { li, row, ul, node, expanded, loaded, next }
    selected: null,        // key shown in the detail pane
    selectedRev: 0,        // 0: the current value
    view: null,            // text | json | protobuf | hex
    pendingRefresh: new Set(),
    refreshTimer: 0,
    feedCount: 0,
  };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) q.set(k, v);
    const url = q.toString() ? `${path}?${q.toString().replace(/\+/g, '%20')}` : path;
    const r = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) { const e = new Error(body.error || `HTTP ${r.status}`); e.status = r.status; throw e; }
    return body;
  }

  async function post(path, payload) {
    const r = await fetch(path, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-K3dEtcd-Browser': '1' },
      body: JSON.stringify(payload),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }

  function formatBytes(n) {
    if (n === undefined || n === null) return '';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  // ---- tree -------------------------------------------------------------------------------

  function makeRow(node) {
    const row = el('div', 'row' + (node.isFolder ? ' folder' : ' leaf'));
    row.setAttribute('role', 'treeitem');
    row.dataset.key = node.key;
    row.appendChild(el('span', 'toggle', node.isFolder ? '▸' : ''));
    row.appendChild(el('span', 'name', node.name === '' ? '(empty name)' : node.name));
    fillTags(row, node);
    return row;
  }

  function fillTags(row, node) {
    for (const t of row.querySelectorAll('.count, .tag')) t.remove();
    if (node.isFolder) row.appendChild(el('span', 'count', node.count.toLocaleString()));
    if (node.role && node.role !== 'object') row.appendChild(el('span', `tag role-${node.role}`, node.role));
    if (node.kind) row.appendChild(el('span', 'tag kind', node.kind));
    if (node.apiVersion) row.appendChild(el('span', 'tag', node.apiVersion));
  }

  function entryFor(node) {
    let entry = state.nodes.get(node.key);
    if (entry && entry.node.isFolder === node.isFolder) {
      entry.node = node;
      fillTags(entry.row, node);
      entry.row.classList.remove('deleted');
      return entry;
    }
    const li = el('li');
    const row = makeRow(node);
    li.appendChild(row);
    entry = { li, row, ul: null, node, expanded: false, loaded: false, next: null };
    row.addEventListener('click', () => {
      if (node.isFolder) toggle(entry); else select(node.key, 0);
    });
    state.nodes.set(node.key, entry);
    return entry;
  }

  function moreRow(entry, next) {
    const li = el('li');
    const row = el('div', 'row more', 'more…');
    row.addEventListener('click', async () => {
      li.remove();
      await loadChildren(entry, next, true);
    });
    li.appendChild(row);
    return li;
  }

  async function loadChildren(entry, after, append) {
    const loadedCount = append ? 0 : Math.max(500, entry.ul ? entry.ul.querySelectorAll(':scope > li').length : 0);
    const page = await api('/api/children', { prefix: entry.node.key, after: after || undefined, limit: Math.min(loadedCount || 500, state.info.maxChildren) });
    return renderPage(entry, page, append);
  }

  function renderPage(entry, page, append) {
    if (!entry.ul) { entry.ul = el('ul', 'children'); entry.ul.setAttribute('role', 'group'); entry.li.appendChild(entry.ul); }
    const lis = page.children.map((n) => entryFor(n).li);
    if (page.next) lis.push(moreRow(entry, page.next));
    if (append) entry.ul.append(...lis); else {
      // Rows of keys that are gone drop out; rows still there keep their expanded sub-trees.
      const keep = new Set(page.children.map((n) => n.key));
      for (const li of entry.ul.querySelectorAll(':scope > li > .row')) {
        const k = li.dataset.key;
        if (k !== undefined && !keep.has(k)) forget(k);
      }
      entry.ul.replaceChildren(...lis);
    }
    entry.loaded = true;
    return page;
  }

  function forget(key) {
    for (const k of [...state.nodes.keys()]) if (k === key || (key.endsWith('/') && k.startsWith(key))) state.nodes.delete(k);
  }

  async function toggle(entry, open) {
    const want = open === undefined ? !entry.expanded : open;
    entry.expanded = want;
    entry.row.querySelector('.toggle').textContent = want ? '▾' : '▸';
    entry.row.setAttribute('aria-expanded', String(want));
    if (want) {
      await loadChildren(entry);
      entry.ul.hidden = false;
    } else if (entry.ul) {
      entry.ul.hidden = true;
    }
  }

  async function loadRoot(openRequest) {
    let root = state.nodes.get('');
    if (!root) {
      const li = el('div');
      root = { li, row: null, ul: null, node: { key: '', isFolder: true, name: '', count: 0 }, expanded: true, loaded: false, next: null };
      state.nodes.set('', root);
      $('tree').replaceChildren(li);
    }
    // One request brings the root and the chain of single folders below it ("/", "registry/"),
    // opened, so the first view shows something useful without a round trip per level.
    const opened = await (openRequest || api('/api/open', { limit: 500 }));
    for (const page of opened.pages) {
      const entry = state.nodes.get(page.prefix);
      if (!entry) break;
      if (entry !== root) {
        entry.expanded = true;
        entry.row.querySelector('.toggle').textContent = '▾';
        entry.row.setAttribute('aria-expanded', 'true');
      }
      renderPage(entry, page, false);
    }
    const first = opened.pages[0];
    const total = first.children.reduce((s, n) => s + n.count, 0);
    $('total').textContent = `${total.toLocaleString()} keys${first.next ? '+' : ''}`;
    document.body.dataset.treeReady = '1';
    performance.mark('k3detcd-tree-ready'); // read by the tests and bench/browser.ps1
  }

  // A change shows at once from the event itself (a new row, counts one up or down); the
  // debounced read of the folders then puts etcd's own answer in place.
  function applyLocally(ev) {
    let folder = '';
    for (let i = ev.key.indexOf('/'); i >= 0; i = ev.key.indexOf('/', i + 1)) {
      const candidate = ev.key.slice(0, i + 1);
      if (candidate === ev.key) break;
      const e = state.nodes.get(candidate);
      if (!e || !e.expanded || !e.ul) break;
      folder = candidate;
    }
    const created = ev.type === 'put' && ev.version === 1;
    const removed = ev.type === 'delete';
    if (created || removed) {
      // Every shown folder above the key counts it.
      for (const [k, e] of state.nodes) {
        if (k && e.node.isFolder && ev.key.startsWith(k) && k !== ev.key) {
          e.node = { ...e.node, count: Math.max(0, e.node.count + (created ? 1 : -1)) };
          fillTags(e.row, e.node);
        }
      }
    }
    const parent = state.nodes.get(folder);
    if (!parent || !parent.ul || !created) return;
    const rest = ev.key.slice(folder.length);
    const slash = rest.indexOf('/');
    const childKey = slash < 0 ? ev.key : ev.key.slice(0, folder.length + slash + 1);
    if (state.nodes.has(childKey)) return;
    const node = { name: slash < 0 ? rest : rest.slice(0, slash + 1), key: childKey, isFolder: slash >= 0, count: 1, modRevision: ev.revision };
    const li = entryFor(node).li;
    const after = [...parent.ul.querySelectorAll(':scope > li')].find((x) => {
      const k = x.firstElementChild && x.firstElementChild.dataset.key;
      return k === undefined || k > childKey;
    });
    parent.ul.insertBefore(li, after || null);
  }

  // A change refreshes the deepest loaded, expanded folder above the key (debounced, so a burst of
  // writes costs one read per folder), then marks the key's row.
  function scheduleRefresh(key) {
    let folder = '';
    for (let i = key.indexOf('/'); i >= 0; i = key.indexOf('/', i + 1)) {
      const candidate = key.slice(0, i + 1);
      const e = state.nodes.get(candidate);
      if (!e || !e.expanded) break;
      folder = candidate;
    }
    // Every expanded folder on the way also shows a count that changed.
    for (let f = folder; ; ) {
      state.pendingRefresh.add(f);
      if (f === '') break;
      const cut = f.slice(0, -1).lastIndexOf('/');
      f = cut < 0 ? '' : f.slice(0, cut + 1);
    }
    if (!state.refreshTimer) state.refreshTimer = setTimeout(flushRefresh, 250);
  }

  async function flushRefresh() {
    state.refreshTimer = 0;
    // Deepest first: the folder holding the changed key shows it as soon as possible; the folders
    // above only update their counts, all at once.
    const folders = [...state.pendingRefresh].sort((a, b) => b.length - a.length);
    state.pendingRefresh.clear();
    const refresh = async (f) => {
      const e = state.nodes.get(f);
      if (e && e.expanded) {
        try { await loadChildren(e); } catch (err) { /* the next change or reload retries */ }
      }
    };
    const deepest = new Set();
    for (const f of folders) if (!folders.some((g) => g !== f && g.startsWith(f))) deepest.add(f);
    await Promise.all([...deepest].map(refresh));
    await Promise.all(folders.filter((f) => !deepest.has(f)).map(refresh));
    if (folders.includes('')) {
      const root = state.nodes.get('');
      const rows = root.ul ? [...root.ul.querySelectorAll(':scope > li > .row')] : [];
      const total = rows.reduce((s, r) => s + (state.nodes.get(r.dataset.key)?.node.count || 0), 0);
      $('total').textContent = `${total.toLocaleString()} keys`;
    }
  }

  function markChanged(key, type) {
    let k = key;
    let e = state.nodes.get(k);
    // Not shown itself: mark the nearest folder above it that is.
    while (!e && k.length) {
      const cut = k.endsWith('/') ? k.slice(0, -1).lastIndexOf('/') : k.lastIndexOf('/');
      if (cut < 0) break;
      k = k.slice(0, cut + 1);
      e = state.nodes.get(k);
    }
    if (!e || !e.row) return;
    e.row.classList.remove('changed');
    void e.row.offsetWidth; // restart the animation
    e.row.classList.add('changed');
    if (type === 'delete' && k === key) e.row.classList.add('deleted');
  }

  // ---- search -----------------------------------------------------------------------------

  let searchTimer = 0;
  function onFilter() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  }

  async function runSearch() {
    const text = $('filter').value.trim();
    const box = $('search-results');
    if (!text) { box.hidden = true; $('tree').hidden = false; return; }
    $('tree').hidden = true;
    box.hidden = false;
    box.replaceChildren(el('p', 'hint', 'Searching…'));
    try {
      const r = await api('/api/search', { q: text, limit: 500 });
      if (text !== $('filter').value.trim()) return;
      const ul = el('ul', 'children');
      for (const m of r.matches) {
        const li = el('li');
        const row = makeRow(m);
        row.addEventListener('click', () => select(m.key, 0));
        li.appendChild(row);
        ul.appendChild(li);
      }
      const summary = `${r.matches.length}${r.truncated ? '+' : ''} match${r.matches.length === 1 ? '' : 'es'} in ${r.scanned.toLocaleString()} keys`;
      box.replaceChildren(el('p', 'hint', summary), ul);
    } catch (err) {
      box.replaceChildren(el('p', 'error', err.message));
    }
  }

  // ---- detail -----------------------------------------------------------------------------

  async function select(key, rev) {
    state.selected = key;
    state.selectedRev = rev || 0;
    for (const r of document.querySelectorAll('.row.selected')) r.classList.remove('selected');
    const e = state.nodes.get(key);
    if (e && e.row) e.row.classList.add('selected');
    await showDetail();
  }

  async function showDetail() {
    const key = state.selected;
    const rev = state.selectedRev;
    const box = $('detail');
    let d, history;
    try {
      [d, history] = await Promise.all([
        api('/api/key', { key, rev: rev || undefined }),
        api('/api/history', { key }).catch(() => null),
      ]);
    } catch (err) {
      const title = el('h2', null, key);
      box.replaceChildren(title, el('p', 'error', err.message));
      return;
    }
    if (key !== state.selected) return;
    const parts = [el('h2', 'key-title', d.key)];
    if (rev) parts.push(el('p', 'note', `Showing revision ${rev} (an earlier value).`));
    const meta = el('dl', 'meta');
    const add = (label, value) => { meta.append(el('dt', null, label), el('dd', null, value)); };
    add('Create revision', d.createRevision);
    add('Mod revision', d.modRevision);
    add('Version', d.version);
    add('Lease', d.lease || 'none');
    add('Size', formatBytes(d.size));
    add('Read at', `revision ${d.revision}`);
    parts.push(meta);

    if (d.kubernetes) {
      const k = d.kubernetes;
      const card = el('div', 'k8s');
      card.appendChild(el('div', 'kind', `Kind ${k.kind || '?'}`));
      const line = [k.apiVersion && `apiVersion ${k.apiVersion}`, k.resource && `resource ${k.resource}`, k.namespace && `namespace ${k.namespace}`, k.name && `name ${k.name}`, `encoding ${k.encoding}`].filter(Boolean).join(' · ');
      card.appendChild(el('div', 'muted', line));
      parts.push(card);
    }

    const views = [];
    if (d.kubernetes && d.kubernetes.fields) views.push(['protobuf', 'Protobuf fields', d.kubernetes.fields]);
    if (d.json) views.push(['json', 'JSON', d.json]);
    if (d.text !== undefined && d.text !== null) views.push(['text', 'Text', d.text]);
    if (d.hex) views.push(['hex', 'Hex', d.hex]);
    const pre = el('pre', 'value');
    const bar = el('div', 'views');
    const show = (name) => {
      const v = views.find((x) => x[0] === name) || views[0];
      if (!v) { pre.textContent = '(empty value)'; return; }
      state.view = v[0];
      pre.textContent = v[2] === '' ? '(empty value)' : v[2];
      for (const b of bar.querySelectorAll('button[data-view]')) b.classList.toggle('active', b.dataset.view === v[0]);
    };
    for (const [name, label] of views) {
      const b = el('button', null, label);
      b.type = 'button';
      b.dataset.view = name;
      b.addEventListener('click', () => show(name));
      bar.appendChild(b);
    }
    bar.appendChild(el('span', 'spacer'));
    if (state.info.allowWrite && !rev) {
      const edit = el('button', null, 'Edit');
      edit.type = 'button';
      edit.addEventListener('click', () => openEditor(d.key, d.text ?? ''));
      const del = el('button', 'danger', 'Delete');
      del.type = 'button';
      del.id = 'delete-key';
      del.addEventListener('click', () => deleteKey(d.key));
      bar.append(edit, del);
    }
    parts.push(bar, pre);
    if (d.truncated) parts.push(el('p', 'note', 'The value is longer than shown.'));
    show(views.some((v) => v[0] === state.view) ? state.view : (views[0] && views[0][0]));

    if (history && history.revisions.length) {
      const h = el('div', 'history');
      h.appendChild(el('h3', null, `Revisions (${history.revisions.length}${history.more ? '+' : ''})`));
      const ul = el('ul');
      for (const r of history.revisions) {
        const li = el('li', r.modRevision === d.modRevision ? 'current' : '', `rev ${r.modRevision} · version ${r.version} · ${formatBytes(r.size)}`);
        li.addEventListener('click', () => { state.selectedRev = r.modRevision === history.revisions[0].modRevision ? 0 : r.modRevision; showDetail(); });
        ul.appendChild(li);
      }
      h.appendChild(ul);
      if (history.compacted) h.appendChild(el('p', 'muted', 'Older revisions were compacted.'));
      parts.push(h);
    }
    box.replaceChildren(...parts);
  }

  // ---- writes (only with -AllowWrite; each confirmed) ---------------------------------------

  function openEditor(key, value) {
    $('edit-title').textContent = key ? 'Edit a key' : 'Put a new key';
    $('edit-key').value = key || '';
    $('edit-key').readOnly = !!key;
    $('edit-value').value = value || '';
    $('edit-dialog').showModal();
  }

  async function saveEditor(ev) {
    ev.preventDefault();
    const key = $('edit-key').value;
    const value = $('edit-value').value;
    if (!key) return;
    if (!window.confirm(`Put ${key} (${value.length} characters)?`)) return;
    try {
      await post('/api/put', { key, value });
      $('edit-dialog').close();
      await select(key, 0);
    } catch (err) {
      window.alert(`Put failed: ${err.message}`);
    }
  }

  async function deleteKey(key) {
    if (!window.confirm(`Delete ${key}?`)) return;
    try {
      await post('/api/delete', { key });
      state.selected = null;
      $('detail').replaceChildren(el('p', 'hint', `Deleted ${key}.`));
    } catch (err) {
      window.alert(`Delete failed: ${err.message}`);
    }
  }

  // ---- live ---------------------------------------------------------------------------------

  function addFeed(ev) {
    const feed = $('feed');
    const li = el('li');
    li.dataset.key = ev.key;
    li.dataset.shownAt = String(Date.now());
    li.append(el('span', `type ${ev.type}`, ev.type), el('span', 'key', ev.key), el('span', 'rev', ev.revision));
    li.title = `${ev.type} ${ev.key} at revision ${ev.revision}`;
    li.addEventListener('click', () => { if (ev.type === 'put') select(ev.key, 0); });
    feed.prepend(li);
    while (feed.childElementCount > 200) feed.lastElementChild.remove();
    state.feedCount++;
    $('feed-count').textContent = `${state.feedCount.toLocaleString()} change${state.feedCount === 1 ? '' : 's'}`;
  }

  function connectEvents() {
    const source = new EventSource('/api/events');
    source.addEventListener('open', () => { $('live').className = 'live on'; $('live').textContent = 'live'; });
    source.addEventListener('error', () => { $('live').className = 'live off'; $('live').textContent = 'reconnecting'; });
    source.addEventListener('change', (m) => {
      const ev = JSON.parse(m.data);
      addFeed(ev);
      applyLocally(ev);
      markChanged(ev.key, ev.type);
      scheduleRefresh(ev.key);
      if (ev.key === state.selected && !state.selectedRev) showDetail();
      setTimeout(() => markChanged(ev.key, ev.type), 120); // again once the refreshed row exists
    });
    source.addEventListener('reload', () => {
      for (const [k, e] of state.nodes) if (e.expanded) state.pendingRefresh.add(k);
      if (!state.refreshTimer) state.refreshTimer = setTimeout(flushRefresh, 60);
    });
  }

  // ---- cluster ------------------------------------------------------------------------------

  async function refreshCluster() {
    try {
      const c = await api('/api/cluster');
      renderCluster(c);
    } catch (err) {
      $('cluster-error').hidden = false;
      $('cluster-error').textContent = err.message;
    } finally {
      setTimeout(refreshCluster, 2000);
    }
  }

  function renderCluster(c) {
    const errorBox = $('cluster-error');
    const problem = c.error || c.watch || c.leaderProblem;
    errorBox.hidden = !problem;
    errorBox.textContent = problem || '';
    $('cluster-at').textContent = new Date(c.at).toLocaleTimeString();
    const members = c.members || [];
    const followers = (c.leader && c.leader.followers) || [];
    // The picture: members on a ring, the leader filled, lines to the followers with their latency.
    const pic = $('members-pic');
    const parts = [];
    const cx = 180, cy = 88, r = members.length > 1 ? 62 : 0;
    const pos = members.map((m, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, members.length);
      return { m, x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
    });
    const leader = pos.find((p) => p.m.isLeader);
    if (leader) {
      for (const p of pos) {
        if (p === leader) continue;
        parts.push(svg('line', { x1: leader.x, y1: leader.y, x2: p.x, y2: p.y }));
        const f = followers.find((x) => x.id === p.m.id);
        if (f && f.latencyAverageMs !== undefined && f.latencyAverageMs !== null) {
          parts.push(svg('text', { class: 'latency', x: (leader.x + p.x) / 2, y: (leader.y + p.y) / 2 - 3 }, `${f.latencyAverageMs.toFixed(2)} ms`));
        }
      }
    }
    for (const p of pos) {
      const g = svg('g', { class: `member${p.m.isLeader ? ' leader' : ''}${p.m.healthy ? '' : ' unhealthy'}` });
      g.appendChild(svg('circle', { cx: p.x, cy: p.y, r: 17 }));
      g.appendChild(svg('text', { class: 'label', x: p.x, y: p.y + 4 }, p.m.isLeader ? '★' : ''));
      g.appendChild(svg('text', { x: p.x, y: p.y + 31 }, p.m.name || p.m.id));
      g.appendChild(svg('title', {}, `${p.m.name} ${p.m.isLeader ? '(leader)' : ''} ${p.m.error || ''}`));
      parts.push(g);
    }
    pic.replaceChildren(...parts);

    const t = $('members');
    const head = el('tr');
    for (const h of ['Member', 'Role', 'Term', 'Index', 'DB']) head.appendChild(el('th', null, h));
    const rows = [head];
    for (const m of members) {
      const tr = el('tr');
      const name = el('td', 'name', m.name || m.id);
      name.title = `${m.name} ${m.id} etcd ${m.version ?? '?'} ${m.endpoint ?? ''}`;
      tr.append(name, el('td', null, m.isLeader ? 'leader' : (m.error ? m.error : (m.isLearner ? 'learner' : 'follower'))),
        el('td', 'num', m.raftTerm ?? ''), el('td', 'num', m.raftIndex ?? ''), el('td', 'num', formatBytes(m.dbSize)));
      rows.push(tr);
    }
    t.replaceChildren(...rows);

    const ft = $('followers');
    if (followers.length) {
      const fh = el('tr');
      // Columns the statistics source knows (the metrics source has no current latency or success count).
      const ms = (v) => (v === undefined || v === null ? '' : `${v.toFixed(2)} ms`);
      const columns = [['Follower', (f) => f.name || f.id, null], ['Latency avg', (f) => ms(f.latencyAverageMs), 'num'],
        ['Current', (f) => ms(f.latencyCurrentMs), 'num'], ['Fail', (f) => f.fail ?? '', 'num'], ['Success', (f) => f.success ?? '', 'num']]
        .filter(([, get], i) => i === 0 || followers.some((f) => get(f) !== ''));
      for (const [h] of columns) fh.appendChild(el('th', null, h));
      const frows = [fh];
      for (const f of followers) {
        const tr = el('tr');
        for (const [, get, cls] of columns) tr.appendChild(el('td', cls, get(f)));
        frows.push(tr);
      }
      ft.replaceChildren(...frows);
    } else {
      ft.replaceChildren();
    }
  }

  // ---- start --------------------------------------------------------------------------------

  async function start() {
    // The tree's first request goes out with the first one, not after it.
    const openRequest = api('/api/open', { limit: 500 });
    openRequest.catch(() => {});
    try {
      state.info = await api('/api/info');
    } catch (err) {
      $('detail').replaceChildren(el('p', 'error', err.message));
      return;
    }
    $('cluster-name').textContent = state.info.cluster;
    $('cluster-name').title = state.info.endpoints.join(', ') + (state.info.tls ? ' (TLS)' : '');
    $('mode').textContent = state.info.allowWrite ? 'read-write' : 'read-only';
    if (state.info.allowWrite) {
      $('mode').classList.add('write');
      $('new-key').hidden = false;
      $('new-key').addEventListener('click', () => openEditor('', ''));
      $('edit-form').addEventListener('submit', saveEditor);
      $('edit-cancel').addEventListener('click', () => $('edit-dialog').close());
    }
    $('filter').addEventListener('input', onFilter);
    connectEvents();
    try {
      await loadRoot(openRequest);
    } catch (err) {
      $('tree').replaceChildren(el('p', 'error', err.message));
    }
    // After the tree: the member probes must not hold up its first paint.
    refreshCluster();
  }

  start();
})();
